/* tcp-floor: the latency floor of this machine's loopback TCP, for reading
 * ringcast-bench's latencies against (docs/BENCHMARKS.md, scenario B).
 *
 * A child process pinned to one CPU echoes 8-byte messages; the parent,
 * pinned to another, sends one, waits for the echo, and records the round
 * trip, with a pause between round trips. A round trip is two one-way
 * hops, like publisher -> server -> subscriber, with no server work at all:
 * what ringcast-bench measures can only be above it. With pauses the CPUs
 * go idle between messages, and each hop pays for waking one. */
#include <errno.h>
#include <getopt.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sched.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"

#define PROG "tcp-floor"
#define MESSAGE_LEN 8

struct options {
    unsigned count;
    unsigned gap_us;
    int echo_cpu, sender_cpu;
};

static void usage(FILE *f)
{
    fprintf(f, "Usage: " PROG " [OPTIONS]\n"
               "\n"
               "Measures loopback TCP round trips between two processes pinned to\n"
               "two CPUs, with a pause between round trips, and prints the\n"
               "percentiles (microseconds) as one line of JSON.\n"
               "\n"
               "  --count N        round trips (default 20000)\n"
               "  --gap US         pause before each round trip, in microseconds;\n"
               "                   0 sends the next one at once (default 1000)\n"
               "  --echo-cpu C     the echoing process's CPU (default 1)\n"
               "  --sender-cpu C   the measuring process's CPU (default 0)\n"
               "  -h, --help       this text\n");
}

static int parse_uint(const char *text, unsigned max, unsigned *out)
{
    char *end;
    errno = 0;
    unsigned long v = strtoul(text, &end, 10);
    if (errno != 0 || end == text || *end != '\0' || v > max)
        return -1;
    *out = (unsigned)v;
    return 0;
}

/* parse_options returns 0 to run, 1 after --help, or the usage status. */
static int parse_options(int argc, char **argv, struct options *o)
{
    static const struct option longs[] = {
        {"count", required_argument, NULL, 'n'},    {"gap", required_argument, NULL, 'g'},
        {"echo-cpu", required_argument, NULL, 'e'}, {"sender-cpu", required_argument, NULL, 's'},
        {"help", no_argument, NULL, 'h'},           {NULL, 0, NULL, 0},
    };
    *o = (struct options){.count = 20000, .gap_us = 1000, .echo_cpu = 1, .sender_cpu = 0};
    int opt;
    unsigned v;
    while ((opt = getopt_long(argc, argv, "h", longs, NULL)) != -1) {
        switch (opt) {
        case 'n':
            if (parse_uint(optarg, 100000000, &o->count) != 0 || o->count == 0)
                return cli_usage_error(PROG, "--count wants a number from 1");
            break;
        case 'g':
            if (parse_uint(optarg, 10000000, &o->gap_us) != 0)
                return cli_usage_error(PROG, "--gap wants microseconds (0 to 10000000)");
            break;
        case 'e':
        case 's':
            if (parse_uint(optarg, CPU_SETSIZE - 1, &v) != 0)
                return cli_usage_error(PROG, "--%s wants a CPU number",
                                       opt == 'e' ? "echo-cpu" : "sender-cpu");
            *(opt == 'e' ? &o->echo_cpu : &o->sender_cpu) = (int)v;
            break;
        case 'h':
            usage(stdout);
            return 1;
        default:
            return CLI_EXIT_USAGE;
        }
    }
    if (optind < argc)
        return cli_usage_error(PROG, "unexpected argument '%s'", argv[optind]);
    return 0;
}

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static int pin(int cpu)
{
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
    if (sched_setaffinity(0, sizeof(set), &set) != 0) {
        cli_error(PROG, "cannot pin to CPU %d: %s", cpu, strerror(errno));
        return -1;
    }
    return 0;
}

static void no_delay(int fd)
{
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
}

static bool exchange(int fd, char *buf)
{
    return send(fd, buf, MESSAGE_LEN, 0) == MESSAGE_LEN &&
           recv(fd, buf, MESSAGE_LEN, MSG_WAITALL) == MESSAGE_LEN;
}

/* echo serves one connection until it closes (the child's whole life). */
static void echo(int listener, int cpu)
{
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (pin(cpu) != 0)
        _exit(1);
    int fd = accept(listener, NULL, NULL);
    if (fd < 0)
        _exit(1);
    no_delay(fd);
    char buf[MESSAGE_LEN];
    while (recv(fd, buf, MESSAGE_LEN, MSG_WAITALL) == MESSAGE_LEN)
        if (send(fd, buf, MESSAGE_LEN, 0) != MESSAGE_LEN)
            break;
    _exit(0);
}

static int compare_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static double percentile_us(const uint64_t *sorted, unsigned n, double q)
{
    unsigned i = (unsigned)(q * (n - 1) + 0.5);
    return (double)sorted[i] / 1000.0;
}

/* measure runs the round trips over |fd| into |rtt_ns|; false on failure. */
static bool measure(int fd, const struct options *o, uint64_t *rtt_ns)
{
    char buf[MESSAGE_LEN] = "floor";
    struct timespec gap = {o->gap_us / 1000000, (long)(o->gap_us % 1000000) * 1000};
    for (unsigned i = 0; i < o->count; i++) {
        if (o->gap_us > 0)
            nanosleep(&gap, NULL);
        uint64_t start = now_ns();
        if (!exchange(fd, buf))
            return false;
        rtt_ns[i] = now_ns() - start;
    }
    return true;
}

static void report(const struct options *o, uint64_t *rtt_ns)
{
    qsort(rtt_ns, o->count, sizeof(*rtt_ns), compare_u64);
    printf("{\"count\":%u,\"gap_us\":%u,\"echo_cpu\":%d,\"sender_cpu\":%d,\"rtt_us\":{"
           "\"p50\":%.1f,\"p90\":%.1f,\"p99\":%.1f,\"p999\":%.1f,\"max\":%.1f}}\n",
           o->count, o->gap_us, o->echo_cpu, o->sender_cpu, percentile_us(rtt_ns, o->count, 0.5),
           percentile_us(rtt_ns, o->count, 0.9), percentile_us(rtt_ns, o->count, 0.99),
           percentile_us(rtt_ns, o->count, 0.999), percentile_us(rtt_ns, o->count, 1.0));
}

static int run(const struct options *o)
{
    int listener = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof(addr);
    if (listener < 0 || bind(listener, (struct sockaddr *)&addr, sizeof(addr)) != 0 ||
        listen(listener, 1) != 0 || getsockname(listener, (struct sockaddr *)&addr, &len) != 0) {
        cli_error(PROG, "cannot listen on loopback: %s", strerror(errno));
        return 1;
    }
    pid_t child = fork();
    if (child < 0) {
        cli_error(PROG, "fork: %s", strerror(errno));
        return 1;
    }
    if (child == 0)
        echo(listener, o->echo_cpu);
    close(listener);
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    uint64_t *rtt_ns = malloc(o->count * sizeof(*rtt_ns));
    bool ok = fd >= 0 && rtt_ns != NULL && pin(o->sender_cpu) == 0 &&
              connect(fd, (struct sockaddr *)&addr, sizeof(addr)) == 0;
    if (ok) {
        no_delay(fd);
        ok = measure(fd, o, rtt_ns);
    }
    if (!ok)
        cli_error(PROG, "round trips failed: %s", strerror(errno));
    else
        report(o, rtt_ns);
    if (fd >= 0)
        close(fd); /* the child sees EOF and exits */
    waitpid(child, NULL, 0);
    free(rtt_ns);
    return ok ? 0 : 1;
}

int main(int argc, char **argv)
{
    struct options o;
    int status = parse_options(argc, argv, &o);
    if (status != 0)
        return status == 1 ? 0 : status;
    return run(&o);
}
