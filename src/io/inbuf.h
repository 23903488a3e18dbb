/* inbuf.h: bytes received but not handled yet (an incomplete HTTP head or
 * publish frame). Owns memory only while something is incomplete. */
#ifndef RC_INBUF_H
#define RC_INBUF_H

#include <stddef.h>
#include <stdint.h>

struct inbuf {
    uint8_t *data;
    uint32_t len;
    uint32_t cap;
};

/* inbuf_append appends to |in|, growing it up to |limit| bytes. Returns 0
 * or -1 (limit or memory). */
int inbuf_append(struct inbuf *in, const uint8_t *data, size_t len, size_t limit);

/* inbuf_consume drops the first |n| bytes (freeing the buffer when empty). */
void inbuf_consume(struct inbuf *in, size_t n);

/* inbuf_clear frees the buffer. */
void inbuf_clear(struct inbuf *in);

#endif
