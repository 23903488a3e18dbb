/* pubconn.c: the binary publish protocol, server side. */
#include "conn/pubconn.h"

#include <stdio.h>
#include <string.h>

#include "pubsub/auth.h"
#include "pubsub/claims.h"
#include "core/conn.h"
#include "core/limits.h"
#include "util/log.h"
#include "pubsub/pubcheck.h"
#include "core/publish.h"
#include "core/pubreq.h"
#include "ringcast/protocol.h"
#include "core/shard.h"
#include "util/stats.h"

/* A publisher's own state (its part of struct conn). */
struct pub_state {
    uint32_t inflight; /* publishes sent to a home shard, not yet answered */
    bool hello_done;
    bool goaway_sent;
    struct tokenbucket publishes; /* --publish-rate-per-conn (zeroed: full) */
};
CONN_KIND_STATE_FITS(struct pub_state);

static struct pub_state *pub_of(struct conn *c)
{
    return (struct pub_state *)c->kind_state;
}

/* Room for everything in a PUBLISH frame besides its payload: the header,
 * the topic, three short fields, the payload length and the largest
 * audience extension record (tag, length, value). */
#define PUBLISH_OVERHEAD                                                                           \
    (RC_FRAME_HEADER_LEN + 2 + 65535 + 3 * (1 + RC_MAX_SHORT_FIELD) + 4 + 1 + 4 + RC_MAX_AUDIENCE)

enum frame_result {
    FRAME_DONE,  /* handled; go on with the next frame */
    FRAME_STOP,  /* not handled now (backpressure): keep it for later */
    FRAME_FATAL, /* the connection is closing */
};

uint32_t pubconn_max_frame(const struct shard *sh)
{
    uint64_t max = (uint64_t)sh->cfg->max_publish_bytes + PUBLISH_OVERHEAD;
    return max > UINT32_MAX ? UINT32_MAX : (uint32_t)max;
}

static void send_nack(struct shard *sh, struct conn *c, uint8_t type, uint32_t corr, uint16_t code,
                      const char *message)
{
    uint8_t frame[RC_FRAME_HEADER_LEN + 4 + 256];
    struct rc_error err = {code, message, strnlen(message, 255)};
    size_t len = rc_encode_error(frame, sizeof(frame), type, corr, &err);
    conn_send_copy(sh, c, frame, len);
}

static void send_ack(struct shard *sh, struct conn *c, uint32_t corr, uint64_t seq, uint8_t flags)
{
    uint8_t frame[RC_FRAME_HEADER_LEN + 9];
    struct rc_ack ack = {seq, flags};
    size_t len = rc_encode_ack(frame, sizeof(frame), corr, &ack);
    conn_send_copy(sh, c, frame, len);
}

static void send_result(struct shard *sh, struct conn *c, uint32_t corr,
                        const struct publish_result *r)
{
    if (r->error == 0) {
        send_ack(sh, c, corr, r->seq, r->ack_flags);
        return;
    }
    counter_add(&sh->stats.publish_errors, 1);
    send_nack(sh, c, RC_NACK, corr, (uint16_t)r->error,
              r->message ? r->message : pubreq_error_text(r->error));
}

static enum frame_result fatal(struct shard *sh, struct conn *c, uint32_t corr, uint16_t code,
                               const char *message)
{
    log_debug("publisher %u: %s: %s", c->slot, rc_error_name(code), message);
    send_nack(sh, c, RC_NACK, corr, code, message);
    conn_finish(sh, c);
    return FRAME_FATAL;
}

static enum frame_result nack(struct shard *sh, struct conn *c, uint32_t corr, uint16_t code,
                              const char *message)
{
    send_nack(sh, c, RC_NACK, corr, code, message);
    return FRAME_DONE;
}

static enum frame_result handle_hello(struct shard *sh, struct conn *c, const struct rc_frame *f)
{
    if (pub_of(c)->hello_done)
        return fatal(sh, c, f->corr, RC_ERR_NOT_READY, "HELLO was already received");
    int version = rc_hello_version(f->body, f->body_len);
    if (version < 0)
        return fatal(sh, c, f->corr, RC_ERR_UNSUPPORTED_VERSION,
                     "not the ringcast publish protocol (bad magic)");
    if (version != RC_PROTO_VERSION)
        return fatal(sh, c, f->corr, RC_ERR_UNSUPPORTED_VERSION, "this server speaks version 1");
    struct rc_hello hello;
    if (rc_decode_hello(&hello, f->body, f->body_len) != 0)
        return fatal(sh, c, f->corr, RC_ERR_BAD_FRAME, "malformed HELLO");
    if (sh->auth->enabled) {
        struct claims *claims = NULL;
        char message[300];
        if (auth_check_text(sh->auth, hello.token_len ? hello.token : NULL, hello.token_len,
                            &claims, AUTH_SEND_HELLO, message, sizeof(message)) != JWT_OK)
            return fatal(sh, c, f->corr, RC_ERR_UNAUTHORIZED, message);
        struct limits_refusal refusal;
        if (!limits_hold_subject(sh, c, claims, &refusal)) {
            claims_free(claims);
            /* Refused like a connection over --max-connections: a NACK
             * (not one of the fatal codes), then the close. */
            return fatal(sh, c, f->corr, refusal.server ? RC_ERR_OVERLOADED : RC_ERR_RATE_LIMITED,
                         refusal.message);
        }
        conn_set_claims(sh, c, claims);
    }
    struct rc_welcome welcome = {
        .version = RC_PROTO_VERSION,
        .max_frame = pubconn_max_frame(sh),
        .max_payload = sh->cfg->max_publish_bytes,
        .max_topic_len = (uint16_t)sh->cfg->max_topic_length,
        .max_inflight = sh->cfg->max_inflight,
    };
    uint8_t frame[64];
    size_t len = rc_encode_welcome(frame, sizeof(frame), f->corr, &welcome);
    conn_send_copy(sh, c, frame, len);
    pub_of(c)->hello_done = true;
    limits_handshake_done(sh, c);
    conn_cancel_timer(sh, c);
    log_debug("publisher %u: HELLO from '%.*s'", c->slot, (int)hello.client_name_len,
              hello.client_name);
    return FRAME_DONE;
}

static enum frame_result handle_publish(struct shard *sh, struct conn *c, const struct rc_frame *f)
{
    struct rc_publish p;
    if (rc_decode_publish(&p, f->body, f->body_len) != 0)
        return fatal(sh, c, f->corr, RC_ERR_BAD_FRAME, "malformed PUBLISH");
    if (sh->draining)
        return nack(sh, c, f->corr, RC_ERR_SHUTTING_DOWN, "the server is shutting down");
    if (c->expires_ms && sh->now_ms >= c->expires_ms)
        return fatal(sh, c, f->corr, RC_ERR_UNAUTHORIZED, "token expired: connect again");
    const struct publish_fields fields = {
        .topic = p.topic,
        .topic_len = p.topic_len,
        .event_type = p.event_type,
        .event_type_len = p.event_type_len,
        .msg_id = p.msg_id,
        .msg_id_len = p.msg_id_len,
        .payload_is_json = msg_content_type_is_json(p.content_type, p.content_type_len),
        .payload = p.payload,
        .payload_len = p.payload_len,
        .audience = p.audience,
        .audience_len = p.audience_len,
    };
    struct publish_result r;
    switch (publish_submit(sh, c, &pub_of(c)->publishes, f->corr, &fields, &r)) {
    case PUBLISH_ANSWERED:
        send_result(sh, c, f->corr, &r);
        return FRAME_DONE;
    case PUBLISH_SENT:
        pub_of(c)->inflight++;
        return FRAME_DONE;
    case PUBLISH_BLOCKED:
    default:
        return FRAME_STOP; /* read again once the ring has room */
    }
}

static enum frame_result handle_ping(struct shard *sh, struct conn *c, const struct rc_frame *f)
{
    const uint8_t *data;
    size_t data_len;
    if (rc_decode_ping(&data, &data_len, f->body, f->body_len) != 0)
        return fatal(sh, c, f->corr, RC_ERR_BAD_FRAME, "PING data above 64 bytes");
    uint8_t frame[RC_FRAME_HEADER_LEN + RC_MAX_PING_DATA];
    size_t len = rc_encode_ping(frame, sizeof(frame), RC_PONG, f->corr, data, data_len);
    conn_send_copy(sh, c, frame, len);
    return FRAME_DONE;
}

static enum frame_result handle_frame(struct shard *sh, struct conn *c, const struct rc_frame *f)
{
    if (f->flags != 0)
        return fatal(sh, c, f->corr, RC_ERR_BAD_FRAME, "frame flags must be 0");
    if (f->type == RC_HELLO)
        return handle_hello(sh, c, f);
    if (!pub_of(c)->hello_done)
        return fatal(sh, c, f->corr, RC_ERR_NOT_READY, "the first frame must be HELLO");
    switch (f->type) {
    case RC_PUBLISH:
        return handle_publish(sh, c, f);
    case RC_PING:
        return handle_ping(sh, c, f);
    case RC_PONG:
        return FRAME_DONE;
    default:
        return fatal(sh, c, f->corr, RC_ERR_BAD_FRAME, "unknown frame type");
    }
}

/* process handles the complete frames at the start of |buf| and returns how
 * many bytes it used. */
static size_t process(struct shard *sh, struct conn *c, const uint8_t *buf, size_t len)
{
    size_t used = 0;
    uint32_t max_frame = pubconn_max_frame(sh);
    while (c->state == CONN_OPEN && !(c->flags & CONN_BLOCKED)) {
        if (pub_of(c)->inflight >= sh->cfg->max_inflight || pub_of(c)->goaway_sent) {
            c->flags |= CONN_READ_PAUSED;
            break;
        }
        if (!conn_input_next(sh, c))
            break; /* paused: the rest waits in c->in */
        struct rc_frame f;
        long n = rc_frame_decode(&f, buf + used, len - used, max_frame);
        if (n == 0)
            break;
        if (n < 0) {
            fatal(sh, c, 0, RC_ERR_BAD_FRAME, "frame length out of range");
            break;
        }
        if (handle_frame(sh, c, &f) == FRAME_STOP)
            break;
        used += (size_t)n;
    }
    return used;
}

static void keep_input(struct shard *sh, struct conn *c, const uint8_t *data, size_t len)
{
    /* A whole frame (its length field and up to max_frame bytes) and what
     * one more receive may bring. */
    size_t limit = 4 + (size_t)pubconn_max_frame(sh) + sh->cfg->recv_buffer_size;
    if (inbuf_append(&c->in, data, len, limit) != 0)
        fatal(sh, c, 0, RC_ERR_INTERNAL, "cannot buffer input");
}

static void on_data(struct shard *sh, struct conn *c, uint8_t *data, size_t len)
{
    if (c->in.len == 0) {
        size_t used = process(sh, c, data, len);
        if (c->state == CONN_OPEN && used < len)
            keep_input(sh, c, data + used, len - used);
        return;
    }
    keep_input(sh, c, data, len);
    if (c->state == CONN_OPEN)
        inbuf_consume(&c->in, process(sh, c, c->in.data, c->in.len));
}

static void resume(struct shard *sh, struct conn *c)
{
    c->flags &= ~(CONN_BLOCKED | CONN_READ_PAUSED);
    if (c->state != CONN_OPEN)
        return;
    if (c->in.len > 0)
        inbuf_consume(&c->in, process(sh, c, c->in.data, c->in.len));
    if (conn_may_read(c))
        conn_arm_recv(sh, c);
}

static void on_result(struct shard *sh, struct conn *c, struct pubreq *req)
{
    struct pub_state *pub = pub_of(c);
    pub->inflight--;
    if (c->state != CONN_OPEN)
        return;
    const struct publish_result r = {req->error, NULL, req->seq, req->ack_flags, 0};
    send_result(sh, c, req->corr, &r);
    if (pub->goaway_sent && pub->inflight == 0)
        conn_finish(sh, c);
    else if ((c->flags & CONN_READ_PAUSED) && pub->inflight < sh->cfg->max_inflight)
        conn_add_work(sh, c);
}

static void start(struct shard *sh, struct conn *c)
{
    conn_arm_timer(sh, c, sh->now_ms + sh->cfg->handshake_timeout_ms);
}

/* on_timeout closes a connection that sent no HELLO in time. */
static void on_timeout(struct shard *sh, struct conn *c)
{
    if (!pub_of(c)->hello_done)
        fatal(sh, c, 0, RC_ERR_NOT_READY, "no HELLO within the handshake timeout");
}

/* drain tells the publisher the server is going away (GOAWAY), stops
 * reading, and closes once every outstanding publish is answered. */
static void drain(struct shard *sh, struct conn *c)
{
    struct pub_state *pub = pub_of(c);
    if (c->state != CONN_OPEN || pub->goaway_sent)
        return;
    send_nack(sh, c, RC_GOAWAY, 0, RC_ERR_SHUTTING_DOWN, "the server is shutting down");
    pub->goaway_sent = true;
    c->flags |= CONN_READ_PAUSED;
    if (pub->inflight == 0)
        conn_finish(sh, c);
}

/* write_refusal: NACK overloaded for the server's limits, rate_limited
 * for the client's. */
static size_t write_refusal(char *out, size_t cap, enum conn_refusal why)
{
    const char *message = conn_refusal_text(why);
    struct rc_error err = {conn_refusal_is_client(why) ? RC_ERR_RATE_LIMITED : RC_ERR_OVERLOADED,
                           message, strlen(message)};
    return rc_encode_error((uint8_t *)out, cap, RC_NACK, 0, &err);
}

const struct conn_ops pub_conn_ops = {
    .name = "publisher",
    .stats_kind = STATS_PUBLISHER,
    .encoding = CONN_ENC_NONE,
    .flush_first = true,
    .start = start,
    .on_data = on_data,
    .on_timer = on_timeout,
    .on_result = on_result,
    .resume = resume,
    .drain = drain,
    .write_refusal = write_refusal,
};
