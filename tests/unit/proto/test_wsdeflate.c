/* test_wsdeflate.c: unit tests for src/proto/wsdeflate.h (permessage-deflate,
 * RFC 7692): negotiation, the shared compressed frame, the bounded inflater.
 * zlib itself (the client's side) checks what the server writes. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "proto/wsdeflate.h"

static void check_offer(const char *offers, bool agreed, const char *answer)
{
    struct ws_deflate_agreement a;
    char out[128] = "unchanged";
    bool got = ws_deflate_negotiate(offers, strlen(offers), &a, out, sizeof(out));
    if (got != agreed)
        fail_msg("offer \"%s\": agreed %d, expected %d", offers, got, agreed);
    assert_int_equal(a.on, agreed);
    if (agreed)
        assert_string_equal(out, answer);
}

static void test_negotiation(void **state)
{
    (void)state;
    check_offer("permessage-deflate", true, "permessage-deflate; server_no_context_takeover");
    /* Chromium's and Node ws's offer: the server picks a small client window. */
    check_offer("permessage-deflate; client_max_window_bits", true,
                "permessage-deflate; server_no_context_takeover; client_max_window_bits=10");
    check_offer("permessage-deflate; client_max_window_bits=9", true,
                "permessage-deflate; server_no_context_takeover; client_max_window_bits=9");
    check_offer("permessage-deflate; client_max_window_bits=\"12\"", true,
                "permessage-deflate; server_no_context_takeover; client_max_window_bits=10");
    check_offer("PerMessage-Deflate ; client_no_context_takeover ; server_no_context_takeover",
                true, "permessage-deflate; server_no_context_takeover; client_no_context_takeover");
    check_offer("permessage-deflate; server_max_window_bits=15", true,
                "permessage-deflate; server_no_context_takeover");
    /* The first acceptable offer of several wins. */
    check_offer("x-webkit-deflate-frame, permessage-deflate; server_max_window_bits=10, "
                "permessage-deflate",
                true, "permessage-deflate; server_no_context_takeover");
    /* Declined: a smaller server window (the shared frames use 15), unknown or
     * repeated parameters, bad values, other extensions only. */
    check_offer("permessage-deflate; server_max_window_bits=10", false, NULL);
    check_offer("permessage-deflate; server_max_window_bits", false, NULL);
    check_offer("permessage-deflate; client_max_window_bits=7", false, NULL);
    check_offer("permessage-deflate; client_max_window_bits=16", false, NULL);
    check_offer("permessage-deflate; client_max_window_bits=1x", false, NULL);
    check_offer("permessage-deflate; server_no_context_takeover; server_no_context_takeover", false,
                NULL);
    check_offer("permessage-deflate; server_no_context_takeover=1", false, NULL);
    check_offer("permessage-deflate; foo", false, NULL);
    check_offer("x-webkit-deflate-frame", false, NULL);
    check_offer("", false, NULL);
    check_offer(",,;", false, NULL);

    struct ws_deflate_agreement a;
    char out[128];
    const char *o = "permessage-deflate; client_max_window_bits=8; client_no_context_takeover";
    assert_true(ws_deflate_negotiate(o, strlen(o), &a, out, sizeof(out)));
    assert_int_equal(a.client_window_bits, 8);
    assert_true(a.client_no_context);
    /* An answer that does not fit is no agreement. */
    assert_false(ws_deflate_negotiate(o, strlen(o), &a, out, 20));
}

/* client_inflate is what a client does with a compressed frame: append
 * 00 00 ff ff and inflate. */
static size_t client_inflate(const uint8_t *data, size_t len, uint8_t *out, size_t cap)
{
    z_stream z;
    memset(&z, 0, sizeof(z));
    assert_int_equal(inflateInit2(&z, -15), Z_OK);
    uint8_t *in = malloc(len + 4);
    memcpy(in, data, len);
    memcpy(in + len, "\x00\x00\xff\xff", 4);
    z.next_in = in;
    z.avail_in = (uInt)(len + 4);
    z.next_out = out;
    z.avail_out = (uInt)cap;
    int rc = inflate(&z, Z_SYNC_FLUSH);
    assert_true(rc == Z_OK || rc == Z_STREAM_END);
    assert_int_equal(z.avail_in, 0);
    size_t n = cap - z.avail_out;
    inflateEnd(&z);
    free(in);
    return n;
}

static void test_frame_round_trip(void **state)
{
    (void)state;
    size_t sizes[] = {200, 1000, 100000};
    for (size_t i = 0; i < 3; i++) {
        size_t n = sizes[i];
        uint8_t *json = malloc(n);
        for (size_t j = 0; j < n; j++)
            json[j] = (uint8_t) "{\"abc\":12345}"[j % 13];
        size_t cap = ws_deflate_frame_bound(n);
        uint8_t *frame = malloc(cap);
        size_t len = ws_deflate_frame(json, n, 6, frame, cap);
        assert_true(len > 2 && len < n);
        assert_int_equal(frame[0], 0xc1); /* FIN, RSV1, text */
        assert_int_equal(frame[1] & 0x80, 0);
        size_t header = (frame[1] & 0x7f) == 126 ? 4 : (frame[1] & 0x7f) == 127 ? 10 : 2;
        uint8_t *back = malloc(n + 1);
        assert_int_equal(client_inflate(frame + header, len - header, back, n + 1), n);
        assert_memory_equal(back, json, n);
        /* The same input gives the same bytes: the stream is reset each time. */
        uint8_t *again = malloc(cap);
        assert_int_equal(ws_deflate_frame(json, n, 6, again, cap), len);
        assert_memory_equal(again, frame, len);
        free(again);
        free(back);
        free(frame);
        free(json);
    }
    /* Incompressible bytes are not worth it. */
    uint8_t noise[300];
    uint32_t x = 12345;
    for (size_t j = 0; j < sizeof(noise); j++) {
        x = x * 1103515245u + 12345u;
        noise[j] = (uint8_t)(x >> 24);
    }
    uint8_t out[400];
    assert_int_equal(ws_deflate_frame(noise, sizeof(noise), 6, out, sizeof(out)), 0);
    ws_deflate_thread_cleanup();
}

/* client_deflate compresses as a client would, with |bits| of window,
 * keeping |z| between messages; returns the payload without its tail. */
static size_t client_deflate(z_stream *z, const char *text, uint8_t *out, size_t cap)
{
    z->next_in = (Bytef *)text;
    z->avail_in = (uInt)strlen(text);
    z->next_out = out;
    z->avail_out = (uInt)cap;
    assert_int_equal(deflate(z, Z_SYNC_FLUSH), Z_OK);
    size_t n = cap - z->avail_out;
    assert_memory_equal(out + n - 4, "\x00\x00\xff\xff", 4);
    return n - 4;
}

static void test_inflate_with_context(void **state)
{
    (void)state;
    struct ws_deflate_agreement a = {true, false, 10};
    z_stream z;
    memset(&z, 0, sizeof(z));
    assert_int_equal(deflateInit2(&z, 6, Z_DEFLATED, -10, 8, Z_DEFAULT_STRATEGY), Z_OK);
    struct ws_inflater *inf = NULL;
    const char *msgs[] = {"{\"type\":\"subscribe\",\"topics\":[\"a\"]}",
                          "{\"type\":\"subscribe\",\"topics\":[\"a\"]}", "{\"type\":\"ping\"}"};
    for (int i = 0; i < 3; i++) {
        uint8_t buf[256], *out = NULL;
        size_t len = client_deflate(&z, msgs[i], buf, sizeof(buf)), out_len = 0;
        assert_int_equal(ws_inflate(&inf, &a, buf, len, 1000, &out, &out_len), WS_INFLATE_OK);
        assert_int_equal(out_len, strlen(msgs[i]));
        assert_memory_equal(out, msgs[i], out_len);
        assert_non_null(inf); /* kept: the next message refers back to this one */
        free(out);
    }
    deflateEnd(&z);
    ws_inflater_free(inf);
}

static void test_inflate_without_context(void **state)
{
    (void)state;
    struct ws_deflate_agreement a = {true, true, 15};
    struct ws_inflater *inf = NULL;
    z_stream z;
    memset(&z, 0, sizeof(z));
    assert_int_equal(deflateInit2(&z, 6, Z_DEFLATED, -15, 8, Z_DEFAULT_STRATEGY), Z_OK);
    uint8_t buf[256], *out = NULL;
    size_t len = client_deflate(&z, "{\"type\":\"ping\"}", buf, sizeof(buf)), out_len = 0;
    assert_int_equal(ws_inflate(&inf, &a, buf, len, 1000, &out, &out_len), WS_INFLATE_OK);
    assert_null(inf); /* nothing kept between messages */
    assert_int_equal(out_len, 15);
    free(out);
    deflateEnd(&z);
}

static void test_inflate_limits(void **state)
{
    (void)state;
    struct ws_deflate_agreement a = {true, false, 15};
    /* A bomb: 1 MiB of zeros in about 1 KiB. */
    size_t big = 1 << 20;
    uint8_t *zeros = calloc(1, big);
    uLongf clen = compressBound(big);
    uint8_t *c = malloc(clen + 16);
    z_stream z;
    memset(&z, 0, sizeof(z));
    assert_int_equal(deflateInit2(&z, 9, Z_DEFLATED, -15, 8, Z_DEFAULT_STRATEGY), Z_OK);
    z.next_in = zeros;
    z.avail_in = (uInt)big;
    z.next_out = c;
    z.avail_out = (uInt)clen + 16;
    assert_int_equal(deflate(&z, Z_SYNC_FLUSH), Z_OK);
    size_t n = clen + 16 - z.avail_out - 4;
    deflateEnd(&z);
    assert_true(n < 4096);
    struct ws_inflater *inf = NULL;
    uint8_t *out = (uint8_t *)1;
    size_t out_len = 7;
    assert_int_equal(ws_inflate(&inf, &a, c, n, 65536, &out, &out_len), WS_INFLATE_TOO_BIG);
    assert_null(out);
    assert_int_equal(out_len, 0);
    assert_null(inf);
    /* Exactly at the limit is fine. */
    assert_int_equal(ws_inflate(&inf, &a, c, n, big, &out, &out_len), WS_INFLATE_OK);
    assert_int_equal(out_len, big);
    free(out);
    ws_inflater_free(inf);
    inf = NULL;
    assert_int_equal(ws_inflate(&inf, &a, c, n, big - 1, &out, &out_len), WS_INFLATE_TOO_BIG);
    /* Not deflate data. */
    static const uint8_t garbage[] = {0xff, 0xff, 0xff, 0xff, 0x00, 0x12};
    assert_int_equal(ws_inflate(&inf, &a, garbage, sizeof(garbage), 1000, &out, &out_len),
                     WS_INFLATE_BAD);
    assert_null(inf);
    free(c);
    free(zeros);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_negotiation),          cmocka_unit_test(test_frame_round_trip),
        cmocka_unit_test(test_inflate_with_context), cmocka_unit_test(test_inflate_without_context),
        cmocka_unit_test(test_inflate_limits),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
