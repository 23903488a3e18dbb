/* pub.h: publisher threads.
 *
 * Each publisher owns one connection (the binary protocol through the
 * project's client library, pubbin.c, HTTP POST /v1/publish, pubhttp.c, or
 * NATS PUB for --target nats, pubnats.c)
 * and its own thread. It publishes from PHASE_RUN until the end of the
 * measured window, either open loop (its share of --rate, each payload
 * stamped with its scheduled time) or closed loop (--window publishes in
 * flight), then collects the outstanding replies. ACKs give the seq of
 * every event, so the publishers know exactly which seqs each topic got:
 * the subscribers' end-of-run check compares against that. */
#ifndef BENCH_PUB_H
#define BENCH_PUB_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "control.h"
#include "hist.h"
#include "procstat.h"

/* A reply matched to its publish by |id| (the transport's request id). */
struct pub_reply {
    uint32_t id;
    bool ok;
    uint64_t seq;    /* ok */
    char error[160]; /* !ok: what the server said */
};

/* A way to publish: the binary protocol or HTTP. Every call that waits
 * does so for at most the transport's timeout. */
struct pub_transport {
    const char *name;
    /* connect returns a transport state, or NULL with |err| set. */
    void *(*connect)(const struct config *cfg, char *err, size_t err_len);
    /* max_window returns the most requests the server reads ahead. */
    uint32_t (*max_window)(void *st);
    /* send queues one publish and returns its id in |*out_id|; 0 or -1. */
    int (*send)(void *st, const char *topic, size_t topic_len, const uint8_t *payload, size_t len,
                uint32_t *out_id);
    /* flush writes what is queued; 0 or -1. */
    int (*flush)(void *st);
    /* reply_ready reports whether read_reply would not wait. */
    bool (*reply_ready)(void *st);
    int (*fd)(void *st);
    /* read_reply flushes and waits for the next reply; 0 or -1. */
    int (*read_reply)(void *st, struct pub_reply *out);
    /* error describes the last failure of send, flush or read_reply. */
    const char *(*error)(void *st);
    void (*free)(void *st);
};

extern const struct pub_transport pubbin_transport;
extern const struct pub_transport pubhttp_transport;
extern const struct pub_transport pubnats_transport;

struct pub_thread {
    const struct config *cfg;
    struct control *ctl;
    uint32_t index;
    pthread_t tid;
    bool started;
    const struct pub_transport *transport;
    void *conn;

    /* Results, read by main after joining. */
    struct topic_range *published; /* K entries, this publisher's topics only */
    uint64_t sent, acked, nacked;
    uint64_t acked_in_window; /* ACKs that arrived in the measured window */
    struct hist *late;        /* open loop: how late each send of the window was, ns */
    bool failed;              /* the connection failed */
    struct cpu_window cpu;
    char first_error[256];

    /* Progress, for the status line. */
    _Atomic uint64_t acked_progress;
};

/* pub_connect connects publisher |index| (before the run, so that a
 * refused connection is reported before anything is measured). Returns 0,
 * or -1 with the reason in p->first_error. */
int pub_connect(struct pub_thread *p, const struct config *cfg, struct control *ctl,
                uint32_t index);

/* pub_start starts the publisher's thread; call it once the control holds
 * the run's times. Returns 0 or -1 (p->first_error). */
int pub_start(struct pub_thread *p);

/* pub_join waits for the thread. */
void pub_join(struct pub_thread *p);

/* pub_free closes the connection and frees the results. */
void pub_free(struct pub_thread *p);

#endif
