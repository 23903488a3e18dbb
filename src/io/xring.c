/* xring.c: single-producer/single-consumer pointer ring (see xring.h). */
#include "io/xring.h"

#include <string.h>

#include "util/alloc.h"

int xring_init(struct xring *r, uint32_t capacity)
{
    memset(r, 0, sizeof(*r));
    if (capacity == 0 || (capacity & (capacity - 1)) != 0)
        return -1;
    r->slots = rc_calloc(capacity, sizeof(void *));
    if (!r->slots)
        return -1;
    r->mask = capacity - 1;
    return 0;
}

void xring_cleanup(struct xring *r)
{
    rc_free(r->slots);
    r->slots = NULL;
}

static uint32_t free_slots_cached(const struct xring *r)
{
    return (r->mask + 1) - (r->prod_tail - r->prod_head_cache);
}

bool xring_has_space(struct xring *r, uint32_t need)
{
    if (free_slots_cached(r) >= need)
        return true;
    r->prod_head_cache = atomic_load_explicit(&r->head, memory_order_acquire);
    return free_slots_cached(r) >= need;
}

void xring_push(struct xring *r, void *item)
{
    r->slots[r->prod_tail & r->mask] = item;
    r->prod_tail++;
}

bool xring_publish(struct xring *r)
{
    uint32_t before = r->prod_published;
    if (before == r->prod_tail)
        return false;
    r->prod_published = r->prod_tail;
    atomic_store_explicit(&r->tail, r->prod_tail, memory_order_release);
    /* Pairs with the fence in xring_consumer_release: either the consumer
     * sees the new tail, or we see that it had consumed up to |before|. */
    atomic_thread_fence(memory_order_seq_cst);
    uint32_t head = atomic_load_explicit(&r->head, memory_order_acquire);
    r->prod_head_cache = head;
    return head == before;
}

bool xring_wait_for_space(struct xring *r, uint32_t need)
{
    if (xring_has_space(r, need))
        return true;
    atomic_store_explicit(&r->producer_waiting, 1, memory_order_relaxed);
    atomic_thread_fence(memory_order_seq_cst);
    r->prod_head_cache = atomic_load_explicit(&r->head, memory_order_acquire);
    if (free_slots_cached(r) >= need) {
        atomic_store_explicit(&r->producer_waiting, 0, memory_order_relaxed);
        return true;
    }
    return false;
}

void *xring_peek(struct xring *r)
{
    if (r->cons_head == r->cons_tail_cache) {
        r->cons_tail_cache = atomic_load_explicit(&r->tail, memory_order_acquire);
        if (r->cons_head == r->cons_tail_cache)
            return NULL;
    }
    return r->slots[r->cons_head & r->mask];
}

void xring_pop(struct xring *r)
{
    r->cons_head++;
}

bool xring_consumer_release(struct xring *r, bool *out_wake_producer)
{
    atomic_store_explicit(&r->head, r->cons_head, memory_order_release);
    atomic_thread_fence(memory_order_seq_cst);
    *out_wake_producer = false;
    if (atomic_load_explicit(&r->producer_waiting, memory_order_relaxed) &&
        atomic_exchange_explicit(&r->producer_waiting, 0, memory_order_relaxed))
        *out_wake_producer = true;
    r->cons_tail_cache = atomic_load_explicit(&r->tail, memory_order_acquire);
    return r->cons_tail_cache != r->cons_head;
}
