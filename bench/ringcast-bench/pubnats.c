/* pubnats.c: publishing to nats-server (--target nats) on its native client
 * port: INFO, CONNECT and a PING whose PONG says the connection is set up;
 * then "PUB <subject> <#bytes>" per publish, pipelined. NATS acknowledges
 * nothing per message, so each flush ends the publishes queued since the
 * last one (a batch) with a PING: the server answers PINGs in order, after
 * it has routed everything before them to its subscribers' outboxes, and
 * the PONG counts every publish of its batch as done. Replies are numbered
 * as the publishes, in order; the seq is the publisher's own (pub.c). */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "natsparse.h"
#include "pub.h"
#include "pubsock.h"

#define FLUSH_THRESHOLD (256 * 1024)
#define PUB_HEAD_MAX 64
#define MAX_PAYLOAD (64u << 20)

struct nats_pub {
    struct pubsock s;
    const struct config *cfg;
    struct natsp parser;
    char peer[64];
    uint32_t next_id;       /* the next publish's id */
    uint32_t pinged_upto;   /* the publishes before this id have their PING queued */
    uint32_t acked_upto;    /* the publishes before this id have had their PONG */
    uint32_t next_reply_id; /* the next reply read_reply returns */
    uint32_t *batch_ends;   /* per PING in flight, in order: the id after its batch */
    uint32_t batch_head, batch_count, batch_cap;
    bool failed; /* the server's -ERR or a protocol error: s.err says */
};

/* queue appends |len| bytes to the write buffer. */
static int queue(struct nats_pub *n, const void *data, size_t len)
{
    uint8_t *out = pubsock_reserve(&n->s, len);

    if (out == NULL)
        return -1;
    memcpy(out, data, len);
    n->s.wlen += len;
    return 0;
}

/* push_batch records a PING in flight that ends the publishes before
 * |end|. */
static int push_batch(struct nats_pub *n, uint32_t end)
{
    if (n->batch_count == n->batch_cap) {
        uint32_t cap = n->batch_cap ? n->batch_cap * 2 : 64;
        uint32_t *v = malloc(cap * sizeof(*v));
        if (v == NULL) {
            pubsock_set_err(&n->s, "out of memory");
            return -1;
        }
        for (uint32_t i = 0; i < n->batch_count; i++)
            v[i] = n->batch_ends[(n->batch_head + i) % n->batch_cap];
        free(n->batch_ends);
        n->batch_ends = v;
        n->batch_cap = cap;
        n->batch_head = 0;
    }
    n->batch_ends[(n->batch_head + n->batch_count) % n->batch_cap] = end;
    n->batch_count++;
    return 0;
}

/* on_pong acknowledges the oldest batch. */
static int on_pong(struct nats_pub *n)
{
    if (n->batch_count == 0) {
        pubsock_set_err(&n->s, "%s sent a PONG without a PING", n->peer);
        return -1;
    }
    n->acked_upto = n->batch_ends[n->batch_head];
    n->batch_head = (n->batch_head + 1) % n->batch_cap;
    n->batch_count--;
    return 0;
}

/* handle_op acts on one operation from the server; |pongs| counts PONGs
 * when not NULL (the setup's), else they acknowledge batches. */
static int handle_op(struct nats_pub *n, const struct natsp_op *op, uint32_t *pongs)
{
    switch (op->kind) {
    case NATSP_PONG:
        if (pongs != NULL) {
            (*pongs)++;
            return 0;
        }
        return on_pong(n);
    case NATSP_PING:
        return queue(n, "PONG\r\n", 6);
    case NATSP_ERR:
        pubsock_set_err(&n->s, "%s: -ERR %.*s", n->peer,
                        (int)(op->arg_len < 160 ? op->arg_len : 160), (const char *)op->arg);
        return -1;
    default:
        return 0; /* INFO (again), +OK, a MSG we did not subscribe to */
    }
}

/* handle_buffered acts on every whole operation the read buffer holds. */
static int handle_buffered(struct nats_pub *n, uint32_t *pongs)
{
    struct natsp_op op;
    int r;

    if (n->s.rbuf == NULL)
        return 0;
    const uint8_t *data = n->s.rbuf + n->s.rpos;
    size_t len = n->s.rlen - n->s.rpos;
    while ((r = natsp_next(&n->parser, &data, &len, &op)) == 1)
        if (handle_op(n, &op, pongs) < 0)
            return -1;
    n->s.rpos = n->s.rlen - len;
    if (r < 0) {
        pubsock_set_err(&n->s, "%s: %s", n->peer, n->parser.err);
        return -1;
    }
    return 0;
}

/* wait_more waits (until |deadline|) for bytes and reads them. */
static int wait_more(struct nats_pub *n, uint64_t deadline, const char *what)
{
    if (n->s.eof) {
        pubsock_set_err(&n->s, "%s closed the connection while %s", n->peer, what);
        return -1;
    }
    int r = pubsock_wait(n->s.fd, POLLIN, deadline);
    if (r <= 0) {
        pubsock_set_err(&n->s, "%s %s from %s", r == 0 ? "timed out" : strerror(errno), what,
                        n->peer);
        return -1;
    }
    return pubsock_read_some(&n->s);
}

/* handshake sends CONNECT and a PING and waits for the PONG (after the
 * server's INFO, which nothing here needs). */
static int handshake(struct nats_pub *n)
{
    uint64_t deadline = clock_now_ns() + PUBSOCK_TIMEOUT_MS * NS_PER_MS;
    uint32_t pongs = 0;

    if (queue(n, NATSP_CONNECT_LINE "PING\r\n", sizeof(NATSP_CONNECT_LINE "PING\r\n") - 1) < 0 ||
        pubsock_flush(&n->s) < 0)
        return -1;
    for (;;) {
        if (handle_buffered(n, &pongs) < 0)
            return -1;
        if (pongs > 0)
            return pubsock_flush(&n->s); /* a PONG we owe, if the server pinged */
        if (wait_more(n, deadline, "waiting for the PONG to CONNECT") < 0)
            return -1;
    }
}

static void nats_free(void *st)
{
    struct nats_pub *n = st;

    pubsock_close(&n->s);
    natsp_free(&n->parser);
    free(n->batch_ends);
    free(n);
}

static void *nats_connect(const struct config *cfg, char *err, size_t err_len)
{
    struct nats_pub *n = calloc(1, sizeof(*n));

    if (n == NULL) {
        snprintf(err, err_len, "out of memory");
        return NULL;
    }
    n->cfg = cfg;
    snprintf(n->peer, sizeof(n->peer), "%s", cfg->publish_addr);
    natsp_init(&n->parser, MAX_PAYLOAD);
    if (pubsock_connect(&n->s, &cfg->publish_sa, n->peer, "NATS publisher", err, err_len) < 0) {
        natsp_free(&n->parser);
        free(n);
        return NULL;
    }
    if (handshake(n) < 0) {
        snprintf(err, err_len, "NATS publisher: %s", n->s.err);
        nats_free(n);
        return NULL;
    }
    return n;
}

static uint32_t nats_max_window(void *st)
{
    (void)st;
    return 0; /* the window flag decides */
}

/* nats_flush ends the batch queued since the last flush with a PING and
 * writes everything. */
static int nats_flush(void *st)
{
    struct nats_pub *n = st;

    if (n->next_id != n->pinged_upto) {
        if (queue(n, "PING\r\n", 6) < 0 || push_batch(n, n->next_id) < 0)
            return -1;
        n->pinged_upto = n->next_id;
    }
    return pubsock_flush(&n->s);
}

static int nats_send(void *st, const char *topic, size_t topic_len, const uint8_t *payload,
                     size_t len, uint32_t *out_id)
{
    struct nats_pub *n = st;
    uint8_t *out = pubsock_reserve(&n->s, PUB_HEAD_MAX + topic_len + len + 2);

    if (out == NULL)
        return -1;
    int head = sprintf((char *)out, "PUB %.*s %zu\r\n", (int)topic_len, topic, len);
    memcpy(out + head, payload, len);
    memcpy(out + head + len, "\r\n", 2);
    n->s.wlen += (size_t)head + len + 2;
    *out_id = n->next_id++;
    if (n->s.wlen - n->s.wpos >= FLUSH_THRESHOLD)
        return nats_flush(n);
    return 0;
}

static bool nats_reply_ready(void *st)
{
    struct nats_pub *n = st;

    if (n->acked_upto == n->next_reply_id && !n->failed && handle_buffered(n, NULL) < 0)
        n->failed = true;
    return n->acked_upto != n->next_reply_id || n->failed || n->s.eof;
}

static int nats_fd(void *st)
{
    return ((struct nats_pub *)st)->s.fd;
}

static int nats_read_reply(void *st, struct pub_reply *out)
{
    struct nats_pub *n = st;
    uint64_t deadline = clock_now_ns() + PUBSOCK_TIMEOUT_MS * NS_PER_MS;

    if (n->failed || nats_flush(n) < 0)
        return -1;
    while (n->acked_upto == n->next_reply_id) {
        if (n->next_reply_id == n->next_id) {
            pubsock_set_err(&n->s, "a reply wanted with no publish in flight");
            return -1;
        }
        if (handle_buffered(n, NULL) < 0 || pubsock_flush(&n->s) < 0)
            return -1;
        if (n->acked_upto != n->next_reply_id)
            break;
        if (wait_more(n, deadline, "waiting for a PONG") < 0)
            return -1;
    }
    memset(out, 0, sizeof(*out));
    out->id = n->next_reply_id++;
    out->ok = true;
    return 0;
}

static const char *nats_error(void *st)
{
    return ((struct nats_pub *)st)->s.err;
}

const struct pub_transport pubnats_transport = {
    .name = "nats",
    .connect = nats_connect,
    .max_window = nats_max_window,
    .send = nats_send,
    .flush = nats_flush,
    .reply_ready = nats_reply_ready,
    .fd = nats_fd,
    .read_reply = nats_read_reply,
    .error = nats_error,
    .free = nats_free,
};
