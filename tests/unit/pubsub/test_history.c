/* test_history.c: the per-topic rings of held messages and their bounds. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <string.h>

#include "util/hash.h"
#include "pubsub/history.h"
#include "pubsub/msg.h"

#define BIG (1ull << 40)
#define TTL_MS 60000

static struct history_stats stats;

static struct msg *event(const char *topic, uint64_t seq, size_t payload_len)
{
    static char payload[65536];
    memset(payload, 'x', sizeof(payload));
    const struct msg_policy policy = {1 << 20, TRUNCATE_STUB};
    struct msg_input in = {
        .topic = topic,
        .topic_len = strlen(topic),
        .topic_hash = rc_hash(topic, strlen(topic)),
        .payload = (const uint8_t *)payload,
        .payload_len = payload_len,
    };
    return msg_new(&in, &policy, seq, 0, 1);
}

static void fresh(struct history *h, uint32_t size, uint64_t bytes)
{
    memset(&stats, 0, sizeof(stats));
    history_init(h, size, TTL_MS, bytes, &stats);
}

static void add(struct history *h, struct history_ring *r, const char *topic, uint64_t seq,
                int64_t now_ms)
{
    history_add(h, r, event(topic, seq, 10), now_ms);
}

static void test_find_and_since(void **state)
{
    (void)state;
    struct history h;
    struct history_ring a = {0}, b = {0};
    fresh(&h, 100, BIG);
    for (uint64_t seq = 1; seq <= 10; seq++)
        add(&h, &a, "a", seq, 0);
    add(&h, &b, "b", 1, 0);
    assert_int_equal(history_find(&a, 7)->seq, 7);
    assert_string_equal(history_find(&b, 1)->topic, "b");
    assert_null(history_find(&a, 0));
    assert_null(history_find(&a, 11));
    assert_null(history_find(&b, 2));
    assert_int_equal(history_first_seq(&a), 1);
    struct msg *out[4];
    assert_int_equal(history_since(&a, 5, out, 4), 4);
    for (int i = 0; i < 4; i++) {
        assert_int_equal(out[i]->seq, 6 + i);
        msg_release(out[i]);
    }
    assert_int_equal(history_since(&a, 10, out, 4), 0);
    assert_int_equal(history_since(&a, 8, out, 4), 2);
    msg_release(out[0]);
    msg_release(out[1]);
    assert_int_equal(counter_read(&stats.msgs), 11);
    history_ring_cleanup(&h, &a);
    history_ring_cleanup(&h, &b);
    assert_int_equal(counter_read(&stats.msgs), 0);
    assert_int_equal(counter_read(&stats.bytes), 0);
    assert_null(h.oldest);
}

static void test_size_keeps_the_newest(void **state)
{
    (void)state;
    struct history h;
    struct history_ring a = {0}, b = {0};
    fresh(&h, 5, BIG);
    for (uint64_t seq = 1; seq <= 12; seq++) {
        add(&h, &a, "a", seq, 0);
        if (seq % 4 == 0)
            add(&h, &b, "b", seq / 4, 0);
    }
    assert_int_equal(a.count, 5);
    assert_true(a.cap <= 5);
    assert_int_equal(history_first_seq(&a), 8);
    assert_null(history_find(&a, 7));
    assert_non_null(history_find(&a, 12));
    assert_int_equal(b.count, 3); /* another topic's bound is its own */
    assert_int_equal(counter_read(&stats.evicted[STATS_EVICT_SIZE]), 7);
    /* The shard's list stays consistent after removals from its middle:
     * the bytes bound can still take everything. */
    struct msg *last = event("a", 13, 10);
    h.max_bytes = history_msg_size(last);
    history_add(&h, &a, last, 0);
    assert_int_equal(a.count, 1);
    assert_int_equal(history_first_seq(&a), 13);
    assert_int_equal(b.count, 0);
    assert_int_equal(h.bytes, h.max_bytes);
    history_ring_cleanup(&h, &a);
    history_ring_cleanup(&h, &b);
}

static void test_ttl_expires_oldest_first(void **state)
{
    (void)state;
    struct history h;
    struct history_ring a = {0}, b = {0};
    fresh(&h, 100, BIG);
    add(&h, &a, "a", 1, 0);
    add(&h, &b, "b", 1, 1000);
    add(&h, &a, "a", 2, 2000);
    history_expire(&h, TTL_MS - 1);
    assert_int_equal(a.count + b.count, 3);
    history_expire(&h, TTL_MS + 1000);
    assert_null(history_find(&a, 1));
    assert_null(history_find(&b, 1));
    assert_non_null(history_find(&a, 2));
    assert_int_equal(history_first_seq(&b), 0);
    assert_int_equal(counter_read(&stats.evicted[STATS_EVICT_TTL]), 2);
    add(&h, &a, "a", 3, TTL_MS + 5000); /* adding expires too */
    assert_int_equal(history_first_seq(&a), 3);
    history_ring_cleanup(&h, &a);
    history_ring_cleanup(&h, &b);
}

static void test_bytes_bound_across_topics(void **state)
{
    (void)state;
    struct history h;
    struct history_ring r[3] = {{0}};
    const char *names[3] = {"x", "y", "z"};
    struct msg *probe = event("x", 1, 4000);
    uint64_t one = history_msg_size(probe);
    msg_release(probe);
    fresh(&h, 100, 4 * one + one / 2);
    for (uint64_t seq = 1; seq <= 4; seq++)
        for (int t = 0; t < 3; t++)
            history_add(&h, &r[t], event(names[t], seq, 4000), 0);
    assert_true(h.bytes <= h.max_bytes);
    assert_int_equal(r[0].count + r[1].count + r[2].count, 4);
    /* The four newest, whatever their topics: y 3, z 3, x 4, y 4, z 4 minus one. */
    assert_int_equal(history_first_seq(&r[0]), 4);
    assert_int_equal(history_first_seq(&r[1]), 4);
    assert_int_equal(history_first_seq(&r[2]), 3);
    assert_int_equal(counter_read(&stats.evicted[STATS_EVICT_BYTES]), 8);
    assert_int_equal(counter_read(&stats.bytes), h.bytes);
    /* Alone over the bound: not held at all. */
    history_add(&h, &r[0], event("x", 5, 60000), 0);
    assert_null(history_find(&r[0], 5));
    for (int t = 0; t < 3; t++)
        history_ring_cleanup(&h, &r[t]);
}

static void test_size_zero_holds_nothing(void **state)
{
    (void)state;
    struct history h;
    struct history_ring a = {0};
    fresh(&h, 0, BIG);
    add(&h, &a, "a", 1, 0); /* released at once (ASan: no leak) */
    assert_int_equal(a.count, 0);
    assert_null(history_find(&a, 1));
    assert_int_equal(counter_read(&stats.msgs), 0);
    history_ring_cleanup(&h, &a);
}

static void test_ring_wraps_and_grows(void **state)
{
    (void)state;
    struct history h;
    struct history_ring a = {0};
    fresh(&h, 7, BIG);
    for (uint64_t seq = 1; seq <= 100; seq++) {
        add(&h, &a, "a", seq, 0);
        uint64_t first = seq > 7 ? seq - 6 : 1;
        assert_int_equal(history_first_seq(&a), first);
        for (uint64_t s = first; s <= seq; s++)
            assert_int_equal(history_find(&a, s)->seq, s);
    }
    history_ring_cleanup(&h, &a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_find_and_since),
        cmocka_unit_test(test_size_keeps_the_newest),
        cmocka_unit_test(test_ttl_expires_oldest_first),
        cmocka_unit_test(test_bytes_bound_across_topics),
        cmocka_unit_test(test_size_zero_holds_nothing),
        cmocka_unit_test(test_ring_wraps_and_grows),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
