/* httphistory.c: GET /v1/history/TOPIC (see httphistory.h). */
#include "conn/httphistory.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pubsub/audience.h"
#include "core/conn.h"
#include "util/hash.h"
#include "proto/http.h"
#include "conn/httpreply.h"
#include "conn/httpstate.h"
#include "pubsub/home.h"
#include "pubsub/msg.h"
#include "core/pubreq.h"
#include "core/sendq.h"
#include "core/shard.h"
#include "pubsub/topic.h"

#define PREFIX "/v1/history/"

/* parse_count reads a decimal parameter; returns -1 unless it is digits
 * only, at most 19 of them. */
static int parse_count(const char *text, uint64_t *out)
{
    size_t len = strlen(text);
    if (len == 0 || len > 19)
        return -1;
    for (size_t i = 0; i < len; i++)
        if (text[i] < '0' || text[i] > '9')
            return -1;
    *out = strtoull(text, NULL, 10);
    return 0;
}

/* parse_query reads since= and limit= (others are ignored). */
static int parse_query(const struct http_request *req, uint64_t *since, uint64_t *limit)
{
    size_t pos = 0;
    char key[16], value[32];
    int r;
    while (req->query && (r = http_query_next(req->query, req->query_len, &pos, key, sizeof(key),
                                              value, sizeof(value))) != 0) {
        if (r < 0)
            return -1;
        if (strcmp(key, "since") == 0 && parse_count(value, since) != 0)
            return -1;
        if (strcmp(key, "limit") == 0 && parse_count(value, limit) != 0)
            return -1;
    }
    return 0;
}

enum httpapi_result httphistory_serve(struct shard *sh, struct conn *c,
                                      const struct http_request *req)
{
    if (!httpapi_authenticate_get(sh, c, req, "/v1/history"))
        return HTTPAPI_STOPPED;
    char topic[65536 + 1];
    size_t topic_len = 0;
    uint64_t since = 0, limit = sh->cfg->history_size;
    if (http_percent_decode(req->path + strlen(PREFIX), req->path_len - strlen(PREFIX), false,
                            topic, sizeof(topic), &topic_len) != 0 ||
        topic_validate(topic, topic_len, sh->cfg->max_topic_length, sh->cfg->max_segments) !=
            TOPIC_OK ||
        parse_query(req, &since, &limit) != 0) {
        httpreply_error(sh, c, 400, "bad_request",
                        "expected /v1/history/<topic>?since=<seq>&limit=<n>", "", req->keep_alive);
        return req->keep_alive ? HTTPAPI_SERVED : HTTPAPI_STOPPED;
    }
    if (!httpapi_may_read(sh, c, topic, topic_len))
        return HTTPAPI_STOPPED;
    if (limit > sh->cfg->history_size)
        limit = sh->cfg->history_size;
    const struct pubreq_ask ask = {
        PUBREQ_HISTORY, topic, topic_len, rc_hash(topic, topic_len), since, (uint32_t)limit};
    return httpapi_ask(sh, c, &ask);
}

/* visible reports whether the connection's token may see |m|. */
static bool visible(const struct conn *c, const struct msg *m)
{
    return !m->audience || audience_allows(m->audience, c->claims);
}

/* queue_event queues the message's full event by reference. */
static int queue_event(struct conn *c, struct msg *m)
{
    msg_ref(m);
    struct lref *ref = lref_new(m);
    if (!ref) {
        msg_release(m);
        return -1;
    }
    int r = sendq_push_shared(&c->sq, ref, m->full_json, m->full_json_len);
    lref_put(ref); /* the queue entry holds it now, when it was queued */
    return r;
}

void httphistory_answer(struct shard *sh, struct conn *c, struct pubreq *req)
{
    bool keep_alive = http_state_of(c)->keep_alive;
    if (req->history_failed) {
        httpreply_error(sh, c, 503, "unavailable", "out of memory", "", false);
        return;
    }
    const struct home_replay *r = &req->replay;
    char epoch[HOME_EPOCH_LEN + 1];
    home_format_epoch(epoch, r->pos.epoch);
    char open[128 + 65536];
    int open_len =
        snprintf(open, sizeof(open),
                 "{\"topic\":\"%.*s\",\"epoch\":\"%s\",\"first_seq\":%llu,"
                 "\"last_seq\":%llu,\"events\":[",
                 (int)req->in.topic_len, req->in.topic, epoch, (unsigned long long)r->pos.first_seq,
                 (unsigned long long)r->pos.last_seq);
    static const char close[] = "]}\n";
    size_t body_len = (size_t)open_len + sizeof(close) - 1, shown = 0;
    for (size_t i = 0; i < r->count; i++) {
        if (visible(c, r->msgs[i])) {
            body_len += r->msgs[i]->full_json_len + (shown > 0);
            shown++;
        }
    }
    httpreply_head(sh, c, 200, "Cache-Control: no-store\r\n", "application/json", body_len,
                   keep_alive);
    conn_send_copy(sh, c, open, (size_t)open_len);
    shown = 0;
    for (size_t i = 0; i < r->count && c->state != CONN_DEAD; i++) {
        if (!visible(c, r->msgs[i]))
            continue;
        if (shown++ > 0)
            conn_send_copy(sh, c, ",", 1);
        if (queue_event(c, r->msgs[i]) != 0) {
            conn_kill(sh, c);
            return;
        }
    }
    conn_send_copy(sh, c, close, sizeof(close) - 1);
    if (!keep_alive && c->state == CONN_OPEN)
        conn_finish(sh, c);
}
