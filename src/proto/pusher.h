/* pusher.h: the Pusher Channels protocol 7 (as pusher-js 8 speaks it),
 * pure codecs: channel names and their topics, the client's messages, the
 * server's messages. docs/protocol/pusher.md describes what is supported.
 *
 * Every server message is {"event":…,"channel":…,"data":…}, where "data"
 * of an event is a JSON string (pusher-js parses it again); the builders
 * return malloc'd text (free with free()) and its length, or NULL when
 * memory runs out. */
#ifndef RC_PUSHER_H
#define RC_PUSHER_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define PUSHER_PROTOCOL 7
#define PUSHER_MAX_CHANNEL 164       /* Pusher's limit on a channel name */
#define PUSHER_TOPIC_PREFIX "pusher" /* topics: pusher:<app id>:<escaped channel> */
#define PUSHER_MAX_SOCKET_ID 24      /* "4294967295.4294967295" and a NUL */

/* Close codes (pusher-js: 4000-4099 no reconnect, 4100-4199 reconnect
 * after a pause, 4200-4299 reconnect at once). */
enum pusher_close {
    PUSHER_CLOSE_APP_UNKNOWN = 4001,
    PUSHER_CLOSE_NO_PROTOCOL = 4006,  /* no or bad protocol= parameter */
    PUSHER_CLOSE_BAD_PROTOCOL = 4007, /* a protocol other than 7 */
    PUSHER_CLOSE_OVER_CAPACITY = 4100,
    PUSHER_CLOSE_RECONNECT = 4200,
    PUSHER_CLOSE_PONG_MISSING = 4201,
    PUSHER_CLOSE_INACTIVE = 4202,
};

/* Codes of non-fatal pusher:error messages. */
#define PUSHER_ERR_GENERIC 4200
#define PUSHER_ERR_CLIENT_EVENTS 4301

enum pusher_channel_kind {
    PUSHER_PUBLIC,
    PUSHER_PRIVATE,           /* private-: signed socket_id:channel */
    PUSHER_PRIVATE_ENCRYPTED, /* private-encrypted-: signed, relayed as is */
    PUSHER_PRESENCE,          /* presence-: signed with the channel data */
};

/* pusher_channel_valid: 1..PUSHER_MAX_CHANNEL characters of
 * A-Z a-z 0-9 and "-_=@,.;", as Pusher accepts. */
bool pusher_channel_valid(const char *name, size_t len);

/* pusher_channel_kind tells a valid channel's kind by its prefix. */
enum pusher_channel_kind pusher_channel_kind(const char *name, size_t len);

/* pusher_topic_of writes the topic of |channel| of app |app_id|:
 * "pusher:<app id>:<channel>" with '.', ',' and ';' (which topics do not
 * take as segment text) escaped as "~2E", "~2C" and "~3B". Returns its
 * length, or 0 when it does not fit in |cap| bytes (with a NUL). */
size_t pusher_topic_of(char *out, size_t cap, const char *app_id, size_t app_id_len,
                       const char *channel, size_t channel_len);

/* pusher_channel_of reverses pusher_topic_of: the channel of |topic| into
 * |out| (with a NUL) and its length, or 0 when the topic is not a Pusher
 * channel's. |*out_app| and |*out_app_len| name the app id inside |topic|. */
size_t pusher_channel_of(char *out, size_t cap, const char *topic, size_t topic_len,
                         const char **out_app, size_t *out_app_len);

enum pusher_msg_type {
    PUSHER_MSG_PING,
    PUSHER_MSG_PONG,
    PUSHER_MSG_SUBSCRIBE,
    PUSHER_MSG_UNSUBSCRIBE,
    PUSHER_MSG_CLIENT_EVENT, /* client-* */
    PUSHER_MSG_OTHER,        /* another pusher: event, ignored as Pusher does */
};

/* A client's message; the strings point into |root|. */
struct pusher_msg {
    enum pusher_msg_type type;
    json_t *root;
    const char *event;
    size_t event_len;
    const char *channel; /* subscribe, unsubscribe, client events; NULL: none */
    size_t channel_len;
    const char *auth; /* subscribe; NULL: none */
    size_t auth_len;
    const char *channel_data; /* subscribe to presence-; NULL: none */
    size_t channel_data_len;
};

/* pusher_parse reads one text message. Returns 0 (free with pusher_free)
 * or -1 with |message| saying what is wrong. */
int pusher_parse(struct pusher_msg *out, const uint8_t *data, size_t len, char *message,
                 size_t message_len);

/* pusher_free releases a parsed message. */
void pusher_free(struct pusher_msg *m);

/* pusher_socket_id writes "<a>.<b>" into |out|. */
void pusher_socket_id(char out[PUSHER_MAX_SOCKET_ID], uint32_t a, uint32_t b);

/* pusher_socket_key is the number that names socket id "<a>.<b>" in a
 * message's exclude (never 0, unless both are UINT32_MAX). */
static inline uint64_t pusher_socket_key(uint32_t a, uint32_t b)
{
    return ((uint64_t)a << 32 | b) + 1;
}

/* pusher_socket_id_parse reads a socket id "<a>.<b>" (decimal, each at
 * most UINT32_MAX) into its key; false when it is not one. */
bool pusher_socket_id_parse(const char *s, size_t len, uint64_t *out_key);

/* pusher_connection_established: its data holds socket_id and
 * activity_timeout (seconds). */
char *pusher_connection_established(const char *socket_id, unsigned activity_timeout_s,
                                    size_t *out_len);

/* pusher_pong: {"event":"pusher:pong","data":"{}"}. */
char *pusher_pong(size_t *out_len);

/* pusher_error: {"event":"pusher:error","data":{"code":…,"message":…}}. */
char *pusher_error(int code, const char *message, size_t *out_len);

/* pusher_subscription_succeeded for |channel| (data "{}"). */
char *pusher_subscription_succeeded(const char *channel, size_t channel_len, size_t *out_len);

/* pusher_subscription_error for |channel|: data {"type":…,"error":…,"status":…}. */
char *pusher_subscription_error(const char *channel, size_t channel_len, const char *type,
                                const char *error, int status, size_t *out_len);

/* pusher_event_frame_len is the length of the WebSocket text frame
 * pusher_put_event_frame writes for an event |event| on |channel| whose
 * data is the JSON text |data| (a string is sent as it is, any other value
 * as the string of its text). */
size_t pusher_event_frame_len(size_t event_len, size_t channel_len, const uint8_t *data,
                              size_t data_len);

/* pusher_put_event_frame writes that frame (pusher_event_frame_len bytes)
 * to |out|. */
void pusher_put_event_frame(uint8_t *out, const char *event, size_t event_len, const char *channel,
                            size_t channel_len, const uint8_t *data, size_t data_len);

#endif
