/* zeroed.h: zeroed arrays whose pages are zeroed when first touched.
 *
 * A large calloc touches every page at once (mimalloc zeroes reused memory
 * itself; fresh memory faults on the first write): 4 MiB cost 2.4 ms on
 * this project's machines, a stall for every connection of the shard. From
 * ZEROED_MMAP_BYTES up, zeroed_alloc maps anonymous memory instead, whose
 * pages the kernel zeroes one by one as they are first written: an
 * incrementally grown hash table (hmap.c) spreads that cost over the
 * inserts that fill it. */
#ifndef RC_ZEROED_H
#define RC_ZEROED_H

#include <stddef.h>

#define ZEROED_MMAP_BYTES (256u << 10)

/* zeroed_alloc returns |bytes| of zeroes, or NULL. */
void *zeroed_alloc(size_t bytes);

/* zeroed_free frees what zeroed_alloc(|bytes|) returned (NULL is fine). */
void zeroed_free(void *p, size_t bytes);

#endif
