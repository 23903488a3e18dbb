/* fuzz_containment.c: topic_contains against brute-force matching.
 *
 * The input decodes to two patterns, outer and inner: a byte each for their
 * segment counts (1..MAX_SEGS), then a byte per segment choosing its text
 * from {a, b, ab, *, >} and the separator in front of it (':' or '.').
 * Invalid patterns ('>' not last) are skipped. topic_contains(outer, inner)
 * must equal the oracle: no witness topic t with topic_matches(inner, t)
 * and not topic_matches(outer, t).
 *
 * The witnesses are all topics of 1..M+1 segments (M = the longer
 * pattern's segment count) where segment i is one of the literals either
 * pattern has at position i or the fresh literal z, with either separator;
 * segments past M are only counted by any pattern, so there z with ':' is
 * enough. That set is complete (see tests/unit/test_containment.c for the
 * argument: a longer counterexample can be cut to M + 1 segments, and a
 * text that equals no literal the matcher compares it with can become z)
 * and small: at most a few thousand topics, so runs stay fast. */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "pubsub/topic.h"

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond))                                                                               \
            abort();                                                                               \
    } while (0)

#define MAX_SEGS 5
#define N_CHOICES 5

static const char *const choices[N_CHOICES] = {"a", "b", "ab", "*", ">"};

struct pattern {
    char text[MAX_SEGS * 3 + 1];
    size_t len, n;
    const char *seg[MAX_SEGS]; /* the choice at each position */
};

/* decode reads one pattern from |*data|; false when the input runs out. */
static bool decode(const uint8_t **data, size_t *size, struct pattern *p)
{
    if (*size < 1)
        return false;
    p->n = 1 + (*data)[0] % MAX_SEGS;
    (*data)++, (*size)--;
    if (*size < p->n)
        return false;
    p->len = 0;
    for (size_t i = 0; i < p->n; i++) {
        uint8_t b = (*data)[i];
        p->seg[i] = choices[b % N_CHOICES];
        if (i > 0)
            p->text[p->len++] = (b / N_CHOICES) % 2 ? '.' : ':';
        size_t l = strlen(p->seg[i]);
        memcpy(p->text + p->len, p->seg[i], l);
        p->len += l;
    }
    p->text[p->len] = '\0';
    *data += p->n, *size -= p->n;
    return true;
}

static bool is_literal(const char *s)
{
    return strcmp(s, "*") != 0 && strcmp(s, ">") != 0;
}

#define MAX_VALUES 3 /* two patterns' literals at one position, and z */

struct oracle {
    const struct pattern *outer, *inner;
    const char *values[MAX_SEGS + 1][MAX_VALUES];
    size_t n_values[MAX_SEGS + 1], m;
    char topic[(MAX_SEGS + 1) * 3 + 1];
    bool counterexample;
    unsigned long witnesses;
};

static void add_value(struct oracle *o, size_t pos, const char *v)
{
    for (size_t i = 0; i < o->n_values[pos]; i++)
        if (strcmp(o->values[pos][i], v) == 0)
            return;
    CHECK(o->n_values[pos] < MAX_VALUES);
    o->values[pos][o->n_values[pos]++] = v;
}

static void walk(struct oracle *o, size_t used, size_t pos, size_t len)
{
    if (o->counterexample)
        return;
    if (pos == len) {
        o->witnesses++;
        if (topic_matches(o->inner->text, o->inner->len, o->topic, used) &&
            !topic_matches(o->outer->text, o->outer->len, o->topic, used))
            o->counterexample = true;
        return;
    }
    size_t n_seps = pos == 0 || pos >= o->m ? 1 : 2;
    for (size_t s = 0; s < n_seps; s++) {
        for (size_t v = 0; v < o->n_values[pos]; v++) {
            size_t at = used;
            if (pos > 0)
                o->topic[at++] = ":."[s];
            size_t l = strlen(o->values[pos][v]);
            memcpy(o->topic + at, o->values[pos][v], l);
            walk(o, at + l, pos + 1, len);
        }
    }
}

static bool oracle_contains(const struct pattern *outer, const struct pattern *inner)
{
    struct oracle o = {.outer = outer, .inner = inner};
    o.m = outer->n > inner->n ? outer->n : inner->n;
    for (size_t pos = 0; pos <= o.m; pos++) {
        if (pos < outer->n && is_literal(outer->seg[pos]))
            add_value(&o, pos, outer->seg[pos]);
        if (pos < inner->n && is_literal(inner->seg[pos]))
            add_value(&o, pos, inner->seg[pos]);
        add_value(&o, pos, "z");
    }
    for (size_t len = 1; len <= o.m + 1 && !o.counterexample; len++)
        walk(&o, 0, 0, len);
    CHECK(o.witnesses > 0);
    return !o.counterexample;
}

static bool valid(const struct pattern *p)
{
    return topic_validate_pattern(p->text, p->len, 256, 32) == TOPIC_OK;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct pattern outer, inner;
    if (!decode(&data, &size, &outer) || !decode(&data, &size, &inner))
        return 0;
    if (!valid(&outer) || !valid(&inner))
        return 0;
    CHECK(topic_contains(outer.text, outer.len, outer.text, outer.len));
    CHECK(topic_contains(inner.text, inner.len, inner.text, inner.len));
    bool got = topic_contains(outer.text, outer.len, inner.text, inner.len);
    CHECK(got == oracle_contains(&outer, &inner));
    return 0;
}
