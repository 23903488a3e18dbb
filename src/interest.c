/* interest.c: the per-shard summary of subscriptions (see interest.h). */
#include "interest.h"

#include "hash.h"
#include "topic.h"

uint64_t interest_first_segment_hash(const char *name, size_t len)
{
    size_t first = 0;
    while (first < len && !topic_is_separator(name[first]))
        first++;
    return rc_hash(name, first);
}

/* A pattern whose first segment is a wildcard may match any topic. */
static bool starts_with_wildcard(const char *name, size_t len)
{
    return len >= 1 && (name[0] == '*' || name[0] == '>') &&
           (len == 1 || topic_is_separator(name[1]));
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

static void change(struct interest *in, const char *name, size_t len, uint64_t hash,
                   bool is_pattern, int delta)
{
    if (!is_pattern) {
        set_bit(in->exact, in->exact_count, hash % INTEREST_EXACT_BITS, delta);
    } else if (starts_with_wildcard(name, len)) {
        uint32_t n = atomic_load_explicit(&in->wildcard_patterns, memory_order_relaxed);
        atomic_store_explicit(&in->wildcard_patterns, n + (uint32_t)delta, memory_order_release);
    } else {
        uint64_t first = interest_first_segment_hash(name, len);
        set_bit(in->prefix, in->prefix_count, first % INTEREST_PREFIX_BITS, delta);
    }
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

bool interest_may_want(const struct interest *in, uint64_t topic_hash, uint64_t first_hash)
{
    return bit_set(in->exact, topic_hash % INTEREST_EXACT_BITS) ||
           bit_set(in->prefix, first_hash % INTEREST_PREFIX_BITS) ||
           atomic_load_explicit(&in->wildcard_patterns, memory_order_acquire) > 0;
}
