/* test_wsread.c: the WebSocket message reader (src/proto/wsread.c). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "proto/wsread.h"

#define FIN 0x80
#define TEXT WS_OP_TEXT
#define BINARY WS_OP_BINARY
#define CONT WS_OP_CONTINUATION
#define CLOSE WS_OP_CLOSE
#define PING WS_OP_PING
#define PONG WS_OP_PONG

static const struct ws_limits default_limits = {.max_frame = 1 << 20, .max_message = 1 << 20};

/* ---- building client frames ------------------------------------------------ */

/* The bytes a client sends, built frame by frame. */
struct wire {
    uint8_t *p;
    size_t len;
    size_t cap;
    uint32_t mask_seed; /* each frame gets a different mask */
};

static void wire_put(struct wire *w, const void *src, size_t n)
{
    if (w->len + n > w->cap) {
        w->cap = (w->len + n) * 2 + 64;
        w->p = realloc(w->p, w->cap);
        assert_non_null(w->p);
    }
    if (n)
        memcpy(w->p + w->len, src, n);
    w->len += n;
}

static void wire_free(struct wire *w)
{
    free(w->p);
    memset(w, 0, sizeof(*w));
}

/* put_header writes a frame header. |len_form| forces the length encoding
 * (2, 4 or 10 bytes before the mask); 0 picks the shortest. */
static void put_header(struct wire *w, uint8_t b0, bool masked, uint64_t len, int len_form,
                       uint8_t mask[4])
{
    uint8_t h[WS_MAX_CLIENT_HEADER];
    size_t n = 0;
    int form = len_form ? len_form : (int)ws_header_len(len);

    h[n++] = b0;
    if (form == 2) {
        h[n++] = (uint8_t)len;
    } else if (form == 4) {
        h[n++] = 126;
        h[n++] = (uint8_t)(len >> 8);
        h[n++] = (uint8_t)len;
    } else {
        h[n++] = 127;
        for (int i = 7; i >= 0; i--)
            h[n++] = (uint8_t)(len >> (8 * i));
    }
    if (masked) {
        h[1] |= 0x80;
        w->mask_seed = w->mask_seed * 1103515245u + 12345u;
        for (int i = 0; i < 4; i++)
            mask[i] = (uint8_t)(w->mask_seed >> (8 * i));
        memcpy(h + n, mask, 4);
        n += 4;
    }
    wire_put(w, h, n);
}

/* put_frame_ex writes a whole frame, masking the payload when |masked|. */
static void put_frame_ex(struct wire *w, uint8_t b0, bool masked, int len_form, const void *payload,
                         size_t len)
{
    uint8_t mask[4] = {0};
    put_header(w, b0, masked, len, len_form, mask);
    size_t at = w->len;
    wire_put(w, payload, len);
    if (masked) {
        for (size_t i = 0; i < len; i++)
            w->p[at + i] ^= mask[i % 4];
    }
}

/* put_frame writes a masked frame, as a client must. */
static void put_frame(struct wire *w, uint8_t b0, const void *payload, size_t len)
{
    put_frame_ex(w, b0, true, 0, payload, len);
}

static void put_str(struct wire *w, uint8_t b0, const char *s)
{
    put_frame(w, b0, s, strlen(s));
}

static void put_close(struct wire *w, uint16_t code, const char *reason)
{
    uint8_t payload[256];
    size_t n = strlen(reason);
    payload[0] = (uint8_t)(code >> 8);
    payload[1] = (uint8_t)code;
    memcpy(payload + 2, reason, n);
    put_frame(w, FIN | CLOSE, payload, n + 2);
}

/* ---- recording events ------------------------------------------------------ */

struct rec_event {
    enum ws_event_type type;
    enum ws_opcode opcode;
    uint16_t close_code;
    size_t len;
    uint8_t *data;      /* a copy */
    const uint8_t *ptr; /* where the reader said the data was */
    bool buf_busy;      /* r->buf held a message being assembled */
    bool in_feed;       /* the data lay inside the fed buffer (zero copy) */
};

struct rec {
    struct rec_event ev[64];
    size_t num_ev;
    const struct ws_reader *r;
    size_t stop_at; /* when num_ev reaches this, return stop_value */
    int stop_value;
    const uint8_t *fed; /* the buffer of the current feed */
    size_t fed_len;
};

static int record(void *ctx, const struct ws_event *ev)
{
    struct rec *rec = ctx;
    assert_true(rec->num_ev < 64);
    struct rec_event *e = &rec->ev[rec->num_ev++];
    e->type = ev->type;
    e->opcode = ev->opcode;
    e->close_code = ev->close_code;
    e->len = ev->len;
    e->ptr = ev->data;
    assert_non_null(ev->data);
    e->data = malloc(ev->len + 1);
    assert_non_null(e->data);
    memcpy(e->data, ev->data, ev->len);
    e->data[ev->len] = '\0';
    e->buf_busy = rec->r && rec->r->buf != NULL;
    e->in_feed = rec->fed && ev->len > 0 && ev->data >= rec->fed &&
                 ev->data + ev->len <= rec->fed + rec->fed_len;
    if (rec->stop_at && rec->num_ev == rec->stop_at)
        return rec->stop_value;
    return 0;
}

static void rec_free(struct rec *rec)
{
    for (size_t i = 0; i < rec->num_ev; i++)
        free(rec->ev[i].data);
    rec->num_ev = 0;
}

/* feed feeds |len| bytes from a fresh heap copy of exactly that size, so
 * ASan sees any read past the feed, and the wire stays masked. */
static int feed(struct ws_reader *r, struct rec *rec, const uint8_t *p, size_t len,
                const struct ws_limits *limits)
{
    uint8_t *copy = malloc(len ? len : 1);
    assert_non_null(copy);
    if (len)
        memcpy(copy, p, len);
    rec->r = r;
    rec->fed = copy;
    rec->fed_len = len;
    int rc = ws_reader_feed(r, copy, len, limits, record, rec);
    rec->fed = NULL;
    free(copy);
    return rc;
}

/* feed_chunks feeds |w| in pieces of |chunk| bytes (0: all at once) and
 * returns the first non-zero result. */
static int feed_chunks(struct ws_reader *r, struct rec *rec, const struct wire *w, size_t chunk,
                       const struct ws_limits *limits)
{
    if (chunk == 0)
        chunk = w->len ? w->len : 1;
    for (size_t at = 0; at < w->len || (at == 0 && w->len == 0); at += chunk) {
        size_t n = w->len - at < chunk ? w->len - at : chunk;
        int rc = feed(r, rec, w->p + at, n, limits);
        if (rc)
            return rc;
        if (w->len == 0)
            break;
    }
    return 0;
}

/* expect_error feeds |w| whole and byte by byte; both must fail with
 * |code| and leave the reader owning nothing. */
static void expect_error(const struct wire *w, int code, const struct ws_limits *limits)
{
    for (int pass = 0; pass < 2; pass++) {
        struct ws_reader r;
        struct rec rec = {0};
        ws_reader_init(&r);
        assert_int_equal(feed_chunks(&r, &rec, w, pass == 0 ? 0 : 1, limits), code);
        assert_null(r.buf);
        assert_null(r.ctl);
        ws_reader_cleanup(&r);
        rec_free(&rec);
    }
}

static void assert_event(const struct rec_event *e, enum ws_event_type type, enum ws_opcode opcode,
                         const void *data, size_t len)
{
    assert_int_equal(e->type, type);
    if (type == WS_EV_MESSAGE)
        assert_int_equal(e->opcode, opcode);
    assert_int_equal(e->len, len);
    assert_memory_equal(e->data, data, len);
}

/* ---- protocol rules: each in its own test ----------------------------------- */

static void test_size_budget(void **state)
{
    (void)state;
    assert_true(sizeof(struct ws_reader) <= 96);
}

static void test_unmasked_frame(void **state)
{
    (void)state;
    struct wire w = {0};
    put_frame_ex(&w, FIN | TEXT, false, 0, "hi", 2);
    expect_error(&w, -1002, &default_limits);
    wire_free(&w);

    /* Decided from the first two bytes: the rest of the header may never come. */
    struct ws_reader r;
    struct rec rec = {0};
    ws_reader_init(&r);
    assert_int_equal(feed(&r, &rec, (const uint8_t[]){0x81, 0x7e}, 2, &default_limits), -1002);
    ws_reader_cleanup(&r);
}

static void test_rsv_bits(void **state)
{
    (void)state;
    for (uint8_t rsv = 1; rsv < 8; rsv++) {
        struct wire w = {0};
        put_str(&w, (uint8_t)(FIN | rsv << 4 | TEXT), "hi");
        expect_error(&w, -1002, &default_limits);
        wire_free(&w);
    }
    struct wire w = {0};
    put_str(&w, FIN | 0x40 | PING, "hi"); /* on a control frame too */
    expect_error(&w, -1002, &default_limits);
    wire_free(&w);
}

static void test_reserved_opcodes(void **state)
{
    (void)state;
    static const uint8_t reserved[] = {3, 4, 5, 6, 7, 0xb, 0xc, 0xd, 0xe, 0xf};
    for (size_t i = 0; i < sizeof(reserved); i++) {
        struct wire w = {0};
        put_str(&w, FIN | reserved[i], "");
        expect_error(&w, -1002, &default_limits);
        wire_free(&w);
    }
}

static void test_length_top_bit(void **state)
{
    (void)state;
    const uint8_t frame[] = {0x82, 0xff, 0x80, 0, 0, 0, 0, 0, 0, 0, 1, 2, 3, 4};
    struct wire w = {0};
    wire_put(&w, frame, sizeof(frame));
    expect_error(&w, -1002, &default_limits);
    wire_free(&w);
}

static void test_control_too_long(void **state)
{
    (void)state;
    uint8_t payload[126];
    memset(payload, 'p', sizeof(payload));
    static const uint8_t ops[] = {PING, PONG, CLOSE};
    for (size_t i = 0; i < 3; i++) {
        struct wire w = {0};
        put_frame(&w, FIN | ops[i], payload, 126);
        expect_error(&w, -1002, &default_limits);
        wire_free(&w);
    }

    /* 125 is allowed. */
    struct wire w = {0};
    put_frame(&w, FIN | PING, payload, 125);
    struct ws_reader r;
    struct rec rec = {0};
    ws_reader_init(&r);
    assert_int_equal(feed_chunks(&r, &rec, &w, 0, &default_limits), 0);
    assert_int_equal(rec.num_ev, 1);
    assert_event(&rec.ev[0], WS_EV_PING, 0, payload, 125);
    ws_reader_cleanup(&r);
    rec_free(&rec);
    wire_free(&w);
}

static void test_control_fragmented(void **state)
{
    (void)state;
    static const uint8_t ops[] = {PING, PONG, CLOSE};
    for (size_t i = 0; i < 3; i++) {
        struct wire w = {0};
        put_str(&w, ops[i], ""); /* FIN = 0 */
        expect_error(&w, -1002, &default_limits);
        wire_free(&w);
    }
}

static void test_continuation_without_message(void **state)
{
    (void)state;
    struct wire w = {0};
    put_str(&w, FIN | CONT, "orphan");
    expect_error(&w, -1002, &default_limits);
    wire_free(&w);

    /* Also right after a complete message. */
    put_str(&w, FIN | TEXT, "done");
    put_str(&w, CONT, "more");
    expect_error(&w, -1002, &default_limits);
    wire_free(&w);
}

static void test_new_message_inside_fragmented(void **state)
{
    (void)state;
    static const uint8_t ops[] = {TEXT, BINARY, FIN | TEXT, FIN | BINARY};
    for (size_t i = 0; i < 4; i++) {
        struct wire w = {0};
        put_str(&w, TEXT, "first half");
        put_str(&w, ops[i], "intruder");
        expect_error(&w, -1002, &default_limits);
        wire_free(&w);
    }
}

/* The frame limit is judged from the header, before any payload arrives. */
static void test_frame_too_big(void **state)
{
    (void)state;
    const struct ws_limits limits = {.max_frame = 100, .max_message = 1000};
    static const uint64_t lens[] = {101, 126, 65535, 65536, UINT64_C(1) << 40};
    for (size_t i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
        struct wire w = {0};
        uint8_t mask[4];
        put_header(&w, FIN | BINARY, true, lens[i], 0, mask); /* the header alone */
        expect_error(&w, -1009, &limits);
        wire_free(&w);
    }
}

/* The message limit is judged from each header, from the total so far. */
static void test_message_too_big(void **state)
{
    (void)state;
    const struct ws_limits limits = {.max_frame = 100, .max_message = 150};
    uint8_t payload[100];
    memset(payload, 'm', sizeof(payload));

    struct wire w = {0};
    put_frame(&w, BINARY, payload, 100);
    put_frame(&w, CONT, payload, 50); /* 150: at the limit */
    uint8_t mask[4];
    put_header(&w, FIN | CONT, true, 1, 0, mask); /* 151, header only */
    expect_error(&w, -1009, &limits);
    wire_free(&w);

    /* A single frame over max_message but within max_frame. */
    const struct ws_limits small_message = {.max_frame = 100, .max_message = 10};
    put_header(&w, FIN | TEXT, true, 11, 0, mask);
    expect_error(&w, -1009, &small_message);
    wire_free(&w);
}

static void test_limits_exactly_at_and_one_over(void **state)
{
    (void)state;
    const struct ws_limits limits = {.max_frame = 64, .max_message = 128};
    uint8_t payload[129];
    memset(payload, 'x', sizeof(payload));

    for (size_t chunk = 0; chunk <= 1; chunk++) {
        struct ws_reader r;
        struct rec rec = {0};
        struct wire w = {0};

        /* Frame exactly max_frame; message exactly max_message. */
        ws_reader_init(&r);
        put_frame(&w, FIN | BINARY, payload, 64);
        put_frame(&w, BINARY, payload, 64);
        put_frame(&w, FIN | CONT, payload, 64);
        assert_int_equal(feed_chunks(&r, &rec, &w, chunk, &limits), 0);
        assert_int_equal(rec.num_ev, 2);
        assert_int_equal(rec.ev[0].len, 64);
        assert_int_equal(rec.ev[1].len, 128);
        assert_null(r.buf);
        ws_reader_cleanup(&r);
        rec_free(&rec);
        wire_free(&w);

        /* Frame one over. */
        put_frame(&w, FIN | BINARY, payload, 65);
        expect_error(&w, -1009, &limits);
        wire_free(&w);

        /* Message one over: 64 + 64 + 1. */
        put_frame(&w, BINARY, payload, 64);
        put_frame(&w, CONT, payload, 64);
        put_frame(&w, FIN | CONT, payload, 1);
        expect_error(&w, -1009, &limits);
        wire_free(&w);
    }
}

static void test_text_invalid_utf8(void **state)
{
    (void)state;
    struct wire w = {0};
    put_str(&w, FIN | TEXT, "caf\xc3\x28");
    expect_error(&w, -1007, &default_limits);
    wire_free(&w);

    put_str(&w, FIN | TEXT, "\xed\xa0\x80"); /* a surrogate */
    expect_error(&w, -1007, &default_limits);
    wire_free(&w);

    /* Binary messages are not checked. */
    struct ws_reader r;
    struct rec rec = {0};
    ws_reader_init(&r);
    put_str(&w, FIN | BINARY, "\xed\xa0\x80\xff");
    assert_int_equal(feed_chunks(&r, &rec, &w, 0, &default_limits), 0);
    assert_int_equal(rec.num_ev, 1);
    ws_reader_cleanup(&r);
    rec_free(&rec);
    wire_free(&w);
}

/* A bad byte in the first fragment fails before the FIN frame is sent. */
static void test_invalid_utf8_first_fragment(void **state)
{
    (void)state;
    struct wire w = {0};
    put_str(&w, TEXT, "ok so far \xff then more");
    expect_error(&w, -1007, &default_limits);
    wire_free(&w);
}

/* ...and inside a frame, before the frame is complete. */
static void test_invalid_utf8_mid_frame(void **state)
{
    (void)state;
    char text[200];
    memset(text, 'a', sizeof(text) - 1);
    text[sizeof(text) - 1] = '\0';
    text[10] = (char)0xc0; /* overlong lead: invalid at once */

    struct wire w = {0};
    put_str(&w, FIN | TEXT, text);
    struct ws_reader r;
    struct rec rec = {0};
    ws_reader_init(&r);
    size_t header_len = 2 + 2 + 4;
    /* Header and the first 10 payload bytes: fine, waiting for more. */
    assert_int_equal(feed(&r, &rec, w.p, header_len + 10, &default_limits), 0);
    /* The next 5 bytes hold the bad one; 185 more never arrive. */
    assert_int_equal(feed(&r, &rec, w.p + header_len + 10, 5, &default_limits), -1007);
    assert_null(r.buf);
    ws_reader_cleanup(&r);
    wire_free(&w);
}

/* The message may not end inside a character. */
static void test_text_ends_mid_character(void **state)
{
    (void)state;
    struct wire w = {0};
    put_str(&w, FIN | TEXT, "euro \xe2\x82");
    expect_error(&w, -1007, &default_limits);
    wire_free(&w);

    put_str(&w, TEXT, "euro \xe2");
    put_str(&w, FIN | CONT, "\x82");
    expect_error(&w, -1007, &default_limits);
    wire_free(&w);
}

static void test_utf8_split_across_fragments(void **state)
{
    (void)state;
    /* U+1F600 split 1+2+1 over three fragments, with a ping in between. */
    struct wire w = {0};
    put_str(&w, TEXT, "smile \xf0");
    put_str(&w, CONT, "\x9f\x98");
    put_str(&w, FIN | PING, "p");
    put_str(&w, FIN | CONT, "\x80!");
    for (size_t chunk = 0; chunk <= 3; chunk++) {
        struct ws_reader r;
        struct rec rec = {0};
        ws_reader_init(&r);
        assert_int_equal(feed_chunks(&r, &rec, &w, chunk, &default_limits), 0);
        assert_int_equal(rec.num_ev, 2);
        assert_event(&rec.ev[0], WS_EV_PING, 0, "p", 1);
        assert_event(&rec.ev[1], WS_EV_MESSAGE, TEXT, "smile \xf0\x9f\x98\x80!", 11);
        assert_null(r.buf);
        ws_reader_cleanup(&r);
        rec_free(&rec);
    }
    wire_free(&w);
}

static void test_close_one_byte(void **state)
{
    (void)state;
    struct wire w = {0};
    put_frame(&w, FIN | CLOSE, "\x03", 1);
    expect_error(&w, -1002, &default_limits);
    wire_free(&w);
}

static void test_close_invalid_code(void **state)
{
    (void)state;
    static const uint16_t codes[] = {0, 999, 1004, 1005, 1006, 1012, 1015, 1016, 2999, 5000, 65535};
    for (size_t i = 0; i < sizeof(codes) / sizeof(codes[0]); i++) {
        struct wire w = {0};
        put_close(&w, codes[i], "");
        expect_error(&w, -1002, &default_limits);
        wire_free(&w);
    }
}

static void test_close_invalid_reason(void **state)
{
    (void)state;
    struct wire w = {0};
    put_close(&w, 1000, "bye \xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5\xed\xa0\x80");
    expect_error(&w, -1007, &default_limits);
    wire_free(&w);
}

static void test_close_empty(void **state)
{
    (void)state;
    struct wire w = {0};
    put_str(&w, FIN | CLOSE, "");
    for (size_t chunk = 0; chunk <= 1; chunk++) {
        struct ws_reader r;
        struct rec rec = {0};
        ws_reader_init(&r);
        assert_int_equal(feed_chunks(&r, &rec, &w, chunk, &default_limits), 0);
        assert_int_equal(rec.num_ev, 1);
        assert_int_equal(rec.ev[0].type, WS_EV_CLOSE);
        assert_int_equal(rec.ev[0].close_code, 1005);
        assert_int_equal(rec.ev[0].len, 0);
        ws_reader_cleanup(&r);
        rec_free(&rec);
    }
    wire_free(&w);
}

static void test_close_with_reason(void **state)
{
    (void)state;
    static const uint16_t codes[] = {1000, 1001, 1002, 1003, 1007, 1011, 3000, 4999};
    for (size_t i = 0; i < sizeof(codes) / sizeof(codes[0]); i++) {
        struct wire w = {0};
        put_close(&w, codes[i], "going \xe2\x82\xac");
        for (size_t chunk = 0; chunk <= 1; chunk++) {
            struct ws_reader r;
            struct rec rec = {0};
            ws_reader_init(&r);
            assert_int_equal(feed_chunks(&r, &rec, &w, chunk, &default_limits), 0);
            assert_int_equal(rec.num_ev, 1);
            assert_int_equal(rec.ev[0].type, WS_EV_CLOSE);
            assert_int_equal(rec.ev[0].close_code, codes[i]);
            assert_event(&rec.ev[0], WS_EV_CLOSE, 0, "going \xe2\x82\xac", 9);
            assert_null(r.ctl);
            ws_reader_cleanup(&r);
            rec_free(&rec);
        }
        wire_free(&w);
    }
}

/* After the close, everything is ignored, even garbage and even a half
 * assembled message is dropped (and its memory freed). */
static void test_input_after_close_ignored(void **state)
{
    (void)state;
    struct wire w = {0};
    put_str(&w, TEXT, "half a message");
    put_close(&w, 1000, "");
    put_str(&w, FIN | TEXT, "after close");
    wire_put(&w, "\x00\xff\xff garbage", 11);

    struct ws_reader r;
    struct rec rec = {0};
    ws_reader_init(&r);
    assert_int_equal(feed_chunks(&r, &rec, &w, 0, &default_limits), 0);
    assert_int_equal(rec.num_ev, 1);
    assert_int_equal(rec.ev[0].type, WS_EV_CLOSE);
    assert_int_equal(rec.ev[0].close_code, 1000);
    assert_null(r.buf);
    assert_null(r.ctl);
    assert_int_equal(feed(&r, &rec, (const uint8_t *)"\x81\x00", 2, &default_limits), 0);
    assert_int_equal(feed(&r, &rec, (const uint8_t *)"\xff\xff", 2, &default_limits), 0);
    assert_int_equal(rec.num_ev, 1);
    ws_reader_cleanup(&r);
    rec_free(&rec);
    wire_free(&w);
}

static void test_ping_and_pong(void **state)
{
    (void)state;
    struct wire w = {0};
    put_str(&w, FIN | PING, "are you there");
    put_str(&w, FIN | PONG, "yes");
    put_str(&w, FIN | PING, "");
    for (size_t chunk = 0; chunk <= 1; chunk++) {
        struct ws_reader r;
        struct rec rec = {0};
        ws_reader_init(&r);
        assert_int_equal(feed_chunks(&r, &rec, &w, chunk, &default_limits), 0);
        assert_int_equal(rec.num_ev, 3);
        assert_event(&rec.ev[0], WS_EV_PING, 0, "are you there", 13);
        assert_event(&rec.ev[1], WS_EV_PONG, 0, "yes", 3);
        assert_event(&rec.ev[2], WS_EV_PING, 0, "", 0);
        assert_null(r.ctl);
        ws_reader_cleanup(&r);
        rec_free(&rec);
    }
    wire_free(&w);
}

static void test_zero_length_frames(void **state)
{
    (void)state;
    struct wire w = {0};
    put_str(&w, FIN | TEXT, "");
    put_str(&w, FIN | BINARY, "");
    put_str(&w, TEXT, "");
    put_str(&w, CONT, "");
    put_str(&w, FIN | CONT, "");
    put_str(&w, BINARY, "");
    put_str(&w, CONT, "ab");
    put_str(&w, CONT, "");
    put_str(&w, FIN | CONT, "");
    put_str(&w, FIN | PONG, "");
    for (size_t chunk = 0; chunk <= 1; chunk++) {
        struct ws_reader r;
        struct rec rec = {0};
        ws_reader_init(&r);
        assert_int_equal(feed_chunks(&r, &rec, &w, chunk, &default_limits), 0);
        assert_int_equal(rec.num_ev, 5);
        assert_event(&rec.ev[0], WS_EV_MESSAGE, TEXT, "", 0);
        assert_event(&rec.ev[1], WS_EV_MESSAGE, BINARY, "", 0);
        assert_event(&rec.ev[2], WS_EV_MESSAGE, TEXT, "", 0);
        assert_event(&rec.ev[3], WS_EV_MESSAGE, BINARY, "ab", 2);
        assert_event(&rec.ev[4], WS_EV_PONG, 0, "", 0);
        assert_null(r.buf);
        ws_reader_cleanup(&r);
        rec_free(&rec);
    }
    wire_free(&w);
}

/* A length in a longer form than needed is accepted, for data and control. */
static void test_non_minimal_lengths(void **state)
{
    (void)state;
    struct wire w = {0};
    put_frame_ex(&w, FIN | TEXT, true, 4, "abc", 3);
    put_frame_ex(&w, FIN | PING, true, 10, "p", 1);
    struct ws_reader r;
    struct rec rec = {0};
    ws_reader_init(&r);
    assert_int_equal(feed_chunks(&r, &rec, &w, 0, &default_limits), 0);
    assert_int_equal(rec.num_ev, 2);
    assert_event(&rec.ev[0], WS_EV_MESSAGE, TEXT, "abc", 3);
    assert_event(&rec.ev[1], WS_EV_PING, 0, "p", 1);
    ws_reader_cleanup(&r);
    rec_free(&rec);
    wire_free(&w);
}

/* ---- delivery: zero copy, splitting, memory -------------------------------- */

/* A whole message and a whole control frame are reported in place. */
static void test_reported_in_place(void **state)
{
    (void)state;
    struct wire w = {0};
    put_str(&w, FIN | TEXT, "hello, in place");
    put_str(&w, FIN | PING, "ping in place");

    uint8_t *buf = malloc(w.len);
    assert_non_null(buf);
    memcpy(buf, w.p, w.len);
    struct ws_reader r;
    struct rec rec = {0};
    ws_reader_init(&r);
    rec.r = &r;
    rec.fed = buf;
    rec.fed_len = w.len;
    assert_int_equal(ws_reader_feed(&r, buf, w.len, &default_limits, record, &rec), 0);
    assert_int_equal(rec.num_ev, 2);
    for (size_t i = 0; i < 2; i++) {
        assert_true(rec.ev[i].in_feed);
        assert_false(rec.ev[i].buf_busy);
    }
    assert_event(&rec.ev[0], WS_EV_MESSAGE, TEXT, "hello, in place", 15);
    assert_event(&rec.ev[1], WS_EV_PING, 0, "ping in place", 13);
    /* Unmasked in the caller's buffer, as the contract allows. */
    assert_memory_equal(rec.ev[0].ptr, "hello, in place", 15);
    assert_null(r.buf);
    assert_null(r.ctl);
    ws_reader_cleanup(&r);
    rec_free(&rec);
    free(buf);
    wire_free(&w);
}

/* A mixed stream gives the same events fed whole, byte by byte, and in
 * every chunk size up to 40. */
static void test_byte_by_byte_identical(void **state)
{
    (void)state;
    uint8_t big[300];
    for (size_t i = 0; i < sizeof(big); i++)
        big[i] = (uint8_t)i;
    struct wire w = {0};
    put_str(&w, FIN | TEXT, "first \xc3\xa9");
    put_frame(&w, BINARY, big, 200);
    put_str(&w, FIN | PING, "between");
    put_frame(&w, CONT, big + 200, 100);
    put_str(&w, FIN | PONG, "");
    put_frame(&w, FIN | CONT, big, 0);
    put_frame(&w, FIN | BINARY, big, sizeof(big)); /* 16-bit length form */
    put_str(&w, TEXT, "\xe2\x82");
    put_str(&w, FIN | CONT, "\xac");
    put_close(&w, 1001, "bye");

    struct ws_reader r;
    struct rec whole = {0};
    ws_reader_init(&r);
    assert_int_equal(feed_chunks(&r, &whole, &w, 0, &default_limits), 0);
    ws_reader_cleanup(&r);
    assert_int_equal(whole.num_ev, 7);
    assert_event(&whole.ev[0], WS_EV_MESSAGE, TEXT, "first \xc3\xa9", 8);
    assert_event(&whole.ev[1], WS_EV_PING, 0, "between", 7);
    assert_event(&whole.ev[2], WS_EV_PONG, 0, "", 0);
    assert_event(&whole.ev[3], WS_EV_MESSAGE, BINARY, big, 300);
    assert_event(&whole.ev[4], WS_EV_MESSAGE, BINARY, big, 300);
    assert_event(&whole.ev[5], WS_EV_MESSAGE, TEXT, "\xe2\x82\xac", 3);
    assert_int_equal(whole.ev[6].type, WS_EV_CLOSE);
    assert_int_equal(whole.ev[6].close_code, 1001);

    for (size_t chunk = 1; chunk <= 40; chunk++) {
        struct rec split = {0};
        ws_reader_init(&r);
        assert_int_equal(feed_chunks(&r, &split, &w, chunk, &default_limits), 0);
        assert_int_equal(split.num_ev, whole.num_ev);
        for (size_t i = 0; i < whole.num_ev; i++) {
            assert_int_equal(split.ev[i].type, whole.ev[i].type);
            assert_int_equal(split.ev[i].opcode, whole.ev[i].opcode);
            assert_int_equal(split.ev[i].close_code, whole.ev[i].close_code);
            assert_int_equal(split.ev[i].len, whole.ev[i].len);
            assert_memory_equal(split.ev[i].data, whole.ev[i].data, whole.ev[i].len);
        }
        assert_null(r.buf);
        assert_null(r.ctl);
        ws_reader_cleanup(&r);
        rec_free(&split);
    }
    rec_free(&whole);
    wire_free(&w);
}

/* A ping between fragments is reported when it arrives, before the final
 * fragment is even sent, and the message keeps assembling. */
static void test_ping_between_fragments_reported_at_once(void **state)
{
    (void)state;
    struct wire first = {0}, ping = {0}, last = {0};
    put_str(&first, TEXT, "Hello, ");
    put_str(&ping, FIN | PING, "keepalive");
    put_str(&last, FIN | CONT, "world");

    struct ws_reader r;
    struct rec rec = {0};
    ws_reader_init(&r);
    assert_int_equal(feed_chunks(&r, &rec, &first, 0, &default_limits), 0);
    assert_int_equal(rec.num_ev, 0);
    assert_non_null(r.buf); /* the first fragment is kept */
    assert_int_equal(feed_chunks(&r, &rec, &ping, 0, &default_limits), 0);
    assert_int_equal(rec.num_ev, 1);
    assert_event(&rec.ev[0], WS_EV_PING, 0, "keepalive", 9);
    assert_true(rec.ev[0].buf_busy);
    assert_int_equal(feed_chunks(&r, &rec, &last, 0, &default_limits), 0);
    assert_int_equal(rec.num_ev, 2);
    assert_event(&rec.ev[1], WS_EV_MESSAGE, TEXT, "Hello, world", 12);
    assert_null(r.buf);
    ws_reader_cleanup(&r);
    rec_free(&rec);
    wire_free(&first);
    wire_free(&ping);
    wire_free(&last);
}

/* A control frame split across feeds, between two fragments: its own
 * storage, so the message being assembled is not clobbered. */
static void test_split_control_frame_keeps_message(void **state)
{
    (void)state;
    char payload[126];
    memset(payload, 'c', 125);
    payload[125] = '\0';
    struct wire w = {0};
    put_str(&w, BINARY, "0123456789");
    put_str(&w, FIN | PING, payload);
    put_str(&w, FIN | CONT, "abcdef");

    size_t ping_start = 2 + 4 + 10;
    struct ws_reader r;
    struct rec rec = {0};
    ws_reader_init(&r);
    /* First fragment plus half of the ping. */
    assert_int_equal(feed(&r, &rec, w.p, ping_start + 60, &default_limits), 0);
    assert_int_equal(rec.num_ev, 0);
    assert_non_null(r.ctl);
    assert_non_null(r.buf);
    assert_int_equal(
        feed(&r, &rec, w.p + ping_start + 60, w.len - ping_start - 60, &default_limits), 0);
    assert_int_equal(rec.num_ev, 2);
    assert_event(&rec.ev[0], WS_EV_PING, 0, payload, 125);
    assert_event(&rec.ev[1], WS_EV_MESSAGE, BINARY, "0123456789abcdef", 16);
    assert_null(r.ctl);
    assert_null(r.buf);
    ws_reader_cleanup(&r);
    rec_free(&rec);
    wire_free(&w);
}

/* Heap memory is released after each message, whichever route it took:
 * whenever a feed ends between messages, the reader owns nothing. */
static void test_memory_freed_after_each_message(void **state)
{
    (void)state;
    struct wire w = {0};
    size_t idle_at[4]; /* wire offsets where no message is open */
    put_str(&w, TEXT, "frag");
    put_str(&w, FIN | CONT, "mented");
    idle_at[0] = w.len;
    put_str(&w, FIN | BINARY, "whole");
    idle_at[1] = w.len;
    put_str(&w, FIN | PING, "ctl");
    idle_at[2] = w.len;
    put_str(&w, FIN | TEXT, "a whole text message, longer than a chunk");
    idle_at[3] = w.len;

    for (size_t chunk = 0; chunk <= 7; chunk++) {
        struct ws_reader r;
        struct rec rec = {0};
        size_t step = chunk ? chunk : w.len;
        size_t idle_checks = 0;
        ws_reader_init(&r);
        for (size_t at = 0; at < w.len; at += step) {
            size_t n = w.len - at < step ? w.len - at : step;
            assert_int_equal(feed(&r, &rec, w.p + at, n, &default_limits), 0);
            for (size_t k = 0; k < 4; k++) {
                if (at + n == idle_at[k]) {
                    assert_null(r.buf);
                    assert_null(r.ctl);
                    assert_int_equal(r.buf_cap, 0);
                    idle_checks++;
                }
            }
        }
        assert_true(idle_checks >= 1);
        assert_int_equal(rec.num_ev, 4);
        assert_event(&rec.ev[0], WS_EV_MESSAGE, TEXT, "fragmented", 10);
        assert_event(&rec.ev[1], WS_EV_MESSAGE, BINARY, "whole", 5);
        assert_event(&rec.ev[2], WS_EV_PING, 0, "ctl", 3);
        assert_int_equal(rec.ev[3].len, 41);
        ws_reader_cleanup(&r);
        rec_free(&rec);
    }
    wire_free(&w);
}

/* A large message split in chunks: the buffer grows but never past
 * max_message, and is freed after delivery. */
static void test_large_message_bounded_buffer(void **state)
{
    (void)state;
    const struct ws_limits limits = {.max_frame = 70000, .max_message = 70000};
    uint8_t *big = malloc(70000);
    assert_non_null(big);
    for (size_t i = 0; i < 70000; i++)
        big[i] = (uint8_t)(i * 7);
    struct wire w = {0};
    put_frame(&w, FIN | BINARY, big, 70000); /* 64-bit length form */

    struct ws_reader r;
    struct rec rec = {0};
    ws_reader_init(&r);
    for (size_t at = 0; at < w.len; at += 4093) {
        size_t n = w.len - at < 4093 ? w.len - at : 4093;
        assert_int_equal(feed(&r, &rec, w.p + at, n, &limits), 0);
        assert_true(r.buf_cap <= limits.max_message);
    }
    assert_int_equal(rec.num_ev, 1);
    assert_false(rec.ev[0].in_feed); /* it spanned feeds: copied */
    assert_event(&rec.ev[0], WS_EV_MESSAGE, BINARY, big, 70000);
    assert_null(r.buf);

    /* The same whole in one feed: in place, no buffer at all. */
    rec_free(&rec);
    assert_int_equal(feed(&r, &rec, w.p, w.len, &limits), 0);
    assert_int_equal(rec.num_ev, 1);
    assert_true(rec.ev[0].in_feed);
    assert_false(rec.ev[0].buf_busy);
    assert_event(&rec.ev[0], WS_EV_MESSAGE, BINARY, big, 70000);
    ws_reader_cleanup(&r);
    rec_free(&rec);
    wire_free(&w);
    free(big);
}

/* A non-zero callback result stops the feed at once and is returned; the
 * bytes after that event are left unconsumed. */
static void test_callback_stop_propagated(void **state)
{
    (void)state;
    struct wire w = {0};
    put_str(&w, FIN | TEXT, "one");
    put_str(&w, FIN | PING, "two");
    put_str(&w, FIN | TEXT, "three");

    for (size_t stop_at = 1; stop_at <= 3; stop_at++) {
        struct ws_reader r;
        struct rec rec = {.stop_at = stop_at, .stop_value = 42};
        ws_reader_init(&r);
        assert_int_equal(feed_chunks(&r, &rec, &w, 0, &default_limits), 42);
        assert_int_equal(rec.num_ev, stop_at);
        ws_reader_cleanup(&r);
        rec_free(&rec);
    }

    /* The reader stays consistent: feeding the rest goes on where it stopped. */
    struct ws_reader r;
    struct rec rec = {.stop_at = 1, .stop_value = -5};
    ws_reader_init(&r);
    size_t first_len = 2 + 4 + 3;
    assert_int_equal(feed(&r, &rec, w.p, w.len, &default_limits), -5);
    rec.stop_at = 0;
    assert_int_equal(feed(&r, &rec, w.p + first_len, w.len - first_len, &default_limits), 0);
    assert_int_equal(rec.num_ev, 3);
    assert_event(&rec.ev[2], WS_EV_MESSAGE, TEXT, "three", 5);
    ws_reader_cleanup(&r);
    rec_free(&rec);

    /* A stop on the close event is returned too. */
    wire_free(&w);
    put_close(&w, 1000, "");
    struct rec on_close = {.stop_at = 1, .stop_value = 1};
    ws_reader_init(&r);
    assert_int_equal(feed_chunks(&r, &on_close, &w, 0, &default_limits), 1);
    ws_reader_cleanup(&r);
    rec_free(&on_close);
    wire_free(&w);
}

/* ws_reader_feed_some: a callback that stops the feed (a paused input)
 * learns where the next frame starts: the bytes from there are untouched
 * (still masked), and feeding them later delivers the rest. At every stop
 * point and with the message in one frame or fragmented. */
static void test_feed_some_reports_where_it_stopped(void **state)
{
    (void)state;
    struct wire w = {0};
    put_str(&w, FIN | TEXT, "one");
    size_t ends[4];
    ends[0] = w.len;
    put_str(&w, FIN | PING, "two");
    ends[1] = w.len;
    put_str(&w, TEXT, "thr"); /* fragmented: no event until its last frame */
    put_str(&w, FIN | CONT, "ee");
    ends[2] = w.len;
    put_str(&w, FIN | TEXT, "four");
    ends[3] = w.len;
    for (size_t stop_at = 1; stop_at <= 3; stop_at++) {
        uint8_t *copy = malloc(w.len);
        assert_non_null(copy);
        memcpy(copy, w.p, w.len);
        struct ws_reader r;
        struct rec rec = {.stop_at = stop_at, .stop_value = 2};
        ws_reader_init(&r);
        size_t used = 0;
        assert_int_equal(ws_reader_feed_some(&r, copy, w.len, &default_limits, record, &rec, &used),
                         2);
        assert_int_equal(used, ends[stop_at - 1]);
        assert_memory_equal(copy + used, w.p + used, w.len - used); /* untouched */
        rec.stop_at = 0;
        assert_int_equal(ws_reader_feed_some(&r, copy + used, w.len - used, &default_limits, record,
                                             &rec, &used),
                         0);
        assert_int_equal(used, w.len - ends[stop_at - 1]); /* all of the rest */
        assert_int_equal(rec.num_ev, 4);
        assert_event(&rec.ev[2], WS_EV_MESSAGE, TEXT, "three", 5);
        assert_event(&rec.ev[3], WS_EV_MESSAGE, TEXT, "four", 4);
        ws_reader_cleanup(&r);
        rec_free(&rec);
        free(copy);
    }
    wire_free(&w);
}

/* A fragmented message in progress is freed by cleanup (no leak under ASan). */
static void test_cleanup_mid_message(void **state)
{
    (void)state;
    struct wire w = {0};
    put_str(&w, TEXT, "unfinished");
    char ping[100];
    memset(ping, 'p', 99);
    ping[99] = '\0';
    put_str(&w, FIN | PING, ping);
    struct ws_reader r;
    struct rec rec = {0};
    ws_reader_init(&r);
    assert_int_equal(feed(&r, &rec, w.p, w.len - 20, &default_limits), 0);
    assert_non_null(r.buf);
    assert_non_null(r.ctl);
    ws_reader_cleanup(&r);
    assert_null(r.buf);
    assert_null(r.ctl);
    ws_reader_cleanup(&r); /* twice is harmless */
    wire_free(&w);
}

/* After a protocol error, the reader keeps returning it. */
static void test_error_is_sticky(void **state)
{
    (void)state;
    struct wire w = {0};
    put_str(&w, FIN | 0x03, "");
    struct ws_reader r;
    struct rec rec = {0};
    ws_reader_init(&r);
    assert_int_equal(feed_chunks(&r, &rec, &w, 0, &default_limits), -1002);
    wire_free(&w);
    put_str(&w, FIN | TEXT, "valid");
    assert_int_equal(feed_chunks(&r, &rec, &w, 0, &default_limits), -1002);
    assert_int_equal(rec.num_ev, 0);
    ws_reader_cleanup(&r);
    wire_free(&w);
}

/* Random streams of valid frames fed in random pieces give the same events
 * as fed whole. */
static void test_random_splits(void **state)
{
    (void)state;
    uint32_t seed = 2024;
    for (int iter = 0; iter < 300; iter++) {
        struct wire w = {0};
        int frames = 1 + iter % 12;
        bool open = false;
        for (int f = 0; f < frames; f++) {
            seed = seed * 1103515245u + 12345u;
            size_t len = (seed >> 8) % 300;
            uint8_t payload[300];
            for (size_t i = 0; i < len; i++)
                payload[i] = (uint8_t)('a' + (i + seed) % 26);
            int kind = (int)((seed >> 20) % 4);
            if (kind == 0) {
                put_frame(&w, FIN | PING, payload, len % 126);
            } else if (!open) {
                open = kind == 1;
                put_frame(&w, (uint8_t)((open ? 0 : FIN) | (kind == 3 ? BINARY : TEXT)), payload,
                          len);
            } else {
                open = kind == 1;
                put_frame(&w, (uint8_t)((open ? 0 : FIN) | CONT), payload, len);
            }
        }
        if (open)
            put_frame(&w, FIN | CONT, "end", 3);

        struct ws_reader r;
        struct rec whole = {0}, split = {0};
        ws_reader_init(&r);
        assert_int_equal(feed_chunks(&r, &whole, &w, 0, &default_limits), 0);
        ws_reader_cleanup(&r);

        ws_reader_init(&r);
        for (size_t at = 0; at < w.len;) {
            seed = seed * 1103515245u + 12345u;
            size_t n = 1 + (seed >> 8) % 64;
            if (n > w.len - at)
                n = w.len - at;
            assert_int_equal(feed(&r, &split, w.p + at, n, &default_limits), 0);
            at += n;
        }
        assert_null(r.buf);
        assert_null(r.ctl);
        ws_reader_cleanup(&r);

        assert_int_equal(split.num_ev, whole.num_ev);
        for (size_t i = 0; i < whole.num_ev; i++) {
            assert_int_equal(split.ev[i].type, whole.ev[i].type);
            assert_int_equal(split.ev[i].len, whole.ev[i].len);
            assert_memory_equal(split.ev[i].data, whole.ev[i].data, whole.ev[i].len);
        }
        rec_free(&whole);
        rec_free(&split);
        wire_free(&w);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_size_budget),
        cmocka_unit_test(test_unmasked_frame),
        cmocka_unit_test(test_rsv_bits),
        cmocka_unit_test(test_reserved_opcodes),
        cmocka_unit_test(test_length_top_bit),
        cmocka_unit_test(test_control_too_long),
        cmocka_unit_test(test_control_fragmented),
        cmocka_unit_test(test_continuation_without_message),
        cmocka_unit_test(test_new_message_inside_fragmented),
        cmocka_unit_test(test_frame_too_big),
        cmocka_unit_test(test_message_too_big),
        cmocka_unit_test(test_limits_exactly_at_and_one_over),
        cmocka_unit_test(test_text_invalid_utf8),
        cmocka_unit_test(test_invalid_utf8_first_fragment),
        cmocka_unit_test(test_invalid_utf8_mid_frame),
        cmocka_unit_test(test_text_ends_mid_character),
        cmocka_unit_test(test_utf8_split_across_fragments),
        cmocka_unit_test(test_close_one_byte),
        cmocka_unit_test(test_close_invalid_code),
        cmocka_unit_test(test_close_invalid_reason),
        cmocka_unit_test(test_close_empty),
        cmocka_unit_test(test_close_with_reason),
        cmocka_unit_test(test_input_after_close_ignored),
        cmocka_unit_test(test_ping_and_pong),
        cmocka_unit_test(test_zero_length_frames),
        cmocka_unit_test(test_non_minimal_lengths),
        cmocka_unit_test(test_reported_in_place),
        cmocka_unit_test(test_byte_by_byte_identical),
        cmocka_unit_test(test_ping_between_fragments_reported_at_once),
        cmocka_unit_test(test_split_control_frame_keeps_message),
        cmocka_unit_test(test_memory_freed_after_each_message),
        cmocka_unit_test(test_large_message_bounded_buffer),
        cmocka_unit_test(test_callback_stop_propagated),
        cmocka_unit_test(test_feed_some_reports_where_it_stopped),
        cmocka_unit_test(test_cleanup_mid_message),
        cmocka_unit_test(test_error_is_sticky),
        cmocka_unit_test(test_random_splits),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
