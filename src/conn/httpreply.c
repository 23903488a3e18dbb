/* httpreply.c: HTTP responses (see httpreply.h). */
#include "conn/httpreply.h"

#include <stdio.h>
#include <string.h>

#include "conn/httpcors.h"
#include "core/conn.h"
#include "core/shard.h"
#include "core/limits.h"
#include "proto/http.h"
#include "util/jsonw.h"

void httpreply_head(struct shard *sh, struct conn *c, int status, const char *extra_headers,
                    const char *content_type, size_t body_len, bool keep_alive)
{
    char head[768 + HTTPCORS_HEADERS_MAX];
    char cors[HTTPCORS_HEADERS_MAX];
    int len = snprintf(head, sizeof(head),
                       "HTTP/1.1 %d %s\r\nServer: ringcast\r\nContent-Type: %s\r\n"
                       "Content-Length: %zu\r\n%s%s%s\r\n",
                       status, http_status_text(status), content_type, body_len,
                       keep_alive ? "" : "Connection: close\r\n", extra_headers,
                       httpcors_headers(cors, sh->cfg, httpcors_of(c)->origin));
    if (len < 0 || (size_t)len >= sizeof(head))
        len = snprintf(head, sizeof(head),
                       "HTTP/1.1 500 Internal Server Error\r\n"
                       "Content-Length: 0\r\nConnection: close\r\n\r\n");
    conn_send_copy(sh, c, head, (size_t)len);
}

void httpreply_send(struct shard *sh, struct conn *c, int status, const char *extra_headers,
                    const char *content_type, const void *body, size_t body_len, bool keep_alive,
                    bool head_only)
{
    httpreply_head(sh, c, status, extra_headers, content_type, body_len, keep_alive);
    if (!head_only && body_len > 0)
        conn_send_copy(sh, c, body, body_len);
    if (!keep_alive)
        conn_finish(sh, c);
}

/* error_body writes {"error":…,["topic":…,]"message":…} into |body|
 * (3 KiB: the message is cut to 400 bytes and the topic to 128, and
 * escaping grows them at most sixfold); returns its length. */
static size_t error_body(char *body, const char *code, const char *topic, size_t topic_len,
                         const char *message)
{
    uint8_t *p = (uint8_t *)body;
    p += sprintf(body, "{\"error\":\"%s\",", code);
    if (topic) {
        char shown[128];
        size_t n = topic_len < sizeof(shown) ? topic_len : sizeof(shown);
        for (size_t i = 0; i < n; i++)
            shown[i] = topic[i] >= 0x20 && topic[i] < 0x7f ? topic[i] : '?';
        p += sprintf((char *)p, "\"topic\":\"");
        p = json_escape(p, (const uint8_t *)shown, n);
        p += sprintf((char *)p, "\",");
    }
    p += sprintf((char *)p, "\"message\":\"");
    p = json_escape(p, (const uint8_t *)message, strnlen(message, 400));
    p += sprintf((char *)p, "\"}\n");
    return (size_t)(p - (uint8_t *)body);
}

void httpreply_error(struct shard *sh, struct conn *c, int status, const char *code,
                     const char *message, const char *extra_headers, bool keep_alive)
{
    char body[3072];
    size_t len = error_body(body, code, NULL, 0, message);
    httpreply_send(sh, c, status, extra_headers, "application/json", body, len, keep_alive, false);
}

const char *httpreply_retry_after(char out[32], uint32_t retry_ms)
{
    if (retry_ms == 0)
        return "";
    snprintf(out, 32, "Retry-After: %u\r\n", retry_ms / 1000 + (retry_ms % 1000 != 0));
    return out;
}

void httpreply_refusal(struct shard *sh, struct conn *c, const struct limits_refusal *r,
                       bool keep_alive)
{
    char retry[32];
    httpreply_error(sh, c, r->server ? 503 : 429, r->server ? "unavailable" : "rate_limited",
                    r->message, httpreply_retry_after(retry, r->retry_ms), keep_alive);
}

void httpreply_topic_error(struct shard *sh, struct conn *c, int status, const char *code,
                           const char *topic, size_t topic_len, const char *message)
{
    char body[4096];
    size_t len = error_body(body, code, topic, topic_len, message);
    httpreply_send(sh, c, status, "", "application/json", body, len, false, false);
}
