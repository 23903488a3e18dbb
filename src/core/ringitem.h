/* ringitem.h: what travels on the cross-shard rings: tagged pointers.
 *
 *   ITEM_DELIVER  struct msg     home -> every interested shard: deliver it
 *   ITEM_REQUEST  struct pubreq  origin -> home: sequence it, or fetch
 *   ITEM_RESULT   struct pubreq  home -> origin: answer the connection */
#ifndef RC_RINGITEM_H
#define RC_RINGITEM_H

#include <stdint.h>

enum ring_item_kind {
    ITEM_DELIVER = 0,
    ITEM_REQUEST = 1,
    ITEM_RESULT = 2,
};

static inline void *ring_item(void *ptr, enum ring_item_kind kind)
{
    return (void *)((uintptr_t)ptr | (uintptr_t)kind);
}

static inline enum ring_item_kind ring_item_kind(void *item)
{
    return (enum ring_item_kind)((uintptr_t)item & 3);
}

static inline void *ring_item_ptr(void *item)
{
    return (void *)((uintptr_t)item & ~(uintptr_t)3);
}

/* ring_item_release frees an item that was never handled (at exit). */
void ring_item_release(void *item);

#endif
