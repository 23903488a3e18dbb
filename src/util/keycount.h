/* keycount.h: counts per key (a peer address, a token subject) in bounded
 * memory.
 *
 * An entry exists while something holds it (its count is above 0), and
 * after that only until its linger deadline, which the caller picks when it
 * lets go (the time a rate bucket kept with it takes to be full again, so
 * that dropping the entry forgets nothing): a client cannot grow the table
 * by coming and going, and a table holds at most |max_keys| entries,
 * whatever the clients do. Each entry carries |data_size| bytes for the
 * caller (zeroed when the entry is made, aligned for any type), and a copy
 * of its key.
 *
 * Keys are hashed with rc_hash (keyed per process), so clients cannot pick
 * keys that collide. */
#ifndef RC_KEYCOUNT_H
#define RC_KEYCOUNT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/hmap.h"

#define KEYCOUNT_MAX_KEY 65535

struct keycount_entry {
    uint64_t hash;
    int64_t linger_until_ms; /* with count 0: freed by a sweep from then on */
    uint32_t count;          /* holders */
    uint16_t key_len;
    /* then the caller's data (keycount_data), then the key */
};

struct keycount {
    struct hmap map;
    size_t data_size;
    uint32_t max_keys;
    uint32_t num_idle; /* entries nobody holds, kept until their deadline */
};

/* keycount_init makes an empty table of at most |max_keys| entries with
 * |data_size| bytes of data each. */
void keycount_init(struct keycount *kc, uint32_t max_keys, size_t data_size);

/* keycount_cleanup frees every entry, held or not. */
void keycount_cleanup(struct keycount *kc);

/* keycount_find returns the entry of |key|, or NULL. */
struct keycount_entry *keycount_find(const struct keycount *kc, const void *key, size_t len);

/* keycount_acquire adds a holder to the entry of |key|, making it when
 * there is none (a table at |max_keys| first frees the idle entries whose
 * deadline is past |now_ms|). Returns the entry, or NULL when the table is
 * full, the key is longer than KEYCOUNT_MAX_KEY or memory runs out. */
struct keycount_entry *keycount_acquire(struct keycount *kc, const void *key, size_t len,
                                        int64_t now_ms);

/* keycount_release takes a holder away from |e|. An entry nobody holds any
 * more is freed at once when |linger_until_ms| is not after |now_ms|, and
 * otherwise kept (idle) until a sweep after that time. */
void keycount_release(struct keycount *kc, struct keycount_entry *e, int64_t linger_until_ms,
                      int64_t now_ms);

/* keycount_sweep frees the idle entries whose deadline is not after
 * |now_ms|; returns how many it freed. */
uint32_t keycount_sweep(struct keycount *kc, int64_t now_ms);

/* keycount_size returns the number of entries, held or idle. */
static inline uint32_t keycount_size(const struct keycount *kc)
{
    return kc->map.count;
}

/* keycount_data returns the caller's bytes of |e|. */
void *keycount_data(struct keycount_entry *e);

#endif
