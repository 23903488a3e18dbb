/* sub.h: subscriber threads.
 *
 * Each thread owns an io_uring, a provided-buffer ring (or, without
 * multishot receives, a buffer per connection) and every T-th connection
 * (connection i belongs to thread i % T). It opens them --connect-
 * concurrency at a time, then receives until main says to close: every
 * receive completion is parsed at once, as many frames or lines as it
 * holds, and each event is checked (stream.h) and timed (hist.h).
 *
 * With fixed files (--fixed-files, cfg->fixed_files) the ring has a sparse
 * file table with a slot per connection (slot = the connection's index in
 * the thread). A connection is set up on an ordinary descriptor; once it is
 * subscribed its socket is installed in its slot and the descriptor closed,
 * and from then on every request on it (receives, the close frame, pongs,
 * shutdowns, the final close) names the slot with IOSQE_FIXED_FILE. So only
 * the setups in flight hold descriptors, and a thread holds as many
 * connections as RLIMIT_NOFILE allows a table to have.
 *
 * The thread reports through its own struct sub_thread: |progress| with
 * relaxed atomics while it runs, |res| once it has been joined. */
#ifndef BENCH_SUB_H
#define BENCH_SUB_H

#include <liburing.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "control.h"
#include "hist.h"
#include "procstat.h"
#include "io/bufring.h"
#include "stream.h"

struct subconn;

struct sub_progress {
    _Atomic uint32_t ready;  /* subscribed */
    _Atomic uint32_t failed; /* could not connect or subscribe */
    _Atomic uint32_t closed; /* closed by the server while subscribed */
    _Atomic uint64_t deliveries;
    _Atomic uint64_t receives;
    _Atomic bool setup_done; /* every connection is subscribed or failed */
    _Atomic bool drained;    /* PHASE_DRAIN: every stream has the last published seq */
};

struct sub_results {
    struct hist *latency; /* events received in the measured window */
    struct stream_counts counts;
    struct stream_counts after_close;                 /* missed by connections the server closed */
    uint64_t deliveries, receives, bytes;             /* whole run */
    uint64_t deliveries_win, receives_win, bytes_win; /* measured window */
    uint64_t expected;  /* events the subscribed connections should have got */
    uint64_t truncated; /* stubs instead of payloads */
    uint64_t unparsed;  /* events without a payload of ours */
    uint64_t foreign;   /* events of topics not ours (a '*' pattern on a shared server) */
    uint64_t misrouted; /* events of our topics the connection did not subscribe to */
    uint32_t ready, failed;
    uint32_t tls_resumed;  /* --tls: handshakes that resumed a session */
    uint32_t slow_closes;  /* close code 4001 */
    uint32_t other_closes; /* any other close or EOF from the server while subscribed */
    uint32_t last_close_code;
    uint32_t unclean_closes; /* no close from the server within --close-timeout */
    uint64_t setup_end_ns;   /* when the last connection was set up */
    struct cpu_window cpu;
    char first_error[256];
};

struct inflater;

struct sub_thread {
    const struct config *cfg;
    struct control *ctl;
    uint32_t index;
    pthread_t tid;
    bool started;
    struct sub_progress progress;
    struct sub_results res;

    /* Owned by the thread. */
    struct io_uring ring;
    bool ring_ok;
    struct bufring rb;
    bool multishot;
    struct ssl_ctx_st *tls_ctx; /* --tls: the thread's client context (subtls.h) */
    struct subconn *conns;
    uint32_t num_conns;
    uint32_t next_open;  /* the next connection to open */
    uint32_t setting_up; /* connections between socket() and subscribed */
    uint32_t live;       /* connections whose socket is open */
    uint32_t *rearm;     /* connections whose receive must be armed again */
    uint32_t num_rearm;
    uint64_t rng;            /* masks */
    uint64_t key_seed;       /* Sec-WebSocket-Key of connection i: from key_seed and i */
    uint8_t *pattern_topics; /* K flags: the pattern matches topic k */
    uint32_t max_failures;   /* stop opening connections after this many failed */
    int phase;
    uint64_t win_start, win_end; /* the measured window, once PHASE_RUN is seen */
    uint64_t next_scan_ns;
    struct inflater *inflater; /* --deflate: the thread's inflate stream and buffer */
};

/* sub_start starts thread |index|. Returns 0, or -1 with the reason in
 * t->res.first_error. */
int sub_start(struct sub_thread *t, const struct config *cfg, struct control *ctl, uint32_t index);

/* sub_join waits for the thread to finish (after PHASE_CLOSE). */
void sub_join(struct sub_thread *t);

/* sub_free frees the results. */
void sub_free(struct sub_thread *t);

/* sub_note_error records the thread's first error. */
void sub_note_error(struct sub_thread *t, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* sub_probe_fixed_files reports whether this kernel has what fixed files
 * need: a sparse file table, installing a socket in it, a send on a slot
 * and closing a slot. On false, |why| says what failed. */
bool sub_probe_fixed_files(char *why, size_t why_len);

/* sub_target points |sqe| (after io_uring_prep_*, whose descriptor it
 * replaces) at |c|'s socket: its slot in the file table once installed
 * there, else its descriptor. */
void sub_target(const struct sub_thread *t, const struct subconn *c, struct io_uring_sqe *sqe);

/* sub_arm_recv arms a receive on |c|. */
void sub_arm_recv(struct sub_thread *t, struct subconn *c);

/* sub_get_sqe returns a submission entry, submitting when the queue is
 * full. */
struct io_uring_sqe *sub_get_sqe(struct sub_thread *t);

#endif
