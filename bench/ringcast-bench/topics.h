/* topics.h: which topics exist, and who subscribes to what.
 *
 * Topic k (0 <= k < K) is named "<prefix>-<k>" ("bench-0", "bench-1", ...).
 * Connection i subscribes either to one topic (the exact connections take
 * the topics in turn, so every topic gets the same number, +-1) or, for a
 * share of the connections spread evenly over all of them, to one pattern
 * (default "*", every topic). The pattern follows the server's rules
 * (docs/protocol/websocket.md): segments separated by ':' or '.', "*" one
 * segment, ">" as the last segment one or more, "*" alone everything; so a
 * prefix like "app:bench" with the pattern "app:*" gives K topics
 * "app:bench-k" that the pattern all matches. */
#ifndef BENCH_TOPICS_H
#define BENCH_TOPICS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define TOPIC_MAX_LEN 256

struct topics {
    const char *prefix;
    size_t prefix_len;
    uint32_t count; /* K */
    const char *pattern;
    double pattern_share;
    uint32_t connections;
};

/* topics_name writes the name of topic |k| to |out| (TOPIC_MAX_LEN + 1
 * bytes) and returns its length. */
size_t topics_name(const struct topics *t, uint32_t k, char *out);

/* topics_index returns k for a name "<prefix>-<k>" with k < K, or -1. */
int64_t topics_index(const struct topics *t, const char *name, size_t len);

/* topics_is_pattern_conn reports whether connection |i| subscribes to the
 * pattern. */
bool topics_is_pattern_conn(const struct topics *t, uint32_t i);

/* topics_conn_topic returns the topic of an exact connection |i|. */
uint32_t topics_conn_topic(const struct topics *t, uint32_t i);

/* topics_pattern_matches reports whether the pattern matches topic |k|. */
bool topics_pattern_matches(const struct topics *t, uint32_t k);

/* topics_match implements the server's pattern rules for one pattern and
 * one topic. */
bool topics_match(const char *pattern, size_t pattern_len, const char *topic, size_t topic_len);

/* topics_subscribers fills |out| (K entries) with the number of
 * connections that receive each topic's events; returns how many
 * connections subscribe to the pattern. */
uint32_t topics_subscribers(const struct topics *t, uint64_t *out);

#endif
