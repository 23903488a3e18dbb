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
#include "proto/position.h"
#include "core/pubreq.h"
#include "conn/historyjson.h"
#include "core/sendq.h"
#include "core/shard.h"
#include "pubsub/topic.h"

#define PREFIX "/v1/history/"

/* parse_count reads a decimal parameter. */
static int parse_count(const char *text, uint64_t *out)
{
    return position_parse_seq(text, strlen(text), out);
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
    const struct pubreq_ask ask = {.op = PUBREQ_HISTORY,
                                   .topic = topic,
                                   .topic_len = topic_len,
                                   .topic_hash = rc_hash(topic, topic_len),
                                   .seq = since,
                                   .limit = (uint32_t)limit};
    return httpapi_ask(sh, c, &ask);
}

/* full_event is the event in full, as GET /v1/messages serves it. */
static const uint8_t *full_event(const struct msg *m, size_t *out_len)
{
    *out_len = m->full_json_len;
    return m->full_json;
}

void httphistory_answer(struct shard *sh, struct conn *c, struct pubreq *req)
{
    bool keep_alive = http_state_of(c)->keep_alive;
    if (req->history_failed) {
        httpreply_error(sh, c, 503, "unavailable", "out of memory", "", false);
        return;
    }
    static _Thread_local struct historyjson h; /* large: one per shard thread */
    historyjson_measure(&h, "{", c, req, full_event);
    httpreply_head(sh, c, 200, "Cache-Control: no-store\r\n", "application/json", h.len + 1,
                   keep_alive);
    if (historyjson_queue(sh, c, &h, req, full_event) != 0)
        return;
    conn_send_copy(sh, c, "\n", 1);
    if (!keep_alive && c->state == CONN_OPEN)
        conn_finish(sh, c);
}
