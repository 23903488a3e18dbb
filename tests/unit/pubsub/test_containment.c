/* test_containment.c: unit tests for topic_contains (src/pubsub/topic.h), against
 * hand-picked cases and, exhaustively for short patterns, against a
 * brute-force oracle built on topic_matches (the definition).
 *
 * The oracle: contains(outer, inner) iff every topic t of a witness set
 * with matches(inner, t) also has matches(outer, t). Every witness is a
 * real topic, so a "no" from the oracle is always right; the witness set
 * below is also complete (a "yes" is right), because any counterexample t
 * (inner matches it, outer does not) maps to one inside the set:
 *   - Length: if t has more than M + 1 segments (M = the longer pattern's
 *     segment count), cut it to M + 1. Inner still matches (it matched a
 *     topic longer than itself, so it ends in '>' or is "*" alone, and the
 *     segments it inspects are kept). Outer still fails: it is not "*"/">"
 *     alone (those match everything); if it ends in '>' it failed on a
 *     segment it inspects (all kept; the length, still > M, is enough); if
 *     it has no '>' it failed on a kept segment or on length, and M + 1 is
 *     still not its length.
 *   - Text: replace every segment text that is no literal of either pattern
 *     by one fresh literal z, keeping separators. Literal segments compare
 *     equal exactly as before, wildcards look only at separators, so both
 *     verdicts stay the same.
 * So for patterns over the literals {a, b}, all topics of 1..M+1 segments
 * over {a, b, z} and both separators are enough. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pubsub/topic.h"

static bool contains(const char *outer, const char *inner)
{
    return topic_contains(outer, strlen(outer), inner, strlen(inner));
}

static bool matches(const char *pattern, const char *topic)
{
    return topic_matches(pattern, strlen(pattern), topic, strlen(topic));
}

/* ---- a general oracle, for the hand-picked table ---- */

#define ORACLE_MAX_SEGS 6
#define ORACLE_MAX_VALUES 8
#define FRESH "zz_fresh" /* no literal in the table */

struct oracle {
    const char *outer, *inner;
    const char *values[ORACLE_MAX_VALUES + 1]; /* the patterns' literals, then FRESH */
    size_t n_values, max_segs;                 /* max_segs: the longer pattern's */
    char topic[512];
    bool counterexample;
};

static void add_literals(struct oracle *o, const char *pattern)
{
    struct topic_segment seg[ORACLE_MAX_SEGS + 1];
    size_t n = topic_split(pattern, strlen(pattern), seg, ORACLE_MAX_SEGS);
    assert_true(n >= 1 && n <= ORACLE_MAX_SEGS);
    if (n > o->max_segs)
        o->max_segs = n;
    for (size_t i = 0; i < n; i++) {
        if (topic_segment_is(&seg[i], '*') || topic_segment_is(&seg[i], '>'))
            continue;
        size_t skip = topic_segment_sep(&seg[i]) ? 1 : 0;
        const char *text = seg[i].text + skip;
        size_t len = seg[i].len - skip;
        bool seen = false;
        for (size_t v = 0; v < o->n_values; v++)
            seen |= strlen(o->values[v]) == len && memcmp(o->values[v], text, len) == 0;
        if (seen)
            continue;
        assert_true(o->n_values < ORACLE_MAX_VALUES);
        char *copy = malloc(len + 1);
        assert_non_null(copy);
        memcpy(copy, text, len);
        copy[len] = '\0';
        assert_string_not_equal(copy, FRESH);
        o->values[o->n_values++] = copy;
    }
}

/* walk extends o->topic (|used| bytes, segment |pos|) to |len| segments.
 * Segments at or past max_segs are only counted by any pattern (a '>'
 * covers them), so there one value and one separator are enough. */
static void walk(struct oracle *o, size_t used, size_t pos, size_t len)
{
    if (o->counterexample)
        return;
    if (pos == len) {
        o->topic[used] = '\0';
        if (matches(o->inner, o->topic) && !matches(o->outer, o->topic))
            o->counterexample = true;
        return;
    }
    bool inspected = pos < o->max_segs;
    size_t n_values = inspected ? o->n_values + 1 : 1;
    static const char seps[] = {':', '.'};
    size_t n_seps = pos == 0 ? 1 : inspected ? 2 : 1;
    for (size_t s = 0; s < n_seps; s++) {
        for (size_t v = 0; v < n_values; v++) {
            const char *text = inspected ? o->values[v] : FRESH;
            size_t at = used;
            if (pos > 0)
                o->topic[at++] = seps[s];
            size_t tl = strlen(text);
            assert_true(at + tl < sizeof(o->topic));
            memcpy(o->topic + at, text, tl);
            walk(o, at + tl, pos + 1, len);
        }
    }
}

static bool oracle_contains(const char *outer, const char *inner)
{
    struct oracle o = {.outer = outer, .inner = inner};
    add_literals(&o, outer);
    add_literals(&o, inner);
    size_t n_literals = o.n_values;
    o.values[o.n_values] = FRESH;
    for (size_t len = 1; len <= o.max_segs + 1 && !o.counterexample; len++)
        walk(&o, 0, 0, len);
    for (size_t v = 0; v < n_literals; v++)
        free((char *)o.values[v]);
    return !o.counterexample;
}

/* ---- hand-picked cases ---- */

struct case_ {
    const char *outer, *inner;
    bool want;
};

static const struct case_ cases[] = {
    /* the issue */
    {"customer_id:42:>", "customer_id:42:call:*", true},
    {"customer_id:42:>", "customer_id:*:call:*", false},
    {"customer_id:42:>", "customer_id:42:call:7", true},
    {"customer_id:42:>", "customer_id:42", false}, /* '>' is one or more */
    {"customer_id:42:>", "customer_id:42:>", true},
    {"customer_id:42:>", "customer_id:42:call:>", true},
    {"customer_id:42:call:>", "customer_id:42:>", false},
    {"customer_id:*:call:*", "customer_id:42:call:*", true},
    {"customer_id:*:call:*", "customer_id:42:call:7", true},
    {"customer_id:42:call:*", "customer_id:42:call:7:leg", false},
    {"customer_id:42:call:*", "customer_id:43:call:7", false},
    {"module.entity.>", "module.entity.created", true},
    {"module.entity.>", "module.entity:created", false},

    /* exact vs exact: only itself */
    {"a", "a", true},
    {"a", "b", false},
    {"a", "ab", false},
    {"ab", "a", false},
    {"a:b", "a:b", true},
    {"a:b", "a.b", false},
    {"a:b", "a", false},
    {"a", "a:b", false},
    {"a:b", "a:bc", false},
    {"a.b.c", "a.b.c", true},
    {"a.b:c", "a:b.c", false},

    /* "*" and ">" alone, on either side */
    {"*", "*", true},
    {"*", ">", true},
    {">", "*", true},
    {">", ">", true},
    {"*", "a", true},
    {">", "a", true},
    {"*", "a:b:c", true},
    {">", "a.b:c", true},
    {"*", "a.>", true},
    {">", "*:>", true},
    {"*", "*:*", true},
    {">", "*.*.*", true},
    {"a", "*", false},
    {"a", ">", false},
    {"*:*", "*", false},
    {"*:>", "*", false},
    {"*:>", ">", false},
    {"*.>", "*", false},
    {"a:>", ">", false},
    {"a:*", "*", false},

    /* two segments: each kind of outer segment against each kind of inner */
    {"a:b", "a:b", true},
    {"a:b", "a:c", false},
    {"a:b", "a:*", false},
    {"a:b", "a:>", false},
    {"a:b", "*:b", false},
    {"a:b", "a.b", false},
    {"a:*", "a:b", true},
    {"a:*", "a:*", true},
    {"a:*", "a:>", false},
    {"a:*", "a.b", false},
    {"a:*", "a.*", false},
    {"a:*", "a", false},
    {"a:*", "a:b:c", false},
    {"a:*", "*:b", false},
    {"a:>", "a:b", true},
    {"a:>", "a:*", true},
    {"a:>", "a:>", true},
    {"a:>", "a:b:c", true},
    {"a:>", "a:*.>", true},
    {"a:>", "a:b.c:d", true},
    {"a:>", "a.>", false},
    {"a:>", "a.b", false},
    {"a:>", "a", false},
    {"a:>", "b:>", false},
    {"a:>", "*:>", false},
    {"*:b", "a:b", true},
    {"*:b", "*:b", true},
    {"*:b", "*:c", false},
    {"*:b", "*:*", false},
    {"*:b", "*:>", false},
    {"*:b", "a.b", false},
    {"*:*", "a:b", true},
    {"*:*", "*:b", true},
    {"*:*", "a:*", true},
    {"*:*", "*:*", true},
    {"*:*", "*:>", false},
    {"*:*", "*.*", false},
    {"*:*", "a:b:c", false},
    {"*:>", "a:b", true},
    {"*:>", "a:b:c", true},
    {"*:>", "*:*", true},
    {"*:>", "*:>", true},
    {"*:>", "a:>", true},
    {"*:>", "*:*:>", true},
    {"*:>", "*.>", false},
    {"*:>", "a", false},
    {"*.>", "a.b:c", true},

    /* three segments */
    {"a:*:c", "a:b:c", true},
    {"a:*:c", "a:*:c", true},
    {"a:*:c", "*:*:c", false},
    {"a:*:c", "a:*:*", false},
    {"a:*:c", "a:*:>", false},
    {"a:*:c", "a:*.c", false},
    {"a:*:c", "a.*:c", false},
    {"a:*:c", "a:*", false},
    {"a:*:>", "a:b:c", true},
    {"a:*:>", "a:*:*", true},
    {"a:*:>", "a:*:>", true},
    {"a:*:>", "a:b:c:d", true},
    {"a:*:>", "a:b:*:>", true},
    {"a:*:>", "a:*", false},
    {"a:*:>", "a:>", false},
    {"a:*:>", "a:*.>", false},
    {"a:*:>", "*:*:>", false},
    {"*:*:*", "a:b:c", true},
    {"*:*:*", "*:*:*", true},
    {"*:*:*", "*:*:>", false},
    {"*:*:*", "*:*", false},
    {"*:*:*", "*:*:*:*", false},
    {"a:b:>", "a:b:c", true},
    {"a:b:>", "a:*:c", false},
    {"a.*:c", "a.b:c", true},
    {"a:*.c", "a:b.c", true},
    {"a:*.c", "a:b:c", false},

    /* longer */
    {"a:>", "a:b:c:d:e", true},
    {"a:b:c:d:>", "a:b:c:d:e", true},
    {"a:b:c:d:>", "a:b:c:d", false},
    {"a:b:c:d:>", "a:b:c:>", false},
    {"*:*:*:*:*", "a:b:c:d:e", true},
    {"*:*:*:*:*", "a:b:c:d:>", false},
};

static void test_table(void **state)
{
    size_t n = sizeof(cases) / sizeof(cases[0]);
    for (size_t i = 0; i < n; i++) {
        bool got = contains(cases[i].outer, cases[i].inner);
        if (got != cases[i].want)
            fail_msg("contains('%s', '%s') = %d, want %d", cases[i].outer, cases[i].inner, got,
                     cases[i].want);
    }
}

/* The table's expectations are hand-derived; check them against the
 * definition too, so the table cannot drift from topic_matches. */
static void test_table_agrees_with_oracle(void **state)
{
    size_t n = sizeof(cases) / sizeof(cases[0]);
    for (size_t i = 0; i < n; i++) {
        bool want = oracle_contains(cases[i].outer, cases[i].inner);
        if (want != cases[i].want)
            fail_msg("table says contains('%s', '%s') = %d, the oracle %d", cases[i].outer,
                     cases[i].inner, cases[i].want, want);
    }
}

static void test_reflexive_and_transitive_spots(void **state)
{
    static const char *const reflexive[] = {
        "a", "*", ">", "a:b", "a.b", "a:*", "*:>", "a:*.>", "customer_id:42:call:*",
    };
    for (size_t i = 0; i < sizeof(reflexive) / sizeof(reflexive[0]); i++)
        if (!contains(reflexive[i], reflexive[i]))
            fail_msg("'%s' does not contain itself", reflexive[i]);

    static const char *const chains[][3] = {
        {">", "a:>", "a:*:c"},
        {"*", "*:>", "a:b:c"},
        {"customer_id:>", "customer_id:42:>", "customer_id:42:call:*"},
        {"*:>", "a:*:>", "a:b:c"},
        {"a:>", "a:*", "a:b"},
        {"*:*:*", "a:*:*", "a:b:c"},
        {"a.>", "a.*:>", "a.b:c.d"},
    };
    for (size_t i = 0; i < sizeof(chains) / sizeof(chains[0]); i++) {
        const char *const *c = chains[i];
        if (!contains(c[0], c[1]) || !contains(c[1], c[2]) || !contains(c[0], c[2]))
            fail_msg("chain '%s' > '%s' > '%s' broken", c[0], c[1], c[2]);
        if (contains(c[2], c[0]))
            fail_msg("'%s' should not contain '%s'", c[2], c[0]);
    }
}

/* Not valid subscriptions: never contained, never containing. */
static void test_invalid(void **state)
{
    static const char *const bad[] = {"", "a:>:b", "a*", "a::b", ":a", "a:", "a b", ">:a"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        assert_false(contains(bad[i], "a"));
        assert_false(contains(">", bad[i]));
        assert_false(contains(bad[i], bad[i]));
    }
}

/* ---- exhaustive: every pattern of 1..3 segments over {a, b, *, >} ---- */

#define EX_SEGS 3
#define EX_PATTERNS 172 /* 4 + 3*2*4 + 3*2*3*2*4 */
#define EX_TOPICS 777   /* 3 + 3*6 + 3*6*6 + 3*6*6*6: 1..EX_SEGS+1 segments */
#define NAME_MAX_LEN 16

struct name_list {
    char names[1024][NAME_MAX_LEN];
    size_t n;
};

/* gen lists every name of exactly |len| segments: each segment one
 * character from |middle|, the last one from |last|, with either separator
 * between them. */
static void gen(struct name_list *out, char *buf, size_t used, size_t pos, size_t len,
                const char *middle, const char *last)
{
    if (pos == len) {
        buf[used] = '\0';
        assert_true(out->n < sizeof(out->names) / sizeof(out->names[0]));
        memcpy(out->names[out->n++], buf, used + 1);
        return;
    }
    const char *values = pos == len - 1 ? last : middle;
    size_t n_seps = pos == 0 ? 1 : 2; /* the first segment has none */
    for (size_t s = 0; s < n_seps; s++) {
        for (const char *v = values; *v; v++) {
            size_t at = used;
            if (pos > 0)
                buf[at++] = ":."[s];
            buf[at++] = *v;
            gen(out, buf, at, pos + 1, len, middle, last);
        }
    }
}

struct exhaustive {
    struct name_list patterns, topics;
    bool match[EX_PATTERNS][EX_TOPICS];
    bool contained[EX_PATTERNS][EX_PATTERNS];
};

static int exhaustive_setup(void **state)
{
    struct exhaustive *ex = calloc(1, sizeof(*ex));
    if (!ex)
        return -1;
    char buf[NAME_MAX_LEN];
    for (size_t len = 1; len <= EX_SEGS; len++)
        gen(&ex->patterns, buf, 0, 0, len, "ab*", "ab*>");
    for (size_t len = 1; len <= EX_SEGS + 1; len++)
        gen(&ex->topics, buf, 0, 0, len, "abz", "abz");
    if (ex->patterns.n != EX_PATTERNS || ex->topics.n != EX_TOPICS) {
        free(ex);
        return -1;
    }
    for (size_t p = 0; p < EX_PATTERNS; p++)
        for (size_t t = 0; t < EX_TOPICS; t++)
            ex->match[p][t] = matches(ex->patterns.names[p], ex->topics.names[t]);
    for (size_t o = 0; o < EX_PATTERNS; o++)
        for (size_t i = 0; i < EX_PATTERNS; i++)
            ex->contained[o][i] = contains(ex->patterns.names[o], ex->patterns.names[i]);
    *state = ex;
    return 0;
}

static int exhaustive_teardown(void **state)
{
    free(*state);
    return 0;
}

static void test_exhaustive_names_valid(void **state)
{
    struct exhaustive *ex = *state;
    for (size_t p = 0; p < EX_PATTERNS; p++) {
        const char *s = ex->patterns.names[p];
        assert_int_equal(topic_validate_pattern(s, strlen(s), 256, 32), TOPIC_OK);
        bool any = false; /* every pattern matches some witness: nothing is vacuous */
        for (size_t t = 0; t < EX_TOPICS; t++)
            any |= ex->match[p][t];
        if (!any)
            fail_msg("'%s' matches no witness", s);
    }
    for (size_t t = 0; t < EX_TOPICS; t++) {
        const char *s = ex->topics.names[t];
        assert_int_equal(topic_validate(s, strlen(s), 256, 32), TOPIC_OK);
    }
}

static void test_exhaustive_against_oracle(void **state)
{
    struct exhaustive *ex = *state;
    size_t pairs = 0, contained = 0;
    for (size_t o = 0; o < EX_PATTERNS; o++) {
        for (size_t i = 0; i < EX_PATTERNS; i++) {
            bool want = true;
            for (size_t t = 0; t < EX_TOPICS && want; t++)
                want = !ex->match[i][t] || ex->match[o][t];
            if (ex->contained[o][i] != want)
                fail_msg("contains('%s', '%s') = %d, brute force says %d", ex->patterns.names[o],
                         ex->patterns.names[i], ex->contained[o][i], want);
            pairs++;
            contained += want;
        }
    }
    assert_int_equal(pairs, EX_PATTERNS * EX_PATTERNS);
    print_message("%zu pattern pairs over %d witness topics, %zu contained\n", pairs, EX_TOPICS,
                  contained);
}

static void test_exhaustive_order(void **state)
{
    struct exhaustive *ex = *state;
    for (size_t a = 0; a < EX_PATTERNS; a++) {
        if (!ex->contained[a][a])
            fail_msg("'%s' does not contain itself", ex->patterns.names[a]);
        for (size_t b = 0; b < EX_PATTERNS; b++) {
            if (!ex->contained[a][b])
                continue;
            for (size_t c = 0; c < EX_PATTERNS; c++)
                if (ex->contained[b][c] && !ex->contained[a][c])
                    fail_msg("'%s' > '%s' > '%s' but not '%s' > '%s'", ex->patterns.names[a],
                             ex->patterns.names[b], ex->patterns.names[c], ex->patterns.names[a],
                             ex->patterns.names[c]);
        }
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_table),
        cmocka_unit_test(test_table_agrees_with_oracle),
        cmocka_unit_test(test_reflexive_and_transitive_spots),
        cmocka_unit_test(test_invalid),
        cmocka_unit_test(test_exhaustive_names_valid),
        cmocka_unit_test(test_exhaustive_against_oracle),
        cmocka_unit_test(test_exhaustive_order),
    };
    return cmocka_run_group_tests(tests, exhaustive_setup, exhaustive_teardown);
}
