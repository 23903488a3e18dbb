/* retain.h: oversized events a home shard keeps so that the stub's fetch
 * path (GET /v1/messages/<topic>/<seq>) can serve them in full.
 *
 * Oldest first out, bounded by --retain-bytes per shard. Each retained
 * message holds one reference. (General per-topic history comes later and
 * will take this over.) */
#ifndef RC_RETAIN_H
#define RC_RETAIN_H

#include <stddef.h>
#include <stdint.h>

#include "util/hmap.h"

struct msg;
struct retained;

struct retain {
    struct hmap by_key;
    struct retained *oldest, *newest;
    uint64_t bytes;
    uint64_t max_bytes;
};

/* retain_init makes an empty store bounded to |max_bytes|. */
void retain_init(struct retain *r, uint64_t max_bytes);

/* retain_cleanup releases every message. */
void retain_cleanup(struct retain *r);

/* retain_add keeps |m|, taking over one of its references (released at
 * once when |m| alone is above the bound), and evicts the oldest messages
 * past the bound. */
void retain_add(struct retain *r, struct msg *m);

/* retain_find returns the kept message (topic, seq), or NULL. It adds no
 * reference. */
struct msg *retain_find(const struct retain *r, const char *topic, size_t topic_len,
                        uint64_t topic_hash, uint64_t seq);

#endif
