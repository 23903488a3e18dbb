/* home.h: what a topic's home shard keeps: its sequence counter and epoch,
 * its recent messages (history.h) and the message ids recently published
 * to it.
 *
 * Every topic has one home shard (hash(topic) % shards). Only that shard
 * assigns the topic's sequence numbers, so a topic has a single total order
 * however many publishers write to it, and only it remembers message ids,
 * so a publisher's retry is recognised wherever it arrives.
 *
 * Bounds: at most |max_topics| counters per shard (a publish to a new topic
 * beyond that is refused as overloaded); message ids are remembered for
 * |dedup_ms| or until |dedup_entries| newer ids pushed them out.
 *
 * Epochs: a topic's counter starts with a random 64-bit epoch (never 0);
 * seqs count from 1 within it. A topic's counter is never dropped while the
 * server runs, so the epoch changes when the server restarts. Epoch 0 (the
 * "null epoch") is the position of a topic that has no counter yet. */
#ifndef RC_HOME_H
#define RC_HOME_H

#include <stddef.h>
#include <stdint.h>

#include "pubsub/history.h"
#include "util/hmap.h"

struct dedup_entry;
struct home_topic;
struct msg;

struct home {
    struct hmap topics;                  /* of struct home_topic */
    struct hmap ids;                     /* of struct dedup_entry */
    struct dedup_entry *oldest, *newest; /* FIFO: expiry order */
    uint32_t max_topics;
    uint32_t dedup_entries;
    int64_t dedup_ms;
    struct history history;
};

/* A topic's place in its sequence, as its home sees it. */
struct home_position {
    uint64_t epoch;     /* 0: the topic has no counter yet */
    uint64_t last_seq;  /* the last seq assigned, 0 when none */
    uint64_t first_seq; /* the oldest seq held in history, last_seq + 1 when none */
};

/* What GET /v1/history and a resume get from the home: the position and
 * the held messages after a seq, each with a reference. */
struct home_replay {
    struct home_position pos;
    struct msg **msgs;
    size_t count;
};

enum home_result {
    HOME_SEQUENCED = 0, /* a new seq was assigned */
    HOME_DUPLICATE,     /* the id was seen: *out_seq is the first publish's seq */
    HOME_TOO_MANY_TOPICS,
    HOME_NO_MEMORY,
};

/* home_init makes empty tables with the given bounds. */
void home_init(struct home *h, uint32_t max_topics, uint32_t dedup_entries, int64_t dedup_ms);

/* home_init_history sets the bounds of the history (history.h), counting
 * into |stats|; until then nothing is held. */
void home_init_history(struct home *h, uint32_t max_per_topic, int64_t ttl_ms, uint64_t max_bytes,
                       struct history_stats *stats);

/* home_cleanup frees everything. */
void home_cleanup(struct home *h);

/* home_sequence assigns the next sequence number of |topic| (1 for the
 * first message), unless |id| (may be empty) was published to this topic
 * within the window. |now_ms| is a monotonic clock reading. */
enum home_result home_sequence(struct home *h, const char *topic, size_t topic_len,
                               uint64_t topic_hash, const char *id, size_t id_len, int64_t now_ms,
                               uint64_t *out_seq);

/* home_sequence_topic is home_sequence that also returns the topic's entry
 * (for home_hold) when a seq was assigned. */
enum home_result home_sequence_topic(struct home *h, const char *topic, size_t topic_len,
                                     uint64_t topic_hash, const char *id, size_t id_len,
                                     int64_t now_ms, uint64_t *out_seq, struct home_topic **out_t);

/* home_topic_epoch returns the epoch of a topic's entry. */
uint64_t home_topic_epoch(const struct home_topic *t);

/* home_hold keeps |m|, the message just sequenced for |t|, in history,
 * taking over one of its references. */
void home_hold(struct home *h, struct home_topic *t, struct msg *m, int64_t now_ms);

/* home_expire lets go of the history past --history-ttl. */
void home_expire(struct home *h, int64_t now_ms);

/* home_fetch returns the held message |seq| of |topic| with a reference for
 * the caller, or NULL. */
struct msg *home_fetch(struct home *h, const char *topic, size_t topic_len, uint64_t topic_hash,
                       uint64_t seq, int64_t now_ms);

/* home_open returns |topic|'s epoch, starting its sequence (seq 0, a new
 * epoch) when it has none yet: a subscriber's position must name an epoch
 * before the first event. Returns 0 when the topic cannot be added
 * (--max-topics, memory). */
uint64_t home_open(struct home *h, const char *topic, size_t topic_len, uint64_t topic_hash);

/* home_replay fills |out| with |topic|'s position and at most |limit| held
 * messages after |since|. Returns 0, or -1 when memory runs out (|out| is
 * then empty). */
int home_replay(struct home *h, const char *topic, size_t topic_len, uint64_t topic_hash,
                uint64_t since, size_t limit, int64_t now_ms, struct home_replay *out);

/* home_replay_release drops the references of a replay and its array. */
void home_replay_release(struct home_replay *r);

/* home_topic_count returns how many topics this shard sequences. */
size_t home_topic_count(const struct home *h);

#endif
