/* inflate.c: the subscriber side of permessage-deflate (inflate.h). */
#include "inflate.h"

#include <stdlib.h>
#include <string.h>
#include <zlib.h>

struct inflater {
    z_stream z;
    uint8_t *buf;
    size_t cap;
};

static const uint8_t sync_tail[4] = {0x00, 0x00, 0xff, 0xff};

static struct inflater *inflater_new(void)
{
    struct inflater *inf = calloc(1, sizeof(*inf));
    if (inf == NULL)
        return NULL;
    if (inflateInit2(&inf->z, -15) != Z_OK) {
        free(inf);
        return NULL;
    }
    return inf;
}

/* feed inflates |len| bytes at |in| into the buffer after |*done| bytes,
 * growing it up to |max| + 1. Returns 0, or -1. */
static int feed(struct inflater *inf, const uint8_t *in, size_t len, size_t max, size_t *done)
{
    inf->z.next_in = (Bytef *)in;
    inf->z.avail_in = (uInt)len;
    for (;;) {
        if (*done == inf->cap) {
            if (inf->cap > max)
                return -1;
            size_t cap = inf->cap ? inf->cap * 2 : 4096;
            uint8_t *buf = realloc(inf->buf, cap);
            if (buf == NULL)
                return -1;
            inf->buf = buf;
            inf->cap = cap;
        }
        inf->z.next_out = inf->buf + *done;
        inf->z.avail_out = (uInt)(inf->cap - *done);
        int rc = inflate(&inf->z, Z_SYNC_FLUSH);
        *done = inf->cap - inf->z.avail_out;
        if (rc != Z_OK && rc != Z_BUF_ERROR && rc != Z_STREAM_END)
            return -1;
        if (*done > max)
            return -1;
        if (rc == Z_STREAM_END || (inf->z.avail_in == 0 && inf->z.avail_out > 0))
            return 0;
    }
}

const uint8_t *inflater_run(struct inflater **inf, const uint8_t *in, size_t len, size_t max,
                            size_t *out_len)
{
    if (*inf == NULL && (*inf = inflater_new()) == NULL)
        return NULL;
    struct inflater *f = *inf;
    if (inflateReset(&f->z) != Z_OK)
        return NULL;
    size_t done = 0;
    if (feed(f, in, len, max, &done) != 0 || feed(f, sync_tail, sizeof(sync_tail), max, &done) != 0)
        return NULL;
    *out_len = done;
    return f->buf;
}

void inflater_free(struct inflater *inf)
{
    if (inf == NULL)
        return;
    inflateEnd(&inf->z);
    free(inf->buf);
    free(inf);
}
