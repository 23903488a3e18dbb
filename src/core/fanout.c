/* fanout.c: queueing one message to a shard's subscribers. */
#include "core/fanout.h"

#include <stddef.h>

#include "pubsub/audience.h"
#include "core/conn.h"
#include "pubsub/index.h"
#include "pubsub/msg.h"

struct fanout_run {
    struct msg *msg;
    struct lref *ref; /* created at the first subscriber */
    uint64_t max_queued;
    const struct fanout_sink *sink;
    size_t delivered;
};

static struct conn *conn_of(struct subs *s)
{
    return (struct conn *)((char *)s - offsetof(struct conn, subs));
}

/* The WebSocket frame, by far the most common encoding, first. */
int fanout_queue_event(struct conn *c, struct lref *ref, const struct msg *m)
{
    const struct conn_ops *ops = c->ops;
    if (ops->encoding == CONN_ENC_WS_FRAME)
        return sendq_push_shared(&c->sq, ref, m->ws_frame, m->ws_frame_len);
    if (ops->queue_event)
        return ops->queue_event(c, ref, m);
    return sendq_push_shared(&c->sq, ref, m->sse_record, m->sse_record_len);
}

int fanout_queue_one(struct conn *c, struct msg *m)
{
    msg_ref(m);
    struct lref *ref = lref_new(m);
    if (!ref) {
        msg_release(m);
        return -1;
    }
    int r = fanout_queue_event(c, ref, m);
    lref_put(ref); /* the queue entries hold it now, when it was queued */
    return r;
}

static void deliver_one(void *ctx, struct subs *s)
{
    struct fanout_run *run = ctx;
    struct conn *c = conn_of(s);
    if (c->state != CONN_OPEN || (c->flags & CONN_OVERFLOW))
        return;
    if (run->msg->audience && !audience_allows(run->msg->audience, c->claims))
        return; /* decides whether to queue, never what */
    if (c->flags & CONN_HOLDING) {
        uint64_t held = 0;
        int r = c->ops->hold_event(c, run->msg, &held);
        if (r < 0 || (r > 0 && c->sq.bytes + held > run->max_queued))
            goto overflow;
        if (r > 0)
            return;
    }
    if (!run->ref && !(run->ref = lref_new(run->msg)))
        goto overflow; /* out of memory: treat it as a slow consumer */
    if (fanout_queue_event(c, run->ref, run->msg) != 0)
        goto overflow;
    run->delivered++;
    run->sink->queued(run->sink->ctx, c);
    if (c->sq.bytes > run->max_queued)
        goto overflow;
    return;
overflow:
    c->flags |= CONN_OVERFLOW;
    run->sink->overflow(run->sink->ctx, c);
}

size_t fanout_deliver(struct index *idx, struct msg *m, uint64_t max_queued,
                      const struct fanout_sink *sink)
{
    struct fanout_run run = {m, NULL, max_queued, sink, 0};
    if (m->ws_frame) /* a dropped event (--truncate=drop) goes to no one */
        index_match(idx, m->topic, m->topic_len, m->topic_hash, deliver_one, &run);
    /* The shard's reference now belongs to the lref (whose own hold is
     * dropped here, leaving one per queue entry), or is dropped here. */
    if (run.ref)
        lref_put(run.ref);
    else
        msg_release(m);
    return run.delivered;
}
