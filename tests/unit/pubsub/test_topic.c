/* test_topic.c: unit tests for src/pubsub/topic.h (topic names, patterns and the
 * reference matcher). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pubsub/topic.h"

#define MAX_LEN 256
#define MAX_SEG 32

static enum topic_status check(const char *s)
{
    return topic_validate(s, strlen(s), MAX_LEN, MAX_SEG);
}

static enum topic_status check_pattern(const char *s)
{
    return topic_validate_pattern(s, strlen(s), MAX_LEN, MAX_SEG);
}

static void expect_status(const char *s, enum topic_status topic_want,
                          enum topic_status pattern_want)
{
    enum topic_status t = check(s), p = check_pattern(s);
    if (t != topic_want || p != pattern_want)
        fail_msg("'%s': topic %d (want %d), pattern %d (want %d)", s, t, topic_want, p,
                 pattern_want);
}

static void test_ok_examples(void **state)
{
    static const char *const ok[] = {
        "a",
        "Z",
        "0",
        "customer_id:42:call:7",
        "module.entity.created",
        "a:b.c",
        "a.b:c",
        "user@example.com",
        "k=v+w/x~y-z_0",
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789",
        "_",
        "-",
        "@",
        "=",
        "+",
        "/",
        "~",
        "a/b/c",
        "x.y.z.w.v.u.t",
    };
    for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
        expect_status(ok[i], TOPIC_OK, TOPIC_OK); /* a topic is also a valid subscription */
        assert_false(topic_is_pattern(ok[i], strlen(ok[i])));
    }
}

static void test_empty(void **state)
{
    assert_int_equal(topic_validate("", 0, MAX_LEN, MAX_SEG), TOPIC_EMPTY);
    assert_int_equal(topic_validate("abc", 0, MAX_LEN, MAX_SEG), TOPIC_EMPTY); /* len, not NUL */
    assert_int_equal(topic_validate("", 0, 0, 0), TOPIC_EMPTY);
    assert_int_equal(topic_validate_pattern("", 0, MAX_LEN, MAX_SEG), TOPIC_EMPTY);
}

static void test_empty_segments(void **state)
{
    static const char *const bad[] = {
        ":",    ".",    "::",   "..",   ":a",   ".a",   "a:",     "a.", "a::b",
        "a..b", "a:.b", "a.:b", "a:b:", "a.b.", ":a:b", "a:b::c", ".:", "a.b..c.d",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        expect_status(bad[i], TOPIC_EMPTY_SEGMENT, TOPIC_EMPTY_SEGMENT);
    /* In patterns too. */
    static const char *const bad_patterns[] = {"*.", ".*", "a..*", "*::>", ".>"};
    for (size_t i = 0; i < sizeof(bad_patterns) / sizeof(bad_patterns[0]); i++)
        if (check_pattern(bad_patterns[i]) != TOPIC_EMPTY_SEGMENT)
            fail_msg("pattern '%s': %d, want empty segment", bad_patterns[i],
                     check_pattern(bad_patterns[i]));
}

static void test_bad_chars(void **state)
{
    static const char *const bad[] = {
        "a b",         "a\tb",         "a,b",
        "a;b",         "a#b",          "a$b",
        "a%b",         "a&b",          "a!b",
        "a?b",         "a\"b",         "a'b",
        "a\\b",        "a|b",          "a(b",
        "a)b",         "a[b",          "a]b",
        "a{b",         "a}b",          "a<b",
        "a^b",         "a`b",          " a",
        "a ",          "a\n",          "\r",
        "a\x7f",       "\xff",         "\x80",
        "caf\xc3\xa9", "\xe2\x82\xac", "x.\xf0\x9f\x98\x80",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        expect_status(bad[i], TOPIC_BAD_CHAR, TOPIC_BAD_CHAR);
    /* An embedded NUL is a character like any other: judged by length. */
    assert_int_equal(topic_validate("a\0b", 3, MAX_LEN, MAX_SEG), TOPIC_BAD_CHAR);
    assert_int_equal(topic_validate("ab\0", 3, MAX_LEN, MAX_SEG), TOPIC_BAD_CHAR);
    assert_int_equal(topic_validate("ab\0", 2, MAX_LEN, MAX_SEG), TOPIC_OK);
    assert_int_equal(topic_validate_pattern("*.\0", 3, MAX_LEN, MAX_SEG), TOPIC_BAD_CHAR);
    /* A bad character in a pattern's literal segment. */
    assert_int_equal(check_pattern("a.*.b c"), TOPIC_BAD_CHAR);
}

/* Wildcards: never in a topic; in a pattern only as whole segments, and
 * '>' only last. */
static void test_wildcards(void **state)
{
    static const char *const whole[] = {
        "*", ">", "a.*", "a.>", "*.b", "a:*:c", "*.*.>", "customer_id:42:>", "a.*.b.>", "*:>",
    };
    for (size_t i = 0; i < sizeof(whole) / sizeof(whole[0]); i++) {
        expect_status(whole[i], TOPIC_WILDCARD, TOPIC_OK);
        assert_true(topic_is_pattern(whole[i], strlen(whole[i])));
    }
    static const char *const inside[] = {"a*", "*a", "a*b",  "**",   ">>",
                                         "a>", ">a", "a.b*", "x.*>", "*.a>"};
    for (size_t i = 0; i < sizeof(inside) / sizeof(inside[0]); i++)
        expect_status(inside[i], TOPIC_WILDCARD, TOPIC_BAD_WILDCARD);
    static const char *const not_last[] = {">.a", "a.>.b", "a:>:>", ">.*", "*.>.*"};
    for (size_t i = 0; i < sizeof(not_last) / sizeof(not_last[0]); i++)
        expect_status(not_last[i], TOPIC_WILDCARD, TOPIC_WILDCARD_NOT_LAST);
}

/* Every byte value alone and between two letters. */
static void test_every_byte(void **state)
{
    for (int c = 0; c < 256; c++) {
        char alone[1] = {(char)c};
        char mid[3] = {'a', (char)c, 'b'};
        bool alnum = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
        bool special = c && strchr("_-@=+/~", c) != NULL;
        bool sep = c == ':' || c == '.';
        bool wild = c == '*' || c == '>';
        enum topic_status t_alone, t_mid, p_alone, p_mid;
        if (alnum || special) {
            t_alone = t_mid = p_alone = p_mid = TOPIC_OK;
        } else if (sep) {
            t_alone = p_alone = TOPIC_EMPTY_SEGMENT;
            t_mid = p_mid = TOPIC_OK;
        } else if (wild) {
            t_alone = t_mid = TOPIC_WILDCARD;
            p_alone = TOPIC_OK;
            p_mid = TOPIC_BAD_WILDCARD;
        } else {
            t_alone = t_mid = p_alone = p_mid = TOPIC_BAD_CHAR;
        }
        enum topic_status ta = topic_validate(alone, 1, MAX_LEN, MAX_SEG);
        enum topic_status tm = topic_validate(mid, 3, MAX_LEN, MAX_SEG);
        enum topic_status pa = topic_validate_pattern(alone, 1, MAX_LEN, MAX_SEG);
        enum topic_status pm = topic_validate_pattern(mid, 3, MAX_LEN, MAX_SEG);
        if (ta != t_alone || tm != t_mid || pa != p_alone || pm != p_mid)
            fail_msg("byte 0x%02x: topic %d/%d (want %d/%d), pattern %d/%d (want %d/%d)", c, ta, tm,
                     t_alone, t_mid, pa, pm, p_alone, p_mid);
        assert_int_equal(topic_is_separator((char)c), sep);
    }
}

static void test_length_limit(void **state)
{
    static char buf[70000];
    memset(buf, 'x', sizeof(buf));
    assert_int_equal(topic_validate(buf, 256, 256, MAX_SEG), TOPIC_OK);
    assert_int_equal(topic_validate(buf, 257, 256, MAX_SEG), TOPIC_TOO_LONG);
    assert_int_equal(topic_validate_pattern(buf, 257, 256, MAX_SEG), TOPIC_TOO_LONG);
    assert_int_equal(topic_validate(buf, 1, 1, MAX_SEG), TOPIC_OK);
    assert_int_equal(topic_validate(buf, 2, 1, MAX_SEG), TOPIC_TOO_LONG);
    assert_int_equal(topic_validate(buf, 65535, 65535, MAX_SEG), TOPIC_OK);
    assert_int_equal(topic_validate(buf, 65536, 65535, MAX_SEG), TOPIC_TOO_LONG);
    /* With separators the limit counts every byte. */
    for (size_t i = 1; i < 256; i += 2)
        buf[i] = '.';
    buf[255] = 'y';
    assert_int_equal(topic_validate(buf, 256, 256, 128), TOPIC_OK);
    assert_int_equal(topic_validate(buf, 256, 255, 128), TOPIC_TOO_LONG);
}

static void test_segment_limit(void **state)
{
    assert_int_equal(topic_validate("a.b.c", 5, MAX_LEN, 3), TOPIC_OK);
    assert_int_equal(topic_validate("a.b.c.d", 7, MAX_LEN, 3), TOPIC_TOO_MANY_SEGMENTS);
    assert_int_equal(topic_validate("a:b", 3, MAX_LEN, 1), TOPIC_TOO_MANY_SEGMENTS);
    assert_int_equal(topic_validate("ab", 2, MAX_LEN, 1), TOPIC_OK);
    assert_int_equal(topic_validate_pattern("a.*.>", 5, MAX_LEN, 3), TOPIC_OK);
    assert_int_equal(topic_validate_pattern("a.*.*.>", 7, MAX_LEN, 3), TOPIC_TOO_MANY_SEGMENTS);

    /* The largest limit the server allows. */
    static char buf[2 * (TOPIC_MAX_SEGMENTS_LIMIT + 1)];
    for (size_t i = 0; i < sizeof(buf); i += 2) {
        buf[i] = 's';
        buf[i + 1] = i % 4 ? ':' : '.';
    }
    size_t len_max = 2 * TOPIC_MAX_SEGMENTS_LIMIT - 1; /* 255 segments */
    assert_int_equal(topic_validate(buf, len_max, 4096, TOPIC_MAX_SEGMENTS_LIMIT), TOPIC_OK);
    assert_int_equal(topic_validate(buf, len_max + 2, 4096, TOPIC_MAX_SEGMENTS_LIMIT),
                     TOPIC_TOO_MANY_SEGMENTS);
}

static void test_status_text(void **state)
{
    enum topic_status all[] = {
        TOPIC_OK,       TOPIC_EMPTY,         TOPIC_TOO_LONG,
        TOPIC_BAD_CHAR, TOPIC_EMPTY_SEGMENT, TOPIC_TOO_MANY_SEGMENTS,
        TOPIC_WILDCARD, TOPIC_BAD_WILDCARD,  TOPIC_WILDCARD_NOT_LAST,
    };
    size_t n = sizeof(all) / sizeof(all[0]);
    for (size_t i = 0; i < n; i++) {
        const char *t = topic_status_text(all[i]);
        assert_non_null(t);
        assert_true(strlen(t) > 0);
        for (size_t j = 0; j < i; j++)
            assert_string_not_equal(t, topic_status_text(all[j]));
    }
    assert_non_null(topic_status_text((enum topic_status)99));
}

static void expect_split(const char *name, size_t max, size_t want_n, const char *const *want)
{
    struct topic_segment seg[8];
    size_t n = topic_split(name, strlen(name), seg, max);
    if (n != want_n)
        fail_msg("split '%s' max %zu: %zu segments, want %zu", name, max, n, want_n);
    for (size_t i = 0; i < n && i < max; i++) {
        if (seg[i].len != strlen(want[i]) || memcmp(seg[i].text, want[i], seg[i].len) != 0)
            fail_msg("split '%s': segment %zu is '%.*s', want '%s'", name, i, (int)seg[i].len,
                     seg[i].text, want[i]);
    }
}

static void test_split(void **state)
{
    const char *const one[] = {"abc"};
    expect_split("abc", 8, 1, one);
    const char *const three[] = {"a", ":bb", ".c"};
    expect_split("a:bb.c", 8, 3, three);
    expect_split("a:bb.c", 3, 3, three);
    expect_split("a:bb.c", 2, 3, three); /* max + 1: more than room */
    const char *const pat[] = {"customer_id", ":42", ":*", ":>"};
    expect_split("customer_id:42:*:>", 8, 4, pat);
    struct topic_segment seg[1];
    assert_int_equal(topic_split("abc", 3, seg, 0), 1);
    assert_int_equal(topic_split("", 0, seg, 1), 0);

    struct topic_segment s1 = {"abc", 3}, s2 = {":x", 2}, s3 = {".*", 2}, s4 = {"*", 1};
    assert_int_equal(topic_segment_sep(&s1), 0);
    assert_int_equal(topic_segment_sep(&s2), ':');
    assert_int_equal(topic_segment_sep(&s3), '.');
    assert_true(topic_segment_is(&s3, '*'));
    assert_true(topic_segment_is(&s4, '*'));
    assert_true(topic_segment_is(&s2, 'x'));
    assert_false(topic_segment_is(&s1, 'a'));
}

static bool matches(const char *pattern, const char *topic)
{
    return topic_matches(pattern, strlen(pattern), topic, strlen(topic));
}

static void test_matches_table(void **state)
{
    static const struct {
        const char *pattern, *topic;
        bool match;
    } cases[] = {
        /* exact */
        {"a", "a", true},
        {"a", "b", false},
        {"a", "ab", false},
        {"a.b", "a.b", true},
        {"a.b", "a:b", false},
        {"a.b", "a.b.c", false},
        /* "*" alone: everything */
        {"*", "a", true},
        {"*", "a.b.c", true},
        {"*", "x:y", true},
        /* '*': exactly one segment, same separators */
        {"customer_id:42:call:*", "customer_id:42:call:7", true},
        {"customer_id:42:call:*", "customer_id:42:call", false},
        {"customer_id:42:call:*", "customer_id:42:call:7:x", false},
        {"customer_id:42:call:*", "customer_id:42:call.7", false},
        {"a:*", "a:b", true},
        {"a:*", "a.b", false},
        {"*.b", "a.b", true},
        {"*.b", "a:b", false},
        {"*.b", "b", false},
        {"*.*", "a.b", true},
        {"*.*", "a.b.c", false},
        {"a.*.c", "a.b.c", true},
        {"a.*.c", "a.b.d", false},
        {"a.*.c", "a.b:c", false},
        /* '>': one or more trailing segments */
        {"customer_id:42:>", "customer_id:42:call:7", true},
        {"customer_id:42:>", "customer_id:42:x", true},
        {"customer_id:42:>", "customer_id:42", false},
        {"customer_id:42:>", "customer_id:43:x", false},
        {"a.>", "a.b", true},
        {"a.>", "a.b:c.d", true},
        {"a.>", "a:b", false},
        {"a.>", "a", false},
        {"a.>", "ab.c", false},
        {">", "a", true},
        {">", "a.b", true},
        {"*.>", "a.b", true},
        {"*.>", "a", false},
        {"*:>", "a.b", false},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        if (matches(cases[i].pattern, cases[i].topic) != cases[i].match)
            fail_msg("'%s' vs '%s': want %d", cases[i].pattern, cases[i].topic, cases[i].match);
    }
}

/* ---- Randomized check of topic_matches against a model. ---- */

struct seg_model {
    char sep; /* 0 for the first */
    char text[4];
};

static size_t model_split(const char *s, struct seg_model *out)
{
    size_t n = 0, k = 0;
    out[0].sep = 0;
    for (const char *p = s;; p++) {
        if (*p == '\0' || *p == '.' || *p == ':') {
            out[n].text[k] = '\0';
            n++;
            if (*p == '\0')
                return n;
            out[n].sep = *p;
            k = 0;
        } else {
            out[n].text[k++] = *p;
        }
    }
}

static bool model_match(const char *pattern, const char *topic)
{
    struct seg_model p[16], t[16];
    size_t np = model_split(pattern, p), nt = model_split(topic, t);
    if (np == 1 && strcmp(p[0].text, "*") == 0)
        return true;
    for (size_t i = 0; i < np; i++) {
        if (strcmp(p[i].text, ">") == 0)
            return i < nt && p[i].sep == t[i].sep; /* '>' is last in a valid pattern */
        if (i >= nt || p[i].sep != t[i].sep)
            return false;
        if (strcmp(p[i].text, "*") != 0 && strcmp(p[i].text, t[i].text) != 0)
            return false;
    }
    return np == nt;
}

static void random_name(unsigned *seed, char *out, bool pattern)
{
    static const char *const words[] = {"a", "b", "ab"};
    int nseg = 1 + rand_r(seed) % 4;
    size_t len = 0;
    for (int i = 0; i < nseg; i++) {
        if (i > 0)
            out[len++] = rand_r(seed) % 2 ? '.' : ':';
        int r = rand_r(seed) % 6;
        const char *w = words[r % 3];
        if (pattern && r == 3)
            w = "*";
        else if (pattern && r == 4 && i == nseg - 1)
            w = ">";
        memcpy(out + len, w, strlen(w));
        len += strlen(w);
    }
    out[len] = '\0';
}

static void test_matches_randomized(void **state)
{
    unsigned seed = 2024;
    char p[32], t[32];
    int hits = 0;
    for (int i = 0; i < 200000; i++) {
        random_name(&seed, p, true);
        random_name(&seed, t, false);
        assert_int_equal(topic_validate_pattern(p, strlen(p), MAX_LEN, MAX_SEG), TOPIC_OK);
        assert_int_equal(check(t), TOPIC_OK);
        bool want = model_match(p, t);
        if (matches(p, t) != want)
            fail_msg("'%s' vs '%s': want %d", p, t, want);
        hits += want;
        /* A topic used as a pattern matches exactly itself. */
        assert_int_equal(matches(t, t), true);
    }
    assert_true(hits > 1000); /* the generator does produce matches */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ok_examples),    cmocka_unit_test(test_empty),
        cmocka_unit_test(test_empty_segments), cmocka_unit_test(test_bad_chars),
        cmocka_unit_test(test_wildcards),      cmocka_unit_test(test_every_byte),
        cmocka_unit_test(test_length_limit),   cmocka_unit_test(test_segment_limit),
        cmocka_unit_test(test_status_text),    cmocka_unit_test(test_split),
        cmocka_unit_test(test_matches_table),  cmocka_unit_test(test_matches_randomized),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
