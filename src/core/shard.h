/* shard.h: one thread, one io_uring, its own listeners, connections, topic
 * index and topic homes.
 *
 * A loop iteration: wait for completions; handle them (accepts, receives,
 * sends); drain the rings from the other shards (publish requests for the
 * topics this shard is home of, messages to deliver, acknowledgements for
 * this shard's publishers); handle the work list and timers; then flush:
 * one send per dirty connection, publishers first, so that acknowledgements
 * go out before fan-out writes; finally publish the outgoing rings and wake
 * the shards that need it. A burst of k events thus costs one send per
 * subscriber, not k. */
#ifndef RC_SHARD_H
#define RC_SHARD_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "io/bufring.h"
#include "core/conn.h"
#include "core/limits.h"
#include "util/config.h"
#include "pubsub/home.h"
#include "pubsub/index.h"
#include "pubsub/interest.h"
#include "core/refuse.h"
#include "core/shardset.h"
#include "util/stats.h"
#include "util/timer.h"
#include "io/uring.h"

struct conn;
struct sendop;

/* One-shot accepts armed per listener (shard.c says why not multishot),
 * each with its own buffer for the peer's address. */
#define ACCEPT_DEPTH 4

/* One accept request of a listener, and the peer address it fills in. */
struct shard_accept {
    bool armed;
    socklen_t addr_len;
    struct sockaddr_storage addr;
};

/* One of the shard's listening sockets (shardset.h's listener table). */
struct shard_listener {
    int fd;
    uint32_t accepts_armed; /* one-shot accepts in flight */
    struct shard_accept accepts[ACCEPT_DEPTH];
    /* The answer to a refused connection, by reason; outlives its sends. */
    char refusal[CONN_NUM_REFUSALS][256];
    size_t refusal_len[CONN_NUM_REFUSALS];
};

struct shard {
    unsigned id;
    struct shard_set *set; /* peers, rings, listener table, phase */
    const struct rc_config *cfg;
    const struct auth *auth;
    pthread_t thread;

    struct io_uring ring;
    struct uring_features feat;
    struct bufring bufs;
    struct shard_listener listeners[SHARD_MAX_LISTENERS];
    int doorbell_fd; /* eventfd: wake-ups from main, and from shards without MSG_RING */
    uint64_t doorbell_value;

    struct conn **conns; /* table indexed by slot */
    uint32_t conns_cap;
    uint32_t *free_slots;
    uint32_t num_free;
    uint32_t num_conns;
    uint32_t max_conns;
    uint32_t next_gen;
    struct sendop **sendops; /* per slot: the sendmsg in flight and its iovecs */
    uint32_t sendops_cap;
    /* The ring's table of direct descriptors (sockop.h): its size, and its
     * slots taken or promised: connections, refusals, accepts armed and
     * closes not yet completed. An accept is armed only while this stays
     * at most |table_slots|, so none finds the table full. */
    uint32_t table_slots;
    uint32_t table_used;
    bool accept_stalled;      /* the table is full: connections wait in the backlog */
    struct refusals refusals; /* connections over the limit being answered */

    struct index index;
    struct interest interest; /* read by the homes: may this shard want a topic? */
    struct home home;
    struct shard_limits limits;
    struct timer_wheel timers;
    int64_t now_ms; /* monotonic clock, read once per iteration */
    uint32_t turn;  /* loop iterations so far (per-turn input budgets) */

    struct conn *dirty_first; /* publishers: flushed first (conn_ops.flush_first) */
    struct conn *dirty_other; /* subscribers and HTTP */
    struct conn *work;
    struct conn *blocked; /* publishers waiting for room in a ring */

    bool *ring_pushed;  /* per destination shard: items pushed this iteration */
    bool *shard_wants;  /* per shard: scratch for one fan-out's interest check */
    bool accept_paused; /* out of memory or files: accepts resume at |accept_resume_ms| */
    int64_t accept_resume_ms;
    bool rings_pending; /* an incoming ring still had items */
    bool home_blocked;  /* publish requests left in a ring for lack of room */

    bool ring_ready;
    bool exiting;  /* the last iterations: never sleep long */
    bool draining; /* SIGTERM: stop accepting, close connections */
    bool drain_started;
    struct shard_stats stats;
};

/* shard_start creates shard |id| of |set| and its thread; the shard sets
 * itself up there (SINGLE_ISSUER rings must be created by the thread that
 * uses them). */
int shard_start(struct shard_set *set, unsigned id);

/* shard_cleanup closes |sh|'s doorbell once its thread was joined: the main
 * thread and shards without MSG_RING write to it until then (closing it as
 * the shard ends would race with those writes). */
void shard_cleanup(struct shard *sh);

/* shard_wake makes |sh| run an iteration soon (from any thread). */
void shard_wake(struct shard *sh);

/* shard_wake_peer wakes shard |target| from this shard's thread. */
void shard_wake_peer(struct shard *sh, unsigned target);

#endif
