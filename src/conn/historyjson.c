/* historyjson.c: the JSON of a history answer (see historyjson.h). */
#include "conn/historyjson.h"

#include <stdio.h>

#include "pubsub/audience.h"
#include "core/conn.h"
#include "core/fanout.h"
#include "pubsub/home.h"
#include "pubsub/msg.h"
#include "proto/position.h"
#include "core/pubreq.h"
#include "core/sendq.h"

static const char close_text[] = "]}";

static const uint8_t *visible_event(const struct conn *c, const struct msg *m,
                                    historyjson_event_fn event_fn, size_t *out_len)
{
    if (m->audience && !audience_allows(m->audience, c->claims))
        return NULL;
    return event_fn(m, out_len);
}

void historyjson_measure(struct historyjson *out, const char *prefix, const struct conn *c,
                         const struct pubreq *req, historyjson_event_fn event_fn)
{
    const struct home_replay *r = &req->replay;
    char epoch[POSITION_EPOCH_LEN + 1];
    position_format_epoch(epoch, r->pos.epoch);
    int n = snprintf(out->open, sizeof(out->open),
                     "%s\"topic\":\"%.*s\",\"epoch\":\"%s\",\"first_seq\":%llu,\"last_seq\":%llu,"
                     "\"events\":[",
                     prefix, (int)req->in.topic_len, req->in.topic, epoch,
                     (unsigned long long)r->pos.first_seq, (unsigned long long)r->pos.last_seq);
    out->open_len = (size_t)n;
    out->len = out->open_len + sizeof(close_text) - 1;
    size_t shown = 0, len;
    for (size_t i = 0; i < r->count; i++)
        if (visible_event(c, r->msgs[i], event_fn, &len))
            out->len += len + (shown++ > 0);
}

int historyjson_queue_shared(struct conn *c, struct msg *m, const uint8_t *data, size_t len)
{
    msg_ref(m);
    struct lref *ref = lref_new(m);
    if (!ref) {
        msg_release(m);
        return -1;
    }
    int r = sendq_push_shared(&c->sq, ref, data, (uint32_t)len);
    lref_put(ref); /* the queue entry holds it now, when it was queued */
    return r;
}

int historyjson_queue(struct shard *sh, struct conn *c, const struct historyjson *h,
                      const struct pubreq *req, historyjson_event_fn event_fn)
{
    const struct home_replay *r = &req->replay;
    conn_send_copy(sh, c, h->open, h->open_len);
    size_t shown = 0, len;
    for (size_t i = 0; i < r->count && c->state != CONN_DEAD; i++) {
        const uint8_t *event = visible_event(c, r->msgs[i], event_fn, &len);
        if (!event)
            continue;
        if (shown++ > 0)
            conn_send_copy(sh, c, ",", 1);
        if (historyjson_queue_shared(c, r->msgs[i], event, len) != 0) {
            conn_kill(sh, c);
            return -1;
        }
    }
    conn_send_copy(sh, c, close_text, sizeof(close_text) - 1);
    return 0;
}
