/* index.h: a shard's own topic index: which of its connections want a topic.
 *
 * Each shard keeps a private copy holding only its own subscribers, so no
 * lock is ever taken. Exact topics live in a hash table of topic nodes; each
 * node has an array of subscribers, and each connection has an array of its
 * subscriptions. The two arrays point at each other's positions, so adding,
 * removing one subscription and removing a whole connection are O(1) per
 * subscription, whatever the number of subscribers of a topic.
 *
 * Matching goes through index_match only, so that patterns can join exact
 * topics later without touching the callers. */
#ifndef RC_INDEX_H
#define RC_INDEX_H

#include <stddef.h>
#include <stdint.h>

#include "hmap.h"

struct topic_node;

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
};

/* One subscription, seen from the topic. */
struct sub_ref {
    struct subs *owner;
    uint32_t slot; /* index in owner->v */
};

struct topic_node {
    uint64_t hash;
    struct sub_ref *subs;
    uint32_t nsubs;
    uint32_t cap;
    uint16_t len;
    char name[];
};

struct index {
    struct hmap topics; /* of struct topic_node */
    uint64_t subscriptions;
};

enum index_result {
    INDEX_ADDED = 0,
    INDEX_ALREADY = 1,   /* subscribe: it was there; unsubscribe: it was not */
    INDEX_LIMIT = -1,    /* the connection holds its maximum */
    INDEX_NO_MEMORY = -2,
};

/* index_init makes an empty index. */
void index_init(struct index *idx);

/* index_cleanup frees the index; all connections must be removed first. */
void index_cleanup(struct index *idx);

/* index_subscribe adds the exact topic |name| (hash |hash|) to |s|,
 * unless |s| already holds it or holds |max_subs| subscriptions. */
enum index_result index_subscribe(struct index *idx, struct subs *s, const char *name, size_t len,
                                  uint64_t hash, uint32_t max_subs);

/* index_unsubscribe removes topic |name| from |s|: INDEX_ADDED when it was
 * removed, INDEX_ALREADY when |s| did not hold it. */
enum index_result index_unsubscribe(struct index *idx, struct subs *s, const char *name,
                                    size_t len, uint64_t hash);

/* index_remove_all removes every subscription of |s| and frees its array. */
void index_remove_all(struct index *idx, struct subs *s);

/* index_visit_fn is called once per matching subscriber. It must not change
 * the index. */
typedef void (*index_visit_fn)(void *ctx, struct subs *subscriber);

/* index_match calls |fn| for every subscriber of the topic |name| and
 * returns how many there were. */
size_t index_match(const struct index *idx, const char *name, size_t len, uint64_t hash,
                   index_visit_fn fn, void *ctx);

/* index_topic_count returns how many topics have subscribers on this shard. */
size_t index_topic_count(const struct index *idx);

#endif
