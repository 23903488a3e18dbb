/* protocol.c: the publish protocol codec (docs/protocol/publish.md).
 *
 * Every read and write goes through BoringSSL's bounds-checked cursors: CBS
 * for decoding, CBB over the caller's fixed buffer for encoding. A decoder
 * fills its output only after the whole body parsed, and rejects any byte
 * left over: version 1 has no extensions, so trailing bytes mean the peer
 * and we disagree about the layout. */
#include <limits.h>
#include <stdint.h>

#include <openssl/bytestring.h>

#include "ringcast/protocol.h"

/* Body sizes of the fixed-layout frames. */
#define WELCOME_BODY_LEN 16 /* u16 + u32 + u32 + u16 + u32 */
#define ACK_BODY_LEN 9      /* u64 + u8 */
/* PUBLISH body bytes besides the four strings and the payload: u16 topic_len,
 * three u8 lengths, u32 payload_len. */
#define PUBLISH_FIXED_LEN 9

static const char *const error_names[] = {
    [RC_ERR_BAD_FRAME] = "bad_frame",         [RC_ERR_UNSUPPORTED_VERSION] = "unsupported_version",
    [RC_ERR_UNAUTHORIZED] = "unauthorized",   [RC_ERR_FORBIDDEN] = "forbidden",
    [RC_ERR_TOO_LARGE] = "too_large",         [RC_ERR_BAD_TOPIC] = "bad_topic",
    [RC_ERR_BAD_PAYLOAD] = "bad_payload",     [RC_ERR_OVERLOADED] = "overloaded",
    [RC_ERR_SHUTTING_DOWN] = "shutting_down", [RC_ERR_BAD_REQUEST] = "bad_request",
    [RC_ERR_INTERNAL] = "internal",           [RC_ERR_NOT_READY] = "not_ready",
    [RC_ERR_RATE_LIMITED] = "rate_limited",
};

const char *rc_error_name(uint16_t code)
{
    if (code < sizeof(error_names) / sizeof(error_names[0]) && error_names[code] != NULL)
        return error_names[code];
    return "unknown";
}

int rc_error_is_fatal(uint16_t code)
{
    switch (code) {
    case RC_ERR_BAD_FRAME:
    case RC_ERR_UNSUPPORTED_VERSION:
    case RC_ERR_UNAUTHORIZED:
    case RC_ERR_NOT_READY:
        return 1;
    default:
        return 0;
    }
}

long rc_frame_decode(struct rc_frame *out, const uint8_t *buf, size_t len, size_t max_frame)
{
    CBS cbs, body;
    uint32_t length, corr;
    uint8_t type, flags;

    CBS_init(&cbs, buf, len);
    if (!CBS_get_u32(&cbs, &length))
        return 0;
    /* Judge the length as soon as it is known, so that a peer announcing a
     * huge frame is refused before anyone waits for (or buffers) its body. */
    if (length < RC_FRAME_MIN_LENGTH || length > max_frame)
        return -1;
#if LONG_MAX <= 0x7fffffffL
    if (length > (uint32_t)LONG_MAX - 4)
        return -1;
#endif
    if (CBS_len(&cbs) < length)
        return 0;
    if (!CBS_get_u8(&cbs, &type) || !CBS_get_u8(&cbs, &flags) || !CBS_get_u32(&cbs, &corr) ||
        !CBS_get_bytes(&cbs, &body, length - RC_FRAME_MIN_LENGTH))
        return -1; /* cannot happen: CBS_len(&cbs) >= length was checked */
    out->type = type;
    out->flags = flags;
    out->corr = corr;
    out->body = CBS_data(&body);
    out->body_len = CBS_len(&body);
    return (long)length + 4;
}

int rc_hello_version(const uint8_t *body, size_t len)
{
    CBS cbs;
    uint32_t magic;
    uint16_t version;

    CBS_init(&cbs, body, len);
    if (!CBS_get_u32(&cbs, &magic) || magic != RC_PROTO_MAGIC || !CBS_get_u16(&cbs, &version))
        return -1;
    return version;
}

int rc_decode_hello(struct rc_hello *out, const uint8_t *body, size_t len)
{
    CBS cbs, token, name;
    uint32_t magic;
    uint16_t version;

    CBS_init(&cbs, body, len);
    if (!CBS_get_u32(&cbs, &magic) || magic != RC_PROTO_MAGIC || !CBS_get_u16(&cbs, &version) ||
        !CBS_get_u16_length_prefixed(&cbs, &token) || CBS_len(&token) > RC_MAX_TOKEN_LEN ||
        !CBS_get_u8_length_prefixed(&cbs, &name) || CBS_len(&cbs) != 0)
        return -1;
    out->version = version;
    out->token = (const char *)CBS_data(&token);
    out->token_len = CBS_len(&token);
    out->client_name = (const char *)CBS_data(&name);
    out->client_name_len = CBS_len(&name);
    return 0;
}

int rc_decode_welcome(struct rc_welcome *out, const uint8_t *body, size_t len)
{
    CBS cbs;
    struct rc_welcome w;

    CBS_init(&cbs, body, len);
    if (!CBS_get_u16(&cbs, &w.version) || !CBS_get_u32(&cbs, &w.max_frame) ||
        !CBS_get_u32(&cbs, &w.max_payload) || !CBS_get_u16(&cbs, &w.max_topic_len) ||
        !CBS_get_u32(&cbs, &w.max_inflight) || CBS_len(&cbs) != 0)
        return -1;
    *out = w;
    return 0;
}

/* decode_extensions reads the records after a PUBLISH's payload. */
static int decode_extensions(struct rc_publish *out, CBS *cbs)
{
    out->audience = NULL;
    out->audience_len = 0;
    while (CBS_len(cbs) > 0) {
        uint8_t tag;
        uint32_t value_len;
        CBS value;
        if (!CBS_get_u8(cbs, &tag) || !CBS_get_u32(cbs, &value_len) ||
            !CBS_get_bytes(cbs, &value, value_len))
            return -1;
        if (tag != RC_EXT_AUDIENCE || out->audience || value_len == 0 ||
            value_len > RC_MAX_AUDIENCE)
            return -1; /* unknown, repeated, empty or too long */
        out->audience = (const char *)CBS_data(&value);
        out->audience_len = value_len;
    }
    return 0;
}

int rc_decode_publish(struct rc_publish *out, const uint8_t *body, size_t len)
{
    CBS cbs, topic, event_type, content_type, msg_id, payload;
    uint32_t payload_len;

    CBS_init(&cbs, body, len);
    if (!CBS_get_u16_length_prefixed(&cbs, &topic) || CBS_len(&topic) == 0 ||
        !CBS_get_u8_length_prefixed(&cbs, &event_type) ||
        !CBS_get_u8_length_prefixed(&cbs, &content_type) ||
        !CBS_get_u8_length_prefixed(&cbs, &msg_id) || !CBS_get_u32(&cbs, &payload_len) ||
        !CBS_get_bytes(&cbs, &payload, payload_len) || decode_extensions(out, &cbs) != 0)
        return -1;
    out->topic = (const char *)CBS_data(&topic);
    out->topic_len = CBS_len(&topic);
    out->event_type = (const char *)CBS_data(&event_type);
    out->event_type_len = CBS_len(&event_type);
    out->content_type = (const char *)CBS_data(&content_type);
    out->content_type_len = CBS_len(&content_type);
    out->msg_id = (const char *)CBS_data(&msg_id);
    out->msg_id_len = CBS_len(&msg_id);
    out->payload = CBS_data(&payload);
    out->payload_len = CBS_len(&payload);
    return 0;
}

int rc_decode_ack(struct rc_ack *out, const uint8_t *body, size_t len)
{
    CBS cbs;
    uint64_t seq;
    uint8_t flags;

    CBS_init(&cbs, body, len);
    if (!CBS_get_u64(&cbs, &seq) || !CBS_get_u8(&cbs, &flags) || CBS_len(&cbs) != 0)
        return -1;
    out->seq = seq;
    out->flags = flags;
    return 0;
}

int rc_decode_error(struct rc_error *out, const uint8_t *body, size_t len)
{
    CBS cbs, message;
    uint16_t code;

    CBS_init(&cbs, body, len);
    if (!CBS_get_u16(&cbs, &code) || !CBS_get_u16_length_prefixed(&cbs, &message) ||
        CBS_len(&message) > RC_MAX_ERROR_MESSAGE || CBS_len(&cbs) != 0)
        return -1;
    out->code = code;
    out->message = (const char *)CBS_data(&message);
    out->message_len = CBS_len(&message);
    return 0;
}

int rc_decode_ping(const uint8_t **out_data, size_t *out_len, const uint8_t *body, size_t len)
{
    CBS cbs, data;

    CBS_init(&cbs, body, len);
    if (CBS_len(&cbs) > RC_MAX_PING_DATA || !CBS_get_bytes(&cbs, &data, CBS_len(&cbs)))
        return -1;
    *out_data = CBS_data(&data);
    *out_len = CBS_len(&data);
    return 0;
}

/* frame_begin starts a frame of |body_len| bytes in |cbb| over |out|: checks
 * that it fits in |cap| and in the length field, and writes the header.
 * Returns 1, or 0 with nothing to clean up. */
static int frame_begin(CBB *cbb, uint8_t *out, size_t cap, uint8_t type, uint32_t corr,
                       size_t body_len)
{
    if (body_len > UINT32_MAX - RC_FRAME_MIN_LENGTH || cap < RC_FRAME_HEADER_LEN ||
        cap - RC_FRAME_HEADER_LEN < body_len || out == NULL)
        return 0;
    if (!CBB_init_fixed(cbb, out, RC_FRAME_HEADER_LEN + body_len))
        return 0;
    if (!CBB_add_u32(cbb, (uint32_t)(RC_FRAME_MIN_LENGTH + body_len)) || !CBB_add_u8(cbb, type) ||
        !CBB_add_u8(cbb, 0) || !CBB_add_u32(cbb, corr)) {
        CBB_cleanup(cbb);
        return 0;
    }
    return 1;
}

/* frame_end finishes |cbb| (after |ok| writes) and returns the frame length,
 * which must be what frame_begin announced, or 0. */
static size_t frame_end(CBB *cbb, int ok, size_t body_len)
{
    uint8_t *data;
    size_t len;

    if (!ok || !CBB_finish(cbb, &data, &len)) {
        CBB_cleanup(cbb);
        return 0;
    }
    return len == RC_FRAME_HEADER_LEN + body_len ? len : 0;
}

static int add_str(CBB *cbb, const char *s, size_t len)
{
    return CBB_add_bytes(cbb, (const uint8_t *)s, len);
}

size_t rc_encode_hello(uint8_t *out, size_t cap, uint32_t corr, const struct rc_hello *hello)
{
    CBB cbb;
    size_t body_len;
    int ok;

    if (hello->token_len > RC_MAX_TOKEN_LEN || hello->client_name_len > RC_MAX_SHORT_FIELD)
        return 0;
    body_len = 4 + 2 + 2 + hello->token_len + 1 + hello->client_name_len;
    if (!frame_begin(&cbb, out, cap, RC_HELLO, corr, body_len))
        return 0;
    ok = CBB_add_u32(&cbb, RC_PROTO_MAGIC) && CBB_add_u16(&cbb, hello->version) &&
         CBB_add_u16(&cbb, (uint16_t)hello->token_len) &&
         add_str(&cbb, hello->token, hello->token_len) &&
         CBB_add_u8(&cbb, (uint8_t)hello->client_name_len) &&
         add_str(&cbb, hello->client_name, hello->client_name_len);
    return frame_end(&cbb, ok, body_len);
}

size_t rc_encode_welcome(uint8_t *out, size_t cap, uint32_t corr, const struct rc_welcome *w)
{
    CBB cbb;
    int ok;

    if (!frame_begin(&cbb, out, cap, RC_WELCOME, corr, WELCOME_BODY_LEN))
        return 0;
    ok = CBB_add_u16(&cbb, w->version) && CBB_add_u32(&cbb, w->max_frame) &&
         CBB_add_u32(&cbb, w->max_payload) && CBB_add_u16(&cbb, w->max_topic_len) &&
         CBB_add_u32(&cbb, w->max_inflight);
    return frame_end(&cbb, ok, WELCOME_BODY_LEN);
}

/* publish_body_len returns the body length of |p|, or 0 when a field is
 * above its limit or the frame would not fit the u32 length field. */
static size_t publish_body_len(const struct rc_publish *p)
{
    size_t strings;

    if (p->topic_len == 0 || p->topic_len > UINT16_MAX || p->event_type_len > RC_MAX_SHORT_FIELD ||
        p->content_type_len > RC_MAX_SHORT_FIELD || p->msg_id_len > RC_MAX_SHORT_FIELD)
        return 0;
    strings = p->topic_len + p->event_type_len + p->content_type_len + p->msg_id_len;
    if (p->audience_len > RC_MAX_AUDIENCE)
        return 0;
    if (p->audience_len > 0)
        strings += 5 + p->audience_len; /* tag, length, value */
    if (p->payload_len > UINT32_MAX - RC_FRAME_MIN_LENGTH - PUBLISH_FIXED_LEN - strings)
        return 0;
    return PUBLISH_FIXED_LEN + strings + p->payload_len;
}

size_t rc_publish_frame_len(const struct rc_publish *p)
{
    size_t body_len = publish_body_len(p);

    return body_len == 0 ? 0 : RC_FRAME_HEADER_LEN + body_len;
}

size_t rc_encode_publish(uint8_t *out, size_t cap, uint32_t corr, const struct rc_publish *p)
{
    CBB cbb;
    size_t body_len = publish_body_len(p);
    int ok;

    if (body_len == 0 || !frame_begin(&cbb, out, cap, RC_PUBLISH, corr, body_len))
        return 0;
    ok = CBB_add_u16(&cbb, (uint16_t)p->topic_len) && add_str(&cbb, p->topic, p->topic_len) &&
         CBB_add_u8(&cbb, (uint8_t)p->event_type_len) &&
         add_str(&cbb, p->event_type, p->event_type_len) &&
         CBB_add_u8(&cbb, (uint8_t)p->content_type_len) &&
         add_str(&cbb, p->content_type, p->content_type_len) &&
         CBB_add_u8(&cbb, (uint8_t)p->msg_id_len) && add_str(&cbb, p->msg_id, p->msg_id_len) &&
         CBB_add_u32(&cbb, (uint32_t)p->payload_len) &&
         CBB_add_bytes(&cbb, p->payload, p->payload_len);
    if (ok && p->audience_len > 0)
        ok = CBB_add_u8(&cbb, RC_EXT_AUDIENCE) && CBB_add_u32(&cbb, (uint32_t)p->audience_len) &&
             add_str(&cbb, p->audience, p->audience_len);
    return frame_end(&cbb, ok, body_len);
}

size_t rc_encode_ack(uint8_t *out, size_t cap, uint32_t corr, const struct rc_ack *ack)
{
    CBB cbb;
    int ok;

    if (!frame_begin(&cbb, out, cap, RC_ACK, corr, ACK_BODY_LEN))
        return 0;
    ok = CBB_add_u64(&cbb, ack->seq) && CBB_add_u8(&cbb, ack->flags);
    return frame_end(&cbb, ok, ACK_BODY_LEN);
}

size_t rc_encode_error(uint8_t *out, size_t cap, uint8_t type, uint32_t corr,
                       const struct rc_error *err)
{
    CBB cbb;
    size_t body_len;
    int ok;

    if ((type != RC_NACK && type != RC_GOAWAY) || err->message_len > RC_MAX_ERROR_MESSAGE)
        return 0;
    body_len = 2 + 2 + err->message_len;
    if (!frame_begin(&cbb, out, cap, type, corr, body_len))
        return 0;
    ok = CBB_add_u16(&cbb, err->code) && CBB_add_u16(&cbb, (uint16_t)err->message_len) &&
         add_str(&cbb, err->message, err->message_len);
    return frame_end(&cbb, ok, body_len);
}

size_t rc_encode_ping(uint8_t *out, size_t cap, uint8_t type, uint32_t corr, const uint8_t *data,
                      size_t data_len)
{
    CBB cbb;
    int ok;

    if ((type != RC_PING && type != RC_PONG) || data_len > RC_MAX_PING_DATA)
        return 0;
    if (!frame_begin(&cbb, out, cap, type, corr, data_len))
        return 0;
    ok = CBB_add_bytes(&cbb, data, data_len);
    return frame_end(&cbb, ok, data_len);
}
