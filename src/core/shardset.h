/* shardset.h: what the shards share, handed to each at start.
 *
 * The only state shared between shards: read-only configuration (limits,
 * the token keys, the listener table), the ring matrices (ring i->j written
 * only by shard i, read only by shard j), each shard's wake-up descriptors
 * and interest summary (written by their owner, read by the others), and
 * the phase word the main thread sets on SIGTERM.
 *
 * Two rings per ordered pair of shards: a request ring carries publish
 * requests to a topic's home, and a data ring carries messages to deliver
 * and results back to the publisher's shard. A home stops taking requests
 * while its data rings are full, but every shard always drains its data
 * rings; with one ring per pair, two homes could each wait for the other
 * to take a request first, for ever. */
#ifndef RC_SHARDSET_H
#define RC_SHARDSET_H

#include <pthread.h>
#include <stdatomic.h>

#include "io/xring.h"

struct auth;
struct pusher_apps;
struct conn_ops;
struct rc_config;
struct rc_endpoint;
struct shard;
struct tls_server;

#define SHARD_MAX_LISTENERS 18 /* the two plaintext ports and up to 8 of each TLS one */

/* A listener every shard opens (SO_REUSEPORT), what its connections
 * speak first, and whether TLS is beneath it (core/conntls.h). */
struct listener_spec {
    const struct rc_endpoint *endpoint;
    const struct conn_ops *ops;
    struct tls_server *tls; /* NULL: plaintext */
};

enum shard_phase {
    PHASE_RUN = 0,
    PHASE_DRAIN = 1, /* stop accepting, close connections gracefully */
    PHASE_EXIT = 2,  /* stop now */
};

struct shard_set {
    const struct rc_config *cfg;
    const struct auth *auth;               /* keys, read-only after start */
    const struct pusher_apps *pusher_apps; /* --pusher-apps; NULL: the dialect is off */
    struct listener_spec listeners[SHARD_MAX_LISTENERS];
    unsigned num_listeners;
    unsigned num_shards;
    struct shard *shards;
    struct xring *data_rings;    /* [from * num_shards + to] */
    struct xring *request_rings; /* [from * num_shards + to] */
    int *ring_fds;               /* each shard's io_uring descriptor, for MSG_RING */
    pthread_barrier_t setup_done;
    _Atomic int setup_failed;
    _Atomic int phase;
    _Atomic unsigned shards_drained;
};

/* shard_set_init allocates |num_shards| shards and their rings of
 * |ring_size| slots. Returns 0 or -1 (memory); shard_set_cleanup frees
 * what was allocated either way. */
int shard_set_init(struct shard_set *set, unsigned num_shards, unsigned ring_size);

/* shard_set_cleanup frees the shards and the rings, with whatever is still
 * in them, once every shard has ended. */
void shard_set_cleanup(struct shard_set *set);

/* shard_set_data_ring returns the ring carrying messages and results from
 * shard |from| to |to|. */
static inline struct xring *shard_set_data_ring(struct shard_set *set, unsigned from, unsigned to)
{
    return &set->data_rings[from * set->num_shards + to];
}

/* shard_set_request_ring returns the ring carrying publish requests from
 * shard |from| to their home |to|. */
static inline struct xring *shard_set_request_ring(struct shard_set *set, unsigned from,
                                                   unsigned to)
{
    return &set->request_rings[from * set->num_shards + to];
}

/* shard_set_phase reads the shutdown phase (enum shard_phase). */
static inline int shard_set_phase(struct shard_set *set)
{
    return atomic_load_explicit(&set->phase, memory_order_acquire);
}

#endif
