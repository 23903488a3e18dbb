/* bufring.h: a shard's provided-buffer ring for receives.
 *
 * The kernel picks a buffer from this ring only when data arrives, so an
 * idle connection owns no receive buffer at all. Each buffer goes back to
 * the ring as soon as its data is handled. liburing 2.3 has no
 * io_uring_setup_buf_ring, so the ring memory is mapped here and registered
 * with io_uring_register_buf_ring. */
#ifndef RC_BUFRING_H
#define RC_BUFRING_H

#include <liburing.h>
#include <stdint.h>

struct bufring {
    struct io_uring_buf_ring *ring;
    uint8_t *memory;
    uint32_t count;
    uint32_t size;
    uint16_t group;
    int pending; /* buffers put since the last bufring_publish */
};

/* bufring_setup registers |count| (a power of two) buffers of |size| bytes
 * as buffer group |group|. Returns 0 or -errno. */
int bufring_setup(struct bufring *b, struct io_uring *ring, uint16_t group, uint32_t count,
                  uint32_t size);

/* bufring_unmap frees the memory after the ring itself was torn down
 * (io_uring_queue_exit drops the registration). */
void bufring_unmap(struct bufring *b);

/* bufring_data returns the memory of buffer |id|. */
static inline uint8_t *bufring_data(const struct bufring *b, uint16_t id)
{
    return b->memory + (size_t)id * b->size;
}

/* bufring_put queues buffer |id| to go back to the kernel; bufring_publish
 * hands every queued buffer over at once (one release store). */
static inline void bufring_put(struct bufring *b, uint16_t id)
{
    io_uring_buf_ring_add(b->ring, bufring_data(b, id), b->size, id,
                          io_uring_buf_ring_mask(b->count), b->pending++);
}

static inline void bufring_publish(struct bufring *b)
{
    if (b->pending > 0) {
        io_uring_buf_ring_advance(b->ring, b->pending);
        b->pending = 0;
    }
}

/* bufring_recycle gives buffer |id| back to the kernel at once. */
static inline void bufring_recycle(struct bufring *b, uint16_t id)
{
    bufring_put(b, id);
    bufring_publish(b);
}

#endif
