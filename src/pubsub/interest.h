/* interest.h: which shards may have subscribers for a topic.
 *
 * A topic's home sends each message only to the shards whose summary says
 * they may want it, so a shard without matching subscribers is not woken
 * (DESIGN: an optimization, never a correctness requirement). The summary
 * is two bitsets another shard reads without locks, each a counting Bloom
 * filter with two bits per entry (taken from two parts of its hash):
 *   - the bits of the hash of an exact topic;
 *   - the bits of a pattern *key*: the pattern's shape (its segment count
 *     and separators, or for a pattern ending in '>' the segments and
 *     separators before it) combined with its first literal segment and
 *     that segment's position (or "none" for all-wildcard patterns, and for
 *     a first literal beyond INTEREST_LITERAL_POSITIONS).
 * A topic asks for every key a matching pattern could have: its own shape
 * with each of its first segments, and each of its prefixes as a '>'
 * shape. So `*:idle`, `idle.*` or `idle:*:x` do not wake a shard for the
 * topic idle:6. Patterns that share shape and first literal share a key
 * (customer:1:*:a and customer:1:*:b): a shard holding one is woken for
 * the other's topics too.
 *
 * Only the owner writes, keeping a count per bit so that a bit clears when
 * its last topic or pattern goes. False positives (shared keys, and hash
 * collisions on both bits of a key) only cost a wasted delivery attempt; there are no false
 * negatives: the owner sets a bit before it answers the subscription, with
 * release ordering, and homes read with acquire. */
#ifndef RC_INTEREST_H
#define RC_INTEREST_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define INTEREST_EXACT_BITS 65536
#define INTEREST_PATTERN_BITS 65536
#define INTEREST_LITERAL_POSITIONS 8 /* first literals further in count as "none" */
#define INTEREST_QUERY_SEGMENTS 16   /* longer topics ask every shard */
/* Keys of one topic: its own shape with "none" and each literal position,
 * and each prefix k = 0..n-1 as a '>' shape with "none" and each literal
 * position below k. */
#define INTEREST_MAX_KEYS                                                                          \
    (1 + INTEREST_LITERAL_POSITIONS + INTEREST_QUERY_SEGMENTS * (1 + INTEREST_LITERAL_POSITIONS))

struct interest {
    /* Read by any shard. */
    _Atomic uint64_t exact[INTEREST_EXACT_BITS / 64];
    _Atomic uint64_t pattern[INTEREST_PATTERN_BITS / 64];
    /* The owner's counts behind the bits. */
    uint32_t exact_count[INTEREST_EXACT_BITS];
    uint32_t pattern_count[INTEREST_PATTERN_BITS];
};

/* What a home asks every shard's summary about one topic, computed once per
 * message. */
struct interest_query {
    uint64_t topic_hash;
    bool ask_all; /* too many segments to list the keys: every shard may want it */
    size_t num_keys;
    uint64_t keys[INTEREST_MAX_KEYS];
};

/* interest_query_init lists the keys of topic |name| (hash |topic_hash|). */
void interest_query_init(struct interest_query *q, const char *name, size_t len,
                         uint64_t topic_hash);

/* Owner side: a topic node of the index was created or destroyed. */
void interest_add(struct interest *in, const char *name, size_t len, uint64_t hash,
                  bool is_pattern);
void interest_remove(struct interest *in, const char *name, size_t len, uint64_t hash,
                     bool is_pattern);

/* interest_may_want reports, from any shard, whether the owner of |in| may
 * have a subscriber for the topic of |q|. */
bool interest_may_want(const struct interest *in, const struct interest_query *q);

#endif
