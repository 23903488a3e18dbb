/* pusherapi.c: Pusher's HTTP API (see pusherapi.h). */
#include "conn/pusherapi.h"

#include <jansson.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "conn/httpreply.h"
#include "conn/httpstate.h"
#include "core/conn.h"
#include "core/publish.h"
#include "core/pubreq.h"
#include "core/shard.h"
#include "proto/http.h"
#include "proto/pusher.h"
#include "pubsub/msg.h"
#include "pubsub/pubcheck.h"
#include "pubsub/pusherapps.h"
#include "pubsub/pushersig.h"
#include "ringcast/protocol.h"
#include "util/alloc.h"
#include "util/jsonv.h"

#define MAX_CHANNELS 100
#define MAX_BATCH 10
#define TOPIC_CAP (sizeof(PUSHER_TOPIC_PREFIX) + PUSHER_APP_MAX_NAME + 3 * PUSHER_MAX_CHANNEL + 4)

/* One publish of a request: an event on one channel. */
struct job_event {
    char topic[TOPIC_CAP];
    size_t topic_len;
    const char *name; /* in the job's |root| */
    size_t name_len;
    const char *data;
    size_t data_len;
    uint64_t exclude; /* the socket_id's key (proto/pusher.h); 0: none */
};

/* A request's publishes, done one after the other. */
struct pusherapi_job {
    json_t *root;         /* the body */
    uint64_t max_payload; /* the app's */
    bool keep_alive;
    size_t next;
    size_t count;
    struct job_event events[];
};

static void answer_text(struct shard *sh, struct conn *c, int status, const char *text,
                        bool keep_alive)
{
    httpreply_send(sh, c, status, "", "text/plain; charset=utf-8", text, strlen(text), keep_alive,
                   false);
}

static void job_free(struct pusherapi_job *job)
{
    if (job) {
        json_decref(job->root);
        rc_free(job);
    }
}

void pusherapi_release(struct conn *c)
{
    job_free(http_state_of(c)->pusher_job);
    http_state_of(c)->pusher_job = NULL;
}

bool pusherapi_waiting(struct conn *c)
{
    return http_state_of(c)->pusher_job != NULL;
}

/* status_of maps a publish error to Pusher's statuses. */
static int status_of(int error)
{
    switch (error) {
    case RC_ERR_TOO_LARGE:
        return 413;
    case RC_ERR_OVERLOADED:
    case RC_ERR_SHUTTING_DOWN:
    case RC_ERR_INTERNAL:
        return 503;
    case RC_ERR_RATE_LIMITED:
        return 429;
    default:
        return 400;
    }
}

/* finish answers the request and forgets its job. */
static void finish(struct shard *sh, struct conn *c, int error)
{
    struct pusherapi_job *job = http_state_of(c)->pusher_job;
    bool keep_alive = job->keep_alive;
    pusherapi_release(c);
    if (error) {
        char text[200];
        snprintf(text, sizeof(text), "%s: %s\n", rc_error_name((uint16_t)error),
                 pubreq_error_text(error));
        answer_text(sh, c, status_of(error), text, keep_alive);
    } else {
        httpreply_send(sh, c, 200, "", "application/json", "{}", 2, keep_alive, false);
    }
}

/* run publishes the job's events from |next| on: until one goes to its
 * home shard (WAITING), all are done or one failed (answered), or a ring
 * is full (NEED_BODY or STOPPED, see below). */
static enum httpapi_result run(struct shard *sh, struct conn *c)
{
    struct pusherapi_job *job = http_state_of(c)->pusher_job;
    while (job->next < job->count) {
        const struct job_event *ev = &job->events[job->next];
        const struct publish_fields fields = {
            .topic = ev->topic,
            .topic_len = ev->topic_len,
            .event_type = ev->name,
            .event_type_len = ev->name_len,
            .payload_is_json = jsonv_valid((const uint8_t *)ev->data, ev->data_len),
            .payload = (const uint8_t *)ev->data,
            .payload_len = ev->data_len,
            .exclude = ev->exclude,
            .max_payload = job->max_payload,
        };
        struct publish_result r;
        switch (publish_submit(sh, c, &http_state_of(c)->publishes, 0, &fields, &r)) {
        case PUBLISH_ANSWERED:
            if (r.error) {
                finish(sh, c, r.error);
                return HTTPAPI_SERVED;
            }
            job->next++;
            break;
        case PUBLISH_SENT:
            c->flags |= CONN_AWAITING;
            conn_cancel_timer(sh, c);
            return HTTPAPI_WAITING;
        case PUBLISH_BLOCKED:
            /* The connection waits for room (CONN_BLOCKED: on the shard's
             * blocked list, reading nothing). Before any publish the
             * request stays in its input, handled again then; after some,
             * it fails and the connection closes. */
            if (job->next == 0) {
                pusherapi_release(c);
                return HTTPAPI_NEED_BODY;
            }
            job->keep_alive = false;
            finish(sh, c, RC_ERR_OVERLOADED);
            return HTTPAPI_STOPPED;
        }
    }
    finish(sh, c, 0);
    return HTTPAPI_SERVED;
}

void pusherapi_answer(struct shard *sh, struct conn *c, struct pubreq *req)
{
    struct pusherapi_job *job = http_state_of(c)->pusher_job;
    if (req->error) {
        finish(sh, c, req->error);
        return;
    }
    job->next++;
    run(sh, c);
}

/* A request's app and what it asks, from its path. */
struct target {
    const struct pusher_app *app;
    const char *rest; /* after /apps/<id> */
    size_t rest_len;
};

static bool parse_target(const struct shard *sh, const struct http_request *req, struct target *out)
{
    const char *id = req->path + strlen("/apps/");
    size_t left = req->path_len - strlen("/apps/");
    const char *slash = memchr(id, '/', left);
    if (!slash)
        return false;
    out->app = pusher_app_by_id(sh->set->pusher_apps, id, (size_t)(slash - id));
    out->rest = slash;
    out->rest_len = left - (size_t)(slash - id);
    return out->app != NULL;
}

static bool rest_is(const struct target *t, const char *s)
{
    return t->rest_len == strlen(s) && memcmp(t->rest, s, t->rest_len) == 0;
}

/* add_event adds the event |name|/|data| on |channel| to |job|; returns
 * NULL or what is wrong. */
static const char *add_event(const struct pusher_app *app, struct pusherapi_job *job,
                             const json_t *name, const json_t *data, const json_t *channel,
                             uint64_t exclude)
{
    if (!json_is_string(name) ||
        !msg_event_type_valid(json_string_value(name), json_string_length(name)))
        return "\"name\" must be 1-255 characters of A-Z a-z 0-9 _-.:/";
    if (!json_is_string(data))
        return "\"data\" must be a string";
    if (!json_is_string(channel) ||
        !pusher_channel_valid(json_string_value(channel), json_string_length(channel)))
        return "channels are 1-164 characters of A-Z a-z 0-9 and -_=@,.;";
    struct job_event *ev = &job->events[job->count];
    ev->topic_len = pusher_topic_of(ev->topic, sizeof(ev->topic), app->id, app->id_len,
                                    json_string_value(channel), json_string_length(channel));
    if (ev->topic_len == 0)
        return "channel name too long";
    ev->name = json_string_value(name);
    ev->name_len = json_string_length(name);
    ev->data = json_string_value(data);
    ev->data_len = json_string_length(data);
    ev->exclude = exclude;
    job->count++;
    return NULL;
}

/* add_one adds an event object with "channels" (events) or "channel". */
static const char *add_one(const struct pusher_app *app, struct pusherapi_job *job,
                           const json_t *obj, bool many)
{
    if (!json_is_object(obj))
        return "an event must be a JSON object";
    const json_t *name = json_object_get(obj, "name");
    const json_t *data = json_object_get(obj, "data");
    const json_t *channels = many ? json_object_get(obj, "channels") : NULL;
    const json_t *socket_id = json_object_get(obj, "socket_id");
    uint64_t exclude = 0;
    if (socket_id && (!json_is_string(socket_id) ||
                      !pusher_socket_id_parse(json_string_value(socket_id),
                                              json_string_length(socket_id), &exclude)))
        return "\"socket_id\" must be a socket id such as \"1234.5678\"";
    if (!channels)
        return add_event(app, job, name, data, json_object_get(obj, "channel"), exclude);
    if (!json_is_array(channels) || json_array_size(channels) == 0 ||
        json_array_size(channels) > MAX_CHANNELS)
        return "\"channels\" must be an array of 1-100 channel names";
    for (size_t i = 0; i < json_array_size(channels); i++) {
        const char *why = add_event(app, job, name, data, json_array_get(channels, i), exclude);
        if (why)
            return why;
    }
    return NULL;
}

/* too_large applies the app's max_payload: over it, --truncate=reject
 * refuses as Pusher does; the other modes publish and truncate. */
static bool too_large(const struct shard *sh, const struct pusher_app *app,
                      const struct pusherapi_job *job)
{
    if (sh->cfg->truncate_mode != TRUNCATE_REJECT)
        return false;
    for (size_t i = 0; i < job->count; i++)
        if (job->events[i].data_len > app->max_payload)
            return true;
    return false;
}

/* make_job reads the body of events (|batch| false) or batch_events. */
static const char *make_job(const struct pusher_app *app, const uint8_t *body, size_t len,
                            bool batch, struct pusherapi_job **out)
{
    json_error_t jerr;
    json_t *root = json_loadb((const char *)body, len, JSON_REJECT_DUPLICATES, &jerr);
    if (!json_is_object(root)) {
        json_decref(root);
        return "the body must be a JSON object";
    }
    const json_t *list = batch ? json_object_get(root, "batch") : NULL;
    if (batch &&
        (!json_is_array(list) || json_array_size(list) == 0 || json_array_size(list) > MAX_BATCH)) {
        json_decref(root);
        return "\"batch\" must be an array of 1-10 events";
    }
    size_t most = batch ? json_array_size(list) : MAX_CHANNELS;
    struct pusherapi_job *job = rc_malloc(sizeof(*job) + most * sizeof(job->events[0]));
    if (!job) {
        json_decref(root);
        return "out of memory";
    }
    *job = (struct pusherapi_job){.root = root};
    const char *why = NULL;
    if (batch) {
        for (size_t i = 0; i < most && !why; i++)
            why = add_one(app, job, json_array_get(list, i), false);
    } else {
        why = add_one(app, job, root, true);
    }
    if (why) {
        job_free(job);
        return why;
    }
    *out = job;
    return NULL;
}

/* authenticate checks the request's signature; false after answering. */
static bool authenticate(struct shard *sh, struct conn *c, const struct http_request *req,
                         const struct pusher_app *app, const uint8_t *body, size_t body_len)
{
    struct pushersig_query query;
    if (pushersig_query_parse(&query, req->query ? req->query : "", req->query_len) != 0) {
        answer_text(sh, c, 400, "malformed query string\n", req->keep_alive);
        return false;
    }
    const struct pushersig_request signed_req = {
        .method = req->method == HTTP_POST ? "POST" : "GET",
        .path = req->path,
        .path_len = req->path_len,
        .query = &query,
        .body = body,
        .body_len = body_len,
        .now_s = (int64_t)time(NULL),
    };
    const char *message = NULL;
    int status = pushersig_check(app, &signed_req, &message);
    pushersig_query_free(&query);
    if (status == 0)
        return true;
    char text[300];
    snprintf(text, sizeof(text), "%s\n", message);
    answer_text(sh, c, status, text, req->keep_alive);
    return false;
}

enum httpapi_result pusherapi_serve(struct shard *sh, struct conn *c,
                                    const struct http_request *req, const uint8_t *body,
                                    size_t avail)
{
    struct target t;
    if (!sh->set->pusher_apps || !parse_target(sh, req, &t)) {
        answer_text(sh, c, 404, "Unknown app or route\n", req->keep_alive);
        return req->keep_alive ? HTTPAPI_SERVED : HTTPAPI_STOPPED;
    }
    bool batch = rest_is(&t, "/batch_events");
    if (!batch && !rest_is(&t, "/events")) {
        answer_text(sh, c, 404, "Unknown route\n", req->keep_alive);
        return req->keep_alive ? HTTPAPI_SERVED : HTTPAPI_STOPPED;
    }
    if (req->method != HTTP_POST) {
        httpreply_send(sh, c, 405, "Allow: POST\r\n", "text/plain; charset=utf-8", "POST only\n",
                       10, false, false);
        return HTTPAPI_STOPPED;
    }
    int state = httpapi_body_state(sh, c, req, avail);
    if (state >= 0)
        return (enum httpapi_result)state;
    size_t body_len = req->content_length > 0 ? (size_t)req->content_length : 0;
    if (!authenticate(sh, c, req, t.app, body, body_len))
        return req->keep_alive && c->state == CONN_OPEN ? HTTPAPI_SERVED : HTTPAPI_STOPPED;
    struct pusherapi_job *job = NULL;
    const char *why = make_job(t.app, body, body_len, batch, &job);
    if (!why && too_large(sh, t.app, job)) {
        job_free(job);
        answer_text(sh, c, 413, "Request Entity Too Large: data over the app's max_payload\n",
                    req->keep_alive);
        return req->keep_alive ? HTTPAPI_SERVED : HTTPAPI_STOPPED;
    }
    if (why) {
        char text[300];
        snprintf(text, sizeof(text), "%s\n", why);
        answer_text(sh, c, 400, text, req->keep_alive);
        return req->keep_alive ? HTTPAPI_SERVED : HTTPAPI_STOPPED;
    }
    job->keep_alive = req->keep_alive;
    job->max_payload = t.app->max_payload;
    http_state_of(c)->keep_alive = req->keep_alive;
    http_state_of(c)->pusher_job = job;
    conn_set_claims(sh, c, NULL); /* authorized by the app's signature */
    enum httpapi_result result = run(sh, c);
    if (result == HTTPAPI_SERVED && c->state != CONN_OPEN)
        result = HTTPAPI_STOPPED;
    return result;
}
