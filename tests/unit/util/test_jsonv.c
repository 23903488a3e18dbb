/* test_jsonv.c: the JSON validator and member scanner against RFC 8259. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "util/jsonv.h"

static bool valid(const char *text)
{
    return jsonv_valid((const uint8_t *)text, strlen(text));
}

static void test_accepts_the_grammar(void **state)
{
    (void)state;
    static const char *const texts[] = {
        "0",
        "-0",
        "1",
        "-12.5e-3",
        "1E+9",
        "0.0",
        "123456789012345678901234567890",
        "18446744073709551616",
        "1e400",
        "-1e-400",
        "true",
        "false",
        "null",
        "\"\"",
        "\"a\\\"b\\\\c\\/d\\b\\f\\n\\r\\t\"",
        "\"\\u00e9\\uD83D\\uDE00\"",
        "\"\\ud800\"",
        "\"\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\"",
        "[]",
        "{}",
        " \t\r\n[ 1 , { \"a\" : [ ] } ] \n",
        "{\"a\":1,\"a\":2}",
        "[[[[[[[[[[1]]]]]]]]]]",
        "{\"\":null}",
    };
    for (size_t i = 0; i < sizeof(texts) / sizeof(texts[0]); i++)
        if (!valid(texts[i]))
            fail_msg("refused valid JSON: %s", texts[i]);
}

static void test_refuses_what_is_not_json(void **state)
{
    (void)state;
    static const char *const texts[] = {
        "",          " ",
        "01",        "-",
        "1.",        ".5",
        "1e",        "1e+",
        "+1",        "0x10",
        "NaN",       "Infinity",
        "tru",       "nul",
        "truex",     "\"",
        "\"abc",     "\"\\x\"",
        "\"\\u12\"", "\"\\u12G4\"",
        "\"a\tb\"",  "\"\x01\"",
        "[",         "[1,]",
        "[,1]",      "{\"a\"}",
        "{\"a\":}",  "{\"a\":1,}",
        "{a:1}",     "{'a':1}",
        "[1 2]",     "{\"a\":1 \"b\":2}",
        "1 2",       "[]]",
        "{}}",       "\"\xff\"",
        "\"\xc3\"",  "\xef\xbb\xbf{}",
        "/*c*/1",    "[1]x",
    };
    for (size_t i = 0; i < sizeof(texts) / sizeof(texts[0]); i++)
        if (valid(texts[i]))
            fail_msg("accepted invalid JSON: %s", texts[i]);
    assert_false(jsonv_valid((const uint8_t *)"1\0", 2)); /* NUL outside a string */
    assert_false(jsonv_valid((const uint8_t *)"\"a\0b\"", 5));
}

/* Every byte value at every place of a string body, across the 8-byte
 * words the scanner skips at once and the tail after them: only printable
 * ASCII other than '"' and '\\' keeps "aaa..." a valid string. */
static void test_string_bytes_everywhere(void **state)
{
    (void)state;
    for (size_t len = 1; len <= 19; len++) {
        for (size_t at = 0; at < len; at++) {
            for (unsigned b = 0; b < 256; b++) {
                uint8_t text[24];
                text[0] = '"';
                memset(text + 1, 'a', len);
                text[1 + at] = (uint8_t)b;
                text[1 + len] = '"';
                bool plain = b >= 0x20 && b < 0x80 && b != '"' && b != '\\';
                if (jsonv_valid(text, len + 2) != plain)
                    fail_msg("byte 0x%02x at %zu of %zu", b, at, len);
            }
        }
    }
    /* Unterminated: plain text up to the very end, whole words or not
     * (read in a buffer of exactly that size, so ASan sees any overread). */
    for (size_t len = 0; len <= 24; len++) {
        uint8_t *open = malloc(len + 1);
        assert_non_null(open);
        open[0] = '"';
        memset(open + 1, 'a', len);
        assert_false(jsonv_valid(open, len + 1));
        free(open);
    }
    /* Multi-byte UTF-8 inside a long string stays string text. */
    const char *utf8 = "\"caf\xc3\xa9 \xe2\x82\xac and \xf0\x9f\x98\x80, twice: caf\xc3\xa9\"";
    assert_true(jsonv_valid((const uint8_t *)utf8, strlen(utf8)));
}

static void test_depth_limit(void **state)
{
    (void)state;
    size_t n = JSONV_MAX_DEPTH;
    char *text = malloc(2 * n + 4); /* room to nest one level deeper */
    memset(text, '[', n);
    memset(text + n, ']', n);
    text[2 * n] = '\0';
    assert_true(valid(text));
    memmove(text + 1, text, 2 * n + 1);
    text[0] = '[';
    strcat(text, "]");
    assert_false(valid(text)); /* one level deeper */
    free(text);
}

struct collected {
    int count;
    struct jsonv_member m[8];
};

static void collect(void *ctx, const struct jsonv_member *m)
{
    struct collected *c = ctx;
    if (c->count < 8)
        c->m[c->count] = *m;
    c->count++;
}

static void expect_member(const struct jsonv_member *m, const char *key, const char *value,
                          enum jsonv_type type)
{
    assert_int_equal(m->key_len, strlen(key));
    assert_memory_equal(m->key, key, m->key_len);
    assert_int_equal(m->value_len, strlen(value));
    assert_memory_equal(m->value, value, m->value_len);
    assert_int_equal(m->type, type);
}

static void test_members_as_written(void **state)
{
    (void)state;
    const char *text = " { \"id\" : \"j-1\" , \"n\":18446744073709551616,\"o\":{\"x\":[1,{}]},"
                       "\"a\":[ 1 ],\"t\":true,\"z\":null,\"k\\\\\":\"v\\\"\" } ";
    struct collected c = {0};
    assert_true(jsonv_each_member((const uint8_t *)text, strlen(text), collect, &c));
    assert_int_equal(c.count, 7);
    expect_member(&c.m[0], "id", "\"j-1\"", JSONV_STRING);
    expect_member(&c.m[1], "n", "18446744073709551616", JSONV_NUMBER);
    expect_member(&c.m[2], "o", "{\"x\":[1,{}]}", JSONV_OBJECT);
    expect_member(&c.m[3], "a", "[ 1 ]", JSONV_ARRAY);
    expect_member(&c.m[4], "t", "true", JSONV_TRUE);
    expect_member(&c.m[5], "z", "null", JSONV_NULL);
    expect_member(&c.m[6], "k\\\\", "\"v\\\"\"", JSONV_STRING);
    assert_true(jsonv_key_is(&c.m[6], "k\\"));
    c.count = 0;
    assert_false(jsonv_each_member((const uint8_t *)"[1]", 3, collect, &c));
    assert_true(jsonv_each_member((const uint8_t *)"{}", 2, collect, &c));
    assert_int_equal(c.count, 0);
}

static void test_unescape(void **state)
{
    (void)state;
    char out[64];
    const char *raw = "a\\\"b\\\\\\/\\n\\u00e9\\uD83D\\uDE00\\ud800x";
    long len = jsonv_unescape((const uint8_t *)raw, strlen(raw), out, sizeof(out));
    const char *want = "a\"b\\/\n\xc3\xa9\xf0\x9f\x98\x80\xef\xbf\xbdx";
    assert_int_equal(len, (long)strlen(want));
    assert_memory_equal(out, want, (size_t)len);
    assert_int_equal(jsonv_unescape((const uint8_t *)"abcd", 4, out, 3), -1);
    struct jsonv_member m = {(const uint8_t *)"\\u0069d", 7, NULL, 0, JSONV_NULL};
    assert_true(jsonv_key_is(&m, "id"));
    assert_false(jsonv_key_is(&m, "i"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_accepts_the_grammar),
        cmocka_unit_test(test_refuses_what_is_not_json),
        cmocka_unit_test(test_string_bytes_everywhere),
        cmocka_unit_test(test_depth_limit),
        cmocka_unit_test(test_members_as_written),
        cmocka_unit_test(test_unescape),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
