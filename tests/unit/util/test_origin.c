/* test_origin.c: unit tests for src/util/origin.h: what an origin list
 * accepts (and why it refuses the rest), "*", lower-casing, and matching
 * an Origin header's value exactly. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "util/origin.h"

static int find(const struct origin_list *l, const char *origin)
{
    return origin_list_find(l, origin, strlen(origin));
}

static void test_parses_names_and_star(void **state)
{
    (void)state;
    struct origin_list l;
    const char *error = NULL;
    assert_int_equal(origin_list_parse(&l,
                                       "https://App.Example.com, http://localhost:3000,*,"
                                       "http://[::1]:8080,http://127.0.0.1",
                                       &error),
                     0);
    assert_true(l.any);
    assert_int_equal(l.n, 4);
    assert_string_equal(l.origin[0], "https://app.example.com");
    assert_true(origin_list_given(&l));
    assert_int_equal(find(&l, "https://app.example.com"), 0);
    assert_int_equal(find(&l, "HTTPS://APP.EXAMPLE.COM"), 0);
    assert_int_equal(find(&l, "http://localhost:3000"), 1);
    assert_int_equal(find(&l, "http://[::1]:8080"), 2);
    assert_int_equal(find(&l, "http://127.0.0.1"), 3);
    /* Exact: another scheme, port, a suffix or a prefix is another origin. */
    assert_int_equal(find(&l, "http://app.example.com"), ORIGIN_UNLISTED);
    assert_int_equal(find(&l, "http://localhost:3001"), ORIGIN_UNLISTED);
    assert_int_equal(find(&l, "https://app.example.com.evil.test"), ORIGIN_UNLISTED);
    assert_int_equal(find(&l, "https://app.example.co"), ORIGIN_UNLISTED);
    assert_int_equal(find(&l, "*"), ORIGIN_UNLISTED);
    assert_int_equal(find(&l, "null"), ORIGIN_UNLISTED);
}

static void test_star_alone(void **state)
{
    (void)state;
    struct origin_list l;
    const char *error = NULL;
    assert_int_equal(origin_list_parse(&l, "*", &error), 0);
    assert_true(l.any);
    assert_int_equal(l.n, 0);
    assert_true(origin_list_given(&l));
    struct origin_list empty = {0};
    assert_false(origin_list_given(&empty));
}

static void test_refuses_what_is_not_an_origin(void **state)
{
    (void)state;
    const char *bad[] = {"app.example.com",
                         "https://app.example.com/",
                         "https://app.example.com/x",
                         "ftp://app.example.com",
                         "null",
                         "https://",
                         "https://a:0",
                         "https://a:65536",
                         "https://a:",
                         "https://a:8x",
                         "https://a b",
                         "http://[zz]",
                         "https://a,,https://b",
                         "",
                         "https://a@b"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct origin_list l;
        const char *error = NULL;
        if (origin_list_parse(&l, bad[i], &error) != -1)
            fail_msg("accepted '%s'", bad[i]);
        assert_non_null(error);
    }
}

static void test_list_bounds(void **state)
{
    (void)state;
    char text[40 * 24] = "";
    for (int i = 0; i < ORIGIN_LIST_MAX; i++)
        sprintf(text + strlen(text), "%shttp://h%d", i ? "," : "", i);
    struct origin_list l;
    const char *error = NULL;
    assert_int_equal(origin_list_parse(&l, text, &error), 0);
    assert_int_equal(l.n, ORIGIN_LIST_MAX);
    strcat(text, ",http://one-more");
    assert_int_equal(origin_list_parse(&l, text, &error), -1);
    char longest[ORIGIN_MAX_LEN + 2];
    memset(longest, 'a', sizeof(longest) - 1);
    memcpy(longest, "http://", 7);
    longest[ORIGIN_MAX_LEN] = '\0';
    assert_int_equal(origin_list_parse(&l, longest, &error), 0);
    longest[ORIGIN_MAX_LEN] = 'a';
    longest[ORIGIN_MAX_LEN + 1] = '\0';
    assert_int_equal(origin_list_parse(&l, longest, &error), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parses_names_and_star),
        cmocka_unit_test(test_star_alone),
        cmocka_unit_test(test_refuses_what_is_not_an_origin),
        cmocka_unit_test(test_list_bounds),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
