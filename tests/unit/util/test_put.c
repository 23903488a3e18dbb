/* test_put.c: the response writer without formatting (src/util/put.c). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "util/put.h"

static void test_pieces_and_numbers(void **state)
{
    char buf[64];
    struct put w = put_init(buf, sizeof(buf));
    (void)state;

    put_str(&w, "seq=");
    put_u64(&w, 0);
    put_bytes(&w, ",", 1);
    put_u64(&w, 1234567890123ull);
    put_bytes(&w, ",", 1);
    put_u64(&w, UINT64_MAX);
    assert_false(w.over);
    assert_int_equal(w.len, strlen("seq=0,1234567890123,18446744073709551615"));
    assert_memory_equal(buf, "seq=0,1234567890123,18446744073709551615", w.len);
}

/* What does not fit is not written, and nothing after it either. */
static void test_over_stops_writing(void **state)
{
    char buf[8];
    struct put w = put_init(buf, 6);
    (void)state;

    memset(buf, '#', sizeof(buf));
    put_str(&w, "abcd");
    put_u64(&w, 123);
    assert_true(w.over);
    put_str(&w, "e");
    assert_true(w.over);
    assert_int_equal(w.len, 4);
    assert_memory_equal(buf, "abcd##", 6);
    w = put_init(buf, 6);
    put_str(&w, "abc");
    put_u64(&w, 987);
    assert_false(w.over);
    assert_int_equal(w.len, 6);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pieces_and_numbers),
        cmocka_unit_test(test_over_stops_writing),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
