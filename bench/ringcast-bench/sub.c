/* sub.c: a subscriber thread's loop (see sub.h). */
#include "sub.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "clock.h"
#include "rng.h"
#include "subconn.h"
#include "inflate.h"
#include "subtls.h"

#define SQ_ENTRIES 4096
#define BUF_GROUP 0
#define WAIT_NS (20 * NS_PER_MS)
#define SCAN_INTERVAL_NS (20 * NS_PER_MS)

void sub_note_error(struct sub_thread *t, const char *fmt, ...)
{
    va_list ap;

    if (t->res.first_error[0] != '\0')
        return;
    va_start(ap, fmt);
    vsnprintf(t->res.first_error, sizeof(t->res.first_error), fmt, ap);
    va_end(ap);
}

struct io_uring_sqe *sub_get_sqe(struct sub_thread *t)
{
    struct io_uring_sqe *sqe;

    while ((sqe = io_uring_get_sqe(&t->ring)) == NULL)
        io_uring_submit(&t->ring);
    return sqe;
}

void sub_target(const struct sub_thread *t, const struct subconn *c, struct io_uring_sqe *sqe)
{
    if (c->fixed) {
        sqe->fd = (int)(c - t->conns);
        sqe->flags |= IOSQE_FIXED_FILE;
    } else {
        sqe->fd = c->fd;
    }
}

void sub_arm_recv(struct sub_thread *t, struct subconn *c)
{
    struct io_uring_sqe *sqe;

    if (t->multishot) {
        sqe = sub_get_sqe(t);
        io_uring_prep_recv_multishot(sqe, c->fd, NULL, 0, 0);
        sqe->flags |= IOSQE_BUFFER_SELECT;
        sqe->buf_group = BUF_GROUP;
    } else {
        size_t room;
        uint8_t *buf = subconn_own_buffer(c, &room);
        if (buf == NULL) {
            sub_note_error(t, "connection %u: out of memory for its receive buffer", c->id);
            subconn_kill(t, c);
            return;
        }
        sqe = sub_get_sqe(t);
        io_uring_prep_recv(sqe, c->fd, buf, room, 0);
    }
    sub_target(t, c, sqe);
    io_uring_sqe_set_data64(sqe, (uint64_t)(c - t->conns) << 8 | OP_RECV);
    c->ops |= OP_RECV;
}

/* setup_ring creates the thread's io_uring, with the cheapest completion
 * handling the kernel offers (as the server's src/io/uring.c does). */
static int setup_ring(struct sub_thread *t)
{
    static const unsigned choices[] = {
        IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN,
        IORING_SETUP_COOP_TASKRUN,
        0,
    };
    int ret = -EINVAL;

    for (size_t i = 0; i < sizeof(choices) / sizeof(choices[0]); i++) {
        struct io_uring_params params;
        memset(&params, 0, sizeof(params));
        params.flags = choices[i] | IORING_SETUP_CQSIZE;
        params.cq_entries = SQ_ENTRIES * 4;
        ret = io_uring_queue_init_params(SQ_ENTRIES, &t->ring, &params);
        if (ret != -EINVAL)
            break;
    }
    return ret;
}

/* probe_fixed_on runs the fixed-file probe on |ring| with the socket pair
 * |fds|: installs fds[0] in slot 0, sends a byte from the slot, closes the
 * slot. */
static bool probe_fixed_on(struct io_uring *ring, const int fds[2], char *why, size_t why_len)
{
    int ret = io_uring_register_files_sparse(ring, 1);
    if (ret < 0) {
        snprintf(why, why_len, "no sparse io_uring file tables (%s)", strerror(-ret));
        return false;
    }
    ret = io_uring_register_files_update(ring, 0, &fds[0], 1);
    if (ret != 1) {
        snprintf(why, why_len, "cannot install a socket in an io_uring file table (%s)",
                 strerror(ret < 0 ? -ret : EIO));
        return false;
    }
    struct io_uring_sqe *sqe = io_uring_get_sqe(ring);
    io_uring_prep_send(sqe, 0, "x", 1, MSG_NOSIGNAL | MSG_DONTWAIT);
    sqe->flags |= IOSQE_FIXED_FILE;
    sqe = io_uring_get_sqe(ring);
    io_uring_prep_close_direct(sqe, 0);
    if (io_uring_submit_and_wait(ring, 2) < 0) {
        snprintf(why, why_len, "the probe requests did not complete");
        return false;
    }
    for (int i = 0; i < 2; i++) {
        struct io_uring_cqe *cqe;
        if (io_uring_peek_cqe(ring, &cqe) != 0) {
            snprintf(why, why_len, "the probe requests did not complete");
            return false;
        }
        int res = cqe->res;
        io_uring_cqe_seen(ring, cqe);
        if (res < 0) {
            snprintf(why, why_len, "no %s on an io_uring file table slot (%s)",
                     i == 0 ? "send" : "close", strerror(-res));
            return false;
        }
    }
    char byte;
    if (read(fds[1], &byte, 1) != 1) {
        snprintf(why, why_len, "a send from an io_uring file table slot did not arrive");
        return false;
    }
    return true;
}

bool sub_probe_fixed_files(char *why, size_t why_len)
{
    struct io_uring ring;
    int fds[2];

    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0, fds) != 0) {
        snprintf(why, why_len, "socketpair: %s", strerror(errno));
        return false;
    }
    int ret = io_uring_queue_init(4, &ring, 0);
    bool ok = false;
    if (ret != 0) {
        snprintf(why, why_len, "io_uring_queue_init: %s", strerror(-ret));
    } else {
        ok = probe_fixed_on(&ring, fds, why, why_len);
        io_uring_queue_exit(&ring);
    }
    close(fds[0]);
    close(fds[1]);
    return ok;
}

static bool setup(struct sub_thread *t)
{
    const struct config *cfg = t->cfg;

    t->num_conns = (cfg->connections - t->index + cfg->threads - 1) / cfg->threads;
    int ret = setup_ring(t);

    if (ret < 0) {
        sub_note_error(t, "io_uring_queue_init: %s", strerror(-ret));
        return false;
    }
    t->ring_ok = true;
    if (cfg->fixed_files) {
        /* A slot per connection, so that slot = the connection's index;
         * main checked that it fits in RLIMIT_NOFILE, the kernel's limit
         * for a table. */
        ret = io_uring_register_files_sparse(&t->ring, t->num_conns);
        if (ret < 0) {
            sub_note_error(t, "registering an io_uring file table of %u slots: %s", t->num_conns,
                           strerror(-ret));
            return false;
        }
    }
    if (!cfg->no_multishot) {
        ret = bufring_setup(&t->rb, &t->ring, BUF_GROUP, cfg->recv_buffers, cfg->recv_buffer_size);
        if (ret < 0) {
            sub_note_error(t, "provided buffers: %s", strerror(-ret));
            return false;
        }
        t->multishot = true;
    }
    t->conns = calloc(t->num_conns, sizeof(*t->conns));
    t->rearm = malloc(t->num_conns * sizeof(*t->rearm));
    t->pattern_topics = calloc(cfg->topics.count, 1);
    if (t->conns == NULL || t->rearm == NULL || t->pattern_topics == NULL) {
        sub_note_error(t, "out of memory for %u connections", t->num_conns);
        return false;
    }
    for (uint32_t k = 0; k < cfg->topics.count && cfg->topics.pattern_share > 0; k++)
        t->pattern_topics[k] = topics_pattern_matches(&cfg->topics, k);
    for (uint32_t j = 0; j < t->num_conns; j++) {
        struct subconn *c = &t->conns[j];
        c->fd = -1;
        c->id = t->index + j * cfg->threads;
        c->topic = topics_is_pattern_conn(&cfg->topics, c->id)
                       ? -1
                       : (int32_t)topics_conn_topic(&cfg->topics, c->id);
    }
    t->max_failures = t->num_conns / 100 > 10 ? t->num_conns / 100 : 10;
    t->rng = rng_seed();
    t->key_seed = rng_seed();
    return true;
}

/* open_more starts connections while fewer than the concurrency are being
 * set up. */
static void open_more(struct sub_thread *t, uint64_t now_ns)
{
    while (t->setting_up < t->cfg->connect_concurrency && t->next_open < t->num_conns &&
           t->res.failed < t->max_failures)
        subconn_open(t, &t->conns[t->next_open++], now_ns);
}

static bool setup_finished(const struct sub_thread *t)
{
    return t->setting_up == 0 && (t->next_open == t->num_conns || t->res.failed >= t->max_failures);
}

static void on_recv(struct sub_thread *t, struct subconn *c, const struct io_uring_cqe *cqe)
{
    bool more = (cqe->flags & IORING_CQE_F_MORE) != 0;
    int res = cqe->res;

    if (!more)
        c->ops &= (uint8_t)~OP_RECV;
    if (res > 0) {
        uint64_t now = clock_now_ns();
        t->res.receives++;
        t->res.bytes += (uint64_t)res;
        if (now >= t->win_start && now < t->win_end) {
            t->res.receives_win++;
            t->res.bytes_win += (uint64_t)res;
        }
        if (t->multishot) {
            uint16_t bid = (uint16_t)(cqe->flags >> IORING_CQE_BUFFER_SHIFT);
            if (c->state != CS_DEAD)
                subconn_on_data(t, c, bufring_data(&t->rb, bid), (size_t)res, now);
            bufring_put(&t->rb, bid);
        } else if (c->state != CS_DEAD) {
            subconn_on_own_data(t, c, (size_t)res, now);
        }
        if (!more && subconn_wants_recv(c))
            t->rearm[t->num_rearm++] = (uint32_t)(c - t->conns);
    } else if (res == -ENOBUFS) {
        /* The buffers ran out: arm again once this batch gave them back. */
        if (subconn_wants_recv(c))
            t->rearm[t->num_rearm++] = (uint32_t)(c - t->conns);
    } else {
        if (cqe->flags & IORING_CQE_F_BUFFER)
            bufring_put(&t->rb, (uint16_t)(cqe->flags >> IORING_CQE_BUFFER_SHIFT));
        if (c->state != CS_DEAD)
            subconn_on_eof(t, c, res);
    }
    subconn_release(t, c);
}

static void on_cqe(struct sub_thread *t, const struct io_uring_cqe *cqe)
{
    uint64_t data = io_uring_cqe_get_data64(cqe);
    unsigned op = (unsigned)(data & 0xff);
    uint64_t index = data >> 8;

    if (op == 0 || index >= t->num_conns)
        return; /* a cancellation */
    struct subconn *c = &t->conns[index];
    if (op == OP_POLL)
        subconn_on_poll(t, c, cqe->res, clock_now_ns());
    else if (op == OP_RECV)
        on_recv(t, c, cqe);
    else if (op == OP_PONG || op == OP_CLOSE_SEND || op == OP_CLOSE_SLOT)
        subconn_on_fixed(t, c, op, cqe->res);
}

/* wait_and_handle waits for completions (or WAIT_NS) and handles them. */
static void wait_and_handle(struct sub_thread *t)
{
    struct io_uring_cqe *cqe;
    struct __kernel_timespec ts = {.tv_sec = 0, .tv_nsec = WAIT_NS};
    unsigned head, count = 0;

    int ret = io_uring_submit_and_wait_timeout(&t->ring, &cqe, 1, &ts, NULL);
    if (ret < 0 && ret != -ETIME && ret != -EINTR && ret != -EAGAIN && ret != -EBUSY)
        sub_note_error(t, "io_uring wait: %s", strerror(-ret));
    io_uring_for_each_cqe(&t->ring, head, cqe)
    {
        on_cqe(t, cqe);
        count++;
    }
    io_uring_cq_advance(&t->ring, count);
    if (t->multishot)
        bufring_publish(&t->rb);
    for (uint32_t i = 0; i < t->num_rearm; i++) {
        struct subconn *c = &t->conns[t->rearm[i]];
        if (subconn_wants_recv(c))
            sub_arm_recv(t, c);
    }
    t->num_rearm = 0;
}

/* scan checks deadlines, and in PHASE_DRAIN whether every stream is
 * complete. */
static void scan(struct sub_thread *t, uint64_t now_ns)
{
    bool drained = true;

    for (uint32_t j = 0; j < t->next_open; j++) {
        struct subconn *c = &t->conns[j];
        subconn_check_deadline(t, c, now_ns);
        if (t->phase == PHASE_DRAIN && drained)
            drained = subconn_drained(t, c);
    }
    if (t->phase == PHASE_SETUP && setup_finished(t))
        atomic_store_explicit(&t->progress.setup_done, true, memory_order_relaxed);
    if (t->phase == PHASE_DRAIN && drained)
        atomic_store_explicit(&t->progress.drained, true, memory_order_relaxed);
}

/* enter_phase reacts to main moving the run forward. */
static void enter_phase(struct sub_thread *t, int phase, uint64_t now_ns)
{
    t->phase = phase;
    if (phase == PHASE_RUN) {
        t->win_start = t->ctl->window_start_ns;
        t->win_end = t->ctl->window_end_ns;
    } else if (phase == PHASE_CLOSE) {
        for (uint32_t j = 0; j < t->next_open; j++) {
            struct subconn *c = &t->conns[j];
            subconn_account(t, c);
            if (c->state == CS_READY)
                subconn_begin_close(t, c, now_ns);
            else if (c->state != CS_CLOSING)
                subconn_kill(t, c);
        }
    }
}

static void publish_progress(struct sub_thread *t)
{
    atomic_store_explicit(&t->progress.deliveries, t->res.deliveries, memory_order_relaxed);
    atomic_store_explicit(&t->progress.receives, t->res.receives, memory_order_relaxed);
}

static void run(struct sub_thread *t)
{
    uint64_t close_deadline = 0;

    for (;;) {
        uint64_t now = clock_now_ns();
        int phase = control_phase(t->ctl);
        if (phase != t->phase) {
            enter_phase(t, phase, now);
            if (phase == PHASE_CLOSE)
                close_deadline = now + t->cfg->close_timeout_ns + 100 * NS_PER_MS;
        }
        if (t->phase == PHASE_SETUP)
            open_more(t, now);
        if (t->phase != PHASE_RUN && now >= t->next_scan_ns) {
            scan(t, now);
            t->next_scan_ns = now + SCAN_INTERVAL_NS;
        }
        if (t->phase >= PHASE_RUN)
            cpu_window_tick(&t->res.cpu, now, t->win_start, t->win_end);
        if (t->phase == PHASE_CLOSE && (t->live == 0 || now >= close_deadline))
            break;
        wait_and_handle(t);
        publish_progress(t);
    }
}

static void teardown(struct sub_thread *t)
{
    inflater_free(t->inflater);
    t->inflater = NULL;
    if (t->ring_ok) {
        if (t->cfg->fixed_files)
            io_uring_submit(&t->ring); /* the closes of the last slots */
        /* Cancels what is still in flight, and closes the sockets still in
         * the file table (connections that did not finish closing). */
        io_uring_queue_exit(&t->ring);
    }
    t->ring_ok = false;
    for (uint32_t j = 0; j < t->num_conns && t->conns != NULL; j++) {
        struct subconn *c = &t->conns[j];
        if (c->state == CS_CLOSING)
            t->res.unclean_closes++;
        if (c->fd >= 0)
            close(c->fd);
        c->fd = -1;
        c->fixed = false;
        subconn_free(c);
    }
    bufring_unmap(&t->rb);
    free(t->conns);
    free(t->rearm);
    free(t->pattern_topics);
    t->conns = NULL;
    t->rearm = NULL;
    t->pattern_topics = NULL;
}

static void *sub_main(void *arg)
{
    struct sub_thread *t = arg;

    t->phase = PHASE_SETUP;
    t->win_start = UINT64_MAX;
    t->win_end = 0;
    if (setup(t)) {
        run(t);
    } else {
        /* Nothing can be opened: every connection of this thread failed. */
        t->res.failed = t->num_conns;
        atomic_store_explicit(&t->progress.failed, t->res.failed, memory_order_relaxed);
        atomic_store_explicit(&t->progress.setup_done, true, memory_order_relaxed);
        atomic_store_explicit(&t->progress.drained, true, memory_order_relaxed);
    }
    publish_progress(t);
    teardown(t);
    return NULL;
}

int sub_start(struct sub_thread *t, const struct config *cfg, struct control *ctl, uint32_t index)
{
    t->cfg = cfg;
    t->ctl = ctl;
    t->index = index;
    t->res.latency = malloc(sizeof(*t->res.latency));
    if (t->res.latency == NULL) {
        snprintf(t->res.first_error, sizeof(t->res.first_error), "out of memory");
        return -1;
    }
    hist_init(t->res.latency);
    if (cfg->tls && (t->tls_ctx = subtls_ctx_new(cfg->ca_file, cfg->tls_resume, t->res.first_error,
                                                 sizeof(t->res.first_error))) == NULL)
        return -1;
    int err = pthread_create(&t->tid, NULL, sub_main, t);
    if (err != 0) {
        snprintf(t->res.first_error, sizeof(t->res.first_error),
                 "cannot start a subscriber thread: %s", strerror(err));
        return -1;
    }
    t->started = true;
    return 0;
}

void sub_join(struct sub_thread *t)
{
    if (t->started)
        pthread_join(t->tid, NULL);
    t->started = false;
}

void sub_free(struct sub_thread *t)
{
    free(t->res.latency);
    t->res.latency = NULL;
    subtls_ctx_free(t->tls_ctx);
    t->tls_ctx = NULL;
}
