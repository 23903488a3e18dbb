/* conntls.c: a connection's TLS session between its socket and its kind. */
#include "core/conntls.h"

#include <string.h>
#include <sys/uio.h>

#include "util/alloc.h"
#include "util/log.h"
#include "io/tls.h"
#include "core/conn.h"
#include "core/shard.h"

/* Plaintext sealed per flush: sixteen full records, about what one
 * sendmsg of IOV_MAX small frames carries in plaintext. More waits in the queue
 * (where it is counted against --max-queued-bytes) until these are out. */
#define SEAL_BATCH (256u * 1024)
/* Queue entries gathered at a time while filling the batch. */
#define GATHER_IOV 64
/* Plaintext read from the session at a time: one record. */
#define OPEN_CHUNK (16u * 1024)

_Static_assert(TLS_NUM_FAILURES == STATS_TLS_FAILURES, "stats.h counts every TLS failure");

/* One of each per shard thread: used within one call, never kept. */
static _Thread_local uint8_t seal_scratch[SEAL_BATCH];
static _Thread_local uint8_t open_scratch[OPEN_CHUNK];

int conntls_start(struct shard *sh, struct conn *c, struct tls_server *srv)
{
    (void)sh;
    struct tls_session *s = rc_malloc(sizeof(*s));
    if (!s)
        return -1;
    if (tls_session_init(s, srv) != 0) {
        rc_free(s);
        return -1;
    }
    c->tls = s;
    return 0;
}

void conntls_free(struct conn *c)
{
    if (!c->tls)
        return;
    tls_session_cleanup(c->tls);
    rc_free(c->tls);
    c->tls = NULL;
}

int conntls_has_output(const struct conn *c)
{
    return c->tls && tls_session_unsent(c->tls) > 0;
}

/* fail counts why |c|'s session failed and closes it once the alert
 * BoringSSL wrote (if any) is out; never more than a debug line each: a
 * port scanner must not flood the log. */
static void fail(struct shard *sh, struct conn *c)
{
    enum tls_failure why = (enum tls_failure)c->tls->failure;
    counter_add(&sh->stats.tls_failures[why], 1);
    log_debug("connection %u: TLS %s failure; closing", c->slot, tls_failure_name(why));
    c->flags |= CONN_NO_LINGER;
    if (c->state == CONN_OPEN)
        conn_finish(sh, c);
    else
        conn_kill(sh, c);
}

static void deliver(struct shard *sh, struct conn *c, uint8_t *data, size_t len)
{
    if (c->state == CONN_OPEN && c->ops->on_data)
        c->ops->on_data(sh, c, data, len);
    else if (c->state != CONN_DEAD && c->state != CONN_OPEN && c->ops->on_closing_data)
        c->ops->on_closing_data(sh, c, data, len);
}

/* handshake goes on with |c|'s handshake: true once it is done. */
static bool handshake(struct shard *sh, struct conn *c)
{
    struct tls_session *s = c->tls;
    if (s->established)
        return true;
    int ret = tls_session_handshake(s);
    if (ret < 0) {
        fail(sh, c);
        return false;
    }
    if (ret == 0)
        return false;
    counter_add(&sh->stats.tls_handshakes[tls_session_resumed(s) ? 1 : 0], 1);
    return true;
}

void conntls_on_recv(struct shard *sh, struct conn *c, const uint8_t *data, size_t len)
{
    struct tls_session *s = c->tls;
    tls_session_feed(s, data, len);
    if (handshake(sh, c)) {
        while (c->state != CONN_DEAD) {
            ssize_t n = tls_session_read(s, open_scratch, sizeof(open_scratch));
            if (n > 0) {
                deliver(sh, c, open_scratch, (size_t)n);
                continue;
            }
            if (n == -1 && (c->state != CONN_CLOSING || c->sq.count == 0))
                conn_kill(sh, c); /* close_notify: the peer is done, as at EOF */
            else if (n == -2)
                fail(sh, c);
            break;
        }
    }
    tls_session_feed(s, NULL, 0); /* the provided buffer goes back to the kernel */
    if (tls_session_unsent(s) > 0)
        conn_mark_dirty(sh, c);
}

/* seal_queued moves up to SEAL_BATCH bytes of |c|'s queue, gathered into
 * one scratch, into records. Returns 0 or -1. */
static int seal_queued(struct conn *c)
{
    size_t total = 0;
    while (total < SEAL_BATCH && c->sq.count > 0) {
        struct iovec iov[GATHER_IOV];
        int n = sendq_fill_iov(&c->sq, iov, GATHER_IOV);
        size_t got = 0;
        for (int i = 0; i < n && total + got < SEAL_BATCH; i++) {
            size_t room = SEAL_BATCH - total - got;
            size_t take = iov[i].iov_len < room ? iov[i].iov_len : room;
            memcpy(seal_scratch + total + got, iov[i].iov_base, take);
            got += take;
        }
        sendq_complete(&c->sq, got);
        total += got;
    }
    return total > 0 ? tls_session_seal(c->tls, seal_scratch, total) : 0;
}

long conntls_next_send(struct shard *sh, struct conn *c, const uint8_t **out)
{
    (void)sh;
    struct tls_session *s = c->tls;
    if (tls_session_unsent(s) == 0) {
        if (!s->established) {
            /* What the kind queued before the handshake ended (a timeout's
             * reply) has no session to go in. */
            sendq_clear(&c->sq);
        } else if (seal_queued(c) != 0) {
            return -1;
        } else if (c->sq.count == 0 && c->state == CONN_CLOSING) {
            tls_session_close_notify(s);
        }
    }
    *out = s->out ? s->out + s->out_sent : NULL;
    return (long)tls_session_unsent(s);
}

void conntls_sent(struct conn *c, size_t n)
{
    tls_session_sent(c->tls, n);
}
