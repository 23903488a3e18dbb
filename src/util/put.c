/* put.c: copies and numbers into a fixed buffer (see put.h). */
#include "util/put.h"

#include <string.h>

void put_bytes(struct put *w, const void *data, size_t len)
{
    if (w->over || w->cap - w->len < len) {
        w->over = true;
        return;
    }
    memcpy(w->buf + w->len, data, len);
    w->len += len;
}

void put_u64(struct put *w, uint64_t v)
{
    char digits[20];
    size_t n = sizeof(digits);

    do {
        digits[--n] = (char)('0' + v % 10);
        v /= 10;
    } while (v != 0);
    put_bytes(w, digits + n, sizeof(digits) - n);
}
