/* test_interest.c: the per-shard interest summary (src/interest.h) has no
 * false negatives, and its bits clear when the last subscription goes. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hash.h"
#include "interest.h"
#include "topic.h"

static struct interest *new_interest(void)
{
    struct interest *in = calloc(1, sizeof(*in));
    assert_non_null(in);
    return in;
}

static void add(struct interest *in, const char *name, bool pattern)
{
    interest_add(in, name, strlen(name), rc_hash(name, strlen(name)), pattern);
}

static void removes(struct interest *in, const char *name, bool pattern)
{
    interest_remove(in, name, strlen(name), rc_hash(name, strlen(name)), pattern);
}

static bool wants(const struct interest *in, const char *topic)
{
    size_t len = strlen(topic);
    return interest_may_want(in, rc_hash(topic, len), interest_first_segment_hash(topic, len));
}

static int setup(void **state)
{
    (void)state;
    rc_hash_init();
    return 0;
}

static void test_empty_wants_nothing(void **state)
{
    (void)state;
    struct interest *in = new_interest();
    assert_false(wants(in, "a"));
    assert_false(wants(in, "customer_id:1:call:2"));
    free(in);
}

static void test_exact_topics(void **state)
{
    (void)state;
    struct interest *in = new_interest();
    add(in, "news", false);
    assert_true(wants(in, "news"));
    add(in, "news", false); /* a second node for the same bit (another hash table slot) */
    removes(in, "news", false);
    assert_true(wants(in, "news")); /* one left */
    removes(in, "news", false);
    assert_false(wants(in, "news"));
    free(in);
}

static void test_patterns_by_first_segment(void **state)
{
    (void)state;
    struct interest *in = new_interest();
    add(in, "customer_id:42:call:*", true);
    assert_true(wants(in, "customer_id:42:call:7"));
    assert_true(wants(in, "customer_id.99")); /* same first segment: a possible match */
    assert_true(wants(in, "customer_id"));
    removes(in, "customer_id:42:call:*", true);
    assert_false(wants(in, "customer_id:42:call:7"));
    free(in);
}

static void test_wildcard_first_patterns_want_everything(void **state)
{
    (void)state;
    struct interest *in = new_interest();
    static const char *const any[] = {"*", ">", "*:call", ">", "*.x.>"};
    for (size_t i = 0; i < sizeof(any) / sizeof(any[0]); i++) {
        add(in, any[i], true);
        assert_true(wants(in, "anything"));
        assert_true(wants(in, "z:y:x"));
        removes(in, any[i], true);
        assert_false(wants(in, "anything"));
    }
    /* "*x" is not a wildcard segment; it is not a valid pattern either, but
     * the summary must not treat it as one that matches everything. */
    add(in, "**", true);
    assert_false(wants(in, "anything"));
    removes(in, "**", true);
    free(in);
}

/* Randomized: keep a multiset of subscriptions; for every topic that one of
 * them matches (topic_matches), the summary must say "may want". After all
 * are removed, nothing is wanted. */
static void test_no_false_negatives(void **state)
{
    (void)state;
    static const char *const seg[] = {"a", "b", "c", "call", "42"};
    static const char *const pat_seg[] = {"a", "b", "c", "call", "42", "*", ">"};
    struct interest *in = new_interest();
    enum { SUBS = 300, TOPICS = 400 };
    char subs[SUBS][48];
    bool sub_is_pattern[SUBS];
    bool added[SUBS] = {false};
    char topics[TOPICS][48];
    srand(12345);
    for (int i = 0; i < TOPICS; i++) {
        int n = 1 + rand() % 4;
        topics[i][0] = '\0';
        for (int s = 0; s < n; s++) {
            if (s)
                strcat(topics[i], rand() % 2 ? ":" : ".");
            strcat(topics[i], seg[rand() % 5]);
        }
    }
    int live = 0;
    for (int i = 0; i < SUBS; i++) {
        int n = 1 + rand() % 4;
        subs[i][0] = '\0';
        for (int s = 0; s < n; s++) {
            if (s)
                strcat(subs[i], ":");
            /* ">" only last */
            strcat(subs[i], pat_seg[rand() % (s == n - 1 ? 7 : 6)]);
        }
        size_t len = strlen(subs[i]);
        sub_is_pattern[i] = topic_is_pattern(subs[i], len);
        if (sub_is_pattern[i] && topic_validate_pattern(subs[i], len, 256, 16) != TOPIC_OK)
            continue;
        add(in, subs[i], sub_is_pattern[i]);
        live++;
        for (int t = 0; t < TOPICS; t++) {
            size_t tl = strlen(topics[t]);
            bool matches = sub_is_pattern[i] ? topic_matches(subs[i], len, topics[t], tl)
                                             : strcmp(subs[i], topics[t]) == 0;
            if (matches && !wants(in, topics[t]))
                fail_msg("%s matches %s but the summary says no", subs[i], topics[t]);
        }
        added[i] = true;
    }
    assert_true(live > SUBS / 2);
    for (int i = 0; i < SUBS; i++)
        if (added[i])
            removes(in, subs[i], sub_is_pattern[i]);
    for (int t = 0; t < TOPICS; t++)
        if (wants(in, topics[t]))
            fail_msg("%s still wanted after every subscription went", topics[t]);
    free(in);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_empty_wants_nothing),
        cmocka_unit_test(test_exact_topics),
        cmocka_unit_test(test_patterns_by_first_segment),
        cmocka_unit_test(test_wildcard_first_patterns_want_everything),
        cmocka_unit_test(test_no_false_negatives),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}
