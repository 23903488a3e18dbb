/* test_tlscert.c: unit tests for src/io/tlscert.c: which certificate a
 * server name (SNI) gets. Includes the .c to build sets by hand. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <string.h>

#include "io/tlscert.c"

static void name(struct tlscert_pair *p, const char *n)
{
    add_name(p, (const unsigned char *)n, strlen(n));
}

static void test_exact_and_wildcard_names(void **state)
{
    (void)state;
    struct tlscert_pair pairs[2] = {0};
    name(&pairs[0], "alpha.test");
    name(&pairs[1], "beta.test");
    name(&pairs[1], "*.beta.test");
    struct tlscert_set set = {pairs, 2};
    assert_ptr_equal(tlscert_set_choose(&set, "alpha.test"), &pairs[0]);
    assert_ptr_equal(tlscert_set_choose(&set, "ALPHA.Test"), &pairs[0]);
    assert_ptr_equal(tlscert_set_choose(&set, "beta.test"), &pairs[1]);
    assert_ptr_equal(tlscert_set_choose(&set, "api.beta.test"), &pairs[1]);
    /* A wildcard covers one label, never two or none. */
    assert_null(tlscert_set_choose(&set, "a.b.beta.test"));
    assert_null(tlscert_set_choose(&set, ".beta.test"));
    assert_null(tlscert_set_choose(&set, "gamma.test"));
    assert_null(tlscert_set_choose(&set, "alpha.test.evil"));
}

static void test_no_name_gets_the_first_and_one_pair_serves_any_name(void **state)
{
    (void)state;
    struct tlscert_pair pairs[2] = {0};
    name(&pairs[0], "alpha.test");
    name(&pairs[1], "beta.test");
    struct tlscert_set two = {pairs, 2}, one = {pairs, 1};
    assert_ptr_equal(tlscert_set_choose(&two, NULL), &pairs[0]);
    assert_ptr_equal(tlscert_set_choose(&one, "whatever.example"), &pairs[0]);
    assert_ptr_equal(tlscert_set_choose(&one, NULL), &pairs[0]);
}

static void test_names_with_nul_or_too_long_are_ignored(void **state)
{
    (void)state;
    struct tlscert_pair p = {0};
    add_name(&p, (const unsigned char *)"a\0b.test", 8);
    char longer[TLSCERT_NAME_MAX + 1];
    memset(longer, 'x', sizeof(longer));
    add_name(&p, (const unsigned char *)longer, sizeof(longer));
    add_name(&p, (const unsigned char *)"", 0);
    assert_int_equal(p.num_names, 0);
}

static void test_a_missing_file_is_reported(void **state)
{
    (void)state;
    struct tlscert_set set;
    const char *certs[] = {"/nonexistent/cert.pem"}, *keys[] = {"/nonexistent/key.pem"};
    char err[256];
    assert_int_equal(tlscert_set_load(&set, certs, keys, 1, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "/nonexistent/cert.pem"));
    assert_null(set.pairs);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_exact_and_wildcard_names),
        cmocka_unit_test(test_no_name_gets_the_first_and_one_pair_serves_any_name),
        cmocka_unit_test(test_names_with_nul_or_too_long_are_ignored),
        cmocka_unit_test(test_a_missing_file_is_reported),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
