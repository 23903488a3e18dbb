/* recvbuf.h: whether this kernel can do multishot receives into a
 * provided-buffer ring (the subscriber threads' fast path).
 *
 * The threads use the server's own ring code (src/io/bufring.h): the kernel
 * takes a buffer only when data arrives, so a thread needs buffers for the
 * data in flight, not one per connection; they go back in batches with
 * bufring_put and bufring_publish. */
#ifndef BENCH_RECVBUF_H
#define BENCH_RECVBUF_H

#include <stdbool.h>
#include <stddef.h>

/* recvbuf_probe_multishot reports whether this kernel does multishot
 * receives from a provided-buffer ring, by trying one on a socket pair.
 * On false, |why| says what failed. */
bool recvbuf_probe_multishot(char *why, size_t why_len);

#endif
