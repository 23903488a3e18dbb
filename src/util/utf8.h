/* utf8.h: an incremental UTF-8 validator (RFC 3629).
 *
 * Validates a stream fed in pieces, as WebSocket text messages arrive in
 * fragments and in partial reads. Rejects overlong forms, surrogates
 * (U+D800..U+DFFF) and code points above U+10FFFF as soon as the first byte
 * that makes the sequence invalid is seen (fail fast). */
#ifndef RC_UTF8_H
#define RC_UTF8_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct utf8_state {
    uint32_t state; /* 0: at a character boundary */
};

/* utf8_init resets |st| to the start of a stream. */
void utf8_init(struct utf8_state *st);

/* utf8_feed validates the next |len| bytes. Returns false as soon as the
 * stream so far cannot be a prefix of valid UTF-8; |st| is then unusable
 * until utf8_init. */
bool utf8_feed(struct utf8_state *st, const uint8_t *p, size_t len);

/* utf8_at_boundary reports whether the stream fed so far ends on a complete
 * character (it is complete, valid UTF-8). */
bool utf8_at_boundary(const struct utf8_state *st);

/* utf8_valid validates one complete buffer. */
bool utf8_valid(const uint8_t *p, size_t len);

#endif
