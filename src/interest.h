/* interest.h: which shards may have subscribers for a topic.
 *
 * A topic's home sends each message only to the shards whose summary says
 * they may want it, so a shard without matching subscribers is never woken
 * (DESIGN: an optimization, never a correctness requirement). The summary
 * is two bitsets another shard reads without locks: one bit per hash of an
 * exact topic, one per hash of a pattern's first segment, and a count of
 * patterns that start with a wildcard (those may match anything). Only the
 * owner writes, keeping a count per bit so that a bit clears when its last
 * topic goes.
 *
 * False positives (hash collisions) only cost a wasted delivery attempt;
 * there are no false negatives: the owner sets a bit before it answers the
 * subscription, with release ordering, and homes read with acquire. */
#ifndef RC_INTEREST_H
#define RC_INTEREST_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define INTEREST_EXACT_BITS 65536
#define INTEREST_PREFIX_BITS 16384

struct interest {
    /* Read by any shard. */
    _Atomic uint64_t exact[INTEREST_EXACT_BITS / 64];
    _Atomic uint64_t prefix[INTEREST_PREFIX_BITS / 64];
    _Atomic uint32_t wildcard_patterns;
    /* The owner's counts behind the bits. */
    uint32_t exact_count[INTEREST_EXACT_BITS];
    uint32_t prefix_count[INTEREST_PREFIX_BITS];
};

/* interest_first_segment_hash returns the hash a topic's (or pattern's)
 * first segment is summarized under. */
uint64_t interest_first_segment_hash(const char *name, size_t len);

/* Owner side: a topic node of the index was created or destroyed. */
void interest_add(struct interest *in, const char *name, size_t len, uint64_t hash,
                  bool is_pattern);
void interest_remove(struct interest *in, const char *name, size_t len, uint64_t hash,
                     bool is_pattern);

/* interest_may_want reports, from any shard, whether the owner of |in| may
 * have a subscriber for a topic with hash |topic_hash| and first-segment
 * hash |first_hash|. */
bool interest_may_want(const struct interest *in, uint64_t topic_hash, uint64_t first_hash);

#endif
