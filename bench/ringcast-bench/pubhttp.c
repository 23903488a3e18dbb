/* pubhttp.c: publishing with HTTP POST /v1/publish?topic=T (the raw form of
 * docs/protocol/http.md), or POST /pub/T to nchan (--target nchan), on one
 * keep-alive connection. Requests are
 * pipelined; the server answers them in order, so a reply's id is simply
 * the count of replies before it. */
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
#include "pub.h"
#include "urlenc.h"

#define TIMEOUT_MS 10000
#define FLUSH_THRESHOLD (256 * 1024)
#define MAX_RESPONSE (64 * 1024)
#define REQUEST_HEAD_MAX 512

struct http_pub {
    int fd;
    const struct config *cfg;
    uint32_t next_id, next_reply_id;
    uint8_t *wbuf; /* [wpos, wlen) not yet written */
    size_t wpos, wlen, wcap;
    uint8_t *rbuf; /* [rpos, rlen) not yet parsed */
    size_t rpos, rlen, rcap;
    bool eof;
    char err[256];
};

static void set_err(struct http_pub *h, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void set_err(struct http_pub *h, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(h->err, sizeof(h->err), fmt, ap);
    va_end(ap);
}

/* wait_fd polls for |events| until |deadline_ns|; returns revents, 0 on
 * timeout, -1 on error. */
static int wait_fd(int fd, short events, uint64_t deadline_ns)
{
    for (;;) {
        uint64_t now = clock_now_ns();
        struct pollfd pfd = {.fd = fd, .events = events};
        struct timespec ts = clock_timespec(deadline_ns > now ? deadline_ns - now : 0);
        int r = ppoll(&pfd, 1, &ts, NULL);
        if (r > 0)
            return pfd.revents;
        if (r == 0)
            return 0;
        if (errno != EINTR)
            return -1;
    }
}

static void *http_connect(const struct config *cfg, char *err, size_t err_len)
{
    struct http_pub *h = calloc(1, sizeof(*h));
    int one = 1, soerr = 0;
    socklen_t len = sizeof(soerr);

    if (h == NULL) {
        snprintf(err, err_len, "out of memory");
        return NULL;
    }
    h->cfg = cfg;
    h->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (h->fd < 0) {
        snprintf(err, err_len, "HTTP publisher: socket: %s", strerror(errno));
        free(h);
        return NULL;
    }
    if (connect(h->fd, (const struct sockaddr *)&cfg->client_sa, sizeof(cfg->client_sa)) != 0) {
        if (errno != EINPROGRESS) {
            soerr = errno;
        } else {
            int r = wait_fd(h->fd, POLLOUT, clock_now_ns() + TIMEOUT_MS * NS_PER_MS);
            if (r <= 0)
                soerr = r == 0 ? ETIMEDOUT : errno;
            else if (getsockopt(h->fd, SOL_SOCKET, SO_ERROR, &soerr, &len) != 0)
                soerr = errno;
        }
    }
    if (soerr != 0) {
        snprintf(err, err_len, "HTTP publisher: cannot connect to %s: %s", cfg->host_header,
                 strerror(soerr));
        close(h->fd);
        free(h);
        return NULL;
    }
    setsockopt(h->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    return h;
}

static uint32_t http_max_window(void *st)
{
    (void)st;
    return 0; /* HTTP announces nothing; the window flag decides */
}

/* reserve makes room for |n| more bytes in the write buffer. */
static uint8_t *reserve(struct http_pub *h, size_t n)
{
    if (h->wcap - h->wlen < n) {
        size_t cap = h->wcap ? h->wcap : 65536;
        while (cap - h->wlen < n)
            cap *= 2;
        uint8_t *p = realloc(h->wbuf, cap);
        if (p == NULL) {
            set_err(h, "out of memory");
            return NULL;
        }
        h->wbuf = p;
        h->wcap = cap;
    }
    return h->wbuf + h->wlen;
}

/* read_some moves what the socket has into the read buffer. Returns 0, or
 * -1 on an error; sets h->eof at the end of the stream. */
static int read_some(struct http_pub *h)
{
    if (h->rpos > 0) {
        memmove(h->rbuf, h->rbuf + h->rpos, h->rlen - h->rpos);
        h->rlen -= h->rpos;
        h->rpos = 0;
    }
    if (h->rcap - h->rlen < 16384) {
        size_t cap = h->rcap ? h->rcap * 2 : 65536;
        uint8_t *p = realloc(h->rbuf, cap);
        if (p == NULL) {
            set_err(h, "out of memory");
            return -1;
        }
        h->rbuf = p;
        h->rcap = cap;
    }
    ssize_t n = recv(h->fd, h->rbuf + h->rlen, h->rcap - h->rlen, MSG_DONTWAIT);
    if (n > 0)
        h->rlen += (size_t)n;
    else if (n == 0)
        h->eof = true;
    else if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
        set_err(h, "reading from %s: %s", h->cfg->host_header, strerror(errno));
        return -1;
    }
    return 0;
}

static int http_flush(void *st)
{
    struct http_pub *h = st;

    while (h->wpos < h->wlen) {
        ssize_t n = send(h->fd, h->wbuf + h->wpos, h->wlen - h->wpos, MSG_NOSIGNAL);
        if (n > 0) {
            h->wpos += (size_t)n;
            continue;
        }
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK) {
            set_err(h, "writing to %s: %s", h->cfg->host_header, strerror(errno));
            return -1;
        }
        /* The socket is full: take in responses meanwhile, so that a
         * server waiting for us to read cannot deadlock the pipeline. */
        int r = wait_fd(h->fd, POLLOUT | POLLIN, clock_now_ns() + TIMEOUT_MS * NS_PER_MS);
        if (r <= 0) {
            set_err(h, "%s writing to %s", r == 0 ? "timed out" : strerror(errno),
                    h->cfg->host_header);
            return -1;
        }
        if ((r & (POLLIN | POLLHUP | POLLERR)) && read_some(h) < 0)
            return -1;
    }
    h->wpos = h->wlen = 0;
    return 0;
}

static int http_send(void *st, const char *topic, size_t topic_len, const uint8_t *payload,
                     size_t len, uint32_t *out_id)
{
    struct http_pub *h = st;
    size_t token_len = h->cfg->token ? strlen(h->cfg->token) : 0;
    uint8_t *out = reserve(h, REQUEST_HEAD_MAX + 3 * topic_len + token_len + len);

    if (out == NULL)
        return -1;
    char *w = (char *)out;
    if (h->cfg->target == TARGET_NCHAN)
        w += sprintf(w, "POST /pub/");
    else
        w += sprintf(w, "POST /v1/publish?event_type=bench&topic=");
    w += urlenc_append(w, topic, topic_len);
    w += sprintf(w,
                 " HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\n"
                 "Content-Length: %zu\r\n",
                 h->cfg->host_header, len);
    if (h->cfg->token)
        w += sprintf(w, "Authorization: Bearer %s\r\n", h->cfg->token);
    w += sprintf(w, "\r\n");
    memcpy(w, payload, len);
    h->wlen += (size_t)((uint8_t *)w - out) + len;
    *out_id = h->next_id++;
    if (h->wlen - h->wpos >= FLUSH_THRESHOLD)
        return http_flush(h);
    return 0;
}

/* response_length returns the length of the complete response at the read
 * position, 0 when it is not all there, -1 when it is malformed. */
static long response_length(struct http_pub *h, size_t *out_head)
{
    if (h->rbuf == NULL)
        return 0;
    const char *p = (const char *)h->rbuf + h->rpos;
    size_t avail = h->rlen - h->rpos;
    size_t head = httpresp_head_len(p, avail);
    const char *v;
    size_t v_len;

    if (head == 0)
        return avail > MAX_RESPONSE ? -1 : 0;
    uint64_t body = 0;
    if (httpresp_header(p, head, "Content-Length", &v, &v_len)) {
        for (size_t i = 0; i < v_len; i++) {
            if (v[i] < '0' || v[i] > '9' || body > MAX_RESPONSE)
                return -1;
            body = body * 10 + (uint64_t)(v[i] - '0');
        }
    }
    if (body > MAX_RESPONSE)
        return -1;
    *out_head = head;
    return avail >= head + body ? (long)(head + body) : 0;
}

static bool http_reply_ready(void *st)
{
    struct http_pub *h = st;
    size_t head;

    return response_length(h, &head) != 0 || h->eof;
}

static int http_fd(void *st)
{
    return ((struct http_pub *)st)->fd;
}

/* parse_seq reads "seq":N from a JSON body. */
static bool parse_seq(const char *body, size_t len, uint64_t *out)
{
    const char *p = memmem(body, len, "\"seq\":", 6);
    uint64_t v = 0;

    if (p == NULL)
        return false;
    p += 6;
    const char *end = body + len;
    if (p >= end || *p < '0' || *p > '9')
        return false;
    while (p < end && *p >= '0' && *p <= '9')
        v = v * 10 + (uint64_t)(*p++ - '0');
    *out = v;
    return true;
}

static int http_read_reply(void *st, struct pub_reply *out)
{
    struct http_pub *h = st;
    uint64_t deadline = clock_now_ns() + TIMEOUT_MS * NS_PER_MS;
    size_t head = 0;
    long total;

    if (http_flush(h) < 0)
        return -1;
    while ((total = response_length(h, &head)) == 0) {
        if (h->eof) {
            set_err(h, "%s closed the connection", h->cfg->host_header);
            return -1;
        }
        int r = wait_fd(h->fd, POLLIN, deadline);
        if (r <= 0) {
            set_err(h, "%s waiting for a response from %s", r == 0 ? "timed out" : strerror(errno),
                    h->cfg->host_header);
            return -1;
        }
        if (read_some(h) < 0)
            return -1;
    }
    if (total < 0) {
        set_err(h, "malformed HTTP response from %s", h->cfg->host_header);
        return -1;
    }
    const char *p = (const char *)h->rbuf + h->rpos;
    const char *body = p + head;
    size_t body_len = (size_t)total - head;
    int status = httpresp_status(p, head);
    out->id = h->next_reply_id++;
    if (h->cfg->target == TARGET_NCHAN) {
        /* 201: delivered to subscribers, 202: queued without any; the
         * seq is the publisher's own (pub.c). */
        out->seq = 0;
        out->ok = status == 201 || status == 202;
    } else {
        out->ok = status == 200 && parse_seq(body, body_len, &out->seq);
    }
    if (!out->ok)
        snprintf(out->error, sizeof(out->error), "HTTP %d %.*s", status,
                 (int)(body_len < 120 ? body_len : 120), body);
    h->rpos += (size_t)total;
    return 0;
}

static const char *http_error(void *st)
{
    return ((struct http_pub *)st)->err;
}

static void http_free(void *st)
{
    struct http_pub *h = st;

    close(h->fd);
    free(h->wbuf);
    free(h->rbuf);
    free(h);
}

const struct pub_transport pubhttp_transport = {
    .name = "http",
    .connect = http_connect,
    .max_window = http_max_window,
    .send = http_send,
    .flush = http_flush,
    .reply_ready = http_reply_ready,
    .fd = http_fd,
    .read_reply = http_read_reply,
    .error = http_error,
    .free = http_free,
};
