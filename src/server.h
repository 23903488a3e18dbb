/* server.h: the process: configuration, shards, the ring matrix, signals.
 *
 * The only state shared by the shards: the read-only configuration, the
 * ring matrices (ring i->j written only by shard i, read only by shard j),
 * each shard's wake-up descriptors (written once at start-up), and the
 * phase word the main thread sets on SIGTERM.
 *
 * Two rings per ordered pair of shards: a request ring carries publish
 * requests to a topic's home, and a data ring carries messages to deliver
 * and results back to the publisher's shard. A home stops taking requests
 * while its data rings are full, but every shard always drains its data
 * rings; with one ring per pair, two homes could each wait for the other
 * to take a request first, for ever. */
#ifndef RC_SERVER_H
#define RC_SERVER_H

#include <pthread.h>
#include <stdatomic.h>

#include "auth.h"
#include "config.h"
#include "xring.h"

struct shard;

enum server_phase {
    PHASE_RUN = 0,
    PHASE_DRAIN = 1, /* stop accepting, close connections gracefully */
    PHASE_EXIT = 2,  /* stop now */
};

struct server {
    struct rc_config cfg;
    struct auth auth; /* keys, read-only after start */
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

/* server_data_ring returns the ring carrying messages and results from
 * shard |from| to |to|. */
static inline struct xring *server_data_ring(struct server *srv, unsigned from, unsigned to)
{
    return &srv->data_rings[from * srv->num_shards + to];
}

/* server_request_ring returns the ring carrying publish requests from
 * shard |from| to their home |to|. */
static inline struct xring *server_request_ring(struct server *srv, unsigned from, unsigned to)
{
    return &srv->request_rings[from * srv->num_shards + to];
}

/* server_run starts the shards, waits for SIGTERM or SIGINT, shuts down
 * gracefully and returns the process exit status. */
int server_run(const struct rc_config *cfg);

#endif
