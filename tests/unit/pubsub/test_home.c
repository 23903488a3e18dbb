/* test_home.c: unit tests for src/pubsub/home.h (sequence numbers and dedup). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "util/hash.h"
#include "pubsub/home.h"
#include "pubsub/msg.h"

#define DEDUP_MS 1000

/* seq publishes to |topic| with |id| ("" for none) at |now| and returns
 * the result; |*out| receives the sequence number. */
static enum home_result seq(struct home *h, const char *topic, const char *id, int64_t now,
                            uint64_t *out)
{
    *out = 0xdeadbeef;
    return home_sequence(h, topic, strlen(topic), rc_hash(topic, strlen(topic)), id, strlen(id),
                         now, out);
}

static void expect(struct home *h, const char *topic, const char *id, int64_t now,
                   enum home_result want, uint64_t want_seq)
{
    uint64_t s;
    enum home_result r = seq(h, topic, id, now, &s);
    if (r != want || s != want_seq)
        fail_msg("publish %s id '%.40s' at %lld: got result %d seq %llu, want %d seq %llu", topic,
                 id, (long long)now, r, (unsigned long long)s, want, (unsigned long long)want_seq);
}

static void test_seq_per_topic(void **state)
{
    struct home h;
    home_init(&h, 100, 100, DEDUP_MS);
    expect(&h, "a", "", 0, HOME_SEQUENCED, 1);
    expect(&h, "a", "", 0, HOME_SEQUENCED, 2);
    expect(&h, "b", "", 0, HOME_SEQUENCED, 1);
    expect(&h, "a", "", 0, HOME_SEQUENCED, 3);
    expect(&h, "b", "", 0, HOME_SEQUENCED, 2);
    expect(&h, "c:d", "", 0, HOME_SEQUENCED, 1);
    assert_int_equal(home_topic_count(&h), 3);
    for (uint64_t i = 4; i < 1000; i++)
        expect(&h, "a", "", 5, HOME_SEQUENCED, i);
    expect(&h, "b", "", 0, HOME_SEQUENCED, 3);
    home_cleanup(&h);
}

/* Topics with the same hash value stay distinct counters. */
static void test_topics_with_equal_hash(void **state)
{
    struct home h;
    home_init(&h, 100, 100, DEDUP_MS);
    uint64_t s;
    assert_int_equal(home_sequence(&h, "x", 1, 7, "", 0, 0, &s), HOME_SEQUENCED);
    assert_int_equal(s, 1);
    assert_int_equal(home_sequence(&h, "y", 1, 7, "", 0, 0, &s), HOME_SEQUENCED);
    assert_int_equal(s, 1);
    assert_int_equal(home_sequence(&h, "xy", 2, 7, "", 0, 0, &s), HOME_SEQUENCED);
    assert_int_equal(s, 1);
    assert_int_equal(home_sequence(&h, "x", 1, 7, "", 0, 0, &s), HOME_SEQUENCED);
    assert_int_equal(s, 2);
    assert_int_equal(home_topic_count(&h), 3);
    home_cleanup(&h);
}

static void test_duplicate_id(void **state)
{
    struct home h;
    home_init(&h, 100, 100, DEDUP_MS);
    expect(&h, "t", "id-1", 0, HOME_SEQUENCED, 1);
    expect(&h, "t", "id-2", 0, HOME_SEQUENCED, 2);
    expect(&h, "t", "id-1", 10, HOME_DUPLICATE, 1); /* the first seq */
    expect(&h, "t", "id-2", 10, HOME_DUPLICATE, 2);
    expect(&h, "t", "id-1", 20, HOME_DUPLICATE, 1);
    /* Duplicates did not advance the counter. */
    expect(&h, "t", "", 30, HOME_SEQUENCED, 3);
    expect(&h, "t", "id-3", 30, HOME_SEQUENCED, 4);
    /* Ids are compared whole: prefixes and extensions are other ids. */
    expect(&h, "t", "id-", 30, HOME_SEQUENCED, 5);
    expect(&h, "t", "id-11", 30, HOME_SEQUENCED, 6);
    expect(&h, "t", "ID-1", 30, HOME_SEQUENCED, 7);
    home_cleanup(&h);
}

static void test_empty_id_never_duplicate(void **state)
{
    struct home h;
    home_init(&h, 100, 100, DEDUP_MS);
    for (uint64_t i = 1; i <= 5; i++)
        expect(&h, "t", "", 0, HOME_SEQUENCED, i);
    home_cleanup(&h);
}

static void test_same_id_other_topic(void **state)
{
    struct home h;
    home_init(&h, 100, 100, DEDUP_MS);
    expect(&h, "a", "x", 0, HOME_SEQUENCED, 1);
    expect(&h, "b", "x", 0, HOME_SEQUENCED, 1);
    expect(&h, "b", "x", 0, HOME_DUPLICATE, 1);
    expect(&h, "a", "x", 0, HOME_DUPLICATE, 1);
    expect(&h, "ab", "x", 0, HOME_SEQUENCED, 1);
    /* A topic/id split that concatenates to the same bytes. */
    expect(&h, "a", "bx", 0, HOME_SEQUENCED, 2);
    home_cleanup(&h);
}

static void test_expiry(void **state)
{
    struct home h;
    home_init(&h, 100, 100, DEDUP_MS);
    expect(&h, "t", "k", 1000, HOME_SEQUENCED, 1);
    expect(&h, "t", "k", 1000 + DEDUP_MS - 1, HOME_DUPLICATE, 1);
    /* Past the window the id is forgotten: a new publish. */
    expect(&h, "t", "k", 1000 + DEDUP_MS + 1, HOME_SEQUENCED, 2);
    /* ...and remembered again from then on. */
    expect(&h, "t", "k", 1000 + DEDUP_MS + 2, HOME_DUPLICATE, 2);
    expect(&h, "t", "k", 1000 + 2 * DEDUP_MS, HOME_DUPLICATE, 2);
    expect(&h, "t", "k", 1000 + 3 * DEDUP_MS + 2, HOME_SEQUENCED, 3);
    home_cleanup(&h);
}

/* Expiry is per id: a younger id outlives an older one. */
static void test_expiry_order(void **state)
{
    struct home h;
    home_init(&h, 100, 100, DEDUP_MS);
    expect(&h, "t", "old", 0, HOME_SEQUENCED, 1);
    expect(&h, "t", "young", 500, HOME_SEQUENCED, 2);
    expect(&h, "t", "old", DEDUP_MS + 1, HOME_SEQUENCED, 3);
    expect(&h, "t", "young", DEDUP_MS + 1, HOME_DUPLICATE, 2);
    expect(&h, "t", "young", 500 + DEDUP_MS + 1, HOME_SEQUENCED, 4);
    home_cleanup(&h);
}

static void test_capacity_eviction(void **state)
{
    struct home h;
    home_init(&h, 100, 3, DEDUP_MS);
    expect(&h, "t", "a", 0, HOME_SEQUENCED, 1);
    expect(&h, "t", "b", 0, HOME_SEQUENCED, 2);
    expect(&h, "t", "c", 0, HOME_SEQUENCED, 3);
    expect(&h, "t", "d", 0, HOME_SEQUENCED, 4); /* evicts a */
    expect(&h, "t", "b", 1, HOME_DUPLICATE, 2);
    expect(&h, "t", "c", 1, HOME_DUPLICATE, 3);
    expect(&h, "t", "d", 1, HOME_DUPLICATE, 4);
    expect(&h, "t", "a", 1, HOME_SEQUENCED, 5); /* forgotten; now evicts b */
    expect(&h, "t", "b", 2, HOME_SEQUENCED, 6); /* evicts c */
    expect(&h, "t", "d", 2, HOME_DUPLICATE, 4);
    expect(&h, "t", "a", 2, HOME_DUPLICATE, 5);
    expect(&h, "t", "c", 2, HOME_SEQUENCED, 7);
    /* The capacity is shared by all topics of the shard. */
    expect(&h, "u", "z", 3, HOME_SEQUENCED, 1); /* evicts d */
    expect(&h, "t", "d", 3, HOME_SEQUENCED, 8);
    home_cleanup(&h);
}

static void test_max_topics(void **state)
{
    struct home h;
    home_init(&h, 2, 100, DEDUP_MS);
    uint64_t s;
    expect(&h, "a", "", 0, HOME_SEQUENCED, 1);
    expect(&h, "b", "", 0, HOME_SEQUENCED, 1);
    assert_int_equal(seq(&h, "c", "", 0, &s), HOME_TOO_MANY_TOPICS);
    assert_int_equal(seq(&h, "c", "id", 0, &s), HOME_TOO_MANY_TOPICS);
    assert_int_equal(home_topic_count(&h), 2);
    /* Known topics still work; a refused publish left no trace. */
    expect(&h, "a", "", 0, HOME_SEQUENCED, 2);
    expect(&h, "b", "id", 0, HOME_SEQUENCED, 2);
    assert_int_equal(seq(&h, "c", "", 0, &s), HOME_TOO_MANY_TOPICS);
    home_cleanup(&h);
}

static void test_dedup_disabled(void **state)
{
    struct home h;
    home_init(&h, 100, 0, DEDUP_MS);
    expect(&h, "t", "same", 0, HOME_SEQUENCED, 1);
    expect(&h, "t", "same", 0, HOME_SEQUENCED, 2);
    expect(&h, "t", "same", 1, HOME_SEQUENCED, 3);
    assert_int_equal(h.ids.count, 0);
    home_cleanup(&h);
}

/* The longest id the publish protocol allows (255 bytes). */
static void test_long_id_255(void **state)
{
    struct home h;
    home_init(&h, 100, 100, DEDUP_MS);
    char id[256];
    memset(id, 'i', 255);
    id[255] = '\0';
    expect(&h, "t", id, 0, HOME_SEQUENCED, 1);
    expect(&h, "t", id, 1, HOME_DUPLICATE, 1);
    id[254] = 'j';
    expect(&h, "t", id, 1, HOME_SEQUENCED, 2);
    home_cleanup(&h);
}

/* home.h sets no bound on the id length: a retry with a longer id must be
 * recognised too (the HTTP publish path or a later protocol may allow
 * more than 255 bytes). */
static void test_long_id_over_255(void **state)
{
    struct home h;
    home_init(&h, 100, 100, DEDUP_MS);
    char id[301];
    memset(id, 'L', 300);
    id[300] = '\0';
    uint64_t first, second;
    enum home_result r1 = seq(&h, "t", id, 0, &first);
    enum home_result r2 = seq(&h, "t", id, 1, &second);
    home_cleanup(&h);
    assert_int_equal(r1, HOME_SEQUENCED);
    assert_int_equal(first, 1);
    if (r2 != HOME_DUPLICATE || second != 1)
        fail_msg("a 300-byte id published twice: second result %d seq %llu, want duplicate of 1",
                 r2, (unsigned long long)second);
}

/* Many ids, expiring and evicting, with cleanup of what remains (ASan
 * checks the FIFO and the table stay consistent). */
static void test_churn(void **state)
{
    struct home h;
    home_init(&h, 1000, 50, 100);
    char id[32], topic[16];
    uint64_t next[10] = {0};
    for (int i = 0; i < 5000; i++) {
        int t = i % 10;
        snprintf(topic, sizeof(topic), "topic%d", t);
        snprintf(id, sizeof(id), "id%d", i);
        uint64_t s;
        assert_int_equal(seq(&h, topic, id, i / 10, &s), HOME_SEQUENCED);
        assert_int_equal(s, ++next[t]);
        /* The previous id of this topic (10 publishes ago, 1 ms) is still known. */
        if (i >= 10) {
            snprintf(id, sizeof(id), "id%d", i - 10);
            assert_int_equal(seq(&h, topic, id, i / 10, &s), HOME_DUPLICATE);
            assert_int_equal(s, next[t] - 1);
        }
        assert_true(h.ids.count <= 50);
    }
    home_cleanup(&h);
}

/* Epochs: one per topic, never 0, drawn when the sequence starts (by a
 * publish or home_open); the history answers carry them. */
static void test_epochs_and_replay(void **state)
{
    (void)state;
    struct history_stats stats;
    memset(&stats, 0, sizeof(stats));
    struct home h;
    home_init(&h, 100, 100, DEDUP_MS);
    home_init_history(&h, 3, 60000, 1 << 20, &stats);
    struct home_replay r;
    assert_int_equal(home_replay(&h, "a", 1, rc_hash("a", 1), 0, 10, 0, &r), 0);
    assert_int_equal(r.pos.epoch, 0); /* not started: the null epoch */
    assert_int_equal(r.pos.last_seq, 0);
    assert_int_equal(r.pos.first_seq, 1);
    uint64_t epoch_b = home_open(&h, "b", 1, rc_hash("b", 1));
    assert_true(epoch_b != 0);
    assert_int_equal(home_open(&h, "b", 1, rc_hash("b", 1)), epoch_b); /* the same sequence */
    uint64_t s;
    struct home_topic *t = NULL;
    for (int i = 1; i <= 5; i++) {
        assert_int_equal(home_sequence_topic(&h, "a", 1, rc_hash("a", 1), "", 0, 0, &s, &t),
                         HOME_SEQUENCED);
        const struct msg_policy policy = {1 << 20, TRUNCATE_STUB};
        struct msg_input in = {.topic = "a",
                               .topic_len = 1,
                               .topic_hash = rc_hash("a", 1),
                               .epoch = home_topic_epoch(t),
                               .payload = (const uint8_t *)"1",
                               .payload_len = 1,
                               .payload_is_json = true};
        home_hold(&h, t, msg_new(&in, &policy, s, 0, 1), 0);
    }
    uint64_t epoch_a = home_topic_epoch(t);
    assert_true(epoch_a != 0 && epoch_a != epoch_b);
    assert_int_equal(home_replay(&h, "a", 1, rc_hash("a", 1), 3, 10, 0, &r), 0);
    assert_int_equal(r.pos.epoch, epoch_a);
    assert_int_equal(r.pos.last_seq, 5);
    assert_int_equal(r.pos.first_seq, 3); /* --history-size 3 */
    assert_int_equal(r.count, 2);
    assert_int_equal(r.msgs[0]->seq, 4);
    assert_int_equal(r.msgs[1]->seq, 5);
    home_replay_release(&r);
    struct msg *m = home_fetch(&h, "a", 1, rc_hash("a", 1), 3, 0);
    assert_non_null(m);
    assert_int_equal(m->seq, 3);
    msg_release(m);
    assert_null(home_fetch(&h, "a", 1, rc_hash("a", 1), 2, 0));
    home_cleanup(&h); /* releases the held messages (ASan: no leak) */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_seq_per_topic),
        cmocka_unit_test(test_topics_with_equal_hash),
        cmocka_unit_test(test_duplicate_id),
        cmocka_unit_test(test_empty_id_never_duplicate),
        cmocka_unit_test(test_same_id_other_topic),
        cmocka_unit_test(test_expiry),
        cmocka_unit_test(test_expiry_order),
        cmocka_unit_test(test_capacity_eviction),
        cmocka_unit_test(test_max_topics),
        cmocka_unit_test(test_dedup_disabled),
        cmocka_unit_test(test_long_id_255),
        cmocka_unit_test(test_long_id_over_255),
        cmocka_unit_test(test_churn),
        cmocka_unit_test(test_epochs_and_replay),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
