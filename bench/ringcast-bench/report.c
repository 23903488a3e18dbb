/* report.c: the verdict, the table, the JSON line and the status line
 * (see report.h). */
#include "report.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#define PERCENTILES 5
static const double pct_values[PERCENTILES] = {50, 90, 99, 99.9, 100};
static const char *const pct_names[PERCENTILES] = {"p50", "p90", "p99", "p999", "max"};

static void add_failure(struct report *r, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void add_failure(struct report *r, const char *fmt, ...)
{
    va_list ap;

    if (r->num_failures == REPORT_MAX_FAILURES)
        return;
    char *text = r->failure_text[r->num_failures];
    va_start(ap, fmt);
    vsnprintf(text, sizeof(r->failure_text[0]), fmt, ap);
    va_end(ap);
    r->failures[r->num_failures++] = text;
}

bool report_judge(struct report *r)
{
    uint64_t missed_after_close = r->after_close.lost;

    r->num_failures = 0;
    if (r->connect_failures > 0)
        add_failure(r, "%u of %u connections failed (%s)", r->connect_failures, r->cfg->connections,
                    r->connect_error);
    if (r->publish_errors > 0)
        add_failure(r, "%" PRIu64 " publishes failed (%s)", r->publish_errors, r->publish_error);
    else if (r->publish_error[0] != '\0')
        add_failure(r, "a publisher failed: %s", r->publish_error);
    if (r->counts.lost > 0 || r->counts.duplicated > 0 || r->counts.reordered > 0)
        add_failure(r,
                    "%" PRIu64 " events lost, %" PRIu64 " duplicated, %" PRIu64 " out of order%s",
                    r->counts.lost, r->counts.duplicated, r->counts.reordered,
                    r->drained ? "" : " (still missing after --drain)");
    if (r->slow_closes > 0)
        add_failure(r,
                    "the server closed %u connections as slow consumers (code 4001); the %" PRIu64
                    " events they missed are not counted as lost: they fell more than the server's "
                    "--max-queued-bytes behind",
                    r->slow_closes, missed_after_close);
    if (r->other_closes > 0)
        add_failure(r, "%u connections were lost while subscribed (%s)", r->other_closes,
                    r->sub_error[0] ? r->sub_error : "closed by the server");
    if (r->misrouted > 0)
        add_failure(r, "%" PRIu64 " events arrived on connections not subscribed to their topic",
                    r->misrouted);
    if (r->unparsed > 0)
        add_failure(r, "%" PRIu64 " events without a readable seq, send time or payload",
                    r->unparsed);
    if (r->publishes_total > 0 && r->deliveries_total == 0 && r->connected > 0)
        add_failure(r, "nothing was delivered");
    if (r->publishes_total == 0 && r->connected > 0)
        add_failure(r, "nothing was published");
    return r->num_failures == 0;
}

static double per_s(uint64_t n, double s)
{
    return s > 0 ? (double)n / s : 0;
}

static double pct_of(double cpu_s, double window_s)
{
    return window_s > 0 ? 100.0 * cpu_s / window_s : 0;
}

static double us(uint64_t ns)
{
    return (double)ns / 1000.0;
}

/* print_percentiles prints one table line of |h|'s percentiles. */
static void print_percentiles(FILE *out, const char *label, const struct hist *h)
{
    fprintf(out, "  %-12s", label);
    for (int i = 0; i < PERCENTILES; i++)
        fprintf(out, " %s %.1f us%s", pct_names[i], us(hist_percentile(h, pct_values[i])),
                i + 1 < PERCENTILES ? "," : "");
    fprintf(out, " (%" PRIu64 " samples)\n", h->count);
}

/* rounded keeps |decimals| decimals, for JSON numbers a person can read. */
static json_t *rounded(double v, int decimals)
{
    double scale = 1;

    while (decimals-- > 0)
        scale *= 10;
    double scaled = v * scale;
    /* rounding half away from zero, without libm; the values are far below 2^63 */
    int64_t whole = (int64_t)(scaled >= 0 ? scaled + 0.5 : scaled - 0.5);
    return json_real((double)whole / scale);
}

static json_t *u64(uint64_t v)
{
    return json_integer((json_int_t)v);
}

static const char *mode_text(const struct config *cfg, char *buf, size_t len)
{
    if (cfg->rate > 0)
        snprintf(buf, len, "open loop, %.0f events/s", cfg->rate);
    else
        snprintf(buf, len, "closed loop, window %u", cfg->window);
    return buf;
}

void report_table(FILE *out, const struct report *r)
{
    const struct config *cfg = r->cfg;
    char mode[64];
    double w = r->window_s;

    fprintf(out, PROG ": %s%s, %u connections on %u topic%s",
            cfg->target == TARGET_NCHAN  ? "nchan, "
            : cfg->target == TARGET_NATS ? "nats, "
                                         : "",
            cfg->protocol == PROTO_WS ? "WebSocket" : "SSE", cfg->connections, cfg->topics.count,
            cfg->topics.count == 1 ? "" : "s");
    if (cfg->topics.pattern_share > 0)
        fprintf(out, " (%.0f%% on pattern \"%s\")", 100 * cfg->topics.pattern_share,
                cfg->topics.pattern);
    fprintf(out, "; %u %s publisher%s, %s; %u-byte payloads\n", cfg->publishers,
            cfg->http_publish ? "HTTP" : "binary", cfg->publishers == 1 ? "" : "s",
            mode_text(cfg, mode, sizeof(mode)), cfg->size);
    fprintf(out,
            "  %-12s %u subscribed, %u failed in %.2f s (%.0f connections/s); %u thread%s, %s "
            "receives%s\n",
            "setup", r->connected, r->connect_failures, r->setup_s, per_s(r->connected, r->setup_s),
            cfg->threads, cfg->threads == 1 ? "" : "s", r->recv_mode,
            cfg->fixed_files ? ", fixed files" : "");
    if (r->connected == 0)
        goto verdict;
    fprintf(out, "  %-12s %.2f s after %.2f s of warmup\n", "window", w,
            (double)cfg->warmup_ns / 1e9);
    fprintf(out, "  %-12s %.0f/s (%" PRIu64 " acknowledged)", "publishes", per_s(r->publishes, w),
            r->publishes);
    fprintf(out, "\n");
    if (cfg->rate > 0)
        print_percentiles(out, "sent late", r->late);
    fprintf(out, "  %-12s %.0f/s (%" PRIu64 ")\n", "deliveries", per_s(r->deliveries, w),
            r->deliveries);
    fprintf(out, "  %-12s %.0f/s, %.1f deliveries and %.1f KiB per receive, %.1f MiB/s\n",
            "receives", per_s(r->receives, w),
            r->receives ? (double)r->deliveries / (double)r->receives : 0,
            r->receives ? (double)r->recv_bytes / 1024.0 / (double)r->receives : 0,
            per_s(r->recv_bytes, w) / 1048576.0);
    print_percentiles(out, "latency", r->latency);
    fprintf(out,
            "  %-12s lost %" PRIu64 ", duplicated %" PRIu64 ", reordered %" PRIu64 "; %" PRIu64
            " delivered of %" PRIu64 " expected over the run\n",
            "checks", r->counts.lost, r->counts.duplicated, r->counts.reordered,
            r->deliveries_total, r->expected_deliveries);
    if (r->slow_closes || r->other_closes)
        fprintf(out,
                "  %-12s %u slow-consumer closes (4001), %u other; %" PRIu64
                " events missed after them\n",
                "closes", r->slow_closes, r->other_closes, r->after_close.lost);
    if (r->truncated)
        fprintf(out, "  %-12s %" PRIu64 " events were stubs: raise the server's --max-payload\n",
                "truncated", r->truncated);
    fprintf(out, "  %-12s %.2f s (%.0f%% of a core): subscriber threads", "client cpu",
            r->client_cpu_s, pct_of(r->client_cpu_s, w));
    for (uint32_t i = 0; i < cfg->threads; i++)
        fprintf(out, " %.0f%%", pct_of(r->sub_cpu_s[i], w));
    fprintf(out, ", publishers");
    for (uint32_t i = 0; i < cfg->publishers; i++)
        fprintf(out, " %.0f%%", pct_of(r->pub_cpu_s[i], w));
    fprintf(out, "\n");
    if (r->server_stats)
        fprintf(out,
                "  %-12s %.2f s (%.0f%% of a core), RSS %.1f MiB (%.1f MiB before connecting)\n",
                "server cpu", r->server_cpu_s, pct_of(r->server_cpu_s, w),
                (double)r->server_rss_kib / 1024.0, (double)r->server_rss_before_kib / 1024.0);
verdict:
    if (r->num_failures == 0) {
        fprintf(out, "  %-12s ok\n", "result");
        return;
    }
    fprintf(out, "  %-12s FAILED\n", "result");
    for (int i = 0; i < r->num_failures; i++)
        fprintf(out, "    - %s\n", r->failures[i]);
}

static json_t *percentiles_json(const struct hist *h)
{
    json_t *o = json_object();

    json_object_set_new(o, "samples", u64(h->count));
    json_object_set_new(o, "min", rounded(h->count ? us(h->min) : 0, 1));
    for (int i = 0; i < PERCENTILES; i++)
        json_object_set_new(o, pct_names[i], rounded(us(hist_percentile(h, pct_values[i])), 1));
    json_object_set_new(o, "mean", rounded(hist_mean(h) / 1000.0, 1));
    return o;
}

static json_t *cpu_list(const double *cpu_s, uint32_t n, double window_s)
{
    json_t *a = json_array();

    for (uint32_t i = 0; i < n; i++)
        json_array_append_new(a, rounded(pct_of(cpu_s[i], window_s), 1));
    return a;
}

static json_t *cpu_json(const struct report *r)
{
    json_t *o = json_object();
    double w = r->window_s;

    json_object_set_new(o, "seconds", rounded(r->client_cpu_s, 3));
    json_object_set_new(o, "pct", rounded(pct_of(r->client_cpu_s, w), 1));
    json_object_set_new(o, "subscriber_threads_pct", cpu_list(r->sub_cpu_s, r->cfg->threads, w));
    json_object_set_new(o, "publisher_threads_pct", cpu_list(r->pub_cpu_s, r->cfg->publishers, w));
    return o;
}

static json_t *server_json(const struct report *r)
{
    if (!r->server_stats)
        return json_null();
    json_t *o = json_object();
    json_object_set_new(o, "seconds", rounded(r->server_cpu_s, 3));
    json_object_set_new(o, "pct", rounded(pct_of(r->server_cpu_s, r->window_s), 1));
    json_object_set_new(o, "rss_kib", u64(r->server_rss_kib));
    json_object_set_new(o, "rss_before_kib", u64(r->server_rss_before_kib));
    json_object_set_new(o, "pids", json_integer(r->cfg->num_server_pids));
    return o;
}

/* setup_json adds what was run. */
static void setup_json(json_t *o, const struct report *r)
{
    const struct config *cfg = r->cfg;

    static const char *const targets[] = {
        [TARGET_RINGCAST] = "ringcast", [TARGET_NCHAN] = "nchan", [TARGET_NATS] = "nats"};
    json_object_set_new(o, "target", json_string(targets[cfg->target]));
    json_object_set_new(o, "protocol", json_string(cfg->protocol == PROTO_WS ? "ws" : "sse"));
    json_object_set_new(o, "connections", json_integer(cfg->connections));
    json_object_set_new(o, "connected", json_integer(r->connected));
    json_object_set_new(o, "connect_failures", json_integer(r->connect_failures));
    json_object_set_new(o, "connect_s", rounded(r->setup_s, 3));
    json_object_set_new(o, "connects_per_s", rounded(per_s(r->connected, r->setup_s), 0));
    json_object_set_new(o, "tls", json_boolean(cfg->tls));
    json_object_set_new(o, "tls_resumed", json_integer(r->tls_resumed));
    json_object_set_new(o, "topics", json_integer(cfg->topics.count));
    json_object_set_new(o, "pattern_connections",
                        json_integer((json_int_t)(cfg->connections * cfg->topics.pattern_share)));
    json_object_set_new(o, "threads", json_integer(cfg->threads));
    json_object_set_new(o, "recv_mode", json_string(r->recv_mode));
    json_object_set_new(o, "fixed_files", json_boolean(cfg->fixed_files));
    json_object_set_new(o, "publishers", json_integer(cfg->publishers));
    json_object_set_new(o, "publish_via",
                        json_string(cfg->target == TARGET_NATS ? "nats"
                                    : cfg->http_publish        ? "http"
                                                               : "binary"));
    json_object_set_new(o, "mode", json_string(cfg->rate > 0 ? "open" : "closed"));
    json_object_set_new(o, "rate", cfg->rate > 0 ? rounded(cfg->rate, 1) : json_null());
    json_object_set_new(o, "window", json_integer(cfg->window));
    json_object_set_new(o, "size", json_integer(cfg->size));
    json_object_set_new(o, "warmup_s", rounded((double)cfg->warmup_ns / 1e9, 3));
    json_object_set_new(o, "duration_s", rounded(r->window_s, 3));
}

/* rates_json adds the measured window's rates. */
static void rates_json(json_t *o, const struct report *r)
{
    double w = r->window_s;

    json_object_set_new(o, "publishes", u64(r->publishes));
    json_object_set_new(o, "publishes_per_s", rounded(per_s(r->publishes, w), 1));
    json_object_set_new(o, "deliveries", u64(r->deliveries));
    json_object_set_new(o, "deliveries_per_s", rounded(per_s(r->deliveries, w), 1));
    json_object_set_new(o, "receives", u64(r->receives));
    json_object_set_new(o, "receives_per_s", rounded(per_s(r->receives, w), 1));
    json_object_set_new(o, "recv_mib_per_s", rounded(per_s(r->recv_bytes, w) / 1048576.0, 2));
    json_object_set_new(o, "deliveries_per_receive",
                        rounded(r->receives ? (double)r->deliveries / (double)r->receives : 0, 2));
    json_object_set_new(o, "latency_us", percentiles_json(r->latency));
}

/* checks_json adds the run's totals and checks. */
static void checks_json(json_t *o, const struct report *r)
{
    json_object_set_new(o, "publishes_total", u64(r->publishes_total));
    json_object_set_new(o, "publish_errors", u64(r->publish_errors));
    json_object_set_new(o, "deliveries_total", u64(r->deliveries_total));
    json_object_set_new(o, "expected_deliveries", u64(r->expected_deliveries));
    json_object_set_new(o, "lost", u64(r->counts.lost));
    json_object_set_new(o, "duplicated", u64(r->counts.duplicated));
    json_object_set_new(o, "reordered", u64(r->counts.reordered));
    json_object_set_new(o, "slow_consumer_closes", json_integer(r->slow_closes));
    json_object_set_new(o, "other_closes", json_integer(r->other_closes));
    json_object_set_new(o, "missed_after_close", u64(r->after_close.lost));
    json_object_set_new(o, "unclean_closes", json_integer(r->unclean_closes));
    json_object_set_new(o, "truncated", u64(r->truncated));
    json_object_set_new(o, "unparsed", u64(r->unparsed));
    json_object_set_new(o, "foreign", u64(r->foreign));
    json_object_set_new(o, "misrouted", u64(r->misrouted));
    json_object_set_new(o, "drained", json_boolean(r->drained));
    json_object_set_new(o, "drain_s", rounded(r->drain_s, 3));
    json_object_set_new(o, "open_loop_behind_max_ms",
                        r->cfg->rate > 0 ? rounded((double)r->late->max / 1e6, 3) : json_null());
    json_object_set_new(o, "open_loop_late_us",
                        r->cfg->rate > 0 ? percentiles_json(r->late) : json_null());
}

int report_json(FILE *out, const struct report *r)
{
    json_t *o = json_object();
    json_t *failures = json_array();

    if (o == NULL || failures == NULL) {
        json_decref(o);
        json_decref(failures);
        return -1;
    }
    for (int i = 0; i < r->num_failures; i++)
        json_array_append_new(failures, json_string(r->failures[i]));
    json_object_set_new(o, "ok", json_boolean(r->num_failures == 0));
    json_object_set_new(o, "failures", failures);
    setup_json(o, r);
    rates_json(o, r);
    checks_json(o, r);
    json_object_set_new(o, "client_cpu", cpu_json(r));
    json_object_set_new(o, "server_cpu", server_json(r));
    char *text = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(15));
    json_decref(o);
    if (text == NULL)
        return -1;
    fprintf(out, "%s\n", text);
    free(text);
    return 0;
}

void report_status(const char *phase, double elapsed_s, uint32_t ready, uint32_t connections,
                   double deliveries_per_s, double publishes_per_s, double receives_per_s,
                   uint32_t closed)
{
    fprintf(stderr,
            "\r\033[K%s %.0fs: %u/%u subscribed, %.0f deliveries/s, %.0f publishes/s, "
            "%.0f receives/s%s",
            phase, elapsed_s, ready, connections, deliveries_per_s, publishes_per_s, receives_per_s,
            closed ? ", some closed by the server" : "");
    fflush(stderr);
}

void report_status_clear(void)
{
    fputs("\r\033[K", stderr);
    fflush(stderr);
}
