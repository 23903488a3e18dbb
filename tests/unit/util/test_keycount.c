/* test_keycount.c: unit tests for src/util/keycount.h: counts per key,
 * entries freed when nobody holds them (at once, or after their linger
 * deadline), a table that never passes its size, and churn that leaves
 * nothing behind (the leak checker of the sanitized unit suite sees every
 * entry). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/hash.h"
#include "util/keycount.h"

struct data {
    uint64_t a, b;
};

static struct keycount_entry *acquire(struct keycount *kc, const char *key, int64_t now)
{
    return keycount_acquire(kc, key, strlen(key), now);
}

static struct keycount_entry *find(struct keycount *kc, const char *key)
{
    return keycount_find(kc, key, strlen(key));
}

static void test_counts_and_frees_at_zero(void **state)
{
    struct keycount kc;
    keycount_init(&kc, 100, 0);
    struct keycount_entry *a = acquire(&kc, "10.0.0.1", 0);
    assert_non_null(a);
    assert_int_equal(a->count, 1);
    assert_ptr_equal(acquire(&kc, "10.0.0.1", 0), a);
    assert_int_equal(a->count, 2);
    struct keycount_entry *b = acquire(&kc, "10.0.0.2", 0);
    assert_ptr_not_equal(a, b);
    assert_int_equal(keycount_size(&kc), 2);
    assert_ptr_equal(find(&kc, "10.0.0.1"), a);
    assert_null(find(&kc, "10.0.0.3"));
    /* Keys are whole byte strings: a prefix is another key. */
    assert_null(find(&kc, "10.0.0."));
    keycount_release(&kc, a, 0, 0);
    assert_int_equal(a->count, 1);
    assert_int_equal(keycount_size(&kc), 2);
    keycount_release(&kc, a, 0, 0);
    assert_null(find(&kc, "10.0.0.1")); /* freed at 0 */
    assert_int_equal(keycount_size(&kc), 1);
    keycount_release(&kc, b, 0, 0);
    assert_int_equal(keycount_size(&kc), 0);
    assert_int_equal(kc.num_idle, 0);
    keycount_cleanup(&kc);
}

static void test_binary_keys(void **state)
{
    struct keycount kc;
    keycount_init(&kc, 10, 0);
    const uint8_t k1[5] = {4, 127, 0, 0, 1}, k2[5] = {4, 127, 0, 0, 2}, k3[3] = {0, 0, 0};
    struct keycount_entry *e1 = keycount_acquire(&kc, k1, sizeof(k1), 0);
    struct keycount_entry *e2 = keycount_acquire(&kc, k2, sizeof(k2), 0);
    struct keycount_entry *e3 = keycount_acquire(&kc, k3, sizeof(k3), 0);
    struct keycount_entry *empty = keycount_acquire(&kc, "", 0, 0);
    assert_true(e1 && e2 && e3 && empty);
    assert_true(e1 != e2 && e2 != e3 && e3 != empty);
    assert_ptr_equal(keycount_find(&kc, k3, 2), NULL);
    assert_ptr_equal(keycount_find(&kc, "", 0), empty);
    keycount_cleanup(&kc); /* frees held entries too */
}

static void test_data_is_zeroed_and_aligned(void **state)
{
    struct keycount kc;
    keycount_init(&kc, 10, sizeof(struct data));
    struct keycount_entry *e = acquire(&kc, "sub-1", 0);
    struct data *d = keycount_data(e);
    assert_int_equal((uintptr_t)d % _Alignof(max_align_t), 0);
    assert_int_equal(d->a, 0);
    assert_int_equal(d->b, 0);
    d->a = 7;
    d->b = 9;
    /* The key survives the data being written (they do not overlap). */
    assert_ptr_equal(find(&kc, "sub-1"), e);
    assert_int_equal(((struct data *)keycount_data(find(&kc, "sub-1")))->b, 9);
    /* Freed and made again: zeroed again. */
    keycount_release(&kc, e, 0, 0);
    e = acquire(&kc, "sub-1", 0);
    d = keycount_data(e);
    assert_int_equal(d->a, 0);
    keycount_cleanup(&kc);
}

static void test_linger_until_the_deadline(void **state)
{
    struct keycount kc;
    keycount_init(&kc, 10, sizeof(struct data));
    struct keycount_entry *e = acquire(&kc, "alice", 1000);
    ((struct data *)keycount_data(e))->a = 42;
    keycount_release(&kc, e, 1500, 1000); /* kept until 1500 */
    assert_int_equal(keycount_size(&kc), 1);
    assert_int_equal(kc.num_idle, 1);
    /* Coming back before the deadline finds the same entry, data and all. */
    e = acquire(&kc, "alice", 1200);
    assert_int_equal(((struct data *)keycount_data(e))->a, 42);
    assert_int_equal(kc.num_idle, 0);
    keycount_release(&kc, e, 1600, 1300);
    assert_int_equal(keycount_sweep(&kc, 1599), 0);
    assert_non_null(find(&kc, "alice"));
    assert_int_equal(keycount_sweep(&kc, 1600), 1);
    assert_null(find(&kc, "alice"));
    assert_int_equal(kc.num_idle, 0);
    /* A deadline already past frees at once. */
    e = acquire(&kc, "bob", 2000);
    keycount_release(&kc, e, 2000, 2000);
    assert_int_equal(keycount_size(&kc), 0);
    /* A held entry is never swept, whatever its old deadline. */
    e = acquire(&kc, "carol", 0);
    e->linger_until_ms = 0;
    assert_int_equal(keycount_sweep(&kc, 1000000), 0);
    assert_ptr_equal(find(&kc, "carol"), e);
    keycount_cleanup(&kc); /* frees held and idle entries */
}

static void test_table_never_passes_its_size(void **state)
{
    struct keycount kc;
    keycount_init(&kc, 3, 0);
    struct keycount_entry *held[3];
    char key[16];
    for (int i = 0; i < 3; i++) {
        snprintf(key, sizeof(key), "k%d", i);
        held[i] = acquire(&kc, key, 0);
        assert_non_null(held[i]);
    }
    assert_null(acquire(&kc, "k3", 0));     /* full of held entries */
    assert_non_null(acquire(&kc, "k0", 0)); /* an existing key still counts */
    keycount_release(&kc, held[0], 0, 0);
    /* An idle entry makes room only once its deadline passed. */
    keycount_release(&kc, held[1], 500, 0);
    assert_int_equal(keycount_size(&kc), 3);
    assert_null(acquire(&kc, "k3", 499));
    assert_non_null(find(&kc, "k1"));
    struct keycount_entry *k3 = acquire(&kc, "k3", 500); /* sweeps k1 */
    assert_non_null(k3);
    assert_null(find(&kc, "k1"));
    assert_int_equal(keycount_size(&kc), 3);
    keycount_cleanup(&kc);
}

static void test_too_long_key(void **state)
{
    struct keycount kc;
    keycount_init(&kc, 3, 0);
    static char big[KEYCOUNT_MAX_KEY + 1];
    memset(big, 'x', sizeof(big));
    assert_null(keycount_acquire(&kc, big, sizeof(big), 0));
    struct keycount_entry *e = keycount_acquire(&kc, big, KEYCOUNT_MAX_KEY, 0);
    assert_non_null(e);
    assert_ptr_equal(keycount_find(&kc, big, KEYCOUNT_MAX_KEY), e);
    keycount_cleanup(&kc);
}

/* An attacker cycling through fresh keys, each held a moment: the table
 * holds only what is held or lingering, and sweeps in any order free every
 * entry (checked against a reference count per key). */
static void test_churn_leaves_nothing(void **state)
{
    enum { KEYS = 3000, ROUNDS = 40000 };
    struct keycount kc;
    keycount_init(&kc, KEYS, sizeof(struct data));
    static struct keycount_entry *held[KEYS][4];
    static int num_held[KEYS];
    uint64_t x = 0x9e3779b97f4a7c15ull;
    uint32_t live_keys = 0;
    char key[32];
    for (int64_t now = 0; now < ROUNDS; now++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        uint32_t k = (uint32_t)(x % KEYS);
        snprintf(key, sizeof(key), "key-%u", k);
        if (num_held[k] < 4 && (x >> 32) % 3 != 0) {
            struct keycount_entry *e = acquire(&kc, key, now);
            assert_non_null(e); /* never full: at most KEYS distinct keys */
            if (num_held[k] == 0 && !find(&kc, key))
                fail();
            live_keys += num_held[k] == 0;
            held[k][num_held[k]++] = e;
            assert_int_equal(e->count, num_held[k]);
        } else if (num_held[k] > 0) {
            struct keycount_entry *e = held[k][--num_held[k]];
            live_keys -= num_held[k] == 0;
            /* Half of the releases linger for up to 50 ticks. */
            keycount_release(&kc, e, (x >> 40) % 2 ? now + (int64_t)((x >> 48) % 50) : 0, now);
        }
        if (now % 97 == 0)
            keycount_sweep(&kc, now);
        /* Everything in the table is held or lingering within 50 ticks. */
        assert_true(keycount_size(&kc) >= live_keys);
        assert_true(keycount_size(&kc) - kc.num_idle == live_keys);
    }
    for (uint32_t k = 0; k < KEYS; k++)
        while (num_held[k] > 0)
            keycount_release(&kc, held[k][--num_held[k]], 0, ROUNDS);
    keycount_sweep(&kc, ROUNDS + 50);
    assert_int_equal(keycount_size(&kc), 0);
    assert_int_equal(kc.num_idle, 0);
    keycount_cleanup(&kc);
}

int main(void)
{
    rc_hash_init();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_counts_and_frees_at_zero),
        cmocka_unit_test(test_binary_keys),
        cmocka_unit_test(test_data_is_zeroed_and_aligned),
        cmocka_unit_test(test_linger_until_the_deadline),
        cmocka_unit_test(test_table_never_passes_its_size),
        cmocka_unit_test(test_too_long_key),
        cmocka_unit_test(test_churn_leaves_nothing),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
