/* client.c: a small blocking client for the publish protocol
 * (include/ringcast/client.h, docs/protocol/publish.md).
 *
 * The socket is non-blocking and every wait is a poll() with the caller's
 * timeout, so nothing here can hang forever. Frames are queued in a growable
 * write buffer and written by rc_client_flush; replies are read into a fixed
 * read buffer and decoded one at a time.
 *
 * Pipelining deadlock: a publisher that writes a long queue while the server
 * (having read max_inflight requests ahead) waits for its replies to drain
 * would block forever once both socket buffers are full. So while flushing,
 * the client also reads whatever replies arrive into its read buffer. */
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "ringcast/client.h"
#include "ringcast/tls.h"

#define DEFAULT_SERVER "127.0.0.1:7070"
#define DEFAULT_PORT "7070"
#define DEFAULT_TIMEOUT_MS 10000
#define FLUSH_THRESHOLD (256 * 1024) /* queued bytes that trigger a flush */
#define WBUF_KEEP (1024 * 1024)      /* a larger write buffer is freed once empty */
#define RBUF_CAP (64 * 1024)
/* The largest frame a v1 server sends is a NACK with a 1024-byte message;
 * anything much larger is not our protocol. */
#define RECV_MAX_FRAME 16384

struct rc_client {
    int fd;
    struct rc_tls_ctx *tls_ctx; /* with TLS */
    struct rc_tls *tls;
    int timeout_ms;
    uint32_t next_corr;
    struct rc_welcome limits;
    char server[256]; /* for messages */

    uint8_t *wbuf; /* queued frames: [wpos, wlen) not yet written */
    size_t wpos, wlen, wcap;
    uint8_t *rbuf; /* received bytes: [rpos, rlen) not yet decoded */
    size_t rpos, rlen;

    int eof;         /* the server closed its side */
    int write_error; /* writing failed: the queue was dropped, reading goes on */
    int broken;      /* unusable: protocol error or read error */
    uint16_t goaway_code;
    int got_goaway;
    char goaway_msg[128];
    char err[RC_MAX_ERROR_MESSAGE + 256];
};

static void set_err(struct rc_client *c, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void set_err(struct rc_client *c, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(c->err, sizeof(c->err), fmt, ap);
    va_end(ap);
}

static int64_t now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* wait_fd polls |fd| for |events| until |deadline| (ms, CLOCK_MONOTONIC).
 * Returns the revents, 0 on timeout, -1 (errno set) on error. */
static int wait_fd(int fd, short events, int64_t deadline)
{
    for (;;) {
        struct pollfd pfd = {.fd = fd, .events = events};
        int64_t left = deadline - now_ms();
        if (left < 0)
            left = 0;
        int r = poll(&pfd, 1, left > 60000 ? 60000 : (int)left);
        if (r > 0)
            return pfd.revents;
        if (r < 0 && errno != EINTR)
            return -1;
        if (r == 0 && now_ms() >= deadline)
            return 0;
    }
}

/* split_server parses "HOST:PORT", "[V6ADDR]:PORT", "HOST" (port 7070) or
 * ":PORT" (host 127.0.0.1). Returns 0 or -1. */
static int split_server(const char *server, char *host, size_t host_len, char *port,
                        size_t port_len)
{
    const char *h = server, *p = NULL;
    size_t hl;

    if (server[0] == '[') {
        const char *end = strchr(server, ']');
        if (end == NULL || (end[1] != '\0' && end[1] != ':'))
            return -1;
        h = server + 1;
        hl = (size_t)(end - h);
        p = end[1] == ':' ? end + 2 : NULL;
    } else {
        const char *colon = strrchr(server, ':');
        if (colon != NULL && strchr(server, ':') != colon)
            return -1; /* a bare IPv6 address: needs brackets */
        hl = colon != NULL ? (size_t)(colon - server) : strlen(server);
        p = colon != NULL ? colon + 1 : NULL;
    }
    if (hl == 0) {
        h = "127.0.0.1";
        hl = strlen(h);
    }
    if (p == NULL)
        p = DEFAULT_PORT;
    if (hl >= host_len || *p == '\0' || strlen(p) >= port_len)
        return -1;
    memcpy(host, h, hl);
    host[hl] = '\0';
    strcpy(port, p);
    return 0;
}

/* connect_one connects a non-blocking socket to |ai| by |deadline|. Returns
 * the socket, or -1 with errno set. */
static int connect_one(const struct addrinfo *ai, int64_t deadline)
{
    int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, ai->ai_protocol);
    int soerr = 0, r, saved;
    socklen_t len = sizeof(soerr);

    if (fd < 0)
        return -1;
    if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0)
        return fd;
    if (errno != EINPROGRESS)
        goto fail;
    r = wait_fd(fd, POLLOUT, deadline);
    if (r == 0) {
        errno = ETIMEDOUT;
        goto fail;
    }
    if (r < 0)
        goto fail;
    if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &len) < 0)
        goto fail;
    if (soerr != 0) {
        errno = soerr;
        goto fail;
    }
    return fd;
fail:
    saved = errno;
    close(fd);
    errno = saved;
    return -1;
}

static int connect_server(struct rc_client *c, const char *server, int64_t deadline)
{
    char host[256], port[32];
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM};
    struct addrinfo *res, *ai;
    int fd = -1, saved = ECONNREFUSED, one = 1;

    if (split_server(server, host, sizeof(host), port, sizeof(port)) < 0) {
        set_err(c, "bad server address \"%s\": expected HOST:PORT or [IPV6]:PORT", server);
        return -1;
    }
    int r = getaddrinfo(host, port, &hints, &res);
    if (r != 0) {
        set_err(c, "cannot resolve %s: %s", server,
                r == EAI_SYSTEM ? strerror(errno) : gai_strerror(r));
        return -1;
    }
    for (ai = res; ai != NULL && fd < 0; ai = ai->ai_next) {
        fd = connect_one(ai, deadline);
        if (fd < 0)
            saved = errno;
    }
    freeaddrinfo(res);
    if (fd < 0) {
        set_err(c, "cannot connect to %s: %s", server,
                saved == ETIMEDOUT ? "timed out" : strerror(saved));
        return -1;
    }
    /* Small frames must not wait for Nagle: a pipelining client flushes
     * whole batches itself. */
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    c->fd = fd;
    return 0;
}

/* transport_recv and transport_send: the socket's recv and send, or
 * TLS over it, with the same results (-1 and errno EAGAIN: not now). */
static ssize_t transport_recv(struct rc_client *c, void *buf, size_t len)
{
    return c->tls ? rc_tls_recv(c->tls, buf, len) : recv(c->fd, buf, len, MSG_DONTWAIT);
}

static ssize_t transport_send(struct rc_client *c, const void *buf, size_t len)
{
    return c->tls ? rc_tls_send(c->tls, buf, len)
                  : send(c->fd, buf, len, MSG_NOSIGNAL | MSG_DONTWAIT);
}

/* transport_error says why the last transport call failed. */
static const char *transport_error(const struct rc_client *c)
{
    return c->tls && errno == EIO ? rc_tls_error(c->tls) : strerror(errno);
}

/* start_tls runs the TLS handshake on the connected socket, checking the
 * certificate against |server|'s host name. */
static int start_tls(struct rc_client *c, const struct rc_client_options *opts, const char *server)
{
    char host[256], port[32], err[320];
    struct rc_tls_ctx_options tls_opts = {.ca_file = opts->ca_file};
    if (split_server(server, host, sizeof(host), port, sizeof(port)) < 0)
        return -1; /* connect_server said why */
    c->tls_ctx = rc_tls_ctx_new(&tls_opts, err, sizeof(err));
    if (!c->tls_ctx ||
        rc_tls_connect(&c->tls, c->tls_ctx, c->fd, host, c->timeout_ms, err, sizeof(err)) != 0) {
        set_err(c, "TLS with %s: %s", server, err);
        return -1;
    }
    return 0;
}

/* read_some moves what the socket has into the read buffer without
 * blocking. Returns the bytes read, 0 when nothing is available or the
 * buffer is full, -1 on error (c->broken); sets c->eof on end of stream. */
static long read_some(struct rc_client *c)
{
    if (c->rpos > 0) {
        memmove(c->rbuf, c->rbuf + c->rpos, c->rlen - c->rpos);
        c->rlen -= c->rpos;
        c->rpos = 0;
    }
    if (c->rlen == RBUF_CAP || c->eof)
        return 0;
    for (;;) {
        ssize_t n = transport_recv(c, c->rbuf + c->rlen, RBUF_CAP - c->rlen);
        if (n > 0) {
            c->rlen += (size_t)n;
            return n;
        }
        if (n == 0) {
            c->eof = 1;
            return 0;
        }
        if (errno == EINTR)
            continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK)
            return 0;
        set_err(c, "reading from %s: %s", c->server, transport_error(c));
        c->broken = 1;
        return -1;
    }
}

static int flush_queue(struct rc_client *c)
{
    if (c->broken)
        return -1;
    if (c->write_error)
        return -1;
    while (c->wpos < c->wlen) {
        ssize_t n = transport_send(c, c->wbuf + c->wpos, c->wlen - c->wpos);
        if (n > 0) {
            c->wpos += (size_t)n;
            continue;
        }
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK) {
            /* Keep reading: the server may have said why it closed (a
             * fatal NACK) before the write failed. */
            set_err(c, "writing to %s: %s", c->server, transport_error(c));
            c->write_error = 1;
            c->wpos = c->wlen = 0;
            return -1;
        }
        /* The socket buffer is full. Wait for room, and take in replies
         * meanwhile (see the top of this file). */
        short events = POLLOUT;
        if (c->rlen - c->rpos < RBUF_CAP && !c->eof)
            events |= POLLIN;
        int r = wait_fd(c->fd, events, now_ms() + c->timeout_ms);
        if (r == 0) {
            set_err(c, "timed out after %d ms writing to %s", c->timeout_ms, c->server);
            c->broken = 1; /* a partly written frame cannot be taken back */
            return -1;
        }
        if (r < 0) {
            set_err(c, "poll: %s", strerror(errno));
            c->broken = 1;
            return -1;
        }
        if ((r & (POLLIN | POLLHUP | POLLERR)) && (events & POLLIN) && read_some(c) < 0)
            return -1;
    }
    c->wpos = c->wlen = 0;
    if (c->wcap > WBUF_KEEP) {
        free(c->wbuf);
        c->wbuf = NULL;
        c->wcap = 0;
    }
    return 0;
}

/* reserve makes room for |n| more queued bytes. Returns a pointer to them,
 * or NULL (c->err set). */
static uint8_t *reserve(struct rc_client *c, size_t n)
{
    if (c->wcap - c->wlen < n) {
        size_t cap = c->wcap ? c->wcap : 4096;
        while (cap - c->wlen < n) {
            if (cap > SIZE_MAX / 2) {
                set_err(c, "out of memory");
                return NULL;
            }
            cap *= 2;
        }
        uint8_t *p = realloc(c->wbuf, cap);
        if (p == NULL) {
            set_err(c, "out of memory");
            return NULL;
        }
        c->wbuf = p;
        c->wcap = cap;
    }
    return c->wbuf + c->wlen;
}

static uint32_t take_corr(struct rc_client *c)
{
    uint32_t corr = c->next_corr++;

    if (c->next_corr == 0) /* 0 is for frames that answer no request */
        c->next_corr = 1;
    return corr;
}

/* next_frame waits until |deadline| for a whole frame. Returns 0 with the
 * frame in |f| (pointing into the read buffer, valid until the next read),
 * or -1 (c->err set). |what| names what is awaited, for the timeout
 * message. */
static int next_frame(struct rc_client *c, struct rc_frame *f, int64_t deadline, const char *what)
{
    for (;;) {
        long n = rc_frame_decode(f, c->rbuf + c->rpos, c->rlen - c->rpos, RECV_MAX_FRAME);
        if (n > 0) {
            c->rpos += (size_t)n;
            if (f->flags != 0) {
                set_err(c, "malformed frame from %s: flags 0x%02x", c->server, f->flags);
                c->broken = 1;
                return -1;
            }
            return 0;
        }
        if (n < 0) {
            set_err(c, "malformed frame from %s (is it a ringcast publish port?)", c->server);
            c->broken = 1;
            return -1;
        }
        if (c->broken)
            return -1;
        if (c->eof) {
            if (c->got_goaway)
                set_err(c, "connection closed by %s after GOAWAY (%s: %s)", c->server,
                        rc_error_name(c->goaway_code), c->goaway_msg);
            else
                set_err(c, "connection closed by %s", c->server);
            c->broken = 1;
            return -1;
        }
        if (c->rlen - c->rpos == RBUF_CAP) { /* cannot happen: RECV_MAX_FRAME < RBUF_CAP */
            set_err(c, "frame from %s too large", c->server);
            c->broken = 1;
            return -1;
        }
        /* Plaintext already inside TLS is not for poll() to see. */
        int r = c->tls && rc_tls_pending(c->tls) ? POLLIN : wait_fd(c->fd, POLLIN, deadline);
        if (r == 0) {
            set_err(c, "timed out after %d ms waiting for %s from %s", c->timeout_ms, what,
                    c->server);
            return -1;
        }
        if (r < 0) {
            set_err(c, "poll: %s", strerror(errno));
            c->broken = 1;
            return -1;
        }
        if (read_some(c) < 0)
            return -1;
    }
}

/* answer_ping queues and sends a PONG for a PING from the server. */
static int answer_ping(struct rc_client *c, const struct rc_frame *f)
{
    const uint8_t *data;
    size_t len;

    if (rc_decode_ping(&data, &len, f->body, f->body_len) < 0) {
        set_err(c, "malformed PING from %s", c->server);
        c->broken = 1;
        return -1;
    }
    uint8_t *out = reserve(c, RC_FRAME_HEADER_LEN + len);
    if (out == NULL)
        return -1;
    c->wlen += rc_encode_ping(out, RC_FRAME_HEADER_LEN + len, RC_PONG, f->corr, data, len);
    if (flush_queue(c) < 0 && !c->write_error)
        return -1;
    return 0;
}

static void copy_message(char *out, size_t out_len, const struct rc_error *e)
{
    size_t n = e->message_len < out_len - 1 ? e->message_len : out_len - 1;

    if (n > 0)
        memcpy(out, e->message, n);
    out[n] = '\0';
}

static int handshake(struct rc_client *c, const struct rc_client_options *opts)
{
    const char *token = opts->token ? opts->token : "";
    const char *name = opts->client_name ? opts->client_name : "";
    struct rc_hello hello = {.version = RC_PROTO_VERSION,
                             .token = token,
                             .token_len = strlen(token),
                             .client_name = name,
                             .client_name_len = strlen(name)};
    struct rc_frame f;
    int64_t deadline = now_ms() + c->timeout_ms;

    if (hello.token_len > RC_MAX_TOKEN_LEN) {
        set_err(c, "token is %zu bytes, the protocol allows %d", hello.token_len, RC_MAX_TOKEN_LEN);
        return -1;
    }
    if (hello.client_name_len > RC_MAX_SHORT_FIELD) {
        set_err(c, "client name is %zu bytes, the protocol allows %d", hello.client_name_len,
                RC_MAX_SHORT_FIELD);
        return -1;
    }
    size_t len = RC_FRAME_HEADER_LEN + 9 + hello.token_len + hello.client_name_len;
    uint8_t *out = reserve(c, len);
    if (out == NULL)
        return -1;
    uint32_t corr = take_corr(c);
    c->wlen += rc_encode_hello(out, len, corr, &hello);
    if (flush_queue(c) < 0 && !c->write_error)
        return -1;

    for (;;) {
        if (next_frame(c, &f, deadline, "WELCOME") < 0)
            return -1;
        switch (f.type) {
        case RC_WELCOME:
            if (f.corr != corr || rc_decode_welcome(&c->limits, f.body, f.body_len) < 0) {
                set_err(c, "malformed WELCOME from %s", c->server);
                return -1;
            }
            if (c->limits.version != RC_PROTO_VERSION) {
                set_err(c, "server %s answered with protocol version %u, we speak %d", c->server,
                        c->limits.version, RC_PROTO_VERSION);
                return -1;
            }
            return 0;
        case RC_NACK:
        case RC_GOAWAY: {
            struct rc_error e;
            char msg[RC_MAX_ERROR_MESSAGE + 1];
            if (rc_decode_error(&e, f.body, f.body_len) < 0) {
                set_err(c, "malformed %s from %s", f.type == RC_NACK ? "NACK" : "GOAWAY",
                        c->server);
                return -1;
            }
            copy_message(msg, sizeof(msg), &e);
            set_err(c, "server refused: %s%s%s", rc_error_name(e.code), msg[0] ? ": " : "", msg);
            return -1;
        }
        case RC_PING:
            if (answer_ping(c, &f) < 0)
                return -1;
            break;
        default:
            set_err(c, "unexpected frame type 0x%02x from %s during the handshake", f.type,
                    c->server);
            return -1;
        }
    }
}

int rc_client_connect(struct rc_client **out, const struct rc_client_options *opts, char *err,
                      size_t err_len)
{
    static const struct rc_client_options defaults = {0};
    struct rc_client *c = calloc(1, sizeof(*c));

    *out = NULL;
    if (opts == NULL)
        opts = &defaults;
    if (c == NULL || (c->rbuf = malloc(RBUF_CAP)) == NULL) {
        if (err_len > 0)
            snprintf(err, err_len, "out of memory");
        free(c);
        return -1;
    }
    const char *server = opts->server && opts->server[0] ? opts->server : DEFAULT_SERVER;
    snprintf(c->server, sizeof(c->server), "%s", server);
    c->fd = -1;
    c->timeout_ms = opts->timeout_ms > 0 ? opts->timeout_ms : DEFAULT_TIMEOUT_MS;
    c->next_corr = 1;
    if (connect_server(c, server, now_ms() + c->timeout_ms) < 0 ||
        (opts->tls && start_tls(c, opts, server) < 0) || handshake(c, opts) < 0) {
        if (err_len > 0)
            snprintf(err, err_len, "%s", c->err);
        rc_client_free(c);
        return -1;
    }
    c->err[0] = '\0';
    *out = c;
    return 0;
}

void rc_client_free(struct rc_client *c)
{
    if (c == NULL)
        return;
    rc_tls_free(c->tls);
    rc_tls_ctx_free(c->tls_ctx);
    if (c->fd >= 0)
        close(c->fd);
    free(c->wbuf);
    free(c->rbuf);
    free(c);
}

const struct rc_welcome *rc_client_limits(const struct rc_client *c)
{
    return &c->limits;
}

int rc_client_check_publish(const struct rc_client *c, const struct rc_publish *p, char *err,
                            size_t err_len)
{
    const struct rc_welcome *l = &c->limits;
    char scratch[1];
    int code = 0;

    if (err == NULL || err_len == 0) {
        err = scratch;
        err_len = sizeof(scratch);
    }
    if (p->topic_len == 0) {
        code = RC_ERR_BAD_TOPIC;
        snprintf(err, err_len, "empty topic");
    } else if (p->topic_len > l->max_topic_len) {
        code = RC_ERR_BAD_TOPIC;
        snprintf(err, err_len, "topic is %zu bytes, the server allows %u", p->topic_len,
                 (unsigned)l->max_topic_len);
    } else if (p->event_type_len > RC_MAX_SHORT_FIELD) {
        code = RC_ERR_BAD_REQUEST;
        snprintf(err, err_len, "event type is %zu bytes, the protocol allows %d", p->event_type_len,
                 RC_MAX_SHORT_FIELD);
    } else if (p->content_type_len > RC_MAX_SHORT_FIELD) {
        code = RC_ERR_BAD_REQUEST;
        snprintf(err, err_len, "content type is %zu bytes, the protocol allows %d",
                 p->content_type_len, RC_MAX_SHORT_FIELD);
    } else if (p->msg_id_len > RC_MAX_SHORT_FIELD) {
        code = RC_ERR_BAD_REQUEST;
        snprintf(err, err_len, "message id is %zu bytes, the protocol allows %d", p->msg_id_len,
                 RC_MAX_SHORT_FIELD);
    } else if (p->payload_len > l->max_payload) {
        code = RC_ERR_TOO_LARGE;
        snprintf(err, err_len, "payload is %zu bytes, the server allows %u", p->payload_len,
                 (unsigned)l->max_payload);
    } else {
        size_t frame_len = rc_publish_frame_len(p);
        if (frame_len == 0 || frame_len - 4 > l->max_frame) {
            code = RC_ERR_TOO_LARGE;
            snprintf(err, err_len, "frame is %zu bytes, the server allows %u",
                     frame_len ? frame_len - 4 : p->payload_len, (unsigned)l->max_frame);
        }
    }
    if (code == 0)
        err[0] = '\0';
    return code;
}

int rc_client_send_publish(struct rc_client *c, const struct rc_publish *p, uint32_t *out_corr)
{
    char why[256];

    if (c->broken || c->write_error)
        return -1;
    if (rc_client_check_publish(c, p, why, sizeof(why)) != 0) {
        set_err(c, "%s", why);
        return -1;
    }
    size_t len = rc_publish_frame_len(p);
    uint8_t *out = reserve(c, len);
    if (out == NULL)
        return -1;
    uint32_t corr = take_corr(c);
    if (rc_encode_publish(out, len, corr, p) != len) {
        set_err(c, "cannot encode PUBLISH"); /* cannot happen after the check */
        return -1;
    }
    c->wlen += len;
    *out_corr = corr;
    if (c->wlen - c->wpos > FLUSH_THRESHOLD)
        return flush_queue(c);
    return 0;
}

int rc_client_send_ping(struct rc_client *c, uint32_t *out_corr)
{
    if (c->broken || c->write_error)
        return -1;
    uint8_t *out = reserve(c, RC_FRAME_HEADER_LEN);
    if (out == NULL)
        return -1;
    uint32_t corr = take_corr(c);
    c->wlen += rc_encode_ping(out, RC_FRAME_HEADER_LEN, RC_PING, corr, NULL, 0);
    *out_corr = corr;
    return 0;
}

int rc_client_flush(struct rc_client *c)
{
    return flush_queue(c);
}

int rc_client_read_reply(struct rc_client *c, struct rc_reply *out)
{
    struct rc_frame f;
    int64_t deadline;

    /* A failed write does not end reading: the replies to what did get
     * through, and perhaps the server's reason, may still be on the way. */
    if (flush_queue(c) < 0 && !c->write_error)
        return -1;
    deadline = now_ms() + c->timeout_ms;
    for (;;) {
        if (next_frame(c, &f, deadline, "a reply") < 0)
            return -1;
        memset(out, 0, offsetof(struct rc_reply, message));
        out->message[0] = '\0';
        out->type = f.type;
        out->corr = f.corr;
        switch (f.type) {
        case RC_ACK: {
            struct rc_ack ack;
            if (rc_decode_ack(&ack, f.body, f.body_len) < 0)
                goto malformed;
            out->seq = ack.seq;
            out->ack_flags = ack.flags;
            return 0;
        }
        case RC_NACK:
        case RC_GOAWAY: {
            struct rc_error e;
            if (rc_decode_error(&e, f.body, f.body_len) < 0)
                goto malformed;
            out->code = e.code;
            copy_message(out->message, sizeof(out->message), &e);
            if (f.type == RC_GOAWAY) {
                c->got_goaway = 1;
                c->goaway_code = e.code;
                copy_message(c->goaway_msg, sizeof(c->goaway_msg), &e);
            }
            return 0;
        }
        case RC_PONG: {
            const uint8_t *data;
            size_t len;
            if (rc_decode_ping(&data, &len, f.body, f.body_len) < 0)
                goto malformed;
            return 0;
        }
        case RC_PING:
            if (answer_ping(c, &f) < 0)
                return -1;
            continue;
        default:
            set_err(c, "unexpected frame type 0x%02x from %s", f.type, c->server);
            c->broken = 1;
            return -1;
        }
    malformed:
        set_err(c, "malformed frame of type 0x%02x from %s", f.type, c->server);
        c->broken = 1;
        return -1;
    }
}

int rc_client_reply_ready(const struct rc_client *c)
{
    struct rc_frame f;

    if (c->broken || c->eof || (c->tls && rc_tls_pending(c->tls)))
        return 1;
    return rc_frame_decode(&f, c->rbuf + c->rpos, c->rlen - c->rpos, RECV_MAX_FRAME) != 0;
}

int rc_client_publish(struct rc_client *c, const struct rc_publish *p, struct rc_reply *out)
{
    uint32_t corr;

    if (rc_client_send_publish(c, p, &corr) < 0)
        return -1;
    for (;;) {
        if (rc_client_read_reply(c, out) < 0)
            return -1;
        /* A GOAWAY or a stray PONG is not the answer: the server still
         * answers what it has read. */
        if ((out->type == RC_ACK || out->type == RC_NACK) && out->corr == corr)
            return 0;
        if (out->type == RC_NACK && out->corr == 0 && rc_error_is_fatal(out->code)) {
            set_err(c, "server closed the connection: %s%s%s", rc_error_name(out->code),
                    out->message[0] ? ": " : "", out->message);
            c->broken = 1;
            return -1;
        }
    }
}

const char *rc_client_error(const struct rc_client *c)
{
    return c->err;
}

int rc_client_fd(const struct rc_client *c)
{
    return c->fd;
}
