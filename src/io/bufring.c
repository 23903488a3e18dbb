/* bufring.c: provided-buffer ring (see bufring.h). */
#include "io/bufring.h"

#include <errno.h>
#include <string.h>
#include <sys/mman.h>

int bufring_setup(struct bufring *b, struct io_uring *ring, uint16_t group, uint32_t count,
                  uint32_t size)
{
    memset(b, 0, sizeof(*b));
    size_t ring_bytes = (size_t)count * sizeof(struct io_uring_buf);
    void *ring_mem =
        mmap(NULL, ring_bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (ring_mem == MAP_FAILED)
        return -errno;
    void *data = mmap(NULL, (size_t)count * size, PROT_READ | PROT_WRITE,
                      MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (data == MAP_FAILED) {
        int err = -errno;
        munmap(ring_mem, ring_bytes);
        return err;
    }
    b->ring = ring_mem;
    b->memory = data;
    b->count = count;
    b->size = size;
    b->group = group;

    struct io_uring_buf_reg reg;
    memset(&reg, 0, sizeof(reg));
    reg.ring_addr = (uint64_t)(uintptr_t)ring_mem;
    reg.ring_entries = count;
    reg.bgid = group;
    int ret = io_uring_register_buf_ring(ring, &reg, 0);
    if (ret != 0) {
        munmap(data, (size_t)count * size);
        munmap(ring_mem, ring_bytes);
        memset(b, 0, sizeof(*b));
        return ret;
    }
    io_uring_buf_ring_init(b->ring);
    for (uint32_t i = 0; i < count; i++)
        bufring_put(b, (uint16_t)i);
    bufring_publish(b);
    return 0;
}

void bufring_unmap(struct bufring *b)
{
    if (!b->ring)
        return;
    munmap(b->memory, (size_t)b->count * b->size);
    munmap(b->ring, (size_t)b->count * sizeof(struct io_uring_buf));
    memset(b, 0, sizeof(*b));
}
