/* sseconn.c: Server-Sent Events streams. */
#include "sseconn.h"

#include <stdio.h>
#include <string.h>

#include "alloc.h"
#include "auth.h"
#include "conn.h"
#include "hash.h"
#include "http.h"
#include "httpconn.h"
#include "httpreply.h"
#include "shard.h"
#include "topic.h"

#define SSE_MAX_VALUE 65536 /* a decoded query value: one topic or a comma list */

static const uint8_t heartbeat[] = ": heartbeat\n\n"; /* every stream's */

/* reply_error answers a JSON error and closes. */
static void reply_error(struct shard *sh, struct conn *c, int status, const char *code,
                        const char *message)
{
    httpreply_error(sh, c, status, code, message, "", false);
}

/* subscribe_one validates and subscribes one topic or pattern; returns 0,
 * or -1 after answering the error. */
static int subscribe_one(struct shard *sh, struct conn *c, const char *topic, size_t len)
{
    enum topic_status status =
        topic_validate_pattern(topic, len, sh->cfg->max_topic_length, sh->cfg->max_segments);
    if (status != TOPIC_OK) {
        httpreply_topic_error(sh, c, 400, "bad_topic", topic, len, topic_status_text(status));
        return -1;
    }
    if (!auth_may_subscribe(c->claims, topic, len)) {
        httpreply_topic_error(sh, c, 403, "forbidden", topic, len,
                              "the token's subscribe claim does not contain this topic");
        return -1;
    }
    enum index_result r =
        index_subscribe(&sh->index, &c->subs, topic, len, rc_hash(topic, len),
                        sh->cfg->max_topics_per_conn, sh->cfg->max_patterns_per_conn);
    if (r == INDEX_LIMIT) {
        reply_error(sh, c, 400, "too_many_topics", "more topics than --max-topics-per-conn");
        return -1;
    }
    if (r == INDEX_PATTERN_LIMIT) {
        reply_error(sh, c, 400, "too_many_patterns", "more patterns than --max-patterns-per-conn");
        return -1;
    }
    if (r == INDEX_NO_MEMORY) {
        reply_error(sh, c, 503, "unavailable", "out of memory");
        return -1;
    }
    return 0;
}

/* subscribe_query subscribes every topic of the query (topic=a&topic=b,c). */
static int subscribe_query(struct shard *sh, struct conn *c, const struct http_request *req)
{
    static _Thread_local char key[64], value[SSE_MAX_VALUE + 1];
    size_t pos = 0;
    int r;
    while (req->query && (r = http_query_next(req->query, req->query_len, &pos, key, sizeof(key),
                                              value, sizeof(value))) != 0) {
        if (r < 0) {
            reply_error(sh, c, 400, "bad_request", "malformed query string");
            return -1;
        }
        if (strcmp(key, "topic") != 0)
            continue; /* other parameters (cache busters, later tokens) are not ours */
        for (char *item = value, *comma; item; item = comma ? comma + 1 : NULL) {
            comma = strchr(item, ',');
            size_t len = comma ? (size_t)(comma - item) : strlen(item);
            if (subscribe_one(sh, c, item, len) != 0)
                return -1;
        }
    }
    if (c->subs.n == 0) {
        reply_error(sh, c, 400, "bad_request", "give at least one ?topic=");
        return -1;
    }
    return 0;
}

static void arm_heartbeat(struct shard *sh, struct conn *c)
{
    c->next_beat_ms = sh->now_ms + sh->cfg->sse_heartbeat_ms;
    bool expires_first = c->expires_ms && c->expires_ms < c->next_beat_ms;
    timer_arm(&sh->timers, &c->timer, expires_first ? c->expires_ms : c->next_beat_ms);
}

bool sseconn_start(struct shard *sh, struct conn *c, const struct http_request *req)
{
    if (req->method != HTTP_GET) {
        reply_error(sh, c, 405, "method_not_allowed", "/v1/sse takes GET");
        return false;
    }
    struct auth_token token;
    auth_find_token(&token, req);
    struct claims *claims = NULL;
    if (!httpconn_authenticate(sh, c, &token, &claims))
        return false;
    conn_set_kind(sh, c, CONN_SSE);
    memset(&c->u.sse, 0, sizeof(c->u.sse));
    conn_set_claims(sh, c, claims);
    if (subscribe_query(sh, c, req) != 0)
        return false;
    /* A stream of one exact topic uses the events' own ids; any other keeps
     * one position per subscription for its own id lines. */
    if (c->subs.n > 1 || c->subs.v[0].node->is_pattern) {
        c->u.sse.positions = rc_calloc(c->subs.n, sizeof(uint64_t));
        if (!c->u.sse.positions) {
            reply_error(sh, c, 503, "unavailable", "out of memory");
            return false;
        }
    }
    char head[512];
    int len = snprintf(head, sizeof(head),
                       "HTTP/1.1 200 OK\r\nServer: ringcast\r\nContent-Type: text/event-stream\r\n"
                       "Cache-Control: no-cache, no-store\r\nX-Accel-Buffering: no\r\n\r\n"
                       "retry: %u\n\n",
                       sh->cfg->sse_retry_ms);
    conn_send_copy(sh, c, head, (size_t)len);
    arm_heartbeat(sh, c);
    return true;
}

void sseconn_on_timer(struct shard *sh, struct conn *c)
{
    if (c->expires_ms && sh->now_ms >= c->expires_ms) {
        /* EventSource cannot be told why: the stream ends. */
        conn_finish(sh, c);
        return;
    }
    if (sendq_push_static(&c->sq, heartbeat, sizeof(heartbeat) - 1) != 0) {
        conn_kill(sh, c);
        return;
    }
    conn_mark_dirty(sh, c);
    arm_heartbeat(sh, c);
}

void sseconn_close(struct shard *sh, struct conn *c)
{
    conn_finish(sh, c);
}

void sseconn_close_slow(struct shard *sh, struct conn *c)
{
    if (c->state != CONN_OPEN)
        return;
    conn_give_up_slow(sh, c, "ending the stream");
    conn_finish(sh, c);
}
