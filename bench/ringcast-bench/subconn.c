/* subconn.c: one subscriber connection (see subconn.h). */
#include "subconn.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "clock.h"
#include "httpresp.h"
#include "inflate.h"
#include "natsparse.h"
#include "payload.h"
#include "rng.h"
#include "sseparse.h"
#include "subnats.h"
#include "topics.h"
#include "urlenc.h"
#include "wsparse.h"

#define MAX_FRAME (32u << 20) /* a larger server frame or SSE line is an error */
#define MAX_HEAD 16384
#define OWN_BUFFER 4096
#define OWN_MIN_ROOM 1024
#define WS_MAX_SERVER_HEADER 10
#define CLOSE_NORMAL 1000
#define CLOSE_NO_CODE 1005
#define CLOSE_SLOW_CONSUMER 4001

static const char *state_doing[] = {
    [CS_NEW] = "opening",
    [CS_CONNECTING] = "connecting",
    [CS_HANDSHAKE] = "waiting for the handshake response",
    [CS_SUBSCRIBING] = "waiting for \"subscribed\"",
    [CS_READY] = "subscribed",
    [CS_CLOSING] = "closing",
    [CS_DEAD] = "closed",
};

static bool in_setup(const struct subconn *c)
{
    return c->state >= CS_CONNECTING && c->state <= CS_SUBSCRIBING;
}

static uint32_t conn_index(const struct sub_thread *t, const struct subconn *c)
{
    return (uint32_t)(c - t->conns);
}

void subconn_fail(struct sub_thread *t, struct subconn *c, const char *fmt, ...)
{
    char why[200];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(why, sizeof(why), fmt, ap);
    va_end(ap);
    sub_note_error(t, "connection %u: %s", c->id, why);
    if (in_setup(c)) {
        t->setting_up--;
        t->res.failed++;
        atomic_store_explicit(&t->progress.failed, t->res.failed, memory_order_relaxed);
    } else if (c->state == CS_READY) {
        c->server_closed = true;
        t->res.other_closes++;
        atomic_fetch_add_explicit(&t->progress.closed, 1, memory_order_relaxed);
    }
    subconn_kill(t, c);
}

/* user_data is what a request on |c| carries: its index and the op. */
static uint64_t user_data(const struct sub_thread *t, const struct subconn *c, unsigned op)
{
    return (uint64_t)conn_index(t, c) << 8 | op;
}

/* shutdown_slot queues a shutdown of a fixed file's socket; |op| tracks
 * it (0: nobody waits for it). */
static void shutdown_slot(struct sub_thread *t, struct subconn *c, int how, unsigned op)
{
    struct io_uring_sqe *sqe = sub_get_sqe(t);

    io_uring_prep_shutdown(sqe, c->fd, how);
    sub_target(t, c, sqe);
    io_uring_sqe_set_data64(sqe, op != 0 ? user_data(t, c, op) : 0);
    c->ops |= (uint8_t)op;
}

void subconn_release(struct sub_thread *t, struct subconn *c)
{
    if (c->state != CS_DEAD || c->ops != 0)
        return;
    if (c->fixed) {
        /* The slot is never reused (one connection each), so nothing
         * waits for this close; its completion only reports errors. */
        struct io_uring_sqe *sqe = sub_get_sqe(t);
        io_uring_prep_close_direct(sqe, conn_index(t, c));
        io_uring_sqe_set_data64(sqe, user_data(t, c, OP_CLOSE_SLOT));
        c->fixed = false;
        t->live--;
    } else if (c->fd >= 0) {
        close(c->fd);
        c->fd = -1;
        t->live--;
    }
}

void subconn_kill(struct sub_thread *t, struct subconn *c)
{
    if (c->state == CS_DEAD)
        return;
    c->state = CS_DEAD;
    c->deadline_ns = 0;
    if (c->fixed && c->ops != 0) {
        /* As below; a multishot receive armed before the socket moved
         * into the table ends too: it is the same socket. */
        shutdown_slot(t, c, SHUT_RDWR, 0);
    } else if (c->fd >= 0 && c->ops != 0) {
        /* The requests in flight end with the socket: a receive returns 0,
         * the connect poll wakes up. */
        shutdown(c->fd, SHUT_RDWR);
        if (c->ops & OP_POLL) {
            struct io_uring_sqe *sqe = sub_get_sqe(t);
            io_uring_prep_poll_remove(sqe, (uint64_t)conn_index(t, c) << 8 | OP_POLL);
            io_uring_sqe_set_data64(sqe, 0);
        }
    }
    subconn_release(t, c);
}

/* send_all sends |len| bytes at once (through TLS with --tls). */
static bool send_all(struct subconn *c, const void *buf, size_t len)
{
    if (c->tls)
        return subtls_send(c->tls, buf, len);
    ssize_t n = send(c->fd, buf, len, MSG_NOSIGNAL | MSG_DONTWAIT);
    return n == (ssize_t)len;
}

/* send_fixed sends a control frame on a fixed file, from the connection's
 * buffer for its kind, which the request reads when it runs. Returns false
 * when it cannot be sent; a failure of the send itself shows in its
 * completion (subconn_on_fixed). */
static bool send_fixed(struct sub_thread *t, struct subconn *c, uint8_t opcode, const void *payload,
                       size_t len)
{
    uint8_t *frame;
    unsigned op;

    if (opcode == WSP_CLOSE && len <= SUBCONN_CLOSE_FRAME - WSP_MAX_CLIENT_HEADER) {
        if (c->ops & OP_CLOSE_SEND)
            return false; /* a connection sends one close */
        frame = c->close_frame;
        op = OP_CLOSE_SEND;
    } else if (opcode == WSP_PONG || opcode == WSP_BINARY) {
        /* A WebSocket pong, or NATS's PONG in a binary frame (the only
         * frame a NATS subscriber sends once set up). A second ping in the
         * same receive finds the first pong still in flight: that one
         * already tells the server we are alive. */
        if (c->ops & OP_PONG)
            return true;
        if (c->pong == NULL && (c->pong = malloc(WSP_MAX_CLIENT_HEADER + SUBCONN_MAX_PONG)) == NULL)
            return false;
        frame = c->pong;
        op = OP_PONG;
    } else {
        return false; /* the handshake and the subscribe went out before installing */
    }
    size_t n = wsp_client_frame(frame, opcode, payload, len, (uint32_t)rng_next(&t->rng));
    struct io_uring_sqe *sqe = sub_get_sqe(t);
    /* MSG_DONTWAIT, as send_all: the send runs when it is submitted and
     * fails rather than waits, so a connection's frames leave in order. */
    io_uring_prep_send(sqe, c->fd, frame, n, MSG_NOSIGNAL | MSG_DONTWAIT);
    sub_target(t, c, sqe);
    io_uring_sqe_set_data64(sqe, user_data(t, c, op));
    c->ops |= (uint8_t)op;
    return true;
}

/* subconn_send_ws sends one masked frame. */
bool subconn_send_ws(struct sub_thread *t, struct subconn *c, uint8_t opcode, const void *payload,
                     size_t len)
{
    uint8_t frame[WSP_MAX_CLIENT_HEADER + SUBCONN_MAX_PONG];

    if (len > SUBCONN_MAX_PONG)
        return false;
    if (c->fixed)
        return send_fixed(t, c, opcode, payload, len);
    size_t n = wsp_client_frame(frame, opcode, payload, len, (uint32_t)rng_next(&t->rng));
    return send_all(c, frame, n);
}

static bool send_close(struct sub_thread *t, struct subconn *c, unsigned code)
{
    uint8_t payload[2] = {(uint8_t)(code >> 8), (uint8_t)code};
    return subconn_send_ws(t, c, WSP_CLOSE, payload, sizeof(payload));
}

/* ws_key derives connection |id|'s Sec-WebSocket-Key from the thread's
 * random seed, so that nothing needs keeping until the response. */
static void ws_key(const struct sub_thread *t, uint32_t id, char key[WSP_KEY_LEN + 1],
                   char accept[WSP_ACCEPT_LEN + 1])
{
    uint64_t state = t->key_seed ^ ((uint64_t)id * 0x9e3779b97f4a7c15ull);
    if (state == 0)
        state = 1;
    wsp_make_key(key, accept, &state);
}

/* subconn_subscription writes what this connection subscribes to (its topic or
 * the pattern) to |out| and returns its length. */
size_t subconn_subscription(const struct sub_thread *t, const struct subconn *c,
                            char out[TOPIC_MAX_LEN + 1])
{
    const struct topics *tp = &t->cfg->topics;

    if (c->topic < 0) {
        size_t len = strlen(tp->pattern);
        memcpy(out, tp->pattern, len + 1);
        return len;
    }
    return topics_name(tp, (uint32_t)c->topic, out);
}

/* send_request sends the WebSocket upgrade or the SSE GET: to /v1/ws or
 * /v1/sse?topic=T, or for nchan to /sub/T (the channel is in the path). */
static bool send_request(struct sub_thread *t, struct subconn *c)
{
    const struct config *cfg = t->cfg;
    const char *tq = cfg->token_query ? cfg->token_query : "";
    size_t cap = 1024 + 3 * TOPIC_MAX_LEN + strlen(tq);
    char *req = malloc(cap);
    char topic[TOPIC_MAX_LEN + 1], enc[3 * TOPIC_MAX_LEN + 1];
    char path[3 * TOPIC_MAX_LEN + 64];
    int n;

    if (req == NULL)
        return false;
    size_t len = subconn_subscription(t, c, topic);
    enc[urlenc_append(enc, topic, len)] = '\0';
    if (cfg->target == TARGET_NCHAN)
        snprintf(path, sizeof(path), "/sub/%s", enc);
    else if (cfg->target == TARGET_NATS)
        snprintf(path, sizeof(path), "/"); /* the subject goes in SUB */
    else if (cfg->protocol == PROTO_WS)
        snprintf(path, sizeof(path), "/v1/ws%s%s", tq[0] ? "?" : "", tq);
    else
        snprintf(path, sizeof(path), "/v1/sse?topic=%s%s%s", enc, tq[0] ? "&" : "", tq);
    if (cfg->protocol == PROTO_WS) {
        char key[WSP_KEY_LEN + 1], accept[WSP_ACCEPT_LEN + 1];
        ws_key(t, c->id, key, accept);
        n = snprintf(req, cap,
                     "GET %s HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\n"
                     "Connection: Upgrade\r\nSec-WebSocket-Key: %s\r\n"
                     "Sec-WebSocket-Version: 13\r\nUser-Agent: " PROG "\r\n%s\r\n",
                     path, cfg->host_header, key,
                     cfg->deflate ? "Sec-WebSocket-Extensions: permessage-deflate\r\n" : "");
    } else {
        n = snprintf(req, cap,
                     "GET %s HTTP/1.1\r\nHost: %s\r\n"
                     "Accept: text/event-stream\r\nUser-Agent: " PROG "\r\n\r\n",
                     path, cfg->host_header);
    }
    bool ok = n > 0 && (size_t)n < cap && send_all(c, req, (size_t)n);
    free(req);
    return ok;
}

static void on_connected(struct sub_thread *t, struct subconn *c)
{
    if (t->tls_ctx) {
        /* The request goes once the TLS handshake is done (tls_on_data). */
        if ((c->tls = subtls_start(t->tls_ctx, c->fd, "localhost")) == NULL) {
            subconn_fail(t, c, "cannot start TLS");
            return;
        }
        c->state = CS_HANDSHAKE;
        sub_arm_recv(t, c);
        return;
    }
    if (!send_request(t, c)) {
        subconn_fail(t, c, "cannot send the %s request: %s",
                     t->cfg->protocol == PROTO_WS ? "upgrade" : "SSE", strerror(errno));
        return;
    }
    c->state = CS_HANDSHAKE;
    sub_arm_recv(t, c);
}

void subconn_open(struct sub_thread *t, struct subconn *c, uint64_t now_ns)
{
    const struct config *cfg = t->cfg;
    int one = 1;

    c->state = CS_CONNECTING;
    c->deadline_ns = now_ns + cfg->connect_timeout_ns;
    t->setting_up++;
    if (cfg->target == TARGET_NATS && !subnats_init(c)) {
        subconn_fail(t, c, "out of memory");
        return;
    }
    if (c->topic < 0 && c->many == NULL) {
        c->many = calloc(cfg->topics.count, sizeof(*c->many));
        if (c->many == NULL) {
            subconn_fail(t, c, "out of memory");
            return;
        }
    }
    c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (c->fd < 0) {
        subconn_fail(t, c, "socket: %s", strerror(errno));
        return;
    }
    t->live++;
    if (cfg->source_addrs > 0) {
        /* The port is chosen at connect(), per destination, so one
         * source address is not limited to one ephemeral port range. */
        setsockopt(c->fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof(one));
        uint32_t host = 0x7f000001u + c->id % cfg->source_addrs;
        struct sockaddr_in src = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(host)};
        if (bind(c->fd, (const struct sockaddr *)&src, sizeof(src)) != 0) {
            subconn_fail(t, c, "bind to 127.0.0.%u: %s", host & 0xff, strerror(errno));
            return;
        }
    }
    setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    if (connect(c->fd, (const struct sockaddr *)&cfg->client_sa, sizeof(cfg->client_sa)) == 0) {
        on_connected(t, c);
        return;
    }
    if (errno != EINPROGRESS) {
        subconn_fail(t, c, "connect to %s: %s", cfg->host_header, strerror(errno));
        return;
    }
    struct io_uring_sqe *sqe = sub_get_sqe(t);
    io_uring_prep_poll_add(sqe, c->fd, POLLOUT);
    io_uring_sqe_set_data64(sqe, (uint64_t)conn_index(t, c) << 8 | OP_POLL);
    c->ops |= OP_POLL;
}

void subconn_on_poll(struct sub_thread *t, struct subconn *c, int res, uint64_t now_ns)
{
    int err = 0;
    socklen_t len = sizeof(err);

    (void)now_ns;
    c->ops &= (uint8_t)~OP_POLL;
    if (c->state != CS_CONNECTING) {
        subconn_release(t, c);
        return;
    }
    if (res < 0)
        err = -res;
    else if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0)
        err = errno;
    if (err != 0) {
        subconn_fail(t, c, "connect to %s: %s", t->cfg->host_header, strerror(err));
        return;
    }
    on_connected(t, c);
}

/* install_fixed moves the socket of a connection that is set up into its
 * slot of the ring's file table and closes its descriptor (subconn.h). */
static bool install_fixed(struct sub_thread *t, struct subconn *c)
{
    int ret = io_uring_register_files_update(&t->ring, conn_index(t, c), &c->fd, 1);

    if (ret != 1) {
        subconn_fail(t, c, "cannot install its socket in the io_uring file table: %s",
                     strerror(ret < 0 ? -ret : EIO));
        return false;
    }
    close(c->fd);
    c->fd = -1;
    c->fixed = true;
    return true;
}

/* subconn_become_ready makes a connection READY; false when it failed instead. */
bool subconn_become_ready(struct sub_thread *t, struct subconn *c, uint64_t now_ns)
{
    if (t->cfg->fixed_files && !install_fixed(t, c))
        return false;
    c->state = CS_READY;
    c->was_ready = true;
    c->deadline_ns = 0;
    t->setting_up--;
    t->res.ready++;
    t->res.setup_end_ns = now_ns;
    atomic_store_explicit(&t->progress.ready, t->res.ready, memory_order_relaxed);
    return true;
}

/* send_subscribe sends {"type":"subscribe","topics":["..."]}. */
static bool send_subscribe(struct sub_thread *t, struct subconn *c)
{
    char topic[TOPIC_MAX_LEN + 1], msg[TOPIC_MAX_LEN + 64];
    size_t len = subconn_subscription(t, c, topic);
    int n = snprintf(msg, sizeof(msg), "{\"type\":\"subscribe\",\"topics\":[\"%.*s\"]}", (int)len,
                     topic);

    return subconn_send_ws(t, c, WSP_TEXT, msg, (size_t)n);
}

/* handshake_done checks the response head; |p| holds |len| bytes, the
 * head is the first |head| of them. */
static bool handshake_done(struct sub_thread *t, struct subconn *c, const uint8_t *p, size_t head,
                           size_t len, uint64_t now_ns)
{
    char err[160];
    const char *h = (const char *)p;
    bool ws = t->cfg->protocol == PROTO_WS;

    if (ws) {
        char key[WSP_KEY_LEN + 1], accept[WSP_ACCEPT_LEN + 1];
        ws_key(t, c->id, key, accept);
        if (wsp_check_response(h, head, accept, err, sizeof(err)) < 0) {
            size_t body = len - head < 100 ? len - head : 100;
            subconn_fail(t, c, "%s %.*s", err, (int)body, h + head);
            return false;
        }
        if (t->cfg->target == TARGET_NCHAN)
            return subconn_become_ready(t, c, now_ns); /* the channel is in the URL */
        if (t->cfg->target == TARGET_NATS) {
            c->state = CS_SUBSCRIBING; /* SUB goes out once INFO is in (subnats.c) */
            return true;
        }
        if (!send_subscribe(t, c)) {
            subconn_fail(t, c, "cannot send the subscribe message: %s", strerror(errno));
            return false;
        }
        c->state = CS_SUBSCRIBING;
        return true;
    }
    if (ssep_check_response(h, head, err, sizeof(err)) < 0) {
        size_t body = len - head < 100 ? len - head : 100;
        subconn_fail(t, c, "%s %.*s", err, (int)body, h + head);
        return false;
    }
    return subconn_become_ready(t, c, now_ns); /* the server subscribes before it answers */
}

/* subconn_on_event checks one event and times it. */
void subconn_on_event(struct sub_thread *t, struct subconn *c, const uint8_t *json, size_t len,
                      uint64_t now_ns)
{
    struct event_fields ev;
    struct stream *s;

    int64_t k;

    if (c->state != CS_READY)
        return;
    if (t->cfg->target != TARGET_RINGCAST) {
        /* The raw payload (nchan, NATS): the topic is the connection's (no
         * patterns), the seq the publisher's "s". */
        if (payload_parse_raw(json, len, &ev) < 0) {
            t->res.unparsed++;
            return;
        }
        k = c->topic;
    } else {
        if (payload_parse_event(json, len, &ev) < 0) {
            t->res.unparsed++;
            return;
        }
        k = topics_index(&t->cfg->topics, ev.topic, ev.topic_len);
        if (k < 0) {
            t->res.foreign++;
            return;
        }
        if (c->topic >= 0 ? k != c->topic : !t->pattern_topics[k]) {
            t->res.misrouted++;
            return;
        }
    }
    s = c->topic >= 0 ? &c->one : &c->many[k];
    stream_check(s, ev.seq, &t->res.counts);
    t->res.deliveries++;
    if (!ev.has_payload) {
        if (ev.truncated)
            t->res.truncated++;
        else
            t->res.unparsed++;
    }
    if (now_ns >= t->win_start && now_ns < t->win_end) {
        t->res.deliveries_win++;
        if (ev.has_payload)
            hist_record(t->res.latency, now_ns > ev.t_ns ? now_ns - ev.t_ns : 0);
    }
}

/* on_reply handles a JSON reply ({"type":...}) to our subscribe. */
static bool on_reply(struct sub_thread *t, struct subconn *c, const uint8_t *json, size_t len,
                     uint64_t now_ns)
{
    static const char subscribed[] = "{\"type\":\"subscribed\"";
    static const char error[] = "{\"type\":\"error\"";

    if (len >= sizeof(subscribed) - 1 && memcmp(json, subscribed, sizeof(subscribed) - 1) == 0)
        return c->state != CS_SUBSCRIBING || subconn_become_ready(t, c, now_ns);
    if (len >= sizeof(error) - 1 && memcmp(json, error, sizeof(error) - 1) == 0) {
        subconn_fail(t, c, "subscribe refused: %.*s", (int)(len < 160 ? len : 160), json);
        return false;
    }
    return true; /* pong, or a reply this version does not know */
}

/* on_close handles a close frame from the server. */
static bool on_close(struct sub_thread *t, struct subconn *c, const struct wsp_frame *f,
                     uint64_t now_ns)
{
    unsigned code = f->len >= 2 ? (unsigned)f->payload[0] << 8 | f->payload[1] : CLOSE_NO_CODE;
    int reason_len = f->len > 2 ? (int)(f->len - 2 < 100 ? f->len - 2 : 100) : 0;
    const char *reason = f->len > 2 ? (const char *)f->payload + 2 : "";

    if (c->state == CS_CLOSING)
        return true; /* the answer to our close: the server closes TCP next */
    if (c->state != CS_READY) {
        subconn_fail(t, c, "the server closed the connection while %s (code %u %.*s)",
                     state_doing[c->state], code, reason_len, reason);
        return false;
    }
    c->server_closed = true;
    t->res.last_close_code = code;
    if (code == CLOSE_SLOW_CONSUMER)
        t->res.slow_closes++;
    else
        t->res.other_closes++;
    atomic_fetch_add_explicit(&t->progress.closed, 1, memory_order_relaxed);
    sub_note_error(t, "connection %u: closed by the server with code %u %.*s", c->id, code,
                   reason_len, reason);
    send_close(t, c, code == CLOSE_NO_CODE ? CLOSE_NORMAL : code);
    c->state = CS_CLOSING;
    c->deadline_ns = now_ns + t->cfg->close_timeout_ns;
    return true;
}

/* inflate_frame replaces a compressed message's payload by its inflated
 * bytes (--deflate); false when the connection failed. */
static bool inflate_frame(struct sub_thread *t, struct subconn *c, struct wsp_frame *f)
{
    if (!t->cfg->deflate || f->opcode != WSP_TEXT) {
        subconn_fail(t, c, "a compressed frame (RSV1) without --deflate, or not text");
        return false;
    }
    size_t len = 0;
    const uint8_t *plain = inflater_run(&t->inflater, f->payload, f->len, MAX_FRAME, &len);
    if (plain == NULL) {
        subconn_fail(t, c, "a compressed message that does not inflate");
        return false;
    }
    f->payload = plain;
    f->len = len;
    f->compressed = false;
    return true;
}

/* on_frame handles one server frame; false when the connection ended. */
static bool on_frame(struct sub_thread *t, struct subconn *c, const struct wsp_frame *f,
                     uint64_t now_ns)
{
    static const char reply[] = "{\"type\":\"";

    if (t->cfg->target == TARGET_NATS && f->opcode <= WSP_BINARY)
        return subnats_on_bytes(t, c, f->payload, f->len, now_ns); /* a byte stream */
    switch (f->opcode) {
    case WSP_BINARY:
        if (t->cfg->target != TARGET_NCHAN) {
            subconn_fail(t, c, "an unexpected frame (opcode %u)", f->opcode);
            return false;
        }
        __attribute__((fallthrough)); /* nchan may send a payload as binary */
    case WSP_TEXT:
        if (!f->fin) {
            subconn_fail(t, c, "a fragmented message (ringcast and nchan send whole ones)");
            return false;
        }
        /* Events start {"event_type", replies {"type": tell them apart
         * by one byte before comparing more. */
        if (t->cfg->target != TARGET_NCHAN && f->len >= sizeof(reply) - 1 && f->payload[2] == 't' &&
            memcmp(f->payload, reply, sizeof(reply) - 1) == 0)
            return on_reply(t, c, f->payload, f->len, now_ns);
        subconn_on_event(t, c, f->payload, f->len, now_ns);
        return true;
    case WSP_PING:
        subconn_send_ws(t, c, WSP_PONG, f->payload, f->len);
        return true;
    case WSP_PONG:
        return true;
    case WSP_CLOSE:
        return on_close(t, c, f, now_ns);
    default:
        subconn_fail(t, c, "an unexpected frame (opcode %u)", f->opcode);
        return false;
    }
}

/* ws_frames handles the complete frames in |p|; returns the bytes they
 * take, or -1 when the connection ended. */
static long ws_frames(struct sub_thread *t, struct subconn *c, const uint8_t *p, size_t len,
                      uint64_t now_ns)
{
    size_t pos = 0;

    while (pos < len) {
        struct wsp_frame f;
        long r = wsp_parse_frame(p + pos, len - pos, MAX_FRAME, &f);
        if (r == 0)
            break;
        if (r < 0) {
            subconn_fail(t, c, "an invalid frame from the server");
            return -1;
        }
        pos += (size_t)r;
        if (f.compressed && !inflate_frame(t, c, &f))
            return -1;
        if (!on_frame(t, c, &f, now_ns))
            return -1;
    }
    return (long)pos;
}

/* sse_lines handles the complete lines in |p|, like ws_frames. */
static long sse_lines(struct sub_thread *t, struct subconn *c, const uint8_t *p, size_t len,
                      uint64_t now_ns)
{
    size_t pos = 0;

    while (pos < len) {
        struct ssep_line line;
        size_t n = ssep_next_line(p + pos, len - pos, &line);
        if (n == 0) {
            if (len - pos > MAX_FRAME) {
                subconn_fail(t, c, "an event-stream line over %u bytes", MAX_FRAME);
                return -1;
            }
            break;
        }
        pos += n;
        if (line.kind == SSEP_DATA)
            subconn_on_event(t, c, line.value, line.len, now_ns);
    }
    return (long)pos;
}

/* parse handles what |p| holds: the response head, then frames or lines.
 * Returns the bytes used (the rest is an incomplete frame or line), or -1
 * when the connection ended. */
static long parse(struct sub_thread *t, struct subconn *c, const uint8_t *p, size_t len,
                  uint64_t now_ns)
{
    size_t pos = 0;

    if (c->state == CS_HANDSHAKE) {
        size_t head = httpresp_head_len((const char *)p, len);
        if (head == 0) {
            if (len > MAX_HEAD) {
                subconn_fail(t, c, "a response head over %d bytes", MAX_HEAD);
                return -1;
            }
            return 0;
        }
        if (!handshake_done(t, c, p, head, len, now_ns))
            return -1;
        pos = head;
    }
    if (c->state == CS_DEAD)
        return -1;
    long r = t->cfg->protocol == PROTO_WS ? ws_frames(t, c, p + pos, len - pos, now_ns)
                                          : sse_lines(t, c, p + pos, len - pos, now_ns);
    return r < 0 ? -1 : (long)pos + r;
}

/* partial_append copies |len| bytes after the partial frame. */
static bool partial_append(struct subconn *c, const uint8_t *data, size_t len)
{
    size_t need = (size_t)c->partial_len + len;

    if (need > MAX_FRAME + MAX_HEAD)
        return false;
    if (need > c->partial_cap) {
        size_t cap = c->partial_cap ? c->partial_cap : 256;
        while (cap < need)
            cap *= 2;
        uint8_t *p = realloc(c->partial, cap);
        if (p == NULL)
            return false;
        c->partial = p;
        c->partial_cap = (uint32_t)cap;
    }
    memcpy(c->partial + c->partial_len, data, len);
    c->partial_len += (uint32_t)len;
    return true;
}

static void partial_consume(struct subconn *c, size_t used)
{
    memmove(c->partial, c->partial + used, c->partial_len - used);
    c->partial_len -= (uint32_t)used;
}

/* stitch_length returns how many of the |len| new bytes to append to the
 * partial frame or line so that it can complete: the rest of the frame,
 * the rest of its header, or up to the end of the line. */
static size_t stitch_length(const struct sub_thread *t, const struct subconn *c,
                            const uint8_t *data, size_t len)
{
    size_t want = len;

    if (c->state == CS_HANDSHAKE) {
        want = len;
    } else if (t->cfg->protocol == PROTO_SSE) {
        const uint8_t *nl = memchr(data, '\n', len);
        want = nl ? (size_t)(nl - data) + 1 : len;
    } else {
        long total = wsp_frame_length(c->partial, c->partial_len, MAX_FRAME);
        if (total > 0)
            want = (size_t)total - c->partial_len;
        else if (total == 0)
            want = WS_MAX_SERVER_HEADER - c->partial_len;
    }
    return want < len ? want : len;
}

static void plain_on_data(struct sub_thread *t, struct subconn *c, const uint8_t *data, size_t len,
                          uint64_t now_ns);

/* tls_on_data takes ciphertext: the handshake (then the request), then
 * records, whose plaintext goes where a plaintext connection's bytes go. */
static void tls_on_data(struct sub_thread *t, struct subconn *c, const uint8_t *data, size_t len,
                        uint64_t now_ns)
{
    static _Thread_local uint8_t plain[16384];

    if (!subtls_feed(c->tls, data, len)) {
        subconn_fail(t, c, "out of memory for TLS");
        return;
    }
    if (!c->tls_established) {
        int r = subtls_handshake(c->tls);
        if (r < 0) {
            subconn_fail(t, c, "the TLS handshake failed");
            return;
        }
        if (r == 0)
            return;
        c->tls_established = true;
        if (subtls_resumed(c->tls))
            t->res.tls_resumed++;
        if (!send_request(t, c)) {
            subconn_fail(t, c, "cannot send the request over TLS");
            return;
        }
    }
    while (c->state != CS_DEAD) {
        long n = subtls_read(c->tls, plain, sizeof(plain));
        if (n == 0)
            return;
        if (n < 0) {
            subconn_on_eof(t, c, 0);
            return;
        }
        plain_on_data(t, c, plain, (size_t)n, now_ns);
    }
}

void subconn_on_data(struct sub_thread *t, struct subconn *c, const uint8_t *data, size_t len,
                     uint64_t now_ns)
{
    if (c->tls)
        tls_on_data(t, c, data, len, now_ns);
    else
        plain_on_data(t, c, data, len, now_ns);
}

static void plain_on_data(struct sub_thread *t, struct subconn *c, const uint8_t *data, size_t len,
                          uint64_t now_ns)
{
    while (len > 0 && c->partial_len > 0) {
        size_t take = stitch_length(t, c, data, len);
        if (!partial_append(c, data, take)) {
            subconn_fail(t, c, "out of memory for a frame");
            return;
        }
        data += take;
        len -= take;
        long used = parse(t, c, c->partial, c->partial_len, now_ns);
        if (used < 0)
            return;
        partial_consume(c, (size_t)used);
    }
    if (len == 0)
        return;
    long used = parse(t, c, data, len, now_ns);
    if (used < 0)
        return;
    if ((size_t)used < len && !partial_append(c, data + used, len - (size_t)used))
        subconn_fail(t, c, "out of memory for a frame");
}

void subconn_on_own_data(struct sub_thread *t, struct subconn *c, size_t len, uint64_t now_ns)
{
    c->partial_len += (uint32_t)len;
    long used = parse(t, c, c->partial, c->partial_len, now_ns);
    if (used >= 0)
        partial_consume(c, (size_t)used);
}

uint8_t *subconn_own_buffer(struct subconn *c, size_t *out_len)
{
    if (c->partial_cap - c->partial_len < OWN_MIN_ROOM) {
        size_t cap = c->partial_cap ? (size_t)c->partial_cap * 2 : OWN_BUFFER;
        if (cap > MAX_FRAME + MAX_HEAD)
            return NULL;
        uint8_t *p = realloc(c->partial, cap);
        if (p == NULL)
            return NULL;
        c->partial = p;
        c->partial_cap = (uint32_t)cap;
    }
    *out_len = c->partial_cap - c->partial_len;
    return c->partial + c->partial_len;
}

bool subconn_wants_recv(const struct subconn *c)
{
    return c->state >= CS_HANDSHAKE && c->state <= CS_CLOSING && !(c->ops & OP_RECV);
}

void subconn_on_eof(struct sub_thread *t, struct subconn *c, int res)
{
    const char *why = res == 0 ? "end of stream" : strerror(-res);

    if (c->state == CS_CLOSING) {
        subconn_kill(t, c); /* the server's side of a clean close */
    } else if (in_setup(c)) {
        subconn_fail(t, c, "the server closed the connection while %s (%s)", state_doing[c->state],
                     why);
    } else if (c->state == CS_READY) {
        subconn_fail(t, c, "the server closed the connection (%s)", why);
    }
}

void subconn_on_fixed(struct sub_thread *t, struct subconn *c, unsigned op, int res)
{
    if (op == OP_CLOSE_SLOT) {
        if (res < 0)
            sub_note_error(t, "connection %u: closing its file table slot: %s", c->id,
                           strerror(-res));
        return;
    }
    c->ops &= (uint8_t)~op;
    /* As with a synchronous send: a close we started that cannot go out is
     * an unclean close; a failed pong, or a failed answer to the server's
     * close, is not judged. */
    if (op == OP_CLOSE_SEND && res < 0 && c->state == CS_CLOSING && !c->server_closed) {
        t->res.unclean_closes++;
        subconn_kill(t, c);
    }
    subconn_release(t, c);
}

/* half_close shuts our side of an SSE stream down. */
static bool half_close(struct sub_thread *t, struct subconn *c)
{
    if (!c->fixed)
        return shutdown(c->fd, SHUT_WR) == 0;
    shutdown_slot(t, c, SHUT_WR, OP_CLOSE_SEND);
    return true;
}

void subconn_begin_close(struct sub_thread *t, struct subconn *c, uint64_t now_ns)
{
    if (c->state != CS_READY)
        return;
    bool sent = t->cfg->protocol == PROTO_WS ? send_close(t, c, CLOSE_NORMAL) : half_close(t, c);
    c->state = CS_CLOSING;
    c->deadline_ns = now_ns + t->cfg->close_timeout_ns;
    if (!sent) {
        t->res.unclean_closes++;
        subconn_kill(t, c);
    }
}

void subconn_check_deadline(struct sub_thread *t, struct subconn *c, uint64_t now_ns)
{
    if (c->deadline_ns == 0 || now_ns < c->deadline_ns)
        return;
    if (in_setup(c)) {
        subconn_fail(t, c, "timed out %s", state_doing[c->state]);
    } else if (c->state == CS_CLOSING) {
        t->res.unclean_closes++;
        subconn_kill(t, c);
    }
}

bool subconn_drained(const struct sub_thread *t, const struct subconn *c)
{
    const struct topic_range *pub = t->ctl->published;

    if (c->state != CS_READY)
        return true;
    if (c->topic >= 0)
        return pub[c->topic].first == 0 || stream_complete(&c->one, pub[c->topic].last);
    for (uint32_t k = 0; k < t->cfg->topics.count; k++)
        if (t->pattern_topics[k] && pub[k].first != 0 && !stream_complete(&c->many[k], pub[k].last))
            return false;
    return true;
}

void subconn_account(struct sub_thread *t, const struct subconn *c)
{
    const struct topic_range *pub = t->ctl->published;
    struct stream_counts *counts = c->server_closed ? &t->res.after_close : &t->res.counts;

    if (!c->was_ready || pub == NULL)
        return;
    if (c->topic >= 0) {
        t->res.expected += stream_finish(&c->one, pub[c->topic].first, pub[c->topic].last, counts);
        return;
    }
    for (uint32_t k = 0; k < t->cfg->topics.count; k++)
        if (t->pattern_topics[k])
            t->res.expected += stream_finish(&c->many[k], pub[k].first, pub[k].last, counts);
}

void subconn_free(struct subconn *c)
{
    subtls_free(c->tls);
    c->tls = NULL;
    if (c->nats != NULL)
        natsp_free(c->nats);
    free(c->nats);
    c->nats = NULL;
    free(c->partial);
    free(c->many);
    free(c->pong);
    c->partial = NULL;
    c->many = NULL;
    c->pong = NULL;
}
