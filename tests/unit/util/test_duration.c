/* test_duration.c: the duration syntax of every flag (src/util/duration.c). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>

#include "util/duration.h"

static uint64_t parse_ok(const char *text, uint64_t bare_unit_ms)
{
    uint64_t ms = 12345;
    if (duration_parse(text, bare_unit_ms, &ms) != 0)
        fail_msg("refused \"%s\"", text);
    return ms;
}

static void test_units(void **state)
{
    (void)state;
    static const struct {
        const char *text;
        uint64_t ms;
    } cases[] = {
        {"250ms", 250},           {"0ms", 0},        {"30s", 30000}, {"15m", 900000},
        {"1h", 3600000},          {"7d", 604800000}, {"1.5s", 1500}, {"0.25m", 15000},
        {"2.5h", 9000000},        {"0.001s", 1},     {"007s", 7000}, {"1.000s", 1000},
        {"365d", 31536000000ULL},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        uint64_t got = parse_ok(cases[i].text, DURATION_MS_PER_S);
        if (got != cases[i].ms)
            fail_msg("\"%s\": %llu ms, expected %llu", cases[i].text, (unsigned long long)got,
                     (unsigned long long)cases[i].ms);
    }
}

/* A bare number keeps the unit its flag always had: seconds for the
 * server's flags and ringcast-token, milliseconds for ringcast-pub. */
static void test_bare_number_takes_the_flags_unit(void **state)
{
    (void)state;
    assert_int_equal(parse_ok("90", DURATION_MS_PER_S), 90000);
    assert_int_equal(parse_ok("90", 1), 90);
    assert_int_equal(parse_ok("1.5", DURATION_MS_PER_S), 1500);
    assert_int_equal(parse_ok("0", DURATION_MS_PER_S), 0);
}

static void test_refused(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "",
        "s",
        "ms",
        "-1s",
        "+1s",
        " 1s",
        "1s ",
        "1 s",
        ".5s",
        "1.s",
        "1.5.0s",
        "1S",
        "1sec",
        "1y",
        "1w",
        "1hm",
        "1e3s",
        "0x10s",
        "1.5ms",
        "0.0001s",
        "1.2345678901s",
        "99999999999999999999ms",
        "200000000000d",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        uint64_t ms = 777;
        if (duration_parse(bad[i], DURATION_MS_PER_S, &ms) == 0)
            fail_msg("accepted \"%s\" as %llu ms", bad[i], (unsigned long long)ms);
        assert_int_equal(ms, 777); /* untouched */
    }
}

static void test_bounds(void **state)
{
    (void)state;
    uint64_t ms = 0;
    char text[32];
    snprintf(text, sizeof(text), "%llums", (unsigned long long)DURATION_MAX_MS);
    assert_int_equal(duration_parse(text, 1, &ms), 0);
    assert_true(ms == DURATION_MAX_MS);
    snprintf(text, sizeof(text), "%llums", (unsigned long long)DURATION_MAX_MS + 1);
    assert_int_equal(duration_parse(text, 1, &ms), -1);
    /* The largest whole number of days under the bound, and one more. */
    unsigned long long days = DURATION_MAX_MS / 86400000;
    snprintf(text, sizeof(text), "%llud", days);
    assert_int_equal(duration_parse(text, 1, &ms), 0);
    snprintf(text, sizeof(text), "%llud", days + 1);
    assert_int_equal(duration_parse(text, 1, &ms), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_units),
        cmocka_unit_test(test_bare_number_takes_the_flags_unit),
        cmocka_unit_test(test_refused),
        cmocka_unit_test(test_bounds),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
