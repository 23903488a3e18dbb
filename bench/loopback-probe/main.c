/* loopback-probe: see probe.h and --help. */
#include <getopt.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>

#include "util/cli.h"
#include "probe.h"

static void usage(FILE *f)
{
    fprintf(f, "Usage: " PROG " floor|zerocopy|stall [OPTIONS]\n"
               "\n"
               "Measures this machine with two processes pinned to two CPUs, for reading\n"
               "ringcast-bench's results against. Prints JSON lines.\n"
               "\n"
               "  floor      round trips of 8 bytes, each after a pause; the peer echoes.\n"
               "             A round trip is two one-way hops with no work between them,\n"
               "             like publisher -> server -> subscriber: the latency floor.\n"
               "             Prints the percentiles in microseconds.\n"
               "  zerocopy   frames sent with io_uring SEND, then with SEND_ZC; the peer\n"
               "             reads and discards. Prints per mode the wall time, MiB/s, the\n"
               "             sender's CPU time per send, and for SEND_ZC how many sends the\n"
               "             kernel reported as copied anyway (Linux 6.2 or later).\n"
               "  stall      both processes read the clock in a tight loop; a gap between\n"
               "             two reads is time the CPU was taken away (interrupts, the\n"
               "             kernel, on a virtual machine the host). Prints per CPU the\n"
               "             gaps over 50, 100, 250, 500 and 1000 us (count, per second)\n"
               "             and waits_longer_pct: the share of the time at which work\n"
               "             arriving on that CPU would have waited longer than that.\n"
               "\n"
               "  --count N     round trips or sends (default 20000 floor, 200000 zerocopy)\n"
               "  --gap US      floor: pause before each round trip, in microseconds; 0\n"
               "                sends the next at once (default 1000)\n"
               "  --size BYTES  zerocopy: bytes per send (default 16384)\n"
               "  --depth N     zerocopy: sends in flight (default 32)\n"
               "  --seconds N   stall: how long to watch (default 10)\n"
               "  --self-cpu C  the measuring process's CPU (default 0)\n"
               "  --peer-cpu C  the peer's CPU (default 1)\n"
               "  -h, --help    this text\n");
}

/* number stores a number from |min| to |max|; 0, or the usage status
 * after |complaint|. */
static int number(const char *arg, unsigned min, unsigned max, unsigned *out, const char *complaint)
{
    return cli_parse_uint(arg, min, max, out) == 0 ? 0 : cli_usage_error(PROG, "%s", complaint);
}

/* set_option stores one option; 0 or the usage status. */
static int set_option(int opt, const char *arg, struct probe_options *o)
{
    unsigned cpu;
    switch (opt) {
    case 'n':
        return number(arg, 1, 100000000, &o->count, "--count wants 1 to 100000000");
    case 'g':
        return number(arg, 0, 10000000, &o->gap_us, "--gap wants microseconds (0 to 10000000)");
    case 's':
        return number(arg, 1, 1u << 20, &o->size, "--size wants 1 to 1048576 bytes");
    case 'd':
        return number(arg, 1, 1024, &o->depth, "--depth wants 1 to 1024");
    case 't':
        return number(arg, 1, 3600, &o->seconds, "--seconds wants 1 to 3600");
    default: /* the CPUs */
        if (cli_parse_uint(arg, 0, CPU_SETSIZE - 1, &cpu) != 0)
            return cli_usage_error(PROG, "--%s-cpu wants a CPU number",
                                   opt == 'S' ? "self" : "peer");
        *(opt == 'S' ? &o->self_cpu : &o->peer_cpu) = (int)cpu;
        return 0;
    }
}

/* parse_options returns 0 to run, 1 after --help, or the usage status. */
static int parse_options(int argc, char **argv, struct probe_options *o, const char **probe)
{
    static const struct option longs[] = {
        {"count", required_argument, NULL, 'n'},
        {"gap", required_argument, NULL, 'g'},
        {"size", required_argument, NULL, 's'},
        {"depth", required_argument, NULL, 'd'},
        {"self-cpu", required_argument, NULL, 'S'},
        {"peer-cpu", required_argument, NULL, 'P'},
        {"seconds", required_argument, NULL, 't'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    *o = (struct probe_options){
        .gap_us = 1000, .size = 16384, .depth = 32, .seconds = 10, .peer_cpu = 1};
    int opt, status;
    while ((opt = getopt_long(argc, argv, "h", longs, NULL)) != -1) {
        if (opt == 'h') {
            usage(stdout);
            return 1;
        }
        if (opt == '?')
            return CLI_EXIT_USAGE;
        if ((status = set_option(opt, optarg, o)) != 0)
            return status;
    }
    if (optind >= argc)
        return cli_usage_error(PROG, "which probe: floor, zerocopy or stall?");
    *probe = argv[optind];
    if (strcmp(*probe, "floor") != 0 && strcmp(*probe, "zerocopy") != 0 &&
        strcmp(*probe, "stall") != 0)
        return cli_usage_error(PROG, "unknown probe '%s'", *probe);
    if (o->count == 0)
        o->count = strcmp(*probe, "floor") == 0 ? 20000 : 200000;
    return cli_no_operands(PROG, argc, argv, optind + 1);
}

int main(int argc, char **argv)
{
    struct probe_options o;
    const char *probe = NULL;
    int status = parse_options(argc, argv, &o, &probe);
    if (status != 0)
        return status == 1 ? 0 : status;
    if (probe_pin(o.self_cpu) != 0) {
        cli_error(PROG, "cannot pin to CPU %d", o.self_cpu);
        return 1;
    }
    if (strcmp(probe, "stall") == 0)
        return probe_stall(&o);
    return strcmp(probe, "floor") == 0 ? probe_floor(&o) : probe_zerocopy(&o);
}
