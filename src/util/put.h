/* put.h: writing a response piece by piece into a fixed buffer, without
 * formatting: copies and decimal numbers. For the answers the server sends
 * many thousand times a second (a 101, an HTTP publish's 200), where
 * snprintf's format parsing costs more than everything else they do.
 *
 * A put that does not fit writes nothing and marks the writer |over|; the
 * caller checks that once at the end. */
#ifndef RC_UTIL_PUT_H
#define RC_UTIL_PUT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct put {
    char *buf;
    size_t len, cap;
    bool over; /* something did not fit */
};

/* put_init starts writing at the beginning of |buf|, |cap| bytes. */
static inline struct put put_init(char *buf, size_t cap)
{
    struct put w = {.buf = buf, .len = 0, .cap = cap, .over = false};
    return w;
}

/* put_bytes appends |len| bytes. */
void put_bytes(struct put *w, const void *data, size_t len);

/* put_str appends a NUL-terminated string (inline, so that the length of
 * a literal is known when compiling). */
static inline void put_str(struct put *w, const char *s)
{
    put_bytes(w, s, __builtin_strlen(s));
}

/* put_u64 appends |v| in decimal. */
void put_u64(struct put *w, uint64_t v);

#endif
