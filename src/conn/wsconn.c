/* wsconn.c: the native protocol on /v1/ws. */
#include "conn/wsconn.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/alloc.h"
#include "pubsub/auth.h"
#include "pubsub/claims.h"
#include "proto/control.h"
#include "core/conn.h"
#include "core/limits.h"
#include "util/hash.h"
#include "pubsub/jwt.h"
#include "pubsub/msg.h"
#include "util/log.h"
#include "core/shard.h"
#include "util/stats.h"
#include "core/subscribe.h"
#include "pubsub/topic.h"
#include "proto/ws.h"
#include "proto/wsdeflate.h"
#include "proto/wsread.h"
#include "conn/resume.h"

/* What handle_event returns when the input paused (conn_input_next): the
 * reader stops after the message just handled. */
#define INPUT_PAUSED 2

/* A WebSocket connection's own state (its part of struct conn). */
struct ws_state {
    struct ws_reader reader;
    bool echo;                           /* /v1/echo: messages come back as they are */
    bool close_received;                 /* the peer's close frame came: close TCP after ours */
    bool reader_failed;                  /* a protocol error: the rest of the input means nothing */
    struct ws_deflate_agreement deflate; /* permessage-deflate, as the handshake agreed */
    uint8_t deflate_level;               /* --deflate-level, for queue_deflated */
    uint32_t deflate_min_size;           /* --deflate-min-size, capped */
    struct tokenbucket changes;          /* --subscribe-rate-per-conn (zeroed: full) */
    struct ws_inflater *inflater;        /* the client's compressed messages; NULL: none yet */
    const struct ws_dialect *dialect;    /* NULL: the native protocol */
    union {                              /* by |dialect|: */
        struct resume *resume;           /* native: a subscribe waiting for positions (resume.h) */
        void *dialect_state;             /* a dialect's own (dialect->release frees it) */
    };
};
CONN_KIND_STATE_FITS(struct ws_state);

static struct ws_state *ws_of(struct conn *c)
{
    return (struct ws_state *)c->kind_state;
}

static void arm_timer(struct shard *sh, struct conn *c);

/* send_frame queues one unfragmented server frame. */
static void send_frame(struct shard *sh, struct conn *c, enum ws_opcode opcode, const void *payload,
                       size_t len)
{
    uint8_t header[WS_MAX_HEADER];
    size_t header_len = ws_build_header(header, opcode, true, len);
    conn_send_copy(sh, c, header, header_len);
    if (len > 0)
        conn_send_copy(sh, c, payload, len);
}

/* send_json queues a text frame with |text| (malloc'd by jansson) and frees
 * it. */
static void send_json(struct shard *sh, struct conn *c, char *text, size_t len)
{
    if (!text) {
        wsconn_close(sh, c, WS_CLOSE_INTERNAL_ERROR, "out of memory");
        return;
    }
    send_frame(sh, c, WS_OP_TEXT, text, len);
    free(text);
}

static void send_error(struct shard *sh, struct conn *c, const char *code, const char *topic,
                       size_t topic_len, const char *message)
{
    size_t len = 0;
    char *text = control_reply_error(code, topic, topic_len, message, &len);
    send_json(sh, c, text, len);
}

void wsconn_close(struct shard *sh, struct conn *c, uint16_t code, const char *reason)
{
    if (c->state != CONN_OPEN)
        return;
    uint8_t frame[2 + WS_MAX_CONTROL_PAYLOAD];
    size_t len = ws_build_close(frame, code, reason);
    conn_send_copy(sh, c, frame, len);
    conn_finish(sh, c);
}

/* own_code says the server's own close |code| (slow consumer, idle,
 * going away) the way the connection's dialect does. */
static uint16_t own_code(struct conn *c, uint16_t code)
{
    const struct ws_dialect *d = ws_of(c)->dialect;
    return d ? d->close_code(code) : code;
}

void wsconn_close_slow(struct shard *sh, struct conn *c)
{
    if (c->state != CONN_OPEN)
        return;
    conn_give_up_slow(sh, c, "closing as a slow consumer");
    wsconn_close(sh, c, own_code(c, WS_CLOSE_SLOW_CONSUMER), "slow consumer");
}

/* Error codes of the protocol, by the reason a subscription was refused. */
static const char *const refusal_codes[] = {
    [SUBSCRIBE_BAD_TOPIC] = CONTROL_ERR_BAD_TOPIC,
    [SUBSCRIBE_FORBIDDEN] = CONTROL_ERR_FORBIDDEN,
    [SUBSCRIBE_TOO_MANY_TOPICS] = CONTROL_ERR_TOO_MANY_TOPICS,
    [SUBSCRIBE_TOO_MANY_PATTERNS] = CONTROL_ERR_TOO_MANY_PATTERNS,
    [SUBSCRIBE_NO_MEMORY] = CONTROL_ERR_INTERNAL,
};

/* apply_one subscribes or unsubscribes one topic; returns true when it is
 * in the reply's list, false after sending an error for it. */
static bool apply_one(struct shard *sh, struct conn *c, const char *topic, size_t len,
                      bool subscribe)
{
    if (!subscribe) {
        enum topic_status status =
            topic_validate_pattern(topic, len, sh->cfg->max_topic_length, sh->cfg->max_segments);
        if (status != TOPIC_OK) {
            send_error(sh, c, CONTROL_ERR_BAD_TOPIC, topic, len, topic_status_text(status));
            return false;
        }
        index_unsubscribe(&sh->index, &c->subs, topic, len, rc_hash(topic, len));
        return true; /* held or not: listed */
    }
    const char *message = NULL;
    enum subscribe_status status = subscribe_topic(sh, c, topic, len, &message);
    if (status == SUBSCRIBE_OK)
        return true;
    send_error(sh, c, refusal_codes[status], topic, len, message);
    return false;
}

/* received_already reports whether |c| gets |topic|'s events already:
 * subscribed to it, or to a pattern that matches it. */
static bool received_already(const struct conn *c, const char *topic, size_t len)
{
    for (uint32_t i = 0; i < c->subs.n; i++) {
        const struct topic_node *node = c->subs.v[i].node;
        if (node->is_pattern ? topic_matches(node->name, node->len, topic, len)
                             : node->len == len && memcmp(node->name, topic, len) == 0)
            return true;
    }
    return false;
}

/* change_subscriptions applies a subscribe or unsubscribe message: every
 * topic is judged on its own; bad ones get an error each, the others are
 * applied and listed in one reply (a subscribe's with the positions of its
 * exact topics, resume.h). */
static void change_subscriptions(struct shard *sh, struct conn *c, const struct control_msg *m)
{
    const char *bad = NULL;
    size_t bad_len = 0;
    if (!resume_check_since(m, &bad, &bad_len)) {
        send_error(sh, c, CONTROL_ERR_BAD_REQUEST, bad, bad_len,
                   "a position in \"since\" is {\"epoch\":\"<16 hex digits>\",\"seq\":<integer>}");
        return;
    }
    size_t n = control_num_topics(m);
    const char **accepted = malloc((n ? n : 1) * sizeof(*accepted));
    size_t *lens = malloc((n ? n : 1) * sizeof(*lens));
    bool *before = malloc((n ? n : 1) * sizeof(*before));
    if (!accepted || !lens || !before) {
        free(accepted);
        free(lens);
        free(before);
        wsconn_close(sh, c, WS_CLOSE_INTERNAL_ERROR, "out of memory");
        return;
    }
    size_t num_accepted = 0;
    bool subscribe = m->type == CONTROL_SUBSCRIBE;
    for (size_t i = 0; i < n && c->state == CONN_OPEN; i++) {
        size_t len = 0;
        const char *topic = control_topic(m, i, &len);
        if (!topic) {
            send_error(sh, c, CONTROL_ERR_BAD_TOPIC, NULL, 0, "topics must be strings");
            continue;
        }
        bool was_received = subscribe && received_already(c, topic, len);
        if (apply_one(sh, c, topic, len, subscribe)) {
            before[num_accepted] = was_received;
            accepted[num_accepted] = topic;
            lens[num_accepted++] = len;
        }
    }
    if (c->state == CONN_OPEN && m->acknowledge && subscribe) {
        resume_subscribed(sh, c, &ws_of(c)->resume, m, accepted, lens, before, num_accepted);
    } else if (c->state == CONN_OPEN && m->acknowledge) {
        size_t len = 0;
        char *text = control_reply_topics(subscribe ? "subscribed" : "unsubscribed", accepted, lens,
                                          num_accepted, &len);
        send_json(sh, c, text, len);
    }
    free(accepted);
    free(lens);
    free(before);
}

static bool same_subject(const struct claims *a, const struct claims *b)
{
    return a->sub.len == b->sub.len && memcmp(a->sub.s, b->sub.s, a->sub.len) == 0;
}

/* drop_disallowed unsubscribes what |c|'s (new) claims no longer allow and
 * returns their names in |*out| (malloc'd, as are the names; the caller
 * frees both), or -1 when memory runs out. */
static long drop_disallowed(struct shard *sh, struct conn *c, char ***out)
{
    char **removed = malloc((c->subs.n ? c->subs.n : 1) * sizeof(*removed));
    if (!removed)
        return -1;
    long n = 0;
    for (uint32_t i = c->subs.n; i > 0; i--) {
        const struct topic_node *node = c->subs.v[i - 1].node;
        if (auth_may_subscribe(c->claims, node->name, node->len))
            continue;
        if (!(removed[n] = strndup(node->name, node->len)))
            break;
        index_unsubscribe(&sh->index, &c->subs, removed[n], node->len, node->hash);
        n++;
    }
    *out = removed;
    return n;
}

/* refresh replaces the connection's token (same subject), unsubscribes what
 * the new one no longer allows, and says so. */
static void refresh(struct shard *sh, struct conn *c, const struct control_msg *m)
{
    if (!sh->auth->enabled) {
        send_error(sh, c, CONTROL_ERR_BAD_REQUEST, NULL, 0,
                   "this server takes no tokens (open mode)");
        return;
    }
    struct claims *claims = NULL;
    char message[256];
    if (auth_check_text(sh->auth, m->token, m->token_len, &claims, AUTH_SEND_REFRESH, message,
                        sizeof(message)) != JWT_OK) {
        send_error(sh, c, CONTROL_ERR_UNAUTHORIZED, NULL, 0, message);
        return;
    }
    if (c->claims && !same_subject(c->claims, claims)) {
        claims_free(claims);
        send_error(sh, c, CONTROL_ERR_FORBIDDEN, NULL, 0, "the new token is for another subject");
        return;
    }
    conn_set_claims(sh, c, claims);
    arm_timer(sh, c);
    char **removed = NULL;
    long n = drop_disallowed(sh, c, &removed);
    size_t *lens = n > 0 ? malloc((size_t)n * sizeof(*lens)) : NULL;
    for (long i = 0; lens && i < n; i++)
        lens[i] = strlen(removed[i]);
    size_t len = 0;
    char *text = n < 0 || (n > 0 && !lens)
                     ? NULL
                     : control_reply_refreshed(claims->exp, (const char *const *)removed, lens,
                                               (size_t)n, &len);
    send_json(sh, c, text, len);
    for (long i = 0; i < n; i++)
        free(removed[i]);
    free(removed);
    free(lens);
}

/* may_change_subscriptions takes a subscribe or unsubscribe message from
 * the connection's rates; over them the message is answered with one
 * error rate_limited and not applied. */
static bool may_change_subscriptions(struct shard *sh, struct conn *c)
{
    struct limits_refusal refusal;
    if (limits_take_subscribe(sh, c, &ws_of(c)->changes, &refusal))
        return true;
    char message[200];
    snprintf(message, sizeof(message), "%s; retry in %u ms", refusal.message, refusal.retry_ms);
    send_error(sh, c, CONTROL_ERR_RATE_LIMITED, NULL, 0, message);
    return false;
}

static void use_data_only(struct conn *c);

static void handle_text(struct shard *sh, struct conn *c, const uint8_t *data, size_t len)
{
    struct control_msg m;
    const char *code = NULL;
    char message[200];
    if (control_parse(&m, data, len, &code, message, sizeof(message)) != 0) {
        send_error(sh, c, code, NULL, 0, message);
        return;
    }
    if (m.type == CONTROL_PING) {
        size_t reply_len = 0;
        char *text = control_reply_pong(&reply_len);
        send_json(sh, c, text, reply_len);
    } else if (m.type == CONTROL_REFRESH) {
        refresh(sh, c, &m);
    } else if (m.type == CONTROL_HISTORY) {
        if (may_change_subscriptions(sh, c))
            resume_history(sh, c, &m);
    } else if (may_change_subscriptions(sh, c)) {
        if (m.alias_topics)
            use_data_only(c);
        change_subscriptions(sh, c, &m);
    }
    control_free(&m);
}

struct event_ctx {
    struct shard *sh;
    struct conn *c;
};

/* inflate_message inflates a compressed message into |*out| (freed by the
 * caller), within --max-message, and checks a text message's UTF-8.
 * Returns 0, or closes the connection and returns 1. */
static int inflate_message(struct shard *sh, struct conn *c, const struct ws_event *ev,
                           uint8_t **out, size_t *out_len)
{
    struct ws_state *ws = ws_of(c);
    enum ws_inflate_status st = ws_inflate(&ws->inflater, &ws->deflate, ev->data, ev->len,
                                           sh->cfg->max_message, out, out_len);
    if (st == WS_INFLATE_OK && ev->opcode == WS_OP_TEXT && !utf8_valid(*out, *out_len)) {
        rc_free(*out);
        *out = NULL;
        st = WS_INFLATE_BAD;
    }
    if (st == WS_INFLATE_OK)
        return 0;
    ws->reader_failed = true;
    if (st == WS_INFLATE_TOO_BIG)
        wsconn_close(sh, c, WS_CLOSE_TOO_BIG, "message too big");
    else if (st == WS_INFLATE_BAD)
        wsconn_close(sh, c, WS_CLOSE_INVALID_PAYLOAD, "invalid compressed message");
    else
        wsconn_close(sh, c, WS_CLOSE_INTERNAL_ERROR, "out of memory");
    return 1;
}

static int handle_message(struct shard *sh, struct conn *c, const struct ws_event *ev)
{
    if (ws_of(c)->echo) {
        send_frame(sh, c, ev->opcode, ev->data, ev->len);
        return 0;
    }
    if (ev->opcode != WS_OP_TEXT) {
        wsconn_close(sh, c, WS_CLOSE_UNSUPPORTED_DATA,
                     "binary messages are not part of the protocol");
        return 1;
    }
    if (ws_of(c)->dialect)
        ws_of(c)->dialect->on_text(sh, c, ev->data, ev->len);
    else
        handle_text(sh, c, ev->data, ev->len);
    return 0;
}

/* on_message handles a message, inflated first when it came compressed.
 * Returns 1 when the connection closed. */
static int on_message(struct shard *sh, struct conn *c, const struct ws_event *ev)
{
    if (!ev->compressed)
        return handle_message(sh, c, ev);
    struct ws_event plain = *ev;
    uint8_t *inflated = NULL;
    if (inflate_message(sh, c, ev, &inflated, &plain.len) != 0)
        return 1;
    plain.data = inflated;
    plain.compressed = false;
    int stop = handle_message(sh, c, &plain);
    rc_free(inflated);
    return stop;
}

static int handle_event(void *ctx, const struct ws_event *ev)
{
    struct event_ctx *e = ctx;
    struct shard *sh = e->sh;
    struct conn *c = e->c;
    switch (ev->type) {
    case WS_EV_MESSAGE:
        if (on_message(sh, c, ev))
            return 1;
        break;
    case WS_EV_PING:
        send_frame(sh, c, WS_OP_PONG, ev->data, ev->len);
        break;
    case WS_EV_PONG:
        break;
    case WS_EV_CLOSE:
        /* Echo the peer's code; a close without a code gets one without. */
        ws_of(c)->close_received = true;
        c->flags |= CONN_NO_LINGER;
        wsconn_close(sh, c, ev->close_code == WS_CLOSE_NO_STATUS ? 0 : ev->close_code, "");
        return 1;
    }
    if (c->state != CONN_OPEN)
        return 1;
    if (c->flags & CONN_READ_PAUSED) /* waiting for a home's answer (resume.h) */
        return INPUT_PAUSED;
    return conn_input_next(sh, c) ? 0 : INPUT_PAUSED;
}

/* feed gives |len| bytes to the reader and returns how many it took: all,
 * or those before the rest that a pause of the input left (conn.h
 * conn_input_next). */
static size_t feed(struct shard *sh, struct conn *c, uint8_t *data, size_t len)
{
    const struct ws_limits limits = {sh->cfg->max_frame, sh->cfg->max_message};
    struct event_ctx ctx = {sh, c};
    size_t used = len;
    int r = ws_reader_feed_some(&ws_of(c)->reader, data, len, &limits, handle_event, &ctx, &used);
    if (r == INPUT_PAUSED)
        return used;
    if (r < 0) {
        ws_of(c)->reader_failed = true;
        uint16_t code = (uint16_t)-r;
        const char *reason = code == WS_CLOSE_TOO_BIG           ? "message too big"
                             : code == WS_CLOSE_INVALID_PAYLOAD ? "invalid UTF-8"
                             : code == WS_CLOSE_INTERNAL_ERROR  ? "out of memory"
                                                                : "protocol error";
        log_debug("connection %u: WebSocket error, closing with %u", c->slot, code);
        wsconn_close(sh, c, code, reason);
    }
    return len; /* the rest of the input of a closing connection means nothing */
}

static void on_data(struct shard *sh, struct conn *c, uint8_t *data, size_t len)
{
    c->last_rx_ms = sh->now_ms;
    if (conn_input_held(c) || !conn_input_next(sh, c)) {
        conn_hold_input(sh, c, data, len); /* behind what waits already */
        return;
    }
    size_t used = feed(sh, c, data, len);
    if (used < len && c->state == CONN_OPEN)
        conn_hold_input(sh, c, data + used, len - used);
}

/* waiting reports whether |c| still waits for a home's answer; it asks
 * again what a full ring held back. */
static bool waiting(struct shard *sh, struct conn *c)
{
    if (c->flags & CONN_AWAITING)
        return true;
    if (ws_of(c)->dialect)
        return false; /* a dialect keeps no resume (the union's other half) */
    return resume_retry(sh, c, &ws_of(c)->resume) && c->state == CONN_OPEN;
}

/* resume goes on with the input a pause held, then reads again. */
static void resume(struct shard *sh, struct conn *c)
{
    c->flags &= ~(CONN_BLOCKED | CONN_READ_PAUSED);
    if (c->state != CONN_OPEN)
        return;
    if (waiting(sh, c)) {
        c->flags |= CONN_READ_PAUSED;
        return;
    }
    if (c->in.len > 0 && conn_input_next(sh, c)) {
        size_t used = feed(sh, c, c->in.data, c->in.len);
        if (c->state == CONN_OPEN)
            inbuf_consume(&c->in, used);
        else
            inbuf_clear(&c->in);
    }
    if (conn_may_read(c) && c->in.len == 0)
        conn_arm_recv(sh, c);
}

static int closing_event(void *ctx, const struct ws_event *ev)
{
    struct event_ctx *e = ctx;
    if (ev->type != WS_EV_CLOSE)
        return 0;
    ws_of(e->c)->close_received = true;
    e->c->flags |= CONN_NO_LINGER;
    if (e->c->state == CONN_LINGER)
        conn_kill(e->sh, e->c); /* our close is out already: the handshake is complete */
    return 1;
}

/* on_closing_data reads what a client sends after our close frame was
 * queued, looking for its close frame only. */
static void on_closing_data(struct shard *sh, struct conn *c, uint8_t *data, size_t len)
{
    struct ws_state *ws = ws_of(c);
    if (ws->reader_failed || ws->close_received)
        return;
    const struct ws_limits limits = {sh->cfg->max_frame, sh->cfg->max_message};
    struct event_ctx ctx = {sh, c};
    if (ws_reader_feed(&ws->reader, data, len, &limits, closing_event, &ctx) < 0)
        ws->reader_failed = true;
}

/* arm_timer sets the connection's timer to its next ping, idle or token
 * deadline. */
static void arm_timer(struct shard *sh, struct conn *c)
{
    int64_t deadline = c->last_rx_ms + sh->cfg->idle_timeout_ms;
    if (c->next_beat_ms < deadline)
        deadline = c->next_beat_ms;
    if (c->expires_ms && c->expires_ms < deadline)
        deadline = c->expires_ms;
    conn_arm_timer(sh, c, deadline);
}

/* on_timer sends a ping when one is due and closes the connection (4002)
 * when the client sent nothing for --idle-timeout. */
static void on_timer(struct shard *sh, struct conn *c)
{
    static const uint8_t ping_frame[2] = {0x80 | WS_OP_PING, 0}; /* every connection's */
    if (c->expires_ms && sh->now_ms >= c->expires_ms) {
        log_debug("connection %u: token expired, closing with %d", c->slot, WS_CLOSE_TOKEN_EXPIRED);
        wsconn_close(sh, c, WS_CLOSE_TOKEN_EXPIRED, "token expired");
        return;
    }
    if (sh->now_ms - c->last_rx_ms >= (int64_t)sh->cfg->idle_timeout_ms) {
        counter_add(&sh->stats.idle_closes, 1);
        log_debug("connection %u: nothing received for %u ms, closing with %d", c->slot,
                  sh->cfg->idle_timeout_ms, WS_CLOSE_IDLE_TIMEOUT);
        wsconn_close(sh, c, own_code(c, WS_CLOSE_IDLE_TIMEOUT), "idle timeout");
        return;
    }
    if (sh->now_ms >= c->next_beat_ms) {
        if (sendq_push_static(&c->sq, ping_frame, sizeof(ping_frame)) != 0) {
            conn_kill(sh, c);
            return;
        }
        conn_mark_dirty(sh, c);
        c->next_beat_ms = sh->now_ms + sh->cfg->ping_interval_ms;
    }
    arm_timer(sh, c);
}

static void drain(struct shard *sh, struct conn *c)
{
    wsconn_close(sh, c, own_code(c, WS_CLOSE_GOING_AWAY), "server shutting down");
}

/* on_result takes a home's answer to a subscribe's or a history
 * request's question, and reads on once none is awaited. */
static void on_result(struct shard *sh, struct conn *c, struct pubreq *req)
{
    if (c->state != CONN_OPEN)
        return;
    if (resume_on_result(sh, c, &ws_of(c)->resume, req) && c->state == CONN_OPEN) {
        c->flags |= CONN_READ_PAUSED;
        conn_add_work(sh, c); /* resume() reads on */
    }
}

static int hold_event(struct conn *c, struct msg *m, uint64_t *out_held)
{
    return resume_hold(ws_of(c)->resume, m, out_held);
}

static void release(struct conn *c)
{
    ws_reader_cleanup(&ws_of(c)->reader);
    ws_inflater_free(ws_of(c)->inflater);
    ws_of(c)->inflater = NULL;
    if (ws_of(c)->dialect)
        ws_of(c)->dialect->release(ws_of(c)->dialect_state);
    else
        resume_free(ws_of(c)->resume);
    ws_of(c)->resume = NULL;
}

/* A connection that agreed permessage-deflate gets each event's shared
 * compressed frame, built once for all of them (msg_deflated), or the plain
 * frame where compressing is not worth it. */
static int queue_deflated(struct conn *c, struct lref *ref, const struct msg *m)
{
    const struct ws_state *ws = ws_of(c);
    const struct msg_frame *f = msg_deflated(m, ws->deflate_level, ws->deflate_min_size);
    if (f)
        return sendq_push_shared(&c->sq, ref, f->bytes, f->len);
    return sendq_push_shared(&c->sq, ref, m->ws_frame, m->ws_frame_len);
}

/* A connection that speaks the lambda-websocket-pubsub aliases gets what
 * that server's postToConnection sends: each event's data alone. The data
 * bytes are the shared frame's own (msg_ws_data); only the frame header,
 * a few bytes, is the connection's. */
static int queue_data(struct conn *c, struct lref *ref, const struct msg *m)
{
    size_t len = 0;
    const uint8_t *data = msg_ws_data(m, &len);
    uint8_t header[WS_MAX_HEADER];
    size_t header_len = ws_build_header(header, WS_OP_TEXT, true, len);
    if (sendq_push_copy(&c->sq, header, header_len) != 0)
        return -1;
    return sendq_push_shared(&c->sq, ref, data, (uint32_t)len);
}

/* What every WebSocket connection, native or dialect, shares: everything
 * but what fan-out queues to it, and the native protocol's history. */
#define WS_COMMON_OPS                                                                              \
    .name = "websocket", .stats_kind = STATS_WEBSOCKET, .reads_for_life = true,                    \
    .on_data = on_data, .on_closing_data = on_closing_data, .on_timer = on_timer,                  \
    .resume = resume, .drain = drain, .close_slow = wsconn_close_slow, .release = release

/* The three ways a native connection receives events share the rest. */
#define WS_CONN_OPS_COMMON WS_COMMON_OPS, .on_result = on_result, .hold_event = hold_event

const struct conn_ops ws_conn_ops = {
    WS_CONN_OPS_COMMON,
    .encoding = CONN_ENC_WS_FRAME,
};

static const struct conn_ops ws_deflate_conn_ops = {
    WS_CONN_OPS_COMMON,
    .encoding = CONN_ENC_WS_DEFLATE,
    .queue_event = queue_deflated,
};

static const struct conn_ops ws_data_conn_ops = {
    WS_CONN_OPS_COMMON,
    .encoding = CONN_ENC_WS_DATA,
    .queue_event = queue_data,
};

/* use_data_only switches the connection's delivery to data alone (plain
 * frames, deflate or not): the same kind in every other way (its state and
 * counters stay), so the table is swapped directly rather than through
 * conn_set_ops. */
static void use_data_only(struct conn *c)
{
    c->ops = &ws_data_conn_ops;
}

/* dialect_queue_event queues an event in the dialect's own encoding. */
static int dialect_queue_event(struct conn *c, struct lref *ref, const struct msg *m)
{
    return ws_of(c)->dialect->queue_event(c, ref, m);
}

/* A dialect's connection: the same but for what fan-out queues. */
static const struct conn_ops ws_dialect_conn_ops = {
    WS_COMMON_OPS,
    .encoding = CONN_ENC_OWN,
    .queue_event = dialect_queue_event,
};

void wsconn_send_text(struct shard *sh, struct conn *c, const void *text, size_t len)
{
    send_frame(sh, c, WS_OP_TEXT, text, len);
}

void *wsconn_dialect_state(struct conn *c)
{
    return ws_of(c)->dialect_state;
}

void wsconn_start_dialect(struct shard *sh, struct conn *c, const struct ws_dialect *dialect,
                          void *state, const struct ws_deflate_agreement *deflate, uint8_t *early,
                          size_t len)
{
    conn_set_ops(sh, c, &ws_dialect_conn_ops);
    ws_of(c)->dialect = dialect;
    ws_of(c)->dialect_state = state;
    wsconn_start(sh, c, false, deflate, early, len);
}

void wsconn_start(struct shard *sh, struct conn *c, bool echo,
                  const struct ws_deflate_agreement *deflate, uint8_t *early, size_t len)
{
    /* A dialect's events go as its own frames, plain; what it receives
     * compressed is inflated all the same. */
    if (c->ops != &ws_dialect_conn_ops)
        conn_set_ops(sh, c, deflate->on ? &ws_deflate_conn_ops : &ws_conn_ops);
    limits_handshake_done(sh, c);
    struct ws_state *ws = ws_of(c);
    ws_reader_init(&ws->reader);
    ws->echo = echo;
    ws->deflate = *deflate;
    ws->reader.deflate = deflate->on;
    ws->deflate_level = (uint8_t)sh->cfg->deflate_level;
    ws->deflate_min_size =
        sh->cfg->deflate_min_size > UINT32_MAX ? UINT32_MAX : (uint32_t)sh->cfg->deflate_min_size;
    c->last_rx_ms = sh->now_ms;
    c->next_beat_ms = sh->now_ms + sh->cfg->ping_interval_ms;
    arm_timer(sh, c);
    if (len > 0)
        on_data(sh, c, early, len);
}
