/* sseparse.c: event-stream lines (see sseparse.h). */
#include "sseparse.h"

#include <stdio.h>
#include <string.h>

#include "httpresp.h"

size_t ssep_next_line(const uint8_t *p, size_t len, struct ssep_line *out)
{
    const uint8_t *nl = memchr(p, '\n', len);

    if (nl == NULL)
        return 0;
    size_t line_len = (size_t)(nl - p);
    size_t taken = line_len + 1;
    if (line_len > 0 && p[line_len - 1] == '\r')
        line_len--;
    if (line_len >= 5 && memcmp(p, "data:", 5) == 0) {
        size_t skip = line_len > 5 && p[5] == ' ' ? 6 : 5;
        out->kind = SSEP_DATA;
        out->value = p + skip;
        out->len = line_len - skip;
    } else {
        out->kind = SSEP_OTHER;
        out->value = p;
        out->len = line_len;
    }
    return taken;
}

int ssep_check_response(const char *head, size_t len, char *err, size_t err_len)
{
    const char *v;
    size_t v_len;
    int status = httpresp_status(head, len);

    if (status != 200) {
        const char *eol = memchr(head, '\r', len);
        int line_len = eol ? (int)(eol - head) : (int)(len < 80 ? len : 80);
        snprintf(err, err_len, "stream refused: %.*s", line_len, head);
        return -1;
    }
    if (!httpresp_header(head, len, "Content-Type", &v, &v_len) || v_len < 17 ||
        memcmp(v, "text/event-stream", 17) != 0) {
        snprintf(err, err_len, "200 without Content-Type: text/event-stream");
        return -1;
    }
    return 0;
}
