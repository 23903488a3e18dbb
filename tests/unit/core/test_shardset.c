/* test_shardset.c: what shard_set_init allocates, the ring matrices (one
 * ring per ordered pair of shards and per direction of traffic), and
 * shard_set_cleanup releasing what was still in the rings. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <string.h>

#include "pubsub/audience.h"
#include "../fake_shard.h"
#include "pubsub/msg.h"
#include "core/pubreq.h"
#include "core/ringitem.h"
#include "core/shard.h"
#include "core/shardset.h"
#include "io/xring.h"

static void test_init_sizes(void **state)
{
    (void)state;
    struct shard_set set;
    memset(&set, 0, sizeof(set));
    assert_int_equal(shard_set_init(&set, 3, 8), 0);
    assert_int_equal(set.num_shards, 3);
    assert_non_null(set.shards);
    assert_non_null(set.ring_fds);
    for (unsigned i = 0; i < 3; i++) {
        /* Zeroed: each shard sets itself up (shard_start, setup). */
        assert_null(set.shards[i].set);
        assert_int_equal(set.shards[i].num_conns, 0);
        assert_false(set.shards[i].ring_ready);
        assert_int_equal(set.ring_fds[i], 0);
    }
    for (unsigned i = 0; i < 9; i++) {
        struct xring *rings[2] = {&set.data_rings[i], &set.request_rings[i]};
        for (int k = 0; k < 2; k++) {
            assert_non_null(rings[k]->slots);
            assert_int_equal(rings[k]->mask, 7);
            assert_true(xring_has_space(rings[k], 8));
            assert_false(xring_has_space(rings[k], 9));
            assert_null(xring_peek(rings[k]));
        }
    }
    shard_set_cleanup(&set);
    assert_null(set.shards);
    assert_null(set.data_rings);
    assert_null(set.request_rings);
    assert_null(set.ring_fds);
}

static void test_init_refuses_bad_ring_size(void **state)
{
    (void)state;
    /* Not a power of two: refused; cleanup still frees what was made. */
    static const unsigned sizes[] = {0, 3, 6, 100};
    for (size_t k = 0; k < sizeof(sizes) / sizeof(sizes[0]); k++) {
        struct shard_set set;
        memset(&set, 0, sizeof(set));
        assert_int_equal(shard_set_init(&set, 2, sizes[k]), -1);
        shard_set_cleanup(&set); /* ASan: nothing leaks */
    }
}

static void test_ring_matrix(void **state)
{
    (void)state;
    enum { N = 4 };
    struct shard_set set;
    memset(&set, 0, sizeof(set));
    assert_int_equal(shard_set_init(&set, N, 4), 0);
    struct xring *seen[2 * N * N];
    size_t num_seen = 0;
    for (unsigned from = 0; from < N; from++) {
        for (unsigned to = 0; to < N; to++) {
            struct xring *d = shard_set_data_ring(&set, from, to);
            struct xring *r = shard_set_request_ring(&set, from, to);
            /* The same ring on every call. */
            assert_ptr_equal(shard_set_data_ring(&set, from, to), d);
            assert_ptr_equal(shard_set_request_ring(&set, from, to), r);
            /* Inside its own matrix. */
            assert_true(d >= set.data_rings && d < set.data_rings + N * N);
            assert_true(r >= set.request_rings && r < set.request_rings + N * N);
            seen[num_seen++] = d;
            seen[num_seen++] = r;
        }
    }
    /* Every ordered pair and direction of traffic has a ring of its own:
     * one producer and one consumer each. */
    for (size_t i = 0; i < num_seen; i++)
        for (size_t j = i + 1; j < num_seen; j++)
            assert_ptr_not_equal(seen[i], seen[j]);

    /* What shard 1 pushes to shard 2 is what shard 2 reads from 1, and
     * nothing else sees it. */
    int token;
    struct xring *d12 = shard_set_data_ring(&set, 1, 2);
    xring_push(d12, &token);
    xring_publish(d12);
    assert_ptr_equal(xring_peek(shard_set_data_ring(&set, 1, 2)), &token);
    for (unsigned from = 0; from < N; from++)
        for (unsigned to = 0; to < N; to++) {
            assert_null(xring_peek(shard_set_request_ring(&set, from, to)));
            if (from != 1 || to != 2)
                assert_null(xring_peek(shard_set_data_ring(&set, from, to)));
        }
    xring_pop(d12);
    shard_set_cleanup(&set);
}

static void test_cleanup_releases_items_left_in_rings(void **state)
{
    (void)state;
    struct shard_set set;
    memset(&set, 0, sizeof(set));
    assert_int_equal(shard_set_init(&set, 3, 4), 0);
    struct conn c;
    memset(&c, 0, sizeof(c));
    c.slot = 3;
    c.gen = 9;

    /* A message sent to two shards, and still held by the test. */
    struct msg *delivered = fake_msg("room:1", 1, 3);
    xring_push(shard_set_data_ring(&set, 0, 1), ring_item(delivered, ITEM_DELIVER));
    xring_push(shard_set_data_ring(&set, 0, 2), ring_item(delivered, ITEM_DELIVER));

    /* A publish request on its way, with an audience it owns. */
    struct pubreq *request = fake_publish_req(&c, 1, 5, "room:2", "{}", "id-1");
    const char *reason = NULL;
    request->audience = audience_parse((const uint8_t *)"{\"tenant\":\"t1\"}", 15, &reason);
    assert_non_null(request->audience);
    xring_push(shard_set_request_ring(&set, 1, 0), ring_item(request, ITEM_REQUEST));

    /* A fetch answered by its home but never read by the origin: the
     * request holds a reference to the fetched message. */
    struct msg *fetched = fake_msg("room:3", 7, 2);
    struct pubreq *result = fake_new_fetch(&c, 2, "room:3", 6, fetched->topic_hash, 7);
    assert_non_null(result);
    result->fetched = fetched;
    xring_push(shard_set_data_ring(&set, 0, 2), ring_item(result, ITEM_RESULT));

    for (unsigned i = 0; i < 9; i++) {
        xring_publish(&set.data_rings[i]);
        xring_publish(&set.request_rings[i]);
    }
    shard_set_cleanup(&set);
    /* Every ring's hold was dropped; the test's own remain. */
    assert_int_equal(atomic_load(&delivered->refs), 1);
    assert_int_equal(atomic_load(&fetched->refs), 1);
    msg_release(delivered);
    msg_release(fetched);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_init_sizes),
        cmocka_unit_test(test_init_refuses_bad_ring_size),
        cmocka_unit_test(test_ring_matrix),
        cmocka_unit_test(test_cleanup_releases_items_left_in_rings),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
