/* probe.h: loopback-probe, measurements of this machine that
 * ringcast-bench's results are read against (bench/README.md,
 * docs/BENCHMARKS.md): "floor", the loopback TCP round-trip latency with no
 * server in between, "zerocopy", io_uring SEND against SEND_ZC, and
 * "stall", how often and how long the machine takes a CPU away from a
 * running thread. */
#ifndef PROBE_H
#define PROBE_H

#include <stdint.h>
#include <time.h>

#define PROG "loopback-probe"

struct probe_options {
    unsigned count;
    unsigned gap_us;  /* floor: pause before each round trip */
    unsigned size;    /* zerocopy: bytes per send */
    unsigned depth;   /* zerocopy: sends in flight */
    unsigned seconds; /* stall: how long to watch */
    int self_cpu;     /* the measuring process */
    int peer_cpu;     /* the echoing or reading process */
};

/* The peer runs |serve| on its end of the connection in a child process
 * pinned to |peer_cpu|; it ends when the parent closes its end or dies. */
typedef void (*peer_serve_fn)(int fd);

/* peer_start starts the peer and returns the parent's end of the
 * connection (TCP_NODELAY), or -1 with errno set. */
int peer_start(int peer_cpu, peer_serve_fn serve, int *out_pid);

/* peer_stop closes |fd| and waits for the peer. */
void peer_stop(int fd, int pid);

/* probe_now_ns reads CLOCK_MONOTONIC in nanoseconds. */
static inline uint64_t probe_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* probe_pin pins the calling process to |cpu|. Returns 0 or -1. */
int probe_pin(int cpu);

/* The probes print one JSON line per result; they return the exit status. */
int probe_floor(const struct probe_options *o);
int probe_zerocopy(const struct probe_options *o);
int probe_stall(const struct probe_options *o);

#endif
