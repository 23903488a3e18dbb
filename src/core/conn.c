/* conn.c: connection slots, the receive and send paths, and closing.
 *
 * Receives: subscribers use one multishot receive for their whole life, with
 * buffers picked by the kernel from the shard's provided-buffer ring; the
 * buffer is handed back as soon as the bytes are handled. Publishers use
 * one-shot receives, re-armed only when the connection may read on: that is
 * how backpressure reaches a publisher (its socket buffer fills, TCP pushes
 * back).
 *
 * Sends: at most one in flight per socket. A send takes everything queued
 * (up to IOV_MAX entries); a single entry goes out with a plain send, more
 * with one sendmsg. */
#include "core/conn.h"

#include <errno.h>
#include <limits.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "util/alloc.h"
#include "pubsub/auth.h"
#include "pubsub/claims.h"
#include "core/conntls.h"
#include "core/limits.h"
#include "util/log.h"
#include "core/shard.h"
#include "io/sockop.h"

struct sendop {
    struct msghdr mh;
    struct iovec iov[];
};

static void cancel(struct shard *sh, struct conn *c, enum uring_op op);
static void arm_open_timer(struct shard *sh, struct conn *c);

static int ensure_slot_capacity(struct shard *sh)
{
    if (sh->num_free > 0)
        return 0;
    uint32_t old_cap = sh->conns_cap;
    uint32_t cap = old_cap ? old_cap * 2 : 1024;
    struct conn **conns = rc_realloc(sh->conns, cap * sizeof(*conns));
    if (!conns)
        return -1;
    sh->conns = conns;
    uint32_t *free_slots = rc_realloc(sh->free_slots, cap * sizeof(*free_slots));
    if (!free_slots)
        return -1;
    sh->free_slots = free_slots;
    /* Push new slots so that the lowest is taken first. */
    for (uint32_t i = cap; i > old_cap; i--) {
        conns[i - 1] = NULL;
        sh->free_slots[sh->num_free++] = i - 1;
    }
    sh->conns_cap = cap;
    return 0;
}

static void on_timer(void *ctx, struct timer_node *node)
{
    struct conn *c = (struct conn *)((char *)node - offsetof(struct conn, timer));
    conn_on_timer(ctx, c);
}

struct conn *conn_new(struct shard *sh, int fd, const struct conn_ops *ops)
{
    if (sh->num_conns >= sh->max_conns || ensure_slot_capacity(sh) != 0)
        return NULL;
    struct conn *c = rc_calloc(1, sizeof(*c));
    if (!c)
        return NULL;
    c->fd = fd;
    c->ops = ops;
    c->state = CONN_OPEN;
    timer_node_init(&c->timer, on_timer);
    c->slot = sh->free_slots[--sh->num_free];
    sh->next_gen = (sh->next_gen + 1) & 0xffffff;
    c->gen = sh->next_gen;
    sh->conns[c->slot] = c;
    sh->num_conns++;
    counter_add(&sh->stats.connections[ops->stats_kind], 1);
    return c;
}

void conn_set_ops(struct shard *sh, struct conn *c, const struct conn_ops *ops)
{
    if (c->ops->release)
        c->ops->release(c);
    counter_sub(&sh->stats.connections[c->ops->stats_kind], 1);
    counter_add(&sh->stats.connections[ops->stats_kind], 1);
    c->ops = ops;
    memset(c->kind_state, 0, sizeof(c->kind_state));
}

struct conn *conn_lookup(struct shard *sh, uint32_t slot, uint32_t gen)
{
    if (slot >= sh->conns_cap)
        return NULL;
    struct conn *c = sh->conns[slot];
    return c && c->gen == gen ? c : NULL;
}

void conn_mark_dirty(struct shard *sh, struct conn *c)
{
    if (c->flags & CONN_DIRTY)
        return;
    c->flags |= CONN_DIRTY;
    struct conn **list = c->ops->flush_first ? &sh->dirty_first : &sh->dirty_other;
    c->next_dirty = *list;
    *list = c;
}

void conn_add_work(struct shard *sh, struct conn *c)
{
    if (c->flags & CONN_ON_WORK)
        return;
    c->flags |= CONN_ON_WORK;
    c->next_work = sh->work;
    sh->work = c;
}

void conn_send_copy(struct shard *sh, struct conn *c, const void *data, size_t len)
{
    if (c->state == CONN_DEAD)
        return;
    if (sendq_push_copy(&c->sq, data, len) != 0) {
        log_warn("out of memory queueing %zu bytes; closing connection", len);
        conn_kill(sh, c);
        return;
    }
    conn_mark_dirty(sh, c);
}

/* A connection that ends leaves the index at most LEAVE_BATCH
 * subscriptions per loop turn (each costs a hash-table removal, perhaps a
 * message to the topic's home): one that held 100,000 does not stall the
 * shard's other connections for the whole of it. Fan-out skips a
 * connection that is no longer open, so what is left of its subscriptions
 * costs a skipped visit until it is gone. */
#define LEAVE_BATCH 2048

static void leave_index(struct shard *sh, struct conn *c)
{
    if (c->subs.v && index_remove_some(&sh->index, &c->subs, LEAVE_BATCH) > 0)
        conn_add_work(sh, c); /* conn_go_on_leaving, next turn */
}

void conn_go_on_leaving(struct shard *sh, struct conn *c)
{
    if (c->state != CONN_OPEN)
        leave_index(sh, c);
}

void conn_set_claims(struct shard *sh, struct conn *c, struct claims *claims)
{
    claims_free(c->claims);
    c->claims = claims;
    c->expires_ms = auth_expires_ms(claims, sh->now_ms);
}

void conn_give_up_slow(struct shard *sh, struct conn *c, const char *what)
{
    log_info("connection %u: slow consumer, %llu bytes queued (--max-queued-bytes %llu); %s",
             c->slot, (unsigned long long)c->sq.bytes,
             (unsigned long long)sh->cfg->max_queued_bytes, what);
    counter_add(&sh->stats.slow_closes, 1);
    sendq_drop_unsent(&c->sq);
}

void conn_close_slow(struct shard *sh, struct conn *c)
{
    if (c->ops->close_slow) {
        c->ops->close_slow(sh, c);
        return;
    }
    conn_give_up_slow(sh, c, "closing");
    conn_kill(sh, c);
}

/* output_over reports whether |c|'s queued output (events and replies)
 * reached the point where its input pauses: half of --max-queued-bytes,
 * leaving the other half for events before a slow-consumer close. */
static bool output_over(const struct shard *sh, const struct conn *c)
{
    return c->sq.bytes >= sh->cfg->max_queued_bytes / 2;
}

/* pause_input stops reading from |c| until ops->resume. */
void conn_pause_input(struct shard *sh, struct conn *c)
{
    /* A subscriber reads with one multishot receive: stop it (what it
     * still brings is held in c->in), and read it one buffer at a time
     * from now on, so that what a later pause holds is one buffer; one-shot
     * receives are simply not re-armed. */
    c->flags |= CONN_READ_PAUSED | CONN_ONE_RECV;
    if (c->ops->reads_for_life && (c->flags & CONN_RECV_ARMED) && !(c->flags & CONN_RECV_CANCEL)) {
        c->flags |= CONN_RECV_CANCEL;
        cancel(sh, c, OP_RECV);
    }
}

static void pause_input(struct shard *sh, struct conn *c, bool output_full)
{
    c->flags |= CONN_READ_PAUSED;
    if (output_full) {
        if (!(c->flags & CONN_OUTPUT_FULL)) {
            c->flags |= CONN_OUTPUT_FULL;
            c->stall_deadline_ms = sh->now_ms + sh->cfg->send_timeout_ms;
            counter_add(&sh->stats.output_pauses, 1);
            arm_open_timer(sh, c);
        }
    } else {
        counter_add(&sh->stats.input_budget_pauses, 1);
        conn_add_work(sh, c); /* resumed in the next turn */
    }
    conn_pause_input(sh, c);
}

bool conn_input_next(struct shard *sh, struct conn *c)
{
    if (c->state != CONN_OPEN || (c->flags & CONN_READ_PAUSED))
        return false;
    if (output_over(sh, c)) {
        pause_input(sh, c, true);
        return false;
    }
    if (c->input_turn != sh->turn) {
        c->input_turn = sh->turn;
        c->input_used = 0;
    }
    if (c->input_used >= sh->cfg->input_budget) {
        pause_input(sh, c, false);
        return false;
    }
    c->input_used++;
    return true;
}

bool conn_hold_input(struct shard *sh, struct conn *c, const uint8_t *data, size_t len)
{
    /* What a paused connection receives is what was in flight before its
     * receive stopped: at most the shard's provided buffers. */
    size_t limit = (size_t)sh->cfg->recv_buffers * sh->cfg->recv_buffer_size;
    if (inbuf_append(&c->in, data, len, limit) == 0)
        return true;
    log_warn("connection %u: more than %zu bytes of input held; closing", c->slot, limit);
    conn_kill(sh, c);
    return false;
}

/* output_drained resumes a connection paused for its output once the queue
 * is down to a quarter of --max-queued-bytes. */
static void output_drained(struct shard *sh, struct conn *c)
{
    if (!(c->flags & CONN_OUTPUT_FULL) || c->sq.bytes > sh->cfg->max_queued_bytes / 4)
        return;
    c->flags &= ~CONN_OUTPUT_FULL;
    if (c->state == CONN_OPEN) {
        arm_open_timer(sh, c);
        conn_add_work(sh, c); /* resumed from the work list */
    }
}

void conn_finish(struct shard *sh, struct conn *c)
{
    if (c->state != CONN_OPEN)
        return;
    leave_index(sh, c);
    c->state = CONN_CLOSING;
    timer_arm(&sh->timers, &c->timer, sh->now_ms + sh->cfg->close_timeout_ms);
    conn_mark_dirty(sh, c); /* the flush moves on to LINGER once the queue is empty */
}

/* shut_down shuts down |how| of the connection's socket; the slot stays
 * open until the request is done (sockop.h). */
static void shut_down(struct shard *sh, struct conn *c, int how)
{
    sockop_shutdown(&sh->ring, c->fd, how, uring_pack(OP_SOCKOP, c->gen, c->slot));
    c->pending++;
}

/* cancel cancels the connection's request |op| (a receive or a send). */
static void cancel(struct shard *sh, struct conn *c, enum uring_op op)
{
    sockop_cancel(&sh->ring, uring_pack(op, c->gen, c->slot),
                  uring_pack(OP_SOCKOP, c->gen, c->slot));
    c->pending++;
}

void conn_on_sockop(struct shard *sh, struct conn *c)
{
    c->pending--;
    conn_reap(sh, c);
}

void conn_kill(struct shard *sh, struct conn *c)
{
    if (c->state == CONN_DEAD)
        return;
    leave_index(sh, c);
    c->state = CONN_DEAD;
    timer_cancel(&sh->timers, &c->timer);
    /* The cancels end a pending receive and a send stuck on a full socket;
     * the close at release then ends the connection (FIN, or RST with
     * unread input). No shutdown: the kernel runs those on a worker
     * thread, which would cost more than the close itself. */
    if (c->flags & CONN_RECV_ARMED)
        cancel(sh, c, OP_RECV);
    if (c->flags & CONN_SEND_ACTIVE)
        cancel(sh, c, OP_SEND);
    conn_add_work(sh, c); /* freed there once no request is in flight */
}

static void release(struct shard *sh, struct conn *c)
{
    log_debug("connection %u closed", c->slot);
    if (sh->ring_ready) /* else the ring's exit closed every socket */
        sockop_close(&sh->ring, c->fd);
    if (c->subs.v) /* only at exit (conn_free_all): conn_reap waits for the index */
        index_remove_all(&sh->index, &c->subs);
    timer_cancel(&sh->timers, &c->timer);
    sendq_clear(&c->sq);
    inbuf_clear(&c->in);
    claims_free(c->claims);
    limits_release(sh, c);
    conntls_free(c);
    if (c->ops->release)
        c->ops->release(c);
    if (c->slot < sh->sendops_cap && sh->sendops[c->slot]) {
        rc_free(sh->sendops[c->slot]);
        sh->sendops[c->slot] = NULL;
    }
    sh->conns[c->slot] = NULL;
    sh->free_slots[sh->num_free++] = c->slot;
    sh->num_conns--;
    counter_sub(&sh->stats.connections[c->ops->stats_kind], 1);
    rc_free(c);
}

bool conn_reap(struct shard *sh, struct conn *c)
{
    if (c->state != CONN_DEAD || c->pending > 0 || c->subs.v ||
        (c->flags & (CONN_ON_WORK | CONN_DIRTY | CONN_BLOCKED)))
        return false;
    release(sh, c);
    return true;
}

void conn_arm_recv(struct shard *sh, struct conn *c)
{
    if ((c->flags & CONN_RECV_ARMED) || c->state == CONN_DEAD)
        return;
    struct io_uring_sqe *sqe = uring_get_sqe(&sh->ring);
    /* Subscribers read for their whole life with one multishot receive;
     * connections that must be able to stop reading (publishers, HTTP
     * requests waiting for their answer) re-arm one receive at a time. */
    if (sh->feat.recv_multishot && c->ops->reads_for_life && !(c->flags & CONN_ONE_RECV))
        io_uring_prep_recv_multishot(sqe, c->fd, NULL, 0, 0);
    else
        io_uring_prep_recv(sqe, c->fd, NULL, 0, 0);
    sockop_target(sqe);
    sqe->flags |= IOSQE_BUFFER_SELECT;
    sqe->buf_group = sh->bufs.group;
    io_uring_sqe_set_data64(sqe, uring_pack(OP_RECV, c->gen, c->slot));
    c->flags |= CONN_RECV_ARMED;
    c->pending++;
}

static struct sendop *sendop_for(struct shard *sh, struct conn *c, int num_iov)
{
    if (c->slot >= sh->sendops_cap) {
        uint32_t cap = sh->sendops_cap ? sh->sendops_cap : 1024;
        while (cap <= c->slot)
            cap *= 2;
        struct sendop **grown = rc_realloc(sh->sendops, cap * sizeof(*grown));
        if (!grown)
            return NULL;
        memset(grown + sh->sendops_cap, 0, (cap - sh->sendops_cap) * sizeof(*grown));
        sh->sendops = grown;
        sh->sendops_cap = cap;
    }
    rc_free(sh->sendops[c->slot]);
    sh->sendops[c->slot] =
        rc_malloc(sizeof(struct sendop) + (size_t)num_iov * sizeof(struct iovec));
    return sh->sendops[c->slot];
}

/* After the queue drained in CLOSING: shut our write side, then read until
 * the peer closes too (or the close timeout). */
static void begin_linger(struct shard *sh, struct conn *c)
{
    shut_down(sh, c, SHUT_WR);
    c->state = CONN_LINGER;
    timer_arm(&sh->timers, &c->timer, sh->now_ms + sh->cfg->close_timeout_ms);
    if (!(c->flags & CONN_RECV_ARMED))
        conn_arm_recv(sh, c);
}

/* queue_empty: nothing is left to send. */
static void queue_empty(struct shard *sh, struct conn *c)
{
    /* Our final bytes are out. After a completed WebSocket close
     * handshake the server closes TCP at once (RFC 6455 section 7.1.1);
     * otherwise it waits for the peer to close. */
    if (c->state == CONN_CLOSING && (c->flags & CONN_NO_LINGER))
        conn_kill(sh, c);
    else if (c->state == CONN_CLOSING)
        begin_linger(sh, c);
}

static void submit_send(struct shard *sh, struct conn *c, struct io_uring_sqe *sqe)
{
    sockop_target(sqe);
    io_uring_sqe_set_data64(sqe, uring_pack(OP_SEND, c->gen, c->slot));
    c->flags |= CONN_SEND_ACTIVE;
    c->pending++;
}

/* flush_tls sends |c|'s ciphertext: what is left of the last batch, or
 * the queue sealed now (conntls.h). */
static void flush_tls(struct shard *sh, struct conn *c)
{
    const uint8_t *out;
    long len = conntls_next_send(sh, c, &out);
    if (len < 0) {
        log_warn("connection %u: cannot seal its output; closing", c->slot);
        conn_kill(sh, c);
    } else if (len == 0) {
        queue_empty(sh, c);
    } else {
        struct io_uring_sqe *sqe = uring_get_sqe(&sh->ring);
        io_uring_prep_send(sqe, c->fd, out, (size_t)len, MSG_NOSIGNAL);
        submit_send(sh, c, sqe);
    }
}

void conn_flush(struct shard *sh, struct conn *c)
{
    if ((c->flags & CONN_SEND_ACTIVE) || c->state == CONN_DEAD || c->state == CONN_LINGER)
        return;
    if (c->tls) {
        flush_tls(sh, c);
        return;
    }
    if (c->sq.count == 0) {
        queue_empty(sh, c);
        return;
    }
    struct io_uring_sqe *sqe = uring_get_sqe(&sh->ring);
    if (c->sq.count == 1) {
        struct iovec one;
        sendq_fill_iov(&c->sq, &one, 1);
        io_uring_prep_send(sqe, c->fd, one.iov_base, one.iov_len, MSG_NOSIGNAL);
    } else {
        int max = c->sq.count < IOV_MAX ? (int)c->sq.count : IOV_MAX;
        struct sendop *op = sendop_for(sh, c, max);
        if (!op) {
            io_uring_prep_nop(sqe);
            io_uring_sqe_set_data64(sqe, uring_pack(OP_IGNORE, 0, 0));
            conn_kill(sh, c);
            return;
        }
        memset(&op->mh, 0, sizeof(op->mh));
        op->mh.msg_iov = op->iov;
        op->mh.msg_iovlen = (size_t)sendq_fill_iov(&c->sq, op->iov, max);
        io_uring_prep_sendmsg(sqe, c->fd, &op->mh, MSG_NOSIGNAL);
    }
    submit_send(sh, c, sqe);
}

void conn_on_send(struct shard *sh, struct conn *c, int res)
{
    c->pending--;
    c->flags &= ~CONN_SEND_ACTIVE;
    if (res < 0) {
        if (!c->tls)
            sendq_complete(&c->sq, 0);
        if (c->state != CONN_DEAD)
            log_debug("send failed on connection %u: %s", c->slot, strerror(-res));
        conn_kill(sh, c);
    } else {
        counter_add(&sh->stats.bytes_sent, (uint64_t)res);
        if (c->tls)
            conntls_sent(c, (size_t)res);
        else
            sendq_complete(&c->sq, (size_t)res);
        output_drained(sh, c);
        if (c->sq.count > 0 || conntls_has_output(c) || c->state == CONN_CLOSING)
            conn_mark_dirty(sh, c);
    }
    conn_reap(sh, c);
}

static void on_recv_error(struct shard *sh, struct conn *c, int res)
{
    if (res == -ENOBUFS) {
        /* Every provided buffer is in use: try again once some are back. */
        c->flags |= CONN_NEED_RECV;
        conn_add_work(sh, c);
        return;
    }
    if (res == -EINVAL && sh->feat.recv_multishot && c->ops->reads_for_life) {
        log_warn("multishot receive not supported by the kernel: using one-shot receives");
        sh->feat.recv_multishot = false;
        c->flags |= CONN_NEED_RECV;
        conn_add_work(sh, c);
        return;
    }
    if (res != -ECANCELED && c->state != CONN_DEAD)
        log_debug("receive failed on connection %u: %s", c->slot, strerror(-res));
    conn_kill(sh, c);
}

void conn_on_recv(struct shard *sh, struct conn *c, int res, uint32_t cqe_flags)
{
    bool more = (cqe_flags & IORING_CQE_F_MORE) != 0;
    bool paused_by_us = false;
    if (!more) {
        paused_by_us = (c->flags & CONN_RECV_CANCEL) != 0;
        c->flags &= ~(CONN_RECV_ARMED | CONN_RECV_CANCEL);
        c->pending--;
    }
    if (cqe_flags & IORING_CQE_F_BUFFER) {
        uint16_t id = (uint16_t)(cqe_flags >> IORING_CQE_BUFFER_SHIFT);
        if (res > 0 && c->tls && c->state != CONN_DEAD)
            conntls_on_recv(sh, c, bufring_data(&sh->bufs, id), (size_t)res);
        else if (res > 0 && c->state == CONN_OPEN && c->ops->on_data)
            c->ops->on_data(sh, c, bufring_data(&sh->bufs, id), (size_t)res);
        else if (res > 0 && c->state != CONN_DEAD && c->state != CONN_OPEN &&
                 c->ops->on_closing_data)
            c->ops->on_closing_data(sh, c, bufring_data(&sh->bufs, id), (size_t)res);
        bufring_recycle(&sh->bufs, id);
    }
    if (res == 0) {
        /* The peer closed its side. While CLOSING, what we queued may
         * still go out (and then we are done); otherwise we are done now. */
        if (c->state != CONN_CLOSING || (c->sq.count == 0 && !conntls_has_output(c)))
            conn_kill(sh, c);
    } else if (res == -ECANCELED && paused_by_us) {
        /* The receive a pause stopped; when the connection resumed
         * meanwhile, its new receive goes out now. */
        if (conn_may_read(c))
            conn_arm_recv(sh, c);
    } else if (res < 0) {
        on_recv_error(sh, c, res);
    } else if (!more && c->state != CONN_DEAD && !(c->flags & CONN_READ_PAUSED) &&
               !(c->flags & (CONN_BLOCKED | CONN_AWAITING))) {
        conn_arm_recv(sh, c);
    }
    conn_reap(sh, c);
}

/* arm_open_timer keeps an open connection's one timer at the earlier of
 * the kind's deadline and the stall deadline. */
static void arm_open_timer(struct shard *sh, struct conn *c)
{
    int64_t deadline = c->kind_deadline_ms;
    if ((c->flags & CONN_OUTPUT_FULL) && (!deadline || c->stall_deadline_ms < deadline))
        deadline = c->stall_deadline_ms;
    if (deadline)
        timer_arm(&sh->timers, &c->timer, deadline);
    else
        timer_cancel(&sh->timers, &c->timer);
}

void conn_arm_timer(struct shard *sh, struct conn *c, int64_t deadline_ms)
{
    c->kind_deadline_ms = deadline_ms > 0 ? deadline_ms : 1;
    if (c->state == CONN_OPEN)
        arm_open_timer(sh, c);
}

void conn_cancel_timer(struct shard *sh, struct conn *c)
{
    c->kind_deadline_ms = 0;
    if (c->state == CONN_OPEN)
        arm_open_timer(sh, c);
}

/* on_open_timer: the stall deadline first (a client that does not read for
 * --send-timeout is closed); the kind's own deadline waits while the
 * connection is paused for its output (it is not the client's delay). */
static void on_open_timer(struct shard *sh, struct conn *c)
{
    if ((c->flags & CONN_OUTPUT_FULL) && sh->now_ms >= c->stall_deadline_ms) {
        counter_add(&sh->stats.send_timeouts, 1);
        log_info("connection %u: %llu bytes queued for --send-timeout %u ms without draining",
                 c->slot, (unsigned long long)c->sq.bytes, sh->cfg->send_timeout_ms);
        conn_close_slow(sh, c);
        return;
    }
    if (c->kind_deadline_ms && sh->now_ms >= c->kind_deadline_ms &&
        !(c->flags & CONN_OUTPUT_FULL)) {
        c->kind_deadline_ms = 0;
        if (c->ops->on_timer)
            c->ops->on_timer(sh, c);
    }
    if (c->state == CONN_OPEN)
        arm_open_timer(sh, c);
}

void conn_on_timer(struct shard *sh, struct conn *c)
{
    switch (c->state) {
    case CONN_OPEN:
        on_open_timer(sh, c);
        break;
    case CONN_CLOSING:
    case CONN_LINGER:
        conn_kill(sh, c);
        break;
    default:
        break;
    }
}

void conn_free_all(struct shard *sh)
{
    for (uint32_t i = 0; i < sh->conns_cap; i++) {
        struct conn *c = sh->conns[i];
        if (c) {
            c->state = CONN_DEAD;
            release(sh, c);
        }
    }
    for (uint32_t i = 0; i < sh->sendops_cap; i++)
        rc_free(sh->sendops[i]);
    rc_free(sh->sendops);
    sh->sendops = NULL;
    sh->sendops_cap = 0;
}
