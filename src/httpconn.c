/* httpconn.c: HTTP requests on the client port, and the WebSocket upgrade. */
#include "httpconn.h"

#include <stdio.h>
#include <string.h>

#include "conn.h"
#include "http.h"
#include "log.h"
#include "shard.h"
#include "ws.h"
#include "wsconn.h"

#define SERVER_HEADER "Server: ringcast\r\n"

static const char *error_code_of(int status)
{
    switch (status) {
    case 400:
        return "bad_request";
    case 404:
        return "not_found";
    case 405:
        return "method_not_allowed";
    case 408:
        return "request_timeout";
    case 414:
        return "uri_too_long";
    case 426:
        return "upgrade_required";
    case 431:
        return "headers_too_large";
    case 501:
        return "not_implemented";
    case 503:
        return "unavailable";
    case 505:
        return "http_version_not_supported";
    default:
        return "error";
    }
}

/* respond queues a complete response with a JSON body. */
static void respond(struct shard *sh, struct conn *c, int status, const char *extra_headers,
                    const char *body, bool keep_alive, bool head_only)
{
    char head[512];
    size_t body_len = strlen(body);
    int len = snprintf(head, sizeof(head),
                       "HTTP/1.1 %d %s\r\n" SERVER_HEADER "Content-Type: application/json\r\n"
                       "Content-Length: %zu\r\n%s%s\r\n",
                       status, http_status_text(status), body_len,
                       keep_alive ? "" : "Connection: close\r\n", extra_headers);
    conn_send_copy(sh, c, head, (size_t)len);
    if (!head_only)
        conn_send_copy(sh, c, body, body_len);
}

/* fail answers an error and closes the connection after it. */
static void fail(struct shard *sh, struct conn *c, int status, const char *extra_headers,
                 const char *message)
{
    char body[256];
    snprintf(body, sizeof(body), "{\"error\":\"%s\",\"message\":\"%s\"}\n", error_code_of(status),
             message);
    respond(sh, c, status, extra_headers, body, false, false);
    conn_finish(sh, c);
}

void httpconn_start(struct shard *sh, struct conn *c)
{
    timer_arm(&sh->timers, &c->timer, sh->now_ms + sh->cfg->handshake_timeout_ms);
}

void httpconn_on_timeout(struct shard *sh, struct conn *c)
{
    fail(sh, c, 408, "", "no complete request head within the handshake timeout");
}

static bool path_is(const struct http_request *req, const char *path)
{
    size_t len = strlen(path);
    return req->path_len == len && memcmp(req->path, path, len) == 0;
}

static bool header_is(const struct http_request *req, const char *name, const char *value)
{
    const struct http_header *h = http_find_header(req, name);
    return h && h->value_len == strlen(value) && memcmp(h->value, value, h->value_len) == 0;
}

/* upgrade validates a WebSocket handshake (RFC 6455 section 4.2.1) and
 * answers 101, or an error. Returns true when the connection upgraded. */
static bool upgrade(struct shard *sh, struct conn *c, const struct http_request *req)
{
    if (req->method != HTTP_GET) {
        fail(sh, c, 405, "Allow: GET\r\n", "the WebSocket endpoint takes GET only");
        return false;
    }
    const struct http_header *upgrade_hdr = http_find_header(req, "Upgrade");
    if (req->minor_version < 1 || !req->upgrade || !upgrade_hdr ||
        !http_has_token(upgrade_hdr->value, upgrade_hdr->value_len, "websocket")) {
        /* RFC 9110 section 7.8: Upgrade comes with the "upgrade" connection
         * option (alongside "close": the connection ends after this). */
        fail(sh, c, 426, "Upgrade: websocket\r\nConnection: Upgrade\r\n",
             "this endpoint needs an HTTP/1.1 WebSocket upgrade");
        return false;
    }
    if (!header_is(req, "Sec-WebSocket-Version", "13")) {
        fail(sh, c, 426, "Sec-WebSocket-Version: 13\r\n", "WebSocket version 13 is required");
        return false;
    }
    const struct http_header *key = http_find_header(req, "Sec-WebSocket-Key");
    char accept[WS_ACCEPT_LEN + 1];
    if (!key || ws_accept_key(accept, key->value, key->value_len) != 0) {
        fail(sh, c, 400, "", "Sec-WebSocket-Key must be the base64 form of 16 bytes");
        return false;
    }
    if (req->content_length > 0 || req->chunked) {
        fail(sh, c, 400, "", "a WebSocket handshake has no body");
        return false;
    }
    char response[256];
    int len = snprintf(response, sizeof(response),
                       "HTTP/1.1 101 Switching Protocols\r\n" SERVER_HEADER
                       "Upgrade: websocket\r\nConnection: Upgrade\r\n"
                       "Sec-WebSocket-Accept: %s\r\n\r\n",
                       accept);
    conn_send_copy(sh, c, response, (size_t)len);
    return true;
}

/* serve answers one complete request. Returns true when the connection
 * goes on reading HTTP requests. */
static bool serve(struct shard *sh, struct conn *c, const struct http_request *req)
{
    if (req->method == HTTP_OTHER) {
        fail(sh, c, 501, "", "method not implemented");
        return false;
    }
    if (path_is(req, "/healthz")) {
        if (req->method != HTTP_GET && req->method != HTTP_HEAD) {
            fail(sh, c, 405, "Allow: GET, HEAD\r\n", "/healthz takes GET or HEAD");
            return false;
        }
        if (req->content_length > 0 || req->chunked) {
            fail(sh, c, 400, "", "this request takes no body");
            return false;
        }
        respond(sh, c, 200, "Cache-Control: no-store\r\n", "{\"status\":\"ok\"}\n", req->keep_alive,
                req->method == HTTP_HEAD);
        if (!req->keep_alive) {
            conn_finish(sh, c);
            return false;
        }
        /* The next request on this connection gets its own full timeout. */
        timer_arm(&sh->timers, &c->timer, sh->now_ms + sh->cfg->handshake_timeout_ms);
        return true;
    }
    fail(sh, c, 404, "", "no such endpoint");
    return false;
}

/* handle_requests serves the complete requests at the start of |buf| and
 * returns how many bytes they took; -1 once the connection stopped being
 * an HTTP connection (upgraded or closing). */
static long handle_requests(struct shard *sh, struct conn *c, uint8_t *buf, size_t len)
{
    const struct http_limits limits = {
        .max_head_bytes = sh->cfg->max_header_bytes,
        .max_target_bytes = sh->cfg->max_target_bytes,
        .max_headers = HTTP_MAX_HEADERS,
    };
    size_t done = 0;
    while (done < len && c->state == CONN_OPEN) {
        struct http_request req;
        int head_len = http_parse_request(&req, (const char *)buf + done, len - done, &limits);
        if (head_len == -2)
            return (long)done;
        if (head_len < 0) {
            fail(sh, c, req.error_status, "", req.error_reason);
            return -1;
        }
        done += (size_t)head_len;
        bool echo = sh->cfg->echo_endpoint && path_is(&req, "/v1/echo");
        if ((path_is(&req, "/v1/ws") || echo) && req.method != HTTP_OTHER) {
            if (!upgrade(sh, c, &req))
                return -1;
            timer_cancel(&sh->timers, &c->timer);
            wsconn_start(sh, c, echo, buf + done, len - done);
            return -1;
        }
        if (!serve(sh, c, &req))
            return -1;
    }
    return c->state == CONN_OPEN ? (long)done : -1;
}

void httpconn_on_data(struct shard *sh, struct conn *c, uint8_t *data, size_t len)
{
    while (len > 0 && c->state == CONN_OPEN) {
        if (c->kind == CONN_WS) {
            /* Upgraded by an earlier part of this input. */
            wsconn_on_data(sh, c, data, len);
            return;
        }
        if (c->in.len == 0) {
            long used = handle_requests(sh, c, data, len);
            if (used >= 0 && (size_t)used < len &&
                inbuf_append(&c->in, data + used, len - (size_t)used, sh->cfg->max_header_bytes) !=
                    0)
                fail(sh, c, 431, "", "request head too large");
            return;
        }
        /* Part of a head is buffered: add what fits (the parser answers 431
         * once the buffer reaches the limit without a complete head). */
        size_t room = sh->cfg->max_header_bytes - c->in.len;
        size_t take = len < room ? len : room;
        inbuf_append(&c->in, data, take, sh->cfg->max_header_bytes);
        data += take;
        len -= take;
        long used = handle_requests(sh, c, c->in.data, c->in.len);
        if (used < 0)
            inbuf_clear(&c->in);
        else
            inbuf_consume(&c->in, (size_t)used);
    }
}
