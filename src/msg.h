/* msg.h: a published event, immutable once sequenced.
 *
 * The home shard of the topic builds a message once, with its wire
 * encodings, and hands the same pointer to every shard. Subscribers' send
 * queues point at msg->ws_frame: the bytes are never copied or reformatted
 * per subscriber (servers do not mask WebSocket frames, so every subscriber
 * can receive the identical frame).
 *
 * Lifetime: |refs| counts the shards that hold the message (atomic, touched
 * once per shard); inside a shard, struct lref counts the queue entries
 * (plain integer). The last release frees it. */
#ifndef RC_MSG_H
#define RC_MSG_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define MSG_TIMESTAMP_LEN 27 /* 2026-01-20T10:30:00.000000Z */
#define MSG_DEFAULT_EVENT_TYPE "message"
#define MSG_MAX_EVENT_TYPE 255

struct msg {
    _Atomic uint32_t refs;
    uint16_t topic_len;
    uint8_t event_type_len;
    uint64_t topic_hash;
    uint64_t seq;
    int64_t time_us;         /* wall clock when sequenced */
    const char *topic;       /* NUL-terminated, inside the message */
    const char *event_type;  /* NUL-terminated, inside the message */
    const uint8_t *ws_frame; /* complete WebSocket text frame: header + event JSON */
    uint32_t ws_frame_len;
    uint32_t json_offset; /* where the event JSON starts inside ws_frame */
    uint8_t storage[];
};

/* What a publisher sent, already validated. */
struct msg_input {
    const char *topic;
    size_t topic_len;
    uint64_t topic_hash;
    const char *event_type; /* empty: MSG_DEFAULT_EVENT_TYPE */
    size_t event_type_len;
    bool payload_is_json; /* embed as it is; otherwise as a JSON string */
    const uint8_t *payload;
    size_t payload_len;
};

/* msg_new builds the message and its frame in one allocation, with |refs|
 * shard references. Returns NULL when memory runs out. */
struct msg *msg_new(const struct msg_input *in, uint64_t seq, int64_t time_us, uint32_t refs);

/* msg_release drops one shard reference; the last one frees the message. */
void msg_release(struct msg *m);

/* msg_event_type_valid: 1..255 characters from A-Z a-z 0-9 and "_-.:/". */
bool msg_event_type_valid(const char *type, size_t len);

/* msg_content_type_is_json: "application/json" or any "+json" type,
 * parameters after ';' ignored, case-insensitive. */
bool msg_content_type_is_json(const char *type, size_t len);

/* msg_format_timestamp writes the ISO 8601 UTC time with microseconds
 * (MSG_TIMESTAMP_LEN characters, then a NUL). */
void msg_format_timestamp(char out[MSG_TIMESTAMP_LEN + 1], int64_t time_us);

/* A shard's hold on a message: how many of its queue entries point at it. */
struct lref {
    struct msg *msg;
    uint32_t count;
};

/* lref_new takes over one shard reference of |m|. The lref starts with a
 * hold of its own (count 1), which its creator drops with lref_put once it
 * has queued the message everywhere it goes. */
struct lref *lref_new(struct msg *m);

/* lref_put drops one queue entry's hold; the last drops the shard reference. */
void lref_put(struct lref *ref);

#endif
