/* test_interest.c: the per-shard interest summary (src/pubsub/interest.h) has no
 * false negatives, skips shards whose patterns cannot match, and its bits
 * clear when the last subscription goes. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/hash.h"
#include "pubsub/interest.h"
#include "pubsub/topic.h"
#include "../two_threads.h"

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
    struct interest_query q;
    interest_query_init(&q, topic, len, rc_hash(topic, len));
    return interest_may_want(in, &q);
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

static void test_patterns_by_shape_and_first_literal(void **state)
{
    (void)state;
    struct interest *in = new_interest();
    add(in, "customer_id:42:call:*", true);
    assert_true(wants(in, "customer_id:42:call:7"));
    assert_false(wants(in, "customer_id.42.call.7")); /* other separators */
    assert_false(wants(in, "customer_id:42:call"));   /* other segment count */
    assert_false(wants(in, "customer_id:42:call:7:leg"));
    assert_false(wants(in, "other:42:call:7")); /* other first literal */
    /* Same shape and first literal: a possible match (a false positive the
     * summary accepts). */
    assert_true(wants(in, "customer_id:43:call:7"));
    removes(in, "customer_id:42:call:*", true);
    assert_false(wants(in, "customer_id:42:call:7"));
    free(in);
}

/* A shard whose patterns match none of the published topics is not asked,
 * whatever those patterns' first segment or wildcards. (With the built-in
 * hash key, so that this is exact: under a random key two collisions on
 * one query remain possible, which the summary allows.) */
static void test_non_matching_patterns_are_not_asked(void **state)
{
    (void)state;
    static const char *const patterns[] = {
        "idle.*", "idle:*:x", "idle:0:>",   "idle.>", "*:idle", "*.*",   "*:*:*",
        "*:x",    "*.x",      "idle:*:*:>", "idle:0", "x:>",    "*:*:>", "*.>",
    };
    struct interest *in = new_interest();
    for (size_t i = 0; i < sizeof(patterns) / sizeof(patterns[0]); i++)
        add(in, patterns[i], topic_is_pattern(patterns[i], strlen(patterns[i])));
    char topic[32];
    for (int n = 1; n <= 40; n++) {
        snprintf(topic, sizeof(topic), "idle:%d", n);
        if (wants(in, topic))
            fail_msg("%s is asked for", topic);
    }
    free(in);
}

static void test_any_topic_patterns(void **state)
{
    (void)state;
    static const char *const any[] = {"*", ">"};
    for (size_t i = 0; i < sizeof(any) / sizeof(any[0]); i++) {
        struct interest *in = new_interest();
        add(in, any[i], true);
        assert_true(wants(in, "anything"));
        assert_true(wants(in, "z:y:x"));
        assert_true(wants(in, "a.b:c.d"));
        removes(in, any[i], true);
        assert_false(wants(in, "anything"));
        free(in);
    }
    struct interest *in = new_interest();
    add(in, "*:>", true); /* two or more segments, the first separator ':' */
    assert_true(wants(in, "a:b"));
    assert_true(wants(in, "a:b.c"));
    assert_false(wants(in, "a.b"));
    assert_false(wants(in, "a"));
    removes(in, "*:>", true);
    free(in);
}

/* Topics with more segments than the query lists keys for ask everyone. */
static void test_long_topics_ask_every_shard(void **state)
{
    (void)state;
    struct interest *in = new_interest();
    char topic[128] = "a";
    for (int i = 1; i <= INTEREST_QUERY_SEGMENTS; i++)
        strcat(topic, ":a");
    assert_true(wants(in, topic));
    free(in);
}

/* Randomized: keep a multiset of subscriptions; for every topic that one of
 * them matches (topic_matches), the summary must say "may want". After all
 * are removed, nothing is wanted. */
static void test_no_false_negatives(void **state)
{
    (void)state;
    rc_hash_init(); /* a random key, as in the server (the tests before use the built-in one) */
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
                strcat(subs[i], rand() % 2 ? ":" : ".");
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

/* ---- The owner changes its summary while another shard reads it. ----
 *
 * The owner adds subscription i (an exact topic or a pattern), churns
 * unrelated ones, then "answers" with a release store; the reader, after
 * its acquire load of that answer, must find i wanted (the no-false-negative
 * promise of interest.h), and must find the subscriptions that were there
 * from the start wanted on every look in between. The owner removes i only
 * after the reader looked. */

#define HANDOFFS 3000
#define NOISE 64

struct handoff {
    struct interest *in;
    _Atomic int announced; /* the owner added subscription i */
    _Atomic int checked;   /* the reader looked for subscription i */
    _Atomic bool failed;
    char failure[160]; /* written by the one thread that set |failed| first */
};

static void handoff_fail(struct handoff *h, const char *what, int i)
{
    if (!atomic_exchange(&h->failed, true))
        snprintf(h->failure, sizeof(h->failure), "%s (handoff %d)", what, i);
}

/* handoff_wait spins until |*value| reaches |target|, giving way to the
 * other thread (2 cores, sanitizers); false when the other side failed. */
static bool handoff_wait(struct handoff *h, _Atomic int *value, int target)
{
    while (atomic_load_explicit(value, memory_order_acquire) < target) {
        if (atomic_load(&h->failed))
            return false;
        sched_yield();
    }
    return true;
}

/* handoff_name: subscription i is the exact topic h.i or the pattern p.i.*;
 * |topic| gets a topic it covers. */
static bool handoff_name(int i, char *name, char *topic, size_t size)
{
    bool pattern = i % 2 == 1;
    snprintf(name, size, pattern ? "p.%d.*" : "h.%d", i);
    snprintf(topic, size, pattern ? "p.%d.x" : "h.%d", i);
    return pattern;
}

/* toggle_noise adds or removes unrelated subscription |n| (odd: a pattern). */
static void toggle_noise(struct interest *in, bool *noise, int n)
{
    char name[32];
    snprintf(name, sizeof(name), n % 2 ? "noise.%d.>" : "noise.%d", n);
    if (noise[n])
        removes(in, name, n % 2);
    else
        add(in, name, n % 2);
    noise[n] = !noise[n];
}

static void *handoff_owner(void *arg)
{
    struct handoff *h = arg;
    bool noise[NOISE] = {false};
    unsigned seed = 4242;
    char name[32], topic[32];
    for (int i = 1; i <= HANDOFFS; i++) {
        bool pattern = handoff_name(i, name, topic, sizeof(name));
        add(h->in, name, pattern);
        for (int k = 0; k < 4; k++) /* unrelated changes in flight as the reader looks */
            toggle_noise(h->in, noise, rand_r(&seed) % NOISE);
        atomic_store_explicit(&h->announced, i, memory_order_release);
        if (!handoff_wait(h, &h->checked, i))
            return NULL;
        removes(h->in, name, pattern);
    }
    for (int n = 0; n < NOISE; n++) /* leave only what was there at the start */
        if (noise[n])
            toggle_noise(h->in, noise, n);
    return NULL;
}

static void *handoff_reader(void *arg)
{
    struct handoff *h = arg;
    char name[32], topic[32];
    for (int i = 1; i <= HANDOFFS; i++) {
        while (atomic_load_explicit(&h->announced, memory_order_acquire) < i) {
            if (atomic_load(&h->failed))
                return NULL;
            if (!wants(h->in, "always.here") || !wants(h->in, "always.a.b")) {
                handoff_fail(h, "a subscription there from the start was not wanted", i);
                return NULL;
            }
            sched_yield();
        }
        handoff_name(i, name, topic, sizeof(name));
        if (!wants(h->in, topic)) {
            handoff_fail(h, "an announced subscription was not wanted", i);
            return NULL;
        }
        atomic_store_explicit(&h->checked, i, memory_order_release);
    }
    return NULL;
}

static void test_owner_changes_while_another_thread_reads(void **state)
{
    (void)state;
    struct handoff h = {.in = new_interest()};
    add(h.in, "always.here", false);
    add(h.in, "always.>", true);
    run_two_threads(handoff_reader, handoff_owner, &h);
    if (atomic_load(&h.failed))
        fail_msg("%s", h.failure);
    assert_int_equal(atomic_load(&h.checked), HANDOFFS);
    /* Every handed-off subscription went again; the first ones stayed. */
    char name[32], topic[32];
    for (int i = 1; i <= HANDOFFS; i += 97) {
        handoff_name(i, name, topic, sizeof(name));
        assert_false(wants(h.in, topic));
    }
    assert_true(wants(h.in, "always.here"));
    free(h.in);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_empty_wants_nothing),
        cmocka_unit_test(test_exact_topics),
        cmocka_unit_test(test_patterns_by_shape_and_first_literal),
        cmocka_unit_test(test_non_matching_patterns_are_not_asked),
        cmocka_unit_test(test_any_topic_patterns),
        cmocka_unit_test(test_long_topics_ask_every_shard),
        cmocka_unit_test(test_no_false_negatives),
        cmocka_unit_test(test_owner_changes_while_another_thread_reads),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
