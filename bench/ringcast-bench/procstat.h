/* procstat.h: CPU time and memory of a process, from /proc, for
 * --server-pid: the server's share of a run is what tells whether it or
 * the generator was the bottleneck. */
#ifndef BENCH_PROCSTAT_H
#define BENCH_PROCSTAT_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

struct procstat {
    uint64_t cpu_ns;  /* utime + stime, all threads */
    uint64_t rss_kib; /* VmRSS */
};

/* procstat_read reads /proc/|pid|/stat and /proc/|pid|/status. Returns
 * false when the process is gone or the files cannot be read. */
bool procstat_read(pid_t pid, struct procstat *out);

/* procstat_self_cpu_ns returns this process's CPU time (getrusage: user +
 * system, all threads). */
uint64_t procstat_self_cpu_ns(void);

/* The CPU time a thread used in the measured window: each thread calls
 * cpu_window_tick from its loop, which reads its own clock when it first
 * sees a time at or past the window's start, and again past its end. */
struct cpu_window {
    uint64_t at_start_ns, at_end_ns;
    bool started, ended;
};

/* cpu_window_tick advances |w| given the time |now_ns| and the window. */
void cpu_window_tick(struct cpu_window *w, uint64_t now_ns, uint64_t start_ns, uint64_t end_ns);

/* cpu_window_ns returns the CPU time used in the window (0 when the thread
 * never saw its end). */
uint64_t cpu_window_ns(const struct cpu_window *w);

#endif
