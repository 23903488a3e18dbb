/* fanout.h: delivering a message to a shard's own subscribers.
 *
 * The message's frame is queued by reference to every matching connection:
 * the same bytes, never a copy (see msg.h). A connection whose queue grows
 * past the limit is reported as overflowing and gets nothing more; the
 * caller closes it after the fan-out (the index must not change while it is
 * being walked). */
#ifndef RC_FANOUT_H
#define RC_FANOUT_H

#include <stddef.h>
#include <stdint.h>

struct conn;
struct index;
struct lref;
struct msg;

struct fanout_sink {
    void (*queued)(void *ctx, struct conn *c);   /* something was queued: flush later */
    void (*overflow)(void *ctx, struct conn *c); /* the queue passed the limit */
    void *ctx;
};

/* fanout_deliver queues |m| to the subscribers of its topic in |idx| and
 * returns how many got it. It takes over one shard reference of |m|. */
size_t fanout_deliver(struct index *idx, struct msg *m, uint64_t max_queued,
                      const struct fanout_sink *sink);

/* fanout_queue_event queues |m|, through |ref|, to |c| in the connection's
 * encoding: the same bytes for every subscriber of that encoding, unless its
 * kind writes a part of its own (an SSE stream's id line, a data-only
 * WebSocket's header). Replays (history) queue through it too, so a
 * replayed event has the shape a live one has. Returns 0 or -1 (memory). */
int fanout_queue_event(struct conn *c, struct lref *ref, const struct msg *m);

/* fanout_queue_one queues |m| to |c| as fan-out does (its encoding, by
 * reference), with a reference of its own. Returns 0 or -1 (memory). */
int fanout_queue_one(struct conn *c, struct msg *m);

#endif
