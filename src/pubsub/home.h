/* home.h: what a topic's home shard keeps: its sequence counter and the
 * message ids recently published to it.
 *
 * Every topic has one home shard (hash(topic) % shards). Only that shard
 * assigns the topic's sequence numbers, so a topic has a single total order
 * however many publishers write to it, and only it remembers message ids,
 * so a publisher's retry is recognised wherever it arrives.
 *
 * Bounds: at most |max_topics| counters per shard (a publish to a new topic
 * beyond that is refused as overloaded); message ids are remembered for
 * |dedup_ms| or until |dedup_entries| newer ids pushed them out. */
#ifndef RC_HOME_H
#define RC_HOME_H

#include <stddef.h>
#include <stdint.h>

#include "util/hmap.h"

struct dedup_entry;

struct home {
    struct hmap topics;                  /* of struct home_topic */
    struct hmap ids;                     /* of struct dedup_entry */
    struct dedup_entry *oldest, *newest; /* FIFO: expiry order */
    uint32_t max_topics;
    uint32_t dedup_entries;
    int64_t dedup_ms;
};

enum home_result {
    HOME_SEQUENCED = 0, /* a new seq was assigned */
    HOME_DUPLICATE,     /* the id was seen: *out_seq is the first publish's seq */
    HOME_TOO_MANY_TOPICS,
    HOME_NO_MEMORY,
};

/* home_init makes empty tables with the given bounds. */
void home_init(struct home *h, uint32_t max_topics, uint32_t dedup_entries, int64_t dedup_ms);

/* home_cleanup frees everything. */
void home_cleanup(struct home *h);

/* home_sequence assigns the next sequence number of |topic| (1 for the
 * first message), unless |id| (may be empty) was published to this topic
 * within the window. |now_ms| is a monotonic clock reading. */
enum home_result home_sequence(struct home *h, const char *topic, size_t topic_len,
                               uint64_t topic_hash, const char *id, size_t id_len, int64_t now_ms,
                               uint64_t *out_seq);

/* home_topic_count returns how many topics this shard sequences. */
size_t home_topic_count(const struct home *h);

#endif
