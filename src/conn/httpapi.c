/* httpapi.c: HTTP publish, fetch and the way to a topic's history (see
 * httpapi.h). */
#include "conn/httpapi.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pubsub/audience.h"
#include "pubsub/auth.h"
#include "core/conn.h"
#include "proto/http.h"
#include "conn/httpauth.h"
#include "pubsub/httppub.h"
#include "conn/httpreply.h"
#include "conn/httpstate.h"
#include "core/limits.h"
#include "pubsub/msg.h"
#include "pubsub/pubcheck.h"
#include "core/publish.h"
#include "core/pubreq.h"
#include "ringcast/protocol.h"
#include "core/shard.h"
#include "conn/httphistory.h"
#include "util/hash.h"
#include "pubsub/topic.h"
#include "util/put.h"

size_t httpapi_max_body(const struct shard *sh)
{
    return (size_t)sh->cfg->max_publish_bytes + CONFIG_BODY_OVERHEAD;
}

const char *httpapi_error_code(int status)
{
    switch (status) {
    case 400:
        return "bad_request";
    case 404:
        return "not_found";
    case 401:
        return "unauthorized";
    case 403:
        return "forbidden";
    case 405:
        return "method_not_allowed";
    case 408:
        return "request_timeout";
    case 411:
        return "length_required";
    case 413:
        return "too_large";
    case 414:
        return "uri_too_long";
    case 415:
        return "unsupported_media_type";
    case 426:
        return "upgrade_required";
    case 429:
        return "rate_limited";
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

/* status_of maps a publish error (RC_ERR_*) to an HTTP status. */
static int status_of(int error)
{
    switch (error) {
    case RC_ERR_TOO_LARGE:
        return 413;
    case RC_ERR_FORBIDDEN:
        return 403;
    case RC_ERR_OVERLOADED:
    case RC_ERR_SHUTTING_DOWN:
        return 503;
    case RC_ERR_INTERNAL:
        return 500;
    case RC_ERR_RATE_LIMITED:
        return 429;
    default:
        return 422; /* bad_topic, bad_request, bad_payload */
    }
}

/* answer_publish answers a publish's result; a refusal for the token's
 * claims names the topic and closes, like every 403. */
static void answer_publish(struct shard *sh, struct conn *c, const char *topic, size_t topic_len,
                           const struct publish_result *r)
{
    bool keep_alive = http_state_of(c)->keep_alive;
    if (r->error) {
        counter_add(&sh->stats.publish_errors, 1);
        const char *message = r->message ? r->message : pubreq_error_text(r->error);
        char retry[32];
        if (r->error == RC_ERR_FORBIDDEN)
            httpreply_topic_error(sh, c, 403, "forbidden", topic, topic_len, message);
        else
            httpreply_error(sh, c, status_of(r->error), rc_error_name((uint16_t)r->error), message,
                            httpreply_retry_after(retry, r->retry_ms), keep_alive);
        return;
    }
    char body[80 + 65536];
    struct put w = put_init(body, sizeof(body));
    put_str(&w, "{\"topic\":\"");
    put_bytes(&w, topic, topic_len);
    put_str(&w, "\",\"seq\":");
    put_u64(&w, r->seq);
    put_str(&w, (r->ack_flags & RC_ACK_DUPLICATE) ? ",\"duplicate\":true}\n" : "}\n");
    httpreply_send(sh, c, 200, "", "application/json", body, w.len, keep_alive, false);
}

static void answer_fetch(struct shard *sh, struct conn *c, struct msg *m)
{
    bool keep_alive = http_state_of(c)->keep_alive;
    if (!m) {
        httpreply_error(sh, c, 404, "not_found",
                        "not in history (see --history-size, --history-ttl, --history-bytes)", "",
                        keep_alive);
        return;
    }
    if (m->audience && !audience_allows(m->audience, c->claims)) {
        msg_release(m);
        httpreply_error(sh, c, 403, "forbidden", "the event's audience does not include this token",
                        "", keep_alive);
        return;
    }
    /* The body is the message's own bytes, queued by reference. */
    struct lref *ref = lref_new(m);
    httpreply_head(sh, c, 200, "", "application/json", m->full_json_len, keep_alive);
    if (!ref || sendq_push_shared(&c->sq, ref, m->full_json, m->full_json_len) != 0) {
        if (ref)
            lref_put(ref);
        else
            msg_release(m);
        conn_kill(sh, c);
        return;
    }
    lref_put(ref); /* the queue entry holds it now */
    if (!keep_alive)
        conn_finish(sh, c);
}

void httpapi_answer(struct shard *sh, struct conn *c, struct pubreq *req)
{
    if (req->op == PUBREQ_FETCH) {
        answer_fetch(sh, c, req->fetched);
        req->fetched = NULL; /* taken */
    } else if (req->op == PUBREQ_HISTORY) {
        httphistory_answer(sh, c, req);
    } else {
        const struct publish_result r = {req->error, NULL, req->seq, req->ack_flags, 0};
        answer_publish(sh, c, req->in.topic, req->in.topic_len, &r);
    }
}

/* wait_for_home makes the connection wait for its request's home shard. */
static void wait_for_home(struct shard *sh, struct conn *c)
{
    c->flags |= CONN_AWAITING;
    conn_cancel_timer(sh, c); /* waiting for us is not the client's delay */
}

/* hold_body reserves room for the request's body, which is to be kept in
 * the connection's input until it is all here, in the shard's
 * --max-body-buffer-bytes; without room the request gets 503 at once (a
 * waiting request would hold its connection and socket buffers, and slow
 * senders holding the budget would stall the others until their timeout).
 * Returns false after answering. */
static bool hold_body(struct shard *sh, struct conn *c, size_t body_len)
{
    struct limits_refusal refusal;
    if (limits_reserve_body(sh, c, body_len, &refusal))
        return true;
    httpreply_refusal(sh, c, &refusal, false);
    return false;
}

int httpapi_body_state(struct shard *sh, struct conn *c, const struct http_request *req,
                       size_t avail)
{
    if (req->chunked) {
        httpreply_error(sh, c, 411, "length_required",
                        "send the body with a Content-Length (chunked is not supported)", "",
                        false);
        return HTTPAPI_STOPPED;
    }
    size_t body_len = req->content_length > 0 ? (size_t)req->content_length : 0;
    if (body_len > httpapi_max_body(sh)) {
        httpreply_error(sh, c, 413, "too_large", "request body larger than --max-publish-bytes", "",
                        false);
        return HTTPAPI_STOPPED;
    }
    if (body_len <= avail)
        return -1;
    if (!hold_body(sh, c, body_len))
        return HTTPAPI_STOPPED;
    /* A client that asked to be told (Expect: 100-continue, as curl does for
     * large bodies) hears that the body is welcome, once per request. */
    const struct http_header *expect = http_find_header(req, "Expect");
    if (expect && http_has_token(expect->value, expect->value_len, "100-continue") &&
        !http_state_of(c)->continue_sent) {
        static const char go_on[] = "HTTP/1.1 100 Continue\r\n\r\n";
        conn_send_copy(sh, c, go_on, sizeof(go_on) - 1);
        http_state_of(c)->continue_sent = true;
    }
    return HTTPAPI_NEED_BODY;
}

enum httpapi_result httpapi_publish(struct shard *sh, struct conn *c,
                                    const struct http_request *req, const uint8_t *body,
                                    size_t avail)
{
    if (req->method != HTTP_POST) {
        httpreply_error(sh, c, 405, "method_not_allowed", "/v1/publish takes POST",
                        "Allow: POST\r\n", false);
        return HTTPAPI_STOPPED;
    }
    int state = httpapi_body_state(sh, c, req, avail);
    if (state >= 0)
        return (enum httpapi_result)state;
    size_t body_len = req->content_length > 0 ? (size_t)req->content_length : 0;
    http_state_of(c)->keep_alive = req->keep_alive;

    struct auth_token token;
    struct claims *claims = NULL;
    if (!httpauth_request(sh, c, req, AUTH_SEND_HTTP, &token, &claims))
        return HTTPAPI_STOPPED;
    conn_set_claims(sh, c, claims); /* this request's; the next one brings its own */
    struct httppub_request p;
    struct httppub_error perr;
    if (httppub_parse(&p, req, body, body_len, &perr) != 0) {
        counter_add(&sh->stats.publish_errors, 1);
        httppub_free(&p);
        httpreply_error(sh, c, perr.status, perr.code, perr.message, "", req->keep_alive);
        return req->keep_alive ? HTTPAPI_SERVED : HTTPAPI_STOPPED;
    }
    const struct publish_fields fields = {
        .topic = p.topic,
        .topic_len = p.topic_len,
        .event_type = p.event_type,
        .event_type_len = p.event_type_len,
        .msg_id = p.msg_id,
        .msg_id_len = p.msg_id_len,
        .payload_is_json = p.payload_is_json,
        .payload_is_valid_json = p.payload_is_valid_json,
        .payload = p.payload,
        .payload_len = p.payload_len,
        .audience = p.audience,
        .audience_len = p.audience_len,
    };
    struct publish_result r;
    enum httpapi_result result = HTTPAPI_SERVED;
    switch (publish_submit(sh, c, &http_state_of(c)->publishes, 0, &fields, &r)) {
    case PUBLISH_ANSWERED:
        answer_publish(sh, c, p.topic, p.topic_len, &r);
        break;
    case PUBLISH_SENT:
        wait_for_home(sh, c);
        result = HTTPAPI_WAITING;
        break;
    case PUBLISH_BLOCKED:
        /* Handled again once the ring has room, from the connection's
         * input, where the body now waits. */
        result = hold_body(sh, c, body_len) ? HTTPAPI_NEED_BODY : HTTPAPI_STOPPED;
        break;
    }
    httppub_free(&p);
    if (result == HTTPAPI_SERVED && c->state != CONN_OPEN)
        result = HTTPAPI_STOPPED;
    return result;
}

bool httpapi_may_read(struct shard *sh, struct conn *c, const char *topic, size_t topic_len)
{
    if (!auth_may_subscribe(c->claims, topic, topic_len)) {
        httpreply_topic_error(sh, c, 403, "forbidden", topic, topic_len, AUTH_FORBIDDEN_SUBSCRIBE);
        return false;
    }
    return true;
}

bool httpapi_authenticate_get(struct shard *sh, struct conn *c, const struct http_request *req,
                              const char *route)
{
    if (req->method != HTTP_GET) {
        char message[64];
        snprintf(message, sizeof(message), "%s takes GET", route);
        httpreply_error(sh, c, 405, "method_not_allowed", message, "Allow: GET\r\n", false);
        return false;
    }
    http_state_of(c)->keep_alive = req->keep_alive;
    struct auth_token token;
    struct claims *claims = NULL;
    if (!httpauth_request(sh, c, req, AUTH_SEND_HTTP, &token, &claims))
        return false;
    conn_set_claims(sh, c, claims);
    return true;
}

enum httpapi_result httpapi_ask(struct shard *sh, struct conn *c, const struct pubreq_ask *ask)
{
    struct pubreq local;
    bool failed = false;
    switch (publish_ask(sh, c, ask, &local, &failed)) {
    case PUBLISH_ANSWERED:
        if (failed) {
            pubreq_release_results(&local);
            httpreply_error(sh, c, 503, "unavailable", "out of memory", "", false);
            return HTTPAPI_STOPPED;
        }
        httpapi_answer(sh, c, &local);
        pubreq_release_results(&local);
        return c->state == CONN_OPEN ? HTTPAPI_SERVED : HTTPAPI_STOPPED;
    case PUBLISH_SENT:
        wait_for_home(sh, c);
        return HTTPAPI_WAITING;
    case PUBLISH_BLOCKED:
    default:
        return HTTPAPI_NEED_BODY; /* handled again once the ring has room */
    }
}

enum httpapi_result httpapi_fetch(struct shard *sh, struct conn *c, const struct http_request *req)
{
    if (!httpapi_authenticate_get(sh, c, req, "/v1/messages"))
        return HTTPAPI_STOPPED;
    const char *rest = req->path + strlen("/v1/messages/");
    size_t rest_len = req->path_len - strlen("/v1/messages/");
    const char *slash = NULL;
    for (size_t i = rest_len; i > 0; i--) {
        if (rest[i - 1] == '/') {
            slash = rest + i - 1;
            break;
        }
    }
    char topic[65536 + 1];
    size_t topic_len = 0;
    char *end = NULL;
    unsigned long long seq = slash ? strtoull(slash + 1, &end, 10) : 0;
    if (!slash || !end || end != rest + rest_len || slash[1] < '0' || slash[1] > '9' ||
        http_percent_decode(rest, (size_t)(slash - rest), false, topic, sizeof(topic),
                            &topic_len) != 0 ||
        topic_validate(topic, topic_len, sh->cfg->max_topic_length, sh->cfg->max_segments) !=
            TOPIC_OK) {
        httpreply_error(sh, c, 400, "bad_request", "expected /v1/messages/<topic>/<seq>", "",
                        req->keep_alive);
        return req->keep_alive ? HTTPAPI_SERVED : HTTPAPI_STOPPED;
    }
    if (!httpapi_may_read(sh, c, topic, topic_len))
        return HTTPAPI_STOPPED;
    const struct pubreq_ask ask = {.op = PUBREQ_FETCH,
                                   .topic = topic,
                                   .topic_len = topic_len,
                                   .topic_hash = rc_hash(topic, topic_len),
                                   .seq = seq};
    return httpapi_ask(sh, c, &ask);
}
