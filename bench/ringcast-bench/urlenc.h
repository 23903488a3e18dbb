/* urlenc.h: percent-encoding of query values (topics, tokens). */
#ifndef BENCH_URLENC_H
#define BENCH_URLENC_H

#include <stddef.h>

/* urlenc_append writes |s| (|len| bytes) percent-encoded to |out|, which
 * must hold 3 * len bytes, and returns the bytes written. Letters, digits
 * and "-._~:" stay as they are. */
size_t urlenc_append(char *out, const char *s, size_t len);

#endif
