/* xring.h: a bounded single-producer/single-consumer ring of pointers.
 *
 * One ring per ordered pair of shards carries messages, publish requests and
 * their acknowledgements. The producer fills slots privately and publishes
 * them in one release store per loop iteration (xring_publish); the consumer
 * drains and then releases the slots in one store (xring_consumer_release).
 *
 * Sleeping without missed wake-ups: a consumer sleeps in io_uring only after
 * xring_consumer_release says nothing arrived meanwhile; a producer wakes it
 * when xring_publish says the consumer had caught up with everything before
 * this batch. Both checks sit behind a sequentially consistent fence (the
 * Dekker pattern), so at least one side sees the other's store.
 *
 * Full ring: the producer calls xring_wait_for_space; when it returns false
 * the consumer will see the waiting flag after its next release and wake the
 * producer. Nothing is ever dropped. */
#ifndef RC_XRING_H
#define RC_XRING_H

#include <stdalign.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

struct xring {
    /* Written by the producer, read by the consumer. */
    alignas(64) _Atomic uint32_t tail;
    _Atomic uint32_t producer_waiting;
    /* Written by the consumer, read by the producer. */
    alignas(64) _Atomic uint32_t head;
    /* Producer-private. */
    alignas(64) uint32_t prod_tail; /* next slot to fill */
    uint32_t prod_head_cache;       /* last head seen */
    uint32_t prod_published;        /* tail as last published */
    /* Consumer-private. */
    alignas(64) uint32_t cons_head; /* next slot to read */
    uint32_t cons_tail_cache;       /* last tail seen */
    /* Immutable. */
    alignas(64) uint32_t mask;
    void **slots;
};

/* xring_init allocates |capacity| slots (a power of two). Returns 0 or -1. */
int xring_init(struct xring *r, uint32_t capacity);

/* xring_cleanup frees the slots (items still inside are the caller's). */
void xring_cleanup(struct xring *r);

/* Producer side. */

/* xring_has_space reports whether |need| items can be pushed now (it reads
 * the consumer's position only when the cached one says no). */
bool xring_has_space(struct xring *r, uint32_t need);

/* xring_push stores |item| in the next slot; the caller checked there is
 * room. The consumer sees it after xring_publish. */
void xring_push(struct xring *r, void *item);

/* xring_publish makes pushed items visible. Returns true when the consumer
 * may be asleep without having seen them, so the producer must wake it. */
bool xring_publish(struct xring *r);

/* xring_wait_for_space registers the producer as waiting for |need| free
 * slots. Returns true if the space is already there (the flag is cleared
 * again); false means the consumer will wake the producer. */
bool xring_wait_for_space(struct xring *r, uint32_t need);

/* Consumer side. */

/* xring_peek returns the next item without taking it, or NULL. */
void *xring_peek(struct xring *r);

/* xring_pop takes the item xring_peek returned. */
void xring_pop(struct xring *r);

/* xring_consumer_release gives the popped slots back to the producer.
 * Returns true when more items arrived meanwhile (drain again before
 * sleeping). Sets |*out_wake_producer| when the producer was waiting for
 * space and must be woken. */
bool xring_consumer_release(struct xring *r, bool *out_wake_producer);

#endif
