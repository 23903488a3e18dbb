/* fuzz_publish.c: libFuzzer target for the publish protocol codec.
 *
 * The input is a byte stream as a server or client would read it: it is
 * split into frames with rc_frame_decode and each body goes to the decoder of
 * its frame type. Whatever decodes must survive a round trip: the encoding is
 * canonical (there is one way to write a frame), so encode(decode(frame))
 * must be the original bytes (but for the flags byte, which encoders always
 * write as 0), must not fit in one byte
 * less, and must decode to the same fields again.
 *
 * Seeds: tests/fuzz/corpus/publish/ (tests/fuzz/gen_publish_corpus.py).
 * Dictionary: tests/fuzz/publish.dict. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ringcast/protocol.h"

#define FUZZ_MAX_FRAME (1u << 20)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond))                                                                               \
            __builtin_trap();                                                                      \
    } while (0)

static int same(const void *a, size_t a_len, const void *b, size_t b_len)
{
    return a_len == b_len && (a_len == 0 || memcmp(a, b, a_len) == 0);
}

/* check_encoding: |enc| (|enc_len| bytes, from an encoder given exactly
 * |frame_len| bytes of room) must reproduce the original frame, and must
 * parse back as one frame of the same type and corr. Returns that frame. */
static struct rc_frame check_encoding(const uint8_t *enc, size_t enc_len, const uint8_t *frame,
                                      size_t frame_len, const struct rc_frame *orig)
{
    struct rc_frame f;

    /* byte 5 is the flags byte: encoders always write 0 */
    CHECK(enc_len == frame_len);
    CHECK(memcmp(enc, frame, 5) == 0 && enc[5] == 0);
    CHECK(memcmp(enc + 6, frame + 6, frame_len - 6) == 0);
    CHECK(rc_frame_decode(&f, enc, enc_len, FUZZ_MAX_FRAME) == (long)enc_len);
    CHECK(f.type == orig->type && f.corr == orig->corr && f.flags == 0);
    CHECK(f.body_len == orig->body_len);
    return f;
}

static void fuzz_hello(const struct rc_frame *fr, const uint8_t *frame, size_t frame_len,
                       uint8_t *buf)
{
    struct rc_hello a, b;
    int version = rc_hello_version(fr->body, fr->body_len);

    if (rc_decode_hello(&a, fr->body, fr->body_len) != 0)
        return;
    CHECK(version == a.version);
    CHECK(rc_encode_hello(buf, frame_len - 1, fr->corr, &a) == 0);
    size_t n = rc_encode_hello(buf, frame_len, fr->corr, &a);
    struct rc_frame f = check_encoding(buf, n, frame, frame_len, fr);
    CHECK(rc_decode_hello(&b, f.body, f.body_len) == 0);
    CHECK(a.version == b.version);
    CHECK(same(a.token, a.token_len, b.token, b.token_len));
    CHECK(same(a.client_name, a.client_name_len, b.client_name, b.client_name_len));
}

static void fuzz_welcome(const struct rc_frame *fr, const uint8_t *frame, size_t frame_len,
                         uint8_t *buf)
{
    struct rc_welcome a, b;

    if (rc_decode_welcome(&a, fr->body, fr->body_len) != 0)
        return;
    CHECK(rc_encode_welcome(buf, frame_len - 1, fr->corr, &a) == 0);
    size_t n = rc_encode_welcome(buf, frame_len, fr->corr, &a);
    struct rc_frame f = check_encoding(buf, n, frame, frame_len, fr);
    CHECK(rc_decode_welcome(&b, f.body, f.body_len) == 0);
    CHECK(a.version == b.version && a.max_frame == b.max_frame && a.max_payload == b.max_payload &&
          a.max_topic_len == b.max_topic_len && a.max_inflight == b.max_inflight);
}

static void fuzz_publish(const struct rc_frame *fr, const uint8_t *frame, size_t frame_len,
                         uint8_t *buf)
{
    struct rc_publish a, b;

    if (rc_decode_publish(&a, fr->body, fr->body_len) != 0)
        return;
    CHECK(a.topic_len >= 1);
    CHECK(rc_publish_frame_len(&a) == frame_len);
    CHECK(rc_encode_publish(buf, frame_len - 1, fr->corr, &a) == 0);
    size_t n = rc_encode_publish(buf, frame_len, fr->corr, &a);
    struct rc_frame f = check_encoding(buf, n, frame, frame_len, fr);
    CHECK(rc_decode_publish(&b, f.body, f.body_len) == 0);
    CHECK(same(a.topic, a.topic_len, b.topic, b.topic_len));
    CHECK(same(a.event_type, a.event_type_len, b.event_type, b.event_type_len));
    CHECK(same(a.content_type, a.content_type_len, b.content_type, b.content_type_len));
    CHECK(same(a.msg_id, a.msg_id_len, b.msg_id, b.msg_id_len));
    CHECK(same(a.payload, a.payload_len, b.payload, b.payload_len));
}

static void fuzz_ack(const struct rc_frame *fr, const uint8_t *frame, size_t frame_len,
                     uint8_t *buf)
{
    struct rc_ack a, b;

    if (rc_decode_ack(&a, fr->body, fr->body_len) != 0)
        return;
    CHECK(rc_encode_ack(buf, frame_len - 1, fr->corr, &a) == 0);
    size_t n = rc_encode_ack(buf, frame_len, fr->corr, &a);
    struct rc_frame f = check_encoding(buf, n, frame, frame_len, fr);
    CHECK(rc_decode_ack(&b, f.body, f.body_len) == 0);
    CHECK(a.seq == b.seq && a.flags == b.flags);
}

static void fuzz_error(const struct rc_frame *fr, const uint8_t *frame, size_t frame_len,
                       uint8_t *buf)
{
    struct rc_error a, b;

    if (rc_decode_error(&a, fr->body, fr->body_len) != 0)
        return;
    CHECK(a.message_len <= RC_MAX_ERROR_MESSAGE);
    CHECK(rc_error_name(a.code) != NULL);
    (void)rc_error_is_fatal(a.code);
    CHECK(rc_encode_error(buf, frame_len - 1, fr->type, fr->corr, &a) == 0);
    size_t n = rc_encode_error(buf, frame_len, fr->type, fr->corr, &a);
    struct rc_frame f = check_encoding(buf, n, frame, frame_len, fr);
    CHECK(rc_decode_error(&b, f.body, f.body_len) == 0);
    CHECK(a.code == b.code && same(a.message, a.message_len, b.message, b.message_len));
}

static void fuzz_ping(const struct rc_frame *fr, const uint8_t *frame, size_t frame_len,
                      uint8_t *buf)
{
    const uint8_t *a, *b;
    size_t a_len, b_len;

    if (rc_decode_ping(&a, &a_len, fr->body, fr->body_len) != 0)
        return;
    CHECK(rc_encode_ping(buf, frame_len - 1, fr->type, fr->corr, a, a_len) == 0);
    size_t n = rc_encode_ping(buf, frame_len, fr->type, fr->corr, a, a_len);
    struct rc_frame f = check_encoding(buf, n, frame, frame_len, fr);
    CHECK(rc_decode_ping(&b, &b_len, f.body, f.body_len) == 0);
    CHECK(same(a, a_len, b, b_len));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    size_t off = 0;

    while (off < size) {
        struct rc_frame fr;
        long n = rc_frame_decode(&fr, data + off, size - off, FUZZ_MAX_FRAME);
        if (n <= 0)
            break;
        CHECK((size_t)n <= size - off && (size_t)n >= RC_FRAME_HEADER_LEN);
        CHECK(fr.body == data + off + RC_FRAME_HEADER_LEN);
        CHECK(fr.body_len == (size_t)n - RC_FRAME_HEADER_LEN);

        /* Each frame gets its own exact-size copy, so that a decoder reading
         * past the body, or an encoder writing past its cap, is caught by
         * ASan rather than hidden by the next frame's bytes. */
        uint8_t *frame = malloc((size_t)n);
        uint8_t *buf = malloc((size_t)n);
        CHECK(frame != NULL && buf != NULL);
        memcpy(frame, data + off, (size_t)n);
        CHECK(rc_frame_decode(&fr, frame, (size_t)n, FUZZ_MAX_FRAME) == n);

        switch (fr.type) {
        case RC_HELLO:
            fuzz_hello(&fr, frame, (size_t)n, buf);
            break;
        case RC_WELCOME:
            fuzz_welcome(&fr, frame, (size_t)n, buf);
            break;
        case RC_PUBLISH:
            fuzz_publish(&fr, frame, (size_t)n, buf);
            break;
        case RC_ACK:
            fuzz_ack(&fr, frame, (size_t)n, buf);
            break;
        case RC_NACK:
        case RC_GOAWAY:
            fuzz_error(&fr, frame, (size_t)n, buf);
            break;
        case RC_PING:
        case RC_PONG:
            fuzz_ping(&fr, frame, (size_t)n, buf);
            break;
        default:
            break;
        }
        free(frame);
        free(buf);
        off += (size_t)n;
    }
    return 0;
}
