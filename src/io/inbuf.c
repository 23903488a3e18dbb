/* inbuf.c: input that waits for the rest of a request or frame (see inbuf.h). */
#include "io/inbuf.h"

#include <string.h>

#include "util/alloc.h"

int inbuf_append(struct inbuf *in, const uint8_t *data, size_t len, size_t limit)
{
    if (len > limit || in->len > limit - len)
        return -1;
    size_t need = in->len + len;
    if (need > in->cap) {
        size_t cap = in->cap ? in->cap : 1024;
        while (cap < need)
            cap *= 2;
        if (cap > limit)
            cap = limit;
        uint8_t *grown = rc_realloc(in->data, cap);
        if (!grown)
            return -1;
        in->data = grown;
        in->cap = (uint32_t)cap;
    }
    memcpy(in->data + in->len, data, len);
    in->len += (uint32_t)len;
    return 0;
}

void inbuf_consume(struct inbuf *in, size_t n)
{
    if (n >= in->len) {
        inbuf_clear(in);
        return;
    }
    memmove(in->data, in->data + n, in->len - n);
    in->len -= (uint32_t)n;
}

void inbuf_clear(struct inbuf *in)
{
    rc_free(in->data);
    in->data = NULL;
    in->len = 0;
    in->cap = 0;
}
