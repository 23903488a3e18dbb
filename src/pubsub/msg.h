/* msg.h: a published event, immutable once sequenced.
 *
 * The home shard of the topic builds a message once, with all its wire
 * encodings, and hands the same pointer to every shard. Subscribers' send
 * queues point into the message: the bytes are never copied or reformatted
 * per subscriber (servers do not mask WebSocket frames, and the SSE record
 * is the same for every stream, so every subscriber can get identical bytes).
 *
 * Encodings:
 *   ws_frame    the WebSocket text frame a subscriber receives;
 *   sse_record  "event: <type>\nid: <epoch>-<seq>\ndata: …\n\n": the named form
 *               (for addEventListener); from sse_record + sse_event_len on,
 *               the id line and the data, it is the unnamed form (the
 *               default: EventSource's onmessage gets it). A stream with
 *               several subscriptions writes its own id line (and event
 *               line) and sends the data lines, sse_record + sse_event_len +
 *               sse_id_len on;
 *   full_json   the complete event JSON (for GET /v1/messages/<topic>/<seq>).
 * An event whose payload is larger than --max-payload is delivered as a stub
 * (--truncate=stub: ws_frame and sse_record carry the stub) or not at all
 * (--truncate=drop: both are NULL); full_json always holds the whole event.
 *
 * Lifetime: |refs| counts the holders: the shards it was sent to and the
 * home's retention store (atomic, touched once per holder); inside a shard,
 * struct lref counts the queue entries (plain integer). The last release
 * frees it. */
#ifndef RC_MSG_H
#define RC_MSG_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/config.h"

#define MSG_TIMESTAMP_LEN 27 /* 2026-01-20T10:30:00.000000Z */
#define MSG_DEFAULT_EVENT_TYPE "message"
#define MSG_MAX_EVENT_TYPE 255

/* msg flags */
#define MSG_OVERSIZED 0x01 /* payload above --max-payload: stub or dropped */

struct audience;

/* A frame built after the message: the permessage-deflate frame. */
struct msg_frame {
    uint32_t len;
    uint8_t bytes[];
};

struct msg {
    _Atomic uint32_t refs;
    uint16_t topic_len;
    uint8_t event_type_len;
    uint8_t flags;
    uint64_t topic_hash;
    uint64_t seq;
    int64_t time_us; /* wall clock when sequenced */
    uint64_t payload_len;
    const char *topic;       /* NUL-terminated, inside the message */
    const char *event_type;  /* NUL-terminated, inside the message */
    const uint8_t *ws_frame; /* NULL when dropped */
    uint32_t ws_frame_len;
    uint16_t sse_event_len;    /* "event: <type>\n", the start of sse_record */
    uint16_t sse_id_len;       /* "id: <epoch>-<seq>\n", the line after it */
    const uint8_t *sse_record; /* NULL when dropped */
    uint32_t sse_record_len;
    uint32_t full_json_len;
    const uint8_t *full_json;
    struct audience *audience; /* who may receive it; NULL: every permitted subscriber */
    /* The compressed frame (msg_deflated): the one part set after the
     * message is shared, once, by whichever shard needs it first. */
    _Atomic(struct msg_frame *) deflated;
    uint64_t exclude; /* a dialect's connection it skips (its sender); 0: none */
    uint8_t storage[];
};

/* What a publisher sent, already validated, and how to treat its size. */
struct msg_input {
    const char *topic;
    size_t topic_len;
    uint64_t topic_hash;
    uint64_t epoch;         /* the topic's (home.h), for the SSE id */
    const char *event_type; /* empty: MSG_DEFAULT_EVENT_TYPE */
    size_t event_type_len;
    bool payload_is_json; /* embed as it is; otherwise as a JSON string */
    const uint8_t *payload;
    size_t payload_len;
    /* For oversized JSON payloads: the payload's top-level "id", "entityId"
     * and "entityType" as JSON text (a string or a number), or empty. */
    const char *ref_json[3];
    size_t ref_json_len[3];
    /* A dialect's connection not to deliver to (Pusher: the sender of a
     * client event, or the socket_id an API publish excludes); 0: none. */
    uint64_t exclude;
    /* This event's --max-payload (a Pusher app's max_payload); 0: the
     * server's. */
    uint64_t max_payload;
};

/* How the home builds messages (from --max-payload and --truncate). */
struct msg_policy {
    uint64_t max_payload;
    enum truncate_mode mode;
};

/* msg_new builds the message and its encodings in one allocation, with
 * |refs| holders. Returns NULL when memory runs out. */
struct msg *msg_new(const struct msg_input *in, const struct msg_policy *policy, uint64_t seq,
                    int64_t time_us, uint32_t refs);

/* msg_ws_json returns the JSON text inside the WebSocket frame (behind its
 * 2, 4 or 10 header bytes) and its length; the frame must be there. */
const uint8_t *msg_ws_json(const struct msg *m, size_t *len);

/* msg_ws_data finds, inside the WebSocket frame's JSON, the event's "data"
 * value (a JSON text: the payload as it was published, or a JSON string of
 * a text payload), or the whole stub of an oversized event, and stores its
 * length in |len|. NULL when the event is delivered to no one. The bytes
 * are the frame's own: a data-only subscriber (the lambda-websocket-pubsub
 * aliases, wsconn.c) gets them behind a header of its own. */
const uint8_t *msg_ws_data(const struct msg *m, size_t *len);

/* msg_deflated returns the message's permessage-deflate frame
 * (wsdeflate.h), building it at the first call from any shard: compressed
 * at |level| when its JSON has at least |min_size| bytes and compresses to
 * fewer bytes. NULL: send the plain frame (small, incompressible, dropped,
 * or out of memory). Safe from every shard at once: the first frame stored
 * wins, a frame built in a race is freed. */
const struct msg_frame *msg_deflated(const struct msg *m, int level, size_t min_size);

/* msg_ref adds a holder. */
void msg_ref(struct msg *m);

/* msg_release drops one holder; the last one frees the message. */
void msg_release(struct msg *m);

/* msg_ref_names are the payload keys copied into a stub's "ref" object. */
extern const char *const msg_ref_names[3];

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
    /* A dialect's encoding (the Pusher frame), built by the first of its
     * subscribers on this shard and shared by the others; freed with the
     * lref. |dialect_kind| tells whose it is; NULL: none yet. */
    const void *dialect_kind;
    uint8_t *dialect_frame;
    uint32_t dialect_frame_len;
};

/* msg_data_json returns the "data" value of the message's full event
 * JSON (the payload as JSON text) and its length. */
const uint8_t *msg_data_json(const struct msg *m, size_t *out_len);

/* lref_new takes over one holder reference of |m|. The lref starts with a
 * hold of its own (count 1), which its creator drops with lref_put once it
 * has queued the message everywhere it goes. */
struct lref *lref_new(struct msg *m);

/* lref_put drops one queue entry's hold; the last drops the reference. */
void lref_put(struct lref *ref);

#endif
