/* test_patterns.c: the index's pattern trie against the plain matcher.
 *
 * topic_matches() is the definition of what a pattern matches; the index
 * must visit exactly the subscribers whose patterns match, each once, for
 * every topic. Topics and patterns are generated over a small alphabet so
 * that many of them overlap. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/hash.h"
#include "pubsub/index.h"
#include "pubsub/topic.h"

#define NUM_SUBSCRIBERS 40
#define MAX_NAME 64

struct visit_log {
    int counts[NUM_SUBSCRIBERS];
    struct subs *subscribers;
};

static void count_visit(void *ctx, struct subs *s)
{
    struct visit_log *log = ctx;
    log->counts[s - log->subscribers]++;
}

static const char *const segment_words[] = {"a", "b", "c", "42"};

/* random_name writes a topic (no wildcards) or a pattern with 1..4 segments. */
static void random_name(char *out, bool pattern, unsigned *seed)
{
    int segments = 1 + rand_r(seed) % 4;
    out[0] = '\0';
    for (int i = 0; i < segments; i++) {
        if (i > 0)
            strcat(out, rand_r(seed) % 2 ? ":" : ".");
        int pick = rand_r(seed) % 6;
        if (pattern && pick == 4)
            strcat(out, "*");
        else if (pattern && pick == 5 && i == segments - 1)
            strcat(out, ">");
        else
            strcat(out, segment_words[rand_r(seed) % 4]);
    }
    if (pattern && rand_r(seed) % 25 == 0)
        strcpy(out, "*");
}

static void check_random_table(unsigned seed)
{
    struct index idx;
    index_init(&idx);
    struct subs subscribers[NUM_SUBSCRIBERS];
    memset(subscribers, 0, sizeof(subscribers));
    char names[NUM_SUBSCRIBERS][3][MAX_NAME];
    int num_names[NUM_SUBSCRIBERS];

    for (int i = 0; i < NUM_SUBSCRIBERS; i++) {
        num_names[i] = 1 + rand_r(&seed) % 3;
        for (int k = 0; k < num_names[i]; k++) {
            random_name(names[i][k], rand_r(&seed) % 4 != 0, &seed);
            size_t len = strlen(names[i][k]);
            assert_int_equal(topic_validate_pattern(names[i][k], len, MAX_NAME, 8), TOPIC_OK);
            enum index_result r = index_subscribe(&idx, &subscribers[i], names[i][k], len,
                                                  rc_hash(names[i][k], len), 8, UINT32_MAX);
            assert_true(r == INDEX_ADDED || r == INDEX_ALREADY);
        }
    }
    for (int t = 0; t < 300; t++) {
        char topic[MAX_NAME];
        random_name(topic, false, &seed);
        size_t len = strlen(topic);
        struct visit_log log = {{0}, subscribers};
        size_t visited = index_match(&idx, topic, len, rc_hash(topic, len), count_visit, &log);
        size_t expected_visits = 0;
        for (int i = 0; i < NUM_SUBSCRIBERS; i++) {
            bool matches = false;
            for (int k = 0; k < num_names[i]; k++)
                matches |= topic_matches(names[i][k], strlen(names[i][k]), topic, len);
            if (log.counts[i] != (matches ? 1 : 0))
                fail_msg("topic %s: subscriber %d (%s %s %s) visited %d times, expected %d", topic,
                         i, names[i][0], num_names[i] > 1 ? names[i][1] : "",
                         num_names[i] > 2 ? names[i][2] : "", log.counts[i], matches);
            expected_visits += matches;
        }
        assert_int_equal(visited, expected_visits);
    }
    /* Unsubscribing one pattern removes exactly that one. */
    for (int i = 0; i < NUM_SUBSCRIBERS; i++) {
        size_t len = strlen(names[i][0]);
        index_unsubscribe(&idx, &subscribers[i], names[i][0], len, rc_hash(names[i][0], len));
        for (uint32_t k = 0; k < subscribers[i].n; k++) {
            const struct topic_node *node = subscribers[i].v[k].node;
            assert_false(node->len == len && memcmp(node->name, names[i][0], len) == 0);
        }
    }
    for (int i = 0; i < NUM_SUBSCRIBERS; i++)
        index_remove_all(&idx, &subscribers[i]);
    assert_int_equal(index_topic_count(&idx), 0);
    index_cleanup(&idx);
}

static void test_trie_agrees_with_plain_matcher(void **state)
{
    (void)state;
    for (unsigned seed = 1; seed <= 50; seed++)
        check_random_table(seed);
}

static void test_plain_matcher_rules(void **state)
{
    (void)state;
    static const struct {
        const char *pattern, *topic;
        bool matches;
    } table[] = {
        {"customer_id:42:call:*", "customer_id:42:call:7", true},
        {"customer_id:42:call:*", "customer_id:42:call", false},
        {"customer_id:42:call:*", "customer_id:42:call:7:leg", false},
        {"customer_id:42:>", "customer_id:42:call:7", true},
        {"customer_id:42:>", "customer_id:42", false},
        {"customer_id:*:call:*", "customer_id:7:call:1", true},
        {"module.*", "module.entity", true},
        {"module.*", "module.entity.created", false},
        {"*", "module.entity.created", true},
        {"*", "x", true},
        {">", "x", true},
        {">", "x.y", true},
        {"a.b", "a:b", false}, /* separators count, as in exact topics */
        {"a.*", "a:b", false},
        {"a:*", "a:b", true},
        {"a:>", "a.b", false},
        {"a:>", "a:b.c", true},
        {"a.b", "a.b.c", false},
        {"*.b", "a.b", true},
        {"*.>", "a", false},
    };
    for (size_t i = 0; i < sizeof(table) / sizeof(table[0]); i++) {
        bool got = topic_matches(table[i].pattern, strlen(table[i].pattern), table[i].topic,
                                 strlen(table[i].topic));
        if (got != table[i].matches)
            fail_msg("%s vs %s: got %d", table[i].pattern, table[i].topic, got);
    }
}

static void test_pattern_validation(void **state)
{
    (void)state;
    assert_int_equal(topic_validate_pattern("a:*:c", 5, 64, 8), TOPIC_OK);
    assert_int_equal(topic_validate_pattern("a:>", 3, 64, 8), TOPIC_OK);
    assert_int_equal(topic_validate_pattern("*", 1, 64, 8), TOPIC_OK);
    assert_int_equal(topic_validate_pattern("a:>:c", 5, 64, 8), TOPIC_WILDCARD_NOT_LAST);
    assert_int_equal(topic_validate_pattern("a*", 2, 64, 8), TOPIC_BAD_WILDCARD);
    assert_int_equal(topic_validate_pattern("a.b.c", 5, 64, 2), TOPIC_TOO_MANY_SEGMENTS);
    assert_int_equal(topic_validate("a.*", 3, 64, 8), TOPIC_WILDCARD);
    assert_int_equal(topic_validate("a.>", 3, 64, 8), TOPIC_WILDCARD);
    assert_int_equal(topic_validate("a>b", 3, 64, 8), TOPIC_WILDCARD);
}

/* The same connection matched by an exact topic and two patterns gets one
 * visit; after unsubscribing all three it gets none. */
static void test_one_visit_per_connection(void **state)
{
    (void)state;
    struct index idx;
    index_init(&idx);
    struct subs s;
    memset(&s, 0, sizeof(s));
    const char *names[] = {"a.b.c", "a.*.c", "a.>", "*"};
    for (int i = 0; i < 4; i++)
        assert_int_equal(index_subscribe(&idx, &s, names[i], strlen(names[i]),
                                         rc_hash(names[i], strlen(names[i])), 10, UINT32_MAX),
                         INDEX_ADDED);
    struct visit_log log = {{0}, &s};
    assert_int_equal(index_match(&idx, "a.b.c", 5, rc_hash("a.b.c", 5), count_visit, &log), 1);
    assert_int_equal(log.counts[0], 1);
    for (int i = 0; i < 4; i++)
        assert_int_equal(index_unsubscribe(&idx, &s, names[i], strlen(names[i]),
                                           rc_hash(names[i], strlen(names[i]))),
                         INDEX_ADDED);
    assert_int_equal(index_match(&idx, "a.b.c", 5, rc_hash("a.b.c", 5), count_visit, &log), 0);
    assert_int_equal(index_topic_count(&idx), 0);
    index_remove_all(&idx, &s);
    index_cleanup(&idx);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_plain_matcher_rules),
        cmocka_unit_test(test_pattern_validation),
        cmocka_unit_test(test_one_visit_per_connection),
        cmocka_unit_test(test_trie_agrees_with_plain_matcher),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
