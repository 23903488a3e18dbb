/* subconn.h: one subscriber connection, from connect() to close.
 *
 *   NEW -> CONNECTING -> HANDSHAKE -> SUBSCRIBING -> READY -> CLOSING -> DEAD
 *
 * CONNECTING waits (an io_uring poll) for a non-blocking connect from the
 * connection's source address. HANDSHAKE sent the WebSocket upgrade (or the
 * SSE GET) and reads the response head. SUBSCRIBING (WebSocket only) sent
 * the subscribe message and waits for "subscribed". READY receives events.
 * CLOSING sent a close frame (SSE: shut its side) and waits for the server
 * to close. Any failure, or a deadline passing before READY, makes it DEAD
 * at once; its socket is closed when the kernel has returned every request.
 *
 * With fixed files (sub.h), READY begins with installing the socket in the
 * ring's file table and closing its descriptor. A multishot receive armed
 * before keeps running: it holds its own reference to the socket. From then
 * on what was a system call on the descriptor is an io_uring request on the
 * slot: pongs and the close frame are sends from the connection's own
 * buffers (alive until their completion), SSE's half close and the
 * shutdown that ends a DEAD connection's requests are shutdown requests,
 * and the final close is a close of the slot.
 *
 * Received bytes are parsed where they lie (in the provided buffer). Only
 * the tail of a frame or line cut by the end of a buffer is copied, into
 * the connection's |partial| buffer, and completed from the next one. */
#ifndef BENCH_SUBCONN_H
#define BENCH_SUBCONN_H

#include <stdbool.h>
#include <stdint.h>

#include "natsparse.h"
#include "stream.h"
#include "subtls.h"
#include "sub.h"
#include "topics.h"
#include "wsparse.h"

enum subconn_state {
    CS_NEW,
    CS_CONNECTING,
    CS_HANDSHAKE,
    CS_SUBSCRIBING,
    CS_READY,
    CS_CLOSING,
    CS_DEAD,
};

/* In-flight io_uring requests of a connection; also the low byte of a
 * request's user data (the connection's index above it). */
enum {
    OP_POLL = 1,        /* POLLOUT for the connect */
    OP_RECV = 2,        /* a receive, multishot or not */
    OP_PONG = 4,        /* fixed file: a pong from |pong| */
    OP_CLOSE_SEND = 8,  /* fixed file: the close frame from |close_frame|, or SSE's half close */
    OP_CLOSE_SLOT = 16, /* fixed file: the slot's close (never in |ops|: nothing waits) */
};

/* A client close frame: header, mask and the 2-byte code. */
#define SUBCONN_CLOSE_FRAME (WSP_MAX_CLIENT_HEADER + 2)
/* The largest ping payload answered (control frames carry at most 125). */
#define SUBCONN_MAX_PONG 512

struct subconn {
    int fd;               /* -1 once closed, or once installed in the file table */
    uint8_t state;        /* enum subconn_state */
    uint8_t ops;          /* OP_* in flight */
    bool was_ready;       /* reached READY */
    bool server_closed;   /* the server ended it while READY */
    bool fixed;           /* the socket is in the ring's file table, at the connection's index */
    bool tls_established; /* --tls: the handshake is done */
    uint32_t id;          /* global connection index */
    int32_t topic;        /* the subscribed topic, -1: the pattern */
    uint32_t partial_len, partial_cap;
    uint8_t *partial; /* an incomplete frame or line; without multishot, the receive buffer */
    uint64_t deadline_ns;
    struct stream one;   /* an exact connection's stream */
    struct stream *many; /* a pattern connection's streams, one per topic */
    uint8_t *pong;       /* fixed file: the pong in flight (allocated at the first ping) */
    struct subtls *tls;  /* --tls: the connection's TLS (subtls.h) */
    struct natsp *nats;  /* --target nats: the NATS stream inside the frames */
    uint8_t close_frame[SUBCONN_CLOSE_FRAME]; /* fixed file: the close frame in flight */
};

/* subconn_open creates the socket, binds it to its source address and
 * starts connecting. On failure the connection is DEAD (and counted). */
void subconn_open(struct sub_thread *t, struct subconn *c, uint64_t now_ns);

/* subconn_on_poll handles the completion of the connect poll. */
void subconn_on_poll(struct sub_thread *t, struct subconn *c, int res, uint64_t now_ns);

/* subconn_on_data handles |len| received bytes at |data| (multishot: in a
 * provided buffer, which the caller recycles afterwards). */
void subconn_on_data(struct sub_thread *t, struct subconn *c, const uint8_t *data, size_t len,
                     uint64_t now_ns);

/* subconn_on_own_data handles |len| bytes received into the connection's
 * own buffer (without multishot), after c->partial_len. */
void subconn_on_own_data(struct sub_thread *t, struct subconn *c, size_t len, uint64_t now_ns);

/* subconn_on_fixed handles the completion of a request on a fixed file:
 * OP_PONG, OP_CLOSE_SEND (|res|: bytes sent or -errno) or OP_CLOSE_SLOT. */
void subconn_on_fixed(struct sub_thread *t, struct subconn *c, unsigned op, int res);

/* subconn_on_eof handles the end of the stream or a receive error. */
void subconn_on_eof(struct sub_thread *t, struct subconn *c, int res);

/* subconn_own_buffer makes room in the connection's own receive buffer
 * (without multishot) and returns where the next receive goes, with the
 * space in |*out_len|; NULL when out of memory. */
uint8_t *subconn_own_buffer(struct subconn *c, size_t *out_len);

/* subconn_wants_recv reports whether a receive should be armed. */
bool subconn_wants_recv(const struct subconn *c);

/* subconn_begin_close starts closing a READY connection (PHASE_CLOSE). */
void subconn_begin_close(struct sub_thread *t, struct subconn *c, uint64_t now_ns);

/* subconn_check_deadline fails a connection whose setup or close deadline
 * has passed. */
void subconn_check_deadline(struct sub_thread *t, struct subconn *c, uint64_t now_ns);

/* subconn_kill makes a connection DEAD: shuts the socket down, and closes
 * it once no request is in flight. */
void subconn_kill(struct sub_thread *t, struct subconn *c);

/* subconn_release closes the socket (with fixed files: its slot) if
 * nothing is in flight any more. */
void subconn_release(struct sub_thread *t, struct subconn *c);

/* subconn_drained reports whether a READY connection has every topic's
 * last published event. */
bool subconn_drained(const struct sub_thread *t, const struct subconn *c);

/* subconn_account adds the connection's missing events (start and end of
 * each stream) and its expected deliveries to the thread's results. */
void subconn_account(struct sub_thread *t, const struct subconn *c);

/* For the dialects (subnats.c): */

/* subconn_fail ends a connection with an error: a setup failure before
 * READY, a lost connection after. */
void subconn_fail(struct sub_thread *t, struct subconn *c, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* subconn_become_ready makes a connection READY; false when it failed
 * instead. */
bool subconn_become_ready(struct sub_thread *t, struct subconn *c, uint64_t now_ns);

/* subconn_on_event checks one event (|len| bytes at |json|) and times it. */
void subconn_on_event(struct sub_thread *t, struct subconn *c, const uint8_t *json, size_t len,
                      uint64_t now_ns);

/* subconn_send_ws sends one masked frame of at most SUBCONN_MAX_PONG
 * bytes; false when it cannot. */
bool subconn_send_ws(struct sub_thread *t, struct subconn *c, uint8_t opcode, const void *payload,
                     size_t len);

/* subconn_subscription writes what the connection subscribes to (its
 * topic or the pattern) to |out| and returns its length. */
size_t subconn_subscription(const struct sub_thread *t, const struct subconn *c,
                            char out[TOPIC_MAX_LEN + 1]);

/* subconn_free frees the connection's memory (its socket is closed). */
void subconn_free(struct subconn *c);

#endif
