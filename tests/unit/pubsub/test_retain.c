/* test_retain.c: the bounded store of oversized events. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <string.h>

#include "util/hash.h"
#include "pubsub/msg.h"
#include "pubsub/retain.h"

static struct msg *oversized(const char *topic, uint64_t seq, size_t payload_len)
{
    static char payload[4096];
    memset(payload, 'x', sizeof(payload));
    const struct msg_policy drop = {0, TRUNCATE_DROP};
    struct msg_input in = {
        .topic = topic,
        .topic_len = strlen(topic),
        .topic_hash = rc_hash(topic, strlen(topic)),
        .payload = (const uint8_t *)payload,
        .payload_len = payload_len,
    };
    return msg_new(&in, &drop, seq, 0, 1);
}

static struct msg *find(struct retain *r, const char *topic, uint64_t seq)
{
    return retain_find(r, topic, strlen(topic), rc_hash(topic, strlen(topic)), seq);
}

static void test_find_by_topic_and_seq(void **state)
{
    (void)state;
    struct retain r;
    retain_init(&r, 1 << 20);
    retain_add(&r, oversized("a", 1, 100));
    retain_add(&r, oversized("a", 2, 100));
    retain_add(&r, oversized("b", 1, 100));
    assert_non_null(find(&r, "a", 1));
    assert_int_equal(find(&r, "a", 2)->seq, 2);
    assert_string_equal(find(&r, "b", 1)->topic, "b");
    assert_null(find(&r, "b", 2));
    assert_null(find(&r, "c", 1));
    retain_cleanup(&r); /* releases all three (ASan: no leak) */
}

static void test_oldest_out_past_the_bound(void **state)
{
    (void)state;
    struct retain r;
    retain_init(&r, 3 * 4096);
    for (uint64_t seq = 1; seq <= 10; seq++)
        retain_add(&r, oversized("t", seq, 3000));
    assert_true(r.bytes <= r.max_bytes);
    assert_null(find(&r, "t", 1));
    assert_non_null(find(&r, "t", 10));
    assert_non_null(find(&r, "t", 9));
    retain_cleanup(&r);
}

static void test_message_above_the_bound_is_not_kept(void **state)
{
    (void)state;
    struct retain r;
    retain_init(&r, 1000);
    retain_add(&r, oversized("t", 1, 4000)); /* released at once (ASan: no leak) */
    assert_null(find(&r, "t", 1));
    assert_int_equal(r.bytes, 0);
    retain_cleanup(&r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_find_by_topic_and_seq),
        cmocka_unit_test(test_oldest_out_past_the_bound),
        cmocka_unit_test(test_message_above_the_bound_is_not_kept),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
