/* home.c: per-topic sequence numbers, epochs, history and message-id
 * deduplication. */
#include "pubsub/home.h"

#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "util/alloc.h"
#include "util/hash.h"
#include "pubsub/msg.h"

struct home_topic {
    uint64_t hash;
    uint64_t last_seq;
    uint64_t epoch;
    struct history_ring ring;
    uint16_t len;
    char name[];
};

struct dedup_entry {
    struct dedup_entry *newer; /* FIFO link */
    uint64_t hash;
    uint64_t seq;
    int64_t expires_ms;
    const struct home_topic *topic;
    uint32_t id_len;
    char id[];
};

struct name_key {
    const char *name;
    size_t len;
};

struct id_key {
    const struct home_topic *topic;
    const char *id;
    size_t id_len;
};

static bool topic_eq(const void *value, const void *key)
{
    const struct home_topic *t = value;
    const struct name_key *k = key;
    return t->len == k->len && memcmp(t->name, k->name, k->len) == 0;
}

static bool id_eq(const void *value, const void *key)
{
    const struct dedup_entry *e = value;
    const struct id_key *k = key;
    return e->topic == k->topic && e->id_len == k->id_len && memcmp(e->id, k->id, k->id_len) == 0;
}

void home_init(struct home *h, uint32_t max_topics, uint32_t dedup_entries, int64_t dedup_ms)
{
    memset(h, 0, sizeof(*h));
    hmap_init(&h->topics);
    hmap_init(&h->ids);
    h->max_topics = max_topics;
    h->dedup_entries = dedup_entries;
    h->dedup_ms = dedup_ms;
}

void home_cleanup(struct home *h)
{
    uint32_t pos = 0;
    void *t;
    while ((t = hmap_next(&h->topics, &pos)) != NULL) {
        history_ring_cleanup(&h->history, &((struct home_topic *)t)->ring);
        rc_free(t);
    }
    while (h->oldest) {
        struct dedup_entry *e = h->oldest;
        h->oldest = e->newer;
        rc_free(e);
    }
    hmap_cleanup(&h->topics);
    hmap_cleanup(&h->ids);
}

void home_init_history(struct home *h, uint32_t max_per_topic, int64_t ttl_ms, uint64_t max_bytes,
                       struct history_stats *stats)
{
    history_init(&h->history, max_per_topic, ttl_ms, max_bytes, stats);
}

/* new_epoch draws a random epoch, never 0 (the null epoch). getrandom only
 * fails before the kernel's pool is ready; the clock stands in then. */
static uint64_t new_epoch(void)
{
    uint64_t epoch = 0;
    while (epoch == 0) {
        if (getrandom(&epoch, sizeof(epoch), 0) != (ssize_t)sizeof(epoch)) {
            struct timespec ts;
            clock_gettime(CLOCK_REALTIME, &ts);
            epoch = rc_hash(&ts, sizeof(ts));
        }
    }
    return epoch;
}

static struct home_topic *find_topic(const struct home *h, const char *name, size_t len,
                                     uint64_t hash)
{
    struct name_key key = {name, len};
    return hmap_find(&h->topics, hash, topic_eq, &key);
}

static struct home_topic *find_or_add_topic(struct home *h, const char *name, size_t len,
                                            uint64_t hash, enum home_result *out_err)
{
    struct home_topic *t = find_topic(h, name, len, hash);
    if (t)
        return t;
    if (h->topics.count >= h->max_topics) {
        *out_err = HOME_TOO_MANY_TOPICS;
        return NULL;
    }
    t = rc_malloc(sizeof(*t) + len);
    if (!t || hmap_insert(&h->topics, hash, t) != 0) {
        rc_free(t);
        *out_err = HOME_NO_MEMORY;
        return NULL;
    }
    t->hash = hash;
    t->last_seq = 0;
    t->epoch = new_epoch();
    memset(&t->ring, 0, sizeof(t->ring));
    t->len = (uint16_t)len;
    memcpy(t->name, name, len);
    return t;
}

static void drop_oldest_id(struct home *h)
{
    struct dedup_entry *e = h->oldest;
    h->oldest = e->newer;
    if (!h->oldest)
        h->newest = NULL;
    hmap_remove(&h->ids, e->hash, e);
    rc_free(e);
}

static void expire_ids(struct home *h, int64_t now_ms)
{
    while (h->oldest && h->oldest->expires_ms <= now_ms)
        drop_oldest_id(h);
}

static void remember_id(struct home *h, const struct home_topic *t, uint64_t hash, const char *id,
                        size_t id_len, uint64_t seq, int64_t now_ms)
{
    if (h->dedup_entries == 0)
        return;
    while (h->ids.count >= h->dedup_entries)
        drop_oldest_id(h);
    struct dedup_entry *e = rc_malloc(sizeof(*e) + id_len);
    if (!e)
        return; /* the id is forgotten early: a retry would be delivered again */
    e->newer = NULL;
    e->hash = hash;
    e->seq = seq;
    e->expires_ms = now_ms + h->dedup_ms;
    e->topic = t;
    e->id_len = (uint32_t)id_len;
    memcpy(e->id, id, id_len);
    if (hmap_insert(&h->ids, hash, e) != 0) {
        rc_free(e);
        return;
    }
    if (h->newest)
        h->newest->newer = e;
    else
        h->oldest = e;
    h->newest = e;
}

enum home_result home_sequence(struct home *h, const char *topic, size_t topic_len,
                               uint64_t topic_hash, const char *id, size_t id_len, int64_t now_ms,
                               uint64_t *out_seq)
{
    struct home_topic *t;
    return home_sequence_topic(h, topic, topic_len, topic_hash, id, id_len, now_ms, out_seq, &t);
}

enum home_result home_sequence_topic(struct home *h, const char *topic, size_t topic_len,
                                     uint64_t topic_hash, const char *id, size_t id_len,
                                     int64_t now_ms, uint64_t *out_seq, struct home_topic **out_t)
{
    enum home_result err = HOME_SEQUENCED;
    struct home_topic *t = find_or_add_topic(h, topic, topic_len, topic_hash, &err);
    if (!t)
        return err;
    uint64_t id_hash = 0;
    if (id_len > 0) {
        expire_ids(h, now_ms);
        id_hash = rc_hash_pair(topic, topic_len, id, id_len);
        struct id_key key = {t, id, id_len};
        const struct dedup_entry *seen = hmap_find(&h->ids, id_hash, id_eq, &key);
        if (seen) {
            *out_seq = seen->seq;
            return HOME_DUPLICATE;
        }
    }
    *out_seq = ++t->last_seq;
    *out_t = t;
    if (id_len > 0)
        remember_id(h, t, id_hash, id, id_len, *out_seq, now_ms);
    return HOME_SEQUENCED;
}

uint64_t home_topic_epoch(const struct home_topic *t)
{
    return t->epoch;
}

void home_hold(struct home *h, struct home_topic *t, struct msg *m, int64_t now_ms)
{
    history_add(&h->history, &t->ring, m, now_ms);
}

void home_expire(struct home *h, int64_t now_ms)
{
    history_expire(&h->history, now_ms);
}

struct msg *home_fetch(struct home *h, const char *topic, size_t topic_len, uint64_t topic_hash,
                       uint64_t seq, int64_t now_ms)
{
    history_expire(&h->history, now_ms);
    struct home_topic *t = find_topic(h, topic, topic_len, topic_hash);
    struct msg *m = t ? history_find(&t->ring, seq) : NULL;
    if (m)
        msg_ref(m);
    return m;
}

uint64_t home_open(struct home *h, const char *topic, size_t topic_len, uint64_t topic_hash)
{
    enum home_result err = HOME_SEQUENCED;
    const struct home_topic *t = find_or_add_topic(h, topic, topic_len, topic_hash, &err);
    return t ? t->epoch : 0;
}

int home_replay(struct home *h, const char *topic, size_t topic_len, uint64_t topic_hash,
                uint64_t since, size_t limit, int64_t now_ms, struct home_replay *out)
{
    memset(out, 0, sizeof(*out));
    out->pos.first_seq = 1;
    history_expire(&h->history, now_ms);
    struct home_topic *t = find_topic(h, topic, topic_len, topic_hash);
    if (!t)
        return 0;
    out->pos.epoch = t->epoch;
    out->pos.last_seq = t->last_seq;
    uint64_t first = history_first_seq(&t->ring);
    out->pos.first_seq = first ? first : t->last_seq + 1;
    size_t room = t->ring.count < limit ? t->ring.count : limit;
    if (room == 0)
        return 0;
    out->msgs = rc_malloc(sizeof(*out->msgs) * room);
    if (!out->msgs)
        return -1;
    out->count = history_since(&t->ring, since, out->msgs, room);
    return 0;
}

void home_replay_release(struct home_replay *r)
{
    for (size_t i = 0; i < r->count; i++)
        msg_release(r->msgs[i]);
    rc_free(r->msgs);
    r->msgs = NULL;
    r->count = 0;
}

size_t home_topic_count(const struct home *h)
{
    return h->topics.count;
}
