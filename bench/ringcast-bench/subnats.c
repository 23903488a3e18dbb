/* subnats.c: a NATS subscriber over WebSocket (see subnats.h). */
#include "subnats.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "natsparse.h"
#include "subconn.h"
#include "wsparse.h"

#define MAX_PAYLOAD (64u << 20)
#define SID 1

bool subnats_init(struct subconn *c)
{
    if (c->nats == NULL && (c->nats = malloc(sizeof(*c->nats))) == NULL)
        return false;
    natsp_init(c->nats, MAX_PAYLOAD);
    return true;
}

/* send_sub sends CONNECT, SUB and PING in one frame. */
static bool send_sub(struct sub_thread *t, struct subconn *c)
{
    char topic[TOPIC_MAX_LEN + 1], msg[sizeof(NATSP_CONNECT_LINE) + TOPIC_MAX_LEN + 32];
    size_t len = subconn_subscription(t, c, topic);
    int n = snprintf(msg, sizeof(msg), NATSP_CONNECT_LINE "SUB %.*s %d\r\nPING\r\n", (int)len,
                     topic, SID);

    if (n <= 0 || (size_t)n >= sizeof(msg) || (size_t)n > SUBCONN_MAX_PONG)
        return false;
    return subconn_send_ws(t, c, WSP_BINARY, msg, (size_t)n);
}

/* on_err ends the connection at the server's -ERR. */
static bool on_err(struct sub_thread *t, struct subconn *c, const struct natsp_op *op)
{
    static const char slow[] = "'Slow Consumer";
    int len = (int)(op->arg_len < 120 ? op->arg_len : 120);

    if (c->state == CS_READY && op->arg_len >= sizeof(slow) - 1 &&
        memcmp(op->arg, slow, sizeof(slow) - 1) == 0) {
        c->server_closed = true;
        t->res.slow_closes++;
        atomic_fetch_add_explicit(&t->progress.closed, 1, memory_order_relaxed);
        sub_note_error(t, "connection %u: -ERR %.*s", c->id, len, (const char *)op->arg);
        subconn_kill(t, c);
        return false;
    }
    subconn_fail(t, c, "-ERR %.*s", len, (const char *)op->arg);
    return false;
}

/* on_op acts on one NATS operation; false when the connection ended. */
static bool on_op(struct sub_thread *t, struct subconn *c, const struct natsp_op *op,
                  uint64_t now_ns)
{
    switch (op->kind) {
    case NATSP_INFO:
        if (c->state == CS_SUBSCRIBING && !send_sub(t, c)) {
            subconn_fail(t, c, "cannot send CONNECT and SUB");
            return false;
        }
        return true;
    case NATSP_PONG:
        if (c->state == CS_SUBSCRIBING)
            return subconn_become_ready(t, c, now_ns);
        return true;
    case NATSP_PING:
        subconn_send_ws(t, c, WSP_BINARY, "PONG\r\n", 6);
        return true;
    case NATSP_MSG:
        if (op->sid != SID) {
            t->res.misrouted++;
            return true;
        }
        subconn_on_event(t, c, op->payload, op->len, now_ns);
        return true;
    case NATSP_ERR:
        return on_err(t, c, op);
    default:
        return true; /* +OK */
    }
}

bool subnats_on_bytes(struct sub_thread *t, struct subconn *c, const uint8_t *p, size_t len,
                      uint64_t now_ns)
{
    struct natsp_op op;
    int r;

    if (c->state == CS_CLOSING)
        return true; /* only the close handshake matters now */
    while ((r = natsp_next(c->nats, &p, &len, &op)) == 1)
        if (!on_op(t, c, &op, now_ns) || c->state == CS_DEAD)
            return false;
    if (r < 0) {
        subconn_fail(t, c, "NATS protocol: %s", c->nats->err);
        return false;
    }
    return true;
}
