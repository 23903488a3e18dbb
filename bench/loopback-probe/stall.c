/* stall.c: how often this machine takes a CPU away from a running thread
 * (probe.h). One process per CPU (--self-cpu and --peer-cpu) reads the
 * clock in a tight loop for --seconds; a gap between two reads is time the
 * thread did not run: an interrupt, the kernel's own work, or on a virtual
 * machine the host running something else. It prints, per CPU, how many
 * gaps passed each threshold, and the share of the time at which work
 * arriving on that CPU would have waited longer than each threshold (the
 * sum over the gaps of what each lasted beyond it): the part of a latency
 * tail that no program on this machine can avoid. */
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "util/cli.h"
#include "probe.h"

#define THRESHOLDS 5
static const uint64_t threshold_us[THRESHOLDS] = {50, 100, 250, 500, 1000};

struct stall_counts {
    uint64_t gaps[THRESHOLDS];   /* gaps longer than each threshold */
    uint64_t beyond[THRESHOLDS]; /* their total length beyond it, ns */
    uint64_t max_ns;
};

static void count_gap(struct stall_counts *c, uint64_t gap_ns)
{
    for (int i = 0; i < THRESHOLDS; i++) {
        uint64_t limit_ns = threshold_us[i] * 1000;
        if (gap_ns <= limit_ns)
            break;
        c->gaps[i]++;
        c->beyond[i] += gap_ns - limit_ns;
    }
}

static void spin(unsigned seconds, struct stall_counts *c)
{
    uint64_t prev = probe_now_ns();
    uint64_t end = prev + (uint64_t)seconds * 1000000000u;
    for (uint64_t t = prev; t < end; prev = t) {
        t = probe_now_ns();
        if (t - prev > c->max_ns)
            c->max_ns = t - prev;
        if (t - prev > threshold_us[0] * 1000)
            count_gap(c, t - prev);
    }
}

static void report(int cpu, unsigned seconds, const struct stall_counts *c)
{
    double total_ns = (double)seconds * 1e9;
    printf("{\"probe\":\"stall\",\"cpu\":%d,\"seconds\":%u,\"max_us\":%.1f", cpu, seconds,
           (double)c->max_ns / 1000.0);
    for (int i = 0; i < THRESHOLDS; i++)
        printf(",\"over_%uus\":{\"gaps\":%llu,\"per_s\":%.1f,\"waits_longer_pct\":%.3f}",
               (unsigned)threshold_us[i], (unsigned long long)c->gaps[i],
               (double)c->gaps[i] / seconds, 100.0 * (double)c->beyond[i] / total_ns);
    printf("}\n");
    fflush(stdout);
}

static void measure_on(int cpu, unsigned seconds)
{
    struct stall_counts counts = {0};
    spin(seconds, &counts);
    report(cpu, seconds, &counts);
}

int probe_stall(const struct probe_options *o)
{
    fflush(stdout);
    pid_t child = fork();
    if (child < 0) {
        cli_error(PROG, "%s", "cannot start the second process");
        return 1;
    }
    if (child == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (probe_pin(o->peer_cpu) != 0)
            _exit(1);
        measure_on(o->peer_cpu, o->seconds);
        _exit(0);
    }
    measure_on(o->self_cpu, o->seconds);
    int status = 0;
    waitpid(child, &status, 0);
    bool ok = WIFEXITED(status) && WEXITSTATUS(status) == 0;
    if (!ok)
        cli_error(PROG, "the process on CPU %d failed", o->peer_cpu);
    return ok ? 0 : 1;
}
