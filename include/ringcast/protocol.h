/* ringcast/protocol.h: the binary publish protocol, version 1.
 *
 * The wire format is specified in docs/protocol/publish.md. In short, every
 * frame, in both directions, is
 *
 *     u32 length | u8 type | u8 flags | u32 corr | body
 *
 * big-endian, where |length| counts the bytes after itself (6 + body length)
 * and |corr| is the correlation id the client chose for a request and the
 * server echoes in its reply. |flags| is 0 in version 1.
 *
 * This header holds the codec: pure functions that encode frames into a
 * caller's buffer and decode them from bytes, shared by the server, the
 * client library, ringcast-pub and the load generator. */
#ifndef RINGCAST_PROTOCOL_H
#define RINGCAST_PROTOCOL_H

#include <stddef.h>
#include <stdint.h>

#define RC_PROTO_MAGIC 0x52435031u /* "RCP1", first field of HELLO */
#define RC_PROTO_VERSION 1
#define RC_FRAME_HEADER_LEN 10 /* length + type + flags + corr */
#define RC_FRAME_MIN_LENGTH 6  /* smallest value of the length field */
#define RC_MAX_TOKEN_LEN 8192  /* HELLO token */
#define RC_MAX_SHORT_FIELD 255 /* event type, content type, message id, client name */
#define RC_MAX_PING_DATA 64
#define RC_MAX_ERROR_MESSAGE 1024
#define RC_MAX_AUDIENCE 65536 /* bytes of a PUBLISH's audience extension */

/* PUBLISH extensions: after the payload, zero or more records
 * u8 tag | u32 length | value, each tag at most once. */
#define RC_EXT_AUDIENCE 0x01

enum rc_frame_type {
    RC_HELLO = 0x01,   /* client -> server, first frame */
    RC_WELCOME = 0x02, /* server -> client, answer to HELLO */
    RC_PUBLISH = 0x10, /* client -> server */
    RC_ACK = 0x11,     /* server -> client: the publish got a sequence number */
    RC_NACK = 0x12,    /* server -> client: a request failed */
    RC_PING = 0x20,    /* either way; answered by PONG with the same data */
    RC_PONG = 0x21,
    RC_GOAWAY = 0x30, /* server -> client: no new requests accepted, connection ends */
};

/* Error codes carried by NACK and GOAWAY. A NACK with a code marked "fatal"
 * is followed by the server closing the connection. */
enum rc_error_code {
    RC_ERR_BAD_FRAME = 1,           /* fatal: malformed frame or unknown type */
    RC_ERR_UNSUPPORTED_VERSION = 2, /* fatal: HELLO magic or version not understood */
    RC_ERR_UNAUTHORIZED = 3,        /* fatal: HELLO token refused */
    RC_ERR_FORBIDDEN = 4,           /* the token may not publish to this topic */
    RC_ERR_TOO_LARGE = 5,           /* payload above the server's limit */
    RC_ERR_BAD_TOPIC = 6,           /* empty, too long, bad characters */
    RC_ERR_BAD_PAYLOAD = 7,         /* declared JSON but is not, or not UTF-8 */
    RC_ERR_OVERLOADED = 8,          /* the server cannot take this now; retry later */
    RC_ERR_SHUTTING_DOWN = 9,       /* the server is stopping */
    RC_ERR_BAD_REQUEST = 10,        /* a field is invalid (event type, message id) */
    RC_ERR_INTERNAL = 11,
    RC_ERR_NOT_READY = 12,    /* fatal: a request before HELLO, or a second HELLO */
    RC_ERR_RATE_LIMITED = 13, /* this client is over one of its limits (a rate, its
                                 connections); retry later, slower */
};

/* ACK flags. */
#define RC_ACK_DUPLICATE 0x01 /* the message id was seen before; seq is the first one's */

struct rc_frame {
    uint8_t type;
    uint8_t flags;
    uint32_t corr;
    const uint8_t *body;
    size_t body_len;
};

struct rc_hello {
    uint16_t version;
    const char *token; /* may be empty: open servers ignore it */
    size_t token_len;
    const char *client_name; /* for the server's logs; may be empty */
    size_t client_name_len;
};

struct rc_welcome {
    uint16_t version;
    uint32_t max_frame;   /* largest length field the server accepts */
    uint32_t max_payload; /* largest PUBLISH payload */
    uint16_t max_topic_len;
    uint32_t max_inflight; /* PUBLISHes the server reads ahead before acknowledging */
};

struct rc_publish {
    const char *topic;
    size_t topic_len;
    const char *event_type; /* empty means "message" */
    size_t event_type_len;
    const char *content_type; /* "application/json" (or any "+json"): payload is JSON */
    size_t content_type_len;
    const char *msg_id; /* empty: no idempotency key */
    size_t msg_id_len;
    const uint8_t *payload;
    size_t payload_len;
    /* Extension RC_EXT_AUDIENCE: who may receive the event, a JSON object
     * {"tenant":…,"orgs":[…],"users":[…],"roles":[…]} (docs/auth.md); empty
     * for everyone allowed. */
    const char *audience;
    size_t audience_len;
};

struct rc_ack {
    uint64_t seq;
    uint8_t flags;
};

struct rc_error { /* body of NACK and GOAWAY */
    uint16_t code;
    const char *message;
    size_t message_len;
};

/* rc_error_name returns the short name of |code| ("forbidden"), or
 * "unknown". */
const char *rc_error_name(uint16_t code);

/* rc_error_is_fatal reports whether the server closes the connection after
 * a NACK with |code|. */
int rc_error_is_fatal(uint16_t code);

/* rc_frame_decode reads one frame at the start of |buf|. Returns the number
 * of bytes the frame occupies (4 + length) when it is all there, 0 when more
 * bytes are needed, and -1 when the length field is below 6 or above
 * |max_frame|. Sets |out| only on a positive return; |out->body| points into
 * |buf|. Flags are returned, not judged. */
long rc_frame_decode(struct rc_frame *out, const uint8_t *buf, size_t len, size_t max_frame);

/* The rc_decode_* functions parse the body of a frame of the matching type.
 * They return 0, or -1 when the body is malformed: truncated, trailing bytes,
 * a length field beyond the body, or a field above its limit. Strings point
 * into |body|. */
int rc_decode_hello(struct rc_hello *out, const uint8_t *body, size_t len);
int rc_decode_welcome(struct rc_welcome *out, const uint8_t *body, size_t len);
int rc_decode_publish(struct rc_publish *out, const uint8_t *body, size_t len);
int rc_decode_ack(struct rc_ack *out, const uint8_t *body, size_t len);
int rc_decode_error(struct rc_error *out, const uint8_t *body, size_t len);
/* rc_decode_ping parses the body of a PING or PONG: at most
 * RC_MAX_PING_DATA opaque bytes, returned in |*out_data| and |*out_len|. */
int rc_decode_ping(const uint8_t **out_data, size_t *out_len, const uint8_t *body, size_t len);

/* rc_hello_version reads only the magic and the version at the start of a
 * HELLO body, whose remainder may be laid out differently in other versions.
 * Returns the version, or -1 when the body does not start with
 * RC_PROTO_MAGIC. A server answers unsupported_version when this is -1 or a
 * version it does not speak, and bad_frame only when rc_decode_hello then
 * fails. (rc_decode_hello itself rejects a wrong magic and returns the
 * version without judging it.) */
int rc_hello_version(const uint8_t *body, size_t len);

/* The rc_encode_* functions write one whole frame into |out| and return its
 * length, or 0 (writing nothing useful) when |cap| is too small or a field
 * is above its limit. rc_publish_frame_len tells the size in advance (0 when
 * a field is above its limit, as rc_encode_publish would fail). A PUBLISH
 * with an empty topic is refused by both directions of the codec. */
size_t rc_encode_hello(uint8_t *out, size_t cap, uint32_t corr, const struct rc_hello *hello);
size_t rc_encode_welcome(uint8_t *out, size_t cap, uint32_t corr, const struct rc_welcome *w);
size_t rc_publish_frame_len(const struct rc_publish *p);
size_t rc_encode_publish(uint8_t *out, size_t cap, uint32_t corr, const struct rc_publish *p);
size_t rc_encode_ack(uint8_t *out, size_t cap, uint32_t corr, const struct rc_ack *ack);
/* |type| is RC_NACK or RC_GOAWAY. */
size_t rc_encode_error(uint8_t *out, size_t cap, uint8_t type, uint32_t corr,
                       const struct rc_error *err);
/* |type| is RC_PING or RC_PONG; at most RC_MAX_PING_DATA bytes of data. */
size_t rc_encode_ping(uint8_t *out, size_t cap, uint8_t type, uint32_t corr, const uint8_t *data,
                      size_t data_len);

#endif
