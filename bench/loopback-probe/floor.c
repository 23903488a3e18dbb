/* floor.c: the latency floor of loopback TCP (probe.h). The peer echoes
 * 8-byte messages; the measuring side sends one after a pause, waits for
 * the echo and records the round trip. With pauses both CPUs go idle
 * between messages, and each hop pays for waking one (on a virtual
 * machine, a large part of the tail). */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "util/cli.h"
#include "probe.h"

#define MESSAGE_LEN 8

static void echo(int fd)
{
    char buf[MESSAGE_LEN];
    while (recv(fd, buf, MESSAGE_LEN, MSG_WAITALL) == MESSAGE_LEN)
        if (send(fd, buf, MESSAGE_LEN, 0) != MESSAGE_LEN)
            break;
}

/* measure runs the round trips over |fd| into |rtt_ns|; false on failure. */
static bool measure(int fd, const struct probe_options *o, uint64_t *rtt_ns)
{
    char buf[MESSAGE_LEN] = "floor";
    struct timespec gap = {o->gap_us / 1000000, (long)(o->gap_us % 1000000) * 1000};
    for (unsigned i = 0; i < o->count; i++) {
        if (o->gap_us > 0)
            nanosleep(&gap, NULL);
        uint64_t start = probe_now_ns();
        if (send(fd, buf, MESSAGE_LEN, 0) != MESSAGE_LEN ||
            recv(fd, buf, MESSAGE_LEN, MSG_WAITALL) != MESSAGE_LEN)
            return false;
        rtt_ns[i] = probe_now_ns() - start;
    }
    return true;
}

static int compare_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static double percentile_us(const uint64_t *sorted, unsigned n, double q)
{
    return (double)sorted[(unsigned)(q * (n - 1) + 0.5)] / 1000.0;
}

static void report(const struct probe_options *o, uint64_t *rtt_ns)
{
    qsort(rtt_ns, o->count, sizeof(*rtt_ns), compare_u64);
    printf("{\"probe\":\"floor\",\"count\":%u,\"gap_us\":%u,\"self_cpu\":%d,\"peer_cpu\":%d,"
           "\"rtt_us\":{\"p50\":%.1f,\"p90\":%.1f,\"p99\":%.1f,\"p999\":%.1f,\"max\":%.1f}}\n",
           o->count, o->gap_us, o->self_cpu, o->peer_cpu, percentile_us(rtt_ns, o->count, 0.5),
           percentile_us(rtt_ns, o->count, 0.9), percentile_us(rtt_ns, o->count, 0.99),
           percentile_us(rtt_ns, o->count, 0.999), percentile_us(rtt_ns, o->count, 1.0));
}

int probe_floor(const struct probe_options *o)
{
    int pid;
    uint64_t *rtt_ns = malloc(o->count * sizeof(*rtt_ns));
    int fd = rtt_ns ? peer_start(o->peer_cpu, echo, &pid) : -1;
    bool ok = fd >= 0 && measure(fd, o, rtt_ns);
    if (!ok)
        cli_error(PROG, "round trips failed: %s", strerror(errno));
    else
        report(o, rtt_ns);
    if (fd >= 0)
        peer_stop(fd, pid);
    free(rtt_ns);
    return ok ? 0 : 1;
}
