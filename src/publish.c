/* publish.c: sequencing at a topic's home shard and routing between shards.
 *
 * A publish reaches its home either directly (the publisher's shard is the
 * home) or as a request through the request ring. The home assigns the
 * seq, builds the message once and sends the same pointer to every shard's
 * data ring (and delivers to its own subscribers itself); the result goes
 * back to the publisher's shard on the data ring.
 *
 * Room is checked before anything is sequenced: a full ring means waiting
 * (and being woken when the consumer makes room), never dropping. */
#include "shard.h"

#include <time.h>

#include "conn.h"
#include "fanout.h"
#include "msg.h"
#include "pubconn.h"
#include "pubreq.h"
#include "ringcast/protocol.h"
#include "server.h"

/* One publish puts at most two items on a data ring: the message, and the
 * result when that shard is the publisher's. */
#define ITEMS_PER_PUBLISH 2

unsigned shard_home_of(const struct shard *sh, uint64_t topic_hash)
{
    return (unsigned)(topic_hash % sh->srv->num_shards);
}

static int64_t wall_clock_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

bool shard_can_sequence(struct shard *sh)
{
    for (unsigned j = 0; j < sh->srv->num_shards; j++) {
        if (j == sh->id)
            continue;
        struct xring *r = server_data_ring(sh->srv, sh->id, j);
        if (!xring_has_space(r, ITEMS_PER_PUBLISH) && !xring_wait_for_space(r, ITEMS_PER_PUBLISH)) {
            sh->stats.ring_full++;
            return false;
        }
    }
    return true;
}

bool shard_has_ring_room(struct shard *sh, unsigned home)
{
    struct xring *r = server_request_ring(sh->srv, sh->id, home);
    if (xring_has_space(r, 1) || xring_wait_for_space(r, 1))
        return true;
    sh->stats.ring_full++;
    return false;
}

void shard_send_request(struct shard *sh, unsigned home, struct pubreq *req)
{
    xring_push(server_request_ring(sh->srv, sh->id, home), ring_item(req, ITEM_REQUEST));
    sh->ring_pushed[home] = true;
}

static void on_queued(void *ctx, struct conn *c)
{
    conn_mark_dirty(ctx, c);
}

static void on_overflow(void *ctx, struct conn *c)
{
    conn_add_work(ctx, c);
}

static void deliver_here(struct shard *sh, struct msg *m)
{
    const struct fanout_sink sink = {on_queued, on_overflow, sh};
    sh->stats.deliveries += fanout_deliver(&sh->index, m, sh->cfg->max_queued_bytes, &sink);
}

int shard_publish_local(struct shard *sh, const struct pubreq *req, uint64_t *out_seq,
                        uint8_t *out_ack_flags)
{
    *out_ack_flags = 0;
    enum home_result r =
        home_sequence(&sh->home, req->in.topic, req->in.topic_len, req->in.topic_hash, req->msg_id,
                      req->msg_id_len, sh->now_ms, out_seq);
    if (r == HOME_DUPLICATE) {
        *out_ack_flags = RC_ACK_DUPLICATE;
        return 0;
    }
    if (r == HOME_TOO_MANY_TOPICS)
        return RC_ERR_OVERLOADED;
    if (r != HOME_SEQUENCED)
        return RC_ERR_INTERNAL;
    unsigned num_shards = sh->srv->num_shards;
    struct msg *m = msg_new(&req->in, *out_seq, wall_clock_us(), num_shards);
    if (!m)
        return RC_ERR_INTERNAL;
    sh->stats.publishes++;
    for (unsigned j = 0; j < num_shards; j++) {
        if (j == sh->id)
            continue;
        xring_push(server_data_ring(sh->srv, sh->id, j), ring_item(m, ITEM_DELIVER));
        sh->ring_pushed[j] = true;
    }
    deliver_here(sh, m);
    return 0;
}

static bool sequence_request(struct shard *sh, struct pubreq *req)
{
    if (!shard_can_sequence(sh))
        return false;
    req->error = (uint16_t)shard_publish_local(sh, req, &req->seq, &req->ack_flags);
    xring_push(server_data_ring(sh->srv, sh->id, req->origin), ring_item(req, ITEM_RESULT));
    sh->ring_pushed[req->origin] = true;
    return true;
}

bool shard_handle_item(struct shard *sh, void *item)
{
    void *ptr = ring_item_ptr(item);
    switch (ring_item_kind(item)) {
    case ITEM_DELIVER:
        deliver_here(sh, ptr);
        return true;
    case ITEM_REQUEST:
        return sequence_request(sh, ptr);
    case ITEM_RESULT:
        pubconn_on_result(sh, ptr);
        return true;
    }
    return true;
}
