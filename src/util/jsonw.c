/* jsonw.c: JSON string escaping. */
#include "util/jsonw.h"

#include <string.h>

/* Escape sequence length for each byte: 1 for bytes copied as they are, 2
 * for the short escapes, 6 for \u00XX. */
static size_t escape_len(uint8_t c)
{
    if (c == '"' || c == '\\' || c == '\n' || c == '\r' || c == '\t' || c == '\b' || c == '\f')
        return 2;
    return c < 0x20 ? 6 : 1;
}

size_t json_escaped_len(const uint8_t *s, size_t len)
{
    size_t out = 0;
    for (size_t i = 0; i < len; i++)
        out += escape_len(s[i]);
    return out;
}

uint8_t *json_escape(uint8_t *out, const uint8_t *s, size_t len)
{
    static const char hex[] = "0123456789abcdef";
    size_t run = 0; /* bytes that need no escape, copied in one go */
    for (size_t i = 0; i < len; i++) {
        uint8_t c = s[i];
        if (escape_len(c) == 1) {
            run++;
            continue;
        }
        memcpy(out, s + i - run, run);
        out += run;
        run = 0;
        *out++ = '\\';
        switch (c) {
        case '"':
        case '\\':
            *out++ = c;
            break;
        case '\n':
            *out++ = 'n';
            break;
        case '\r':
            *out++ = 'r';
            break;
        case '\t':
            *out++ = 't';
            break;
        case '\b':
            *out++ = 'b';
            break;
        case '\f':
            *out++ = 'f';
            break;
        default:
            *out++ = 'u';
            *out++ = '0';
            *out++ = '0';
            *out++ = (uint8_t)hex[c >> 4];
            *out++ = (uint8_t)hex[c & 15];
        }
    }
    memcpy(out, s + len - run, run);
    return out + run;
}
