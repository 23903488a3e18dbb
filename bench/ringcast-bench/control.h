/* control.h: how the main thread steers the subscriber and publisher
 * threads through a run.
 *
 * main owns a struct control and hands its address to every thread. It
 * writes the plain fields, then moves |phase| forward with a release
 * store; a thread that sees the new phase (acquire load) may read the
 * fields written before it. Nothing else is shared: every thread reports
 * through its own struct (sub.h, pub.h). */
#ifndef BENCH_CONTROL_H
#define BENCH_CONTROL_H

#include <stdatomic.h>
#include <stdint.h>

enum phase {
    PHASE_SETUP, /* subscribers connect and subscribe */
    PHASE_RUN,   /* publishers publish: warmup, then the measured window */
    PHASE_DRAIN, /* publishing is over: wait for the last events */
    PHASE_CLOSE, /* close every connection and stop */
};

/* The seqs a topic's events got in this run, from the publishers' ACKs. */
struct topic_range {
    uint64_t first; /* 0: nothing published */
    uint64_t last;
    uint64_t count; /* ACKs; last - first + 1 unless someone else publishes too */
};

struct control {
    _Atomic int phase;
    /* Set before PHASE_RUN: */
    uint64_t run_start_ns;
    uint64_t window_start_ns; /* run_start + warmup */
    uint64_t window_end_ns;   /* window_start + duration: publishing stops */
    /* Set before PHASE_DRAIN: K entries. */
    const struct topic_range *published;
};

static inline int control_phase(struct control *ctl)
{
    return atomic_load_explicit(&ctl->phase, memory_order_acquire);
}

static inline void control_set_phase(struct control *ctl, int phase)
{
    atomic_store_explicit(&ctl->phase, phase, memory_order_release);
}

#endif
