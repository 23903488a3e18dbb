/* pub.c: the publisher loop, open or closed (see pub.h). */
#include "pub.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "payload.h"
#include "topics.h"

#define OPEN_LOOP_MAX_INFLIGHT 4096
/* Open loop with sends less than OPEN_LOOP_BATCH_BELOW_NS apart: replies
 * are read once OPEN_LOOP_REPLY_BATCH are due, not with one wake-up each (a
 * wake-up costs the generator more than the read). Slower, each reply is
 * read when it comes, so that ACKs are counted in time. */
#define OPEN_LOOP_REPLY_BATCH 32
#define OPEN_LOOP_BATCH_BELOW_NS NS_PER_MS
#define EMPTY_SLOT UINT32_MAX

/* What the publisher loop keeps: requests in flight by id. */
struct pub_run {
    struct pub_thread *p;
    const struct config *cfg;
    void *conn;
    const struct pub_transport *tr;
    uint32_t *slots;      /* id & mask -> topic, EMPTY_SLOT when free */
    uint64_t *slot_seqs;  /* --target nchan|nats: id & mask -> the seq in the payload */
    uint64_t *topic_seqs; /* --target nchan|nats: the last seq given, per topic */
    uint32_t mask;
    uint32_t inflight, max_inflight;
    uint32_t *my_topics; /* the topics this publisher takes in turn */
    uint32_t num_topics, next_topic;
    uint8_t *payload;
    uint64_t counter; /* the payload's "n" */
};

static void set_error(struct pub_thread *p, const char *fmt, const char *detail)
{
    if (p->first_error[0] == '\0')
        snprintf(p->first_error, sizeof(p->first_error), fmt, detail);
}

int pub_connect(struct pub_thread *p, const struct config *cfg, struct control *ctl, uint32_t index)
{
    memset(p, 0, sizeof(*p));
    p->cfg = cfg;
    p->ctl = ctl;
    p->index = index;
    p->transport = cfg->target == TARGET_NATS ? &pubnats_transport
                   : cfg->http_publish        ? &pubhttp_transport
                                              : &pubbin_transport;
    p->published = calloc(cfg->topics.count, sizeof(*p->published));
    p->late = malloc(sizeof(*p->late));
    if (p->published == NULL || p->late == NULL) {
        set_error(p, "%s", "out of memory");
        return -1;
    }
    hist_init(p->late);
    char err[sizeof(p->first_error)];
    p->conn = p->transport->connect(cfg, err, sizeof(err));
    if (p->conn == NULL) {
        set_error(p, "%s", err);
        p->failed = true;
        return -1;
    }
    return 0;
}

/* topics_of lists the topics of publisher |index|: k = index, index+P, ...
 * (with more publishers than topics, publisher p takes topic p % K). */
static uint32_t *topics_of(const struct config *cfg, uint32_t index, uint32_t *out_count)
{
    uint32_t k0 = index % cfg->topics.count;
    uint32_t step = cfg->publishers < cfg->topics.count ? cfg->publishers : cfg->topics.count;
    uint32_t n = (cfg->topics.count - k0 + step - 1) / step;
    uint32_t *v = malloc(n * sizeof(*v));

    if (v == NULL)
        return NULL;
    for (uint32_t i = 0; i < n; i++)
        v[i] = k0 + i * step;
    *out_count = n;
    return v;
}

/* record_ack widens the topic's range of published seqs. */
static void record_ack(struct topic_range *r, uint64_t seq)
{
    if (r->first == 0 || seq < r->first)
        r->first = seq;
    if (seq > r->last)
        r->last = seq;
    r->count++;
}

/* handle_reply matches one reply to its publish. */
static void handle_reply(struct pub_run *run, const struct pub_reply *reply)
{
    struct pub_thread *p = run->p;
    uint32_t *slot = &run->slots[reply->id & run->mask];

    if (*slot == EMPTY_SLOT) {
        set_error(p, "%s", "the server answered a request that is not in flight");
        p->nacked++;
        return;
    }
    uint32_t topic = *slot;
    *slot = EMPTY_SLOT;
    run->inflight--;
    if (!reply->ok) {
        p->nacked++;
        set_error(p, "the server refused a publish: %s", reply->error);
        return;
    }
    /* nchan and NATS number nothing: the seq is the one the payload carries. */
    uint64_t seq = run->slot_seqs ? run->slot_seqs[reply->id & run->mask] : reply->seq;
    record_ack(&p->published[topic], seq);
    p->acked++;
    atomic_store_explicit(&p->acked_progress, p->acked, memory_order_relaxed);
    uint64_t now = clock_now_ns();
    if (now >= p->ctl->window_start_ns && now < p->ctl->window_end_ns)
        p->acked_in_window++;
    cpu_window_tick(&p->cpu, now, p->ctl->window_start_ns, p->ctl->window_end_ns);
}

/* read_one reads a reply (waiting for it) and handles it; false when the
 * connection failed. */
static bool read_one(struct pub_run *run)
{
    struct pub_reply reply;

    if (run->tr->read_reply(run->conn, &reply) < 0) {
        set_error(run->p, "publisher connection: %s", run->tr->error(run->conn));
        run->p->failed = true;
        return false;
    }
    handle_reply(run, &reply);
    return true;
}

/* read_ready handles every reply that is already buffered. */
static bool read_ready(struct pub_run *run)
{
    while (run->inflight > 0 && run->tr->reply_ready(run->conn))
        if (!read_one(run))
            return false;
    return true;
}

/* send_one queues a publish stamped |t_ns|. Returns 1 when sent, 0 when
 * its id's slot is still busy (wait for replies), -1 on failure. */
static int send_one(struct pub_run *run, uint64_t t_ns)
{
    uint32_t topic = run->my_topics[run->next_topic];
    char name[TOPIC_MAX_LEN + 1];
    size_t name_len = topics_name(&run->cfg->topics, topic, name);
    uint32_t id;
    uint64_t seq = run->topic_seqs ? run->topic_seqs[topic] + 1 : 0;

    payload_format(run->payload, run->cfg->size, run->counter, seq, t_ns);
    if (run->tr->send(run->conn, name, name_len, run->payload, run->cfg->size, &id) < 0) {
        set_error(run->p, "publisher connection: %s", run->tr->error(run->conn));
        run->p->failed = true;
        return -1;
    }
    uint32_t *slot = &run->slots[id & run->mask];
    if (*slot != EMPTY_SLOT) {
        /* Only when a reply is long overdue: the id space wrapped around
         * onto it. Count it as an error rather than confuse the two. */
        set_error(run->p, "%s", "request ids wrapped onto a publish still unanswered");
        run->p->failed = true;
        return -1;
    }
    *slot = topic;
    if (run->topic_seqs) {
        run->topic_seqs[topic] = seq;
        run->slot_seqs[id & run->mask] = seq;
    }
    run->inflight++;
    run->counter++;
    run->p->sent++;
    run->next_topic = (run->next_topic + 1) % run->num_topics;
    return 1;
}

static void closed_loop(struct pub_run *run)
{
    uint64_t end = run->p->ctl->window_end_ns;

    while (clock_now_ns() < end) {
        while (run->inflight < run->max_inflight)
            if (send_one(run, clock_now_ns()) < 0)
                return;
        if (!read_one(run) || !read_ready(run))
            return;
    }
}

/* wait_reply flushes and waits until |deadline|, for a reply too when
 * |want_reply|, and reads the replies that came; false on failure. */
static bool wait_reply(struct pub_run *run, uint64_t deadline, bool want_reply)
{
    if (run->tr->flush(run->conn) < 0) {
        set_error(run->p, "publisher connection: %s", run->tr->error(run->conn));
        run->p->failed = true;
        return false;
    }
    want_reply = want_reply && run->inflight > 0;
    if (want_reply && run->tr->reply_ready(run->conn))
        return read_ready(run);
    uint64_t now = clock_now_ns();
    if (now >= deadline)
        return true;
    struct pollfd pfd = {.fd = run->tr->fd(run->conn), .events = want_reply ? POLLIN : 0};
    struct timespec ts = clock_timespec(deadline - now);
    int r = ppoll(&pfd, 1, &ts, NULL);
    if (r > 0 && want_reply)
        return read_one(run) && read_ready(run);
    return r >= 0 || errno == EINTR;
}

static void open_loop(struct pub_run *run)
{
    struct pub_thread *p = run->p;
    uint64_t end = p->ctl->window_end_ns;
    double interval = 1e9 * p->cfg->publishers / p->cfg->rate;
    uint64_t start = p->ctl->run_start_ns;
    /* Stagger the publishers inside one interval. */
    double next = (double)start + interval * p->index / p->cfg->publishers;

    for (uint64_t now = clock_now_ns(); now < end; now = clock_now_ns()) {
        while ((uint64_t)next <= now && (uint64_t)next < end && run->inflight < run->max_inflight) {
            if (now >= p->ctl->window_start_ns)
                hist_record(p->late, now - (uint64_t)next);
            if (send_one(run, (uint64_t)next) < 0)
                return;
            next += interval;
        }
        uint64_t wake = (uint64_t)next < end ? (uint64_t)next : end;
        if (run->inflight >= run->max_inflight)
            wake = now + 100 * NS_PER_MS; /* behind: only replies make room */
        bool want_reply = interval >= OPEN_LOOP_BATCH_BELOW_NS ||
                          run->inflight >= OPEN_LOOP_REPLY_BATCH ||
                          run->inflight >= run->max_inflight;
        if (!wait_reply(run, wake, want_reply))
            return;
    }
}

/* collect reads the replies still due after publishing stopped. */
static void collect(struct pub_run *run)
{
    while (run->inflight > 0)
        if (!read_one(run))
            return;
}

static void *pub_main(void *arg)
{
    struct pub_thread *p = arg;
    const struct config *cfg = p->cfg;
    struct pub_run run = {.p = p, .cfg = cfg, .conn = p->conn, .tr = p->transport};

    uint32_t server_max = run.tr->max_window(run.conn);
    run.max_inflight = cfg->rate > 0 ? OPEN_LOOP_MAX_INFLIGHT : cfg->window;
    if (server_max > 0 && run.max_inflight > server_max)
        run.max_inflight = server_max;
    uint32_t slots = 16;
    while (slots < 4 * run.max_inflight)
        slots *= 2;
    run.mask = slots - 1;
    run.slots = malloc(slots * sizeof(*run.slots));
    run.payload = malloc(cfg->size);
    run.my_topics = topics_of(cfg, p->index, &run.num_topics);
    if (cfg->target != TARGET_RINGCAST) {
        /* nchan and NATS number nothing. Each topic has one publisher (flags.c: --publishers <=
         * --topics), which numbers its events 1, 2, 3, ... */
        run.slot_seqs = calloc(slots, sizeof(*run.slot_seqs));
        run.topic_seqs = calloc(cfg->topics.count, sizeof(*run.topic_seqs));
        if (run.slot_seqs == NULL || run.topic_seqs == NULL) {
            set_error(p, "%s", "out of memory");
            p->failed = true;
            goto out;
        }
    }
    if (run.slots == NULL || run.payload == NULL || run.my_topics == NULL) {
        set_error(p, "%s", "out of memory");
        p->failed = true;
        goto out;
    }
    memset(run.slots, 0xff, slots * sizeof(*run.slots));
    run.counter = (uint64_t)p->index << 40;
    if (cfg->rate > 0)
        open_loop(&run);
    else
        closed_loop(&run);
    cpu_window_tick(&p->cpu, clock_now_ns(), p->ctl->window_start_ns, p->ctl->window_end_ns);
    if (!p->failed)
        collect(&run);
out:
    free(run.slots);
    free(run.payload);
    free(run.my_topics);
    free(run.slot_seqs);
    free(run.topic_seqs);
    return NULL;
}

int pub_start(struct pub_thread *p)
{
    int err = pthread_create(&p->tid, NULL, pub_main, p);

    if (err != 0) {
        set_error(p, "cannot start a publisher thread: %s", strerror(err));
        return -1;
    }
    p->started = true;
    return 0;
}

void pub_join(struct pub_thread *p)
{
    if (p->started)
        pthread_join(p->tid, NULL);
    p->started = false;
}

void pub_free(struct pub_thread *p)
{
    if (p->conn != NULL)
        p->transport->free(p->conn);
    p->conn = NULL;
    free(p->published);
    p->published = NULL;
    free(p->late);
    p->late = NULL;
}
