/* sendq.h: a connection's queue of bytes to send, held by reference.
 *
 * An entry points at a shared message encoding (held through the shard's
 * struct lref, never copied), at static bytes every connection shares
 * (heartbeats, pings), or at a small buffer the queue owns (control
 * replies, publish acknowledgements; consecutive small replies are packed
 * into one such buffer). The queue hands out up to IOV_MAX
 * entries as one iovec array, so every queued frame of a connection leaves
 * in a single sendmsg; one send is in flight at a time, which keeps order.
 *
 * An idle queue owns no memory. */
#ifndef RC_SENDQ_H
#define RC_SENDQ_H

#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

struct lref;

struct sendq_entry {
    const uint8_t *data;
    uint32_t len;
    uint32_t sent;   /* bytes of this entry already on the wire */
    uintptr_t owner; /* struct lref *, struct sendq_buf * tagged in bit 0, or 0 (static) */
};

struct sendq {
    struct sendq_entry *entries; /* circular, |cap| a power of two */
    uint32_t head;
    uint32_t count;
    uint32_t cap;
    uint32_t inflight; /* entries from |head| handed to the send in flight */
    uint64_t bytes;    /* queued bytes not yet sent */
};

/* sendq_push_shared queues |len| bytes at |data| owned by the message
 * behind |ref|, and counts one more hold on |ref|. Returns 0 or -1. */
int sendq_push_shared(struct sendq *q, struct lref *ref, const uint8_t *data, uint32_t len);

/* sendq_push_static queues |len| bytes that live as long as the process. */
int sendq_push_static(struct sendq *q, const uint8_t *data, uint32_t len);

/* sendq_push_copy queues a copy of |len| bytes. Returns 0 or -1. */
int sendq_push_copy(struct sendq *q, const void *data, size_t len);

/* sendq_fill_iov describes up to |max| queued entries in |iov|, marks them
 * in flight and returns how many (0 when the queue is empty). */
int sendq_fill_iov(struct sendq *q, struct iovec *iov, int max);

/* sendq_complete accounts for a send of the in-flight entries that wrote
 * |bytes| (a short send leaves the rest queued) and releases what was sent. */
void sendq_complete(struct sendq *q, size_t bytes);

/* sendq_drop_unsent drops entries that are neither in flight nor partly
 * sent (a frame is never cut in the middle). */
void sendq_drop_unsent(struct sendq *q);

/* sendq_clear releases every entry and frees the queue's memory. */
void sendq_clear(struct sendq *q);

/* sendq_head_partial reports whether the first entry is partly sent. */
int sendq_head_partial(const struct sendq *q);

#endif
