/* index.h: a shard's own topic index: which of its connections want a topic.
 *
 * Each shard keeps a private copy holding only its own subscribers, so no
 * lock is ever taken. Exact topics live in a hash table of topic nodes.
 * Patterns (topic.h) live in a segment trie: one trie level per segment,
 * a child per segment text or '*' (each with the separator in front of it),
 * and at each level the patterns ending there and those ending in '>'
 * after it. Matching
 * a topic walks the trie along its segments, so its cost grows with the
 * topic's segment count, not with the number of patterns. The pattern "*"
 * alone is kept aside and matches everything.
 *
 * Every subscription target (exact topic or pattern) has an array of
 * subscribers, and each connection an array of its subscriptions; the two
 * point at each other's positions, so adding or removing a subscription, or
 * a whole connection, is O(1) per subscription.
 *
 * A connection that several subscriptions match (an exact topic and a
 * pattern, two patterns) is visited once per message: each match stamps the
 * connections it visits. */
#ifndef RC_INDEX_H
#define RC_INDEX_H

#include <stddef.h>
#include <stdint.h>

#include "util/hmap.h"

struct topic_node;
struct trie_node;

/* One subscription, seen from the connection. */
struct conn_sub {
    struct topic_node *node;
    uint32_t pos; /* index in node->subs */
};

/* A connection's subscriptions (embedded in the connection). */
struct subs {
    struct conn_sub *v;
    uint32_t n;
    uint32_t cap;
    uint32_t num_patterns; /* of the n, how many are patterns */
    uint64_t stamp;        /* the last match that visited this connection */
};

/* One subscription, seen from the topic or pattern. */
struct sub_ref {
    struct subs *owner;
    uint32_t slot; /* index in owner->v */
};

struct topic_node {
    uint64_t hash;
    struct sub_ref *subs;
    uint32_t nsubs;
    uint32_t cap;
    struct trie_node *trie; /* patterns: where it hangs in the trie */
    uint8_t is_pattern;
    uint8_t ends_with_rest; /* pattern ending in '>' */
    uint16_t len;
    char name[];
};

struct interest;

struct index {
    struct interest *interest; /* told of every topic node made or freed; may be NULL */
    struct hmap topics;        /* exact topics: struct topic_node */
    struct hmap patterns;      /* patterns: struct topic_node */
    struct trie_node *root;
    struct topic_node *match_all; /* the pattern "*" */
    uint64_t subscriptions;
    uint64_t stamp;
};

enum index_result {
    INDEX_ADDED = 0,
    INDEX_ALREADY = 1, /* subscribe: it was there; unsubscribe: it was not */
    INDEX_LIMIT = -1,  /* the connection holds its maximum */
    INDEX_NO_MEMORY = -2,
    INDEX_PATTERN_LIMIT = -3, /* the connection holds its maximum of patterns */
};

/* index_init makes an empty index. */
void index_init(struct index *idx);

/* index_cleanup frees the index; all connections must be removed first. */
void index_cleanup(struct index *idx);

/* index_subscribe adds the topic or pattern |name| (validated by the caller
 * with topic_validate_pattern; |hash| is rc_hash of the name) to |s|, unless
 * |s| already holds it, holds |max_subs| subscriptions, or (for a pattern)
 * |max_patterns| patterns. */
enum index_result index_subscribe(struct index *idx, struct subs *s, const char *name, size_t len,
                                  uint64_t hash, uint32_t max_subs, uint32_t max_patterns);

/* index_unsubscribe removes exactly the subscription |name| from |s|:
 * INDEX_ADDED when it was removed, INDEX_ALREADY when |s| did not hold it. */
enum index_result index_unsubscribe(struct index *idx, struct subs *s, const char *name, size_t len,
                                    uint64_t hash);

/* index_remove_some removes up to |max| subscriptions of |s|, and frees its
 * array once none is left; returns how many are left. */
uint32_t index_remove_some(struct index *idx, struct subs *s, uint32_t max);

/* index_remove_all removes every subscription of |s| and frees its array. */
void index_remove_all(struct index *idx, struct subs *s);

/* index_visit_fn is called once per matching subscriber. It must not change
 * the index. */
typedef void (*index_visit_fn)(void *ctx, struct subs *subscriber);

/* index_match calls |fn| once for every connection with a subscription
 * matching the topic |name| (hash |hash|) and returns how many there were. */
size_t index_match(struct index *idx, const char *name, size_t len, uint64_t hash,
                   index_visit_fn fn, void *ctx);

/* index_topic_count returns how many exact topics and patterns have
 * subscribers on this shard. */
size_t index_topic_count(const struct index *idx);

#endif
