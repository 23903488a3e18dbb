/* index.c: shard-local topic index (see index.h). */
#include "index.h"

#include <string.h>

#include "alloc.h"

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

void index_init(struct index *idx)
{
    hmap_init(&idx->topics);
    idx->subscriptions = 0;
}

void index_cleanup(struct index *idx)
{
    uint32_t pos = 0;
    struct topic_node *node;
    while ((node = hmap_next(&idx->topics, &pos)) != NULL) {
        rc_free(node->subs);
        rc_free(node);
    }
    hmap_cleanup(&idx->topics);
}

static struct topic_node *find_node(const struct index *idx, const char *name, size_t len,
                                    uint64_t hash)
{
    struct name_key key = {name, len};
    return hmap_find(&idx->topics, hash, node_eq, &key);
}

static struct topic_node *create_node(struct index *idx, const char *name, size_t len,
                                      uint64_t hash)
{
    struct topic_node *node = rc_malloc(sizeof(*node) + len + 1);
    if (!node)
        return NULL;
    node->hash = hash;
    node->subs = NULL;
    node->nsubs = 0;
    node->cap = 0;
    node->len = (uint16_t)len;
    memcpy(node->name, name, len);
    node->name[len] = '\0';
    if (hmap_insert(&idx->topics, hash, node) != 0) {
        rc_free(node);
        return NULL;
    }
    return node;
}

static void destroy_node_if_empty(struct index *idx, struct topic_node *node)
{
    if (node->nsubs > 0)
        return;
    hmap_remove(&idx->topics, node->hash, node);
    rc_free(node->subs);
    rc_free(node);
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

static bool holds(const struct subs *s, const struct topic_node *node, uint32_t *out_slot)
{
    for (uint32_t i = 0; i < s->n; i++) {
        if (s->v[i].node == node) {
            *out_slot = i;
            return true;
        }
    }
    return false;
}

enum index_result index_subscribe(struct index *idx, struct subs *s, const char *name, size_t len,
                                  uint64_t hash, uint32_t max_subs)
{
    struct topic_node *node = find_node(idx, name, len, hash);
    uint32_t slot;
    if (node && holds(s, node, &slot))
        return INDEX_ALREADY;
    if (s->n >= max_subs)
        return INDEX_LIMIT;
    if (grow_array((void **)&s->v, &s->cap, s->n, sizeof(*s->v)) != 0)
        return INDEX_NO_MEMORY;
    if (!node && !(node = create_node(idx, name, len, hash)))
        return INDEX_NO_MEMORY;
    if (grow_array((void **)&node->subs, &node->cap, node->nsubs, sizeof(*node->subs)) != 0) {
        destroy_node_if_empty(idx, node);
        return INDEX_NO_MEMORY;
    }
    node->subs[node->nsubs] = (struct sub_ref){s, s->n};
    s->v[s->n] = (struct conn_sub){node, node->nsubs};
    node->nsubs++;
    s->n++;
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
    idx->subscriptions--;

    if (node->nsubs == 0)
        destroy_node_if_empty(idx, node);
    else
        shrink_array((void **)&node->subs, &node->cap, node->nsubs, sizeof(*node->subs));
}

enum index_result index_unsubscribe(struct index *idx, struct subs *s, const char *name,
                                    size_t len, uint64_t hash)
{
    struct topic_node *node = find_node(idx, name, len, hash);
    uint32_t slot;
    if (!node || !holds(s, node, &slot))
        return INDEX_ALREADY;
    remove_slot(idx, s, slot);
    return INDEX_ADDED;
}

void index_remove_all(struct index *idx, struct subs *s)
{
    while (s->n > 0)
        remove_slot(idx, s, s->n - 1);
    rc_free(s->v);
    memset(s, 0, sizeof(*s));
}

size_t index_match(const struct index *idx, const char *name, size_t len, uint64_t hash,
                   index_visit_fn fn, void *ctx)
{
    struct topic_node *node = find_node(idx, name, len, hash);
    if (!node)
        return 0;
    for (uint32_t i = 0; i < node->nsubs; i++)
        fn(ctx, node->subs[i].owner);
    return node->nsubs;
}

size_t index_topic_count(const struct index *idx)
{
    return idx->topics.count;
}
