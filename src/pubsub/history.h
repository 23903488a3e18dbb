/* history.h: the recent messages of the topics a shard is home of.
 *
 * One store for every message kept after its fan-out: the resume path of
 * subscribers (`since`, Last-Event-ID), GET /v1/history and GET
 * /v1/messages/<topic>/<seq> (which serves truncated events in full). It
 * holds the same immutable messages that were fanned out, one reference
 * each: nothing is copied.
 *
 * Each topic has a ring of its last messages in seq order (struct
 * history_ring, owned by the topic's home entry, home.h); the shard keeps
 * every held message on one list, oldest first, for the bounds:
 *   --history-size  messages per topic (0: nothing is held),
 *   --history-ttl   how long a message is held,
 *   --history-bytes the shard's whole history; past it the oldest go.
 * Every bound removes a topic's oldest message, so a ring always holds a
 * run of its topic's newest messages. */
#ifndef RC_HISTORY_H
#define RC_HISTORY_H

#include <stddef.h>
#include <stdint.h>

#include "util/stats.h"

struct msg;
struct history_entry;

/* A topic's held messages, oldest first, in a circular array that grows
 * (by doubling) up to --history-size. */
struct history_ring {
    struct history_entry **slots;
    uint32_t cap;
    uint32_t head; /* the oldest */
    uint32_t count;
};

struct history {
    struct history_entry *oldest, *newest; /* every held message, by age */
    uint64_t bytes;
    uint64_t max_bytes;
    uint32_t max_per_topic;
    int64_t ttl_ms;
    struct history_stats *stats;
};

/* history_init makes an empty history with these bounds, counting into
 * |stats|. */
void history_init(struct history *h, uint32_t max_per_topic, int64_t ttl_ms, uint64_t max_bytes,
                  struct history_stats *stats);

/* history_ring_cleanup releases the messages of one ring and its array. */
void history_ring_cleanup(struct history *h, struct history_ring *r);

/* history_add appends |m| (the next seq of its topic) to |r|, taking over
 * one of its references (released at once when history is off or |m| alone
 * is over the byte bound), then applies the bounds. |now_ms| is monotonic. */
void history_add(struct history *h, struct history_ring *r, struct msg *m, int64_t now_ms);

/* history_expire lets go of the messages older than --history-ttl. */
void history_expire(struct history *h, int64_t now_ms);

/* history_find returns the held message |seq| of the ring, or NULL. It adds
 * no reference. */
struct msg *history_find(const struct history_ring *r, uint64_t seq);

/* history_first_seq returns the oldest held seq, or 0 when none is held. */
uint64_t history_first_seq(const struct history_ring *r);

/* history_since writes to |out| (room for |max|) the held messages with a
 * seq above |since|, oldest first, each with a reference for the caller,
 * and returns how many. */
size_t history_since(const struct history_ring *r, uint64_t since, struct msg **out, size_t max);

/* history_msg_size is what one message counts in --history-bytes. */
uint64_t history_msg_size(const struct msg *m);

#endif
