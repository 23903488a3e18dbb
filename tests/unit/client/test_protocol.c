/* test_protocol.c: the publish protocol codec (src/client/protocol.c)
 * against docs/protocol/publish.md. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "ringcast/protocol.h"

#define MAX_FRAME (1u << 20)

/* A small byte builder for hand-made (often malformed) bodies. */
struct bytes {
    uint8_t b[16384];
    size_t n;
};

static void put_u8(struct bytes *t, uint8_t v)
{
    assert_true(t->n + 1 <= sizeof(t->b));
    t->b[t->n++] = v;
}

static void put_u16(struct bytes *t, uint16_t v)
{
    put_u8(t, (uint8_t)(v >> 8));
    put_u8(t, (uint8_t)v);
}

static void put_u32(struct bytes *t, uint32_t v)
{
    put_u16(t, (uint16_t)(v >> 16));
    put_u16(t, (uint16_t)v);
}

static void put_bytes(struct bytes *t, const void *p, size_t len)
{
    assert_true(t->n + len <= sizeof(t->b));
    if (len > 0)
        memcpy(t->b + t->n, p, len);
    t->n += len;
}

static void put_fill(struct bytes *t, uint8_t c, size_t len)
{
    assert_true(t->n + len <= sizeof(t->b));
    memset(t->b + t->n, c, len);
    t->n += len;
}

/* unhex parses hex digits, skipping spaces and newlines. */
static size_t unhex(uint8_t *out, size_t cap, const char *hex)
{
    size_t n = 0;
    int hi = -1;

    for (const char *s = hex; *s != '\0'; s++) {
        int v;
        if (*s >= '0' && *s <= '9')
            v = *s - '0';
        else if (*s >= 'a' && *s <= 'f')
            v = *s - 'a' + 10;
        else
            continue;
        if (hi < 0) {
            hi = v;
        } else {
            assert_true(n < cap);
            out[n++] = (uint8_t)(hi << 4 | v);
            hi = -1;
        }
    }
    assert_int_equal(hi, -1);
    return n;
}

/* decode_frame decodes one complete frame that must fill |len| exactly. */
static struct rc_frame decode_frame(const uint8_t *buf, size_t len, uint8_t type, uint32_t corr)
{
    struct rc_frame f;

    assert_int_equal(rc_frame_decode(&f, buf, len, MAX_FRAME), (long)len);
    assert_int_equal(f.type, type);
    assert_int_equal(f.flags, 0);
    assert_int_equal(f.corr, corr);
    assert_int_equal(f.body_len, len - RC_FRAME_HEADER_LEN);
    assert_ptr_equal(f.body, buf + RC_FRAME_HEADER_LEN);
    return f;
}

/* ---- the worked examples of docs/protocol/publish.md section 7 ---- */

static const char doc_hello[] = "00 00 00 18 01 00 00 00 00 01"
                                "52 43 50 31 00 01 00 06 73 33 63 72 65 74 03 70 75 62";
static const char doc_welcome[] = "00 00 00 16 02 00 00 00 00 01"
                                  "00 01 00 10 00 00 00 01 00 00 01 00 00 00 04 00";
static const char doc_publish[] = "00 00 00 3b 10 00 00 00 00 02"
                                  "00 07 6a 6f 62 73 3a 34 32"
                                  "08 6a 6f 62 2e 64 6f 6e 65"
                                  "10 61 70 70 6c 69 63 61 74 69 6f 6e 2f 6a 73 6f 6e"
                                  "02 61 31"
                                  "00 00 00 0b 7b 22 6f 6b 22 3a 74 72 75 65 7d";
static const char doc_ack[] = "00 00 00 0f 11 00 00 00 00 02 00 00 00 00 00 00 00 11 00";
static const char doc_nack[] = "00 00 00 18 12 00 00 00 00 03 00 06 00 0e"
                               "62 61 64 20 74 6f 70 69 63 3a 20 61 2e 2a";

static const struct rc_hello ex_hello = {
    .version = 1, .token = "s3cret", .token_len = 6, .client_name = "pub", .client_name_len = 3};
static const struct rc_welcome ex_welcome = {.version = 1,
                                             .max_frame = 1048576,
                                             .max_payload = 65536,
                                             .max_topic_len = 256,
                                             .max_inflight = 1024};
static const struct rc_publish ex_publish = {.topic = "jobs:42",
                                             .topic_len = 7,
                                             .event_type = "job.done",
                                             .event_type_len = 8,
                                             .content_type = "application/json",
                                             .content_type_len = 16,
                                             .msg_id = "a1",
                                             .msg_id_len = 2,
                                             .payload = (const uint8_t *)"{\"ok\":true}",
                                             .payload_len = 11};
static const struct rc_ack ex_ack = {.seq = 17, .flags = 0};
static const struct rc_error ex_nack = {
    .code = RC_ERR_BAD_TOPIC, .message = "bad topic: a.*", .message_len = 14};

static void assert_hello_eq(const struct rc_hello *a, const struct rc_hello *b)
{
    assert_int_equal(a->version, b->version);
    assert_int_equal(a->token_len, b->token_len);
    if (a->token_len > 0)
        assert_memory_equal(a->token, b->token, a->token_len);
    assert_int_equal(a->client_name_len, b->client_name_len);
    if (a->client_name_len > 0)
        assert_memory_equal(a->client_name, b->client_name, a->client_name_len);
}

static void assert_welcome_eq(const struct rc_welcome *a, const struct rc_welcome *b)
{
    assert_int_equal(a->version, b->version);
    assert_int_equal(a->max_frame, b->max_frame);
    assert_int_equal(a->max_payload, b->max_payload);
    assert_int_equal(a->max_topic_len, b->max_topic_len);
    assert_int_equal(a->max_inflight, b->max_inflight);
}

static void assert_field_eq(const void *a, size_t a_len, const void *b, size_t b_len)
{
    assert_int_equal(a_len, b_len);
    if (a_len > 0)
        assert_memory_equal(a, b, a_len);
}

static void assert_publish_eq(const struct rc_publish *a, const struct rc_publish *b)
{
    assert_field_eq(a->topic, a->topic_len, b->topic, b->topic_len);
    assert_field_eq(a->event_type, a->event_type_len, b->event_type, b->event_type_len);
    assert_field_eq(a->content_type, a->content_type_len, b->content_type, b->content_type_len);
    assert_field_eq(a->msg_id, a->msg_id_len, b->msg_id, b->msg_id_len);
    assert_field_eq(a->payload, a->payload_len, b->payload, b->payload_len);
}

static void assert_error_eq(const struct rc_error *a, const struct rc_error *b)
{
    assert_int_equal(a->code, b->code);
    assert_field_eq(a->message, a->message_len, b->message, b->message_len);
}

static void test_doc_hello(void **state)
{
    uint8_t want[64], got[64];
    size_t n = unhex(want, sizeof(want), doc_hello);
    struct rc_hello h;

    assert_int_equal(n, 28);
    assert_int_equal(rc_encode_hello(got, sizeof(got), 1, &ex_hello), n);
    assert_memory_equal(got, want, n);
    struct rc_frame f = decode_frame(want, n, RC_HELLO, 1);
    assert_int_equal(rc_hello_version(f.body, f.body_len), 1);
    assert_int_equal(rc_decode_hello(&h, f.body, f.body_len), 0);
    assert_hello_eq(&h, &ex_hello);
}

static void test_doc_welcome(void **state)
{
    uint8_t want[64], got[64];
    size_t n = unhex(want, sizeof(want), doc_welcome);
    struct rc_welcome w;

    assert_int_equal(n, 26);
    assert_int_equal(rc_encode_welcome(got, sizeof(got), 1, &ex_welcome), n);
    assert_memory_equal(got, want, n);
    struct rc_frame f = decode_frame(want, n, RC_WELCOME, 1);
    assert_int_equal(rc_decode_welcome(&w, f.body, f.body_len), 0);
    assert_welcome_eq(&w, &ex_welcome);
}

static void test_doc_publish(void **state)
{
    uint8_t want[128], got[128];
    size_t n = unhex(want, sizeof(want), doc_publish);
    struct rc_publish p;

    assert_int_equal(n, 63);
    assert_int_equal(rc_publish_frame_len(&ex_publish), n);
    assert_int_equal(rc_encode_publish(got, sizeof(got), 2, &ex_publish), n);
    assert_memory_equal(got, want, n);
    struct rc_frame f = decode_frame(want, n, RC_PUBLISH, 2);
    assert_int_equal(rc_decode_publish(&p, f.body, f.body_len), 0);
    assert_publish_eq(&p, &ex_publish);
}

static void test_doc_ack(void **state)
{
    uint8_t want[64], got[64];
    size_t n = unhex(want, sizeof(want), doc_ack);
    struct rc_ack a;

    assert_int_equal(n, 19);
    assert_int_equal(rc_encode_ack(got, sizeof(got), 2, &ex_ack), n);
    assert_memory_equal(got, want, n);
    struct rc_frame f = decode_frame(want, n, RC_ACK, 2);
    assert_int_equal(rc_decode_ack(&a, f.body, f.body_len), 0);
    assert_int_equal(a.seq, 17);
    assert_int_equal(a.flags, 0);
}

static void test_doc_nack(void **state)
{
    uint8_t want[64], got[64];
    size_t n = unhex(want, sizeof(want), doc_nack);
    struct rc_error e;

    assert_int_equal(n, 28);
    assert_int_equal(rc_encode_error(got, sizeof(got), RC_NACK, 3, &ex_nack), n);
    assert_memory_equal(got, want, n);
    struct rc_frame f = decode_frame(want, n, RC_NACK, 3);
    assert_int_equal(rc_decode_error(&e, f.body, f.body_len), 0);
    assert_error_eq(&e, &ex_nack);
    assert_string_equal(rc_error_name(e.code), "bad_topic");
}

/* ---- round trips ---- */

static void test_roundtrip_hello(void **state)
{
    static char token[RC_MAX_TOKEN_LEN];
    static uint8_t buf[RC_MAX_TOKEN_LEN + 512];
    char name[RC_MAX_SHORT_FIELD];
    struct rc_hello in, out;
    size_t n;

    memset(token, 't', sizeof(token));
    memset(name, 'n', sizeof(name));
    /* Limits exactly, empty fields, and another version (the codec does not
     * judge it). */
    const struct rc_hello cases[] = {
        {.version = 1,
         .token = token,
         .token_len = sizeof(token),
         .client_name = name,
         .client_name_len = sizeof(name)},
        {.version = 1, .token = "", .token_len = 0, .client_name = "", .client_name_len = 0},
        {.version = 0xbeef, .token = "x", .token_len = 1, .client_name = "y", .client_name_len = 1},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        in = cases[i];
        n = rc_encode_hello(buf, sizeof(buf), 0xfffffffe, &in);
        assert_int_equal(n, RC_FRAME_HEADER_LEN + 9 + in.token_len + in.client_name_len);
        struct rc_frame f = decode_frame(buf, n, RC_HELLO, 0xfffffffe);
        assert_int_equal(rc_hello_version(f.body, f.body_len), in.version);
        assert_int_equal(rc_decode_hello(&out, f.body, f.body_len), 0);
        assert_hello_eq(&out, &in);
    }
}

static void test_roundtrip_welcome(void **state)
{
    uint8_t buf[64];
    const struct rc_welcome in = {.version = 0xffff,
                                  .max_frame = 0xffffffff,
                                  .max_payload = 0x01020304,
                                  .max_topic_len = 0xfffe,
                                  .max_inflight = 1};
    struct rc_welcome out;
    size_t n = rc_encode_welcome(buf, sizeof(buf), 0, &in);

    assert_int_equal(n, 26);
    struct rc_frame f = decode_frame(buf, n, RC_WELCOME, 0);
    assert_int_equal(rc_decode_welcome(&out, f.body, f.body_len), 0);
    assert_welcome_eq(&out, &in);
}

static void test_roundtrip_publish(void **state)
{
    static char topic[UINT16_MAX];
    static uint8_t payload[100000];
    static uint8_t buf[UINT16_MAX + 100000 + 1024];
    char s[RC_MAX_SHORT_FIELD];
    struct rc_publish out;

    memset(topic, 'a', sizeof(topic));
    memset(s, 's', sizeof(s));
    for (size_t i = 0; i < sizeof(payload); i++)
        payload[i] = (uint8_t)(i * 7);
    const struct rc_publish cases[] = {
        /* every field at its limit, and a large binary payload */
        {.topic = topic,
         .topic_len = sizeof(topic),
         .event_type = s,
         .event_type_len = sizeof(s),
         .content_type = s,
         .content_type_len = sizeof(s),
         .msg_id = s,
         .msg_id_len = sizeof(s),
         .payload = payload,
         .payload_len = sizeof(payload)},
        /* the smallest PUBLISH: one-byte topic, everything else empty */
        {.topic = "t",
         .topic_len = 1,
         .event_type = NULL,
         .event_type_len = 0,
         .content_type = NULL,
         .content_type_len = 0,
         .msg_id = NULL,
         .msg_id_len = 0,
         .payload = NULL,
         .payload_len = 0},
        {.topic = "a.b",
         .topic_len = 3,
         .event_type = "e",
         .event_type_len = 1,
         .content_type = "text/plain",
         .content_type_len = 10,
         .msg_id = "",
         .msg_id_len = 0,
         .payload = (const uint8_t *)"hi\0there",
         .payload_len = 8},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const struct rc_publish *in = &cases[i];
        size_t want = RC_FRAME_HEADER_LEN + 9 + in->topic_len + in->event_type_len +
                      in->content_type_len + in->msg_id_len + in->payload_len;
        assert_int_equal(rc_publish_frame_len(in), want);
        size_t n = rc_encode_publish(buf, sizeof(buf), (uint32_t)i + 7, in);
        assert_int_equal(n, want);
        struct rc_frame f = decode_frame(buf, n, RC_PUBLISH, (uint32_t)i + 7);
        assert_int_equal(rc_decode_publish(&out, f.body, f.body_len), 0);
        assert_publish_eq(&out, in);
    }
}

static void test_roundtrip_ack(void **state)
{
    uint8_t buf[32];
    const struct rc_ack cases[] = {{0, 0}, {1, RC_ACK_DUPLICATE}, {UINT64_MAX, 0xff}};
    struct rc_ack out;

    for (size_t i = 0; i < 3; i++) {
        size_t n = rc_encode_ack(buf, sizeof(buf), 42, &cases[i]);
        assert_int_equal(n, 19);
        struct rc_frame f = decode_frame(buf, n, RC_ACK, 42);
        assert_int_equal(rc_decode_ack(&out, f.body, f.body_len), 0);
        assert_int_equal(out.seq, cases[i].seq);
        assert_int_equal(out.flags, cases[i].flags);
    }
}

static void test_roundtrip_error(void **state)
{
    char msg[RC_MAX_ERROR_MESSAGE];
    uint8_t buf[RC_MAX_ERROR_MESSAGE + 64];
    const uint8_t types[] = {RC_NACK, RC_GOAWAY};
    struct rc_error out;

    memset(msg, 'm', sizeof(msg));
    const struct rc_error cases[] = {
        {.code = RC_ERR_SHUTTING_DOWN, .message = msg, .message_len = sizeof(msg)},
        {.code = RC_ERR_TOO_LARGE, .message = NULL, .message_len = 0},
        {.code = 0xffff, .message = "x", .message_len = 1},
    };
    for (size_t t = 0; t < 2; t++) {
        for (size_t i = 0; i < 3; i++) {
            size_t n = rc_encode_error(buf, sizeof(buf), types[t], 9, &cases[i]);
            assert_int_equal(n, RC_FRAME_HEADER_LEN + 4 + cases[i].message_len);
            struct rc_frame f = decode_frame(buf, n, types[t], 9);
            assert_int_equal(rc_decode_error(&out, f.body, f.body_len), 0);
            assert_error_eq(&out, &cases[i]);
        }
    }
}

static void test_roundtrip_ping(void **state)
{
    uint8_t data[RC_MAX_PING_DATA], buf[128];
    const uint8_t *got;
    size_t got_len;

    for (size_t i = 0; i < sizeof(data); i++)
        data[i] = (uint8_t)(255 - i);
    for (size_t len = 0; len <= RC_MAX_PING_DATA; len++) {
        uint8_t type = len % 2 ? RC_PONG : RC_PING;
        size_t n = rc_encode_ping(buf, sizeof(buf), type, (uint32_t)len, data, len);
        assert_int_equal(n, RC_FRAME_HEADER_LEN + len);
        struct rc_frame f = decode_frame(buf, n, type, (uint32_t)len);
        assert_int_equal(rc_decode_ping(&got, &got_len, f.body, f.body_len), 0);
        assert_field_eq(got, got_len, data, len);
    }
}

/* ---- decoder rejections ---- */

typedef int (*decode_fn)(const uint8_t *body, size_t len);

static int dec_hello(const uint8_t *b, size_t n)
{
    struct rc_hello x;
    return rc_decode_hello(&x, b, n);
}
static int dec_welcome(const uint8_t *b, size_t n)
{
    struct rc_welcome x;
    return rc_decode_welcome(&x, b, n);
}
static int dec_publish(const uint8_t *b, size_t n)
{
    struct rc_publish x;
    return rc_decode_publish(&x, b, n);
}
static int dec_ack(const uint8_t *b, size_t n)
{
    struct rc_ack x;
    return rc_decode_ack(&x, b, n);
}
static int dec_error(const uint8_t *b, size_t n)
{
    struct rc_error x;
    return rc_decode_error(&x, b, n);
}

/* check_body: |body| decodes; every proper prefix and the body plus one
 * trailing byte do not. The copies are heap blocks of the exact size, so
 * ASan catches a decoder reading past |len|. */
static void check_body(decode_fn fn, const uint8_t *body, size_t len)
{
    uint8_t *copy = malloc(len + 1);

    assert_non_null(copy);
    memcpy(copy, body, len);
    assert_int_equal(fn(copy, len), 0);
    for (size_t k = 0; k < len; k++) {
        uint8_t *prefix = malloc(k ? k : 1);
        assert_non_null(prefix);
        memcpy(prefix, body, k);
        if (fn(prefix, k) != -1)
            fail_msg("decoder accepted a body truncated to %zu of %zu bytes", k, len);
        free(prefix);
    }
    copy[len] = 0;
    assert_int_equal(fn(copy, len + 1), -1);
    free(copy);
}

static void test_truncation_and_trailing(void **state)
{
    uint8_t frame[128];
    size_t n;
    struct rc_frame f;

    n = unhex(frame, sizeof(frame), doc_hello);
    assert_int_equal(rc_frame_decode(&f, frame, n, MAX_FRAME), (long)n);
    check_body(dec_hello, f.body, f.body_len);
    n = unhex(frame, sizeof(frame), doc_welcome);
    assert_int_equal(rc_frame_decode(&f, frame, n, MAX_FRAME), (long)n);
    check_body(dec_welcome, f.body, f.body_len);
    n = unhex(frame, sizeof(frame), doc_publish);
    assert_int_equal(rc_frame_decode(&f, frame, n, MAX_FRAME), (long)n);
    check_body(dec_publish, f.body, f.body_len);
    n = unhex(frame, sizeof(frame), doc_ack);
    assert_int_equal(rc_frame_decode(&f, frame, n, MAX_FRAME), (long)n);
    check_body(dec_ack, f.body, f.body_len);
    n = unhex(frame, sizeof(frame), doc_nack);
    assert_int_equal(rc_frame_decode(&f, frame, n, MAX_FRAME), (long)n);
    check_body(dec_error, f.body, f.body_len);

    /* Empty strings everywhere: the length fields are the only content. */
    struct bytes t = {.n = 0};
    put_u32(&t, RC_PROTO_MAGIC);
    put_u16(&t, 1);
    put_u16(&t, 0);
    put_u8(&t, 0);
    check_body(dec_hello, t.b, t.n);
    t.n = 0;
    put_u16(&t, 1);
    put_u8(&t, 'x');
    put_fill(&t, 0, 3 + 4);
    check_body(dec_publish, t.b, t.n);
    t.n = 0;
    put_u16(&t, RC_ERR_INTERNAL);
    put_u16(&t, 0);
    check_body(dec_error, t.b, t.n);
}

static void test_decode_hello_rejects(void **state)
{
    struct bytes t = {.n = 0};
    struct rc_hello h;

    /* token at the limit is fine, one more byte is not */
    put_u32(&t, RC_PROTO_MAGIC);
    put_u16(&t, 1);
    put_u16(&t, RC_MAX_TOKEN_LEN);
    put_fill(&t, 'k', RC_MAX_TOKEN_LEN);
    put_u8(&t, 0);
    assert_int_equal(rc_decode_hello(&h, t.b, t.n), 0);
    assert_int_equal(h.token_len, RC_MAX_TOKEN_LEN);
    t.n = 0;
    put_u32(&t, RC_PROTO_MAGIC);
    put_u16(&t, 1);
    put_u16(&t, RC_MAX_TOKEN_LEN + 1);
    put_fill(&t, 'k', RC_MAX_TOKEN_LEN + 1);
    put_u8(&t, 0);
    assert_int_equal(rc_decode_hello(&h, t.b, t.n), -1);
    assert_int_equal(rc_hello_version(t.b, t.n), 1);

    /* wrong magic: the decoder refuses, rc_hello_version says -1 */
    t.n = 0;
    put_u32(&t, 0x52435032); /* "RCP2" */
    put_u16(&t, 1);
    put_u16(&t, 0);
    put_u8(&t, 0);
    assert_int_equal(rc_decode_hello(&h, t.b, t.n), -1);
    assert_int_equal(rc_hello_version(t.b, t.n), -1);

    /* rc_hello_version needs magic and version only; the rest may be
     * anything (a later version's layout) */
    t.n = 0;
    put_u32(&t, RC_PROTO_MAGIC);
    put_u16(&t, 2);
    put_fill(&t, 0xff, 5);
    assert_int_equal(rc_hello_version(t.b, t.n), 2);
    assert_int_equal(rc_decode_hello(&h, t.b, t.n), -1);
    assert_int_equal(rc_hello_version(t.b, 6), 2);
    assert_int_equal(rc_hello_version(t.b, 5), -1);
    assert_int_equal(rc_hello_version(t.b, 0), -1);
    assert_int_equal(rc_hello_version(NULL, 0), -1);

    /* name length beyond the body */
    t.n = 0;
    put_u32(&t, RC_PROTO_MAGIC);
    put_u16(&t, 1);
    put_u16(&t, 0);
    put_u8(&t, 255);
    put_fill(&t, 'n', 254);
    assert_int_equal(rc_decode_hello(&h, t.b, t.n), -1);
    put_u8(&t, 'n');
    assert_int_equal(rc_decode_hello(&h, t.b, t.n), 0);
    assert_int_equal(h.client_name_len, 255);
}

static void test_decode_publish_rejects(void **state)
{
    struct bytes t = {.n = 0};
    struct rc_publish p;

    /* topic_len 0 */
    put_u16(&t, 0);
    put_fill(&t, 0, 3 + 4);
    assert_int_equal(rc_decode_publish(&p, t.b, t.n), -1);

    /* payload_len beyond the body, and far beyond (no overflow) */
    t.n = 0;
    put_u16(&t, 1);
    put_u8(&t, 't');
    put_fill(&t, 0, 3);
    put_u32(&t, 3);
    put_bytes(&t, "ab", 2);
    assert_int_equal(rc_decode_publish(&p, t.b, t.n), -1);
    put_u8(&t, 'c');
    assert_int_equal(rc_decode_publish(&p, t.b, t.n), 0);
    assert_int_equal(p.payload_len, 3);
    t.n = 0;
    put_u16(&t, 1);
    put_u8(&t, 't');
    put_fill(&t, 0, 3);
    put_u32(&t, UINT32_MAX);
    put_bytes(&t, "ab", 2);
    assert_int_equal(rc_decode_publish(&p, t.b, t.n), -1);

    /* topic_len beyond the body */
    t.n = 0;
    put_u16(&t, UINT16_MAX);
    put_fill(&t, 'x', 100);
    assert_int_equal(rc_decode_publish(&p, t.b, t.n), -1);

    /* short-field lengths of 255 are representable and accepted */
    t.n = 0;
    put_u16(&t, 1);
    put_u8(&t, 't');
    for (int i = 0; i < 3; i++) {
        put_u8(&t, 255);
        put_fill(&t, 'f', 255);
    }
    put_u32(&t, 0);
    assert_int_equal(rc_decode_publish(&p, t.b, t.n), 0);
    assert_int_equal(p.event_type_len, 255);
    assert_int_equal(p.content_type_len, 255);
    assert_int_equal(p.msg_id_len, 255);
    assert_int_equal(p.payload_len, 0);
}

static void test_decode_error_rejects(void **state)
{
    struct bytes t = {.n = 0};
    struct rc_error e;

    put_u16(&t, RC_ERR_OVERLOADED);
    put_u16(&t, RC_MAX_ERROR_MESSAGE);
    put_fill(&t, 'm', RC_MAX_ERROR_MESSAGE);
    assert_int_equal(rc_decode_error(&e, t.b, t.n), 0);
    assert_int_equal(e.message_len, RC_MAX_ERROR_MESSAGE);
    t.n = 0;
    put_u16(&t, RC_ERR_OVERLOADED);
    put_u16(&t, RC_MAX_ERROR_MESSAGE + 1);
    put_fill(&t, 'm', RC_MAX_ERROR_MESSAGE + 1);
    assert_int_equal(rc_decode_error(&e, t.b, t.n), -1);
}

static void test_decode_ping_rejects(void **state)
{
    uint8_t data[RC_MAX_PING_DATA + 1];
    const uint8_t *got = NULL;
    size_t got_len = 99;

    memset(data, 0xab, sizeof(data));
    assert_int_equal(rc_decode_ping(&got, &got_len, data, RC_MAX_PING_DATA), 0);
    assert_ptr_equal(got, data);
    assert_int_equal(got_len, RC_MAX_PING_DATA);
    assert_int_equal(rc_decode_ping(&got, &got_len, data, 0), 0);
    assert_int_equal(got_len, 0);
    assert_int_equal(rc_decode_ping(&got, &got_len, data, RC_MAX_PING_DATA + 1), -1);
}

static void test_decode_fixed_sizes(void **state)
{
    uint8_t zeros[32] = {0};
    struct rc_welcome w;
    struct rc_ack a;

    for (size_t n = 0; n < sizeof(zeros); n++) {
        assert_int_equal(rc_decode_welcome(&w, zeros, n), n == 16 ? 0 : -1);
        assert_int_equal(rc_decode_ack(&a, zeros, n), n == 9 ? 0 : -1);
    }
}

/* ---- rc_frame_decode ---- */

static void test_frame_need_more(void **state)
{
    uint8_t frame[128];
    size_t n = unhex(frame, sizeof(frame), doc_publish);
    struct rc_frame f;

    for (size_t k = 0; k < n; k++) {
        /* an exact-size heap copy, so reading past |k| is an ASan error */
        uint8_t *prefix = malloc(k ? k : 1);
        assert_non_null(prefix);
        memcpy(prefix, frame, k);
        memset(&f, 0x5a, sizeof(f));
        if (rc_frame_decode(&f, prefix, k, MAX_FRAME) != 0)
            fail_msg("a %zu-byte prefix of a %zu-byte frame is not need-more", k, n);
        assert_int_equal(f.type, 0x5a); /* untouched */
        free(prefix);
    }
    /* whole, and followed by the start of the next frame */
    assert_int_equal(rc_frame_decode(&f, frame, n, MAX_FRAME), (long)n);
    memcpy(frame + n, frame, 5);
    assert_int_equal(rc_frame_decode(&f, frame, n + 5, MAX_FRAME), (long)n);
    assert_int_equal(f.body_len, n - RC_FRAME_HEADER_LEN);
    assert_int_equal(rc_frame_decode(&f, NULL, 0, MAX_FRAME), 0);
}

static void test_frame_bounds(void **state)
{
    static uint8_t buf[4 + 4096 + 1];
    const size_t max_frame = 4096;
    struct rc_frame f;
    struct bytes t = {.n = 0};

    /* length 5: refused as soon as the length field is there */
    put_u32(&t, 5);
    assert_int_equal(rc_frame_decode(&f, t.b, 4, max_frame), -1);
    put_fill(&t, 0, 5);
    assert_int_equal(rc_frame_decode(&f, t.b, t.n, max_frame), -1);
    t.n = 0;
    put_u32(&t, 0);
    assert_int_equal(rc_frame_decode(&f, t.b, 4, max_frame), -1);

    /* length 6: a frame with an empty body */
    t.n = 0;
    put_u32(&t, 6);
    put_u8(&t, RC_PING);
    put_u8(&t, 0x80); /* flags are returned, not judged */
    put_u32(&t, 0x01020304);
    for (size_t k = 0; k < 10; k++)
        assert_int_equal(rc_frame_decode(&f, t.b, k, max_frame), 0);
    assert_int_equal(rc_frame_decode(&f, t.b, 10, max_frame), 10);
    assert_int_equal(f.type, RC_PING);
    assert_int_equal(f.flags, 0x80);
    assert_int_equal(f.corr, 0x01020304);
    assert_int_equal(f.body_len, 0);

    /* length = max_frame: accepted, needs all of its bytes */
    memset(buf, 0, sizeof(buf));
    buf[2] = 0x10; /* length 4096 */
    assert_int_equal(rc_frame_decode(&f, buf, 4, max_frame), 0);
    assert_int_equal(rc_frame_decode(&f, buf, 4 + 4095, max_frame), 0);
    assert_int_equal(rc_frame_decode(&f, buf, 4 + 4096, max_frame), 4 + 4096);
    assert_int_equal(f.body_len, 4096 - 6);
    assert_int_equal(rc_frame_decode(&f, buf, sizeof(buf), max_frame), 4 + 4096);

    /* max_frame + 1: refused from the length field alone */
    buf[3] = 0x01; /* length 4097 */
    assert_int_equal(rc_frame_decode(&f, buf, 4, max_frame), -1);
    assert_int_equal(rc_frame_decode(&f, buf, sizeof(buf), max_frame), -1);
    assert_int_equal(rc_frame_decode(&f, buf, sizeof(buf), max_frame + 1), 4 + 4097);
    assert_int_equal(rc_frame_decode(&f, buf, sizeof(buf) - 1, max_frame + 1), 0);

    /* the largest length field there is */
    t.n = 0;
    put_u32(&t, UINT32_MAX);
    assert_int_equal(rc_frame_decode(&f, t.b, 4, max_frame), -1);
    assert_int_equal(rc_frame_decode(&f, t.b, 4, UINT32_MAX), 0);
    assert_int_equal(rc_frame_decode(&f, t.b, 4, SIZE_MAX), 0);
}

/* ---- encoders ---- */

/* check_cap: the encoder succeeds with exactly |n| bytes and fails with one
 * fewer (and with none). */
#define CHECK_CAP(call_with_cap, n)                                                                \
    do {                                                                                           \
        size_t cap_;                                                                               \
        cap_ = (n);                                                                                \
        assert_int_equal((call_with_cap), (n));                                                    \
        cap_ = (n)-1;                                                                              \
        assert_int_equal((call_with_cap), 0);                                                      \
        cap_ = 0;                                                                                  \
        assert_int_equal((call_with_cap), 0);                                                      \
        (void)cap_;                                                                                \
    } while (0)

static void test_encode_cap(void **state)
{
    uint8_t buf[256];
    const uint8_t ping[3] = {1, 2, 3};

    CHECK_CAP(rc_encode_hello(buf, cap_, 1, &ex_hello), 28);
    CHECK_CAP(rc_encode_welcome(buf, cap_, 1, &ex_welcome), 26);
    CHECK_CAP(rc_encode_publish(buf, cap_, 2, &ex_publish), 63);
    CHECK_CAP(rc_encode_ack(buf, cap_, 2, &ex_ack), 19);
    CHECK_CAP(rc_encode_error(buf, cap_, RC_NACK, 3, &ex_nack), 28);
    CHECK_CAP(rc_encode_error(buf, cap_, RC_GOAWAY, 0, &ex_nack), 28);
    CHECK_CAP(rc_encode_ping(buf, cap_, RC_PING, 5, ping, 3), 13);
    CHECK_CAP(rc_encode_ping(buf, cap_, RC_PONG, 5, NULL, 0), 10);
}

static void test_encode_limits(void **state)
{
    static uint8_t buf[UINT16_MAX + 16384];
    static char big[UINT16_MAX + 1];
    struct rc_hello h = ex_hello;
    struct rc_publish p;
    struct rc_error e = ex_nack;
    uint8_t ping[RC_MAX_PING_DATA + 1] = {0};

    memset(big, 'b', sizeof(big));

    h.token = big;
    h.token_len = RC_MAX_TOKEN_LEN;
    assert_int_not_equal(rc_encode_hello(buf, sizeof(buf), 1, &h), 0);
    h.token_len = RC_MAX_TOKEN_LEN + 1;
    assert_int_equal(rc_encode_hello(buf, sizeof(buf), 1, &h), 0);
    h = ex_hello;
    h.client_name = big;
    h.client_name_len = 256;
    assert_int_equal(rc_encode_hello(buf, sizeof(buf), 1, &h), 0);

    p = ex_publish;
    p.topic = big;
    p.topic_len = UINT16_MAX;
    assert_int_not_equal(rc_encode_publish(buf, sizeof(buf), 1, &p), 0);
    p.topic_len = UINT16_MAX + 1;
    assert_int_equal(rc_publish_frame_len(&p), 0);
    assert_int_equal(rc_encode_publish(buf, sizeof(buf), 1, &p), 0);
    p.topic_len = 0;
    assert_int_equal(rc_publish_frame_len(&p), 0);
    assert_int_equal(rc_encode_publish(buf, sizeof(buf), 1, &p), 0);
    p = ex_publish;
    p.event_type = big;
    p.event_type_len = 256;
    assert_int_equal(rc_publish_frame_len(&p), 0);
    assert_int_equal(rc_encode_publish(buf, sizeof(buf), 1, &p), 0);
    p = ex_publish;
    p.content_type = big;
    p.content_type_len = 256;
    assert_int_equal(rc_encode_publish(buf, sizeof(buf), 1, &p), 0);
    p = ex_publish;
    p.msg_id = big;
    p.msg_id_len = 256;
    assert_int_equal(rc_encode_publish(buf, sizeof(buf), 1, &p), 0);

    /* The payload may grow until the length field is UINT32_MAX. The sizes
     * are checked before any byte is read, so no real payload is needed. */
    p = ex_publish;
    size_t overhead = 6 + 9 + 7 + 8 + 16 + 2;
    p.payload_len = UINT32_MAX - overhead;
    assert_int_equal(rc_publish_frame_len(&p), (size_t)UINT32_MAX + 4);
    assert_int_equal(rc_encode_publish(buf, sizeof(buf), 1, &p), 0); /* cap too small */
    p.payload_len = UINT32_MAX - overhead + 1;
    assert_int_equal(rc_publish_frame_len(&p), 0);
    p.payload_len = SIZE_MAX;
    assert_int_equal(rc_publish_frame_len(&p), 0);
    assert_int_equal(rc_encode_publish(buf, SIZE_MAX, 1, &p), 0);

    e.message = big;
    e.message_len = RC_MAX_ERROR_MESSAGE;
    assert_int_not_equal(rc_encode_error(buf, sizeof(buf), RC_NACK, 1, &e), 0);
    e.message_len = RC_MAX_ERROR_MESSAGE + 1;
    assert_int_equal(rc_encode_error(buf, sizeof(buf), RC_NACK, 1, &e), 0);
    e = ex_nack;
    assert_int_equal(rc_encode_error(buf, sizeof(buf), RC_ACK, 1, &e), 0);
    assert_int_equal(rc_encode_error(buf, sizeof(buf), RC_PING, 1, &e), 0);

    assert_int_equal(rc_encode_ping(buf, sizeof(buf), RC_PING, 1, ping, RC_MAX_PING_DATA),
                     RC_FRAME_HEADER_LEN + RC_MAX_PING_DATA);
    assert_int_equal(rc_encode_ping(buf, sizeof(buf), RC_PING, 1, ping, RC_MAX_PING_DATA + 1), 0);
    assert_int_equal(rc_encode_ping(buf, sizeof(buf), RC_NACK, 1, ping, 1), 0);
}

/* ---- error codes ---- */

static void test_error_names(void **state)
{
    static const char *const names[] = {
        NULL,          "bad_frame", "unsupported_version", "unauthorized", "forbidden",
        "too_large",   "bad_topic", "bad_payload",         "overloaded",   "shutting_down",
        "bad_request", "internal",  "not_ready",           "rate_limited",
    };
    for (uint16_t c = 1; c <= 13; c++)
        assert_string_equal(rc_error_name(c), names[c]);
    assert_string_equal(rc_error_name(0), "unknown");
    assert_string_equal(rc_error_name(14), "unknown");
    assert_string_equal(rc_error_name(0xffff), "unknown");

    for (uint16_t c = 0; c < 20; c++) {
        int fatal = c == RC_ERR_BAD_FRAME || c == RC_ERR_UNSUPPORTED_VERSION ||
                    c == RC_ERR_UNAUTHORIZED || c == RC_ERR_NOT_READY;
        assert_int_equal(rc_error_is_fatal(c), fatal);
    }
    assert_int_equal(rc_error_is_fatal(0xffff), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_doc_hello),
        cmocka_unit_test(test_doc_welcome),
        cmocka_unit_test(test_doc_publish),
        cmocka_unit_test(test_doc_ack),
        cmocka_unit_test(test_doc_nack),
        cmocka_unit_test(test_roundtrip_hello),
        cmocka_unit_test(test_roundtrip_welcome),
        cmocka_unit_test(test_roundtrip_publish),
        cmocka_unit_test(test_roundtrip_ack),
        cmocka_unit_test(test_roundtrip_error),
        cmocka_unit_test(test_roundtrip_ping),
        cmocka_unit_test(test_truncation_and_trailing),
        cmocka_unit_test(test_decode_hello_rejects),
        cmocka_unit_test(test_decode_publish_rejects),
        cmocka_unit_test(test_decode_error_rejects),
        cmocka_unit_test(test_decode_ping_rejects),
        cmocka_unit_test(test_decode_fixed_sizes),
        cmocka_unit_test(test_frame_need_more),
        cmocka_unit_test(test_frame_bounds),
        cmocka_unit_test(test_encode_cap),
        cmocka_unit_test(test_encode_limits),
        cmocka_unit_test(test_error_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
