/* keycount.c: counts per key in an hmap (see keycount.h). */
#include "util/keycount.h"

#include <stdalign.h>
#include <string.h>

#include "util/alloc.h"
#include "util/hash.h"

static size_t round_up(size_t n)
{
    size_t a = alignof(max_align_t);
    return (n + a - 1) / a * a;
}

/* Where an entry's data and key start. */
#define DATA_OFFSET round_up(sizeof(struct keycount_entry))

static size_t key_offset(const struct keycount *kc)
{
    return DATA_OFFSET + round_up(kc->data_size);
}

struct lookup {
    const void *key;
    size_t len;
    size_t key_offset;
};

static bool same_key(const void *value, const void *key)
{
    const struct keycount_entry *e = value;
    const struct lookup *l = key;
    return e->key_len == l->len && memcmp((const char *)e + l->key_offset, l->key, l->len) == 0;
}

void keycount_init(struct keycount *kc, uint32_t max_keys, size_t data_size)
{
    memset(kc, 0, sizeof(*kc));
    hmap_init(&kc->map);
    kc->max_keys = max_keys;
    kc->data_size = data_size;
}

void keycount_cleanup(struct keycount *kc)
{
    uint32_t pos = 0;
    void *e;
    while ((e = hmap_next(&kc->map, &pos)) != NULL)
        rc_free(e);
    hmap_cleanup(&kc->map);
    kc->num_idle = 0;
}

void *keycount_data(struct keycount_entry *e)
{
    return (char *)e + DATA_OFFSET;
}

struct keycount_entry *keycount_find(const struct keycount *kc, const void *key, size_t len)
{
    struct lookup l = {key, len, key_offset(kc)};
    return hmap_find(&kc->map, rc_hash(key, len), same_key, &l);
}

static void free_entry(struct keycount *kc, struct keycount_entry *e)
{
    hmap_remove(&kc->map, e->hash, e);
    rc_free(e);
}

struct keycount_entry *keycount_acquire(struct keycount *kc, const void *key, size_t len,
                                        int64_t now_ms)
{
    if (len > KEYCOUNT_MAX_KEY)
        return NULL;
    uint64_t hash = rc_hash(key, len);
    struct lookup l = {key, len, key_offset(kc)};
    struct keycount_entry *e = hmap_find(&kc->map, hash, same_key, &l);
    if (e) {
        if (e->count++ == 0)
            kc->num_idle--;
        return e;
    }
    if (kc->map.count >= kc->max_keys && (kc->num_idle == 0 || keycount_sweep(kc, now_ms) == 0))
        return NULL;
    e = rc_calloc(1, key_offset(kc) + len);
    if (!e)
        return NULL;
    e->hash = hash;
    e->count = 1;
    e->key_len = (uint16_t)len;
    memcpy((char *)e + key_offset(kc), key, len);
    if (hmap_insert(&kc->map, hash, e) != 0) {
        rc_free(e);
        return NULL;
    }
    return e;
}

void keycount_release(struct keycount *kc, struct keycount_entry *e, int64_t linger_until_ms,
                      int64_t now_ms)
{
    if (--e->count > 0)
        return;
    if (linger_until_ms <= now_ms) {
        free_entry(kc, e);
        return;
    }
    e->linger_until_ms = linger_until_ms;
    kc->num_idle++;
}

uint32_t keycount_sweep(struct keycount *kc, int64_t now_ms)
{
    uint32_t freed = 0;
    struct hmap *m = &kc->map;
    /* Removing shifts later members of a probe run back into the hole, so
     * the slot just emptied is looked at again; a member that wraps from
     * the table's start to its end is looked at once more, which is
     * harmless. */
    for (uint32_t i = 0; m->slots && i <= m->mask && kc->num_idle > 0;) {
        struct keycount_entry *e = m->slots[i].value;
        if (e && e->count == 0 && e->linger_until_ms <= now_ms) {
            free_entry(kc, e);
            kc->num_idle--;
            freed++;
            continue;
        }
        i++;
    }
    return freed;
}
