/* interest.c: the per-shard summary of subscriptions (see interest.h). */
#include "pubsub/interest.h"

#include "util/hash.h"
#include "pubsub/topic.h"

#define EXACT_SHAPE_SEED 0x45584143545f5348ull /* two different folds start apart */
#define TAIL_SHAPE_SEED 0x5441494c5f534850ull

/* mix combines a running hash with one more value (a splitmix64 step). */
static uint64_t mix(uint64_t h, uint64_t value)
{
    uint64_t x = h * 0x9E3779B97F4A7C15ull + value;
    x ^= x >> 31;
    x *= 0xBF58476D1CE4E5B9ull;
    x ^= x >> 29;
    return x;
}

static uint64_t separator_of(const struct topic_segment *s)
{
    return (unsigned char)topic_segment_sep(s);
}

static uint64_t no_literal_key(uint64_t shape)
{
    return mix(shape, 0);
}

static uint64_t literal_key(uint64_t shape, size_t position, uint64_t segment_hash)
{
    return mix(mix(shape, position + 1), segment_hash);
}

static uint64_t segment_hash(const struct topic_segment *s)
{
    return rc_hash(s->text, s->len);
}

/* pattern_key: the one key a (valid) pattern is summarized under. */
static uint64_t pattern_key(const char *name, size_t len)
{
    struct topic_segment s[TOPIC_MAX_SEGMENTS_LIMIT + 1];
    size_t n = topic_split(name, len, s, TOPIC_MAX_SEGMENTS_LIMIT);
    if (n == 0 || n > TOPIC_MAX_SEGMENTS_LIMIT)
        return no_literal_key(TAIL_SHAPE_SEED); /* not reached: validated; "any topic" */
    bool tail = topic_segment_is(&s[n - 1], '>') || (n == 1 && topic_segment_is(&s[0], '*'));
    size_t fixed = tail ? n - 1 : n; /* segments before the '>' */
    /* The shape: for a tail pattern the separators of segments 1..fixed
     * (the last of them is the '>' itself), else of every segment. */
    uint64_t shape = tail ? TAIL_SHAPE_SEED : EXACT_SHAPE_SEED;
    for (size_t i = 1; i < (tail ? fixed + 1 : n); i++)
        shape = mix(shape, separator_of(&s[i]));
    for (size_t i = 0; i < fixed && i < INTEREST_LITERAL_POSITIONS; i++)
        if (!topic_segment_is(&s[i], '*'))
            return literal_key(shape, i, segment_hash(&s[i]));
    return no_literal_key(shape);
}

static void add_keys(struct interest_query *q, uint64_t shape, const uint64_t *segment_hashes,
                     size_t literal_positions)
{
    q->keys[q->num_keys++] = no_literal_key(shape);
    for (size_t i = 0; i < literal_positions; i++)
        q->keys[q->num_keys++] = literal_key(shape, i, segment_hashes[i]);
}

static size_t min_size(size_t a, size_t b)
{
    return a < b ? a : b;
}

void interest_query_init(struct interest_query *q, const char *name, size_t len,
                         uint64_t topic_hash)
{
    q->topic_hash = topic_hash;
    q->num_keys = 0;
    struct topic_segment s[INTEREST_QUERY_SEGMENTS + 1];
    size_t n = topic_split(name, len, s, INTEREST_QUERY_SEGMENTS);
    q->ask_all = n == 0 || n > INTEREST_QUERY_SEGMENTS;
    if (q->ask_all)
        return;
    uint64_t hashes[INTEREST_LITERAL_POSITIONS];
    size_t literals = min_size(n, INTEREST_LITERAL_POSITIONS);
    for (size_t i = 0; i < literals; i++)
        hashes[i] = segment_hash(&s[i]);

    /* Patterns of exactly this topic's shape. */
    uint64_t shape = EXACT_SHAPE_SEED;
    for (size_t i = 1; i < n; i++)
        shape = mix(shape, separator_of(&s[i]));
    add_keys(q, shape, hashes, literals);

    /* Patterns "k segments, then '>'" for k = 0..n-1: the '>' stands at
     * segment k, with that segment's separator. */
    uint64_t tail = TAIL_SHAPE_SEED;
    for (size_t k = 0; k < n; k++) {
        if (k > 0)
            tail = mix(tail, separator_of(&s[k]));
        add_keys(q, tail, hashes, min_size(k, INTEREST_LITERAL_POSITIONS));
    }
}

static void set_bit(_Atomic uint64_t *words, uint32_t *counts, uint64_t index, int delta)
{
    uint32_t before = counts[index];
    counts[index] = before + (uint32_t)delta;
    if ((before == 0) == (counts[index] == 0))
        return; /* the bit does not change */
    uint64_t mask = (uint64_t)1 << (index % 64);
    _Atomic uint64_t *word = &words[index / 64];
    uint64_t value = atomic_load_explicit(word, memory_order_relaxed);
    atomic_store_explicit(word, delta > 0 ? value | mask : value & ~mask, memory_order_release);
}

/* Each key sets two bits, from two independent parts of its hash (a
 * counting Bloom filter with k = 2): a query must find both, so a false
 * positive takes two collisions instead of one. */
static uint64_t probe(uint64_t key, int which, uint64_t bits)
{
    return (which == 0 ? key : key >> 32) % bits;
}

static void set_bits(_Atomic uint64_t *words, uint32_t *counts, uint64_t key, uint64_t bits,
                     int delta)
{
    set_bit(words, counts, probe(key, 0, bits), delta);
    set_bit(words, counts, probe(key, 1, bits), delta);
}

static void change(struct interest *in, const char *name, size_t len, uint64_t hash,
                   bool is_pattern, int delta)
{
    if (is_pattern)
        set_bits(in->pattern, in->pattern_count, pattern_key(name, len), INTEREST_PATTERN_BITS,
                 delta);
    else
        set_bits(in->exact, in->exact_count, hash, INTEREST_EXACT_BITS, delta);
}

void interest_add(struct interest *in, const char *name, size_t len, uint64_t hash, bool is_pattern)
{
    change(in, name, len, hash, is_pattern, +1);
}

void interest_remove(struct interest *in, const char *name, size_t len, uint64_t hash,
                     bool is_pattern)
{
    change(in, name, len, hash, is_pattern, -1);
}

static bool bit_set(const _Atomic uint64_t *words, uint64_t index)
{
    return (atomic_load_explicit(&words[index / 64], memory_order_acquire) >> (index % 64)) & 1;
}

static bool bits_set(const _Atomic uint64_t *words, uint64_t key, uint64_t bits)
{
    return bit_set(words, probe(key, 0, bits)) && bit_set(words, probe(key, 1, bits));
}

bool interest_may_want(const struct interest *in, const struct interest_query *q)
{
    if (q->ask_all || bits_set(in->exact, q->topic_hash, INTEREST_EXACT_BITS))
        return true;
    for (size_t i = 0; i < q->num_keys; i++)
        if (bits_set(in->pattern, q->keys[i], INTEREST_PATTERN_BITS))
            return true;
    return false;
}
