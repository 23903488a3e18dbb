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
#include <stddef.h>
#include <stdint.h>

#include "io/inbuf.h"
#include "pubsub/index.h"
#include "core/sendq.h"
#include "util/timer.h"

struct conn;
struct keycount_entry;
struct lref;
struct msg;
struct pubreq;
struct shard;
struct tls_session;

enum conn_state {
    CONN_OPEN,
    CONN_CLOSING,
    CONN_LINGER,
    CONN_DEAD,
};

/* Flags. */
#define CONN_RECV_ARMED 0x001  /* a receive request is in flight */
#define CONN_SEND_ACTIVE 0x002 /* a send request is in flight */
#define CONN_DIRTY 0x004       /* on the shard's dirty list: flush at the end of the iteration */
#define CONN_ON_WORK 0x008     /* on the shard's work list */
#define CONN_OVERFLOW 0x010    /* queued bytes exceeded --max-queued-bytes */
#define CONN_NEED_RECV 0x020   /* re-arm the receive at the end of the iteration */
#define CONN_READ_PAUSED 0x040 /* stop reading (backpressure) */
#define CONN_BLOCKED 0x080     /* waiting for room in a ring */
#define CONN_AWAITING 0x100    /* a request is at its home shard: read no further */
#define CONN_NO_LINGER 0x200   /* close TCP as soon as the final bytes are out */
#define CONN_OUTPUT_FULL 0x400 /* reading paused until the queued output drains */
#define CONN_RECV_CANCEL 0x800 /* the receive was cancelled to pause input: not an error */
#define CONN_HANDSHAKE 0x1000  /* counted in --max-handshakes (limits.h) */
#define CONN_ONE_RECV 0x2000   /* paused once for its input: one-shot receives from then on */
#define CONN_HOLDING 0x4000    /* live events of some topics wait for a replay: hold_event */

/* Why a connection is refused as it is accepted (limits.h): the server is
 * full (503, NACK overloaded), or this client holds its share (429, NACK
 * rate_limited). */
enum conn_refusal {
    CONN_REFUSE_CONNECTIONS, /* --max-connections */
    CONN_REFUSE_HANDSHAKES,  /* --max-handshakes */
    CONN_REFUSE_ADDRESS,     /* --max-connections-per-ip */
    CONN_NUM_REFUSALS,
};

/* conn_refusal_is_client reports whether |why| is the client's own limit
 * (429, rate_limited) rather than the server's (503, overloaded). */
static inline bool conn_refusal_is_client(enum conn_refusal why)
{
    return why == CONN_REFUSE_ADDRESS;
}

/* conn_refusal_text says |why| in a few words, for the refusal's message. */
const char *conn_refusal_text(enum conn_refusal why);

/* What fan-out queues to a connection: the shared bytes of one encoding of
 * the message (msg.h), or nothing (not a subscriber). */
enum conn_encoding {
    CONN_ENC_NONE,
    CONN_ENC_WS_FRAME,   /* the message's WebSocket frame */
    CONN_ENC_SSE_RECORD, /* the message's SSE record */
    CONN_ENC_WS_DEFLATE, /* the message's permessage-deflate frame (queue_event) */
    CONN_ENC_WS_DATA,    /* the message's data alone, in a frame of the kind's own (queue_event) */
    CONN_ENC_OWN,        /* the kind's own (queue_event): a dialect's frame */
};

/* conn_ops: what a kind of connection does. The base (conn.c), the shard
 * loop and the routing between shards call a connection only through its
 * table, so they know no kind; a kind's state lives in the connection's
 * |kind_state| and belongs to the kind's own file. An upgrade (HTTP to
 * WebSocket or SSE) swaps the table (conn_set_ops). The shape of h2o's
 * h2o_conn_callbacks_t and nginx's per-connection handlers.
 *
 * Every function may be NULL where said. */
struct conn_ops {
    const char *name;
    uint8_t stats_kind;  /* enum stats_protocol: the label it is counted under */
    uint8_t encoding;    /* enum conn_encoding */
    bool reads_for_life; /* one multishot receive for its whole life (subscribers) */
    bool flush_first;    /* flushed before the others (acknowledgements before fan-out) */
    /* start sets up a connection accepted on a listener of this kind. */
    void (*start)(struct shard *sh, struct conn *c);
    /* on_data handles bytes received while OPEN. */
    void (*on_data)(struct shard *sh, struct conn *c, uint8_t *data, size_t len);
    /* on_closing_data handles bytes received while CLOSING or LINGER (NULL:
     * they are dropped). */
    void (*on_closing_data)(struct shard *sh, struct conn *c, uint8_t *data, size_t len);
    /* on_timer handles the expiry of the connection's timer while OPEN. */
    void (*on_timer)(struct shard *sh, struct conn *c);
    /* on_result takes the answer to a request the connection sent to a
     * home shard (NULL: dropped). The caller frees |req|; a fetched
     * message taken over is set to NULL. */
    void (*on_result)(struct shard *sh, struct conn *c, struct pubreq *req);
    /* resume goes on reading after a pause or a full ring (NULL: clears
     * CONN_READ_PAUSED and CONN_BLOCKED). */
    void (*resume)(struct shard *sh, struct conn *c);
    /* drain starts a graceful close at shutdown (NULL: killed). */
    void (*drain)(struct shard *sh, struct conn *c);
    /* close_slow closes a subscriber whose queue passed --max-queued-bytes. */
    void (*close_slow)(struct shard *sh, struct conn *c);
    /* queue_event queues message |m|, through |ref|, in the connection's
     * own way, for a kind whose encoding is not the WebSocket frame (which
     * is always queued as it is; NULL: the shared bytes of |encoding| as
     * they are). Returns 0 or -1 (memory). */
    int (*queue_event)(struct conn *c, struct lref *ref, const struct msg *m);
    /* hold_event, called for a CONN_HOLDING connection before |m| is
     * queued, keeps |m| back (a reference of its own) while its topic waits
     * for a replay (pubsub/seam.h). Returns 1 when held, with the bytes held
     * now in |*out_held| (they count in --max-queued-bytes), 0 when |m| is
     * to be queued as usual, -1 when memory ran out. */
    int (*hold_event)(struct conn *c, struct msg *m, uint64_t *out_held);
    /* release frees the kind's state (NULL: it owns nothing). */
    void (*release)(struct conn *c);
    /* write_refusal writes what a connection accepted on a listener of
     * this kind and refused for |why| is told (NULL: nothing), and returns
     * its length. */
    size_t (*write_refusal)(char *out, size_t cap, enum conn_refusal why);
};

/* Room for a kind's own state in every connection; each kind checks that
 * its state fits (CONN_KIND_STATE_FITS). */
#define CONN_KIND_STATE_BYTES 136
#define CONN_KIND_STATE_FITS(type)                                                                 \
    _Static_assert(sizeof(type) <= CONN_KIND_STATE_BYTES &&                                        \
                       _Alignof(type) <= _Alignof(max_align_t),                                    \
                   #type " must fit in struct conn's kind_state")

/* What a connection holds of its shard's limits (limits.h). */
struct conn_limits {
    struct keycount_entry *address; /* its peer address's count; NULL: not counted */
    struct keycount_entry *subject; /* its token sub's count and rates; NULL: none held */
    uint32_t body_bytes;            /* reserved for the request body being received */
};

struct conn {
    int fd;        /* direct descriptor: a slot in the shard ring's file table (sockop.h) */
    uint32_t slot; /* index in the shard's connection table */
    uint32_t gen;  /* tells a reused slot from its previous occupant */
    uint8_t state;
    uint8_t pending; /* io_uring requests in flight for this connection */
    uint16_t flags;
    const struct conn_ops *ops;
    struct sendq sq;
    struct timer_node timer;
    struct conn *next_dirty;
    struct conn *next_work;
    struct inbuf in;
    struct subs subs;          /* WebSocket and SSE subscribers */
    struct claims *claims;     /* the token's (NULL in open mode, or before a token) */
    int64_t expires_ms;        /* the token's exp on the monotonic clock; 0: none */
    int64_t last_rx_ms;        /* WebSocket: when bytes last came in (idle timeout) */
    int64_t next_beat_ms;      /* next ping (WebSocket) or heartbeat comment (SSE) */
    int64_t kind_deadline_ms;  /* the kind's own timer (conn_arm_timer); 0: none */
    int64_t stall_deadline_ms; /* with CONN_OUTPUT_FULL: closed if still full then */
    uint32_t input_turn;       /* the shard loop turn |input_used| counts in */
    uint32_t input_used;       /* input messages handled in that turn */
    struct conn_limits limits;
    struct tls_session *tls; /* NULL: plaintext; else TLS beneath the kind (conntls.h) */
    _Alignas(max_align_t) unsigned char kind_state[CONN_KIND_STATE_BYTES];
};

/* conn_new takes a free slot of |sh| for socket |fd|, speaking |ops|.
 * Returns NULL when the shard is at its connection limit or out of
 * memory. */
struct conn *conn_new(struct shard *sh, int fd, const struct conn_ops *ops);

/* conn_set_ops changes what |c| speaks (an upgrade), keeping the
 * per-protocol connection counts right. The new kind's state starts
 * zeroed. */
void conn_set_ops(struct shard *sh, struct conn *c, const struct conn_ops *ops);

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

/* conn_arm_timer sets the kind's own deadline (a ping, a heartbeat, a
 * handshake timeout): ops->on_timer runs then. The base keeps the
 * connection's one timer at the earlier of it and its own deadlines. */
void conn_arm_timer(struct shard *sh, struct conn *c, int64_t deadline_ms);

/* conn_cancel_timer drops the kind's deadline. */
void conn_cancel_timer(struct shard *sh, struct conn *c);

/* conn_input_next is asked before each input message (an HTTP request, a
 * publish frame, a WebSocket message) is handled: may |c| handle one more
 * now? It counts the message when yes. No when the connection's queued
 * output, replies included, reached half of --max-queued-bytes, or when it
 * handled --input-budget messages in this turn of the loop: then reading
 * pauses (CONN_READ_PAUSED; a subscriber's receive is cancelled), the
 * caller keeps the rest of its input in c->in, and ops->resume runs in the
 * next turn (budget) or once the output drained to a quarter of the bound.
 * A connection whose output stays over the bound for --send-timeout is
 * closed as a slow consumer. This is how a client that sends but never
 * reads is held to bounded memory, and how one connection's burst delays
 * the others by at most one budget. */
bool conn_input_next(struct shard *sh, struct conn *c);

/* conn_input_held reports whether |c|'s input waits (paused, or bytes are
 * already waiting in c->in): new bytes then go behind them in c->in. */
static inline bool conn_input_held(const struct conn *c)
{
    return (c->flags & CONN_READ_PAUSED) || c->in.len > 0;
}

/* conn_may_read reports whether |c| reads on: open, and neither paused,
 * waiting for room in a ring, nor waiting for its home shard's answer. */
static inline bool conn_may_read(const struct conn *c)
{
    return c->state == CONN_OPEN && !(c->flags & (CONN_READ_PAUSED | CONN_BLOCKED | CONN_AWAITING));
}

/* conn_pause_input stops reading |c| (CONN_READ_PAUSED) until its kind's
 * resume: what is in flight is held in c->in. */
void conn_pause_input(struct shard *sh, struct conn *c);

/* conn_hold_input keeps |len| more input bytes in c->in; false (after
 * killing the connection) when that passes what a paused connection may
 * hold. */
bool conn_hold_input(struct shard *sh, struct conn *c, const uint8_t *data, size_t len);

/* conn_close_slow closes a connection that does not read what it is sent:
 * its kind's close_slow, or a reset for kinds without one. */
void conn_close_slow(struct shard *sh, struct conn *c);

/* conn_finish queues nothing more: flush what is queued, then shut the
 * write side and linger (OPEN -> CLOSING). */
void conn_finish(struct shard *sh, struct conn *c);

/* conn_kill shuts the socket down at once (-> DEAD). */
void conn_kill(struct shard *sh, struct conn *c);

/* conn_go_on_leaving removes the next batch of an ended connection's
 * subscriptions from the index (from the work list: an ending connection
 * leaves it a batch per turn, and is freed only once it has left). */
void conn_go_on_leaving(struct shard *sh, struct conn *c);

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

/* conn_reap frees a dead connection once the kernel is done with it, it
 * has left the index and no shard list holds it. Returns true when |c| was freed. */
bool conn_reap(struct shard *sh, struct conn *c);

/* conn_on_timer handles the expiry of |c|'s timer. */
void conn_on_timer(struct shard *sh, struct conn *c);

/* conn_free_all releases every connection (shard exit). */
void conn_free_all(struct shard *sh);

#endif
