/* alloc.h: the allocator every module uses.
 *
 * Release builds allocate through mimalloc (fast thread-local heaps, so a
 * message freed by another shard costs little); sanitizer builds use the libc
 * allocator so that ASan sees every allocation. */
#ifndef RC_ALLOC_H
#define RC_ALLOC_H

#include <stddef.h>

#ifdef RC_USE_MIMALLOC
#include <mimalloc.h>
#define rc_malloc mi_malloc
#define rc_calloc mi_calloc
#define rc_realloc mi_realloc
#define rc_free mi_free
#else
#include <stdlib.h>
#define rc_malloc malloc
#define rc_calloc calloc
#define rc_realloc realloc
#define rc_free free
#endif

#endif
