/* httpreply.c: HTTP responses (see httpreply.h). */
#include "httpreply.h"

#include <stdio.h>
#include <string.h>

#include "conn.h"
#include "http.h"
#include "jsonw.h"

void httpreply_send(struct shard *sh, struct conn *c, int status, const char *extra_headers,
                    const char *content_type, const void *body, size_t body_len, bool keep_alive,
                    bool head_only)
{
    char head[768];
    int len = snprintf(head, sizeof(head),
                       "HTTP/1.1 %d %s\r\nServer: ringcast\r\nContent-Type: %s\r\n"
                       "Content-Length: %zu\r\n%s%s\r\n",
                       status, http_status_text(status), content_type, body_len,
                       keep_alive ? "" : "Connection: close\r\n", extra_headers);
    if (len < 0 || (size_t)len >= sizeof(head))
        len = snprintf(head, sizeof(head),
                       "HTTP/1.1 500 Internal Server Error\r\n"
                       "Content-Length: 0\r\nConnection: close\r\n\r\n");
    conn_send_copy(sh, c, head, (size_t)len);
    if (!head_only && body_len > 0)
        conn_send_copy(sh, c, body, body_len);
    if (!keep_alive)
        conn_finish(sh, c);
}

void httpreply_error(struct shard *sh, struct conn *c, int status, const char *code,
                     const char *message, const char *extra_headers, bool keep_alive)
{
    char body[3072]; /* code, and a message of at most 400 bytes escaped to at most 2400 */
    size_t message_len = strnlen(message, 400);
    uint8_t *p = (uint8_t *)body;
    p += sprintf(body, "{\"error\":\"%s\",\"message\":\"", code);
    p = json_escape(p, (const uint8_t *)message, message_len);
    p += sprintf((char *)p, "\"}\n");
    httpreply_send(sh, c, status, extra_headers, "application/json", body,
                   (size_t)(p - (uint8_t *)body), keep_alive, false);
}
