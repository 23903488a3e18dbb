/* test_hmap.c: unit tests for src/util/hmap.h (open addressing, backward shift). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "util/hmap.h"

/* Values are elements of this array; a key is the value's address. */
struct item {
    uint64_t hash;
    bool in;  /* in the table (reference model) */
    int seen; /* hmap_next visits */
};

static bool same(const void *value, const void *key)
{
    return value == key;
}

/* check_all verifies that every item the model says is in the table is
 * found, every other is not, count matches, and the slots are well formed:
 * every value sits at or after its home slot with no empty slot between. */
/* check_runs verifies that every value of a table sits at or after its
 * home slot with no empty slot between. */
static void check_runs(const struct hmap_slot *slots, uint32_t mask)
{
    for (uint32_t s = 0; s <= mask; s++) {
        if (!slots[s].value)
            continue;
        uint32_t home = (uint32_t)slots[s].hash & mask;
        for (uint32_t j = home; j != s; j = (j + 1) & mask)
            if (!slots[j].value)
                fail_msg("slot %u: empty slot %u between it and its home %u", s, j, home);
    }
}

static void check_all(const struct hmap *m, struct item *items, size_t n)
{
    uint32_t in = 0;
    for (size_t i = 0; i < n; i++) {
        void *found = hmap_find(m, items[i].hash, same, &items[i]);
        if (items[i].in) {
            in++;
            if (found != &items[i])
                fail_msg("item %zu (hash %llx) not found", i, (unsigned long long)items[i].hash);
        } else if (found != NULL) {
            fail_msg("item %zu (hash %llx) found after removal", i,
                     (unsigned long long)items[i].hash);
        }
    }
    assert_int_equal(m->count, in);
    if (!m->slots)
        return;
    assert_true(m->count * 2 <= m->mask + 1);
    check_runs(m->slots, m->mask);
    if (m->old)
        check_runs(m->old, m->old_mask);
}

static void test_empty(void **state)
{
    struct hmap m;
    hmap_init(&m);
    struct item it = {.hash = 5};
    assert_null(hmap_find(&m, 5, same, &it));
    assert_int_equal(hmap_remove(&m, 5, &it), -1);
    uint32_t pos = 0;
    assert_null(hmap_next(&m, &pos));
    hmap_cleanup(&m);
    hmap_cleanup(&m); /* twice is harmless */
}

static void test_insert_find_remove(void **state)
{
    struct hmap m;
    hmap_init(&m);
    struct item a = {.hash = 1}, b = {.hash = 2}, c = {.hash = 0xffffffffffffffffull};
    assert_int_equal(hmap_insert(&m, a.hash, &a), 0);
    assert_int_equal(hmap_insert(&m, b.hash, &b), 0);
    assert_int_equal(hmap_insert(&m, c.hash, &c), 0);
    assert_int_equal(m.count, 3);
    assert_ptr_equal(hmap_find(&m, 1, same, &a), &a);
    assert_ptr_equal(hmap_find(&m, 2, same, &b), &b);
    assert_ptr_equal(hmap_find(&m, c.hash, same, &c), &c);
    assert_null(hmap_find(&m, 1, same, &b)); /* equal hash is not enough */
    assert_null(hmap_find(&m, 3, same, &a)); /* nor an equal value */
    assert_int_equal(hmap_remove(&m, 2, &b), 0);
    assert_int_equal(hmap_remove(&m, 2, &b), -1);
    assert_null(hmap_find(&m, 2, same, &b));
    assert_int_equal(hmap_remove(&m, 1, &b), -1); /* not there */
    assert_int_equal(m.count, 2);
    hmap_cleanup(&m);
    assert_null(m.slots);
    assert_int_equal(m.count, 0);
}

/* Same hash, different values: all stored, each found and removed alone. */
static void test_colliding_hashes(void **state)
{
    struct item items[7];
    for (size_t victim = 0; victim < 7; victim++) {
        struct hmap m;
        hmap_init(&m);
        for (size_t i = 0; i < 7; i++) {
            items[i] = (struct item){.hash = 0x42, .in = true};
            assert_int_equal(hmap_insert(&m, 0x42, &items[i]), 0);
        }
        check_all(&m, items, 7);
        assert_int_equal(hmap_remove(&m, 0x42, &items[victim]), 0);
        items[victim].in = false;
        check_all(&m, items, 7);
        hmap_cleanup(&m);
    }
}

/* Hashes equal in the low 32 bits only: same home slot, different hash. */
static void test_high_bits_only_differ(void **state)
{
    enum { N = 1000 };
    struct item *items = calloc(N, sizeof(*items));
    assert_non_null(items);
    struct hmap m;
    hmap_init(&m);
    for (size_t i = 0; i < N; i++) {
        items[i] = (struct item){.hash = ((uint64_t)i << 32) | 7, .in = true};
        assert_int_equal(hmap_insert(&m, items[i].hash, &items[i]), 0);
    }
    check_all(&m, items, N);
    for (size_t i = 0; i < N; i += 3) {
        assert_int_equal(hmap_remove(&m, items[i].hash, &items[i]), 0);
        items[i].in = false;
    }
    check_all(&m, items, N);
    hmap_cleanup(&m);
    free(items);
}

/* Probe runs that wrap from the end of the table to its start, with
 * members of different homes; remove each member in turn (fresh table
 * each time) and find the rest. The table keeps 16 slots below 8 items. */
static void test_backward_shift_wrapping_runs(void **state)
{
    static const uint64_t layouts[][7] = {
        {14, 14, 15, 15, 0, 14, 1}, {15, 15, 15, 0, 0, 1, 14},   {13, 14, 15, 13, 0, 1, 13},
        {15, 0, 1, 2, 15, 0, 15},   {0, 15, 0, 15, 0, 15, 2},    {12, 12, 12, 12, 12, 12, 12},
        {3, 4, 3, 5, 4, 3, 6},      {15, 14, 13, 12, 11, 10, 9}, {1, 1, 0, 0, 15, 15, 14},
    };
    for (size_t l = 0; l < sizeof(layouts) / sizeof(layouts[0]); l++) {
        for (size_t victim = 0; victim < 7; victim++) {
            struct item items[7];
            struct hmap m;
            hmap_init(&m);
            for (size_t i = 0; i < 7; i++) {
                /* High bits vary so the full hashes differ. */
                items[i] =
                    (struct item){.hash = layouts[l][i] | ((uint64_t)(i + 1) << 40), .in = true};
                assert_int_equal(hmap_insert(&m, items[i].hash, &items[i]), 0);
            }
            assert_int_equal(m.mask, 15);
            check_all(&m, items, 7);
            assert_int_equal(hmap_remove(&m, items[victim].hash, &items[victim]), 0);
            items[victim].in = false;
            check_all(&m, items, 7);
            /* And then every other one, in order. */
            for (size_t i = 0; i < 7; i++) {
                if (!items[i].in)
                    continue;
                assert_int_equal(hmap_remove(&m, items[i].hash, &items[i]), 0);
                items[i].in = false;
                check_all(&m, items, 7);
            }
            assert_int_equal(m.count, 0);
            hmap_cleanup(&m);
        }
    }
}

static void test_growth(void **state)
{
    enum { N = 10000 };
    struct item *items = calloc(N, sizeof(*items));
    assert_non_null(items);
    struct hmap m;
    hmap_init(&m);
    uint64_t x = 88172645463325252ull;
    uint32_t last_mask = 0;
    for (size_t i = 0; i < N; i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        items[i] = (struct item){.hash = x, .in = true};
        assert_int_equal(hmap_insert(&m, x, &items[i]), 0);
        assert_true(m.count * 2 <= m.mask + 1); /* load at most 1/2 */
        if (m.mask != last_mask) {
            /* Every item survives each rehash. */
            for (size_t j = 0; j <= i; j++)
                assert_ptr_equal(hmap_find(&m, items[j].hash, same, &items[j]), &items[j]);
            last_mask = m.mask;
        }
    }
    check_all(&m, items, N);
    hmap_cleanup(&m);
    free(items);
}

static void test_next_visits_each_once(void **state)
{
    enum { N = 777 };
    struct item *items = calloc(N, sizeof(*items));
    assert_non_null(items);
    struct hmap m;
    hmap_init(&m);
    for (size_t i = 0; i < N; i++) {
        items[i].hash = i % 50; /* lots of collisions */
        items[i].in = true;
        assert_int_equal(hmap_insert(&m, items[i].hash, &items[i]), 0);
    }
    for (size_t i = 0; i < N; i += 4) {
        assert_int_equal(hmap_remove(&m, items[i].hash, &items[i]), 0);
        items[i].in = false;
    }
    uint32_t pos = 0;
    struct item *it;
    size_t visits = 0;
    while ((it = hmap_next(&m, &pos)) != NULL) {
        assert_true(it >= items && it < items + N);
        it->seen++;
        visits++;
    }
    assert_null(hmap_next(&m, &pos)); /* stays at the end */
    assert_int_equal(visits, m.count);
    for (size_t i = 0; i < N; i++)
        assert_int_equal(items[i].seen, items[i].in ? 1 : 0);
    hmap_cleanup(&m);
    free(items);
}

/* Growing moves the values a few at a time: the insert that fills the
 * table leaves most of them in the old one, each later insert or removal
 * moves a bounded share, every value stays findable meanwhile (also after
 * removals from the old table, whose backward shifts stay inside their
 * runs), and the old table is gone after at most capacity / 64 calls. */
static void test_growth_is_incremental(void **state)
{
    enum { N = 70000 };
    struct item *items = calloc(N, sizeof(*items));
    assert_non_null(items);
    struct hmap m;
    hmap_init(&m);
    uint64_t x = 0x9e3779b97f4a7c15ull;
    uint32_t grows = 0, calls_since_grow = 0, old_capacity = 0;
    for (size_t i = 0; i < N; i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        items[i] = (struct item){.hash = x % 5 == 0 ? x & 0xfff : x, .in = true};
        uint32_t mask_before = m.mask;
        bool had_slots = m.slots != NULL;
        assert_int_equal(hmap_insert(&m, items[i].hash, &items[i]), 0);
        calls_since_grow++;
        if (had_slots && m.mask != mask_before) {
            grows++;
            old_capacity = mask_before + 1;
            calls_since_grow = 1;
            if (old_capacity >= 1024)
                assert_true(hmap_growing(&m)); /* not all moved at once */
        }
        /* Every third insert during a growth, remove an older value: from
         * whichever table holds it. */
        if (hmap_growing(&m) && i % 3 == 0 && i > 10) {
            size_t victim = (size_t)(x >> 20) % i;
            if (items[victim].in) {
                assert_int_equal(hmap_remove(&m, items[victim].hash, &items[victim]), 0);
                items[victim].in = false;
                calls_since_grow++;
            }
        }
        if (hmap_growing(&m))
            assert_true(calls_since_grow <= old_capacity / 64 + 1);
        if (i % 4093 == 0)
            check_all(&m, items, i + 1);
    }
    assert_true(grows >= 12);
    check_all(&m, items, N);
    uint32_t pos = 0, visits = 0;
    while (hmap_next(&m, &pos))
        visits++;
    assert_int_equal(visits, m.count);
    hmap_cleanup(&m);
    free(items);
}

/* 10,000 random inserts, removes and lookups against a reference array. */
static void test_randomized_against_reference(void **state)
{
    enum { N = 600, OPS = 10000 };
    struct item *items = calloc(N, sizeof(*items));
    assert_non_null(items);
    unsigned seed = 4242;
    for (size_t i = 0; i < N; i++) /* few distinct homes, some equal hashes */
        items[i].hash = (uint64_t)(rand_r(&seed) % 40) | ((uint64_t)(rand_r(&seed) % 3) << 33);
    struct hmap m;
    hmap_init(&m);
    for (int op = 0; op < OPS; op++) {
        size_t i = (size_t)rand_r(&seed) % N;
        int kind = rand_r(&seed) % 3;
        if (kind == 0 && !items[i].in) {
            assert_int_equal(hmap_insert(&m, items[i].hash, &items[i]), 0);
            items[i].in = true;
        } else if (kind == 1) {
            int r = hmap_remove(&m, items[i].hash, &items[i]);
            assert_int_equal(r, items[i].in ? 0 : -1);
            items[i].in = false;
        } else {
            void *f = hmap_find(&m, items[i].hash, same, &items[i]);
            assert_ptr_equal(f, items[i].in ? &items[i] : NULL);
        }
        if (op % 97 == 0)
            check_all(&m, items, N);
    }
    check_all(&m, items, N);
    hmap_cleanup(&m);
    free(items);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_empty),
        cmocka_unit_test(test_insert_find_remove),
        cmocka_unit_test(test_colliding_hashes),
        cmocka_unit_test(test_high_bits_only_differ),
        cmocka_unit_test(test_backward_shift_wrapping_runs),
        cmocka_unit_test(test_growth),
        cmocka_unit_test(test_next_visits_each_once),
        cmocka_unit_test(test_randomized_against_reference),
        cmocka_unit_test(test_growth_is_incremental),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
