/* control.h: the native protocol's control messages (client -> server)
 * and the server's replies, as JSON text.
 *
 *   {"type":"subscribe","topics":["a","b"]}    -> {"type":"subscribed","topics":["a","b"]}
 *   {"type":"unsubscribe","topics":["a"]}      -> {"type":"unsubscribed","topics":["a"]}
 *   {"type":"ping"}                            -> {"type":"pong"}
 *   {"type":"refresh","token":"…"}             -> {"type":"refreshed","exp":N,"removed":[…]}
 *   anything wrong -> {"type":"error","code":"…","message":"…"} (plus "topic" when
 *   the error concerns one topic)
 *
 * Aliases, the messages of the lambda-websocket-pubsub client (a message
 * with "action" and no "type"), answered with no reply as that server does:
 *   {"action":"SUBSCRIBE","topicId":"a"}       subscribe to ["a"]
 *   {"action":"UNSUBSCRIBE","topicId":"a"}     unsubscribe from ["a"]
 *
 * Parsing uses jansson: control messages are rare next to events, so a
 * real JSON parser costs nothing that matters. */
#ifndef RC_CONTROL_H
#define RC_CONTROL_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum control_type {
    CONTROL_SUBSCRIBE,
    CONTROL_UNSUBSCRIBE,
    CONTROL_PING,
    CONTROL_REFRESH,
};

struct control_msg {
    enum control_type type;
    json_t *root;
    json_t *topics;       /* array (subscribe, unsubscribe); borrowed from root */
    json_t *alias_topics; /* the array built for an alias's topicId, or NULL */
    const char *token;    /* refresh */
    size_t token_len;
    bool acknowledge; /* send the subscribed/unsubscribed reply (not for aliases) */
};

/* The error codes a client can receive (docs/protocol/websocket.md). */
#define CONTROL_ERR_BAD_JSON "bad_json"
#define CONTROL_ERR_BAD_REQUEST "bad_request"
#define CONTROL_ERR_UNKNOWN_TYPE "unknown_type"
#define CONTROL_ERR_BAD_TOPIC "bad_topic"
#define CONTROL_ERR_TOO_MANY_TOPICS "too_many_topics"
#define CONTROL_ERR_TOO_MANY_PATTERNS "too_many_patterns"
#define CONTROL_ERR_FORBIDDEN "forbidden"
#define CONTROL_ERR_UNAUTHORIZED "unauthorized"
#define CONTROL_ERR_INTERNAL "internal"
#define CONTROL_ERR_RATE_LIMITED "rate_limited"

/* control_parse parses one text message. Returns 0 and fills |out| (free
 * it with control_free), or -1 with |*out_code| set to an error code and a
 * human-readable explanation in |message|. */
int control_parse(struct control_msg *out, const uint8_t *data, size_t len, const char **out_code,
                  char *message, size_t message_len);

/* control_free releases a parsed message. */
void control_free(struct control_msg *m);

/* control_num_topics returns the length of the topics array. */
size_t control_num_topics(const struct control_msg *m);

/* control_topic returns topic |i|, or NULL when that element is not a
 * string. */
const char *control_topic(const struct control_msg *m, size_t i, size_t *out_len);

/* The builders below return a malloc'd JSON text (free with free()) and
 * its length, or NULL when memory runs out. */

/* control_reply_topics: {"type":<type>,"topics":[...]}. */
char *control_reply_topics(const char *type, const char *const *topics, const size_t *lens,
                           size_t n, size_t *out_len);

/* control_reply_refreshed: {"type":"refreshed","exp":…,"removed":[...]};
 * |exp| 0 is written as null. */
char *control_reply_refreshed(int64_t exp, const char *const *removed, const size_t *lens, size_t n,
                              size_t *out_len);

/* control_reply_pong: {"type":"pong"}. */
char *control_reply_pong(size_t *out_len);

/* control_reply_error: {"type":"error","code":…,"topic":…,"message":…};
 * |topic| may be NULL. Invalid UTF-8 in |topic| is replaced. */
char *control_reply_error(const char *code, const char *topic, size_t topic_len,
                          const char *message, size_t *out_len);

#endif
