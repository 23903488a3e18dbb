/* fake_shard.h: shards without io_uring, for unit tests of the shard-level
 * code (the connection base, routing, publishing).
 *
 * fake_set_init builds a real struct shard_set (shard_set_init) and sets up
 * each shard the way src/core/shard.c setup() does, minus everything that needs
 * the kernel: no ring (ring_ready stays false, so releasing a connection
 * closes no socket), no provided buffers, no listeners, no doorbell.
 * Connections made with conn_new on such a shard work as long as nothing
 * submits a request: conn_kill only cancels requests that are flagged as
 * in flight (CONN_RECV_ARMED, CONN_SEND_ACTIVE), and those are never set
 * here.
 *
 * It also has a connection kind whose functions record their calls
 * (fake_ops, fake_first_ops), for checking what the base and the routing
 * dispatch. Include after cmocka.h. */
#ifndef RC_TESTS_FAKE_SHARD_H
#define RC_TESTS_FAKE_SHARD_H

#include <stdio.h>
#include <string.h>

#include "util/alloc.h"
#include "pubsub/claims.h"
#include "util/config.h"
#include "core/conn.h"
#include "util/hash.h"
#include "pubsub/msg.h"
#include "pubsub/pubcheck.h"
#include "core/pubreq.h"
#include "core/ringitem.h"
#include "core/shard.h"
#include "core/shardset.h"
#include "util/stats.h"
#include "io/xring.h"

#define FAKE_NOW_MS 1000000
#define FAKE_TICK_MS 50

#define FAKE_UNUSED __attribute__((unused))

struct fake_set {
    struct rc_config cfg;
    struct shard_set set;
};

/* fake_set_init makes |num_shards| shards with rings of |ring_size| slots,
 * on the configuration's defaults (change fs->cfg before, through
 * fake_set_init_cfg, for other limits). */
static inline void fake_set_init_cfg(struct fake_set *fs, unsigned num_shards, unsigned ring_size,
                                     const struct rc_config *cfg)
{
    memset(fs, 0, sizeof(*fs));
    fs->cfg = *cfg;
    fs->set.cfg = &fs->cfg;
    assert_int_equal(shard_set_init(&fs->set, num_shards, ring_size), 0);
    for (unsigned i = 0; i < num_shards; i++) {
        struct shard *sh = &fs->set.shards[i];
        sh->set = &fs->set;
        sh->cfg = &fs->cfg;
        sh->id = i;
        for (unsigned l = 0; l < SHARD_MAX_LISTENERS; l++)
            sh->listeners[l].fd = -1;
        sh->doorbell_fd = -1;
        sh->max_conns = (fs->cfg.max_connections + num_shards - 1) / num_shards;
        sh->ring_pushed = rc_calloc(num_shards, sizeof(bool));
        sh->shard_wants = rc_calloc(num_shards, sizeof(bool));
        assert_non_null(sh->ring_pushed);
        assert_non_null(sh->shard_wants);
        sh->now_ms = FAKE_NOW_MS;
        index_init(&sh->index);
        sh->index.interest = &sh->interest;
        home_init(&sh->home, fs->cfg.max_topics, fs->cfg.dedup_entries,
                  (int64_t)fs->cfg.dedup_seconds * 1000);
        home_init_history(&sh->home, fs->cfg.history_size, fs->cfg.history_ttl_ms,
                          fs->cfg.history_bytes, &sh->stats.history);
        timer_wheel_init(&sh->timers, sh->now_ms, FAKE_TICK_MS);
    }
}

static inline void fake_set_init(struct fake_set *fs, unsigned num_shards, unsigned ring_size)
{
    struct rc_config cfg;
    config_defaults(&cfg);
    fake_set_init_cfg(fs, num_shards, ring_size, &cfg);
}

/* fake_set_cleanup frees the connections, each shard's tables, the rings
 * with what is published in them, and the shards. */
static inline void fake_set_cleanup(struct fake_set *fs)
{
    for (unsigned i = 0; i < fs->set.num_shards; i++) {
        struct shard *sh = &fs->set.shards[i];
        conn_free_all(sh);
        index_cleanup(&sh->index);
        home_cleanup(&sh->home);
        rc_free(sh->conns);
        rc_free(sh->free_slots);
        rc_free(sh->ring_pushed);
        rc_free(sh->shard_wants);
    }
    shard_set_cleanup(&fs->set);
}

static inline struct shard *fake_shard(struct fake_set *fs, unsigned id)
{
    return &fs->set.shards[id];
}

/* fake_topic_homed writes to |out| a topic "<prefix><n>" whose home among
 * |num_shards| shards is |home|. */
static inline const char *fake_topic_homed(char *out, size_t cap, const char *prefix,
                                           unsigned num_shards, unsigned home)
{
    for (unsigned n = 0; n < 10000; n++) {
        int len = snprintf(out, cap, "%s%u", prefix, n);
        if (rc_hash(out, (size_t)len) % num_shards == home)
            return out;
    }
    fail_msg("no topic with home %u", home);
    return NULL;
}

/* fake_reap frees |c| once it is DEAD, doing for it what the shard loop's
 * work and dirty lists would (take it off them); the lists must hold
 * nothing else. Returns conn_reap's answer. */
static inline bool fake_reap(struct shard *sh, struct conn *c)
{
    if (c->flags & CONN_ON_WORK) {
        assert_ptr_equal(sh->work, c);
        assert_null(c->next_work);
        sh->work = NULL;
        c->flags &= ~CONN_ON_WORK;
    }
    if (c->flags & CONN_DIRTY) {
        struct conn **list = c->ops->flush_first ? &sh->dirty_first : &sh->dirty_other;
        assert_ptr_equal(*list, c);
        assert_null(c->next_dirty);
        *list = NULL;
        c->flags &= ~CONN_DIRTY;
    }
    return conn_reap(sh, c);
}

/* fake_ring_take publishes ring |r| (as the producer's loop iteration
 * would) and takes its next item, or NULL. */
static inline void *fake_ring_take(struct xring *r)
{
    xring_publish(r);
    void *item = xring_peek(r);
    if (item)
        xring_pop(r);
    return item;
}

/* fake_ring_count publishes |r| and counts the items waiting in it. */
static inline uint32_t fake_ring_count(struct xring *r)
{
    xring_publish(r);
    return atomic_load(&r->tail) - r->cons_head;
}

/* fake_msg makes a small message of |topic| with |refs| holders. */
static inline struct msg *fake_msg(const char *topic, uint64_t seq, uint32_t refs)
{
    static const struct msg_policy whole = {UINT64_MAX, TRUNCATE_STUB};
    struct msg_input in = {
        .topic = topic,
        .topic_len = strlen(topic),
        .topic_hash = rc_hash(topic, strlen(topic)),
        .payload_is_json = true,
        .payload = (const uint8_t *)"{}",
        .payload_len = 2,
    };
    struct msg *m = msg_new(&in, &whole, seq, 1768905000000000, refs);
    assert_non_null(m);
    return m;
}

/* fake_fields are the fields of a publish of |payload| (JSON) to |topic|. */
static inline struct publish_fields fake_fields(const char *topic, const char *payload)
{
    struct publish_fields f = {
        .topic = topic,
        .topic_len = strlen(topic),
        .payload_is_json = true,
        .payload = (const uint8_t *)payload,
        .payload_len = strlen(payload),
    };
    return f;
}

/* fake_publish_req makes a heap publish request (pubreq_copy) of |payload|
 * (JSON) to |topic| from connection |c| on shard |origin|; |msg_id| may be
 * NULL. */
static inline struct pubreq *fake_publish_req(const struct conn *c, unsigned origin, uint32_t corr,
                                              const char *topic, const char *payload,
                                              const char *msg_id)
{
    struct publish_fields f = fake_fields(topic, payload);
    f.msg_id = msg_id;
    f.msg_id_len = msg_id ? strlen(msg_id) : 0;
    struct pubcheck_refs refs;
    memset(&refs, 0, sizeof(refs));
    struct pubreq req;
    pubreq_init(&req, c, corr, origin, &f, rc_hash(topic, strlen(topic)), &refs);
    struct pubreq *copy = pubreq_copy(&req);
    assert_non_null(copy);
    return copy;
}

/* fake_claims parses a token's claims (a JSON object). */
static inline struct claims *fake_claims(const char *json)
{
    const char *reason = NULL;
    struct claims *c = claims_parse(json, strlen(json), &reason);
    if (!c)
        fail_msg("claims %s: %s", json, reason);
    return c;
}

/* A connection kind that records what is called. */

struct fake_calls {
    int on_timer;
    int on_result;
    int release;
    struct conn *last_conn;
    struct shard *last_shard;
    unsigned char kind_state_at_release; /* kind_state[0] when release was called */
    /* The last result. */
    uint32_t corr;
    uint16_t error;
    uint8_t ack_flags;
    uint8_t op;
    uint64_t seq;
    struct msg *fetched; /* taken over from the request: the test releases it */
};

static struct fake_calls fake_calls FAKE_UNUSED;

static inline void fake_calls_reset(void)
{
    memset(&fake_calls, 0, sizeof(fake_calls));
}

static inline void fake_on_timer(struct shard *sh, struct conn *c)
{
    fake_calls.on_timer++;
    fake_calls.last_shard = sh;
    fake_calls.last_conn = c;
}

static inline void fake_on_result(struct shard *sh, struct conn *c, struct pubreq *req)
{
    fake_calls.on_result++;
    fake_calls.last_shard = sh;
    fake_calls.last_conn = c;
    fake_calls.corr = req->corr;
    fake_calls.error = req->error;
    fake_calls.ack_flags = req->ack_flags;
    fake_calls.op = req->op;
    fake_calls.seq = req->seq;
    if (fake_calls.fetched)
        msg_release(fake_calls.fetched);
    fake_calls.fetched = req->fetched;
    req->fetched = NULL;
}

static inline void fake_release(struct conn *c)
{
    fake_calls.release++;
    fake_calls.last_conn = c;
    fake_calls.kind_state_at_release = c->kind_state[0];
}

/* A subscriber-like kind: counted as WebSocket, queues the WebSocket frame. */
static const struct conn_ops fake_ops FAKE_UNUSED = {
    .name = "fake",
    .stats_kind = STATS_WEBSOCKET,
    .encoding = CONN_ENC_WS_FRAME,
    .on_timer = fake_on_timer,
    .on_result = fake_on_result,
    .release = fake_release,
};

/* A publisher-like kind: flushed first, counted as a publisher. */
static const struct conn_ops fake_first_ops FAKE_UNUSED = {
    .name = "fake-first",
    .stats_kind = STATS_PUBLISHER,
    .flush_first = true,
    .on_timer = fake_on_timer,
    .on_result = fake_on_result,
    .release = fake_release,
};

/* A kind with no functions at all. */
static const struct conn_ops fake_bare_ops FAKE_UNUSED = {
    .name = "bare",
    .stats_kind = STATS_HTTP,
};

static inline uint64_t fake_connections(struct shard *sh, enum stats_protocol kind)
{
    return counter_read(&sh->stats.connections[kind]);
}

/* For cmocka: fake_set_new allocates a set (|cfg| NULL: the defaults) and
 * clears the recorder; fake_set_free frees the set and a fetched message
 * the recorder still holds. */
static inline struct fake_set *fake_set_new(unsigned num_shards, unsigned ring_size,
                                            const struct rc_config *cfg)
{
    struct fake_set *fs = rc_malloc(sizeof(*fs));
    assert_non_null(fs);
    if (cfg) {
        fake_set_init_cfg(fs, num_shards, ring_size, cfg);
    } else {
        fake_set_init(fs, num_shards, ring_size);
    }
    fake_calls_reset();
    return fs;
}

/* fake_set_new_keeping makes a set whose homes keep events larger than
 * |max_payload| for fetching (--max-payload). */
static inline struct fake_set *fake_set_new_keeping(unsigned num_shards, unsigned ring_size,
                                                    uint64_t max_payload)
{
    struct rc_config cfg;
    config_defaults(&cfg);
    cfg.max_payload = max_payload;
    return fake_set_new(num_shards, ring_size, &cfg);
}

/* fake_new_fetch makes a heap PUBREQ_FETCH of message |seq| of |topic|. */
static inline struct pubreq *fake_new_fetch(const struct conn *c, unsigned origin,
                                            const char *topic, size_t topic_len,
                                            uint64_t topic_hash, uint64_t seq)
{
    const struct pubreq_ask ask = {.op = PUBREQ_FETCH,
                                   .topic = topic,
                                   .topic_len = topic_len,
                                   .topic_hash = topic_hash,
                                   .seq = seq};
    return pubreq_new_ask(c, origin, &ask);
}

/* fake_fetch_at_home returns the held message |seq| of |topic| at its home
 * |sh| with a reference, or NULL. */
static inline struct msg *fake_fetch_at_home(struct shard *sh, const char *topic, size_t topic_len,
                                             uint64_t topic_hash, uint64_t seq)
{
    return home_fetch(&sh->home, topic, topic_len, topic_hash, seq, sh->now_ms);
}

static inline void fake_set_free(struct fake_set *fs)
{
    fake_set_cleanup(fs);
    if (fake_calls.fetched)
        msg_release(fake_calls.fetched);
    fake_calls.fetched = NULL;
    rc_free(fs);
}

static inline int fake_teardown(void **state)
{
    fake_set_free(*state);
    return 0;
}

#endif
