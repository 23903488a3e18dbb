/* control.h: the native protocol's control messages (client -> server)
 * and the server's replies, as JSON text.
 *
 *   {"type":"subscribe","topics":["a","b"]}    -> {"type":"subscribed","topics":["a","b"],
 *                                                  "positions":{"a":{"epoch":"…","seq":N},…}}
 *   … "since":{"a":{"epoch":"…","seq":N}}     resume "a" after that position (docs/history.md)
 *   {"type":"history","topic":"a","since":N,"limit":N}
 *                                              -> {"type":"history","topic":"a","epoch":"…",
 *                                                  "events":[…]}
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
    CONTROL_HISTORY,
};

struct control_msg {
    enum control_type type;
    json_t *root;
    json_t *topics;       /* array (subscribe, unsubscribe); borrowed from root */
    json_t *alias_topics; /* the array built for an alias's topicId, or NULL */
    const char *token;    /* refresh */
    size_t token_len;
    json_t *since;     /* subscribe: object of positions by topic, or NULL; borrowed */
    const char *topic; /* history */
    size_t topic_len;
    uint64_t history_since; /* history: events after this seq */
    uint64_t limit;         /* history: at most this many; 0: the server's most */
    bool acknowledge;       /* send the subscribed/unsubscribed reply (not for aliases) */
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

/* control_since reads the position given for |topic| in "since": returns 1
 * and fills |*out_epoch| and |*out_seq|, 0 when there is none, -1 when it
 * is malformed (not {"epoch":"<16 hex digits>","seq":<integer >= 0>}). */
int control_since(const struct control_msg *m, const char *topic, size_t topic_len,
                  uint64_t *out_epoch, uint64_t *out_seq);

/* A position in the subscribed reply. */
struct control_position {
    const char *topic;
    size_t topic_len;
    uint64_t epoch;
    uint64_t seq;
};

/* The builders below return a malloc'd JSON text (free with free()) and
 * its length, or NULL when memory runs out. */

/* control_reply_topics: {"type":<type>,"topics":[...]}. */
char *control_reply_topics(const char *type, const char *const *topics, const size_t *lens,
                           size_t n, size_t *out_len);

/* control_reply_subscribed: {"type":"subscribed","topics":[...]} and, when
 * |num_positions| > 0, "positions":{<topic>:{"epoch":…,"seq":…},…}. */
char *control_reply_subscribed(const char *const *topics, const size_t *lens, size_t n,
                               const struct control_position *positions, size_t num_positions,
                               size_t *out_len);

/* control_reply_gap: {"type":"gap","topic":…,"reason":…,"epoch":…,
 * "first_seq":…}. */
char *control_reply_gap(const char *topic, size_t topic_len, const char *reason, uint64_t epoch,
                        uint64_t first_seq, size_t *out_len);

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
