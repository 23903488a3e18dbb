/* shard.c: a shard's thread: set-up, the event loop, shutdown (see shard.h). */
#include "core/shard.h"

#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "util/alloc.h"
#include "core/conn.h"
#include "core/conntls.h"
#include "util/log.h"
#include "io/net.h"
#include "core/route.h"
#include "io/sockop.h"
#include "proto/wsdeflate.h"

#define TIMER_TICK_MS 50
#define LISTEN_BACKLOG 4096
#define ACCEPT_RETRY_MS 100 /* after running out of memory or files */
#define EXIT_GRACE_MS 1000  /* at exit: time for killed connections' requests to end */

static int64_t monotonic_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static int64_t monotonic_ms(void)
{
    return monotonic_ns() / 1000000;
}

/* Wake-ups. */

static void ring_doorbell(int fd)
{
    uint64_t one = 1;
    ssize_t ignored = write(fd, &one, sizeof(one));
    (void)ignored;
}

void shard_wake(struct shard *sh)
{
    ring_doorbell(sh->doorbell_fd);
}

void shard_wake_peer(struct shard *sh, unsigned target)
{
    if (!sh->feat.msg_ring) {
        ring_doorbell(sh->set->shards[target].doorbell_fd);
        return;
    }
    struct io_uring_sqe *sqe = uring_get_sqe(&sh->ring);
    io_uring_prep_msg_ring(sqe, sh->set->ring_fds[target], 0, uring_pack(OP_WAKE, 0, 0), 0);
    io_uring_sqe_set_data64(sqe, uring_pack(OP_IGNORE, 0, 0));
    sqe->flags |= IOSQE_CQE_SKIP_SUCCESS;
}

static void arm_doorbell(struct shard *sh)
{
    struct io_uring_sqe *sqe = uring_get_sqe(&sh->ring);
    io_uring_prep_read(sqe, sh->doorbell_fd, &sh->doorbell_value, sizeof(sh->doorbell_value), 0);
    io_uring_sqe_set_data64(sqe, uring_pack(OP_DOORBELL, 0, 0));
}

/* Accepting.
 *
 * An accept that finds the table of direct descriptors full has already
 * taken its connection off the listen backlog, and the kernel drops it:
 * the client sees a bare EOF or a reset instead of its refusal. So each
 * accept armed is promised a slot (|table_used|), and accepts are armed
 * only while the table has one free for each: in a burst past the limit,
 * once the refusals in flight hold every spare slot, connections wait in
 * the backlog until a refusal's close frees one. Hence one-shot accepts,
 * a few per listener: a multishot accept would take every connection
 * waiting. */

static bool table_has_room(const struct shard *sh)
{
    return sh->table_used < sh->table_slots;
}

/* arm_accepts arms accepts on the listeners in turn, up to ACCEPT_DEPTH
 * each, while the table has room. */
static void arm_accepts(struct shard *sh)
{
    if (sh->accept_paused || sh->draining)
        return;
    bool armed = true, wanted = false;
    while (armed) {
        armed = false;
        for (unsigned i = 0; i < sh->set->num_listeners; i++) {
            struct shard_listener *l = &sh->listeners[i];
            if (l->fd < 0 || l->accepts_armed >= ACCEPT_DEPTH)
                continue;
            if (!table_has_room(sh)) {
                wanted = true;
                break;
            }
            unsigned j = 0;
            while (l->accepts[j].armed)
                j++; /* one is free: fewer than ACCEPT_DEPTH are armed */
            struct shard_accept *a = &l->accepts[j];
            a->armed = true;
            a->addr_len = sizeof(a->addr);
            struct io_uring_sqe *sqe = uring_get_sqe(&sh->ring);
            sockop_prep_accept(sqe, l->fd, (struct sockaddr *)&a->addr, &a->addr_len);
            io_uring_sqe_set_data64(sqe, uring_pack(OP_ACCEPT, j, i));
            l->accepts_armed++;
            sh->table_used++;
            armed = true;
        }
    }
    /* Counted once per stall, however many iterations it lasts. */
    if (wanted && !sh->accept_stalled)
        counter_add(&sh->stats.accept_stalls, 1);
    sh->accept_stalled = wanted;
}

/* refuse answers a connection refused for |why| with what its listener's
 * kind says (written once at set-up: the bytes must outlive the send
 * requests that carry them) and closes it (refuse.h). */
static void refuse(struct shard *sh, unsigned which, int fd, enum conn_refusal why)
{
    const struct shard_listener *l = &sh->listeners[which];
    refuse_start(sh, fd, l->refusal[why], l->refusal_len[why]);
    if (why != CONN_REFUSE_CONNECTIONS)
        return; /* counted by the limit (limits.c) */
    counter_add(&sh->stats.refused, 1);
    if (counter_read(&sh->stats.refused) % 1000 == 1)
        log_warn("refusing connections: this shard holds its share of --max-connections (%u)",
                 sh->max_conns);
}

/* new_connection starts a connection accepted on listener |which| from
 * the peer address |a| (NULL when not known), or refuses it. */
static void new_connection(struct shard *sh, unsigned which, int fd, const struct shard_accept *a)
{
    const struct conn_ops *ops = sh->set->listeners[which].ops;
    struct keycount_entry *address = NULL;
    enum conn_refusal why = CONN_REFUSE_CONNECTIONS;
    if (sh->num_conns < sh->max_conns &&
        !limits_admit(sh, a ? &a->addr : NULL, a ? a->addr_len : 0, &address, &why)) {
        refuse(sh, which, fd, why);
        return;
    }
    struct conn *c = conn_new(sh, fd, ops);
    if (!c) {
        limits_unadmit(sh, address);
        refuse(sh, which, fd, CONN_REFUSE_CONNECTIONS);
        return;
    }
    limits_start(sh, c, address);
    counter_add(&sh->stats.accepted, 1);
    struct tls_server *tls = sh->set->listeners[which].tls;
    if (tls && conntls_start(sh, c, tls) != 0) {
        conn_kill(sh, c);
        return;
    }
    ops->start(sh, c);
    conn_arm_recv(sh, c);
}

/* on_accept takes an accept's completion. Its promised slot goes to the
 * connection or refusal (and is given back when the socket's close
 * completes), or back to the table when nothing was accepted. The loop
 * arms the next accepts at the end of the iteration. */
static void on_accept(struct shard *sh, uint64_t user_data, int res)
{
    unsigned which = uring_slot_of(user_data), i = uring_gen_of(user_data);
    if (which >= sh->set->num_listeners || i >= ACCEPT_DEPTH)
        return;
    struct shard_listener *l = &sh->listeners[which];
    struct shard_accept *a = &l->accepts[i];
    a->armed = false;
    l->accepts_armed--;
    if (res >= 0) {
        if (sh->draining)
            sockop_close(&sh->ring, res);
        else
            new_connection(sh, which, res, a);
        return;
    }
    sh->table_used--;
    if (res == -EMFILE || res == -ENFILE || res == -ENOBUFS || res == -ENOMEM) {
        log_warn("accept failed: %s; pausing accepts for %d ms", strerror(-res), ACCEPT_RETRY_MS);
        sh->accept_paused = true;
        sh->accept_resume_ms = sh->now_ms + ACCEPT_RETRY_MS;
    } else if (res != -ECANCELED && res != -EBADF) {
        log_debug("accept failed: %s", strerror(-res));
    }
}

/* Completions. */

static void handle_cqe(struct shard *sh, const struct io_uring_cqe *cqe)
{
    uint64_t ud = cqe->user_data;
    struct conn *c;
    switch (uring_op_of(ud)) {
    case OP_ACCEPT:
        on_accept(sh, ud, cqe->res);
        break;
    case OP_CLOSE:
        sh->table_used--;
        break;
    case OP_REFUSE:
        refuse_on_completion(sh, uring_slot_of(ud), uring_gen_of(ud), cqe->res);
        break;
    case OP_RECV:
        c = conn_lookup(sh, uring_slot_of(ud), uring_gen_of(ud));
        if (c)
            conn_on_recv(sh, c, cqe->res, cqe->flags);
        else if (cqe->flags & IORING_CQE_F_BUFFER)
            bufring_recycle(&sh->bufs, (uint16_t)(cqe->flags >> IORING_CQE_BUFFER_SHIFT));
        break;
    case OP_SEND:
        c = conn_lookup(sh, uring_slot_of(ud), uring_gen_of(ud));
        if (c)
            conn_on_send(sh, c, cqe->res);
        break;
    case OP_SOCKOP:
        c = conn_lookup(sh, uring_slot_of(ud), uring_gen_of(ud));
        if (c)
            conn_on_sockop(sh, c);
        break;
    case OP_DOORBELL:
        arm_doorbell(sh);
        break;
    case OP_WAKE: /* the rings are drained after the completions anyway */
    case OP_IGNORE:
    case OP_NONE:
        break;
    }
}

static void handle_completions(struct shard *sh)
{
    struct io_uring_cqe *cqe;
    unsigned head, count = 0;
    io_uring_for_each_cqe(&sh->ring, head, cqe)
    {
        handle_cqe(sh, cqe);
        count++;
    }
    io_uring_cq_advance(&sh->ring, count);
}

/* Rings. */

/* drain_ring handles the items in |r|; returns true when more arrived
 * while it worked (the loop must not sleep). */
static bool drain_ring(struct shard *sh, struct xring *r, unsigned producer)
{
    uint32_t budget = r->mask + 1; /* bound the time spent on one ring */
    bool blocked = false;
    for (;;) {
        void *item;
        while (budget > 0 && (item = xring_peek(r)) != NULL) {
            if (!route_handle_item(sh, item)) {
                blocked = true; /* woken when our outgoing rings have room */
                break;
            }
            xring_pop(r);
            budget--;
        }
        bool wake_producer = false;
        bool more = xring_consumer_release(r, &wake_producer);
        if (wake_producer)
            shard_wake_peer(sh, producer);
        if (!more || blocked)
            return false;
        if (budget == 0)
            return true;
    }
}

static void drain_rings(struct shard *sh)
{
    bool pending = false;
    for (unsigned j = 0; j < sh->set->num_shards; j++) {
        if (j == sh->id)
            continue;
        /* Data first: results and messages never wait, and handling them
         * frees room that requests may need. */
        pending |= drain_ring(sh, shard_set_data_ring(sh->set, j, sh->id), j);
        pending |= drain_ring(sh, shard_set_request_ring(sh->set, j, sh->id), j);
    }
    sh->rings_pending = pending;
}

static void publish_rings(struct shard *sh)
{
    for (unsigned j = 0; j < sh->set->num_shards; j++) {
        if (!sh->ring_pushed[j])
            continue;
        sh->ring_pushed[j] = false;
        bool wake = xring_publish(shard_set_data_ring(sh->set, sh->id, j));
        wake |= xring_publish(shard_set_request_ring(sh->set, sh->id, j));
        if (wake)
            shard_wake_peer(sh, j);
    }
}

/* Work, timers, flushing. */

/* resume goes on reading from a connection that paused or waited for room. */
static void resume(struct shard *sh, struct conn *c)
{
    if (c->ops->resume)
        c->ops->resume(sh, c);
    else
        c->flags &= ~(CONN_BLOCKED | CONN_READ_PAUSED);
}

static void run_work(struct shard *sh)
{
    struct conn *list = sh->work;
    sh->work = NULL;
    while (list) {
        struct conn *c = list;
        list = c->next_work;
        c->flags &= ~CONN_ON_WORK;
        conn_go_on_leaving(sh, c);
        if (c->state == CONN_DEAD) {
            conn_reap(sh, c);
            continue;
        }
        if ((c->flags & CONN_OVERFLOW) && c->state == CONN_OPEN)
            conn_close_slow(sh, c);
        if (c->flags & CONN_NEED_RECV) {
            c->flags &= ~CONN_NEED_RECV;
            conn_arm_recv(sh, c);
        }
        if ((c->flags & CONN_READ_PAUSED) && !(c->flags & CONN_OUTPUT_FULL))
            resume(sh, c);
    }
    list = sh->blocked;
    sh->blocked = NULL;
    while (list) {
        struct conn *c = list;
        list = c->next_work;
        if (c->state == CONN_OPEN) {
            resume(sh, c); /* may block again */
        } else {
            c->flags &= ~CONN_BLOCKED;
            conn_add_work(sh, c);
        }
    }
}

/* update_gauges publishes this shard's sizes for /metrics. */
static void update_gauges(struct shard *sh)
{
    atomic_store_explicit(&sh->stats.subscriptions, sh->index.subscriptions, memory_order_relaxed);
    atomic_store_explicit(&sh->stats.topics_subscribed, index_topic_count(&sh->index),
                          memory_order_relaxed);
    atomic_store_explicit(&sh->stats.topics_sequenced, home_topic_count(&sh->home),
                          memory_order_relaxed);
}

static void flush_list(struct shard *sh, struct conn **list)
{
    while (*list) {
        struct conn *c = *list;
        *list = c->next_dirty;
        c->flags &= ~CONN_DIRTY;
        if (c->state == CONN_DEAD)
            conn_reap(sh, c);
        else
            conn_flush(sh, c);
    }
}

/* Shutdown. */

static void close_listeners(struct shard *sh)
{
    for (unsigned i = 0; i < sh->set->num_listeners; i++) {
        struct shard_listener *l = &sh->listeners[i];
        if (l->fd < 0)
            continue;
        if (l->accepts_armed > 0) {
            struct io_uring_sqe *sqe = uring_get_sqe(&sh->ring);
            io_uring_prep_cancel64(sqe, uring_pack(OP_ACCEPT, 0, i), IORING_ASYNC_CANCEL_ALL);
            io_uring_sqe_set_data64(sqe, uring_pack(OP_IGNORE, 0, 0));
        }
        close(l->fd);
        l->fd = -1;
    }
}

static void start_drain(struct shard *sh)
{
    sh->draining = true;
    sh->drain_started = true;
    close_listeners(sh);
    for (uint32_t i = 0; i < sh->conns_cap; i++) {
        struct conn *c = sh->conns[i];
        if (!c || c->state != CONN_OPEN)
            continue;
        if (c->ops->drain)
            c->ops->drain(sh, c);
        else
            conn_kill(sh, c);
    }
}

/* check_phase follows the main thread's shutdown phases; returns true when
 * the loop must end. */
static bool check_phase(struct shard *sh, bool *reported_drained)
{
    int phase = shard_set_phase(sh->set);
    if (phase >= PHASE_DRAIN && !sh->drain_started)
        start_drain(sh);
    if (sh->drain_started && sh->num_conns == 0 && refuse_active(&sh->refusals) == 0 &&
        !*reported_drained) {
        *reported_drained = true;
        atomic_fetch_add_explicit(&sh->set->shards_drained, 1, memory_order_acq_rel);
    }
    return phase == PHASE_EXIT;
}

/* The loop. */

static void wait_for_work(struct shard *sh)
{
    if (sh->rings_pending || sh->work) {
        io_uring_submit_and_get_events(&sh->ring);
        return;
    }
    int64_t wait_ms = timer_wait_ms(&sh->timers, sh->now_ms);
    if (sh->exiting && (wait_ms < 0 || wait_ms > TIMER_TICK_MS))
        wait_ms = TIMER_TICK_MS;
    if (sh->accept_paused) {
        int64_t until = sh->accept_resume_ms - sh->now_ms;
        if (wait_ms < 0 || until < wait_ms)
            wait_ms = until > 0 ? until : 0;
    }
    struct io_uring_cqe *cqe;
    if (wait_ms < 0) {
        io_uring_submit_and_wait(&sh->ring, 1);
    } else {
        struct __kernel_timespec ts = {wait_ms / 1000, (wait_ms % 1000) * 1000000};
        io_uring_submit_and_wait_timeout(&sh->ring, &cqe, 1, &ts, NULL);
    }
}

/* count_turn counts a turn that began at |began_ns| (struct shard_stats). */
static void count_turn(struct shard *sh, int64_t began_ns)
{
    int64_t took_ns = monotonic_ns() - began_ns;
    counter_add(&sh->stats.turn_buckets[stats_turn_bucket(took_ns)], 1);
    counter_add(&sh->stats.turn_ns, (uint64_t)took_ns);
}

static void iterate(struct shard *sh)
{
    wait_for_work(sh);
    counter_add(&sh->stats.wakeups, 1);
    sh->turn++;
    int64_t began_ns = monotonic_ns();
    sh->now_ms = began_ns / 1000000;
    handle_completions(sh);
    drain_rings(sh);
    run_work(sh);
    timer_advance(&sh->timers, sh->now_ms, sh);
    home_expire(&sh->home, sh->now_ms);
    if (sh->accept_paused && sh->now_ms >= sh->accept_resume_ms)
        sh->accept_paused = false;
    arm_accepts(sh);
    flush_list(sh, &sh->dirty_first);
    flush_list(sh, &sh->dirty_other);
    publish_rings(sh);
    update_gauges(sh);
    count_turn(sh, began_ns);
}

static void run(struct shard *sh)
{
    bool reported_drained = false;
    arm_doorbell(sh);
    arm_accepts(sh);
    while (!check_phase(sh, &reported_drained))
        iterate(sh);

    /* Exit: end whatever did not close in time, and give the kernel a
     * moment to complete the requests of those connections. */
    sh->exiting = true;
    for (uint32_t i = 0; i < sh->conns_cap; i++)
        if (sh->conns[i])
            conn_kill(sh, sh->conns[i]);
    int64_t deadline = monotonic_ms() + EXIT_GRACE_MS;
    while ((sh->num_conns > 0 || refuse_active(&sh->refusals) > 0) && sh->now_ms < deadline)
        iterate(sh);
}

/* Set-up and tear-down. */

static void pin_to_cpu(struct shard *sh)
{
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET((int)(sh->id % (unsigned)(cpus > 0 ? cpus : 1)), &set);
    if (pthread_setaffinity_np(pthread_self(), sizeof(set), &set) != 0)
        log_warn("cannot pin to CPU %ld", (long)(sh->id % (unsigned)(cpus > 0 ? cpus : 1)));
}

/* open_listeners opens the listener table's sockets (SO_REUSEPORT) and
 * writes each one's refusal. */
static int open_listeners(struct shard *sh)
{
    for (unsigned i = 0; i < sh->set->num_listeners; i++) {
        const struct listener_spec *spec = &sh->set->listeners[i];
        struct shard_listener *l = &sh->listeners[i];
        l->fd = net_listen(spec->endpoint, LISTEN_BACKLOG);
        if (l->fd < 0) {
            log_error("cannot listen on %s: %s", spec->endpoint->text, strerror(-l->fd));
            return -1;
        }
        /* A refusal in plaintext means nothing to a TLS client: it only
         * sees the connection close. */
        for (int why = 0; why < CONN_NUM_REFUSALS; why++)
            l->refusal_len[why] =
                spec->ops->write_refusal && !spec->tls
                    ? spec->ops->write_refusal(l->refusal[why], sizeof(l->refusal[why]), why)
                    : 0;
    }
    return 0;
}

static int setup(struct shard *sh)
{
    const struct rc_config *cfg = sh->cfg;
    unsigned num_shards = sh->set->num_shards;
    for (unsigned i = 0; i < SHARD_MAX_LISTENERS; i++)
        sh->listeners[i].fd = -1;
    sh->doorbell_fd = -1;
    if (cfg->pin_shards)
        pin_to_cpu(sh);
    int ret = uring_setup(&sh->ring, cfg->uring_entries, &sh->feat);
    if (ret != 0) {
        log_error("io_uring_setup failed: %s", strerror(-ret));
        return -1;
    }
    sh->ring_ready = true;
    sh->max_conns = (cfg->max_connections + num_shards - 1) / num_shards;
    sh->table_slots = sh->max_conns + SOCKOP_TABLE_SLACK;
    limits_init(sh);
    ret = sockop_register_table(&sh->ring, sh->table_slots);
    if (ret != 0) {
        log_error("cannot register a table of %u direct descriptors (needs Linux 5.19 or later, "
                  "and RLIMIT_NOFILE at least as large): %s",
                  sh->table_slots, strerror(-ret));
        return -1;
    }
    refuse_init(&sh->refusals);
    ret = bufring_setup(&sh->bufs, &sh->ring, 0, cfg->recv_buffers, cfg->recv_buffer_size);
    if (ret != 0) {
        log_error("cannot register the receive buffer ring (needs Linux 5.19 or later): %s",
                  strerror(-ret));
        return -1;
    }
    sh->doorbell_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (sh->doorbell_fd < 0) {
        log_error("eventfd: %s", strerror(errno));
        return -1;
    }
    if (open_listeners(sh) != 0)
        return -1;
    sh->ring_pushed = rc_calloc(num_shards, sizeof(bool));
    sh->shard_wants = rc_calloc(num_shards, sizeof(bool));
    if (!sh->ring_pushed || !sh->shard_wants)
        return -1;
    sh->now_ms = monotonic_ms();
    index_init(&sh->index);
    sh->index.interest = &sh->interest;
    home_init(&sh->home, cfg->max_topics, cfg->dedup_entries, (int64_t)cfg->dedup_seconds * 1000);
    home_init_history(&sh->home, cfg->history_size, cfg->history_ttl_ms, cfg->history_bytes,
                      &sh->stats.history);
    timer_wheel_init(&sh->timers, sh->now_ms, TIMER_TICK_MS);
    sh->set->ring_fds[sh->id] = sh->ring.ring_fd;
    if (sh->id == 0) {
        char features[256];
        uring_describe(&sh->feat, features, sizeof(features));
        log_info("io_uring: %s", features);
    }
    return 0;
}

static void teardown(struct shard *sh)
{
    ws_deflate_thread_cleanup();
    if (sh->ring_ready)
        io_uring_queue_exit(&sh->ring); /* no request is left after this, nor any socket */
    sh->ring_ready = false;
    conn_free_all(sh);
    limits_cleanup(sh);
    bufring_unmap(&sh->bufs);
    for (unsigned i = 0; i < SHARD_MAX_LISTENERS; i++)
        if (sh->listeners[i].fd >= 0)
            close(sh->listeners[i].fd);
    index_cleanup(&sh->index);
    home_cleanup(&sh->home);
    rc_free(sh->conns);
    rc_free(sh->free_slots);
    rc_free(sh->ring_pushed);
    rc_free(sh->shard_wants);
}

static void *shard_main(void *arg)
{
    struct shard *sh = arg;
    char name[16];
    snprintf(name, sizeof(name), "shard %u", sh->id);
    rc_log_set_thread_name(name);
    pthread_setname_np(pthread_self(), name);

    bool ok = setup(sh) == 0;
    if (!ok)
        atomic_store(&sh->set->setup_failed, 1);
    pthread_barrier_wait(&sh->set->setup_done);
    if (ok && !atomic_load(&sh->set->setup_failed))
        run(sh);
    teardown(sh);
    return NULL;
}

int shard_start(struct shard_set *set, unsigned id)
{
    struct shard *sh = &set->shards[id];
    sh->set = set;
    sh->cfg = set->cfg;
    sh->auth = set->auth;
    sh->id = id;
    return pthread_create(&sh->thread, NULL, shard_main, sh);
}

void shard_cleanup(struct shard *sh)
{
    if (sh->doorbell_fd >= 0)
        close(sh->doorbell_fd);
    sh->doorbell_fd = -1;
}
