/* pusherconn.c: the Pusher protocol on /app/<key> (see pusherconn.h). */
#include "conn/pusherconn.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/alloc.h"
#include "core/conn.h"
#include "util/hash.h"
#include "core/limits.h"
#include "pubsub/msg.h"
#include "pubsub/pubcheck.h"
#include "core/publish.h"
#include "proto/pusher.h"
#include "pubsub/pusherapps.h"
#include "pubsub/pushersig.h"
#include "core/shard.h"
#include "core/subscribe.h"
#include "util/tokenbucket.h"
#include "pubsub/topic.h"
#include "proto/ws.h"
#include "conn/wsconn.h"

#define TOPIC_CAP (sizeof(PUSHER_TOPIC_PREFIX) + PUSHER_APP_MAX_NAME + 3 * PUSHER_MAX_CHANNEL + 4)

/* Client events a connection may send: Pusher's 10 per second. */
static const struct tokenbucket_rate client_event_rate = {10, 10};

/* A Pusher connection's own state (wsconn's dialect state). */
struct pusher_state {
    const struct pusher_app *app;
    uint64_t key;                     /* its socket id's (pusher_socket_key) */
    struct tokenbucket publishes;     /* --publish-rate-per-conn, for its client events */
    struct tokenbucket client_events; /* client_event_rate */
    struct tokenbucket changes;       /* --subscribe-rate-per-conn */
};

static struct pusher_state *state_of(struct conn *c)
{
    return wsconn_dialect_state(c);
}

static const struct pusher_app *app_of(struct conn *c)
{
    return state_of(c)->app;
}

/* send_text queues a reply built by proto/pusher.c and frees it. */
static void send_text(struct shard *sh, struct conn *c, char *text, size_t len)
{
    if (!text) {
        wsconn_close(sh, c, WS_CLOSE_INTERNAL_ERROR, "out of memory");
        return;
    }
    wsconn_send_text(sh, c, text, len);
    free(text);
}

static void send_error(struct shard *sh, struct conn *c, int code, const char *message)
{
    size_t len = 0;
    send_text(sh, c, pusher_error(code, message, &len), len);
}

/* socket_b is the second number of a connection's socket id: its shard
 * and slot. */
static uint32_t socket_b(const struct shard *sh, const struct conn *c)
{
    return (uint32_t)sh->id << 24 | c->slot;
}

static void socket_id_of(struct shard *sh, struct conn *c, char out[PUSHER_MAX_SOCKET_ID])
{
    pusher_socket_id(out, c->gen, socket_b(sh, c));
}

static void refuse_subscription(struct shard *sh, struct conn *c, const struct pusher_msg *m,
                                const char *type, const char *error, int status)
{
    size_t len = 0;
    send_text(sh, c,
              pusher_subscription_error(m->channel, m->channel_len, type, error, status, &len),
              len);
}

/* authorized checks a private channel's signature. */
static bool authorized(struct shard *sh, struct conn *c, const struct pusher_msg *m)
{
    char socket_id[PUSHER_MAX_SOCKET_ID];
    socket_id_of(sh, c, socket_id);
    return pushersig_channel_ok(app_of(c), socket_id, m->channel, m->channel_len, NULL, 0, m->auth,
                                m->auth_len);
}

/* may_change takes a subscribe or unsubscribe from the connection's rates;
 * over them it is refused (subscription_error 429 for a subscribe). */
static bool may_change(struct shard *sh, struct conn *c, const struct pusher_msg *m)
{
    struct limits_refusal refusal;
    if (limits_take_subscribe(sh, c, &state_of(c)->changes, &refusal))
        return true;
    if (m->type == PUSHER_MSG_SUBSCRIBE)
        refuse_subscription(sh, c, m, "LimitReached", refusal.message, 429);
    else
        send_error(sh, c, PUSHER_ERR_GENERIC, refusal.message);
    return false;
}

static void subscribe(struct shard *sh, struct conn *c, const struct pusher_msg *m)
{
    if (!pusher_channel_valid(m->channel, m->channel_len)) {
        refuse_subscription(sh, c, m, "InvalidChannel",
                            "channel names are 1-164 characters of A-Z a-z 0-9 and -_=@,.;", 400);
        return;
    }
    enum pusher_channel_kind kind = pusher_channel_kind(m->channel, m->channel_len);
    if (kind == PUSHER_PRESENCE) {
        refuse_subscription(sh, c, m, "NotSupported",
                            "presence channels are not supported by this server yet", 501);
        return;
    }
    if (kind != PUSHER_PUBLIC && !authorized(sh, c, m)) {
        refuse_subscription(sh, c, m, "AuthError",
                            "invalid signature: expected <key>:<hex HMAC-SHA256 of "
                            "socket_id:channel>",
                            401);
        return;
    }
    const struct pusher_app *app = app_of(c);
    char topic[TOPIC_CAP];
    size_t topic_len =
        pusher_topic_of(topic, sizeof(topic), app->id, app->id_len, m->channel, m->channel_len);
    const char *why = NULL;
    if (topic_len == 0 || subscribe_topic(sh, c, topic, topic_len, &why) != SUBSCRIBE_OK) {
        refuse_subscription(sh, c, m, "LimitReached", why ? why : "channel name too long", 400);
        return;
    }
    size_t len = 0;
    send_text(sh, c, pusher_subscription_succeeded(m->channel, m->channel_len, &len), len);
}

static void unsubscribe(struct shard *sh, struct conn *c, const struct pusher_msg *m)
{
    const struct pusher_app *app = app_of(c);
    char topic[TOPIC_CAP];
    size_t topic_len =
        pusher_topic_of(topic, sizeof(topic), app->id, app->id_len, m->channel, m->channel_len);
    if (topic_len > 0 && pusher_channel_valid(m->channel, m->channel_len))
        index_unsubscribe(&sh->index, &c->subs, topic, topic_len, rc_hash(topic, topic_len));
}

/* subscribed reports whether |c| holds |topic|. */
static bool subscribed(const struct conn *c, const char *topic, size_t len)
{
    for (uint32_t i = 0; i < c->subs.n; i++) {
        const struct topic_node *node = c->subs.v[i].node;
        if (node->len == len && memcmp(node->name, topic, len) == 0)
            return true;
    }
    return false;
}

/* client_event_refusal judges a client event; NULL when it may go. */
static const char *client_event_refusal(struct shard *sh, struct conn *c,
                                        const struct pusher_msg *m, const char *topic,
                                        size_t topic_len)
{
    if (!app_of(c)->client_events)
        return "To send client events, you must enable this feature for the app";
    enum pusher_channel_kind kind = pusher_channel_kind(m->channel, m->channel_len);
    if (kind != PUSHER_PRIVATE && kind != PUSHER_PRESENCE)
        return "Client events are only allowed on private and presence channels";
    if (topic_len == 0 || !subscribed(c, topic, topic_len))
        return "Client event rejected - not subscribed to the channel";
    if (!msg_event_type_valid(m->event, m->event_len))
        return "Client event rejected - its name is not a valid event type";
    if (!tokenbucket_take(&state_of(c)->client_events, &client_event_rate, sh->now_ms, 1))
        return "Client event rejected - more than 10 per second";
    return NULL;
}

/* client_event publishes a client-* event to the channel's subscribers
 * but its sender. */
static void client_event(struct shard *sh, struct conn *c, const struct pusher_msg *m)
{
    char topic[TOPIC_CAP];
    size_t topic_len = 0;
    if (m->channel)
        topic_len = pusher_topic_of(topic, sizeof(topic), app_of(c)->id, app_of(c)->id_len,
                                    m->channel, m->channel_len);
    const char *why = m->channel ? client_event_refusal(sh, c, m, topic, topic_len)
                                 : "Client event rejected - no channel";
    if (why) {
        send_error(sh, c, PUSHER_ERR_CLIENT_EVENTS, why);
        return;
    }
    const json_t *data = json_object_get(m->root, "data");
    char *text = json_is_string(data) ? NULL : json_dumps(data, JSON_COMPACT | JSON_ENCODE_ANY);
    const struct publish_fields fields = {
        .topic = topic,
        .topic_len = topic_len,
        .event_type = m->event,
        .event_type_len = m->event_len,
        .payload_is_json = !json_is_string(data),
        .payload_is_valid_json = !json_is_string(data),
        .payload = (const uint8_t *)(text ? text : json_string_value(data)),
        .payload_len = text ? strlen(text) : json_string_length(data),
        .exclude = state_of(c)->key,
        .max_payload = app_of(c)->max_payload,
    };
    struct publish_result r = {0};
    enum publish_outcome outcome = PUBLISH_ANSWERED;
    if (fields.payload)
        outcome = publish_submit(sh, c, &state_of(c)->publishes, 0, &fields, &r);
    free(text);
    if (!fields.payload)
        send_error(sh, c, PUSHER_ERR_CLIENT_EVENTS, "Client event rejected - no data");
    else if (outcome == PUBLISH_BLOCKED) /* reading waits for room (CONN_BLOCKED) */
        send_error(sh, c, PUSHER_ERR_CLIENT_EVENTS, "Client event dropped - the server is busy");
    else if (outcome == PUBLISH_ANSWERED && r.error)
        send_error(sh, c, PUSHER_ERR_CLIENT_EVENTS,
                   r.message ? r.message : "Client event rejected");
}

static void on_text(struct shard *sh, struct conn *c, const uint8_t *data, size_t len)
{
    struct pusher_msg m;
    char message[200];
    if (pusher_parse(&m, data, len, message, sizeof(message)) != 0) {
        send_error(sh, c, PUSHER_ERR_GENERIC, message);
        return;
    }
    size_t reply_len = 0;
    switch (m.type) {
    case PUSHER_MSG_PING:
        send_text(sh, c, pusher_pong(&reply_len), reply_len);
        break;
    case PUSHER_MSG_SUBSCRIBE:
        if (may_change(sh, c, &m))
            subscribe(sh, c, &m);
        break;
    case PUSHER_MSG_UNSUBSCRIBE:
        if (may_change(sh, c, &m))
            unsubscribe(sh, c, &m);
        break;
    case PUSHER_MSG_CLIENT_EVENT:
        client_event(sh, c, &m);
        break;
    case PUSHER_MSG_PONG:
    case PUSHER_MSG_OTHER:
        break; /* activity only */
    }
    pusher_free(&m);
}

/* delivered_json is what subscribers get of |m|: the payload, or the
 * truncation stub (the whole text of the stub frame) when oversized. */
static const uint8_t *delivered_json(const struct msg *m, size_t *out_len)
{
    if (!(m->flags & MSG_OVERSIZED))
        return msg_data_json(m, out_len);
    uint8_t small = m->ws_frame[1] & 0x7f;
    size_t header = small == 127 ? 10 : small == 126 ? 4 : 2;
    *out_len = m->ws_frame_len - header;
    return m->ws_frame + header;
}

static const struct ws_dialect pusher_dialect;

/* build_frame builds the Pusher frame of |m| on |ref| (once per shard). */
static void build_frame(struct lref *ref, const struct msg *m)
{
    ref->dialect_kind = &pusher_dialect;
    char channel[PUSHER_MAX_CHANNEL + 1];
    const char *app = NULL;
    size_t app_len = 0;
    size_t channel_len =
        pusher_channel_of(channel, sizeof(channel), m->topic, m->topic_len, &app, &app_len);
    if (channel_len == 0) {
        ref->dialect_frame_len = UINT32_MAX; /* nothing to send: not a failure */
        return;
    }
    size_t data_len = 0;
    const uint8_t *data = delivered_json(m, &data_len);
    size_t len = pusher_event_frame_len(m->event_type_len, channel_len, data, data_len);
    if (len >= UINT32_MAX || !(ref->dialect_frame = rc_malloc(len)))
        return;
    pusher_put_event_frame(ref->dialect_frame, m->event_type, m->event_type_len, channel,
                           channel_len, data, data_len);
    ref->dialect_frame_len = (uint32_t)len;
}

int pusherconn_queue_event(struct conn *c, struct lref *ref, const struct msg *m)
{
    const struct pusher_state *ps = state_of(c);
    if (m->exclude && ps && ps->key == m->exclude)
        return 0; /* its own client event, or excluded by socket_id */
    if (ref->dialect_kind != &pusher_dialect)
        build_frame(ref, m);
    if (!ref->dialect_frame) /* out of memory, or not a channel's topic (then skipped) */
        return ref->dialect_frame_len == UINT32_MAX ? 0 : -1;
    return sendq_push_shared(&c->sq, ref, ref->dialect_frame, ref->dialect_frame_len);
}

/* close_code: slow consumers and shutdown reconnect at once (4200), an
 * idle connection is the missing pong (4201). */
static uint16_t close_code(uint16_t code)
{
    switch (code) {
    case WS_CLOSE_IDLE_TIMEOUT:
        return PUSHER_CLOSE_PONG_MISSING;
    case WS_CLOSE_SLOW_CONSUMER:
    case WS_CLOSE_GOING_AWAY:
        return PUSHER_CLOSE_RECONNECT;
    default:
        return code;
    }
}

static void release(void *state)
{
    rc_free(state);
}

static const struct ws_dialect pusher_dialect = {
    .on_text = on_text,
    .queue_event = pusherconn_queue_event,
    .close_code = close_code,
    .release = release,
};

/* refuse tells a connection why it may not stay and closes it. */
static void refuse(struct shard *sh, struct conn *c, uint16_t code, const char *message)
{
    send_error(sh, c, code, message);
    wsconn_close(sh, c, code, message);
}

void pusherconn_start(struct shard *sh, struct conn *c, const struct pusher_app *app,
                      const char *protocol, const struct ws_deflate_agreement *deflate,
                      uint8_t *early, size_t len)
{
    static const struct pusher_app no_app; /* for a refused connection's few moments */
    struct pusher_state *ps = rc_calloc(1, sizeof(*ps));
    if (!ps) {
        conn_kill(sh, c);
        return;
    }
    ps->app = app ? app : &no_app;
    ps->key = pusher_socket_key(c->gen, socket_b(sh, c));
    wsconn_start_dialect(sh, c, &pusher_dialect, ps, deflate, early, len);
    if (c->state != CONN_OPEN)
        return;
    if (!app) {
        refuse(sh, c, PUSHER_CLOSE_APP_UNKNOWN, "App key not in this server's --pusher-apps");
        return;
    }
    if (!protocol || !protocol[0]) {
        refuse(sh, c, PUSHER_CLOSE_NO_PROTOCOL, "No protocol version supplied (protocol=7)");
        return;
    }
    if (strcmp(protocol, "7") != 0) {
        refuse(sh, c, PUSHER_CLOSE_BAD_PROTOCOL, "Unsupported protocol version (use 7)");
        return;
    }
    char socket_id[PUSHER_MAX_SOCKET_ID];
    socket_id_of(sh, c, socket_id);
    unsigned activity_s = sh->cfg->idle_timeout_ms / 2000;
    if (activity_s > 120)
        activity_s = 120;
    if (activity_s == 0)
        activity_s = 1;
    size_t reply_len = 0;
    send_text(sh, c, pusher_connection_established(socket_id, activity_s, &reply_len), reply_len);
}
