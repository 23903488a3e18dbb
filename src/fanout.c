/* fanout.c: queueing one message to a shard's subscribers. */
#include "fanout.h"

#include <stddef.h>

#include "conn.h"
#include "index.h"
#include "msg.h"

struct fanout_run {
    struct msg *msg;
    struct lref *ref; /* created at the first subscriber */
    uint64_t max_queued;
    const struct fanout_sink *sink;
    size_t delivered;
    bool failed;
};

static struct conn *conn_of(struct subs *s)
{
    return (struct conn *)((char *)s - offsetof(struct conn, u.ws.subs));
}

static void deliver_one(void *ctx, struct subs *s)
{
    struct fanout_run *run = ctx;
    struct conn *c = conn_of(s);
    if (c->state != CONN_OPEN || (c->flags & CONN_OVERFLOW))
        return;
    if (!run->ref && !(run->ref = lref_new(run->msg))) {
        run->failed = true;
        return;
    }
    if (sendq_push_shared(&c->sq, run->ref, run->msg->ws_frame, run->msg->ws_frame_len) != 0) {
        c->flags |= CONN_OVERFLOW; /* out of memory: treat it as a slow consumer */
        run->sink->overflow(run->sink->ctx, c);
        return;
    }
    run->delivered++;
    run->sink->queued(run->sink->ctx, c);
    if (c->sq.bytes > run->max_queued) {
        c->flags |= CONN_OVERFLOW;
        run->sink->overflow(run->sink->ctx, c);
    }
}

size_t fanout_deliver(struct index *idx, struct msg *m, uint64_t max_queued,
                      const struct fanout_sink *sink)
{
    struct fanout_run run = {m, NULL, max_queued, sink, 0, false};
    index_match(idx, m->topic, m->topic_len, m->topic_hash, deliver_one, &run);
    /* The shard's reference now belongs to the lref (whose own hold is
     * dropped here, leaving one per queue entry), or is dropped here. */
    if (run.ref)
        lref_put(run.ref);
    else
        msg_release(m);
    return run.delivered;
}
