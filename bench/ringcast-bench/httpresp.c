/* httpresp.c: HTTP response heads (see httpresp.h). */
#include "httpresp.h"

#include <string.h>
#include <strings.h>

size_t httpresp_head_len(const char *buf, size_t len)
{
    const char *end = memmem(buf, len, "\r\n\r\n", 4);
    return end ? (size_t)(end - buf) + 4 : 0;
}

int httpresp_status(const char *head, size_t len)
{
    if (len < 12 || memcmp(head, "HTTP/1.", 7) != 0 || head[8] != ' ')
        return -1;
    int code = 0;
    for (int i = 9; i < 12; i++) {
        if (head[i] < '0' || head[i] > '9')
            return -1;
        code = code * 10 + (head[i] - '0');
    }
    return code;
}

static size_t trim_end(const char *s, size_t len)
{
    while (len > 0 && (s[len - 1] == ' ' || s[len - 1] == '\t'))
        len--;
    return len;
}

bool httpresp_header(const char *head, size_t len, const char *name, const char **out,
                     size_t *out_len)
{
    size_t name_len = strlen(name);
    const char *end = head + len;
    const char *line = memchr(head, '\n', len);

    while (line != NULL && ++line < end) {
        const char *eol = memchr(line, '\n', (size_t)(end - line));
        if (eol == NULL)
            break;
        size_t line_len = (size_t)(eol - line);
        if (line_len > name_len && line[name_len] == ':' &&
            strncasecmp(line, name, name_len) == 0) {
            const char *v = line + name_len + 1;
            while (v < eol && (*v == ' ' || *v == '\t'))
                v++;
            size_t v_len = (size_t)(eol - v);
            if (v_len > 0 && v[v_len - 1] == '\r')
                v_len--;
            *out = v;
            *out_len = trim_end(v, v_len);
            return true;
        }
        line = eol;
    }
    return false;
}

bool httpresp_value_has(const char *value, size_t len, const char *token)
{
    size_t token_len = strlen(token);
    size_t pos = 0;

    while (pos < len) {
        while (pos < len && (value[pos] == ' ' || value[pos] == '\t' || value[pos] == ','))
            pos++;
        size_t start = pos;
        while (pos < len && value[pos] != ',')
            pos++;
        size_t item_len = trim_end(value + start, pos - start);
        if (item_len == token_len && strncasecmp(value + start, token, token_len) == 0)
            return true;
    }
    return false;
}
