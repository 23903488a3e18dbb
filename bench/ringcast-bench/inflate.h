/* inflate.h: --deflate, the subscriber side of permessage-deflate.
 *
 * The server compresses every message on its own (server_no_context_
 * takeover), so one raw-deflate stream per thread, reset for each message,
 * inflates every connection's events into one buffer of the thread's. */
#ifndef BENCH_INFLATE_H
#define BENCH_INFLATE_H

#include <stddef.h>
#include <stdint.h>

struct inflater;

/* inflater_run inflates one message's payload (without the 00 00 ff ff
 * tail), creating |*inf| at the first call. Returns the inflated bytes
 * (valid until the next call) and their length in |*out_len|, or NULL when
 * they are not deflate data or more than |max| bytes. */
const uint8_t *inflater_run(struct inflater **inf, const uint8_t *in, size_t len, size_t max,
                            size_t *out_len);

/* inflater_free frees |inf| (NULL: nothing). */
void inflater_free(struct inflater *inf);

#endif
