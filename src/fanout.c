/* fanout.c: queueing one message to a shard's subscribers. */
#include "fanout.h"

#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "alloc.h"
#include "audience.h"
#include "conn.h"
#include "index.h"
#include "msg.h"
#include "topic.h"

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

/* subscription_matches reports whether subscription |node| matches the
 * message's topic (the index found the connection through at least one). */
static bool subscription_matches(const struct topic_node *node, const struct msg *m)
{
    if (node->is_pattern)
        return topic_matches(node->name, node->len, m->topic, m->topic_len);
    return node->len == m->topic_len && memcmp(node->name, m->topic, m->topic_len) == 0;
}

/* sse_id_line advances the stream's positions and writes its id line:
 * "id: " then, per subscription, the seq (exact topic) or "t" and the
 * publish time in microseconds (pattern) of the last event delivered
 * through it, comma-separated (docs/protocol/sse.md). Returns the length,
 * or 0 when it does not fit |cap|. */
static size_t sse_id_line(struct conn *c, const struct msg *m, char *out, size_t cap)
{
    size_t len = (size_t)snprintf(out, cap, "id: ");
    for (uint32_t i = 0; i < c->subs.n; i++) {
        const struct topic_node *node = c->subs.v[i].node;
        if (subscription_matches(node, m))
            c->u.sse.positions[i] = node->is_pattern ? (uint64_t)m->time_us : m->seq;
        int n = snprintf(out + len, cap - len, "%s%s%llu", i ? "," : "",
                         node->is_pattern ? "t" : "", (unsigned long long)c->u.sse.positions[i]);
        if (n < 0 || (size_t)n >= cap - len)
            return 0;
        len += (size_t)n;
    }
    if (len + 1 >= cap)
        return 0;
    out[len++] = '\n';
    return len;
}

/* queue_sse queues the event to a stream: the shared record with its own
 * id for a stream of one exact topic, else the stream's id line and the
 * shared record after its id line. */
static int queue_sse(struct fanout_run *run, struct conn *c)
{
    const struct msg *m = run->msg;
    if (!c->u.sse.positions)
        return sendq_push_shared(&c->sq, run->ref, m->sse_record, m->sse_record_len);
    char stack[512];
    size_t cap = sizeof("id: \n") + (size_t)c->subs.n * 22; /* ",t" and 20 digits each */
    char *line = cap <= sizeof(stack) ? stack : rc_malloc(cap);
    if (!line)
        return -1;
    size_t len = sse_id_line(c, m, line, cap);
    int ret = len > 0 ? sendq_push_copy(&c->sq, line, len) : -1;
    if (line != stack)
        rc_free(line);
    if (ret != 0)
        return -1;
    return sendq_push_shared(&c->sq, run->ref, m->sse_record + m->sse_id_len,
                             m->sse_record_len - m->sse_id_len);
}

static void deliver_one(void *ctx, struct subs *s)
{
    struct fanout_run *run = ctx;
    struct conn *c = conn_of(s);
    if (c->state != CONN_OPEN || (c->flags & CONN_OVERFLOW))
        return;
    if (run->msg->audience && !audience_allows(run->msg->audience, c->claims))
        return; /* decides whether to queue, never what */
    if (!run->ref && !(run->ref = lref_new(run->msg)))
        goto overflow; /* out of memory: treat it as a slow consumer */
    int ret = c->kind == CONN_SSE
                  ? queue_sse(run, c)
                  : sendq_push_shared(&c->sq, run->ref, run->msg->ws_frame, run->msg->ws_frame_len);
    if (ret != 0)
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
