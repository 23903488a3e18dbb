/* jsonv.c: JSON validation and top-level member scanning (see jsonv.h).
 *
 * The grammar of RFC 8259, section 2 onwards:
 *   value  = object / array / string / number / true / false / null
 *   number = [ "-" ] ( "0" / 1-9 *DIGIT ) [ "." 1*DIGIT ] [ ("e"/"E") ["+"/"-"] 1*DIGIT ]
 *   string = quotation-mark *char quotation-mark; no raw control characters
 * Nesting is followed with an explicit stack (no recursion), so a deep
 * input cannot exhaust the thread's stack. UTF-8 is checked once over the
 * whole text first; after that, bytes above 0x7F can only be string text. */
#include "util/jsonv.h"

#include <string.h>

#include "util/utf8.h"

struct scanner {
    const uint8_t *p;
    const uint8_t *end;
};

static void skip_ws(struct scanner *s)
{
    while (s->p < s->end && (*s->p == ' ' || *s->p == '\t' || *s->p == '\n' || *s->p == '\r'))
        s->p++;
}

static bool is_digit(uint8_t c)
{
    return c >= '0' && c <= '9';
}

static bool is_hex(uint8_t c)
{
    return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

/* Bytes repeated in each lane of a 64-bit word, for the word-at-a-time
 * string scan. */
#define LANES(b) (0x0101010101010101ull * (uint8_t)(b))

/* plain_word reports whether none of the 8 bytes at |p| ends or escapes a
 * string or is a control character: no '"', no '\\', none below 0x20. Each
 * test is the classic "some byte is less than n" trick, exact as a whole. */
static bool plain_word(const uint8_t *p)
{
    uint64_t v;
    memcpy(&v, p, sizeof(v));
    uint64_t quote = v ^ LANES('"'), backslash = v ^ LANES('\\');
    uint64_t special = ((v - LANES(0x20)) & ~v) | ((quote - LANES(1)) & ~quote) |
                       ((backslash - LANES(1)) & ~backslash);
    return (special & LANES(0x80)) == 0;
}

/* scan_string consumes a string starting at its opening quote. Runs of
 * plain text go 8 bytes at a time (payload strings are mostly that). */
static bool scan_string(struct scanner *s)
{
    s->p++;
    while (s->p < s->end) {
        while (s->end - s->p >= 8 && plain_word(s->p))
            s->p += 8;
        if (s->p == s->end)
            break; /* plain text up to the end: no closing quote */
        uint8_t c = *s->p++;
        if (c == '"')
            return true;
        if (c < 0x20)
            return false;
        if (c != '\\')
            continue;
        if (s->p >= s->end)
            return false;
        c = *s->p++;
        if (c == 'u') {
            if (s->end - s->p < 4 || !is_hex(s->p[0]) || !is_hex(s->p[1]) || !is_hex(s->p[2]) ||
                !is_hex(s->p[3]))
                return false;
            s->p += 4;
        } else if (!memchr("\"\\/bfnrt", c, 8)) {
            return false;
        }
    }
    return false;
}

static bool scan_digits(struct scanner *s)
{
    const uint8_t *start = s->p;
    while (s->p < s->end && is_digit(*s->p))
        s->p++;
    return s->p > start;
}

static bool scan_number(struct scanner *s)
{
    if (*s->p == '-')
        s->p++;
    if (s->p < s->end && *s->p == '0')
        s->p++;
    else if (!(s->p < s->end && *s->p >= '1' && *s->p <= '9') || !scan_digits(s))
        return false;
    if (s->p < s->end && *s->p == '.') {
        s->p++;
        if (!scan_digits(s))
            return false;
    }
    if (s->p < s->end && (*s->p == 'e' || *s->p == 'E')) {
        s->p++;
        if (s->p < s->end && (*s->p == '+' || *s->p == '-'))
            s->p++;
        if (!scan_digits(s))
            return false;
    }
    return true;
}

static bool scan_literal(struct scanner *s, const char *word, size_t len)
{
    if ((size_t)(s->end - s->p) < len || memcmp(s->p, word, len) != 0)
        return false;
    s->p += len;
    return true;
}

/* scan_scalar consumes a value that is not a container. */
static bool scan_scalar(struct scanner *s)
{
    switch (*s->p) {
    case '"':
        return scan_string(s);
    case 't':
        return scan_literal(s, "true", 4);
    case 'f':
        return scan_literal(s, "false", 5);
    case 'n':
        return scan_literal(s, "null", 4);
    default:
        return (*s->p == '-' || is_digit(*s->p)) && scan_number(s);
    }
}

/* scan_key consumes a member name and its colon, with the whitespace
 * around them. */
static bool scan_key(struct scanner *s)
{
    skip_ws(s);
    if (s->p >= s->end || *s->p != '"' || !scan_string(s))
        return false;
    skip_ws(s);
    if (s->p >= s->end || *s->p != ':')
        return false;
    s->p++;
    return true;
}

/* scan_value consumes one complete value (at s->p, whitespace skipped
 * before it, not after). */
static bool scan_value(struct scanner *s)
{
    uint8_t open[JSONV_MAX_DEPTH]; /* the containers entered, '{' or '[' */
    size_t depth = 0;
    for (;;) {
        /* A value is expected here. */
        skip_ws(s);
        if (s->p >= s->end)
            return false;
        if (*s->p == '{' || *s->p == '[') {
            if (depth == JSONV_MAX_DEPTH)
                return false;
            uint8_t kind = *s->p++;
            open[depth++] = kind;
            skip_ws(s);
            if (s->p < s->end && *s->p == (kind == '{' ? '}' : ']')) {
                s->p++;
                depth--;
            } else {
                if (kind == '{' && !scan_key(s))
                    return false;
                continue;
            }
        } else if (!scan_scalar(s)) {
            return false;
        }
        /* After a value: close containers, or go on to the next element. */
        for (;;) {
            if (depth == 0)
                return true;
            skip_ws(s);
            if (s->p >= s->end)
                return false;
            uint8_t kind = open[depth - 1];
            uint8_t c = *s->p++;
            if (c == ',') {
                if (kind == '{' && !scan_key(s))
                    return false;
                break;
            }
            if (c != (kind == '{' ? '}' : ']'))
                return false;
            depth--;
        }
    }
}

bool jsonv_valid(const uint8_t *p, size_t len)
{
    if (!utf8_valid(p, len))
        return false;
    struct scanner s = {p, p + len};
    if (!scan_value(&s))
        return false;
    skip_ws(&s);
    return s.p == s.end;
}

static enum jsonv_type type_of(uint8_t first)
{
    switch (first) {
    case '{':
        return JSONV_OBJECT;
    case '[':
        return JSONV_ARRAY;
    case '"':
        return JSONV_STRING;
    case 't':
        return JSONV_TRUE;
    case 'f':
        return JSONV_FALSE;
    case 'n':
        return JSONV_NULL;
    default:
        return JSONV_NUMBER;
    }
}

/* scan_member reads "name": value, filling |m|. */
static bool scan_member(struct scanner *s, struct jsonv_member *m)
{
    skip_ws(s);
    if (s->p >= s->end || *s->p != '"')
        return false;
    m->key = s->p + 1;
    if (!scan_string(s))
        return false;
    m->key_len = (size_t)(s->p - 1 - m->key); /* up to the closing quote */
    skip_ws(s);
    if (s->p >= s->end || *s->p != ':')
        return false;
    s->p++;
    skip_ws(s);
    if (s->p >= s->end)
        return false;
    m->value = s->p;
    m->type = type_of(*s->p);
    if (!scan_value(s))
        return false;
    m->value_len = (size_t)(s->p - m->value);
    return true;
}

/* scan_element reads one array element (a value), filling |m| with an
 * empty key. */
static bool scan_element(struct scanner *s, struct jsonv_member *m)
{
    skip_ws(s);
    if (s->p >= s->end)
        return false;
    m->key = (const uint8_t *)"";
    m->key_len = 0;
    m->value = s->p;
    m->type = type_of(*s->p);
    if (!scan_value(s))
        return false;
    m->value_len = (size_t)(s->p - m->value);
    return true;
}

/* each_item walks the items of an object or array ({ or [ at |open|,
 * items read by |scan_item|), calling |fn| for each, up to the first one
 * that does not scan. False only when the text does not open with |open|. */
static bool each_item(const uint8_t *p, size_t len, char open, char close,
                      bool (*scan_item)(struct scanner *, struct jsonv_member *),
                      jsonv_member_fn fn, void *ctx)
{
    struct scanner s = {p, p + len};
    skip_ws(&s);
    if (s.p >= s.end || *s.p != open)
        return false;
    s.p++;
    skip_ws(&s);
    if (s.p < s.end && *s.p == close)
        return true;
    struct jsonv_member m;
    while (scan_item(&s, &m)) {
        fn(ctx, &m);
        skip_ws(&s);
        if (s.p >= s.end || *s.p != ',')
            break;
        s.p++;
    }
    return true;
}

bool jsonv_each_member(const uint8_t *p, size_t len, jsonv_member_fn fn, void *ctx)
{
    return each_item(p, len, '{', '}', scan_member, fn, ctx);
}

bool jsonv_each_element(const uint8_t *p, size_t len, jsonv_member_fn fn, void *ctx)
{
    return each_item(p, len, '[', ']', scan_element, fn, ctx);
}

static int hex_value(uint8_t c)
{
    return is_digit(c) ? c - '0' : (c | 0x20) - 'a' + 10;
}

static uint32_t read_hex4(const uint8_t *p)
{
    return (uint32_t)(hex_value(p[0]) << 12 | hex_value(p[1]) << 8 | hex_value(p[2]) << 4 |
                      hex_value(p[3]));
}

/* put_utf8 writes code point |cp| (at most U+10FFFF) and returns its size. */
static size_t put_utf8(uint8_t *out, uint32_t cp)
{
    if (cp < 0x80) {
        out[0] = (uint8_t)cp;
        return 1;
    }
    if (cp < 0x800) {
        out[0] = (uint8_t)(0xC0 | cp >> 6);
        out[1] = (uint8_t)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        out[0] = (uint8_t)(0xE0 | cp >> 12);
        out[1] = (uint8_t)(0x80 | (cp >> 6 & 0x3F));
        out[2] = (uint8_t)(0x80 | (cp & 0x3F));
        return 3;
    }
    out[0] = (uint8_t)(0xF0 | cp >> 18);
    out[1] = (uint8_t)(0x80 | (cp >> 12 & 0x3F));
    out[2] = (uint8_t)(0x80 | (cp >> 6 & 0x3F));
    out[3] = (uint8_t)(0x80 | (cp & 0x3F));
    return 4;
}

/* decode_u decodes a \u escape at |p| (after the backslash), joining a
 * surrogate pair; returns the code point and the bytes it took. */
static uint32_t decode_u(const uint8_t *p, const uint8_t *end, size_t *used)
{
    uint32_t cp = read_hex4(p + 1);
    *used = 5;
    if (cp >= 0xD800 && cp <= 0xDBFF && end - p >= 11 && p[5] == '\\' && p[6] == 'u') {
        uint32_t low = read_hex4(p + 7);
        if (low >= 0xDC00 && low <= 0xDFFF) {
            *used = 11;
            return 0x10000 + ((cp - 0xD800) << 10) + (low - 0xDC00);
        }
    }
    return cp >= 0xD800 && cp <= 0xDFFF ? 0xFFFD : cp;
}

long jsonv_unescape(const uint8_t *raw, size_t len, char *out, size_t cap)
{
    size_t n = 0;
    const uint8_t *end = raw + len;
    for (const uint8_t *p = raw; p < end;) {
        uint8_t tmp[4];
        size_t produced = 1, used = 1;
        tmp[0] = *p;
        if (*p == '\\' && p + 1 < end) {
            static const char from[] = "\"\\/bfnrt", to[] = "\"\\/\b\f\n\r\t";
            const char *hit = memchr(from, p[1], sizeof(from) - 1);
            if (p[1] == 'u' && end - p >= 6) {
                produced = put_utf8(tmp, decode_u(p + 1, end, &used));
                used += 1;
            } else if (hit) {
                tmp[0] = (uint8_t)to[hit - from];
                used = 2;
            }
        }
        if (n + produced > cap)
            return -1;
        memcpy(out + n, tmp, produced);
        n += produced;
        p += used;
    }
    return (long)n;
}

bool jsonv_key_is(const struct jsonv_member *m, const char *name)
{
    size_t name_len = strlen(name);
    if (!memchr(m->key, '\\', m->key_len))
        return m->key_len == name_len && memcmp(m->key, name, name_len) == 0;
    char decoded[64];
    long len = jsonv_unescape(m->key, m->key_len, decoded, sizeof(decoded));
    return len == (long)name_len && memcmp(decoded, name, name_len) == 0;
}
