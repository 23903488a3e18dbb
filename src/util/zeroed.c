/* zeroed.c: small arrays from the allocator, large ones mapped (zeroed.h). */
#include "util/zeroed.h"

#include <sys/mman.h>

#include "util/alloc.h"

void *zeroed_alloc(size_t bytes)
{
    if (bytes < ZEROED_MMAP_BYTES)
        return rc_calloc(1, bytes);
    void *p = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    return p == MAP_FAILED ? NULL : p;
}

void zeroed_free(void *p, size_t bytes)
{
    if (!p)
        return;
    if (bytes < ZEROED_MMAP_BYTES)
        rc_free(p);
    else
        munmap(p, bytes);
}
