/* hmap.c: open addressing with linear probing and backward-shift deletion. */
#include "util/hmap.h"

#include <string.h>

#include "util/alloc.h"

#define HMAP_MIN_CAPACITY 16

void hmap_init(struct hmap *m)
{
    memset(m, 0, sizeof(*m));
}

void hmap_cleanup(struct hmap *m)
{
    rc_free(m->slots);
    hmap_init(m);
}

void *hmap_find(const struct hmap *m, uint64_t hash, hmap_eq_fn eq, const void *key)
{
    if (!m->slots)
        return NULL;
    for (uint32_t i = (uint32_t)hash & m->mask;; i = (i + 1) & m->mask) {
        const struct hmap_slot *s = &m->slots[i];
        if (!s->value)
            return NULL;
        if (s->hash == hash && eq(s->value, key))
            return s->value;
    }
}

static void place(struct hmap_slot *slots, uint32_t mask, uint64_t hash, void *value)
{
    uint32_t i = (uint32_t)hash & mask;
    while (slots[i].value)
        i = (i + 1) & mask;
    slots[i].hash = hash;
    slots[i].value = value;
}

static int grow(struct hmap *m)
{
    uint32_t capacity = m->slots ? (m->mask + 1) * 2 : HMAP_MIN_CAPACITY;
    struct hmap_slot *slots = rc_calloc(capacity, sizeof(*slots));
    if (!slots)
        return -1;
    if (m->slots) {
        for (uint32_t i = 0; i <= m->mask; i++)
            if (m->slots[i].value)
                place(slots, capacity - 1, m->slots[i].hash, m->slots[i].value);
        rc_free(m->slots);
    }
    m->slots = slots;
    m->mask = capacity - 1;
    return 0;
}

int hmap_insert(struct hmap *m, uint64_t hash, void *value)
{
    if ((!m->slots || (m->count + 1) * 2 > m->mask + 1) && grow(m) != 0)
        return -1;
    place(m->slots, m->mask, hash, value);
    m->count++;
    return 0;
}

int hmap_remove(struct hmap *m, uint64_t hash, const void *value)
{
    if (!m->slots)
        return -1;
    uint32_t i = (uint32_t)hash & m->mask;
    while (m->slots[i].value != value) {
        if (!m->slots[i].value)
            return -1;
        i = (i + 1) & m->mask;
    }
    /* Backward shift: pull later members of the probe run into the hole
     * when their home slot is not between the hole and themselves. */
    uint32_t hole = i;
    for (uint32_t j = (i + 1) & m->mask; m->slots[j].value; j = (j + 1) & m->mask) {
        uint32_t home = (uint32_t)m->slots[j].hash & m->mask;
        bool home_in_gap = hole <= j ? (home > hole && home <= j) : (home > hole || home <= j);
        if (!home_in_gap) {
            m->slots[hole] = m->slots[j];
            hole = j;
        }
    }
    m->slots[hole].value = NULL;
    m->slots[hole].hash = 0;
    m->count--;
    return 0;
}

void *hmap_next(const struct hmap *m, uint32_t *pos)
{
    if (!m->slots)
        return NULL;
    while (*pos <= m->mask) {
        void *v = m->slots[(*pos)++].value;
        if (v)
            return v;
    }
    return NULL;
}
