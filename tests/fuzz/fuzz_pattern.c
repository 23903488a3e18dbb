/* fuzz_pattern.c: the pattern parser and the index's segment trie on
 * arbitrary bytes.
 *
 * The input is split at newlines: every line but the last is a
 * subscription (topic or pattern) of its own subscriber, the last line a
 * topic to publish. Lines are judged by topic_validate_pattern /
 * topic_validate (memory safety under ASan for any bytes); valid
 * subscriptions go into an index. Then, for a valid topic:
 *   - index_match visits exactly the subscribers whose subscription
 *     topic_matches the topic, each once;
 *   - for an exact topic, containment and matching agree:
 *     topic_contains(p, t) == topic_matches(p, t);
 *   - the interest summary of the subscriptions (src/pubsub/interest.h) asks for
 *     the topic whenever one of them matches it (no false negatives);
 * and for every valid subscription p, topic_contains(p, p) (a pattern
 * contains itself). Unsubscribing everything leaves the index empty and
 * the summary asks for nothing (unless the topic is too long to list). */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "util/hash.h"
#include "pubsub/index.h"
#include "pubsub/interest.h"
#include "pubsub/topic.h"

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond))                                                                               \
            abort();                                                                               \
    } while (0)

#define MAX_SUBSCRIBERS 16
#define MAX_LEN 128
#define MAX_SEGMENTS 12

struct line {
    const char *text;
    size_t len;
};

struct visits {
    struct subs *subscribers;
    int counts[MAX_SUBSCRIBERS];
};

static void count_visit(void *ctx, struct subs *s)
{
    struct visits *v = ctx;
    v->counts[s - v->subscribers]++;
}

static size_t split_lines(const uint8_t *data, size_t size, struct line *out, size_t max)
{
    size_t n = 0, start = 0;
    for (size_t i = 0; i <= size && n < max; i++) {
        if (i == size || data[i] == '\n') {
            out[n++] = (struct line){(const char *)data + start, i - start};
            start = i + 1;
        }
    }
    return n;
}

static void check_topic(struct index *idx, struct subs *subscribers, const struct line *subs_lines,
                        const bool *valid, size_t num_subs, const struct line *topic)
{
    struct visits v = {subscribers, {0}};
    size_t visited = index_match(idx, topic->text, topic->len, rc_hash(topic->text, topic->len),
                                 count_visit, &v);
    size_t expected = 0;
    for (size_t i = 0; i < num_subs; i++) {
        bool matches = valid[i] && topic_matches(subs_lines[i].text, subs_lines[i].len, topic->text,
                                                 topic->len);
        CHECK(v.counts[i] == (matches ? 1 : 0));
        expected += matches;
        if (valid[i])
            CHECK(topic_contains(subs_lines[i].text, subs_lines[i].len, topic->text, topic->len) ==
                  matches);
    }
    CHECK(visited == expected);
}

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct interest *summary; /* this fuzzer's, large: allocated once */

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    rc_hash_init();
    summary = calloc(1, sizeof(*summary));
    return summary ? 0 : 1;
}

static bool summary_asks(const struct line *topic)
{
    struct interest_query q;
    interest_query_init(&q, topic->text, topic->len, rc_hash(topic->text, topic->len));
    return interest_may_want(summary, &q);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct line lines[MAX_SUBSCRIBERS + 1];
    size_t n = split_lines(data, size, lines, MAX_SUBSCRIBERS + 1);
    if (n < 2)
        return 0;
    size_t num_subs = n - 1;
    const struct line *topic = &lines[n - 1];

    struct index idx;
    index_init(&idx);
    struct subs subscribers[MAX_SUBSCRIBERS];
    memset(subscribers, 0, sizeof(subscribers));
    bool valid[MAX_SUBSCRIBERS];
    for (size_t i = 0; i < num_subs; i++) {
        const struct line *l = &lines[i];
        valid[i] = topic_validate_pattern(l->text, l->len, MAX_LEN, MAX_SEGMENTS) == TOPIC_OK;
        if (!valid[i])
            continue;
        CHECK(topic_contains(l->text, l->len, l->text, l->len));
        enum index_result r =
            index_subscribe(&idx, &subscribers[i], l->text, l->len, rc_hash(l->text, l->len), 4, 4);
        CHECK(r == INDEX_ADDED);
        interest_add(summary, l->text, l->len, rc_hash(l->text, l->len),
                     topic_is_pattern(l->text, l->len));
    }
    bool topic_valid = topic_validate(topic->text, topic->len, MAX_LEN, MAX_SEGMENTS) == TOPIC_OK;
    if (topic_valid) {
        check_topic(&idx, subscribers, lines, valid, num_subs, topic);
        bool any_match = false;
        for (size_t i = 0; i < num_subs; i++)
            any_match |=
                valid[i] && topic_matches(lines[i].text, lines[i].len, topic->text, topic->len);
        CHECK(!any_match || summary_asks(topic));
    }

    for (size_t i = 0; i < num_subs; i++) {
        if (!valid[i])
            continue;
        const struct line *l = &lines[i];
        CHECK(index_unsubscribe(&idx, &subscribers[i], l->text, l->len, rc_hash(l->text, l->len)) ==
              INDEX_ADDED);
        index_remove_all(&idx, &subscribers[i]);
        interest_remove(summary, l->text, l->len, rc_hash(l->text, l->len),
                        topic_is_pattern(l->text, l->len));
    }
    CHECK(index_topic_count(&idx) == 0);
    if (topic_valid) {
        struct topic_segment segs[INTEREST_QUERY_SEGMENTS + 1];
        bool listable = topic_split(topic->text, topic->len, segs, INTEREST_QUERY_SEGMENTS) <=
                        INTEREST_QUERY_SEGMENTS;
        CHECK(!listable || !summary_asks(topic));
    }
    index_cleanup(&idx);
    return 0;
}
