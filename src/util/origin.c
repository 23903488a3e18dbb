/* origin.c: origin lists (see origin.h). */
#include "util/origin.h"

#include <string.h>
#include <strings.h>

static bool is_host_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '.';
}

/* check_port accepts ":1".. ":65535" at |p| up to |end|. */
static bool check_port(const char *p, const char *end)
{
    if (end - p < 2 || end - p > 6 || *p != ':')
        return false;
    unsigned long port = 0;
    for (p++; p < end; p++) {
        if (*p < '0' || *p > '9')
            return false;
        port = port * 10 + (unsigned long)(*p - '0');
    }
    return port >= 1 && port <= 65535;
}

/* check_origin validates a lower-cased origin; NULL when it is one, else
 * what is wrong. */
static const char *check_origin(const char *o, size_t len)
{
    const char *end = o + len;
    size_t scheme_len = len > 8 && memcmp(o, "https://", 8) == 0  ? 8
                        : len > 7 && memcmp(o, "http://", 7) == 0 ? 7
                                                                  : 0;
    if (scheme_len == 0)
        return "an origin starts with http:// or https://";
    const char *host = o + scheme_len, *p = host;
    if (*p == '[') { /* an IPv6 address */
        const char *close = memchr(p, ']', (size_t)(end - p));
        if (!close || close == p + 1)
            return "an IPv6 origin is [address] (with brackets)";
        for (const char *q = p + 1; q < close; q++)
            if (!((*q >= '0' && *q <= '9') || (*q >= 'a' && *q <= 'f') || *q == ':' || *q == '.'))
                return "an IPv6 origin is [address] (with brackets)";
        p = close + 1;
    } else {
        while (p < end && is_host_char(*p))
            p++;
        if (p == host)
            return "an origin names a host: scheme://host[:port]";
    }
    if (p < end && *p == '/')
        return "an origin has no path, not even a trailing /: scheme://host[:port]";
    if (p < end && !check_port(p, end))
        return "an origin is scheme://host[:port], the port a number from 1 to 65535";
    return NULL;
}

/* add_item adds one trimmed item of the list. */
static int add_item(struct origin_list *out, const char *item, size_t len, const char **error)
{
    if (len == 1 && item[0] == '*') {
        out->any = true;
        return 0;
    }
    if (len == 0) {
        *error = "empty item in the origin list";
        return -1;
    }
    if (len > ORIGIN_MAX_LEN) {
        *error = "an origin is at most 255 bytes";
        return -1;
    }
    if (out->n == ORIGIN_LIST_MAX) {
        *error = "at most 32 origins in a list";
        return -1;
    }
    char *o = out->origin[out->n];
    for (size_t i = 0; i < len; i++)
        o[i] = (item[i] >= 'A' && item[i] <= 'Z') ? (char)(item[i] - 'A' + 'a') : item[i];
    o[len] = '\0';
    if ((*error = check_origin(o, len)) != NULL)
        return -1;
    out->len[out->n++] = (uint8_t)len;
    return 0;
}

int origin_list_parse(struct origin_list *out, const char *text, const char **error)
{
    memset(out, 0, sizeof(*out));
    for (const char *item = text, *comma; item; item = comma ? comma + 1 : NULL) {
        comma = strchr(item, ',');
        const char *end = comma ? comma : item + strlen(item);
        while (item < end && (*item == ' ' || *item == '\t'))
            item++;
        while (end > item && (end[-1] == ' ' || end[-1] == '\t'))
            end--;
        if (add_item(out, item, (size_t)(end - item), error) != 0)
            return -1;
    }
    return 0;
}

int origin_list_find(const struct origin_list *l, const char *origin, size_t len)
{
    for (unsigned i = 0; i < l->n; i++)
        if (l->len[i] == len && strncasecmp(l->origin[i], origin, len) == 0)
            return (int)i;
    return ORIGIN_UNLISTED;
}
