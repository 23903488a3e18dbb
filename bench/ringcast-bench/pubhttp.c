/* pubhttp.c: publishing with HTTP POST /v1/publish?topic=T (the raw form of
 * docs/protocol/http.md), or POST /pub/T to nchan (--target nchan), on one
 * keep-alive connection. Requests are
 * pipelined; the server answers them in order, so a reply's id is simply
 * the count of replies before it. */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "httpresp.h"
#include "pub.h"
#include "pubsock.h"
#include "urlenc.h"

#define FLUSH_THRESHOLD (256 * 1024)
#define MAX_RESPONSE (64 * 1024)
#define REQUEST_HEAD_MAX 512

struct http_pub {
    struct pubsock s;
    const struct config *cfg;
    uint32_t next_id, next_reply_id;
};

static void *http_connect(const struct config *cfg, char *err, size_t err_len)
{
    struct http_pub *h = calloc(1, sizeof(*h));

    if (h == NULL) {
        snprintf(err, err_len, "out of memory");
        return NULL;
    }
    h->cfg = cfg;
    if (pubsock_connect(&h->s, &cfg->client_sa, cfg->host_header, "HTTP publisher", err, err_len) <
        0) {
        free(h);
        return NULL;
    }
    return h;
}

static uint32_t http_max_window(void *st)
{
    (void)st;
    return 0; /* HTTP announces nothing; the window flag decides */
}

static int http_flush(void *st)
{
    return pubsock_flush(&((struct http_pub *)st)->s);
}

static int http_send(void *st, const char *topic, size_t topic_len, const uint8_t *payload,
                     size_t len, uint32_t *out_id)
{
    struct http_pub *h = st;
    size_t token_len = h->cfg->token ? strlen(h->cfg->token) : 0;
    uint8_t *out = pubsock_reserve(&h->s, REQUEST_HEAD_MAX + 3 * topic_len + token_len + len);

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
    h->s.wlen += (size_t)((uint8_t *)w - out) + len;
    *out_id = h->next_id++;
    if (h->s.wlen - h->s.wpos >= FLUSH_THRESHOLD)
        return http_flush(h);
    return 0;
}

/* response_length returns the length of the complete response at the read
 * position, 0 when it is not all there, -1 when it is malformed. */
static long response_length(struct http_pub *h, size_t *out_head)
{
    if (h->s.rbuf == NULL)
        return 0;
    const char *p = (const char *)h->s.rbuf + h->s.rpos;
    size_t avail = h->s.rlen - h->s.rpos;
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

    return response_length(h, &head) != 0 || h->s.eof;
}

static int http_fd(void *st)
{
    return ((struct http_pub *)st)->s.fd;
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
    uint64_t deadline = clock_now_ns() + PUBSOCK_TIMEOUT_MS * NS_PER_MS;
    size_t head = 0;
    long total;

    if (http_flush(h) < 0)
        return -1;
    while ((total = response_length(h, &head)) == 0) {
        if (h->s.eof) {
            pubsock_set_err(&h->s, "%s closed the connection", h->cfg->host_header);
            return -1;
        }
        int r = pubsock_wait(h->s.fd, POLLIN, deadline);
        if (r <= 0) {
            pubsock_set_err(&h->s, "%s waiting for a response from %s",
                            r == 0 ? "timed out" : strerror(errno), h->cfg->host_header);
            return -1;
        }
        if (pubsock_read_some(&h->s) < 0)
            return -1;
    }
    if (total < 0) {
        pubsock_set_err(&h->s, "malformed HTTP response from %s", h->cfg->host_header);
        return -1;
    }
    const char *p = (const char *)h->s.rbuf + h->s.rpos;
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
    h->s.rpos += (size_t)total;
    return 0;
}

static const char *http_error(void *st)
{
    return ((struct http_pub *)st)->s.err;
}

static void http_free(void *st)
{
    struct http_pub *h = st;

    pubsock_close(&h->s);
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
