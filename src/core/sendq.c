/* sendq.c: per-connection send queue (see sendq.h). */
#include "core/sendq.h"

#include <string.h>

#include "util/alloc.h"
#include "pubsub/msg.h"

#define SENDQ_MIN_CAP 8
#define SENDQ_BUF_MIN 128 /* smallest owned buffer: room for a few later replies */
#define OWNER_BUF ((uintptr_t)1)

struct sendq_buf {
    uint32_t cap;
    uint8_t data[];
};

static struct sendq_entry *entry_at(const struct sendq *q, uint32_t i)
{
    return &q->entries[(q->head + i) & (q->cap - 1)];
}

static int reserve_one(struct sendq *q)
{
    if (q->count < q->cap)
        return 0;
    uint32_t cap = q->cap ? q->cap * 2 : SENDQ_MIN_CAP;
    struct sendq_entry *entries = rc_malloc(cap * sizeof(*entries));
    if (!entries)
        return -1;
    for (uint32_t i = 0; i < q->count; i++)
        entries[i] = *entry_at(q, i);
    rc_free(q->entries);
    q->entries = entries;
    q->cap = cap;
    q->head = 0;
    return 0;
}

static void release_owner(uintptr_t owner)
{
    if (owner == 0)
        return; /* static bytes */
    if (owner & OWNER_BUF)
        rc_free((void *)(owner & ~OWNER_BUF));
    else
        lref_put((struct lref *)owner);
}

static void push_entry(struct sendq *q, const uint8_t *data, uint32_t len, uintptr_t owner)
{
    *entry_at(q, q->count) = (struct sendq_entry){data, len, 0, owner};
    q->count++;
    q->bytes += len;
}

int sendq_push_shared(struct sendq *q, struct lref *ref, const uint8_t *data, uint32_t len)
{
    if (reserve_one(q) != 0)
        return -1;
    ref->count++;
    push_entry(q, data, len, (uintptr_t)ref);
    return 0;
}

int sendq_push_static(struct sendq *q, const uint8_t *data, uint32_t len)
{
    if (reserve_one(q) != 0)
        return -1;
    push_entry(q, data, len, 0);
    return 0;
}

int sendq_push_copy(struct sendq *q, const void *data, size_t len)
{
    if (q->count > q->inflight) {
        /* Append to the last owned buffer if it is not being sent. */
        struct sendq_entry *last = entry_at(q, q->count - 1);
        if (last->owner & OWNER_BUF) {
            struct sendq_buf *buf = (struct sendq_buf *)(last->owner & ~OWNER_BUF);
            if (buf->cap - last->len >= len) {
                memcpy(buf->data + last->len, data, len);
                last->len += (uint32_t)len;
                q->bytes += len;
                return 0;
            }
        }
    }
    if (len > UINT32_MAX - sizeof(struct sendq_buf) || reserve_one(q) != 0)
        return -1;
    uint32_t cap = len > SENDQ_BUF_MIN ? (uint32_t)len : SENDQ_BUF_MIN;
    struct sendq_buf *buf = rc_malloc(sizeof(*buf) + cap);
    if (!buf)
        return -1;
    buf->cap = cap;
    memcpy(buf->data, data, len);
    push_entry(q, buf->data, (uint32_t)len, (uintptr_t)buf | OWNER_BUF);
    return 0;
}

int sendq_fill_iov(struct sendq *q, struct iovec *iov, int max)
{
    int n = 0;
    while (n < max && (uint32_t)n < q->count) {
        struct sendq_entry *e = entry_at(q, (uint32_t)n);
        iov[n].iov_base = (void *)(e->data + e->sent);
        iov[n].iov_len = e->len - e->sent;
        n++;
    }
    q->inflight = (uint32_t)n;
    return n;
}

static void pop_head(struct sendq *q)
{
    struct sendq_entry *e = entry_at(q, 0);
    release_owner(e->owner);
    q->head = (q->head + 1) & (q->cap - 1);
    q->count--;
}

/* An emptied queue gives its array back: idle connections are the many, and
 * an allocation per burst costs far less than the send that drained it. */
static void shrink_if_empty(struct sendq *q)
{
    if (q->count == 0 && q->cap > 0) {
        rc_free(q->entries);
        q->entries = NULL;
        q->cap = 0;
        q->head = 0;
    }
}

void sendq_complete(struct sendq *q, size_t bytes)
{
    q->bytes -= bytes;
    while (q->inflight > 0) {
        struct sendq_entry *e = entry_at(q, 0);
        size_t left = e->len - e->sent;
        if (bytes < left) {
            e->sent += (uint32_t)bytes;
            break;
        }
        bytes -= left;
        pop_head(q);
        q->inflight--;
    }
    q->inflight = 0;
    shrink_if_empty(q);
}

int sendq_head_partial(const struct sendq *q)
{
    return q->count > 0 && entry_at(q, 0)->sent > 0;
}

void sendq_drop_unsent(struct sendq *q)
{
    uint32_t keep = q->inflight;
    if (keep == 0 && sendq_head_partial(q))
        keep = 1;
    while (q->count > keep) {
        struct sendq_entry *e = entry_at(q, q->count - 1);
        q->bytes -= e->len - e->sent;
        release_owner(e->owner);
        q->count--;
    }
    shrink_if_empty(q);
}

void sendq_clear(struct sendq *q)
{
    while (q->count > 0)
        pop_head(q);
    rc_free(q->entries);
    memset(q, 0, sizeof(*q));
}
