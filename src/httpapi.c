/* httpapi.c: HTTP publish and fetch (see httpapi.h). */
#include "httpapi.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "audience.h"
#include "auth.h"
#include "conn.h"
#include "hash.h"
#include "http.h"
#include "httpconn.h"
#include "httppub.h"
#include "httpreply.h"
#include "msg.h"
#include "pubcheck.h"
#include "pubreq.h"
#include "ringcast/protocol.h"
#include "shard.h"
#include "topic.h"

/* Room in a JSON-form body for everything besides the data itself. */
#define JSON_FORM_OVERHEAD 65536

size_t httpapi_max_body(const struct shard *sh)
{
    return (size_t)sh->cfg->max_publish_bytes + JSON_FORM_OVERHEAD;
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
    default:
        return 422; /* bad_topic, bad_request, bad_payload */
    }
}

static void answer_publish(struct shard *sh, struct conn *c, const char *topic, size_t topic_len,
                           int error, uint64_t seq, uint8_t ack_flags)
{
    bool keep_alive = c->u.http.keep_alive;
    if (error) {
        counter_add(&sh->stats.publish_errors, 1);
        httpreply_error(sh, c, status_of(error), rc_error_name((uint16_t)error),
                        pubreq_error_text(error), "", keep_alive);
        return;
    }
    char body[80 + 65536];
    int len = snprintf(body, sizeof(body), "{\"topic\":\"%.*s\",\"seq\":%llu%s}\n", (int)topic_len,
                       topic, (unsigned long long)seq,
                       (ack_flags & RC_ACK_DUPLICATE) ? ",\"duplicate\":true" : "");
    httpreply_send(sh, c, 200, "", "application/json", body, (size_t)len, keep_alive, false);
}

static void answer_fetch(struct shard *sh, struct conn *c, struct msg *m)
{
    bool keep_alive = c->u.http.keep_alive;
    if (!m) {
        httpreply_error(sh, c, 404, "not_found",
                        "not kept: only events over --max-payload are, up to --retain-bytes", "",
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
    char head[256];
    int len = snprintf(head, sizeof(head),
                       "HTTP/1.1 200 OK\r\nServer: ringcast\r\nContent-Type: application/json\r\n"
                       "Content-Length: %u\r\n%s\r\n",
                       m->full_json_len, keep_alive ? "" : "Connection: close\r\n");
    conn_send_copy(sh, c, head, (size_t)len);
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
    } else {
        answer_publish(sh, c, req->in.topic, req->in.topic_len, req->error, req->seq,
                       req->ack_flags);
    }
}

/* wait_for_home makes the connection wait for its request's home shard. */
static void wait_for_home(struct shard *sh, struct conn *c)
{
    c->u.http.awaiting = true;
    timer_cancel(&sh->timers, &c->timer); /* waiting for us is not the client's delay */
}

/* room_for checks that a request for |home| can go now; otherwise the
 * connection waits on the blocked list (woken when the ring has room). */
static bool room_for(struct shard *sh, struct conn *c, unsigned home)
{
    if (home == sh->id ? shard_can_sequence(sh) : shard_has_ring_room(sh, home))
        return true;
    c->flags |= CONN_BLOCKED;
    c->next_work = sh->blocked;
    sh->blocked = c;
    return false;
}

/* body_state decides whether the request's body can be handled now;
 * returns -1 to go on, or the result to return. */
static int body_state(struct shard *sh, struct conn *c, const struct http_request *req,
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
    /* A client that asked to be told (Expect: 100-continue, as curl does for
     * large bodies) hears that the body is welcome, once per request. */
    const struct http_header *expect = http_find_header(req, "Expect");
    if (expect && http_has_token(expect->value, expect->value_len, "100-continue") &&
        !c->u.http.continue_sent) {
        static const char go_on[] = "HTTP/1.1 100 Continue\r\n\r\n";
        conn_send_copy(sh, c, go_on, sizeof(go_on) - 1);
        c->u.http.continue_sent = true;
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
    int state = body_state(sh, c, req, avail);
    if (state >= 0)
        return (enum httpapi_result)state;
    size_t body_len = req->content_length > 0 ? (size_t)req->content_length : 0;
    c->u.http.keep_alive = req->keep_alive;

    struct auth_token token;
    auth_find_token(&token, req);
    struct claims *claims = NULL;
    if (!httpconn_authenticate(sh, c, &token, &claims))
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
    if (!auth_may_publish(c->claims, p.topic, p.topic_len)) {
        counter_add(&sh->stats.publish_errors, 1);
        httpreply_topic_error(sh, c, 403, "forbidden", p.topic, p.topic_len,
                              "the token's publish claim does not cover this topic");
        httppub_free(&p);
        return HTTPAPI_STOPPED;
    }
    uint64_t hash = rc_hash(p.topic, p.topic_len);
    unsigned home = shard_home_of(sh, hash);
    if (!room_for(sh, c, home)) {
        httppub_free(&p);
        return HTTPAPI_NEED_BODY; /* handled again once the ring has room */
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
    struct pubcheck_refs refs;
    struct audience *audience = NULL;
    const char *message = NULL;
    int error = pubcheck(sh->cfg, &fields, &refs, &audience, &message);
    enum httpapi_result result = HTTPAPI_SERVED;
    if (error) {
        counter_add(&sh->stats.publish_errors, 1);
        httpreply_error(sh, c, status_of(error), rc_error_name((uint16_t)error), message, "",
                        req->keep_alive);
    } else {
        struct pubreq preq;
        pubreq_init(&preq, c, 0, sh->id, &fields, hash, &refs);
        preq.audience = audience;
        uint8_t flags = 0;
        switch (shard_submit_publish(sh, home, &preq, &error, &preq.seq, &flags)) {
        case 1:
            answer_publish(sh, c, p.topic, p.topic_len, error, preq.seq, flags);
            break;
        case 0:
            wait_for_home(sh, c);
            result = HTTPAPI_WAITING;
            break;
        default:
            httpreply_error(sh, c, 503, "unavailable", "out of memory", "", false);
            result = HTTPAPI_STOPPED;
        }
    }
    httppub_free(&p);
    if (result == HTTPAPI_SERVED && c->state != CONN_OPEN)
        result = HTTPAPI_STOPPED;
    return result;
}

static int hex_value(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* decode_path_topic percent-decodes the topic part of a fetch path
 * (clients may escape ':' and other characters). */
static int decode_path_topic(const char *in, size_t len, char *out, size_t cap, size_t *out_len)
{
    size_t n = 0;
    for (size_t i = 0; i < len; i++) {
        if (n == cap)
            return -1;
        if (in[i] != '%') {
            out[n++] = in[i];
            continue;
        }
        int high = i + 2 < len ? hex_value(in[i + 1]) : -1;
        int low = i + 2 < len ? hex_value(in[i + 2]) : -1;
        if (high < 0 || low < 0)
            return -1;
        out[n++] = (char)(high << 4 | low);
        i += 2;
    }
    *out_len = n;
    return 0;
}

enum httpapi_result httpapi_fetch(struct shard *sh, struct conn *c, const struct http_request *req)
{
    if (req->method != HTTP_GET) {
        httpreply_error(sh, c, 405, "method_not_allowed", "/v1/messages takes GET",
                        "Allow: GET\r\n", false);
        return HTTPAPI_STOPPED;
    }
    c->u.http.keep_alive = req->keep_alive;
    struct auth_token token;
    auth_find_token(&token, req);
    struct claims *claims = NULL;
    if (!httpconn_authenticate(sh, c, &token, &claims))
        return HTTPAPI_STOPPED;
    conn_set_claims(sh, c, claims);
    const char *rest = req->path + strlen("/v1/messages/");
    size_t rest_len = req->path_len - strlen("/v1/messages/");
    const char *slash = NULL;
    for (size_t i = rest_len; i > 0; i--) {
        if (rest[i - 1] == '/') {
            slash = rest + i - 1;
            break;
        }
    }
    char topic[65536];
    size_t topic_len = 0;
    char *end = NULL;
    unsigned long long seq = slash ? strtoull(slash + 1, &end, 10) : 0;
    if (!slash || !end || end != rest + rest_len || slash[1] < '0' || slash[1] > '9' ||
        decode_path_topic(rest, (size_t)(slash - rest), topic, sizeof(topic), &topic_len) != 0 ||
        topic_validate(topic, topic_len, sh->cfg->max_topic_length, sh->cfg->max_segments) !=
            TOPIC_OK) {
        httpreply_error(sh, c, 400, "bad_request", "expected /v1/messages/<topic>/<seq>", "",
                        req->keep_alive);
        return req->keep_alive ? HTTPAPI_SERVED : HTTPAPI_STOPPED;
    }
    if (!auth_may_subscribe(c->claims, topic, topic_len)) {
        httpreply_topic_error(sh, c, 403, "forbidden", topic, topic_len,
                              "the token's subscribe claim does not contain this topic");
        return HTTPAPI_STOPPED;
    }
    uint64_t hash = rc_hash(topic, topic_len);
    unsigned home = shard_home_of(sh, hash);
    if (home == sh->id) {
        answer_fetch(sh, c, shard_fetch_local(sh, topic, topic_len, hash, seq));
        return c->state == CONN_OPEN ? HTTPAPI_SERVED : HTTPAPI_STOPPED;
    }
    if (!room_for(sh, c, home))
        return HTTPAPI_NEED_BODY;
    struct pubreq *preq = rc_calloc(1, sizeof(*preq) + topic_len);
    if (!preq) {
        httpreply_error(sh, c, 503, "unavailable", "out of memory", "", false);
        return HTTPAPI_STOPPED;
    }
    preq->conn_slot = c->slot;
    preq->conn_gen = c->gen;
    preq->origin = (uint16_t)sh->id;
    preq->op = PUBREQ_FETCH;
    preq->seq = seq;
    preq->in.topic = memcpy(preq->storage, topic, topic_len);
    preq->in.topic_len = topic_len;
    preq->in.topic_hash = hash;
    shard_send_request(sh, home, preq);
    wait_for_home(sh, c);
    return HTTPAPI_WAITING;
}
