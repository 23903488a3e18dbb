/* jsonv.h: checking and scanning JSON text without building it (RFC 8259).
 *
 * Every JSON payload is checked when it is published, on the hot path; a
 * tree-building parser (jansson: 1.7 us for a 115-byte object, 46 MB/s on
 * large ones, measured on this project's machine) costs more than the rest
 * of a publish. This validator walks the bytes once, allocates nothing, and
 * follows the RFC's grammar exactly: numbers of any size and precision,
 * strings as valid UTF-8 with the RFC's escapes (an unpaired \uD800 is
 * grammatical and accepted), any whitespace the RFC allows around values.
 * Duplicate member names are grammatical too (the RFC says they SHOULD be
 * unique) and are accepted. Nesting is limited to JSONV_MAX_DEPTH.
 *
 * It also lists the members of a top-level object with their values as raw
 * text, so that a few known members can be taken as they were published. */
#ifndef RC_JSONV_H
#define RC_JSONV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define JSONV_MAX_DEPTH 512

enum jsonv_type {
    JSONV_OBJECT = 'o',
    JSONV_ARRAY = 'a',
    JSONV_STRING = 's',
    JSONV_NUMBER = 'n',
    JSONV_TRUE = 't',
    JSONV_FALSE = 'f',
    JSONV_NULL = 'z',
};

/* jsonv_valid reports whether |p| is exactly one JSON value, with optional
 * whitespace around it. */
bool jsonv_valid(const uint8_t *p, size_t len);

struct jsonv_member {
    const uint8_t *key; /* the name as written, without its quotes (escapes kept) */
    size_t key_len;
    const uint8_t *value; /* the value's text, as written (strings with their quotes) */
    size_t value_len;
    enum jsonv_type type;
};

typedef void (*jsonv_member_fn)(void *ctx, const struct jsonv_member *m);

/* jsonv_each_member calls |fn| for every member of the object that |p|
 * (valid JSON, see jsonv_valid) holds at its top level, in order. Returns
 * false, calling nothing, when the value is not an object. */
bool jsonv_each_member(const uint8_t *p, size_t len, jsonv_member_fn fn, void *ctx);

/* jsonv_each_element calls |fn| for every element of the array |p| (valid
 * JSON) holds at its top level, in order (the member's key is empty).
 * Returns false, calling nothing, when the value is not an array. */
bool jsonv_each_element(const uint8_t *p, size_t len, jsonv_member_fn fn, void *ctx);

/* jsonv_unescape decodes a string's text (as in struct jsonv_member: no
 * quotes, escapes kept) into |out| as UTF-8 and returns its length, or -1
 * when it does not fit |cap|. \u escapes of unpaired surrogates become
 * U+FFFD. */
long jsonv_unescape(const uint8_t *raw, size_t len, char *out, size_t cap);

/* jsonv_key_is reports whether a member's name, decoded, is |name|. */
bool jsonv_key_is(const struct jsonv_member *m, const char *name);

#endif
