/* ringcast-bench: a load generator for ringcast (see bench/README.md and
 * --help). main runs the phases of a run (control.h): it starts the
 * subscriber threads (sub.c) and waits until they are subscribed, starts
 * the publishers (pub.c), takes CPU readings at the start and the end of
 * the measured window, waits for the last events to arrive, tells the
 * subscribers to close, and reports (report.c). */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "util/cli.h"
#include "clock.h"
#include "config.h"
#include "control.h"
#include "procstat.h"
#include "pub.h"
#include "recvbuf.h"
#include "report.h"
#include "sub.h"

#define FDS_RESERVED 64 /* stdio, io_uring rings, the publishers, and some slack */
#define POLL_NS (5 * NS_PER_MS)
#define STATUS_INTERVAL_NS NS_PER_SEC

struct bench {
    struct config cfg;
    struct control ctl;
    struct sub_thread *subs;
    struct pub_thread *pubs;
    struct topic_range *published;
    struct report rep;
    struct procstat server_before, server_start, server_end;
    bool server_ok, server_before_ok;
    uint64_t self_cpu_start, self_cpu_end;
    /* the status line */
    uint64_t phase_start_ns, last_status_ns;
    uint64_t last_deliveries, last_acked, last_receives;
};

/* The kernel's IORING_MAX_FIXED_FILES: no file table is larger. */
#define MAX_FILE_TABLE (1u << 20)

/* conns_per_thread is the most connections a thread gets (connection i
 * is thread i % T's): its file table's size with fixed files. */
static uint32_t conns_per_thread(const struct config *cfg)
{
    return (cfg->connections + cfg->threads - 1) / cfg->threads;
}

/* fds_needed is how many descriptors the run holds at most: one per
 * connection, or with fixed files only those of the setups in flight (a
 * thread's --connect-concurrency) and each thread's ring. */
static rlim_t fds_needed(const struct config *cfg)
{
    rlim_t others = (rlim_t)cfg->publishers + FDS_RESERVED;

    if (!cfg->fixed_files)
        return others + cfg->connections;
    uint32_t per_thread = conns_per_thread(cfg);
    uint32_t in_setup =
        cfg->connect_concurrency < per_thread ? cfg->connect_concurrency : per_thread;
    return others + (rlim_t)cfg->threads * (in_setup + 1);
}

/* choose_fixed_files decides whether the subscribers use fixed files:
 * with auto, only when the connections do not fit in the hard limit as
 * descriptors, so that runs that fit stay as they were. */
static int choose_fixed_files(struct config *cfg, rlim_t hard)
{
    char why[200];

    cfg->fixed_files = false;
    if (cfg->fixed_files_mode == FIXED_FILES_OFF)
        return 0;
    if (cfg->fixed_files_mode == FIXED_FILES_AUTO &&
        (hard == RLIM_INFINITY || fds_needed(cfg) <= hard))
        return 0;
    if (!sub_probe_fixed_files(why, sizeof(why))) {
        if (cfg->fixed_files_mode == FIXED_FILES_ON) {
            cli_error(PROG, "--fixed-files on: this kernel cannot: %s", why);
            return -1;
        }
        cli_error(PROG, "note: %s; not using fixed files", why);
        return 0;
    }
    cfg->fixed_files = true;
    return 0;
}

/* refuse_fds says that the run needs |need| descriptors over the hard
 * limit, and what to do about it. */
static void refuse_fds(const struct config *cfg, rlim_t need, rlim_t hard)
{
    if (cfg->fixed_files) {
        cli_error(PROG,
                  "with fixed files, %u threads x %u connection setups in flight "
                  "(--connect-concurrency) need %llu file descriptors in all, but the hard "
                  "limit (RLIMIT_NOFILE) is %llu: lower --connect-concurrency or --threads",
                  cfg->threads, cfg->connect_concurrency, (unsigned long long)need,
                  (unsigned long long)hard);
        return;
    }
    unsigned long long fit = hard > (rlim_t)cfg->publishers + FDS_RESERVED
                                 ? (unsigned long long)(hard - cfg->publishers - FDS_RESERVED)
                                 : 0;
    cli_error(PROG,
              "%u connections need %llu file descriptors, but the hard limit "
              "(RLIMIT_NOFILE) is %llu, so at most %llu connections fit: raise the hard "
              "limit (ulimit -Hn as root, LimitNOFILE= for a systemd unit, "
              "/etc/security/limits.conf), use fewer connections%s",
              cfg->connections, (unsigned long long)need, (unsigned long long)hard, fit,
              cfg->fixed_files_mode == FIXED_FILES_OFF
                  ? ", or drop --fixed-files off (fixed files need far fewer)"
                  : "");
}

/* table_fits checks that a thread's connections fit in its file table,
 * which the kernel keeps within RLIMIT_NOFILE. */
static bool table_fits(const struct config *cfg, rlim_t hard)
{
    rlim_t max_table = hard == RLIM_INFINITY || hard > MAX_FILE_TABLE ? MAX_FILE_TABLE : hard;
    uint32_t per_thread = conns_per_thread(cfg);

    if (per_thread <= max_table)
        return true;
    unsigned long long threads = (cfg->connections + max_table - 1) / max_table;
    cli_error(PROG,
              "%u connections on %u thread%s put %u on one thread, but with fixed files a "
              "thread holds at most %llu (an io_uring file table is limited by the hard "
              "RLIMIT_NOFILE): use --threads %llu or more",
              cfg->connections, cfg->threads, cfg->threads == 1 ? "" : "s", per_thread,
              (unsigned long long)max_table, threads);
    return false;
}

/* raise_nofile decides --fixed-files, raises the soft open-file limit to
 * the hard one, and says so when the connections cannot fit even then. */
static int raise_nofile(struct config *cfg)
{
    struct rlimit rl;

    if (getrlimit(RLIMIT_NOFILE, &rl) != 0) {
        cli_error(PROG, "getrlimit(RLIMIT_NOFILE): %s", strerror(errno));
        return -1;
    }
    if (choose_fixed_files(cfg, rl.rlim_max) < 0)
        return -1;
    if (cfg->fixed_files && !table_fits(cfg, rl.rlim_max))
        return -1;
    rlim_t need = fds_needed(cfg);
    if (rl.rlim_max != RLIM_INFINITY && need > rl.rlim_max) {
        refuse_fds(cfg, need, rl.rlim_max);
        return -1;
    }
    /* A file table may not be larger than the soft limit. */
    if (cfg->fixed_files && need < conns_per_thread(cfg))
        need = conns_per_thread(cfg);
    rlim_t want = rl.rlim_max == RLIM_INFINITY ? need : rl.rlim_max;
    if (rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < want) {
        rl.rlim_cur = want;
        if (setrlimit(RLIMIT_NOFILE, &rl) != 0) {
            cli_error(PROG, "setrlimit(RLIMIT_NOFILE, %llu): %s", (unsigned long long)want,
                      strerror(errno));
            return -1;
        }
    }
    return 0;
}

/* sum_* add up the subscriber threads' progress. */
static uint64_t sum_deliveries(const struct bench *b)
{
    uint64_t n = 0;
    for (uint32_t i = 0; i < b->cfg.threads; i++)
        n += atomic_load_explicit(&b->subs[i].progress.deliveries, memory_order_relaxed);
    return n;
}

static uint64_t sum_receives(const struct bench *b)
{
    uint64_t n = 0;
    for (uint32_t i = 0; i < b->cfg.threads; i++)
        n += atomic_load_explicit(&b->subs[i].progress.receives, memory_order_relaxed);
    return n;
}

static uint32_t sum_ready(const struct bench *b, uint32_t *out_failed, uint32_t *out_closed)
{
    uint32_t ready = 0, failed = 0, closed = 0;
    for (uint32_t i = 0; i < b->cfg.threads; i++) {
        ready += atomic_load_explicit(&b->subs[i].progress.ready, memory_order_relaxed);
        failed += atomic_load_explicit(&b->subs[i].progress.failed, memory_order_relaxed);
        closed += atomic_load_explicit(&b->subs[i].progress.closed, memory_order_relaxed);
    }
    *out_failed = failed;
    *out_closed = closed;
    return ready;
}

static uint64_t sum_acked(const struct bench *b)
{
    uint64_t n = 0;
    for (uint32_t i = 0; i < b->cfg.publishers; i++)
        n += atomic_load_explicit(&b->pubs[i].acked_progress, memory_order_relaxed);
    return n;
}

/* status updates the status line once a second, on a terminal only. */
static void status(struct bench *b, const char *phase, uint64_t now)
{
    if (!b->cfg.progress || now - b->last_status_ns < STATUS_INTERVAL_NS)
        return;
    double dt = (double)(now - b->last_status_ns) / 1e9;
    uint64_t deliveries = sum_deliveries(b), acked = sum_acked(b), receives = sum_receives(b);
    uint32_t failed, closed, ready = sum_ready(b, &failed, &closed);
    if (b->last_status_ns != 0)
        report_status(phase, (double)(now - b->phase_start_ns) / 1e9, ready, b->cfg.connections,
                      (double)(deliveries - b->last_deliveries) / dt,
                      (double)(acked - b->last_acked) / dt,
                      (double)(receives - b->last_receives) / dt, closed);
    b->last_status_ns = now;
    b->last_deliveries = deliveries;
    b->last_acked = acked;
    b->last_receives = receives;
}

static void nap(uint64_t ns)
{
    struct timespec ts = clock_timespec(ns);
    nanosleep(&ts, NULL);
}

/* wait_until waits until |deadline| with the status line going. */
static void wait_until(struct bench *b, const char *phase, uint64_t deadline)
{
    for (uint64_t now = clock_now_ns(); now < deadline; now = clock_now_ns()) {
        status(b, phase, now);
        nap(deadline - now < POLL_NS ? deadline - now : POLL_NS);
    }
}

static bool all_subs(const struct bench *b, bool drained)
{
    for (uint32_t i = 0; i < b->cfg.threads; i++) {
        const struct sub_progress *p = &b->subs[i].progress;
        if (!atomic_load_explicit(drained ? &p->drained : &p->setup_done, memory_order_relaxed))
            return false;
    }
    return true;
}

/* wait_subs waits until every thread is set up (or drained), at most
 * until |deadline| (0: no limit, the connections' own timeouts bound it). */
static bool wait_subs(struct bench *b, const char *phase, bool drained, uint64_t deadline)
{
    for (;;) {
        uint64_t now = clock_now_ns();
        if (all_subs(b, drained))
            return true;
        if (deadline != 0 && now >= deadline)
            return false;
        status(b, phase, now);
        nap(POLL_NS);
    }
}

static void begin_phase(struct bench *b, int phase)
{
    b->phase_start_ns = clock_now_ns();
    control_set_phase(&b->ctl, phase);
}

/* connect_publishers connects every publisher before any subscriber, so
 * a wrong --publish-addr fails at once. */
static int connect_publishers(struct bench *b)
{
    for (uint32_t i = 0; i < b->cfg.publishers; i++) {
        if (pub_connect(&b->pubs[i], &b->cfg, &b->ctl, i) < 0) {
            cli_error(PROG, "%s", b->pubs[i].first_error);
            return -1;
        }
    }
    return 0;
}

/* read_server sums the procstat of every --server-pid; false when one
 * cannot be read (or none is given). */
static bool read_server(const struct config *cfg, struct procstat *out)
{
    memset(out, 0, sizeof(*out));
    for (uint32_t i = 0; i < cfg->num_server_pids; i++) {
        struct procstat one;
        if (!procstat_read(cfg->server_pids[i], &one))
            return false;
        out->cpu_ns += one.cpu_ns;
        out->rss_kib += one.rss_kib;
    }
    return cfg->num_server_pids > 0;
}

/* run_window publishes through warmup and the measured window, reading
 * the CPU clocks at both ends of the window. */
static void run_window(struct bench *b)
{
    struct control *ctl = &b->ctl;
    const struct config *cfg = &b->cfg;

    ctl->run_start_ns = clock_now_ns();
    ctl->window_start_ns = ctl->run_start_ns + cfg->warmup_ns;
    ctl->window_end_ns = ctl->window_start_ns + cfg->duration_ns;
    begin_phase(b, PHASE_RUN);
    for (uint32_t i = 0; i < cfg->publishers; i++)
        if (pub_start(&b->pubs[i]) < 0)
            cli_error(PROG, "%s", b->pubs[i].first_error);
    wait_until(b, "warmup", ctl->window_start_ns);
    b->phase_start_ns = ctl->window_start_ns;
    b->self_cpu_start = procstat_self_cpu_ns();
    b->server_ok = read_server(cfg, &b->server_start);
    wait_until(b, "measuring", ctl->window_end_ns);
    b->self_cpu_end = procstat_self_cpu_ns();
    if (b->server_ok)
        b->server_ok = read_server(cfg, &b->server_end);
    for (uint32_t i = 0; i < cfg->publishers; i++)
        pub_join(&b->pubs[i]);
}

/* merge_published combines the publishers' seq ranges per topic. */
static void merge_published(struct bench *b)
{
    for (uint32_t i = 0; i < b->cfg.publishers; i++) {
        const struct pub_thread *p = &b->pubs[i];
        for (uint32_t k = 0; k < b->cfg.topics.count; k++) {
            const struct topic_range *from = &p->published[k];
            struct topic_range *to = &b->published[k];
            if (from->first == 0)
                continue;
            if (to->first == 0 || from->first < to->first)
                to->first = from->first;
            if (from->last > to->last)
                to->last = from->last;
            to->count += from->count;
        }
    }
}

static void gather_subs(struct bench *b)
{
    struct report *r = &b->rep;

    for (uint32_t i = 0; i < b->cfg.threads; i++) {
        const struct sub_results *s = &b->subs[i].res;
        hist_merge(r->latency, s->latency);
        r->deliveries += s->deliveries_win;
        r->receives += s->receives_win;
        r->recv_bytes += s->bytes_win;
        r->deliveries_total += s->deliveries;
        r->expected_deliveries += s->expected;
        r->counts.lost += s->counts.lost;
        r->counts.duplicated += s->counts.duplicated;
        r->counts.reordered += s->counts.reordered;
        r->after_close.lost += s->after_close.lost;
        r->slow_closes += s->slow_closes;
        r->other_closes += s->other_closes;
        r->unclean_closes += s->unclean_closes;
        r->truncated += s->truncated;
        r->unparsed += s->unparsed;
        r->foreign += s->foreign;
        r->misrouted += s->misrouted;
        r->sub_cpu_s[i] = (double)cpu_window_ns(&s->cpu) / 1e9;
        if (s->first_error[0] != '\0' && r->sub_error[0] == '\0')
            snprintf(r->sub_error, sizeof(r->sub_error), "%s", s->first_error);
    }
    if (r->connect_failures > 0)
        snprintf(r->connect_error, sizeof(r->connect_error), "%s", r->sub_error);
}

static void gather_pubs(struct bench *b)
{
    struct report *r = &b->rep;

    for (uint32_t i = 0; i < b->cfg.publishers; i++) {
        const struct pub_thread *p = &b->pubs[i];
        r->publishes += p->acked_in_window;
        r->publishes_total += p->acked;
        r->sent_total += p->sent;
        r->publish_errors += p->nacked;
        hist_merge(r->late, p->late);
        r->pub_cpu_s[i] = (double)cpu_window_ns(&p->cpu) / 1e9;
        if (p->first_error[0] != '\0' && r->publish_error[0] == '\0')
            snprintf(r->publish_error, sizeof(r->publish_error), "%s", p->first_error);
    }
}

static int report(struct bench *b)
{
    struct report *r = &b->rep;
    const struct config *cfg = &b->cfg;

    gather_pubs(b);
    gather_subs(b);
    r->client_cpu_s = (double)(b->self_cpu_end - b->self_cpu_start) / 1e9;
    r->server_stats = b->server_ok;
    if (b->server_ok) {
        r->server_cpu_s = (double)(b->server_end.cpu_ns - b->server_start.cpu_ns) / 1e9;
        r->server_rss_kib = b->server_end.rss_kib;
        r->server_rss_before_kib = b->server_before_ok ? b->server_before.rss_kib : 0;
    } else if (cfg->num_server_pids != 0 && r->connected > 0) {
        cli_error(PROG, "cannot read /proc/PID of --server-pid: the server's CPU time is not "
                        "reported");
    }
    bool ok = report_judge(r);
    if (cfg->progress)
        report_status_clear();
    if (!cfg->json_only)
        report_table(stdout, r);
    if (report_json(stdout, r) < 0)
        cli_error(PROG, "out of memory for the report");
    if (fflush(stdout) != 0) {
        cli_error(PROG, "writing the report: %s", strerror(errno));
        ok = false;
    }
    return ok ? EXIT_OK : EXIT_FAILED;
}

static int run(struct bench *b)
{
    struct config *cfg = &b->cfg;
    struct report *r = &b->rep;

    if (connect_publishers(b) < 0)
        return EXIT_FAILED;
    b->server_before_ok = read_server(cfg, &b->server_before);
    uint64_t setup_start = clock_now_ns();
    b->phase_start_ns = setup_start;
    for (uint32_t i = 0; i < cfg->threads; i++) {
        if (sub_start(&b->subs[i], cfg, &b->ctl, i) < 0) {
            cli_error(PROG, "%s", b->subs[i].res.first_error);
            begin_phase(b, PHASE_CLOSE);
            for (uint32_t j = 0; j < i; j++)
                sub_join(&b->subs[j]);
            return EXIT_FAILED;
        }
    }
    wait_subs(b, "connecting", false, 0);
    r->setup_s = (double)(clock_now_ns() - setup_start) / 1e9;
    uint32_t closed;
    r->connected = sum_ready(b, &r->connect_failures, &closed);
    if (r->connected > 0) {
        run_window(b);
        merge_published(b);
        b->ctl.published = b->published;
        begin_phase(b, PHASE_DRAIN);
        uint64_t drain_start = clock_now_ns();
        r->drained = wait_subs(b, "draining", true, drain_start + cfg->drain_ns);
        r->drain_s = (double)(clock_now_ns() - drain_start) / 1e9;
    }
    r->window_s = (double)cfg->duration_ns / 1e9;
    begin_phase(b, PHASE_CLOSE);
    for (uint32_t i = 0; i < cfg->threads; i++) {
        sub_join(&b->subs[i]);
        r->tls_resumed += b->subs[i].res.tls_resumed;
    }
    return report(b);
}

static int bench_init(struct bench *b)
{
    const struct config *cfg = &b->cfg;
    struct report *r = &b->rep;

    atomic_init(&b->ctl.phase, PHASE_SETUP);
    b->subs = calloc(cfg->threads, sizeof(*b->subs));
    b->pubs = calloc(cfg->publishers, sizeof(*b->pubs));
    b->published = calloc(cfg->topics.count, sizeof(*b->published));
    r->cfg = cfg;
    r->recv_mode = cfg->no_multishot ? "plain" : "multishot";
    r->latency = malloc(sizeof(*r->latency));
    r->late = malloc(sizeof(*r->late));
    r->sub_cpu_s = calloc(cfg->threads, sizeof(double));
    r->pub_cpu_s = calloc(cfg->publishers, sizeof(double));
    if (b->subs == NULL || b->pubs == NULL || b->published == NULL || r->latency == NULL ||
        r->late == NULL || r->sub_cpu_s == NULL || r->pub_cpu_s == NULL) {
        cli_error(PROG, "out of memory");
        return -1;
    }
    hist_init(r->latency);
    hist_init(r->late);
    return 0;
}

static void bench_free(struct bench *b)
{
    for (uint32_t i = 0; b->subs != NULL && i < b->cfg.threads; i++)
        sub_free(&b->subs[i]);
    for (uint32_t i = 0; b->pubs != NULL && i < b->cfg.publishers; i++)
        pub_free(&b->pubs[i]);
    free(b->subs);
    free(b->pubs);
    free(b->published);
    free(b->rep.latency);
    free(b->rep.late);
    free(b->rep.sub_cpu_s);
    free(b->rep.pub_cpu_s);
    flags_free(&b->cfg);
}

int main(int argc, char **argv)
{
    struct bench *b = calloc(1, sizeof(*b)); /* threads get pointers into it */
    char why[200];

    if (b == NULL) {
        cli_error(PROG, "out of memory");
        return EXIT_FAILED;
    }
    int status = flags_parse(&b->cfg, argc, argv);
    if (status < 0 && raise_nofile(&b->cfg) < 0)
        status = EXIT_FAILED;
    if (status < 0) {
        signal(SIGPIPE, SIG_IGN);
        /* Wake the publishers on time: the default 50 us of timer slack
         * would count as latency (threads inherit it). */
        prctl(PR_SET_TIMERSLACK, 1UL, 0UL, 0UL, 0UL);
        if (!b->cfg.no_multishot && !recvbuf_probe_multishot(why, sizeof(why))) {
            cli_error(PROG, "note: %s; using plain receives", why);
            b->cfg.no_multishot = true;
        }
        status = bench_init(b) < 0 ? EXIT_FAILED : run(b);
    }
    bench_free(b);
    free(b);
    return status;
}
