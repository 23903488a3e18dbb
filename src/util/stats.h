/* stats.h: counters a shard writes and any shard may read (for /metrics).
 *
 * Each counter has one writer, its shard, which adds with a relaxed load
 * and store: on x86-64 that is a plain add, no locked instruction, no
 * contention. Readers sum the shards' values with relaxed loads; a sum read
 * while shards work is a moment's snapshot, as metrics always are. */
#ifndef RC_STATS_H
#define RC_STATS_H

#include <stdatomic.h>
#include <stdint.h>

typedef _Atomic uint64_t counter_t;

/* counter_add adds |n|; only the owning shard calls it. */
static inline void counter_add(counter_t *c, uint64_t n)
{
    atomic_store_explicit(c, atomic_load_explicit(c, memory_order_relaxed) + n,
                          memory_order_relaxed);
}

/* counter_sub takes |n| away (gauges); only the owning shard calls it. */
static inline void counter_sub(counter_t *c, uint64_t n)
{
    atomic_store_explicit(c, atomic_load_explicit(c, memory_order_relaxed) - n,
                          memory_order_relaxed);
}

/* counter_read reads a counter from any thread. */
static inline uint64_t counter_read(const counter_t *c)
{
    return atomic_load_explicit(c, memory_order_relaxed);
}

/* Connection kinds, as counted. */
enum stats_protocol {
    STATS_HTTP,      /* client port before an upgrade, HTTP publish, /metrics */
    STATS_WEBSOCKET, /* /v1/ws (and /v1/echo) */
    STATS_SSE,       /* /v1/sse */
    STATS_PUBLISHER, /* binary publish protocol */
    STATS_NUM_PROTOCOLS,
};

/* The limits of docs/operations.md ("Limits and abuse"), as counted: each
 * counts what it refused. */
enum stats_limit {
    STATS_LIMIT_CONNECTIONS_PER_IP,  /* --max-connections-per-ip, at accept */
    STATS_LIMIT_CONNECTIONS_PER_SUB, /* --max-connections-per-sub, at the handshake */
    STATS_LIMIT_HANDSHAKES,          /* --max-handshakes, at accept */
    STATS_LIMIT_SUBSCRIBE_RATE,      /* --subscribe-rate-per-conn */
    STATS_LIMIT_SUBSCRIBE_RATE_SUB,  /* --subscribe-rate-per-sub */
    STATS_LIMIT_PUBLISH_RATE,        /* --publish-rate-per-conn */
    STATS_LIMIT_PUBLISH_RATE_SUB,    /* --publish-rate-per-sub */
    STATS_LIMIT_BODY_BUFFER,         /* --max-body-buffer-bytes */
    STATS_LIMIT_SUBJECTS,            /* token subjects a shard keeps count of */
    STATS_NUM_LIMITS,
};

/* Loop turns by how long the shard worked in them, from waking up to
 * waiting again: a connection's burst delays every other connection of the
 * shard by at most the turns it takes (the fairness figure of
 * docs/operations.md). Upper bounds of the buckets, in microseconds; the last
 * bucket has none (+Inf). */
#define STATS_TURN_BOUNDS_US                                                                       \
    {                                                                                              \
        50, 100, 250, 500, 1000, 2500, 5000, 10000, 25000, 100000                                  \
    }
#define STATS_TURN_BUCKETS 11

/* stats_turn_bucket is the bucket of a turn of |ns| nanoseconds. */
static inline unsigned stats_turn_bucket(int64_t ns)
{
    static const int64_t bounds_us[] = STATS_TURN_BOUNDS_US;
    unsigned b = 0;
    while (b < STATS_TURN_BUCKETS - 1 && ns > bounds_us[b] * 1000)
        b++;
    return b;
}

/* Why the history of a shard let a message go (docs/history.md). */
enum stats_eviction {
    STATS_EVICT_SIZE,  /* its topic holds --history-size newer messages */
    STATS_EVICT_TTL,   /* older than --history-ttl */
    STATS_EVICT_BYTES, /* the shard's history is over --history-bytes */
    STATS_NUM_EVICTIONS,
};

/* What a shard's history counts (src/pubsub/history.h). */
struct history_stats {
    counter_t msgs;  /* gauge: messages held */
    counter_t bytes; /* gauge: their bytes */
    counter_t evicted[STATS_NUM_EVICTIONS];
    counter_t replays; /* history answers served (fetch, history requests, resumes) */
    counter_t gaps;    /* gaps reported to subscribers */
};

/* What a shard counts. Totals unless marked as a gauge. */
/* Reasons a TLS session fails (io/tls.h, enum tls_failure). */
#define STATS_TLS_FAILURES 5

struct shard_stats {
    counter_t connections[STATS_NUM_PROTOCOLS]; /* gauge */
    counter_t subscriptions;                    /* gauge */
    counter_t topics_subscribed;                /* gauge: topics and patterns with subscribers */
    counter_t topics_sequenced;                 /* gauge: topics this shard is home of */
    counter_t accepted;
    counter_t refused;        /* over --max-connections */
    counter_t accept_stalls;  /* accepting stopped: every spare table slot in use */
    counter_t publishes;      /* events sequenced by this shard as home */
    counter_t publish_errors; /* publishes refused (NACK or HTTP error) */
    counter_t duplicates;     /* publishes recognised by message id */
    counter_t deliveries[STATS_NUM_PROTOCOLS];
    counter_t bytes_sent;
    counter_t truncated;           /* events over --max-payload sent as a stub */
    counter_t dropped;             /* events over --max-payload not delivered (--truncate=drop) */
    counter_t slow_closes;         /* subscribers closed for --max-queued-bytes */
    counter_t idle_closes;         /* WebSocket connections closed for --idle-timeout */
    counter_t origin_refusals;     /* WebSocket handshakes refused for --ws-origins */
    counter_t output_pauses;       /* reading paused: queued output at half --max-queued-bytes */
    counter_t send_timeouts;       /* closed: output stayed over that bound for --send-timeout */
    counter_t input_budget_pauses; /* reading paused: --input-budget spent in one loop turn */
    counter_t ring_full;           /* publishes that waited for room in a ring */
    counter_t ring_messages;       /* messages received from other shards to deliver */
    counter_t wakeups;             /* loop iterations: no growth means the shard slept */
    counter_t turn_buckets[STATS_TURN_BUCKETS]; /* turns by duration (not cumulative) */
    counter_t turn_ns;                          /* time the turns took, in all */
    counter_t limited[STATS_NUM_LIMITS];        /* refusals by limit */
    counter_t handshakes;                       /* gauge: connections in their handshake */
    counter_t body_buffer_bytes;                /* gauge: bytes reserved for request bodies */
    counter_t tls_handshakes[2];                /* TLS handshakes done: [0] full, [1] resumed */
    counter_t tls_failures[STATS_TLS_FAILURES]; /* TLS sessions failed, by enum tls_failure */
    struct history_stats history;               /* of the topics this shard is home of */
};

#endif
