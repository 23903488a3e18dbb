/* conn.h: a connection owned by one shard, and its life cycle.
 *
 *   OPEN ──(final bytes queued: close frame, NACK, HTTP error)──► CLOSING
 *   CLOSING ──(queue sent; write side shut)──► LINGER
 *   LINGER ──(peer's EOF, or --close-timeout)──► DEAD
 *   any ──(error, timeout, shutdown deadline)──► DEAD
 *   DEAD: socket shut down both ways; freed once no request is in flight.
 *
 * Lingering (reading until the peer closes) matters: closing a socket that
 * still has unread input sends a reset, and the peer may then lose the
 * close frame or error reply that was just sent.
 *
 * A connection leaves the topic index as soon as it leaves OPEN. */
#ifndef RC_CONN_H
#define RC_CONN_H

#include <stdbool.h>
#include <stdint.h>

#include "index.h"
#include "sendq.h"
#include "timer.h"
#include "wsread.h"

struct shard;

enum conn_kind {
    CONN_HTTP, /* client port: requests (HTTP publish, fetch, metrics), before an upgrade */
    CONN_WS,   /* native WebSocket protocol */
    CONN_SSE,  /* Server-Sent Events stream */
    CONN_PUB,  /* binary publish protocol */
};

enum conn_state {
    CONN_OPEN,
    CONN_CLOSING,
    CONN_LINGER,
    CONN_DEAD,
};

/* Flags. */
#define CONN_RECV_ARMED 0x01  /* a receive request is in flight */
#define CONN_SEND_ACTIVE 0x02 /* a send request is in flight */
#define CONN_DIRTY 0x04       /* on the shard's dirty list: flush at the end of the iteration */
#define CONN_ON_WORK 0x08     /* on the shard's work list */
#define CONN_OVERFLOW 0x10    /* queued bytes exceeded --max-queued-bytes */
#define CONN_NEED_RECV 0x20   /* re-arm the receive at the end of the iteration */
#define CONN_READ_PAUSED 0x40 /* publisher: stop reading (backpressure) */
#define CONN_BLOCKED 0x80     /* publisher: waiting for room in a ring */

/* Bytes received but not handled yet: an incomplete HTTP head or publish
 * frame. Owns memory only while something is incomplete. */
struct inbuf {
    uint8_t *data;
    uint32_t len;
    uint32_t cap;
};

struct ws_conn {
    struct ws_reader reader;
    bool echo;           /* /v1/echo: messages come back as they are */
    bool close_received; /* the peer's close frame came: close TCP once ours is out */
    bool reader_failed;  /* a protocol error: the rest of the input means nothing */
};

struct sse_conn {
    /* Per subscription (in the order of the request), the position of the
     * last event delivered through it: seq for an exact topic, publish time
     * in microseconds for a pattern. NULL for a stream of one exact topic,
     * whose events carry their own seq as id. */
    uint64_t *positions;
};

struct http_conn {
    bool awaiting;      /* a publish or fetch is at its home shard: read no further */
    bool keep_alive;    /* of the request being answered */
    bool continue_sent; /* "100 Continue" went out for the request being read */
};

struct pub_conn {
    uint32_t inflight;     /* publishes sent to a home shard, not yet answered */
    uint16_t blocked_home; /* the home shard whose ring is full */
    bool hello_done;
    bool goaway_sent;
};

struct conn {
    int fd;        /* direct descriptor: a slot in the shard ring's file table (sockop.h) */
    uint32_t slot; /* index in the shard's connection table */
    uint32_t gen;  /* tells a reused slot from its previous occupant */
    uint8_t kind;
    uint8_t state;
    uint8_t flags;
    uint8_t ops; /* io_uring requests in flight for this connection */
    struct sendq sq;
    struct timer_node timer;
    struct conn *next_dirty;
    struct conn *next_work;
    struct inbuf in;
    struct subs subs;      /* WebSocket and SSE subscribers */
    struct claims *claims; /* the token's (NULL in open mode, or before a token) */
    int64_t expires_ms;    /* the token's exp on the monotonic clock; 0: none */
    int64_t last_rx_ms;    /* WebSocket: when bytes last came in (idle timeout) */
    int64_t next_beat_ms;  /* next ping (WebSocket) or heartbeat comment (SSE) */
    union {
        struct ws_conn ws;
        struct sse_conn sse;
        struct http_conn http;
        struct pub_conn pub;
    } u;
};

/* conn_new takes a free slot of |sh| for socket |fd|. Returns NULL when the
 * shard is at its connection limit or out of memory. */
struct conn *conn_new(struct shard *sh, int fd, enum conn_kind kind);

/* conn_set_kind changes what |c| speaks (an upgrade), keeping the
 * per-protocol connection counts right. */
void conn_set_kind(struct shard *sh, struct conn *c, enum conn_kind kind);

/* conn_lookup returns the live connection in |slot| with generation |gen|,
 * or NULL. */
struct conn *conn_lookup(struct shard *sh, uint32_t slot, uint32_t gen);

/* conn_mark_dirty schedules a flush of |c| at the end of the iteration. */
void conn_mark_dirty(struct shard *sh, struct conn *c);

/* conn_add_work puts |c| on the work list (overflow handling, receive
 * re-arming, paused publishers). */
void conn_add_work(struct shard *sh, struct conn *c);

/* conn_send_copy queues a copy of |len| bytes and marks |c| dirty. A failure
 * to allocate kills the connection. */
void conn_send_copy(struct shard *sh, struct conn *c, const void *data, size_t len);

/* conn_give_up_slow logs and counts a subscriber closed for queueing more
 * than --max-queued-bytes, and drops what is not on the wire yet (a frame
 * being sent is finished, never cut); |what| says how it ends. */
void conn_give_up_slow(struct shard *sh, struct conn *c, const char *what);

/* conn_set_claims makes |claims| the connection's (freeing the previous
 * ones) and notes when they expire. */
void conn_set_claims(struct shard *sh, struct conn *c, struct claims *claims);

/* conn_finish queues nothing more: flush what is queued, then shut the
 * write side and linger (OPEN -> CLOSING). */
void conn_finish(struct shard *sh, struct conn *c);

/* conn_kill shuts the socket down at once (-> DEAD). */
void conn_kill(struct shard *sh, struct conn *c);

/* conn_arm_recv submits a receive for |c| (multishot where supported). */
void conn_arm_recv(struct shard *sh, struct conn *c);

/* conn_flush submits one send of everything queued, if none is in flight. */
void conn_flush(struct shard *sh, struct conn *c);

/* conn_on_recv handles a receive completion. */
void conn_on_recv(struct shard *sh, struct conn *c, int res, uint32_t cqe_flags);

/* conn_on_sockop handles the completion of a shutdown or cancel. */
void conn_on_sockop(struct shard *sh, struct conn *c);

/* conn_on_send handles a send completion. */
void conn_on_send(struct shard *sh, struct conn *c, int res);

/* conn_reap frees a dead connection once the kernel is done with it and no
 * shard list holds it. Returns true when |c| was freed. */
bool conn_reap(struct shard *sh, struct conn *c);

/* conn_on_timer handles the expiry of |c|'s timer. */
void conn_on_timer(struct shard *sh, struct conn *c);

/* conn_free_all releases every connection (shard exit). */
void conn_free_all(struct shard *sh);

/* inbuf_append appends to |in|, growing it up to |limit| bytes. Returns 0
 * or -1 (limit or memory). */
int inbuf_append(struct inbuf *in, const uint8_t *data, size_t len, size_t limit);

/* inbuf_consume drops the first |n| bytes (freeing the buffer when empty). */
void inbuf_consume(struct inbuf *in, size_t n);

/* inbuf_clear frees the buffer. */
void inbuf_clear(struct inbuf *in);

#endif
