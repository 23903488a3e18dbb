/* limits.c: a shard's limits on what clients hold and do (see limits.h). */
#include "core/limits.h"

#include "io/net.h"
#include "pubsub/claims.h"
#include "core/shard.h"
#include "util/stats.h"

/* How often idle subjects are looked for, while there are any. */
#define SWEEP_MS 1000

/* A token sub's rate buckets (the data of its keycount entry). */
struct subject_use {
    struct tokenbucket subscribe;
    struct tokenbucket publish;
};

const char *conn_refusal_text(enum conn_refusal why)
{
    switch (why) {
    case CONN_REFUSE_HANDSHAKES:
        return "too many handshakes in progress";
    case CONN_REFUSE_ADDRESS:
        return "too many connections from this address";
    case CONN_REFUSE_CONNECTIONS:
    default:
        return "too many connections";
    }
}

static void on_sweep(void *ctx, struct timer_node *node)
{
    struct shard *sh = ctx;
    struct shard_limits *l = &sh->limits;
    keycount_sweep(&l->subjects, sh->now_ms);
    if (l->subjects.num_idle > 0)
        timer_arm(&sh->timers, node, sh->now_ms + SWEEP_MS);
}

static uint32_t share(unsigned limit, unsigned num_shards)
{
    return (uint32_t)(((uint64_t)limit + num_shards - 1) / num_shards);
}

void limits_init(struct shard *sh)
{
    struct shard_limits *l = &sh->limits;
    const struct rc_config *cfg = sh->cfg;
    unsigned n = sh->set->num_shards;
    keycount_init(&l->addresses, sh->max_conns, 0);
    keycount_init(&l->subjects, sh->max_conns, sizeof(struct subject_use));
    l->per_address = share(cfg->max_connections_per_ip, n);
    l->per_subject = share(cfg->max_connections_per_sub, n);
    l->subscribe_share = tokenbucket_share(&cfg->subscribe_rate_sub, n);
    l->publish_share = tokenbucket_share(&cfg->publish_rate_sub, n);
    timer_node_init(&l->sweep, on_sweep);
}

void limits_cleanup(struct shard *sh)
{
    keycount_cleanup(&sh->limits.addresses);
    keycount_cleanup(&sh->limits.subjects);
}

static void count(struct shard *sh, enum stats_limit which)
{
    counter_add(&sh->stats.limited[which], 1);
}

bool limits_admit(struct shard *sh, const struct sockaddr_storage *addr, socklen_t addr_len,
                  struct keycount_entry **out_address, enum conn_refusal *why)
{
    struct shard_limits *l = &sh->limits;
    *out_address = NULL;
    if (l->handshakes >= sh->cfg->max_handshakes) {
        count(sh, STATS_LIMIT_HANDSHAKES);
        *why = CONN_REFUSE_HANDSHAKES;
        return false;
    }
    uint8_t key[NET_ADDRESS_KEY_MAX];
    size_t key_len = l->per_address && addr_len ? net_address_key(addr, addr_len, key) : 0;
    if (key_len == 0)
        return true;
    struct keycount_entry *e = keycount_acquire(&l->addresses, key, key_len, sh->now_ms);
    if (!e) { /* out of memory: the table itself holds no more than the connections */
        *why = CONN_REFUSE_CONNECTIONS;
        return false;
    }
    if (e->count > l->per_address) {
        keycount_release(&l->addresses, e, 0, sh->now_ms);
        count(sh, STATS_LIMIT_CONNECTIONS_PER_IP);
        *why = CONN_REFUSE_ADDRESS;
        return false;
    }
    *out_address = e;
    return true;
}

void limits_start(struct shard *sh, struct conn *c, struct keycount_entry *address)
{
    c->limits.address = address;
    c->flags |= CONN_HANDSHAKE;
    sh->limits.handshakes++;
    counter_add(&sh->stats.handshakes, 1);
}

void limits_unadmit(struct shard *sh, struct keycount_entry *address)
{
    if (address)
        keycount_release(&sh->limits.addresses, address, 0, sh->now_ms);
}

void limits_handshake_done(struct shard *sh, struct conn *c)
{
    if (!(c->flags & CONN_HANDSHAKE))
        return;
    c->flags &= ~CONN_HANDSHAKE;
    sh->limits.handshakes--;
    counter_sub(&sh->stats.handshakes, 1);
}

/* subject_full_at is when a sub's buckets are both full again: its entry
 * may be forgotten from then on. */
static int64_t subject_full_at(struct shard *sh, struct keycount_entry *e)
{
    struct subject_use *u = keycount_data(e);
    int64_t a = tokenbucket_full_at(&u->subscribe, &sh->limits.subscribe_share, sh->now_ms);
    int64_t b = tokenbucket_full_at(&u->publish, &sh->limits.publish_share, sh->now_ms);
    return a > b ? a : b;
}

static void release_subject(struct shard *sh, struct keycount_entry *e)
{
    struct shard_limits *l = &sh->limits;
    keycount_release(&l->subjects, e, subject_full_at(sh, e), sh->now_ms);
    if (l->subjects.num_idle > 0 && !timer_is_armed(&l->sweep))
        timer_arm(&sh->timers, &l->sweep, sh->now_ms + SWEEP_MS);
}

/* acquire_subject finds or makes the entry of |claims|' sub: NULL with
 * |*out| filled when the table is full, NULL alone when there is no sub. */
static struct keycount_entry *acquire_subject(struct shard *sh, const struct claims *claims,
                                              struct limits_refusal *out, bool *refused)
{
    *refused = false;
    if (!claims || claims->sub.len == 0)
        return NULL;
    struct keycount_entry *e =
        keycount_acquire(&sh->limits.subjects, claims->sub.s, claims->sub.len, sh->now_ms);
    if (!e) {
        count(sh, STATS_LIMIT_SUBJECTS);
        *out = (struct limits_refusal){true, "too many token subjects on this shard", 1000};
        *refused = true;
    }
    return e;
}

bool limits_hold_subject(struct shard *sh, struct conn *c, const struct claims *claims,
                         struct limits_refusal *out)
{
    if (c->limits.subject)
        return true;
    bool refused;
    struct keycount_entry *e = acquire_subject(sh, claims, out, &refused);
    if (!e)
        return !refused;
    uint32_t max = sh->limits.per_subject;
    if (max && e->count > max) {
        release_subject(sh, e);
        count(sh, STATS_LIMIT_CONNECTIONS_PER_SUB);
        *out = (struct limits_refusal){
            false, "too many connections with this token's sub (--max-connections-per-sub)", 0};
        return false;
    }
    c->limits.subject = e;
    return true;
}

/* One kind of rate: per connection, and per sub. */
struct rate_kind {
    const struct tokenbucket_rate *conn_rate;
    const struct tokenbucket_rate *sub_share;
    size_t bucket_offset; /* of the sub's bucket in struct subject_use */
    enum stats_limit conn_stat, sub_stat;
    const char *conn_message, *sub_message;
};

/* take takes one token of |k| from |bucket| and the sub's bucket, or
 * neither. A connection that holds no sub entry (HTTP requests: each
 * brings its own token) uses one for the moment, kept afterwards until it
 * refilled. */
static bool take(struct shard *sh, struct conn *c, struct tokenbucket *bucket,
                 const struct rate_kind *k, struct limits_refusal *out)
{
    int64_t now = sh->now_ms;
    struct keycount_entry *e = c->limits.subject;
    bool borrowed = false;
    if (!e && k->sub_share->per_sec) {
        bool refused;
        e = acquire_subject(sh, c->claims, out, &refused);
        if (refused)
            return false;
        borrowed = e != NULL;
    }
    struct tokenbucket *sub =
        e ? (struct tokenbucket *)((char *)keycount_data(e) + k->bucket_offset) : NULL;
    int64_t conn_wait = tokenbucket_wait_ms(bucket, k->conn_rate, now, 1);
    int64_t sub_wait = sub ? tokenbucket_wait_ms(sub, k->sub_share, now, 1) : 0;
    bool ok = conn_wait == 0 && sub_wait == 0;
    if (ok) {
        tokenbucket_take(bucket, k->conn_rate, now, 1);
        if (sub)
            tokenbucket_take(sub, k->sub_share, now, 1);
    } else {
        bool by_conn = conn_wait != 0;
        int64_t wait = conn_wait > sub_wait ? conn_wait : sub_wait;
        count(sh, by_conn ? k->conn_stat : k->sub_stat);
        *out = (struct limits_refusal){false, by_conn ? k->conn_message : k->sub_message,
                                       wait > UINT32_MAX ? UINT32_MAX : (uint32_t)wait};
    }
    if (borrowed)
        release_subject(sh, e);
    return ok;
}

bool limits_take_subscribe(struct shard *sh, struct conn *c, struct tokenbucket *bucket,
                           struct limits_refusal *out)
{
    const struct rate_kind k = {
        &sh->cfg->subscribe_rate_conn,
        &sh->limits.subscribe_share,
        offsetof(struct subject_use, subscribe),
        STATS_LIMIT_SUBSCRIBE_RATE,
        STATS_LIMIT_SUBSCRIBE_RATE_SUB,
        "subscription changes over --subscribe-rate-per-conn",
        "subscription changes over this token's sub's share of --subscribe-rate-per-sub",
    };
    return take(sh, c, bucket, &k, out);
}

bool limits_take_publish(struct shard *sh, struct conn *c, struct tokenbucket *bucket,
                         struct limits_refusal *out)
{
    const struct rate_kind k = {
        &sh->cfg->publish_rate_conn,
        &sh->limits.publish_share,
        offsetof(struct subject_use, publish),
        STATS_LIMIT_PUBLISH_RATE,
        STATS_LIMIT_PUBLISH_RATE_SUB,
        "publishes over --publish-rate-per-conn",
        "publishes over this token's sub's share of --publish-rate-per-sub",
    };
    return take(sh, c, bucket, &k, out);
}

bool limits_reserve_body(struct shard *sh, struct conn *c, size_t len, struct limits_refusal *out)
{
    struct shard_limits *l = &sh->limits;
    if (c->limits.body_bytes > 0)
        return true;
    if (len > sh->cfg->max_body_buffer_bytes - l->body_bytes) {
        count(sh, STATS_LIMIT_BODY_BUFFER);
        *out = (struct limits_refusal){
            true, "request bodies being received on this shard are at --max-body-buffer-bytes",
            1000};
        return false;
    }
    c->limits.body_bytes = (uint32_t)len;
    l->body_bytes += len;
    counter_add(&sh->stats.body_buffer_bytes, len);
    return true;
}

void limits_release_body(struct shard *sh, struct conn *c)
{
    uint32_t len = c->limits.body_bytes;
    if (len == 0)
        return;
    c->limits.body_bytes = 0;
    sh->limits.body_bytes -= len;
    counter_sub(&sh->stats.body_buffer_bytes, len);
}

void limits_release(struct shard *sh, struct conn *c)
{
    limits_handshake_done(sh, c);
    limits_release_body(sh, c);
    if (c->limits.address)
        keycount_release(&sh->limits.addresses, c->limits.address, 0, sh->now_ms);
    if (c->limits.subject)
        release_subject(sh, c->limits.subject);
    c->limits.address = c->limits.subject = NULL;
}
