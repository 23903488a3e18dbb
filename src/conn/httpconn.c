/* httpconn.c: HTTP requests on the client port: input, routing, the
 * WebSocket upgrade and the simple routes. Publish and fetch, which go to a
 * topic's home shard, are in httpapi.c. */
#include "conn/httpconn.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "pubsub/auth.h"
#include "core/conn.h"
#include "proto/http.h"
#include "conn/httpapi.h"
#include "conn/httphistory.h"
#include "conn/httpauth.h"
#include "conn/httpcors.h"
#include "conn/httpreply.h"
#include "conn/httpstate.h"
#include "core/limits.h"
#include "util/log.h"
#include "util/origin.h"
#include "util/put.h"
#include "core/metrics.h"
#include "conn/pusherapi.h"
#include "conn/pusherconn.h"
#include "pubsub/pusherapps.h"
#include "core/shard.h"
#include "conn/sseconn.h"
#include "util/stats.h"
#include "proto/ws.h"
#include "proto/wsdeflate.h"
#include "conn/wsconn.h"

/* fail answers an error and closes the connection after it. */
static void fail(struct shard *sh, struct conn *c, int status, const char *extra_headers,
                 const char *message)
{
    httpreply_error(sh, c, status, httpapi_error_code(status), message, extra_headers, false);
}

static void start(struct shard *sh, struct conn *c)
{
    conn_arm_timer(sh, c, sh->now_ms + sh->cfg->handshake_timeout_ms);
}

static void on_timeout(struct shard *sh, struct conn *c)
{
    httpcors_of(c)->origin = HTTPCORS_NONE; /* answers no request */
    fail(sh, c, 408, "", "no complete request within the handshake timeout");
}

static bool path_is(const struct http_request *req, const char *path)
{
    size_t len = strlen(path);
    return req->path_len == len && memcmp(req->path, path, len) == 0;
}

static bool path_starts(const struct http_request *req, const char *prefix)
{
    size_t len = strlen(prefix);
    return req->path_len > len && memcmp(req->path, prefix, len) == 0;
}

static bool header_is(const struct http_request *req, const char *name, const char *value)
{
    const struct http_header *h = http_find_header(req, name);
    return h && h->value_len == strlen(value) && memcmp(h->value, value, h->value_len) == 0;
}

/* ws_origin_allowed applies --ws-origins to a handshake: a browser always
 * sends the page's Origin (RFC 6455 section 4.1); other clients send none
 * and are let in, since the list guards browser visitors' credentials. */
static bool ws_origin_allowed(const struct shard *sh, const struct http_request *req)
{
    const struct origin_list *allowed = &sh->cfg->ws_origins;
    if (!origin_list_given(allowed) || allowed->any)
        return true;
    const struct http_header *origin = http_find_header(req, "Origin");
    return !origin ||
           origin_list_find(allowed, origin->value, origin->value_len) != ORIGIN_UNLISTED;
}

/* agree_deflate answers a permessage-deflate offer (RFC 7692), when
 * --deflate-level allows it: the Sec-WebSocket-Extensions lines, joined,
 * go to ws_deflate_negotiate. Writes the answer's header line, or nothing. */
static void agree_deflate(const struct shard *sh, const struct http_request *req,
                          struct ws_deflate_agreement *agreed, char *line, size_t cap)
{
    memset(agreed, 0, sizeof(*agreed));
    line[0] = '\0';
    if (sh->cfg->deflate_level == 0)
        return;
    char offers[1024];
    size_t len = 0;
    for (size_t i = 0; i < req->num_headers; i++) {
        const struct http_header *h = &req->headers[i];
        if (h->name_len != 24 || strncasecmp(h->name, "Sec-WebSocket-Extensions", 24) != 0)
            continue;
        if (len + 2 + h->value_len > sizeof(offers))
            return; /* offers this long are not a browser's: none agreed */
        if (len > 0)
            offers[len++] = ',';
        memcpy(offers + len, h->value, h->value_len);
        len += h->value_len;
    }
    char answer[128];
    if (len > 0 && ws_deflate_negotiate(offers, len, agreed, answer, sizeof(answer)))
        snprintf(line, cap, "Sec-WebSocket-Extensions: %s\r\n", answer);
}

/* switching_protocols writes the 101 answering an upgrade (with the
 * subprotocol when |protocol| is not NULL, and the |extensions| header
 * line, possibly empty) to |out| and returns its
 * length, 0 when it does not fit in |cap|. Copies, no formatting: a
 * reconnect storm is this response many thousand times a second. */
static size_t switching_protocols(char *out, size_t cap, const char accept[WS_ACCEPT_LEN + 1],
                                  const char *protocol, size_t protocol_len, const char *extensions)
{
    struct put w = put_init(out, cap);

    put_str(&w, "HTTP/1.1 101 Switching Protocols\r\nServer: ringcast\r\n"
                "Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ");
    put_bytes(&w, accept, WS_ACCEPT_LEN);
    if (protocol != NULL) {
        put_str(&w, "\r\nSec-WebSocket-Protocol: ");
        put_bytes(&w, protocol, protocol_len);
    }
    put_str(&w, "\r\n");
    put_str(&w, extensions);
    put_str(&w, "\r\n");
    return w.over ? 0 : w.len;
}

/* upgrade validates a WebSocket handshake (RFC 6455 section 4.2.1) and
 * answers 101, or an error. Returns true when the connection upgraded,
 * with what it agreed of permessage-deflate in |deflate|. A |dialect|
 * connection brings no token: its protocol authorizes it. */
static bool upgrade(struct shard *sh, struct conn *c, const struct http_request *req, bool dialect,
                    struct ws_deflate_agreement *deflate)
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
    if (!ws_origin_allowed(sh, req)) {
        counter_add(&sh->stats.origin_refusals, 1);
        fail(sh, c, 403, "", "pages of this Origin may not connect (see --ws-origins)");
        return false;
    }
    struct auth_token token;
    struct claims *claims = NULL;
    memset(&token, 0, sizeof(token));
    if (!dialect && !httpauth_keep(sh, c, req, AUTH_SEND_WS, &token, &claims))
        return false;
    size_t protocol_len = 0;
    const char *protocol = dialect ? NULL : auth_subprotocol(req, &token, &protocol_len);
    char extensions[160];
    agree_deflate(sh, req, deflate, extensions, sizeof(extensions));
    char response[JWT_MAX_TOKEN + 512];
    size_t len =
        switching_protocols(response, sizeof(response), accept, protocol, protocol_len, extensions);
    if (len == 0) {
        claims_free(claims);
        fail(sh, c, 400, "", "Sec-WebSocket-Protocol too long");
        return false;
    }
    conn_send_copy(sh, c, response, len);
    conn_set_claims(sh, c, claims);
    return true;
}

static void serve_metrics(struct shard *sh, struct conn *c, const struct http_request *req)
{
    size_t len = 0;
    char *text = metrics_render(sh->set, &len);
    if (!text) {
        fail(sh, c, 503, "", "out of memory");
        return;
    }
    httpreply_send(sh, c, 200, "Cache-Control: no-store\r\n",
                   "text/plain; version=0.0.4; charset=utf-8", text, len, req->keep_alive,
                   req->method == HTTP_HEAD);
    free(text);
}

/* A request's outcome, for the loop that reads them. */
enum served {
    SERVED,    /* answered: read the next request */
    WAITING,   /* at its home shard: read no further until the answer */
    NEED_BODY, /* the body is not all here yet */
    STOPPED,   /* the connection is closing or changed protocol */
};

typedef void (*serve_fn)(struct shard *sh, struct conn *c, const struct http_request *req);

/* serve_plain answers the routes that need nothing but the request head. */
static enum served serve_plain(struct shard *sh, struct conn *c, const struct http_request *req,
                               serve_fn serve)
{
    if (req->method != HTTP_GET && req->method != HTTP_HEAD) {
        fail(sh, c, 405, "Allow: GET, HEAD\r\n", "this endpoint takes GET or HEAD");
        return STOPPED;
    }
    if (req->content_length > 0 || req->chunked) {
        fail(sh, c, 400, "", "this request takes no body");
        return STOPPED;
    }
    serve(sh, c, req);
    return req->keep_alive ? SERVED : STOPPED;
}

static void serve_health(struct shard *sh, struct conn *c, const struct http_request *req)
{
    static const char body[] = "{\"status\":\"ok\"}\n";
    httpreply_send(sh, c, 200, "Cache-Control: no-store\r\n", "application/json", body,
                   sizeof(body) - 1, req->keep_alive, req->method == HTTP_HEAD);
}

static enum served serve_ws(struct shard *sh, struct conn *c, const struct http_request *req,
                            uint8_t *after_head, size_t avail)
{
    bool echo = path_is(req, "/v1/echo");
    struct ws_deflate_agreement deflate;
    if (upgrade(sh, c, req, false, &deflate)) {
        conn_cancel_timer(sh, c);
        wsconn_start(sh, c, echo, &deflate, after_head, avail);
    }
    return STOPPED;
}

/* query_value copies query parameter |name| of |req| into |out| ("" when
 * absent or malformed). */
static void query_value(const struct http_request *req, const char *name, char *out, size_t cap)
{
    char key[32];
    size_t pos = 0;
    out[0] = '\0';
    int r;
    while (req->query &&
           (r = http_query_next(req->query, req->query_len, &pos, key, sizeof(key), out, cap)) != 0)
        if (r > 0 && strcmp(key, name) == 0)
            return;
    out[0] = '\0';
}

/* serve_pusher upgrades /app/<key>?protocol=7 to a Pusher connection. */
static enum served serve_pusher(struct shard *sh, struct conn *c, const struct http_request *req,
                                uint8_t *after_head, size_t avail)
{
    if (!sh->set->pusher_apps) {
        fail(sh, c, 404, "", "no such endpoint (the Pusher dialect needs --pusher-apps)");
        return STOPPED;
    }
    const char *key = req->path + strlen("/app/");
    const struct pusher_app *app =
        pusher_app_by_key(sh->set->pusher_apps, key, req->path_len - strlen("/app/"));
    char protocol[16] = "";
    query_value(req, "protocol", protocol, sizeof(protocol));
    struct ws_deflate_agreement deflate;
    if (upgrade(sh, c, req, true, &deflate)) {
        conn_cancel_timer(sh, c);
        pusherconn_start(sh, c, app, protocol, &deflate, after_head, avail);
    }
    return STOPPED;
}

static enum served serve_pusher_api(struct shard *sh, struct conn *c,
                                    const struct http_request *req, uint8_t *after_head,
                                    size_t avail)
{
    return (enum served)pusherapi_serve(sh, c, req, after_head, avail);
}

static enum served serve_sse(struct shard *sh, struct conn *c, const struct http_request *req,
                             uint8_t *after_head, size_t avail)
{
    (void)after_head, (void)avail;
    conn_cancel_timer(sh, c);
    sseconn_start(sh, c, req);
    return STOPPED;
}

static enum served serve_publish(struct shard *sh, struct conn *c, const struct http_request *req,
                                 uint8_t *after_head, size_t avail)
{
    return (enum served)httpapi_publish(sh, c, req, after_head, avail);
}

static enum served serve_fetch(struct shard *sh, struct conn *c, const struct http_request *req,
                               uint8_t *after_head, size_t avail)
{
    (void)after_head, (void)avail;
    return (enum served)httpapi_fetch(sh, c, req);
}

static enum served serve_history(struct shard *sh, struct conn *c, const struct http_request *req,
                                 uint8_t *after_head, size_t avail)
{
    (void)after_head, (void)avail;
    return (enum served)httphistory_serve(sh, c, req);
}

static enum served serve_metrics_route(struct shard *sh, struct conn *c,
                                       const struct http_request *req, uint8_t *after_head,
                                       size_t avail)
{
    (void)after_head, (void)avail;
    return serve_plain(sh, c, req, serve_metrics);
}

static enum served serve_health_route(struct shard *sh, struct conn *c,
                                      const struct http_request *req, uint8_t *after_head,
                                      size_t avail)
{
    (void)after_head, (void)avail;
    return serve_plain(sh, c, req, serve_health);
}

/* A route of the client port. Every route gets the same treatment of
 * OPTIONS and CORS (httpcors.h) before its handler runs. */
struct route {
    const char *path;
    bool prefix;         /* |path| is a prefix: /v1/messages/<topic>/<seq> */
    bool echo;           /* only with --echo-endpoint */
    const char *methods; /* what it takes: Allow and Access-Control-Allow-Methods */
    enum served (*serve)(struct shard *sh, struct conn *c, const struct http_request *req,
                         uint8_t *after_head, size_t avail);
};

static const struct route routes[] = {
    {"/v1/ws", false, false, "GET", serve_ws},
    {"/v1/echo", false, true, "GET", serve_ws},
    {"/v1/sse", false, false, "GET", serve_sse},
    {"/v1/publish", false, false, "POST", serve_publish},
    {"/v1/messages/", true, false, "GET", serve_fetch},
    {"/v1/history/", true, false, "GET", serve_history},
    {"/metrics", false, false, "GET, HEAD", serve_metrics_route},
    {"/healthz", false, false, "GET, HEAD", serve_health_route},
    {"/app/", true, false, "GET", serve_pusher},
    {"/apps/", true, false, "GET, POST", serve_pusher_api},
};

static const struct route *find_route(const struct shard *sh, const struct http_request *req)
{
    for (size_t i = 0; i < sizeof(routes) / sizeof(routes[0]); i++) {
        const struct route *r = &routes[i];
        if (r->echo && !sh->cfg->echo_endpoint)
            continue;
        if (r->prefix ? path_starts(req, r->path) : path_is(req, r->path))
            return r;
    }
    return NULL;
}

/* preflight answers OPTIONS to route |r|. */
static enum served preflight(struct shard *sh, struct conn *c, const struct http_request *req,
                             const struct route *r)
{
    if (req->content_length > 0 || req->chunked) {
        fail(sh, c, 400, "", "an OPTIONS request here takes no body");
        return STOPPED;
    }
    return httpcors_preflight(sh, c, req, r->methods) ? SERVED : STOPPED;
}

/* route answers one complete request head whose body, if any, starts at
 * |after_head| with |avail| bytes there. */
static enum served route(struct shard *sh, struct conn *c, const struct http_request *req,
                         uint8_t *after_head, size_t avail)
{
    httpcors_of(c)->origin = httpcors_judge(sh->cfg, req);
    if (req->method == HTTP_OTHER) {
        fail(sh, c, 501, "", "method not implemented");
        return STOPPED;
    }
    const struct route *r = find_route(sh, req);
    if (!r) {
        fail(sh, c, 404, "", "no such endpoint");
        return STOPPED;
    }
    if (req->method == HTTP_OPTIONS)
        return preflight(sh, c, req, r);
    return r->serve(sh, c, req, after_head, avail);
}

_Static_assert((int)SERVED == (int)HTTPAPI_SERVED && (int)WAITING == (int)HTTPAPI_WAITING &&
                   (int)NEED_BODY == (int)HTTPAPI_NEED_BODY && (int)STOPPED == (int)HTTPAPI_STOPPED,
               "httpapi results line up with served");

/* handle_requests serves the complete requests at the start of |buf| and
 * returns how many bytes they took; -1 once the connection stopped being
 * an HTTP connection (closing, upgraded, streaming). */
static long handle_requests(struct shard *sh, struct conn *c, uint8_t *buf, size_t len)
{
    const struct http_limits limits = {
        .max_head_bytes = sh->cfg->max_header_bytes,
        .max_target_bytes = sh->cfg->max_target_bytes,
        .max_headers = HTTP_MAX_HEADERS,
    };
    size_t done = 0;
    while (done < len && c->state == CONN_OPEN && !(c->flags & CONN_AWAITING)) {
        if (!conn_input_next(sh, c))
            break; /* paused: the rest waits in c->in */
        struct http_request req;
        int head_len = http_parse_request(&req, (const char *)buf + done, len - done, &limits);
        if (head_len == -2)
            return (long)done;
        if (head_len < 0) {
            httpcors_of(c)->origin = HTTPCORS_NONE; /* no request to judge */
            fail(sh, c, req.error_status, "", req.error_reason);
            return -1;
        }
        size_t after = done + (size_t)head_len;
        enum served s = route(sh, c, &req, buf + after, len - after);
        if (s != NEED_BODY)
            limits_release_body(sh, c); /* the body is handled, or never will be */
        if (s == NEED_BODY || s == STOPPED)
            return s == NEED_BODY && c->state == CONN_OPEN ? (long)done : -1;
        http_state_of(c)->continue_sent = false;
        done = after + (req.content_length > 0 ? (size_t)req.content_length : 0);
        /* The next request on this connection gets its own full timeout. */
        if (s == SERVED)
            conn_arm_timer(sh, c, sh->now_ms + sh->cfg->handshake_timeout_ms);
    }
    return c->state == CONN_OPEN ? (long)done : -1;
}

/* input_limit bounds what a connection may have buffered: one request head
 * and the largest body a publish may have. */
static size_t input_limit(const struct shard *sh)
{
    return (size_t)sh->cfg->max_header_bytes + httpapi_max_body(sh);
}

static void process_buffered(struct shard *sh, struct conn *c)
{
    long used = handle_requests(sh, c, c->in.data, c->in.len);
    if (used < 0)
        inbuf_clear(&c->in);
    else
        inbuf_consume(&c->in, (size_t)used);
}

static void on_data(struct shard *sh, struct conn *c, uint8_t *data, size_t len)
{
    while (len > 0 && c->state == CONN_OPEN) {
        if (c->ops != &http_conn_ops) {
            /* upgraded by an earlier part of this input */
            if (c->ops->on_data)
                c->ops->on_data(sh, c, data, len);
            return;
        }
        if (c->in.len == 0 && !(c->flags & CONN_AWAITING)) {
            long used = handle_requests(sh, c, data, len);
            if (used >= 0 && (size_t)used < len && c->state == CONN_OPEN &&
                c->ops == &http_conn_ops &&
                inbuf_append(&c->in, data + used, len - (size_t)used, input_limit(sh)) != 0)
                fail(sh, c, 413, "", "request too large");
            return;
        }
        /* Something is buffered: add what fits. The parser answers 431
         * once a head reaches its limit; a body's size is checked from its
         * Content-Length before it is buffered. */
        size_t room = input_limit(sh) - c->in.len;
        size_t take = len < room ? len : room;
        if (take == 0) {
            fail(sh, c, 413, "", "request too large");
            return;
        }
        inbuf_append(&c->in, data, take, input_limit(sh));
        data += take;
        len -= take;
        if (!(c->flags & CONN_AWAITING))
            process_buffered(sh, c);
    }
}

/* serving_requests: still an HTTP connection (not upgraded), open and not
 * waiting for its home shard. */
static bool serving_requests(const struct conn *c)
{
    return c->state == CONN_OPEN && c->ops == &http_conn_ops && !(c->flags & CONN_AWAITING);
}

static void resume(struct shard *sh, struct conn *c)
{
    c->flags &= ~(CONN_BLOCKED | CONN_READ_PAUSED);
    if (!serving_requests(c))
        return;
    if (c->in.len > 0)
        process_buffered(sh, c);
    if (c->ops == &http_conn_ops && conn_may_read(c))
        conn_arm_recv(sh, c);
}

static void on_result(struct shard *sh, struct conn *c, struct pubreq *req)
{
    if (!(c->flags & CONN_AWAITING) || c->state != CONN_OPEN)
        return;
    c->flags &= ~CONN_AWAITING;
    if (pusherapi_waiting(c))
        pusherapi_answer(sh, c, req);
    else
        httpapi_answer(sh, c, req);
    if (c->state == CONN_OPEN && !(c->flags & CONN_AWAITING)) {
        conn_arm_timer(sh, c, sh->now_ms + sh->cfg->handshake_timeout_ms);
        c->flags |= CONN_READ_PAUSED; /* resumed from the work list */
        conn_add_work(sh, c);
    }
}

/* write_refusal: 503 for the server's limits, 429 for the client's. */
static size_t write_refusal(char *out, size_t cap, enum conn_refusal why)
{
    char body[128];
    bool client = conn_refusal_is_client(why);
    int body_len = snprintf(body, sizeof(body), "{\"error\":\"%s\",\"message\":\"%s\"}\n",
                            client ? "rate_limited" : "unavailable", conn_refusal_text(why));
    int n = snprintf(out, cap,
                     "HTTP/1.1 %s\r\nContent-Type: "
                     "application/json\r\nContent-Length: %d\r\nConnection: "
                     "close\r\n\r\n%s",
                     client ? "429 Too Many Requests" : "503 Service Unavailable", body_len, body);
    return n > 0 && (size_t)n < cap ? (size_t)n : 0;
}

const struct conn_ops http_conn_ops = {
    .name = "http",
    .stats_kind = STATS_HTTP,
    .encoding = CONN_ENC_NONE,
    .start = start,
    .on_data = on_data,
    .on_timer = on_timeout,
    .on_result = on_result,
    .resume = resume,
    .release = pusherapi_release,
    .write_refusal = write_refusal,
};
