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
#include "util/put.h"

/* response_head writes the head of a response to |out| and returns its
 * length, 0 when it does not fit. Copies, no formatting: every HTTP
 * publish is answered through here. */
static size_t response_head(char *out, size_t cap, int status, const char *extra_headers,
                            const char *content_type, size_t body_len, bool keep_alive,
                            const char *cors)
{
    struct put w = put_init(out, cap);

    put_str(&w, "HTTP/1.1 ");
    put_u64(&w, (uint64_t)status);
    put_str(&w, " ");
    put_str(&w, http_status_text(status));
    put_str(&w, "\r\nServer: ringcast\r\nContent-Type: ");
    put_str(&w, content_type);
    put_str(&w, "\r\nContent-Length: ");
    put_u64(&w, body_len);
    put_str(&w, keep_alive ? "\r\n" : "\r\nConnection: close\r\n");
    put_str(&w, extra_headers);
    put_str(&w, cors);
    put_str(&w, "\r\n");
    return w.over ? 0 : w.len;
}

bool httpreply_head(struct shard *sh, struct conn *c, int status, const char *extra_headers,
                    const char *content_type, size_t body_len, bool keep_alive)
{
    static const char fallback[] = "HTTP/1.1 500 Internal Server Error\r\n"
                                   "Content-Length: 0\r\nConnection: close\r\n\r\n";
    char head[768 + HTTPCORS_HEADERS_MAX];
    char cors[HTTPCORS_HEADERS_MAX];
    size_t len = response_head(head, sizeof(head), status, extra_headers, content_type, body_len,
                               keep_alive, httpcors_headers(cors, sh->cfg, httpcors_of(c)->origin));
    if (len == 0) {
        conn_send_copy(sh, c, fallback, sizeof(fallback) - 1);
        conn_finish(sh, c);
        return false;
    }
    conn_send_copy(sh, c, head, len);
    return true;
}

void httpreply_send(struct shard *sh, struct conn *c, int status, const char *extra_headers,
                    const char *content_type, const void *body, size_t body_len, bool keep_alive,
                    bool head_only)
{
    if (!httpreply_head(sh, c, status, extra_headers, content_type, body_len, keep_alive))
        return;
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
