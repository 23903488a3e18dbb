/* urlenc.c: percent-encoding (see urlenc.h). */
#include "urlenc.h"

#include <string.h>

size_t urlenc_append(char *out, const char *s, size_t len)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t pos = 0;

    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
            (c != '\0' && strchr("-._~:", c) != NULL)) {
            out[pos++] = (char)c;
        } else {
            out[pos++] = '%';
            out[pos++] = hex[c >> 4];
            out[pos++] = hex[c & 15];
        }
    }
    return pos;
}
