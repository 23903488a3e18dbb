/* sseconn.c: Server-Sent Events streams. */
#include "conn/sseconn.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/alloc.h"
#include "pubsub/auth.h"
#include "core/conn.h"
#include "core/limits.h"
#include "proto/http.h"
#include "conn/httpauth.h"
#include "conn/httpcors.h"
#include "conn/httpreply.h"
#include "pubsub/msg.h"
#include "core/shard.h"
#include "util/stats.h"
#include "core/subscribe.h"
#include "pubsub/topic.h"
#include "proto/position.h"
#include "conn/resume.h"

#define SSE_MAX_VALUE 65536 /* a decoded query value: one topic or a comma list */

/* A stream's own state (its part of struct conn). */
struct sse_state {
    struct httpcors_peer cors; /* of the request that opened it (first: httpcors.h) */
    bool named;                /* records carry "event: <type>" (?events=named) */
    /* Per subscription (in the order of the request), the position of the
     * last event delivered through it: seq for an exact topic, publish time
     * in microseconds for a pattern. NULL for a stream of one exact topic,
     * whose events carry their own seq as id. */
    uint64_t *positions;
    struct resume *resume; /* a Last-Event-ID resume waiting for the home (resume.h) */
};
CONN_KIND_STATE_FITS(struct sse_state);
HTTPCORS_STATE_FIRST(struct sse_state, cors);

static struct sse_state *sse_of(struct conn *c)
{
    return (struct sse_state *)c->kind_state;
}

static const uint8_t heartbeat[] = ": heartbeat\n\n"; /* every stream's */

/* reply_error answers a JSON error and closes. */
static void reply_error(struct shard *sh, struct conn *c, int status, const char *code,
                        const char *message)
{
    httpreply_error(sh, c, status, code, message, "", false);
}

/* subscribe_one subscribes one topic or pattern; returns 0, or -1 after
 * answering the error. */
static int subscribe_one(struct shard *sh, struct conn *c, const char *topic, size_t len)
{
    const char *message = NULL;
    switch (subscribe_topic(sh, c, topic, len, &message)) {
    case SUBSCRIBE_OK:
        return 0;
    case SUBSCRIBE_BAD_TOPIC:
        httpreply_topic_error(sh, c, 400, "bad_topic", topic, len, message);
        return -1;
    case SUBSCRIBE_FORBIDDEN:
        httpreply_topic_error(sh, c, 403, "forbidden", topic, len, message);
        return -1;
    case SUBSCRIBE_TOO_MANY_TOPICS:
        reply_error(sh, c, 400, "too_many_topics", message);
        return -1;
    case SUBSCRIBE_TOO_MANY_PATTERNS:
        reply_error(sh, c, 400, "too_many_patterns", message);
        return -1;
    case SUBSCRIBE_NO_MEMORY:
    default:
        reply_error(sh, c, 503, "unavailable", message);
        return -1;
    }
}

/* set_events reads ?events=: named (event: lines) or unnamed (none, the
 * default without --sse-named-events). Returns 0, or -1 after answering. */
static int set_events(struct shard *sh, struct conn *c, const char *value)
{
    if (strcmp(value, "named") == 0 || strcmp(value, "unnamed") == 0) {
        sseconn_name_events(c, value[0] == 'n');
        return 0;
    }
    reply_error(sh, c, 400, "bad_request", "events= takes named or unnamed");
    return -1;
}

/* subscribe_query subscribes every topic of the query (topic=a&topic=b,c)
 * and takes its events= choice. */
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
        if (strcmp(key, "events") == 0) {
            if (set_events(sh, c, value) != 0)
                return -1;
            continue;
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
    conn_arm_timer(sh, c, expires_first ? c->expires_ms : c->next_beat_ms);
}

void sseconn_name_events(struct conn *c, bool named)
{
    sse_of(c)->named = named;
}

int sseconn_track_positions(struct conn *c)
{
    /* A stream of one exact topic uses the events' own ids; any other keeps
     * one position per subscription for its own id lines. */
    if (c->subs.n <= 1 && !(c->subs.n == 1 && c->subs.v[0].node->is_pattern))
        return 0;
    sse_of(c)->positions = rc_calloc(c->subs.n, sizeof(uint64_t));
    return sse_of(c)->positions ? 0 : -1;
}

/* last_event_id finds the stream's resume position: the Last-Event-ID
 * header, else ?lastEventId= (for clients that cannot set headers).
 * Returns false when there is none. */
static bool last_event_id(const struct http_request *req, char *out, size_t cap, size_t *out_len)
{
    const struct http_header *h = http_find_header(req, "Last-Event-ID");
    if (h) {
        *out_len = h->value_len < cap ? h->value_len : cap - 1;
        memcpy(out, h->value, *out_len);
        return true;
    }
    static _Thread_local char key[64];
    size_t pos = 0;
    int r;
    while (req->query &&
           (r = http_query_next(req->query, req->query_len, &pos, key, sizeof(key), out, cap)) != 0)
        if (r > 0 && strcmp(key, "lastEventId") == 0) {
            *out_len = strlen(out);
            return true;
        }
    return false;
}

/* send_gap writes a gap as an event of its own type. */
static void send_gap(struct shard *sh, struct conn *c, char *text, size_t len)
{
    if (!text) {
        conn_finish(sh, c);
        return;
    }
    static const char head[] = "event: ringcast.gap\ndata: ";
    conn_send_copy(sh, c, head, sizeof(head) - 1);
    conn_send_copy(sh, c, text, len);
    conn_send_copy(sh, c, "\n\n", 2);
    free(text);
}

static const struct resume_out sse_out = {false, send_gap, send_gap, conn_finish};

/* start_resume resumes a stream of one exact topic from its Last-Event-ID
 * ("<epoch>-<seq>", docs/protocol/sse.md). An id that is not one (another
 * server's, an older format) cannot name a position of this topic: it
 * resumes like one of another epoch, after a gap. Streams of several
 * topics or of patterns start with the next event. */
static void start_resume(struct shard *sh, struct conn *c, const struct http_request *req)
{
    char id[POSITION_ID_MAX + 8];
    size_t id_len = 0;
    if (sse_of(c)->positions || !last_event_id(req, id, sizeof(id), &id_len))
        return;
    struct resume_since since = {true, {0, UINT64_MAX}};
    if (position_parse_id(id, id_len, &since.pos.epoch, &since.pos.seq) != 0)
        since.pos = (struct seam_position){0, UINT64_MAX};
    const struct topic_node *node = c->subs.v[0].node;
    const char *topic = node->name;
    size_t len = node->len;
    const bool before = false;
    resume_start(sh, c, &sse_of(c)->resume, &sse_out, &topic, &len, &before, &since, 1);
}

bool sseconn_start(struct shard *sh, struct conn *c, const struct http_request *req)
{
    if (req->method != HTTP_GET) {
        reply_error(sh, c, 405, "method_not_allowed", "/v1/sse takes GET");
        return false;
    }
    struct auth_token token;
    struct claims *claims = NULL;
    if (!httpauth_keep(sh, c, req, AUTH_SEND_SSE, &token, &claims))
        return false;
    struct httpcors_peer cors = *httpcors_of(c); /* the HTTP state ends here */
    conn_set_ops(sh, c, &sse_conn_ops);
    sse_of(c)->cors = cors;
    sseconn_name_events(c, sh->cfg->sse_named_events);
    conn_set_claims(sh, c, claims);
    if (subscribe_query(sh, c, req) != 0)
        return false;
    if (sseconn_track_positions(c) != 0) {
        reply_error(sh, c, 503, "unavailable", "out of memory");
        return false;
    }
    char head[512 + HTTPCORS_HEADERS_MAX];
    char cors_lines[HTTPCORS_HEADERS_MAX];
    int len = snprintf(head, sizeof(head),
                       "HTTP/1.1 200 OK\r\nServer: ringcast\r\nContent-Type: text/event-stream\r\n"
                       "Cache-Control: no-cache, no-store\r\nX-Accel-Buffering: no\r\n%s\r\n"
                       "retry: %u\n\n",
                       httpcors_headers(cors_lines, sh->cfg, cors.origin), sh->cfg->sse_retry_ms);
    conn_send_copy(sh, c, head, (size_t)len);
    limits_handshake_done(sh, c);
    arm_heartbeat(sh, c);
    start_resume(sh, c, req);
    return c->state == CONN_OPEN;
}

/* on_timer sends the heartbeat comment, or ends a stream whose token
 * expired. */
static void on_timer(struct shard *sh, struct conn *c)
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
            sse_of(c)->positions[i] = node->is_pattern ? (uint64_t)m->time_us : m->seq;
        int n = snprintf(out + len, cap - len, "%s%s%llu", i ? "," : "",
                         node->is_pattern ? "t" : "", (unsigned long long)sse_of(c)->positions[i]);
        if (n < 0 || (size_t)n >= cap - len)
            return 0;
        len += (size_t)n;
    }
    if (len + 1 >= cap)
        return 0;
    out[len++] = '\n';
    return len;
}

/* own_lines writes the stream's own lines of an event into |out|: its id
 * line, then, for a named stream, the shared record's event line. Returns
 * the length, or 0 when they do not fit |cap|. */
static size_t own_lines(struct conn *c, const struct msg *m, char *out, size_t cap)
{
    size_t len = sse_id_line(c, m, out, cap);
    if (len == 0 || !sse_of(c)->named)
        return len;
    if (cap - len < m->sse_event_len)
        return 0;
    memcpy(out + len, m->sse_record, m->sse_event_len);
    return len + m->sse_event_len;
}

/* queue_event queues the event to a stream. A stream of one exact topic
 * gets the shared record as it is: whole (event line first) when named,
 * from its id line on when not. Any other stream gets its own lines and
 * the shared data lines after them. */
static int queue_event(struct conn *c, struct lref *ref, const struct msg *m)
{
    if (!sse_of(c)->positions) {
        uint32_t skip = sse_of(c)->named ? 0 : m->sse_event_len;
        return sendq_push_shared(&c->sq, ref, m->sse_record + skip, m->sse_record_len - skip);
    }
    char stack[768];
    /* ",t" and 20 digits a subscription, and the event line */
    size_t cap = sizeof("id: \n") + (size_t)c->subs.n * 22 + m->sse_event_len;
    char *line = cap <= sizeof(stack) ? stack : rc_malloc(cap);
    if (!line)
        return -1;
    size_t len = own_lines(c, m, line, cap);
    int ret = len > 0 ? sendq_push_copy(&c->sq, line, len) : -1;
    if (line != stack)
        rc_free(line);
    if (ret != 0)
        return -1;
    uint32_t data_at = (uint32_t)m->sse_event_len + m->sse_id_len;
    return sendq_push_shared(&c->sq, ref, m->sse_record + data_at, m->sse_record_len - data_at);
}

/* on_result takes the home's answer to a resume; the stream reads (its
 * EOF) again once none is awaited. */
static void on_result(struct shard *sh, struct conn *c, struct pubreq *req)
{
    if (c->state == CONN_OPEN && resume_on_result(sh, c, &sse_of(c)->resume, req) &&
        c->state == CONN_OPEN) {
        c->flags |= CONN_READ_PAUSED;
        conn_add_work(sh, c);
    }
}

/* resume_stream asks again what a full ring held back, and reads again
 * once no answer is awaited. */
static void resume_stream(struct shard *sh, struct conn *c)
{
    c->flags &= ~(CONN_BLOCKED | CONN_READ_PAUSED);
    if (c->state != CONN_OPEN)
        return;
    if (resume_retry(sh, c, &sse_of(c)->resume) && c->state == CONN_OPEN) {
        c->flags |= CONN_READ_PAUSED;
        return;
    }
    if (conn_may_read(c))
        conn_arm_recv(sh, c);
}

static int hold_event(struct conn *c, struct msg *m, uint64_t *out_held)
{
    return resume_hold(sse_of(c)->resume, m, out_held);
}

static void release(struct conn *c)
{
    rc_free(sse_of(c)->positions);
    resume_free(sse_of(c)->resume);
    sse_of(c)->resume = NULL;
}

const struct conn_ops sse_conn_ops = {
    .name = "sse",
    .stats_kind = STATS_SSE,
    .encoding = CONN_ENC_SSE_RECORD,
    .reads_for_life = true, /* a stream's client has nothing to say: only its EOF is read */
    .on_timer = on_timer,
    .drain = conn_finish,
    .close_slow = sseconn_close_slow,
    .queue_event = queue_event,
    .on_result = on_result,
    .resume = resume_stream,
    .hold_event = hold_event,
    .release = release,
};

void sseconn_close_slow(struct shard *sh, struct conn *c)
{
    if (c->state != CONN_OPEN)
        return;
    conn_give_up_slow(sh, c, "ending the stream");
    conn_finish(sh, c);
}
