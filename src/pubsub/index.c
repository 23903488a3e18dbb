/* index.c: shard-local topic index with a pattern trie (see index.h). */
#include "pubsub/index.h"

#include <string.h>

#include "util/alloc.h"
#include "util/hash.h"
#include "pubsub/interest.h"
#include "pubsub/topic.h"

struct trie_node {
    struct trie_node *parent;
    struct hmap children;     /* segment with its separator (":42", ":*") -> struct trie_node */
    struct topic_node **ends; /* patterns that end at this node */
    uint32_t num_ends, cap_ends;
    struct topic_node **rests; /* patterns "<path to here>:>" */
    uint32_t num_rests, cap_rests;
    uint64_t seg_hash;
    uint16_t seg_len;
    char seg[];
};

struct name_key {
    const char *name;
    size_t len;
};

static bool node_eq(const void *value, const void *key)
{
    const struct topic_node *node = value;
    const struct name_key *k = key;
    return node->len == k->len && memcmp(node->name, k->name, k->len) == 0;
}

static bool trie_eq(const void *value, const void *key)
{
    const struct trie_node *t = value;
    const struct name_key *k = key;
    return t->seg_len == k->len && memcmp(t->seg, k->name, k->len) == 0;
}

void index_init(struct index *idx)
{
    memset(idx, 0, sizeof(*idx));
    hmap_init(&idx->topics);
    hmap_init(&idx->patterns);
}

/* grow_array doubles |*array| of |size|-byte elements when |*cap| is used up. */
static int grow_array(void **array, uint32_t *cap, uint32_t used, size_t size)
{
    if (used < *cap)
        return 0;
    uint32_t new_cap = *cap ? *cap * 2 : 1;
    void *grown = rc_realloc(*array, new_cap * size);
    if (!grown)
        return -1;
    *array = grown;
    *cap = new_cap;
    return 0;
}

/* shrink_array halves an array that is at most a quarter full, so a topic
 * that once had many subscribers does not keep their memory. */
static void shrink_array(void **array, uint32_t *cap, uint32_t used, size_t size)
{
    if (*cap < 16 || used > *cap / 4)
        return;
    void *shrunk = rc_realloc(*array, (*cap / 2) * size);
    if (shrunk) {
        *array = shrunk;
        *cap /= 2;
    }
}

/* The trie. */

static struct trie_node *trie_new(struct trie_node *parent, const char *seg, size_t len)
{
    struct trie_node *t = rc_calloc(1, sizeof(*t) + len);
    if (!t)
        return NULL;
    t->parent = parent;
    hmap_init(&t->children);
    t->seg_len = (uint16_t)len;
    memcpy(t->seg, seg, len);
    t->seg_hash = rc_hash(seg, len);
    return t;
}

static bool trie_empty(const struct trie_node *t)
{
    return t->children.count == 0 && t->num_ends == 0 && t->num_rests == 0;
}

static void trie_free(struct trie_node *t)
{
    hmap_cleanup(&t->children);
    rc_free(t->ends);
    rc_free(t->rests);
    rc_free(t);
}

/* trie_child finds (or with |create|, makes) the child for segment |seg|
 * (literal or '*', with its separator). */
static struct trie_node *trie_child(struct trie_node *t, const struct topic_segment *seg,
                                    bool create)
{
    struct name_key key = {seg->text, seg->len};
    uint64_t hash = rc_hash(seg->text, seg->len);
    struct trie_node *child = hmap_find(&t->children, hash, trie_eq, &key);
    if (child || !create)
        return child;
    child = trie_new(t, seg->text, seg->len);
    if (child && hmap_insert(&t->children, hash, child) != 0) {
        trie_free(child);
        return NULL;
    }
    return child;
}

/* trie_prune frees |t| and its ancestors while they hold nothing. */
static void trie_prune(struct index *idx, struct trie_node *t)
{
    while (t && t != idx->root && trie_empty(t)) {
        struct trie_node *parent = t->parent;
        hmap_remove(&parent->children, t->seg_hash, t);
        trie_free(t);
        t = parent;
    }
}

static int list_add(struct topic_node ***list, uint32_t *num, uint32_t *cap, struct topic_node *n)
{
    if (grow_array((void **)list, cap, *num, sizeof(**list)) != 0)
        return -1;
    (*list)[(*num)++] = n;
    return 0;
}

static void list_remove(struct topic_node **list, uint32_t *num, const struct topic_node *n)
{
    for (uint32_t i = 0; i < *num; i++) {
        if (list[i] == n) {
            list[i] = list[--*num];
            return;
        }
    }
}

/* attach_pattern hangs pattern node |node| in the trie. */
static int attach_pattern(struct index *idx, struct topic_node *node)
{
    if (node->len == 1 && node->name[0] == '*') {
        idx->match_all = node;
        return 0;
    }
    struct topic_segment segs[TOPIC_MAX_SEGMENTS_LIMIT + 1];
    size_t n = topic_split(node->name, node->len, segs, TOPIC_MAX_SEGMENTS_LIMIT);
    if (n > TOPIC_MAX_SEGMENTS_LIMIT)
        return -1;
    if (!idx->root && !(idx->root = trie_new(NULL, "", 0)))
        return -1;
    node->ends_with_rest = topic_segment_is(&segs[n - 1], '>');
    size_t depth = node->ends_with_rest ? n - 1 : n;
    struct trie_node *t = idx->root;
    for (size_t i = 0; i < depth; i++) {
        struct trie_node *child = trie_child(t, &segs[i], true);
        if (!child) {
            trie_prune(idx, t);
            return -1;
        }
        t = child;
    }
    int ret = node->ends_with_rest ? list_add(&t->rests, &t->num_rests, &t->cap_rests, node)
                                   : list_add(&t->ends, &t->num_ends, &t->cap_ends, node);
    if (ret != 0) {
        trie_prune(idx, t);
        return -1;
    }
    node->trie = t;
    return 0;
}

static void detach_pattern(struct index *idx, struct topic_node *node)
{
    if (idx->match_all == node) {
        idx->match_all = NULL;
        return;
    }
    struct trie_node *t = node->trie;
    if (node->ends_with_rest)
        list_remove(t->rests, &t->num_rests, node);
    else
        list_remove(t->ends, &t->num_ends, node);
    trie_prune(idx, t);
}

/* Subscription targets. */

static struct topic_node *find_node(const struct index *idx, const char *name, size_t len,
                                    uint64_t hash, bool pattern)
{
    struct name_key key = {name, len};
    return hmap_find(pattern ? &idx->patterns : &idx->topics, hash, node_eq, &key);
}

static struct topic_node *create_node(struct index *idx, const char *name, size_t len,
                                      uint64_t hash, bool pattern)
{
    struct topic_node *node = rc_calloc(1, sizeof(*node) + len + 1);
    if (!node)
        return NULL;
    node->hash = hash;
    node->is_pattern = pattern;
    node->len = (uint16_t)len;
    memcpy(node->name, name, len);
    if (hmap_insert(pattern ? &idx->patterns : &idx->topics, hash, node) != 0) {
        rc_free(node);
        return NULL;
    }
    if (pattern && attach_pattern(idx, node) != 0) {
        hmap_remove(&idx->patterns, hash, node);
        rc_free(node);
        return NULL;
    }
    if (idx->interest)
        interest_add(idx->interest, name, len, hash, pattern);
    return node;
}

static void destroy_node_if_empty(struct index *idx, struct topic_node *node)
{
    if (node->nsubs > 0)
        return;
    if (idx->interest)
        interest_remove(idx->interest, node->name, node->len, node->hash, node->is_pattern);
    if (node->is_pattern) {
        detach_pattern(idx, node);
        hmap_remove(&idx->patterns, node->hash, node);
    } else {
        hmap_remove(&idx->topics, node->hash, node);
    }
    rc_free(node->subs);
    rc_free(node);
}

static void free_nodes(struct hmap *m)
{
    uint32_t pos = 0;
    struct topic_node *node;
    while ((node = hmap_next(m, &pos)) != NULL) {
        rc_free(node->subs);
        rc_free(node);
    }
    hmap_cleanup(m);
}

static void free_trie(struct trie_node *t)
{
    if (!t)
        return;
    uint32_t pos = 0;
    struct trie_node *child;
    while ((child = hmap_next(&t->children, &pos)) != NULL)
        free_trie(child);
    trie_free(t);
}

void index_cleanup(struct index *idx)
{
    free_nodes(&idx->topics);
    free_nodes(&idx->patterns);
    free_trie(idx->root);
    memset(idx, 0, sizeof(*idx));
}

/* holds tells whether |s| subscribes to |node|, walking the shorter of the
 * two lists (a connection with many subscriptions, or a topic with many
 * subscribers, makes neither subscribe cost its length). */
static bool holds(const struct subs *s, const struct topic_node *node, uint32_t *out_slot)
{
    if (node->nsubs < s->n) {
        for (uint32_t i = 0; i < node->nsubs; i++) {
            if (node->subs[i].owner == s) {
                *out_slot = node->subs[i].slot;
                return true;
            }
        }
        return false;
    }
    for (uint32_t i = 0; i < s->n; i++) {
        if (s->v[i].node == node) {
            *out_slot = i;
            return true;
        }
    }
    return false;
}

enum index_result index_subscribe(struct index *idx, struct subs *s, const char *name, size_t len,
                                  uint64_t hash, uint32_t max_subs, uint32_t max_patterns)
{
    bool pattern = topic_is_pattern(name, len);
    struct topic_node *node = find_node(idx, name, len, hash, pattern);
    uint32_t slot;
    if (node && holds(s, node, &slot))
        return INDEX_ALREADY;
    if (s->n >= max_subs)
        return INDEX_LIMIT;
    if (pattern && s->num_patterns >= max_patterns)
        return INDEX_PATTERN_LIMIT;
    if (grow_array((void **)&s->v, &s->cap, s->n, sizeof(*s->v)) != 0)
        return INDEX_NO_MEMORY;
    if (!node && !(node = create_node(idx, name, len, hash, pattern)))
        return INDEX_NO_MEMORY;
    if (grow_array((void **)&node->subs, &node->cap, node->nsubs, sizeof(*node->subs)) != 0) {
        destroy_node_if_empty(idx, node);
        return INDEX_NO_MEMORY;
    }
    node->subs[node->nsubs] = (struct sub_ref){s, s->n};
    s->v[s->n] = (struct conn_sub){node, node->nsubs};
    node->nsubs++;
    s->n++;
    s->num_patterns += pattern;
    idx->subscriptions++;
    return INDEX_ADDED;
}

/* remove_slot removes subscription |slot| of |s|: swap-remove from both
 * arrays, fixing the back-pointer of whichever element moved. */
static void remove_slot(struct index *idx, struct subs *s, uint32_t slot)
{
    struct topic_node *node = s->v[slot].node;
    uint32_t pos = s->v[slot].pos;

    uint32_t last_pos = node->nsubs - 1;
    if (pos != last_pos) {
        struct sub_ref moved = node->subs[last_pos];
        node->subs[pos] = moved;
        moved.owner->v[moved.slot].pos = pos;
    }
    node->nsubs--;

    uint32_t last_slot = s->n - 1;
    if (slot != last_slot) {
        struct conn_sub moved = s->v[last_slot];
        s->v[slot] = moved;
        moved.node->subs[moved.pos].slot = slot;
    }
    s->n--;
    s->num_patterns -= node->is_pattern;
    idx->subscriptions--;

    if (node->nsubs == 0)
        destroy_node_if_empty(idx, node);
    else
        shrink_array((void **)&node->subs, &node->cap, node->nsubs, sizeof(*node->subs));
}

enum index_result index_unsubscribe(struct index *idx, struct subs *s, const char *name, size_t len,
                                    uint64_t hash)
{
    struct topic_node *node = find_node(idx, name, len, hash, topic_is_pattern(name, len));
    uint32_t slot;
    if (!node || !holds(s, node, &slot))
        return INDEX_ALREADY;
    remove_slot(idx, s, slot);
    return INDEX_ADDED;
}

uint32_t index_remove_some(struct index *idx, struct subs *s, uint32_t max)
{
    for (uint32_t removed = 0; s->n > 0 && removed < max; removed++)
        remove_slot(idx, s, s->n - 1);
    if (s->n == 0) {
        rc_free(s->v);
        memset(s, 0, sizeof(*s));
    }
    return s->n;
}

void index_remove_all(struct index *idx, struct subs *s)
{
    index_remove_some(idx, s, UINT32_MAX);
}

/* Matching. */

struct match_run {
    struct index *idx;
    const struct topic_segment *segs;
    size_t num_segs;
    index_visit_fn fn;
    void *ctx;
    size_t visited;
};

static void visit_node(struct match_run *run, const struct topic_node *node)
{
    uint64_t stamp = run->idx->stamp;
    for (uint32_t i = 0; i < node->nsubs; i++) {
        struct subs *s = node->subs[i].owner;
        if (s->stamp == stamp)
            continue; /* already visited through another subscription */
        s->stamp = stamp;
        run->fn(run->ctx, s);
        run->visited++;
    }
}

/* rest_sep returns the separator in front of a pattern's final '>' (0 for
 * the pattern ">" alone). */
static char rest_sep(const struct topic_node *node)
{
    return node->len >= 2 ? node->name[node->len - 2] : 0;
}

static void walk(struct match_run *run, struct trie_node *t, size_t depth)
{
    if (depth == run->num_segs) {
        for (uint32_t i = 0; i < t->num_ends; i++)
            visit_node(run, t->ends[i]);
        return;
    }
    const struct topic_segment *seg = &run->segs[depth];
    char sep = topic_segment_sep(seg);
    for (uint32_t i = 0; i < t->num_rests; i++) /* '>' takes the remaining segments */
        if (rest_sep(t->rests[i]) == sep)
            visit_node(run, t->rests[i]);
    struct trie_node *literal = trie_child(t, seg, false);
    if (literal)
        walk(run, literal, depth + 1);
    char star_text[2] = {sep, '*'};
    struct topic_segment star_seg =
        sep ? (struct topic_segment){star_text, 2} : (struct topic_segment){star_text + 1, 1};
    struct trie_node *star = trie_child(t, &star_seg, false);
    if (star)
        walk(run, star, depth + 1);
}

size_t index_match(struct index *idx, const char *name, size_t len, uint64_t hash,
                   index_visit_fn fn, void *ctx)
{
    struct match_run run = {idx, NULL, 0, fn, ctx, 0};
    idx->stamp++;
    struct topic_node *exact = find_node(idx, name, len, hash, false);
    if (exact)
        visit_node(&run, exact);
    if (idx->match_all)
        visit_node(&run, idx->match_all);
    if (idx->root) {
        struct topic_segment segs[TOPIC_MAX_SEGMENTS_LIMIT + 1];
        run.segs = segs;
        run.num_segs = topic_split(name, len, segs, TOPIC_MAX_SEGMENTS_LIMIT);
        if (run.num_segs <= TOPIC_MAX_SEGMENTS_LIMIT)
            walk(&run, idx->root, 0);
    }
    return run.visited;
}

size_t index_topic_count(const struct index *idx)
{
    return idx->topics.count + idx->patterns.count;
}
