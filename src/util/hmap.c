/* hmap.c: open addressing with linear probing and backward-shift deletion,
 * grown incrementally.
 *
 * Growing moves the values to a table twice the size a few at a time, as
 * Redis's dict does, instead of all at once: a table of a million topics
 * would otherwise stop its shard for tens of milliseconds on the insert
 * that fills it. While it grows, inserts go to the new table, lookups and
 * removals try both, and each insert or removal moves the next
 * HMAP_MOVE_STEP slots' worth of the old one.
 *
 * The old table is emptied one whole probe run (cluster) at a time,
 * starting just after an empty slot. With linear probing a value lies in
 * the same run as its home slot, so a value still in the old table has
 * its whole run there, and a lookup from its home finds it; a removal's
 * backward shift moves values only within their run, so it never carries
 * one into the part already emptied. */
#include "util/hmap.h"

#include <string.h>

#include "util/zeroed.h"

#define HMAP_MIN_CAPACITY 16
#define HMAP_MOVE_STEP 64 /* old slots looked at per insert or removal while growing */

void hmap_init(struct hmap *m)
{
    memset(m, 0, sizeof(*m));
}

static size_t table_bytes(uint32_t mask)
{
    return ((size_t)mask + 1) * sizeof(struct hmap_slot);
}

void hmap_cleanup(struct hmap *m)
{
    if (m->slots)
        zeroed_free(m->slots, table_bytes(m->mask));
    if (m->old)
        zeroed_free(m->old, table_bytes(m->old_mask));
    hmap_init(m);
}

static void *table_find(const struct hmap_slot *slots, uint32_t mask, uint64_t hash, hmap_eq_fn eq,
                        const void *key)
{
    for (uint32_t i = (uint32_t)hash & mask;; i = (i + 1) & mask) {
        const struct hmap_slot *s = &slots[i];
        if (!s->value)
            return NULL;
        if (s->hash == hash && eq(s->value, key))
            return s->value;
    }
}

void *hmap_find(const struct hmap *m, uint64_t hash, hmap_eq_fn eq, const void *key)
{
    if (!m->slots)
        return NULL;
    void *v = table_find(m->slots, m->mask, hash, eq, key);
    if (!v && m->old)
        v = table_find(m->old, m->old_mask, hash, eq, key);
    return v;
}

static void place(struct hmap_slot *slots, uint32_t mask, uint64_t hash, void *value)
{
    uint32_t i = (uint32_t)hash & mask;
    while (slots[i].value)
        i = (i + 1) & mask;
    slots[i].hash = hash;
    slots[i].value = value;
}

/* table_remove removes |value| from one table; returns whether it was there. */
static bool table_remove(struct hmap_slot *slots, uint32_t mask, uint64_t hash, const void *value)
{
    uint32_t i = (uint32_t)hash & mask;
    while (slots[i].value != value) {
        if (!slots[i].value)
            return false;
        i = (i + 1) & mask;
    }
    /* Backward shift: pull later members of the probe run into the hole
     * when their home slot is not between the hole and themselves. */
    uint32_t hole = i;
    for (uint32_t j = (i + 1) & mask; slots[j].value; j = (j + 1) & mask) {
        uint32_t home = (uint32_t)slots[j].hash & mask;
        bool home_in_gap = hole <= j ? (home > hole && home <= j) : (home > hole || home <= j);
        if (!home_in_gap) {
            slots[hole] = slots[j];
            hole = j;
        }
    }
    slots[hole].value = NULL;
    slots[hole].hash = 0;
    return true;
}

/* move_some moves whole runs of the old table to the new one until at
 * least |budget| old slots were looked at, and frees the old table once
 * every slot was. */
static void move_some(struct hmap *m, uint32_t budget)
{
    uint32_t looked = 0;
    while (m->old && looked < budget) {
        uint32_t i = m->old_pos;
        for (; m->old[i].value; i = (i + 1) & m->old_mask, looked++) {
            place(m->slots, m->mask, m->old[i].hash, m->old[i].value);
            m->old[i].value = NULL;
            m->old[i].hash = 0;
        }
        /* Slot i, empty, ends the run. */
        looked++;
        m->old_scanned += (((i - m->old_pos) & m->old_mask) + 1);
        m->old_pos = (i + 1) & m->old_mask;
        if (m->old_scanned > m->old_mask) {
            zeroed_free(m->old, table_bytes(m->old_mask));
            m->old = NULL;
        }
    }
}

static int grow(struct hmap *m)
{
    if (m->old)
        move_some(m, UINT32_MAX); /* not reached while inserts are what grows it */
    uint32_t capacity = m->slots ? (m->mask + 1) * 2 : HMAP_MIN_CAPACITY;
    struct hmap_slot *slots = zeroed_alloc(table_bytes(capacity - 1));
    if (!slots)
        return -1;
    if (m->slots) {
        /* Start just after an empty slot: one exists, the load being at
         * most 1/2. */
        uint32_t empty = 0;
        while (m->slots[empty].value)
            empty++;
        m->old = m->slots;
        m->old_mask = m->mask;
        m->old_pos = (empty + 1) & m->old_mask;
        m->old_scanned = 1;
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
    move_some(m, HMAP_MOVE_STEP);
    return 0;
}

int hmap_remove(struct hmap *m, uint64_t hash, const void *value)
{
    if (!m->slots)
        return -1;
    if (!table_remove(m->slots, m->mask, hash, value) &&
        !(m->old && table_remove(m->old, m->old_mask, hash, value)))
        return -1;
    m->count--;
    move_some(m, HMAP_MOVE_STEP);
    return 0;
}

bool hmap_growing(const struct hmap *m)
{
    return m->old != NULL;
}

void *hmap_next(const struct hmap *m, uint32_t *pos)
{
    if (!m->slots)
        return NULL;
    /* Positions 0..mask are the table's slots, those above it the old
     * table's (while it grows). */
    uint32_t end = m->mask + 1 + (m->old ? m->old_mask + 1 : 0);
    while (*pos < end) {
        uint32_t at = (*pos)++;
        void *v = at <= m->mask ? m->slots[at].value : m->old[at - m->mask - 1].value;
        if (v)
            return v;
    }
    return NULL;
}
