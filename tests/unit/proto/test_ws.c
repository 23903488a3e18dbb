/* test_ws.c: the RFC 6455 frame codec (src/proto/ws.c). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <string.h>

#include "util/utf8.h"
#include "proto/ws.h"

/* Parses |hdr| whole, then checks that every strict prefix asks for more. */
static int parse_all_prefixes(struct ws_frame_header *h, const uint8_t *hdr, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        struct ws_frame_header tmp;
        assert_int_equal(ws_parse_frame_header(&tmp, hdr, i), 0);
    }
    return ws_parse_frame_header(h, hdr, len);
}

/* ---- ws_parse_frame_header ----------------------------------------------- */

static void test_parse_len7(void **state)
{
    (void)state;
    const uint8_t masked[] = {0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 'x'};
    struct ws_frame_header h;
    assert_int_equal(parse_all_prefixes(&h, masked, 6), 6);
    assert_true(h.fin);
    assert_int_equal(h.rsv, 0);
    assert_int_equal(h.opcode, WS_OP_TEXT);
    assert_true(h.masked);
    assert_memory_equal(h.mask, ((const uint8_t[]){0x37, 0xfa, 0x21, 0x3d}), 4);
    assert_int_equal(h.payload_len, 5);
    assert_int_equal(h.header_len, 6);
    /* Trailing payload bytes do not change the answer. */
    assert_int_equal(ws_parse_frame_header(&h, masked, sizeof(masked)), 6);

    const uint8_t unmasked[] = {0x0a, 0x7d};
    assert_int_equal(parse_all_prefixes(&h, unmasked, 2), 2);
    assert_false(h.fin);
    assert_int_equal(h.opcode, WS_OP_PONG);
    assert_false(h.masked);
    assert_int_equal(h.payload_len, 125);
    assert_int_equal(h.header_len, 2);
}

static void test_parse_len16(void **state)
{
    (void)state;
    const uint8_t hdr[] = {0x72, 0xfe, 0x01, 0x00, 1, 2, 3, 4};
    struct ws_frame_header h;
    assert_int_equal(parse_all_prefixes(&h, hdr, sizeof(hdr)), 8);
    assert_false(h.fin);
    assert_int_equal(h.rsv, 7);
    assert_int_equal(h.opcode, WS_OP_BINARY);
    assert_true(h.masked);
    assert_int_equal(h.payload_len, 256);
    assert_int_equal(h.header_len, 8);
    assert_memory_equal(h.mask, ((const uint8_t[]){1, 2, 3, 4}), 4);

    const uint8_t max16[] = {0x82, 0x7e, 0xff, 0xff};
    assert_int_equal(parse_all_prefixes(&h, max16, sizeof(max16)), 4);
    assert_int_equal(h.payload_len, 65535);
    assert_false(h.masked);
}

static void test_parse_len64(void **state)
{
    (void)state;
    const uint8_t hdr[] = {0x80, 0xff, 0x7f, 0xee, 0xdd, 0xcc, 0xbb,
                           0xaa, 0x99, 0x88, 0xa1, 0xb2, 0xc3, 0xd4};
    struct ws_frame_header h;
    assert_int_equal(parse_all_prefixes(&h, hdr, sizeof(hdr)), WS_MAX_CLIENT_HEADER);
    assert_true(h.fin);
    assert_int_equal(h.opcode, WS_OP_CONTINUATION);
    assert_int_equal(h.payload_len, 0x7feeddccbbaa9988u);
    assert_int_equal(h.header_len, 14);
    assert_memory_equal(h.mask, ((const uint8_t[]){0xa1, 0xb2, 0xc3, 0xd4}), 4);

    const uint8_t unmasked[] = {0x82, 0x7f, 0, 0, 0, 0, 0, 1, 0, 0};
    assert_int_equal(parse_all_prefixes(&h, unmasked, sizeof(unmasked)), WS_MAX_HEADER);
    assert_int_equal(h.payload_len, 65536);
}

/* Lengths in a longer form than needed are the reader's business, not an
 * error of the parser. */
static void test_parse_non_minimal_length(void **state)
{
    (void)state;
    const uint8_t len16[] = {0x81, 0xfe, 0x00, 0x05, 0, 0, 0, 0};
    const uint8_t len64[] = {0x81, 0xff, 0, 0, 0, 0, 0, 0, 0, 0x05, 0, 0, 0, 0};
    struct ws_frame_header h;
    assert_int_equal(ws_parse_frame_header(&h, len16, sizeof(len16)), 8);
    assert_int_equal(h.payload_len, 5);
    assert_int_equal(ws_parse_frame_header(&h, len64, sizeof(len64)), 14);
    assert_int_equal(h.payload_len, 5);
}

/* The top bit of a 64-bit length is an error as soon as its byte is seen. */
static void test_parse_top_bit_length(void **state)
{
    (void)state;
    const uint8_t hdr[] = {0x82, 0xff, 0x80, 0, 0, 0, 0, 0, 0, 0, 1, 2, 3, 4};
    struct ws_frame_header h;
    assert_int_equal(ws_parse_frame_header(&h, hdr, 2), 0);
    for (size_t len = 3; len <= sizeof(hdr); len++)
        assert_int_equal(ws_parse_frame_header(&h, hdr, len), -1);

    const uint8_t largest[] = {0x82, 0x7f, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
    assert_int_equal(ws_parse_frame_header(&h, largest, sizeof(largest)), 10);
    assert_int_equal(h.payload_len, INT64_MAX);
}

static void test_parse_fields(void **state)
{
    (void)state;
    struct ws_frame_header h;
    for (unsigned b0 = 0; b0 < 256; b0++) {
        const uint8_t hdr[] = {(uint8_t)b0, 0x80, 9, 8, 7, 6};
        assert_int_equal(ws_parse_frame_header(&h, hdr, sizeof(hdr)), 6);
        assert_int_equal(h.fin, (b0 & 0x80) != 0);
        assert_int_equal(h.rsv, (b0 >> 4) & 7);
        assert_int_equal(h.opcode, b0 & 0x0f);
        assert_int_equal(h.payload_len, 0);
    }
}

/* ---- ws_build_header --------------------------------------------------- */

static void test_build_header_lengths(void **state)
{
    (void)state;
    struct {
        uint64_t len;
        size_t header_len;
        uint8_t bytes[WS_MAX_HEADER];
    } cases[] = {
        {0, 2, {0x81, 0x00}},
        {125, 2, {0x81, 0x7d}},
        {126, 4, {0x81, 0x7e, 0x00, 0x7e}},
        {65535, 4, {0x81, 0x7e, 0xff, 0xff}},
        {65536, 10, {0x81, 0x7f, 0, 0, 0, 0, 0, 0x01, 0x00, 0x00}},
        {0x0123456789abcdefu, 10, {0x81, 0x7f, 0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef}},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        uint8_t out[WS_MAX_HEADER];
        memset(out, 0xaa, sizeof(out));
        assert_int_equal(ws_header_len(cases[i].len), cases[i].header_len);
        assert_int_equal(ws_build_header(out, WS_OP_TEXT, true, cases[i].len), cases[i].header_len);
        assert_memory_equal(out, cases[i].bytes, cases[i].header_len);

        struct ws_frame_header h;
        assert_int_equal(ws_parse_frame_header(&h, out, cases[i].header_len),
                         (int)cases[i].header_len);
        assert_int_equal(h.payload_len, cases[i].len);
        assert_false(h.masked);
        assert_true(h.fin);
    }
}

static void test_build_header_opcode_fin(void **state)
{
    (void)state;
    uint8_t out[WS_MAX_HEADER];
    assert_int_equal(ws_build_header(out, WS_OP_BINARY, false, 3), 2);
    assert_int_equal(out[0], 0x02);
    assert_int_equal(ws_build_header(out, WS_OP_CONTINUATION, true, 3), 2);
    assert_int_equal(out[0], 0x80);
    assert_int_equal(ws_build_header(out, WS_OP_PING, true, 0), 2);
    assert_int_equal(out[0], 0x89);
    assert_int_equal(ws_build_header(out, WS_OP_CLOSE, true, 2), 2);
    assert_int_equal(out[0], 0x88);
    assert_int_equal(out[1], 0x02);
}

/* ---- ws_unmask --------------------------------------------------------------- */

static void naive_unmask(uint8_t *data, size_t len, const uint8_t mask[4], uint64_t offset)
{
    for (size_t i = 0; i < len; i++)
        data[i] ^= mask[(offset + i) % 4];
}

static void fill(uint8_t *p, size_t len, uint32_t seed)
{
    for (size_t i = 0; i < len; i++) {
        seed = seed * 1664525u + 1013904223u;
        p[i] = (uint8_t)(seed >> 24);
    }
}

/* Every payload offset 0..7, every buffer alignment 0..7, lengths that
 * cover the head, the word loop and the tail, against the naive loop. The
 * bytes around the range must stay untouched. */
static void test_unmask_offsets_and_alignments(void **state)
{
    (void)state;
    static const uint8_t mask[4] = {0x12, 0x34, 0x56, 0x78};
    uint8_t got[128 + 16], want[128 + 16];
    for (uint64_t offset = 0; offset < 8; offset++) {
        for (size_t align = 0; align < 8; align++) {
            for (size_t len = 0; len <= 128; len++) {
                fill(got, sizeof(got), (uint32_t)(offset * 1000 + align * 200 + len));
                memcpy(want, got, sizeof(got));
                ws_unmask(got + align, len, mask, offset);
                naive_unmask(want + align, len, mask, offset);
                assert_memory_equal(got, want, sizeof(got));
            }
        }
    }
}

static void test_unmask_large_offset(void **state)
{
    (void)state;
    static const uint8_t mask[4] = {0xa1, 0xb2, 0xc3, 0xd4};
    uint8_t got[64], want[64];
    fill(got, sizeof(got), 7);
    memcpy(want, got, sizeof(got));
    uint64_t offset = (UINT64_C(1) << 40) + 3;
    ws_unmask(got + 1, 50, mask, offset);
    naive_unmask(want + 1, 50, mask, offset);
    assert_memory_equal(got, want, sizeof(got));
}

/* Unmasking piece by piece, with the right offsets, equals unmasking whole,
 * and unmasking twice restores the input. */
static void test_unmask_piecewise(void **state)
{
    (void)state;
    static const uint8_t mask[4] = {0xde, 0xad, 0xbe, 0xef};
    uint8_t orig[300], whole[300], pieces[300];
    fill(orig, sizeof(orig), 99);
    memcpy(whole, orig, sizeof(orig));
    ws_unmask(whole, sizeof(whole), mask, 0);
    for (size_t step = 1; step < 20; step++) {
        memcpy(pieces, orig, sizeof(orig));
        for (size_t at = 0; at < sizeof(pieces); at += step) {
            size_t n = sizeof(pieces) - at < step ? sizeof(pieces) - at : step;
            ws_unmask(pieces + at, n, mask, at);
        }
        assert_memory_equal(pieces, whole, sizeof(whole));
    }
    ws_unmask(whole, sizeof(whole), mask, 0);
    assert_memory_equal(whole, orig, sizeof(orig));
    ws_unmask(NULL, 0, mask, 0); /* nothing to do, nothing touched */
}

/* ---- ws_build_close ---------------------------------------------------------- */

static void check_close(const uint8_t *frame, size_t frame_len, uint16_t code, const char *reason,
                        size_t reason_len)
{
    assert_int_equal(frame_len, 2 + 2 + reason_len);
    assert_int_equal(frame[0], 0x88);
    assert_int_equal(frame[1], 2 + reason_len);
    assert_int_equal(frame[2] << 8 | frame[3], code);
    assert_memory_equal(frame + 4, reason, reason_len);
    assert_true(utf8_valid(frame + 4, reason_len));
}

static void test_close_build(void **state)
{
    (void)state;
    uint8_t out[2 + WS_MAX_CONTROL_PAYLOAD];

    assert_int_equal(ws_build_close(out, 0, "ignored"), 2);
    assert_int_equal(out[0], 0x88);
    assert_int_equal(out[1], 0x00);

    check_close(out, ws_build_close(out, 1000, NULL), 1000, "", 0);
    check_close(out, ws_build_close(out, 1000, ""), 1000, "", 0);
    check_close(out, ws_build_close(out, 1002, "bad frame"), 1002, "bad frame", 9);
    check_close(out, ws_build_close(out, 4001, "slow consumer"), 4001, "slow consumer", 13);
}

static void test_close_build_truncation(void **state)
{
    (void)state;
    uint8_t out[2 + WS_MAX_CONTROL_PAYLOAD + 16]; /* the extra must stay untouched */
    char reason[400];

    /* ASCII: exactly 123 fits, 124 and more are cut to 123. */
    for (size_t len = 120; len < 130; len++) {
        memset(reason, 'r', len);
        reason[len] = '\0';
        memset(out, 0xee, sizeof(out));
        size_t n = ws_build_close(out, 1000, reason);
        size_t want = len < 123 ? len : 123;
        check_close(out, n, 1000, reason, want);
        assert_true(n <= 2 + WS_MAX_CONTROL_PAYLOAD);
        assert_int_equal(out[2 + WS_MAX_CONTROL_PAYLOAD], 0xee);
    }

    /* Multi-byte characters at every phase against the 123-byte cut: the
     * result is the longest whole-character prefix that fits. */
    static const char *chars[] = {"\xc3\xa9", "\xe2\x82\xac", "\xf0\x9f\x98\x80"};
    for (size_t c = 0; c < 3; c++) {
        size_t clen = strlen(chars[c]);
        for (size_t lead = 0; lead < 4; lead++) {
            size_t len = 0;
            memset(reason, 'a', lead);
            len = lead;
            while (len + clen < sizeof(reason) - 1) {
                memcpy(reason + len, chars[c], clen);
                len += clen;
            }
            reason[len] = '\0';
            size_t want = lead + (123 - lead) / clen * clen;
            size_t n = ws_build_close(out, 1001, reason);
            check_close(out, n, 1001, reason, want);
        }
    }
}

/* ---- ws_close_code_valid ----------------------------------------------------- */

static void test_close_code_table(void **state)
{
    (void)state;
    for (uint32_t code = 0; code <= UINT16_MAX; code++) {
        bool want = (code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1011) ||
                    (code >= 3000 && code <= 4999);
        if (ws_close_code_valid((uint16_t)code) != want)
            fail_msg("close code %u", (unsigned)code);
    }
    /* The edges, spelled out. */
    assert_false(ws_close_code_valid(0));
    assert_false(ws_close_code_valid(999));
    assert_true(ws_close_code_valid(1000));
    assert_true(ws_close_code_valid(1003));
    assert_false(ws_close_code_valid(1004));
    assert_false(ws_close_code_valid(1005));
    assert_false(ws_close_code_valid(1006));
    assert_true(ws_close_code_valid(1007));
    assert_true(ws_close_code_valid(1011));
    assert_false(ws_close_code_valid(1012));
    assert_false(ws_close_code_valid(1015));
    assert_false(ws_close_code_valid(1016));
    assert_false(ws_close_code_valid(2999));
    assert_true(ws_close_code_valid(3000));
    assert_true(ws_close_code_valid(4999));
    assert_false(ws_close_code_valid(5000));
    assert_false(ws_close_code_valid(65535));
}

/* ---- ws_accept_key ----------------------------------------------------------- */

static void test_accept_key_rfc_example(void **state)
{
    (void)state;
    char out[WS_ACCEPT_LEN + 1];
    const char *key = "dGhlIHNhbXBsZSBub25jZQ==";
    assert_int_equal(ws_accept_key(out, key, strlen(key)), 0);
    assert_string_equal(out, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
}

static void test_accept_key_other(void **state)
{
    (void)state;
    /* A second pair, computed independently (Python's hashlib and base64). */
    char out[WS_ACCEPT_LEN + 1];
    const char *key = "AAAAAAAAAAAAAAAAAAAAAA==";
    assert_int_equal(ws_accept_key(out, key, strlen(key)), 0);
    assert_int_equal(strlen(out), WS_ACCEPT_LEN);
    assert_string_equal(out, "ICX+Yqv66kxgM0FcWaLWlFLwTAI=");
}

static void test_accept_key_bad(void **state)
{
    (void)state;
    static const char *bad[] = {
        "",
        "dGhlIHNhbXBsZSBub25jZQ=",   /* 23 characters */
        "dGhlIHNhbXBsZSBub25jZQ===", /* 25 */
        "dGhlIHNhbXBsZSBub25jZQ",    /* no padding */
        "AAAAAAAAAAAAAAAAAAAAAAA=",  /* 17 bytes */
        "AAAAAAAAAAAAAAAAAAAAAAAA",  /* 18 bytes */
        "dGhlIHNhbXBsZSBub25jZQ!=",  /* not base64 */
        "dGhlIHNhbXBsZSBub25jZ Q=",  /* a space inside */
        "dGhlIHNhbXBsZSBub2==jZQ",   /* padding in the middle */
        "=dGhlIHNhbXBsZSBub25jZQ=",
        "dGhlIHNhbXBsZSBub25jZQ\r\n",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        char out[WS_ACCEPT_LEN + 1];
        memset(out, 'z', sizeof(out));
        assert_int_equal(ws_accept_key(out, bad[i], strlen(bad[i])), -1);
        for (size_t k = 0; k < sizeof(out); k++)
            assert_int_equal(out[k], 'z'); /* nothing written */
    }
    char out[WS_ACCEPT_LEN + 1];
    assert_int_equal(ws_accept_key(out, NULL, 24), -1);
    /* The length given counts, not the NUL: a good key with a short length. */
    assert_int_equal(ws_accept_key(out, "dGhlIHNhbXBsZSBub25jZQ==", 23), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_len7),
        cmocka_unit_test(test_parse_len16),
        cmocka_unit_test(test_parse_len64),
        cmocka_unit_test(test_parse_non_minimal_length),
        cmocka_unit_test(test_parse_top_bit_length),
        cmocka_unit_test(test_parse_fields),
        cmocka_unit_test(test_build_header_lengths),
        cmocka_unit_test(test_build_header_opcode_fin),
        cmocka_unit_test(test_unmask_offsets_and_alignments),
        cmocka_unit_test(test_unmask_large_offset),
        cmocka_unit_test(test_unmask_piecewise),
        cmocka_unit_test(test_close_build),
        cmocka_unit_test(test_close_build_truncation),
        cmocka_unit_test(test_close_code_table),
        cmocka_unit_test(test_accept_key_rfc_example),
        cmocka_unit_test(test_accept_key_other),
        cmocka_unit_test(test_accept_key_bad),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
