/* hmap.h: an open-addressing hash table of pointers, keyed by a 64-bit hash.
 *
 * The table stores (hash, value) pairs and never looks inside a value: the
 * caller passes an equality callback to tell apart values whose hashes are
 * equal. Linear probing, capacity a power of two, load at most 1/2, deletion
 * by backward shift (no tombstones), so lookups stay short under churn.
 * Growing is incremental: each insert or removal moves a few values to the
 * table twice the size, so no one call costs more than a few dozen moves
 * (hmap.c). */
#ifndef RC_HMAP_H
#define RC_HMAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct hmap_slot {
    uint64_t hash;
    void *value; /* NULL: empty slot */
};

struct hmap {
    struct hmap_slot *slots; /* the table inserts go to */
    uint32_t mask;
    uint32_t count;        /* values in both tables */
    struct hmap_slot *old; /* while growing: the table being emptied, else NULL */
    uint32_t old_mask;
    uint32_t old_pos;     /* the next old slot to move */
    uint32_t old_scanned; /* old slots looked at so far */
};

/* hmap_eq_fn tells whether |value| is the one |key| describes. */
typedef bool (*hmap_eq_fn)(const void *value, const void *key);

/* hmap_init makes an empty table (it allocates on first insert). */
void hmap_init(struct hmap *m);

/* hmap_cleanup frees the table, not the values. */
void hmap_cleanup(struct hmap *m);

/* hmap_find returns the value with |hash| for which eq(value, key) holds, or NULL. */
void *hmap_find(const struct hmap *m, uint64_t hash, hmap_eq_fn eq, const void *key);

/* hmap_insert adds |value| (not NULL) under |hash|; it does not look for an
 * equal value first. Returns 0, or -1 when memory runs out. */
int hmap_insert(struct hmap *m, uint64_t hash, void *value);

/* hmap_remove removes exactly |value|, stored under |hash|. Returns 0, or
 * -1 when it is not there. */
int hmap_remove(struct hmap *m, uint64_t hash, const void *value);

/* hmap_growing tells whether values are still being moved to a larger table. */
bool hmap_growing(const struct hmap *m);

/* hmap_next iterates: |*pos| starts at 0; returns the next value or NULL.
 * No insert or removal between the calls of one iteration. */
void *hmap_next(const struct hmap *m, uint32_t *pos);

#endif
