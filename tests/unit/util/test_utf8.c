/* test_utf8.c: the incremental UTF-8 validator (src/utf8.c). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "util/utf8.h"

/* ---- a reference, written the slow and obvious way ---------------------- */

/* ref_valid decodes each character by its lead byte and checks the code
 * point against the rules of RFC 3629 (shortest form, no surrogates, at most
 * U+10FFFF). It shares no logic with the state machine under test. */
static bool ref_valid(const uint8_t *p, size_t len)
{
    size_t i = 0;
    while (i < len) {
        uint8_t b = p[i];
        size_t n;
        uint32_t cp, min;
        if (b < 0x80) {
            i++;
            continue;
        } else if ((b & 0xe0) == 0xc0) {
            n = 2, cp = b & 0x1f, min = 0x80;
        } else if ((b & 0xf0) == 0xe0) {
            n = 3, cp = b & 0x0f, min = 0x800;
        } else if ((b & 0xf8) == 0xf0) {
            n = 4, cp = b & 0x07, min = 0x10000;
        } else {
            return false;
        }
        if (len - i < n)
            return false;
        for (size_t k = 1; k < n; k++) {
            if ((p[i + k] & 0xc0) != 0x80)
                return false;
            cp = cp << 6 | (p[i + k] & 0x3f);
        }
        if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
            return false;
        i += n;
    }
    return true;
}

static size_t encode(uint8_t out[4], uint32_t cp)
{
    if (cp < 0x80) {
        out[0] = (uint8_t)cp;
        return 1;
    }
    if (cp < 0x800) {
        out[0] = (uint8_t)(0xc0 | cp >> 6);
        out[1] = (uint8_t)(0x80 | (cp & 0x3f));
        return 2;
    }
    if (cp < 0x10000) {
        out[0] = (uint8_t)(0xe0 | cp >> 12);
        out[1] = (uint8_t)(0x80 | (cp >> 6 & 0x3f));
        out[2] = (uint8_t)(0x80 | (cp & 0x3f));
        return 3;
    }
    out[0] = (uint8_t)(0xf0 | cp >> 18);
    out[1] = (uint8_t)(0x80 | (cp >> 12 & 0x3f));
    out[2] = (uint8_t)(0x80 | (cp >> 6 & 0x3f));
    out[3] = (uint8_t)(0x80 | (cp & 0x3f));
    return 4;
}

/* fail_index feeds |p| one byte at a time and returns the index of the byte
 * at which utf8_feed first said false, or |len| if it never did. */
static size_t fail_index(const uint8_t *p, size_t len)
{
    struct utf8_state st;
    utf8_init(&st);
    for (size_t i = 0; i < len; i++) {
        if (!utf8_feed(&st, p + i, 1))
            return i;
    }
    return len;
}

#define BYTES(...) ((const uint8_t[]){__VA_ARGS__}), sizeof((const uint8_t[]){__VA_ARGS__})

/* ---- tests ---------------------------------------------------------------- */

static void test_empty_and_ascii(void **state)
{
    (void)state;
    assert_true(utf8_valid(NULL, 0));
    assert_true(utf8_valid((const uint8_t *)"", 0));
    const char *s = "{\"type\":\"subscribe\",\"topics\":[\"a.b\"]}";
    assert_true(utf8_valid((const uint8_t *)s, strlen(s)));

    struct utf8_state st;
    utf8_init(&st);
    assert_true(utf8_at_boundary(&st));
    assert_true(utf8_feed(&st, NULL, 0));
    assert_true(utf8_at_boundary(&st));
}

static void test_boundary_code_points(void **state)
{
    (void)state;
    static const uint32_t cps[] = {0x0,    0x7f,   0x80,   0x7ff,   0x800,    0xd7ff,
                                   0xe000, 0xfffd, 0xffff, 0x10000, 0x10ffff, 0x1f600};
    for (size_t i = 0; i < sizeof(cps) / sizeof(cps[0]); i++) {
        uint8_t b[4];
        size_t n = encode(b, cps[i]);
        assert_true(utf8_valid(b, n));
    }
}

static void test_every_code_point(void **state)
{
    (void)state;
    for (uint32_t cp = 0; cp <= 0x10ffff; cp++) {
        uint8_t b[4];
        size_t n = encode(b, cp);
        bool surrogate = cp >= 0xd800 && cp <= 0xdfff;
        if (utf8_valid(b, n) == surrogate)
            fail_msg("U+%04X judged %s", (unsigned)cp, surrogate ? "valid" : "invalid");
    }
}

/* Each invalid sequence fails at the first byte that decides it. */
static void test_fail_fast_positions(void **state)
{
    (void)state;
    struct {
        const uint8_t *p;
        size_t len;
        size_t at;
    } cases[] = {
        {BYTES(0xc0, 0x80), 0},             /* overlong NUL */
        {BYTES(0xc1, 0xbf), 0},             /* overlong U+007F */
        {BYTES(0xe0, 0x80, 0x80), 1},       /* overlong 3-byte */
        {BYTES(0xe0, 0x9f, 0xbf), 1},       /* overlong U+07FF */
        {BYTES(0xed, 0xa0, 0x80), 1},       /* U+D800 */
        {BYTES(0xed, 0xbf, 0xbf), 1},       /* U+DFFF */
        {BYTES(0xf0, 0x80, 0x80, 0x80), 1}, /* overlong 4-byte */
        {BYTES(0xf0, 0x8f, 0xbf, 0xbf), 1}, /* overlong U+FFFF */
        {BYTES(0xf4, 0x90, 0x80, 0x80), 1}, /* U+110000 */
        {BYTES(0xf5, 0x80, 0x80, 0x80), 0},
        {BYTES(0xff), 0},
        {BYTES(0xfe), 0},
        {BYTES(0x80), 0}, /* lone continuation */
        {BYTES(0xbf), 0},
        {BYTES(0x41, 0xc2, 0x41), 2}, /* lead byte, then ASCII */
        {BYTES(0xe1, 0x80, 0x41), 2},
        {BYTES(0xf1, 0x80, 0x80, 0xc2), 3}, /* lead where a continuation belongs */
        {BYTES(0xc2, 0x80, 0x80), 2},       /* one continuation too many */
        {BYTES(0xce, 0xba, 0xe1, 0xbd, 0xb9, 0xcf, 0x83, 0xce, 0xbc, 0xce, 0xb5, 0xed, 0xa0, 0x80,
               0x65, 0x64, 0x69, 0x74, 0x65, 0x64),
         12}, /* the Autobahn "κόσμε" + surrogate case */
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        assert_int_equal(fail_index(cases[i].p, cases[i].len), cases[i].at);
        assert_false(utf8_valid(cases[i].p, cases[i].len));
    }
}

static void test_truncated_is_not_boundary(void **state)
{
    (void)state;
    struct {
        const uint8_t *p;
        size_t len;
    } cases[] = {
        {BYTES(0xc2)},       {BYTES(0xe1, 0x80)}, {BYTES(0xe0, 0xa0)}, {BYTES(0xf1, 0x80, 0x80)},
        {BYTES(0xf4, 0x8f)}, {BYTES(0x41, 0xf0)},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct utf8_state st;
        utf8_init(&st);
        assert_true(utf8_feed(&st, cases[i].p, cases[i].len));
        assert_false(utf8_at_boundary(&st));
        assert_false(utf8_valid(cases[i].p, cases[i].len));
    }
}

static void test_reject_is_sticky(void **state)
{
    (void)state;
    struct utf8_state st;
    utf8_init(&st);
    assert_false(utf8_feed(&st, BYTES(0xc0)));
    assert_false(utf8_feed(&st, (const uint8_t *)"abc", 3));
    assert_false(utf8_feed(&st, NULL, 0));
    assert_false(utf8_at_boundary(&st));
    utf8_init(&st);
    assert_true(utf8_feed(&st, (const uint8_t *)"abc", 3));
}

/* A valid text split at every point, in two and in three pieces. */
static void test_split_everywhere(void **state)
{
    (void)state;
    const char *s = "a\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80z\xf4\x8f\xbf\xbf";
    const uint8_t *p = (const uint8_t *)s;
    size_t len = strlen(s);
    for (size_t i = 0; i <= len; i++) {
        for (size_t j = i; j <= len; j++) {
            struct utf8_state st;
            utf8_init(&st);
            assert_true(utf8_feed(&st, p, i));
            assert_true(utf8_feed(&st, p + i, j - i));
            assert_true(utf8_feed(&st, p + j, len - j));
            assert_true(utf8_at_boundary(&st));
        }
    }
}

/* A bad byte in a long ASCII run, at every position and alignment, so the
 * eight-bytes-at-a-time path is checked at its edges. */
static void test_ascii_fast_path_edges(void **state)
{
    (void)state;
    uint8_t buf[80];
    for (size_t start = 0; start < 8; start++) {
        for (size_t bad = 0; bad < 64; bad++) {
            memset(buf, 'x', sizeof(buf));
            uint8_t *p = buf + start;
            p[bad] = 0xff;
            assert_false(utf8_valid(p, 64));
            assert_int_equal(fail_index(p, 64), bad);
            p[bad] = 'x';
            assert_true(utf8_valid(p, 64));
            if (bad == 63)
                continue;
            /* A valid two-byte character straddling every word edge. */
            p[bad] = 0xc3;
            p[bad + 1] = 0xa9;
            assert_true(utf8_valid(p, 64));
            /* Truncated: the run ends inside the character. */
            assert_false(utf8_valid(p, bad + 1));
        }
    }
}

/* Every sequence of one, two and three bytes, against the reference. */
static void test_exhaustive_short_sequences(void **state)
{
    (void)state;
    uint8_t b[3];
    for (unsigned x = 0; x < 256; x++) {
        b[0] = (uint8_t)x;
        assert_int_equal(utf8_valid(b, 1), ref_valid(b, 1));
        for (unsigned y = 0; y < 256; y++) {
            b[1] = (uint8_t)y;
            assert_int_equal(utf8_valid(b, 2), ref_valid(b, 2));
            for (unsigned z = 0; z < 256; z++) {
                b[2] = (uint8_t)z;
                if (utf8_valid(b, 3) != ref_valid(b, 3))
                    fail_msg("%02x %02x %02x", x, y, z);
            }
        }
    }
}

/* Random strings biased toward UTF-8-looking bytes, whole and split. */
static void test_random_against_reference(void **state)
{
    (void)state;
    static const uint8_t interesting[] = {0x00, 0x41, 0x7f, 0x80, 0x8f, 0x90, 0x9f, 0xa0, 0xbf,
                                          0xc0, 0xc1, 0xc2, 0xdf, 0xe0, 0xe1, 0xec, 0xed, 0xee,
                                          0xef, 0xf0, 0xf1, 0xf3, 0xf4, 0xf5, 0xff};
    uint32_t seed = 12345;
    uint8_t buf[24];
    for (int iter = 0; iter < 200000; iter++) {
        size_t len = 0;
        seed = seed * 1103515245u + 12345u;
        size_t want = (seed >> 16) % sizeof(buf);
        while (len < want) {
            seed = seed * 1103515245u + 12345u;
            uint32_t r = seed >> 8;
            buf[len++] = (r & 1) ? interesting[(r >> 1) % sizeof(interesting)]
                                 : (uint8_t)(0x80 | (r >> 3 & 0x3f));
        }
        bool expect = ref_valid(buf, len);
        assert_int_equal(utf8_valid(buf, len), expect);
        size_t cut = len ? (seed >> 3) % (len + 1) : 0;
        struct utf8_state st;
        utf8_init(&st);
        bool ok = utf8_feed(&st, buf, cut) && utf8_feed(&st, buf + cut, len - cut) &&
                  utf8_at_boundary(&st);
        assert_int_equal(ok, expect);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_empty_and_ascii),
        cmocka_unit_test(test_boundary_code_points),
        cmocka_unit_test(test_every_code_point),
        cmocka_unit_test(test_fail_fast_positions),
        cmocka_unit_test(test_truncated_is_not_boundary),
        cmocka_unit_test(test_reject_is_sticky),
        cmocka_unit_test(test_split_everywhere),
        cmocka_unit_test(test_ascii_fast_path_edges),
        cmocka_unit_test(test_exhaustive_short_sequences),
        cmocka_unit_test(test_random_against_reference),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
