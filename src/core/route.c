/* route.c: sequencing at a topic's home shard and routing between shards
 * (see route.h). */
#include "core/route.h"

#include <time.h>

#include "pubsub/audience.h"
#include "core/conn.h"
#include "core/fanout.h"
#include "pubsub/interest.h"
#include "pubsub/msg.h"
#include "core/pubreq.h"
#include "ringcast/protocol.h"
#include "core/ringitem.h"
#include "core/shard.h"
#include "pubsub/seam.h"
/* One publish puts at most two items on a data ring: the message, and the
 * result when that shard is the publisher's. */
#define ITEMS_PER_PUBLISH 2

unsigned route_home_of(const struct shard *sh, uint64_t topic_hash)
{
    return (unsigned)(topic_hash % sh->set->num_shards);
}

static int64_t wall_clock_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* can_sequence reports whether every outgoing ring has room for the
 * messages and acknowledgement one publish may produce. When not, it
 * registers for a wake-up from the consumer. */
static bool can_sequence(struct shard *sh)
{
    for (unsigned j = 0; j < sh->set->num_shards; j++) {
        if (j == sh->id)
            continue;
        struct xring *r = shard_set_data_ring(sh->set, sh->id, j);
        if (!xring_has_space(r, ITEMS_PER_PUBLISH) && !xring_wait_for_space(r, ITEMS_PER_PUBLISH)) {
            counter_add(&sh->stats.ring_full, 1);
            return false;
        }
    }
    return true;
}

bool route_has_room(struct shard *sh, unsigned home)
{
    if (home == sh->id)
        return can_sequence(sh);
    struct xring *r = shard_set_request_ring(sh->set, sh->id, home);
    if (xring_has_space(r, 1) || xring_wait_for_space(r, 1))
        return true;
    counter_add(&sh->stats.ring_full, 1);
    return false;
}

void route_send_request(struct shard *sh, unsigned home, struct pubreq *req)
{
    xring_push(shard_set_request_ring(sh->set, sh->id, home), ring_item(req, ITEM_REQUEST));
    sh->ring_pushed[home] = true;
}

static void on_queued(void *ctx, struct conn *c)
{
    struct shard *sh = ctx;
    counter_add(&sh->stats.deliveries[c->ops->stats_kind], 1);
    conn_mark_dirty(sh, c);
}

static void on_overflow(void *ctx, struct conn *c)
{
    conn_add_work(ctx, c);
}

static void deliver_here(struct shard *sh, struct msg *m)
{
    const struct fanout_sink sink = {on_queued, on_overflow, sh};
    fanout_deliver(&sh->index, m, sh->cfg->max_queued_bytes, &sink);
}

int route_publish_at_home(struct shard *sh, struct pubreq *req, uint64_t *out_seq,
                          uint8_t *out_ack_flags)
{
    *out_ack_flags = 0;
    struct home_topic *topic = NULL;
    enum home_result r =
        home_sequence_topic(&sh->home, req->in.topic, req->in.topic_len, req->in.topic_hash,
                            req->msg_id, req->msg_id_len, sh->now_ms, out_seq, &topic);
    if (r == HOME_DUPLICATE) {
        counter_add(&sh->stats.duplicates, 1);
        *out_ack_flags = RC_ACK_DUPLICATE;
        return 0;
    }
    if (r == HOME_TOO_MANY_TOPICS)
        return RC_ERR_OVERLOADED;
    if (r != HOME_SEQUENCED)
        return RC_ERR_INTERNAL;
    struct msg_policy policy = {sh->cfg->max_payload, (enum truncate_mode)sh->cfg->truncate_mode};
    if (req->in.max_payload)
        policy.max_payload = req->in.max_payload; /* the event's own (a Pusher app's) */
    bool oversized = req->in.payload_len > policy.max_payload;
    /* Only shards whose summary says they may want the topic get it: the
     * others are not woken. */
    unsigned num_shards = sh->set->num_shards;
    struct interest_query query;
    if (num_shards > 1)
        interest_query_init(&query, req->in.topic, req->in.topic_len, req->in.topic_hash);
    bool *wants = sh->shard_wants;
    uint32_t holders = 2; /* this shard, and the history */
    for (unsigned j = 0; j < num_shards; j++) {
        wants[j] = j != sh->id && interest_may_want(&sh->set->shards[j].interest, &query);
        holders += wants[j];
    }
    req->in.epoch = home_topic_epoch(topic);
    struct msg *m = msg_new(&req->in, &policy, *out_seq, wall_clock_us(), holders);
    if (!m)
        return RC_ERR_INTERNAL;
    m->audience = req->audience; /* before anyone else sees the message */
    req->audience = NULL;
    counter_add(&sh->stats.publishes, 1);
    if (oversized)
        counter_add(m->ws_frame ? &sh->stats.truncated : &sh->stats.dropped, 1);
    for (unsigned j = 0; j < num_shards; j++) {
        if (!wants[j])
            continue;
        xring_push(shard_set_data_ring(sh->set, sh->id, j), ring_item(m, ITEM_DELIVER));
        sh->ring_pushed[j] = true;
    }
    home_hold(&sh->home, topic, m, sh->now_ms);
    deliver_here(sh, m);
    return 0;
}

void route_ask_at_home(struct shard *sh, struct pubreq *req)
{
    const struct msg_input *in = &req->in;
    counter_add(&sh->stats.history.replays, 1);
    if (req->op == PUBREQ_FETCH) {
        req->fetched =
            home_fetch(&sh->home, in->topic, in->topic_len, in->topic_hash, req->seq, sh->now_ms);
        return;
    }
    uint64_t since = req->seq;
    if (req->op == PUBREQ_RESUME) {
        const struct seam_position pos = {req->since_epoch, req->seq};
        since =
            seam_home_since(&pos, home_open(&sh->home, in->topic, in->topic_len, in->topic_hash));
    }
    req->history_failed = home_replay(&sh->home, in->topic, in->topic_len, in->topic_hash, since,
                                      req->limit, sh->now_ms, &req->replay) != 0;
}

static bool handle_request(struct shard *sh, struct pubreq *req)
{
    if (!can_sequence(sh))
        return false;
    if (req->op != PUBREQ_PUBLISH)
        route_ask_at_home(sh, req);
    else
        req->error = (uint16_t)route_publish_at_home(sh, req, &req->seq, &req->ack_flags);
    xring_push(shard_set_data_ring(sh->set, sh->id, req->origin), ring_item(req, ITEM_RESULT));
    sh->ring_pushed[req->origin] = true;
    return true;
}

static void handle_result(struct shard *sh, struct pubreq *req)
{
    struct conn *c = conn_lookup(sh, req->conn_slot, req->conn_gen);
    if (c && c->ops->on_result)
        c->ops->on_result(sh, c, req);
    pubreq_free(req); /* with the results not taken: the connection is gone */
}

bool route_handle_item(struct shard *sh, void *item)
{
    void *ptr = ring_item_ptr(item);
    switch (ring_item_kind(item)) {
    case ITEM_DELIVER:
        counter_add(&sh->stats.ring_messages, 1);
        deliver_here(sh, ptr);
        return true;
    case ITEM_REQUEST:
        return handle_request(sh, ptr);
    case ITEM_RESULT:
        handle_result(sh, ptr);
        return true;
    }
    return true;
}
