/* history.c: per-topic rings of held messages under shard-wide bounds
 * (see history.h). */
#include "pubsub/history.h"

#include <assert.h>
#include <string.h>

#include "util/alloc.h"
#include "pubsub/msg.h"

#define RING_FIRST_CAP 4

struct history_entry {
    struct history_entry *older, *newer; /* the shard's list, by age */
    struct history_ring *ring;
    struct msg *msg;
    int64_t expires_ms;
    uint64_t size;
};

void history_init(struct history *h, uint32_t max_per_topic, int64_t ttl_ms, uint64_t max_bytes,
                  struct history_stats *stats)
{
    memset(h, 0, sizeof(*h));
    h->max_per_topic = max_per_topic;
    h->ttl_ms = ttl_ms;
    h->max_bytes = max_bytes;
    h->stats = stats;
}

uint64_t history_msg_size(const struct msg *m)
{
    return sizeof(struct msg) + sizeof(struct history_entry) + m->topic_len + m->full_json_len +
           m->ws_frame_len + m->sse_record_len;
}

static struct history_entry *ring_at(const struct history_ring *r, uint32_t i)
{
    return r->slots[(r->head + i) % r->cap];
}

static void unlink_entry(struct history *h, struct history_entry *e)
{
    if (e->older)
        e->older->newer = e->newer;
    else
        h->oldest = e->newer;
    if (e->newer)
        e->newer->older = e->older;
    else
        h->newest = e->older;
}

/* drop_front lets go of the oldest message of |r|. */
static void drop_front(struct history *h, struct history_ring *r, enum stats_eviction cause)
{
    struct history_entry *e = ring_at(r, 0);
    r->slots[r->head] = NULL;
    r->head = (r->head + 1) % r->cap;
    r->count--;
    unlink_entry(h, e);
    h->bytes -= e->size;
    counter_sub(&h->stats->msgs, 1);
    counter_sub(&h->stats->bytes, e->size);
    if ((int)cause < STATS_NUM_EVICTIONS)
        counter_add(&h->stats->evicted[cause], 1);
    msg_release(e->msg);
    rc_free(e);
}

void history_ring_cleanup(struct history *h, struct history_ring *r)
{
    while (r->count > 0)
        drop_front(h, r, STATS_NUM_EVICTIONS); /* not an eviction: the store ends */
    rc_free(r->slots);
    memset(r, 0, sizeof(*r));
}

/* make_room grows |r| for one more message, or drops its oldest once it
 * holds --history-size. Returns false when memory runs out. */
static bool make_room(struct history *h, struct history_ring *r)
{
    if (r->count == h->max_per_topic) {
        drop_front(h, r, STATS_EVICT_SIZE);
        return true;
    }
    if (r->count < r->cap)
        return true;
    uint32_t cap = r->cap ? r->cap * 2 : RING_FIRST_CAP;
    if (cap > h->max_per_topic)
        cap = h->max_per_topic;
    struct history_entry **slots = rc_malloc(sizeof(*slots) * cap);
    if (!slots)
        return false;
    for (uint32_t i = 0; i < r->count; i++)
        slots[i] = ring_at(r, i);
    rc_free(r->slots);
    r->slots = slots;
    r->cap = cap;
    r->head = 0;
    return true;
}

static void drop_oldest(struct history *h, enum stats_eviction cause)
{
    struct history_ring *r = h->oldest->ring;
    assert(ring_at(r, 0) == h->oldest); /* every bound removes a topic's oldest */
    drop_front(h, r, cause);
}

void history_expire(struct history *h, int64_t now_ms)
{
    while (h->oldest && h->oldest->expires_ms <= now_ms)
        drop_oldest(h, STATS_EVICT_TTL);
}

void history_add(struct history *h, struct history_ring *r, struct msg *m, int64_t now_ms)
{
    history_expire(h, now_ms);
    uint64_t size = history_msg_size(m);
    if (h->max_per_topic == 0 || size > h->max_bytes || !make_room(h, r)) {
        msg_release(m);
        return;
    }
    struct history_entry *e = rc_malloc(sizeof(*e));
    if (!e) {
        msg_release(m);
        return;
    }
    *e = (struct history_entry){h->newest, NULL, r, m, now_ms + h->ttl_ms, size};
    if (h->newest)
        h->newest->newer = e;
    else
        h->oldest = e;
    h->newest = e;
    r->slots[(r->head + r->count) % r->cap] = e;
    r->count++;
    h->bytes += size;
    counter_add(&h->stats->msgs, 1);
    counter_add(&h->stats->bytes, size);
    while (h->bytes > h->max_bytes)
        drop_oldest(h, STATS_EVICT_BYTES);
}

/* first_above returns the ring index of the first message with a seq above
 * |since| (count when none): the seqs ascend, so a binary search. */
static uint32_t first_above(const struct history_ring *r, uint64_t since)
{
    uint32_t lo = 0, hi = r->count;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        if (ring_at(r, mid)->msg->seq <= since)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

struct msg *history_find(const struct history_ring *r, uint64_t seq)
{
    if (seq == 0)
        return NULL;
    uint32_t i = first_above(r, seq - 1);
    if (i == r->count || ring_at(r, i)->msg->seq != seq)
        return NULL;
    return ring_at(r, i)->msg;
}

uint64_t history_first_seq(const struct history_ring *r)
{
    return r->count ? ring_at(r, 0)->msg->seq : 0;
}

size_t history_since(const struct history_ring *r, uint64_t since, struct msg **out, size_t max)
{
    size_t n = 0;
    for (uint32_t i = first_above(r, since); i < r->count && n < max; i++) {
        out[n] = ring_at(r, i)->msg;
        msg_ref(out[n++]);
    }
    return n;
}
