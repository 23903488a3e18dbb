/* retain.c: bounded store of oversized events (see retain.h). */
#include "pubsub/retain.h"

#include <string.h>

#include "util/alloc.h"
#include "pubsub/msg.h"

struct retained {
    struct retained *newer;
    struct msg *msg;
    uint64_t key;
};

struct retain_key {
    const char *topic;
    size_t topic_len;
    uint64_t seq;
};

static uint64_t key_of(uint64_t topic_hash, uint64_t seq)
{
    return topic_hash ^ (seq * 0x9e3779b97f4a7c15ull);
}

static uint64_t size_of(const struct msg *m)
{
    return sizeof(struct msg) + m->full_json_len + m->ws_frame_len + m->sse_record_len;
}

static bool retained_eq(const void *value, const void *key)
{
    const struct retained *e = value;
    const struct retain_key *k = key;
    return e->msg->seq == k->seq && e->msg->topic_len == k->topic_len &&
           memcmp(e->msg->topic, k->topic, k->topic_len) == 0;
}

void retain_init(struct retain *r, uint64_t max_bytes)
{
    memset(r, 0, sizeof(*r));
    hmap_init(&r->by_key);
    r->max_bytes = max_bytes;
}

static void drop_oldest(struct retain *r)
{
    struct retained *e = r->oldest;
    r->oldest = e->newer;
    if (!r->oldest)
        r->newest = NULL;
    hmap_remove(&r->by_key, e->key, e);
    r->bytes -= size_of(e->msg);
    msg_release(e->msg);
    rc_free(e);
}

void retain_cleanup(struct retain *r)
{
    while (r->oldest)
        drop_oldest(r);
    hmap_cleanup(&r->by_key);
}

void retain_add(struct retain *r, struct msg *m)
{
    uint64_t size = size_of(m);
    struct retained *e = size <= r->max_bytes ? rc_malloc(sizeof(*e)) : NULL;
    if (!e) {
        msg_release(m);
        return;
    }
    e->newer = NULL;
    e->msg = m;
    e->key = key_of(m->topic_hash, m->seq);
    if (hmap_insert(&r->by_key, e->key, e) != 0) {
        rc_free(e);
        msg_release(m);
        return;
    }
    if (r->newest)
        r->newest->newer = e;
    else
        r->oldest = e;
    r->newest = e;
    r->bytes += size;
    while (r->bytes > r->max_bytes)
        drop_oldest(r);
}

struct msg *retain_find(const struct retain *r, const char *topic, size_t topic_len,
                        uint64_t topic_hash, uint64_t seq)
{
    struct retain_key key = {topic, topic_len, seq};
    struct retained *e = hmap_find(&r->by_key, key_of(topic_hash, seq), retained_eq, &key);
    return e ? e->msg : NULL;
}
