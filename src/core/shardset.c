/* shardset.c: allocating and freeing what the shards share (see shardset.h). */
#include "core/shardset.h"

#include "util/alloc.h"
#include "pubsub/msg.h"
#include "core/pubreq.h"
#include "core/ringitem.h"
#include "core/shard.h"

void ring_item_release(void *item)
{
    void *ptr = ring_item_ptr(item);
    if (ring_item_kind(item) == ITEM_DELIVER) {
        msg_release(ptr);
        return;
    }
    pubreq_free(ptr); /* with a fetch result its origin never took */
}

int shard_set_init(struct shard_set *set, unsigned num_shards, unsigned ring_size)
{
    set->num_shards = num_shards;
    size_t n = (size_t)num_shards * num_shards;
    set->shards = rc_calloc(num_shards, sizeof(struct shard));
    set->ring_fds = rc_calloc(num_shards, sizeof(int));
    set->data_rings = rc_calloc(n, sizeof(struct xring));
    set->request_rings = rc_calloc(n, sizeof(struct xring));
    if (!set->shards || !set->ring_fds || !set->data_rings || !set->request_rings)
        return -1;
    for (size_t i = 0; i < n; i++)
        if (xring_init(&set->data_rings[i], ring_size) != 0 ||
            xring_init(&set->request_rings[i], ring_size) != 0)
            return -1;
    return 0;
}

static void destroy_rings(struct xring *rings, size_t n)
{
    if (!rings)
        return;
    for (size_t i = 0; i < n; i++) {
        void *item;
        if (rings[i].slots)
            while ((item = xring_peek(&rings[i])) != NULL) {
                ring_item_release(item);
                xring_pop(&rings[i]);
            }
        xring_cleanup(&rings[i]);
    }
    rc_free(rings);
}

void shard_set_cleanup(struct shard_set *set)
{
    size_t n = (size_t)set->num_shards * set->num_shards;
    destroy_rings(set->data_rings, n);
    destroy_rings(set->request_rings, n);
    rc_free(set->shards);
    rc_free(set->ring_fds);
    set->data_rings = set->request_rings = NULL;
    set->shards = NULL;
    set->ring_fds = NULL;
}
