/* test_tokenbucket.c: unit tests for src/util/tokenbucket.h, on a fake
 * clock: the burst, refilling at the rate, never below empty nor above
 * full, clocks that jump (back, or by years), and the extreme rates. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdbool.h>

#include "util/tokenbucket.h"

/* takes takes single tokens at |now| until one is refused (at most
 * |limit|); returns how many were taken. */
static uint32_t takes(struct tokenbucket *b, const struct tokenbucket_rate *r, int64_t now,
                      uint32_t limit)
{
    uint32_t n = 0;
    while (n < limit && tokenbucket_take(b, r, now, 1))
        n++;
    return n;
}

static void test_zeroed_bucket_holds_the_burst(void **state)
{
    const struct tokenbucket_rate r = {10, 5};
    struct tokenbucket b = {0};
    assert_int_equal(takes(&b, &r, 1000, 100), 5);
    assert_false(tokenbucket_take(&b, &r, 1000, 1));
    /* A zeroed bucket is full at any time, even at 0 or before. */
    struct tokenbucket c = {0};
    assert_int_equal(takes(&c, &r, 0, 100), 5);
    struct tokenbucket d = {0};
    assert_int_equal(takes(&d, &r, -5000, 100), 5);
    assert_int_equal(takes(&d, &r, -4901, 100), 0);
    assert_int_equal(takes(&d, &r, -4900, 100), 1); /* 100 ms later, one token */
}

static void test_refills_at_the_rate(void **state)
{
    const struct tokenbucket_rate r = {10, 5}; /* one token per 100 ms */
    struct tokenbucket b = {0};
    int64_t t = 50000;
    assert_int_equal(takes(&b, &r, t, 100), 5);
    assert_false(tokenbucket_take(&b, &r, t + 99, 1));
    assert_true(tokenbucket_take(&b, &r, t + 100, 1));
    assert_false(tokenbucket_take(&b, &r, t + 100, 1));
    /* Partial time is not lost: 150 ms then 50 ms make two tokens. */
    assert_int_equal(takes(&b, &r, t + 250, 100), 1);
    assert_int_equal(takes(&b, &r, t + 300, 100), 1);
    /* Over 10 s at one take per 100 ms every take succeeds, and the count
     * over a long run is exactly the rate. */
    uint32_t got = 0;
    for (int64_t now = t + 300; now <= t + 10300; now += 1)
        got += tokenbucket_take(&b, &r, now, 1);
    assert_int_equal(got, 100);
}

static void test_never_above_the_burst(void **state)
{
    const struct tokenbucket_rate r = {1000, 3};
    struct tokenbucket b = {0};
    assert_int_equal(takes(&b, &r, 0, 100), 3);
    /* An hour idle refills the burst, no more. */
    assert_int_equal(takes(&b, &r, 3600 * 1000, 100), 3);
    assert_int_equal(tokenbucket_full_at(&b, &r, 3600 * 1000), 3600 * 1000 + 3);
}

static void test_never_below_empty(void **state)
{
    const struct tokenbucket_rate r = {2, 4};
    struct tokenbucket b = {0};
    assert_true(tokenbucket_take(&b, &r, 0, 4));
    /* Refused takes take nothing, however many. */
    for (int i = 0; i < 1000; i++)
        assert_false(tokenbucket_take(&b, &r, 0, 1));
    assert_false(tokenbucket_take(&b, &r, 0, 3));
    /* So one token is back after 500 ms, not later. */
    assert_true(tokenbucket_take(&b, &r, 500, 1));
    /* Asking for more than is there takes nothing, then a smaller take
     * still works. */
    assert_true(tokenbucket_take(&b, &r, 1500, 1)); /* 2 were back */
    assert_false(tokenbucket_take(&b, &r, 1500, 2));
    assert_true(tokenbucket_take(&b, &r, 1500, 1));
    assert_false(tokenbucket_take(&b, &r, 1500, 1));
    /* More than the burst can never be taken. */
    struct tokenbucket full = {0};
    assert_false(tokenbucket_take(&full, &r, 0, 5));
    assert_int_equal(tokenbucket_wait_ms(&full, &r, 0, 5), INT64_MAX);
    assert_true(tokenbucket_take(&full, &r, 0, 4));
}

static void test_wait_and_full_at(void **state)
{
    const struct tokenbucket_rate r = {3, 6}; /* a token each 333.3 ms */
    struct tokenbucket b = {0};
    assert_int_equal(tokenbucket_wait_ms(&b, &r, 1000, 1), 0);
    assert_int_equal(tokenbucket_full_at(&b, &r, 1000), 1000);
    assert_true(tokenbucket_take(&b, &r, 1000, 6));
    assert_int_equal(tokenbucket_wait_ms(&b, &r, 1000, 1), 334); /* rounded up */
    assert_int_equal(tokenbucket_wait_ms(&b, &r, 1000, 6), 2000);
    assert_int_equal(tokenbucket_full_at(&b, &r, 1000), 3000);
    /* The wait is exact: at 333 ms the token is not there, at 334 it is. */
    assert_false(tokenbucket_take(&b, &r, 1333, 1));
    assert_true(tokenbucket_take(&b, &r, 1334, 1));
    assert_int_equal(tokenbucket_wait_ms(&b, &r, 1334, 1), 333);
}

static void test_clock_going_back_adds_nothing(void **state)
{
    const struct tokenbucket_rate r = {10, 2};
    struct tokenbucket b = {0};
    assert_int_equal(takes(&b, &r, 10000, 10), 2);
    /* Back in time, then forward to the last time: nothing was earned. */
    assert_false(tokenbucket_take(&b, &r, 5000, 1));
    assert_false(tokenbucket_take(&b, &r, 10000, 1));
    assert_false(tokenbucket_take(&b, &r, 10099, 1));
    assert_true(tokenbucket_take(&b, &r, 10100, 1));
}

static void test_no_limit(void **state)
{
    const struct tokenbucket_rate r = {0, 0};
    struct tokenbucket b = {0};
    for (int i = 0; i < 10000; i++)
        assert_true(tokenbucket_take(&b, &r, 0, UINT32_MAX));
    assert_int_equal(tokenbucket_wait_ms(&b, &r, 0, UINT32_MAX), 0);
    assert_int_equal(tokenbucket_full_at(&b, &r, 77), 77);
}

static void test_extremes_do_not_overflow(void **state)
{
    /* The largest rate and burst, takes of every size, and times across
     * the whole int64 range. */
    const struct tokenbucket_rate big = {UINT32_MAX, UINT32_MAX};
    struct tokenbucket b = {0};
    assert_true(tokenbucket_take(&b, &big, INT64_MIN, UINT32_MAX));
    assert_false(tokenbucket_take(&b, &big, INT64_MIN, 1));
    assert_int_equal(tokenbucket_wait_ms(&b, &big, INT64_MIN, UINT32_MAX), 1000);
    assert_true(tokenbucket_take(&b, &big, INT64_MAX, UINT32_MAX));        /* 2^64 ms later */
    assert_int_equal(tokenbucket_full_at(&b, &big, INT64_MAX), INT64_MAX); /* saturates */

    /* The slowest rate with the largest burst: 2^32 s to refill. */
    const struct tokenbucket_rate slow = {1, UINT32_MAX};
    struct tokenbucket s = {0};
    assert_true(tokenbucket_take(&s, &slow, 0, UINT32_MAX));
    assert_int_equal(tokenbucket_wait_ms(&s, &slow, 0, UINT32_MAX), (int64_t)UINT32_MAX * 1000);
    assert_int_equal(tokenbucket_full_at(&s, &slow, 0), (int64_t)UINT32_MAX * 1000);
    assert_false(tokenbucket_take(&s, &slow, 999, 1));
    assert_true(tokenbucket_take(&s, &slow, 1000, 1));
    assert_int_equal(tokenbucket_full_at(&s, &slow, INT64_MAX - 10), INT64_MAX - 10); /* full */
    assert_true(tokenbucket_take(&s, &slow, INT64_MAX - 10, UINT32_MAX));
    assert_int_equal(tokenbucket_full_at(&s, &slow, INT64_MAX - 10), INT64_MAX); /* saturates */

    /* An elapsed time whose product with the rate is a multiple of 2^64
     * (2^33 ms at 2^31 tokens a second): a bucket that multiplied first
     * would see nothing paid. */
    const struct tokenbucket_rate wrap = {1u << 31, 1};
    struct tokenbucket t = {0};
    assert_true(tokenbucket_take(&t, &wrap, 0, 1));
    assert_false(tokenbucket_take(&t, &wrap, 0, 1));
    assert_true(tokenbucket_take(&t, &wrap, (int64_t)1 << 33, 1));

    /* A burst that shrank below what a bucket owes (a new configuration)
     * counts as empty, never as negative. */
    const struct tokenbucket_rate wide = {1, 1000}, narrow = {1, 2};
    struct tokenbucket w = {0};
    assert_true(tokenbucket_take(&w, &wide, 0, 1000));
    assert_false(tokenbucket_take(&w, &narrow, 0, 1));
    assert_int_equal(tokenbucket_wait_ms(&w, &narrow, 0, 1), 1000);
    assert_true(tokenbucket_take(&w, &narrow, 1000, 1));
}

static void test_share(void **state)
{
    const struct tokenbucket_rate r = {10, 3};
    struct tokenbucket_rate s = tokenbucket_share(&r, 4);
    assert_int_equal(s.per_sec, 3); /* rounded up */
    assert_int_equal(s.burst, 1);
    s = tokenbucket_share(&r, 1);
    assert_int_equal(s.per_sec, 10);
    assert_int_equal(s.burst, 3);
    const struct tokenbucket_rate off = {0, 0};
    s = tokenbucket_share(&off, 8);
    assert_int_equal(s.per_sec, 0);
    const struct tokenbucket_rate max = {UINT32_MAX, UINT32_MAX};
    s = tokenbucket_share(&max, 3);
    assert_int_equal(s.per_sec, UINT32_MAX / 3);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_zeroed_bucket_holds_the_burst),
        cmocka_unit_test(test_refills_at_the_rate),
        cmocka_unit_test(test_never_above_the_burst),
        cmocka_unit_test(test_never_below_empty),
        cmocka_unit_test(test_wait_and_full_at),
        cmocka_unit_test(test_clock_going_back_adds_nothing),
        cmocka_unit_test(test_no_limit),
        cmocka_unit_test(test_extremes_do_not_overflow),
        cmocka_unit_test(test_share),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
