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

#include "bufring.h"
#include "config.h"
#include "home.h"
#include "retain.h"
#include "stats.h"
#include "index.h"
#include "interest.h"
#include "timer.h"
#include "uring.h"

struct conn;
struct msg;
struct pubreq;
struct server;

enum { LISTENER_CLIENT = 0, LISTENER_PUBLISH = 1, NUM_LISTENERS = 2 };

struct shard {
    unsigned id;
    struct server *srv;
    const struct rc_config *cfg;
    pthread_t thread;

    struct io_uring ring;
    struct uring_features feat;
    struct bufring bufs;
    int listen_fd[NUM_LISTENERS];
    bool accept_armed[NUM_LISTENERS];
    char refusal[NUM_LISTENERS][256]; /* the answer over --max-connections, per listener */
    size_t refusal_len[NUM_LISTENERS];
    int doorbell_fd; /* eventfd: wake-ups from main, and from shards without MSG_RING */
    uint64_t doorbell_value;

    struct conn **conns; /* table indexed by slot */
    uint32_t conns_cap;
    uint32_t *free_slots;
    uint32_t num_free;
    uint32_t num_conns;
    uint32_t max_conns;
    uint32_t next_gen;

    struct index index;
    struct interest interest; /* read by the homes: may this shard want a topic? */
    struct home home;
    struct retain retain; /* oversized events this shard is home of, for fetching */
    struct timer_wheel timers;
    int64_t now_ms; /* monotonic clock, read once per iteration */

    struct conn *dirty_pub;   /* publishers to flush first */
    struct conn *dirty_other; /* subscribers and HTTP */
    struct conn *work;
    struct conn *blocked; /* publishers waiting for room in a ring */

    bool *ring_pushed;  /* per destination shard: items pushed this iteration */
    bool *shard_wants;  /* per shard: scratch for one fan-out's interest check */
    bool accept_paused; /* out of descriptors: accepts resume at |accept_resume_ms| */
    int64_t accept_resume_ms;
    bool rings_pending; /* an incoming ring still had items */
    bool home_blocked;  /* publish requests left in a ring for lack of room */

    bool ring_ready;
    bool exiting;  /* the last iterations: never sleep long */
    bool draining; /* SIGTERM: stop accepting, close connections */
    bool drain_started;
    struct shard_stats stats;
};

/* shard_start creates shard |id|'s thread; the shard sets itself up there
 * (SINGLE_ISSUER rings must be created by the thread that uses them). */
int shard_start(struct shard *sh, struct server *srv, unsigned id);

/* shard_cleanup closes |sh|'s doorbell once its thread was joined: the main
 * thread and shards without MSG_RING write to it until then (closing it as
 * the shard ends would race with those writes). */
void shard_cleanup(struct shard *sh);

/* shard_wake makes |sh| run an iteration soon (from any thread). */
void shard_wake(struct shard *sh);

/* shard_home_of returns the home shard of a topic hash. */
unsigned shard_home_of(const struct shard *sh, uint64_t topic_hash);

/* shard_publish_local sequences a publish on this shard, the topic's home,
 * giving the request's audience to the message. Returns 0 and the seq (and
 * RC_ACK flags), or an RC_ERR_* code. */
int shard_publish_local(struct shard *sh, struct pubreq *req, uint64_t *out_seq,
                        uint8_t *out_ack_flags);

/* shard_submit_publish sends a publish |req| (built on the stack; its
 * audience is taken over in every case) to the topic's |home|: sequenced at
 * once when this shard is the home (returns 1, with the result in
 * |*out_error|, |*out_seq|, |*out_flags|), or copied onto the home's request
 * ring (returns 0: the result comes back on the data ring), or -1 when
 * memory runs out. The caller checked the ring has room. */
int shard_submit_publish(struct shard *sh, unsigned home, struct pubreq *req, int *out_error,
                         uint64_t *out_seq, uint8_t *out_flags);

/* shard_fetch_local returns a retained message of a topic this shard is
 * home of, with a reference for the caller, or NULL. */
struct msg *shard_fetch_local(struct shard *sh, const char *topic, size_t topic_len,
                              uint64_t topic_hash, uint64_t seq);

/* shard_can_sequence reports whether every outgoing ring has room for the
 * messages and acknowledgement one publish may produce. When not, it
 * registers for a wake-up from the consumer. */
bool shard_can_sequence(struct shard *sh);

/* shard_has_ring_room reports whether the ring to |home| can take a publish
 * request. When not, it registers for a wake-up from that shard. */
bool shard_has_ring_room(struct shard *sh, unsigned home);

/* shard_send_request pushes a publish request to its home shard's ring
 * (the caller checked shard_has_ring_room). */
void shard_send_request(struct shard *sh, unsigned home, struct pubreq *req);

/* shard_handle_item handles one item from another shard's ring. Returns
 * false, leaving the item in place, when it is a publish request this
 * shard cannot sequence yet. */
bool shard_handle_item(struct shard *sh, void *item);

/* shard_wake_peer wakes shard |target| from this shard's thread. */
void shard_wake_peer(struct shard *sh, unsigned target);

#endif
