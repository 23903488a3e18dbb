/* limits.h: what one shard lets a client have (docs/operations.md,
 * "Limits and abuse").
 *
 * Shards share nothing but read-only configuration and the rings, so every
 * count here belongs to one shard, and a limit on a whole client (its
 * address, its token's sub) is enforced by each shard on its share,
 * ceil(limit / shards), as --max-connections is: SO_REUSEPORT spreads one
 * client's connections over the shards, so together they admit about the
 * limit, between one share and shards times one share. The limits of one
 * connection (its rates) and of one shard (handshakes, buffered bodies)
 * are exact.
 *
 * Tables of counts are keycounts (util/keycount.h): an address's entry
 * lives while a connection from it does; a sub's entry also while its rate
 * buckets refill, so coming back after a pause does not buy a new burst.
 * Both hold at most the shard's share of --max-connections entries.
 *
 * A refusal is either the server's (503, NACK overloaded: it is full) or the
 * client's (429, NACK or error rate_limited: this client is over its
 * limit); each is counted under its enum stats_limit. */
#ifndef RC_LIMITS_H
#define RC_LIMITS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "core/conn.h"
#include "util/keycount.h"
#include "util/timer.h"
#include "util/tokenbucket.h"

struct claims;
struct shard;

struct shard_limits {
    struct keycount addresses; /* connections per peer address */
    struct keycount subjects;  /* per token sub: connections and rate buckets */
    uint32_t per_address;      /* this shard's share of --max-connections-per-ip; 0: none */
    uint32_t per_subject;      /* its share of --max-connections-per-sub; 0: none */
    struct tokenbucket_rate subscribe_share; /* of --subscribe-rate-per-sub */
    struct tokenbucket_rate publish_share;   /* of --publish-rate-per-sub */
    uint32_t handshakes;                     /* connections with CONN_HANDSHAKE */
    uint64_t body_bytes;                     /* reserved for request bodies */
    struct timer_node sweep;                 /* forgets idle subjects */
};

/* A refusal, for the connection kind to answer in its protocol. */
struct limits_refusal {
    bool server; /* the server's limit (503, overloaded), else the client's (429, rate_limited) */
    const char *message; /* static */
    uint32_t retry_ms;   /* when trying again may work; 0: not known */
};

/* limits_init sets up |sh|'s limits once its connection share is known;
 * limits_cleanup frees them (after every connection was released). */
void limits_init(struct shard *sh);
void limits_cleanup(struct shard *sh);

/* limits_admit judges a connection being accepted from |addr| (|addr_len|
 * bytes; 0 when the address is not known): true with |*out_address| the
 * address's count to hand to limits_start (NULL when not counted), or false
 * with |*why|. */
bool limits_admit(struct shard *sh, const struct sockaddr_storage *addr, socklen_t addr_len,
                  struct keycount_entry **out_address, enum conn_refusal *why);

/* limits_start makes |c| hold what limits_admit gave, and counts it in its
 * handshake; limits_unadmit gives it back when no connection was made. */
void limits_start(struct shard *sh, struct conn *c, struct keycount_entry *address);
void limits_unadmit(struct shard *sh, struct keycount_entry *address);

/* limits_handshake_done ends |c|'s handshake (upgraded, streaming, or past
 * HELLO): it no longer counts in --max-handshakes. */
void limits_handshake_done(struct shard *sh, struct conn *c);

/* limits_hold_subject makes a connection that keeps its token, |claims|,
 * for its life (WebSocket, SSE, publisher) count for the token's sub,
 * which must be within --max-connections-per-sub. A token without sub (or
 * none) counts for nothing. Returns false with |*out| when refused. */
bool limits_hold_subject(struct shard *sh, struct conn *c, const struct claims *claims,
                         struct limits_refusal *out);

/* limits_take_subscribe takes one subscription change (a subscribe or
 * unsubscribe message) from |c|'s bucket |bucket| and its sub's share;
 * limits_take_publish one publish, for |c|'s current claims. Neither takes
 * anything when it returns false with |*out|. */
bool limits_take_subscribe(struct shard *sh, struct conn *c, struct tokenbucket *bucket,
                           struct limits_refusal *out);
bool limits_take_publish(struct shard *sh, struct conn *c, struct tokenbucket *bucket,
                         struct limits_refusal *out);

/* limits_reserve_body reserves |len| bytes of the shard's
 * --max-body-buffer-bytes for the request body |c| is receiving (once per
 * request: true at once when it holds a reservation); false with |*out|
 * when the budget has no room. limits_release_body gives the reservation
 * back once the body is handled. */
bool limits_reserve_body(struct shard *sh, struct conn *c, size_t len, struct limits_refusal *out);
void limits_release_body(struct shard *sh, struct conn *c);

/* limits_release gives back everything |c| holds (it is being freed). */
void limits_release(struct shard *sh, struct conn *c);

#endif
