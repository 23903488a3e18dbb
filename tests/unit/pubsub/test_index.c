/* test_index.c: unit tests for src/pubsub/index.h (shard-local topic index). */
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
#include "pubsub/index.h"
#include "pubsub/topic.h"

#define MAX_SUBS 1000

/* Fake connections: an array of struct subs; a visit is counted per
 * connection index. */
struct visits {
    struct subs *base;
    size_t n;
    int *count;
    size_t calls;
};

static void on_visit(void *ctx, struct subs *s)
{
    struct visits *v = ctx;
    assert_true(s >= v->base && s < v->base + v->n);
    v->count[s - v->base]++;
    v->calls++;
}

/* match runs index_match for |topic| (with |hash|) and fills |count|. */
static size_t match_h(struct index *idx, struct subs *conns, size_t n, int *count,
                      const char *topic, uint64_t hash)
{
    struct visits v = {conns, n, count, 0};
    memset(count, 0, n * sizeof(*count));
    size_t r = index_match(idx, topic, strlen(topic), hash, on_visit, &v);
    assert_int_equal(r, v.calls);
    return r;
}

static size_t match(struct index *idx, struct subs *conns, size_t n, int *count, const char *topic)
{
    return match_h(idx, conns, n, count, topic, rc_hash(topic, strlen(topic)));
}

static enum index_result sub(struct index *idx, struct subs *s, const char *name)
{
    return index_subscribe(idx, s, name, strlen(name), rc_hash(name, strlen(name)), MAX_SUBS,
                           UINT32_MAX);
}

static enum index_result unsub(struct index *idx, struct subs *s, const char *name)
{
    return index_unsubscribe(idx, s, name, strlen(name), rc_hash(name, strlen(name)));
}

/* check_links verifies the two-way positions between topic nodes and the
 * connections' subscription arrays, and the subscription count. */
static void check_links(const struct index *idx, struct subs *conns, size_t n)
{
    uint64_t total = 0;
    const struct hmap *maps[2] = {&idx->topics, &idx->patterns};
    for (int m = 0; m < 2; m++) {
        uint32_t pos = 0;
        struct topic_node *node;
        while ((node = hmap_next(maps[m], &pos)) != NULL) {
            assert_true(node->nsubs > 0); /* empty nodes are gone */
            assert_true(node->nsubs <= node->cap);
            assert_int_equal(node->is_pattern, m == 1);
            for (uint32_t i = 0; i < node->nsubs; i++) {
                struct sub_ref r = node->subs[i];
                assert_true(r.slot < r.owner->n);
                assert_ptr_equal(r.owner->v[r.slot].node, node);
                assert_int_equal(r.owner->v[r.slot].pos, i);
            }
            total += node->nsubs;
        }
    }
    assert_int_equal(total, idx->subscriptions);
    uint64_t from_conns = 0;
    for (size_t c = 0; c < n; c++) {
        struct subs *s = &conns[c];
        for (uint32_t j = 0; j < s->n; j++) {
            struct conn_sub cs = s->v[j];
            assert_true(cs.pos < cs.node->nsubs);
            assert_ptr_equal(cs.node->subs[cs.pos].owner, s);
            assert_int_equal(cs.node->subs[cs.pos].slot, j);
        }
        from_conns += s->n;
    }
    assert_int_equal(from_conns, idx->subscriptions);
}

static void test_subscribe_unsubscribe(void **state)
{
    struct index idx;
    index_init(&idx);
    struct subs c[2];
    memset(c, 0, sizeof(c));
    int count[2];

    assert_int_equal(sub(&idx, &c[0], "a.b"), INDEX_ADDED);
    assert_int_equal(sub(&idx, &c[0], "a.b"), INDEX_ALREADY);
    assert_int_equal(c[0].n, 1);
    assert_int_equal(idx.subscriptions, 1);
    assert_int_equal(sub(&idx, &c[1], "a.b"), INDEX_ADDED);
    assert_int_equal(index_topic_count(&idx), 1);
    assert_int_equal(match(&idx, c, 2, count, "a.b"), 2);
    assert_int_equal(count[0], 1);
    assert_int_equal(count[1], 1);
    assert_int_equal(match(&idx, c, 2, count, "a:b"), 0);
    assert_int_equal(match(&idx, c, 2, count, "a"), 0);

    assert_int_equal(unsub(&idx, &c[0], "x"), INDEX_ALREADY); /* no such topic */
    assert_int_equal(unsub(&idx, &c[0], "a.b"), INDEX_ADDED);
    assert_int_equal(unsub(&idx, &c[0], "a.b"), INDEX_ALREADY); /* topic exists, not held */
    assert_int_equal(match(&idx, c, 2, count, "a.b"), 1);
    assert_int_equal(count[1], 1);
    assert_int_equal(index_topic_count(&idx), 1);
    assert_int_equal(unsub(&idx, &c[1], "a.b"), INDEX_ADDED);
    assert_int_equal(index_topic_count(&idx), 0); /* the node went with its last subscriber */
    assert_int_equal(match(&idx, c, 2, count, "a.b"), 0);
    assert_int_equal(idx.subscriptions, 0);
    check_links(&idx, c, 2);
    index_remove_all(&idx, &c[0]);
    index_remove_all(&idx, &c[1]);
    index_cleanup(&idx);
}

/* index_remove_some removes a connection's subscriptions a batch at a
 * time (a closing connection leaves the index over several loop turns):
 * the others keep theirs, and the array goes with the last. */
static void test_remove_some(void **state)
{
    struct index idx;
    index_init(&idx);
    struct subs c[2] = {{0}};
    char name[32];
    for (int i = 0; i < 5000; i++) {
        snprintf(name, sizeof(name), "t.%d", i);
        assert_int_equal(index_subscribe(&idx, &c[0], name, strlen(name),
                                         rc_hash(name, strlen(name)), UINT32_MAX, UINT32_MAX),
                         INDEX_ADDED);
        if (i % 10 == 0)
            assert_int_equal(sub(&idx, &c[1], name), INDEX_ADDED);
    }
    assert_int_equal(index_topic_count(&idx), 5000);
    assert_int_equal(index_remove_some(&idx, &c[0], 2048), 5000 - 2048);
    assert_non_null(c[0].v);
    check_links(&idx, c, 2);
    assert_int_equal(index_remove_some(&idx, &c[0], 2048), 5000 - 4096);
    assert_int_equal(index_remove_some(&idx, &c[0], 2048), 0);
    assert_null(c[0].v);
    assert_int_equal(index_topic_count(&idx), 500); /* those c[1] holds */
    assert_int_equal(idx.subscriptions, 500);
    check_links(&idx, c, 2);
    assert_int_equal(index_remove_some(&idx, &c[0], 2048), 0); /* nothing left: fine */
    index_remove_all(&idx, &c[1]);
    assert_int_equal(index_topic_count(&idx), 0);
    index_cleanup(&idx);
}

static void test_limit(void **state)
{
    struct index idx;
    index_init(&idx);
    struct subs s = {0};
    assert_int_equal(index_subscribe(&idx, &s, "a", 1, rc_hash("a", 1), 2, UINT32_MAX),
                     INDEX_ADDED);
    assert_int_equal(index_subscribe(&idx, &s, "b.*", 3, rc_hash("b.*", 3), 2, UINT32_MAX),
                     INDEX_ADDED);
    assert_int_equal(index_subscribe(&idx, &s, "c", 1, rc_hash("c", 1), 2, UINT32_MAX),
                     INDEX_LIMIT);
    assert_int_equal(index_subscribe(&idx, &s, "c.>", 3, rc_hash("c.>", 3), 2, UINT32_MAX),
                     INDEX_LIMIT);
    /* Already held wins over the limit. */
    assert_int_equal(index_subscribe(&idx, &s, "a", 1, rc_hash("a", 1), 2, UINT32_MAX),
                     INDEX_ALREADY);
    assert_int_equal(index_subscribe(&idx, &s, "b.*", 3, rc_hash("b.*", 3), 2, UINT32_MAX),
                     INDEX_ALREADY);
    assert_int_equal(s.n, 2);
    assert_int_equal(index_topic_count(&idx), 2); /* the refused ones left no node */
    assert_int_equal(index_unsubscribe(&idx, &s, "a", 1, rc_hash("a", 1)), INDEX_ADDED);
    assert_int_equal(index_subscribe(&idx, &s, "c", 1, rc_hash("c", 1), 2, UINT32_MAX),
                     INDEX_ADDED);
    assert_int_equal(index_subscribe(&idx, &s, "x", 1, rc_hash("x", 1), 0, UINT32_MAX),
                     INDEX_LIMIT);
    check_links(&idx, &s, 1);
    index_remove_all(&idx, &s);
    index_cleanup(&idx);
}

/* The pattern limit counts only patterns, and frees a slot on unsubscribe. */
static void test_pattern_limit(void **state)
{
    struct index idx;
    index_init(&idx);
    struct subs s = {0};
#define SUB(name) index_subscribe(&idx, &s, name, strlen(name), rc_hash(name, strlen(name)), 10, 2)
    assert_int_equal(SUB("p.*"), INDEX_ADDED);
    assert_int_equal(SUB("q.>"), INDEX_ADDED);
    assert_int_equal(SUB("r.*"), INDEX_PATTERN_LIMIT);
    assert_int_equal(SUB("exact.one"), INDEX_ADDED); /* exact topics are not patterns */
    assert_int_equal(SUB("exact.two"), INDEX_ADDED);
    assert_int_equal(SUB("p.*"), INDEX_ALREADY);
    assert_int_equal(s.num_patterns, 2);
    assert_int_equal(index_unsubscribe(&idx, &s, "p.*", 3, rc_hash("p.*", 3)), INDEX_ADDED);
    assert_int_equal(s.num_patterns, 1);
    assert_int_equal(SUB("r.*"), INDEX_ADDED);
    assert_int_equal(index_topic_count(&idx), 4);
#undef SUB
    check_links(&idx, &s, 1);
    index_remove_all(&idx, &s);
    assert_int_equal(s.num_patterns, 0);
    index_cleanup(&idx);
}

/* Many subscribers on one topic, each also on other topics; remove them
 * in random order and check after each removal that every remaining one
 * is still matched exactly once (the swap-remove back-pointers). */
static void test_many_subscribers_random_removal(void **state)
{
    enum { N = 300 };
    struct index idx;
    index_init(&idx);
    struct subs *c = calloc(N, sizeof(*c));
    int *count = calloc(N, sizeof(int));
    int order[N];
    bool present[N];
    assert_non_null(c);
    assert_non_null(count);
    char name[32];
    for (int i = 0; i < N; i++) {
        snprintf(name, sizeof(name), "own:%d", i % 7);
        assert_int_equal(sub(&idx, &c[i], name), INDEX_ADDED);
        assert_int_equal(sub(&idx, &c[i], "shared"), INDEX_ADDED);
        snprintf(name, sizeof(name), "other.%d", i % 13);
        assert_int_equal(sub(&idx, &c[i], name), INDEX_ADDED);
        order[i] = i;
        present[i] = true;
    }
    check_links(&idx, c, N);
    unsigned seed = 5;
    for (int i = N - 1; i > 0; i--) {
        int j = rand_r(&seed) % (i + 1);
        int t = order[i];
        order[i] = order[j];
        order[j] = t;
    }
    for (int k = 0; k < N; k++) {
        int victim = order[k];
        if (k % 3 == 0)
            assert_int_equal(unsub(&idx, &c[victim], "shared"), INDEX_ADDED);
        else
            index_remove_all(&idx, &c[victim]);
        present[victim] = false;
        size_t want = (size_t)(N - k - 1);
        assert_int_equal(match(&idx, c, N, count, "shared"), want);
        for (int i = 0; i < N; i++)
            if (count[i] != (present[i] ? 1 : 0))
                fail_msg("after %d removals: connection %d visited %d times", k + 1, i, count[i]);
        if (k % 10 == 0)
            check_links(&idx, c, N);
    }
    assert_int_equal(match(&idx, c, N, count, "shared"), 0);
    /* The other topics are intact for those who unsubscribed only "shared". */
    size_t still = 0;
    for (int i = 0; i < 13; i++) {
        snprintf(name, sizeof(name), "other.%d", i);
        still += match(&idx, c, N, count, name);
    }
    size_t want_still = 0;
    for (int k = 0; k < N; k += 3)
        want_still++;
    assert_int_equal(still, want_still);
    check_links(&idx, c, N);
    for (int i = 0; i < N; i++)
        index_remove_all(&idx, &c[i]);
    assert_int_equal(index_topic_count(&idx), 0);
    assert_int_equal(idx.subscriptions, 0);
    index_cleanup(&idx);
    free(count);
    free(c);
}

static void test_remove_all(void **state)
{
    struct index idx;
    index_init(&idx);
    struct subs c[2];
    memset(c, 0, sizeof(c));
    int count[2];
    char name[32];
    for (int i = 0; i < 50; i++) {
        snprintf(name, sizeof(name), "t%d", i);
        assert_int_equal(sub(&idx, &c[0], name), INDEX_ADDED);
        if (i % 2 == 0)
            assert_int_equal(sub(&idx, &c[1], name), INDEX_ADDED);
    }
    assert_int_equal(sub(&idx, &c[0], "p.*"), INDEX_ADDED);
    assert_int_equal(sub(&idx, &c[0], ">"), INDEX_ADDED);
    assert_int_equal(index_topic_count(&idx), 52);
    index_remove_all(&idx, &c[0]);
    assert_int_equal(c[0].n, 0);
    assert_null(c[0].v);
    assert_int_equal(index_topic_count(&idx), 25);
    assert_int_equal(idx.subscriptions, 25);
    for (int i = 0; i < 50; i++) {
        snprintf(name, sizeof(name), "t%d", i);
        assert_int_equal(match(&idx, c, 2, count, name), i % 2 == 0 ? 1 : 0);
        assert_int_equal(count[0], 0);
    }
    assert_int_equal(match(&idx, c, 2, count, "p.x"), 0);
    check_links(&idx, c, 2);
    index_remove_all(&idx, &c[0]); /* already empty: harmless */
    index_remove_all(&idx, &c[1]);
    assert_int_equal(index_topic_count(&idx), 0);
    index_cleanup(&idx);
}

/* Different names under one forced hash value stay distinct. */
static void test_equal_hash_distinct(void **state)
{
    struct index idx;
    index_init(&idx);
    struct subs c[3];
    memset(c, 0, sizeof(c));
    int count[3];
    const uint64_t h = 42;
    assert_int_equal(index_subscribe(&idx, &c[0], "a", 1, h, MAX_SUBS, UINT32_MAX), INDEX_ADDED);
    assert_int_equal(index_subscribe(&idx, &c[1], "b", 1, h, MAX_SUBS, UINT32_MAX), INDEX_ADDED);
    assert_int_equal(index_subscribe(&idx, &c[2], "ab", 2, h, MAX_SUBS, UINT32_MAX), INDEX_ADDED);
    assert_int_equal(index_subscribe(&idx, &c[0], "b", 1, h, MAX_SUBS, UINT32_MAX), INDEX_ADDED);
    assert_int_equal(index_topic_count(&idx), 3);
    assert_int_equal(match_h(&idx, c, 3, count, "a", h), 1);
    assert_int_equal(count[0], 1);
    assert_int_equal(match_h(&idx, c, 3, count, "b", h), 2);
    assert_int_equal(count[0] + count[1], 2);
    assert_int_equal(match_h(&idx, c, 3, count, "ab", h), 1);
    assert_int_equal(count[2], 1);
    assert_int_equal(match_h(&idx, c, 3, count, "c", h), 0);
    assert_int_equal(index_unsubscribe(&idx, &c[0], "a", 1, h), INDEX_ADDED);
    assert_int_equal(index_unsubscribe(&idx, &c[2], "a", 1, h), INDEX_ALREADY);
    assert_int_equal(match_h(&idx, c, 3, count, "b", h), 2);
    assert_int_equal(match_h(&idx, c, 3, count, "ab", h), 1);
    assert_int_equal(index_topic_count(&idx), 2);
    check_links(&idx, c, 3);
    for (int i = 0; i < 3; i++)
        index_remove_all(&idx, &c[i]);
    index_cleanup(&idx);
}

/* Patterns, and a connection that several subscriptions match is visited
 * once per message. */
static void test_patterns_visit_once(void **state)
{
    struct index idx;
    index_init(&idx);
    struct subs c[4];
    memset(c, 0, sizeof(c));
    int count[4];
    assert_int_equal(sub(&idx, &c[0], "customer_id:42:call:7"), INDEX_ADDED);
    assert_int_equal(sub(&idx, &c[0], "customer_id:42:call:*"), INDEX_ADDED);
    assert_int_equal(sub(&idx, &c[0], "customer_id:42:>"), INDEX_ADDED);
    assert_int_equal(sub(&idx, &c[0], "*"), INDEX_ADDED);
    assert_int_equal(sub(&idx, &c[1], "customer_id:*:call:*"), INDEX_ADDED);
    assert_int_equal(sub(&idx, &c[2], "customer_id.42.>"), INDEX_ADDED); /* other separators */
    assert_int_equal(sub(&idx, &c[3], ">"), INDEX_ADDED);

    assert_int_equal(match(&idx, c, 4, count, "customer_id:42:call:7"), 3);
    assert_int_equal(count[0], 1);
    assert_int_equal(count[1], 1);
    assert_int_equal(count[2], 0);
    assert_int_equal(count[3], 1);
    assert_int_equal(match(&idx, c, 4, count, "customer_id.42.call"), 3);
    assert_int_equal(count[0], 1); /* through "*" */
    assert_int_equal(count[2], 1);
    assert_int_equal(count[1], 0);
    assert_int_equal(match(&idx, c, 4, count, "x"), 2); /* "*" and ">" */
    assert_int_equal(count[0] + count[3], 2);

    /* Unsubscribing one pattern keeps the others. */
    assert_int_equal(unsub(&idx, &c[0], "*"), INDEX_ADDED);
    assert_int_equal(match(&idx, c, 4, count, "x"), 1);
    assert_int_equal(unsub(&idx, &c[0], "customer_id:42:call:*"), INDEX_ADDED);
    assert_int_equal(match(&idx, c, 4, count, "customer_id:42:call:8"), 3);
    assert_int_equal(unsub(&idx, &c[0], "customer_id:42:>"), INDEX_ADDED);
    assert_int_equal(match(&idx, c, 4, count, "customer_id:42:call:8"), 2);
    assert_int_equal(count[0], 0);
    assert_int_equal(match(&idx, c, 4, count, "customer_id:42:call:7"), 3);
    check_links(&idx, c, 4);
    for (int i = 0; i < 4; i++)
        index_remove_all(&idx, &c[i]);
    assert_int_equal(index_topic_count(&idx), 0);
    assert_int_equal(match(&idx, c, 4, count, "customer_id:42:call:7"), 0);
    index_cleanup(&idx);
}

/* ---- Randomized: the index agrees with topic_matches. ---- */

static void random_name(unsigned *seed, char *out, bool pattern)
{
    static const char *const words[] = {"a", "b", "cc"};
    int nseg = 1 + rand_r(seed) % 4;
    size_t len = 0;
    for (int i = 0; i < nseg; i++) {
        if (i > 0)
            out[len++] = rand_r(seed) % 3 ? '.' : ':';
        int r = rand_r(seed) % 7;
        const char *w = words[r % 3];
        if (pattern && (r == 3 || r == 6))
            w = "*";
        else if (pattern && r == 4 && i == nseg - 1)
            w = ">";
        memcpy(out + len, w, strlen(w));
        len += strlen(w);
    }
    out[len] = '\0';
}

#define RC 40 /* connections */
#define RS 8  /* subscriptions each, at most */

static void test_randomized_against_reference(void **state)
{
    struct index idx;
    index_init(&idx);
    struct subs c[RC];
    memset(c, 0, sizeof(c));
    char held[RC][RS][24];
    int nheld[RC] = {0};
    int count[RC];
    unsigned seed = 777;
    char name[24], topic[24];
    for (int round = 0; round < 4000; round++) {
        int k = rand_r(&seed) % RC;
        int op = rand_r(&seed) % 10;
        if (op < 5) {
            random_name(&seed, name, rand_r(&seed) % 2);
            assert_int_equal(topic_validate_pattern(name, strlen(name), 256, 32), TOPIC_OK);
            bool have = false;
            for (int j = 0; j < nheld[k]; j++)
                have |= strcmp(held[k][j], name) == 0;
            enum index_result r = index_subscribe(&idx, &c[k], name, strlen(name),
                                                  rc_hash(name, strlen(name)), RS, UINT32_MAX);
            if (have)
                assert_int_equal(r, INDEX_ALREADY);
            else if (nheld[k] == RS)
                assert_int_equal(r, INDEX_LIMIT);
            else {
                assert_int_equal(r, INDEX_ADDED);
                strcpy(held[k][nheld[k]++], name);
            }
        } else if (op < 8) {
            if (nheld[k] == 0)
                continue;
            int j = rand_r(&seed) % nheld[k];
            assert_int_equal(unsub(&idx, &c[k], held[k][j]), INDEX_ADDED);
            assert_int_equal(unsub(&idx, &c[k], held[k][j]), INDEX_ALREADY);
            nheld[k]--;
            if (j != nheld[k])
                memcpy(held[k][j], held[k][nheld[k]], sizeof(held[k][j]));
        } else if (op == 8) {
            index_remove_all(&idx, &c[k]);
            nheld[k] = 0;
        }
        /* Every connection matched exactly when one of its subscriptions
         * matches by topic_matches, and once. */
        for (int q = 0; q < 3; q++) {
            random_name(&seed, topic, false);
            size_t n = match(&idx, c, RC, count, topic);
            size_t want_n = 0;
            for (int i = 0; i < RC; i++) {
                bool want = false;
                for (int j = 0; j < nheld[i]; j++)
                    want |= topic_matches(held[i][j], strlen(held[i][j]), topic, strlen(topic));
                if (count[i] != (want ? 1 : 0))
                    fail_msg("round %d topic '%s': connection %d visited %d times, want %d", round,
                             topic, i, count[i], want);
                want_n += want;
            }
            assert_int_equal(n, want_n);
        }
        if (round % 50 == 0)
            check_links(&idx, c, RC);
    }
    /* index_topic_count: distinct names held. */
    for (int i = 0; i < RC; i++)
        index_remove_all(&idx, &c[i]);
    assert_int_equal(index_topic_count(&idx), 0);
    assert_int_equal(idx.subscriptions, 0);
    index_cleanup(&idx);
}

static void test_topic_count_distinct(void **state)
{
    struct index idx;
    index_init(&idx);
    struct subs c[2];
    memset(c, 0, sizeof(c));
    static const char *const names[] = {"a", "a.b", "a:b", "a.*", "a:*", "a.>", "*", ">", "*.a"};
    size_t n = sizeof(names) / sizeof(names[0]);
    for (size_t i = 0; i < n; i++) {
        assert_int_equal(sub(&idx, &c[0], names[i]), INDEX_ADDED);
        assert_int_equal(sub(&idx, &c[1], names[i]), INDEX_ADDED);
        assert_int_equal(index_topic_count(&idx), i + 1);
    }
    for (size_t i = 0; i < n; i++) {
        assert_int_equal(unsub(&idx, &c[0], names[i]), INDEX_ADDED);
        assert_int_equal(index_topic_count(&idx), n);
    }
    for (size_t i = 0; i < n; i++) {
        assert_int_equal(unsub(&idx, &c[1], names[i]), INDEX_ADDED);
        assert_int_equal(index_topic_count(&idx), n - i - 1);
    }
    index_remove_all(&idx, &c[0]);
    index_remove_all(&idx, &c[1]);
    index_cleanup(&idx);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_subscribe_unsubscribe),
        cmocka_unit_test(test_limit),
        cmocka_unit_test(test_pattern_limit),
        cmocka_unit_test(test_many_subscribers_random_removal),
        cmocka_unit_test(test_remove_all),
        cmocka_unit_test(test_equal_hash_distinct),
        cmocka_unit_test(test_patterns_visit_once),
        cmocka_unit_test(test_randomized_against_reference),
        cmocka_unit_test(test_topic_count_distinct),
        cmocka_unit_test(test_remove_some),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
