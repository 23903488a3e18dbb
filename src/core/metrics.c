/* metrics.c: Prometheus text rendering of the shards' counters. */
#include "core/metrics.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/shardset.h"
#include "core/shard.h"
#include "io/tls.h"
#include "util/stats.h"

static const char *const protocol_names[STATS_NUM_PROTOCOLS] = {"http", "websocket", "sse",
                                                                "publisher"};
static const char *const limit_names[STATS_NUM_LIMITS] = {
    [STATS_LIMIT_CONNECTIONS_PER_IP] = "connections_per_ip",
    [STATS_LIMIT_CONNECTIONS_PER_SUB] = "connections_per_sub",
    [STATS_LIMIT_HANDSHAKES] = "handshakes",
    [STATS_LIMIT_SUBSCRIBE_RATE] = "subscribe_rate_per_conn",
    [STATS_LIMIT_SUBSCRIBE_RATE_SUB] = "subscribe_rate_per_sub",
    [STATS_LIMIT_PUBLISH_RATE] = "publish_rate_per_conn",
    [STATS_LIMIT_PUBLISH_RATE_SUB] = "publish_rate_per_sub",
    [STATS_LIMIT_BODY_BUFFER] = "body_buffer",
    [STATS_LIMIT_SUBJECTS] = "subjects",
};

static const char *const eviction_names[STATS_NUM_EVICTIONS] = {
    [STATS_EVICT_SIZE] = "size",
    [STATS_EVICT_TTL] = "ttl",
    [STATS_EVICT_BYTES] = "bytes",
};

struct text {
    char *data;
    size_t len;
    size_t cap;
    int failed;
};

static void append(struct text *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void append(struct text *t, const char *fmt, ...)
{
    for (int attempt = 0; attempt < 2 && !t->failed; attempt++) {
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(t->data + t->len, t->cap - t->len, fmt, ap);
        va_end(ap);
        if (n < 0) {
            t->failed = 1;
            return;
        }
        if ((size_t)n < t->cap - t->len) {
            t->len += (size_t)n;
            return;
        }
        size_t cap = t->cap * 2 > t->len + (size_t)n + 1 ? t->cap * 2 : t->len + (size_t)n + 1;
        char *grown = realloc(t->data, cap);
        if (!grown) {
            t->failed = 1;
            return;
        }
        t->data = grown;
        t->cap = cap;
    }
}

/* A counter or gauge of struct shard_stats, summed over the shards. */
struct family {
    const char *name;
    const char *type;
    const char *help;
    size_t offset; /* of the counter_t in struct shard_stats */
};

#define STAT(field) offsetof(struct shard_stats, field)

static const struct family totals[] = {
    {"ringcast_subscriptions", "gauge", "Subscriptions (topics and patterns) held by connections.",
     STAT(subscriptions)},
    {"ringcast_topics_subscribed", "gauge",
     "Distinct topics and patterns with subscribers, counted per shard.", STAT(topics_subscribed)},
    {"ringcast_topics_sequenced", "gauge", "Topics with a sequence counter at their home shard.",
     STAT(topics_sequenced)},
    {"ringcast_connections_accepted_total", "counter", "Connections accepted.", STAT(accepted)},
    {"ringcast_connections_refused_total", "counter", "Connections refused over --max-connections.",
     STAT(refused)},
    {"ringcast_publishes_total", "counter", "Events sequenced (accepted publishes).",
     STAT(publishes)},
    {"ringcast_publish_errors_total", "counter", "Publishes refused with an error.",
     STAT(publish_errors)},
    {"ringcast_publish_duplicates_total", "counter",
     "Publishes recognised by their message id and not delivered again.", STAT(duplicates)},
    {"ringcast_bytes_sent_total", "counter", "Bytes written to client and publisher sockets.",
     STAT(bytes_sent)},
    {"ringcast_truncated_total", "counter",
     "Events over --max-payload delivered as a stub (--truncate=stub).", STAT(truncated)},
    {"ringcast_dropped_total", "counter",
     "Events over --max-payload delivered to no one (--truncate=drop).", STAT(dropped)},
    {"ringcast_slow_consumer_closes_total", "counter",
     "Subscribers closed for queueing more than --max-queued-bytes.", STAT(slow_closes)},
    {"ringcast_idle_closes_total", "counter",
     "WebSocket connections closed after --idle-timeout without input.", STAT(idle_closes)},
    {"ringcast_origin_refusals_total", "counter",
     "WebSocket handshakes refused with 403: their Origin is not in --ws-origins.",
     STAT(origin_refusals)},
    {"ringcast_output_pauses_total", "counter",
     "Times a connection stopped being read because its queued output reached half of "
     "--max-queued-bytes.",
     STAT(output_pauses)},
    {"ringcast_send_timeout_closes_total", "counter",
     "Connections closed because their queued output stayed over that bound for --send-timeout.",
     STAT(send_timeouts)},
    {"ringcast_input_budget_pauses_total", "counter",
     "Times a connection's input waited for the next loop turn after --input-budget messages.",
     STAT(input_budget_pauses)},
    {"ringcast_ring_full_total", "counter",
     "Publishes that waited for room in a cross-shard ring (backpressure).", STAT(ring_full)},
    {"ringcast_history_messages", "gauge",
     "Events held in history by their topics' home shards (--history-size).", STAT(history.msgs)},
    {"ringcast_history_bytes", "gauge", "Bytes of those events, as counted in --history-bytes.",
     STAT(history.bytes)},
    {"ringcast_history_replays_total", "counter",
     "Questions answered from history: fetches, history requests and resumes.",
     STAT(history.replays)},
    {"ringcast_history_gaps_total", "counter",
     "Gaps reported to subscribers that resumed past what history still held.", STAT(history.gaps)},
    {"ringcast_handshakes", "gauge",
     "Connections in their handshake (counted in --max-handshakes per shard).", STAT(handshakes)},
    {"ringcast_body_buffer_bytes", "gauge",
     "Bytes reserved for HTTP request bodies being received (--max-body-buffer-bytes per shard).",
     STAT(body_buffer_bytes)},
};

static uint64_t stat_of(const struct shard *sh, size_t offset)
{
    return counter_read((const counter_t *)((const char *)&sh->stats + offset));
}

static uint64_t sum_of(const struct shard_set *set, size_t offset)
{
    uint64_t sum = 0;
    for (unsigned i = 0; i < set->num_shards; i++)
        sum += stat_of(&set->shards[i], offset);
    return sum;
}

static void header(struct text *t, const char *name, const char *type, const char *help)
{
    append(t, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* by_protocol renders a per-protocol array of struct shard_stats, for the
 * protocols from |first| to |last|. */
static void by_protocol(struct text *t, const struct shard_set *set, const char *name,
                        const char *type, const char *help, size_t offset, int per_shard, int first,
                        int last)
{
    header(t, name, type, help);
    for (int p = first; p <= last; p++) {
        size_t field = offset + (size_t)p * sizeof(counter_t);
        if (!per_shard) {
            append(t, "%s{protocol=\"%s\"} %llu\n", name, protocol_names[p],
                   (unsigned long long)sum_of(set, field));
            continue;
        }
        for (unsigned i = 0; i < set->num_shards; i++)
            append(t, "%s{shard=\"%u\",protocol=\"%s\"} %llu\n", name, i, protocol_names[p],
                   (unsigned long long)stat_of(&set->shards[i], field));
    }
}

static void per_shard(struct text *t, const struct shard_set *set, const char *name,
                      const char *type, const char *help, size_t offset)
{
    header(t, name, type, help);
    for (unsigned i = 0; i < set->num_shards; i++)
        append(t, "%s{shard=\"%u\"} %llu\n", name, i,
               (unsigned long long)stat_of(&set->shards[i], offset));
}

/* turn_histogram renders the shards' loop turns by duration
 * (struct shard_stats.turn_buckets) as one Prometheus histogram per shard. */
static void turn_histogram(struct text *t, const struct shard_set *set)
{
    static const int64_t bounds_us[] = STATS_TURN_BOUNDS_US;
    const char *name = "ringcast_shard_loop_turn_seconds";
    header(t, name, "histogram",
           "Event-loop turns by the time the shard worked in them, from waking up to waiting "
           "again; a connection's burst delays the shard's other connections by its turns.");
    for (unsigned i = 0; i < set->num_shards; i++) {
        const struct shard_stats *st = &set->shards[i].stats;
        uint64_t below = 0;
        for (unsigned b = 0; b < STATS_TURN_BUCKETS; b++) {
            below += counter_read(&st->turn_buckets[b]);
            if (b < STATS_TURN_BUCKETS - 1)
                append(t, "%s_bucket{shard=\"%u\",le=\"%g\"} %llu\n", name, i,
                       (double)bounds_us[b] / 1e6, (unsigned long long)below);
            else
                append(t, "%s_bucket{shard=\"%u\",le=\"+Inf\"} %llu\n", name, i,
                       (unsigned long long)below);
        }
        append(t, "%s_sum{shard=\"%u\"} %.9f\n", name, i, (double)counter_read(&st->turn_ns) / 1e9);
        append(t, "%s_count{shard=\"%u\"} %llu\n", name, i, (unsigned long long)below);
    }
}

/* tls_families renders the TLS handshakes and failures (zero without TLS
 * listeners). */
static void tls_families(struct text *t, const struct shard_set *set)
{
    header(t, "ringcast_tls_handshakes_total", "counter",
           "TLS handshakes completed, full or resuming a session (ticket).");
    for (int resumed = 0; resumed < 2; resumed++)
        append(t, "ringcast_tls_handshakes_total{resumed=\"%s\"} %llu\n",
               resumed ? "true" : "false",
               (unsigned long long)sum_of(set, STAT(tls_handshakes) +
                                                   (size_t)resumed * sizeof(counter_t)));
    header(t, "ringcast_tls_failures_total", "counter",
           "TLS connections closed for a failure: plaintext on a TLS port, a bad or refused "
           "handshake, an SNI name no certificate covers, a bad record.");
    for (int why = TLS_FAIL_PLAINTEXT; why < TLS_NUM_FAILURES; why++)
        append(
            t, "ringcast_tls_failures_total{reason=\"%s\"} %llu\n", tls_failure_name(why),
            (unsigned long long)sum_of(set, STAT(tls_failures) + (size_t)why * sizeof(counter_t)));
}

char *metrics_render(const struct shard_set *set, size_t *out_len)
{
    struct text t = {malloc(8192), 0, 8192, 0};
    if (!t.data)
        return NULL;
    header(&t, "ringcast_shards", "gauge", "Shards (worker threads).");
    append(&t, "ringcast_shards %u\n", set->num_shards);
    by_protocol(&t, set, "ringcast_connections", "gauge", "Open connections by protocol.",
                STAT(connections), 0, STATS_HTTP, STATS_PUBLISHER);
    /* Only subscribers receive deliveries. */
    by_protocol(&t, set, "ringcast_deliveries_total", "counter",
                "Events queued to subscribers by protocol.", STAT(deliveries), 0, STATS_WEBSOCKET,
                STATS_SSE);
    for (size_t i = 0; i < sizeof(totals) / sizeof(totals[0]); i++) {
        header(&t, totals[i].name, totals[i].type, totals[i].help);
        append(&t, "%s %llu\n", totals[i].name, (unsigned long long)sum_of(set, totals[i].offset));
    }
    header(&t, "ringcast_limited_total", "counter",
           "Connections, requests and messages refused by a limit (docs/operations.md).");
    for (int i = 0; i < STATS_NUM_LIMITS; i++)
        append(&t, "ringcast_limited_total{limit=\"%s\"} %llu\n", limit_names[i],
               (unsigned long long)sum_of(set, STAT(limited) + (size_t)i * sizeof(counter_t)));
    tls_families(&t, set);
    header(&t, "ringcast_history_evictions_total", "counter",
           "Events history let go of, by cause: size (--history-size), ttl (--history-ttl), "
           "bytes (--history-bytes).");
    for (int i = 0; i < STATS_NUM_EVICTIONS; i++)
        append(
            &t, "ringcast_history_evictions_total{cause=\"%s\"} %llu\n", eviction_names[i],
            (unsigned long long)sum_of(set, STAT(history.evicted) + (size_t)i * sizeof(counter_t)));
    per_shard(&t, set, "ringcast_shard_handshakes", "gauge",
              "Connections in their handshake, by shard.", STAT(handshakes));
    per_shard(&t, set, "ringcast_shard_body_buffer_bytes", "gauge",
              "Bytes reserved for HTTP request bodies being received, by shard.",
              STAT(body_buffer_bytes));
    by_protocol(&t, set, "ringcast_shard_connections", "gauge",
                "Open connections by shard and protocol.", STAT(connections), 1, STATS_HTTP,
                STATS_PUBLISHER);
    by_protocol(&t, set, "ringcast_shard_deliveries_total", "counter",
                "Events queued to subscribers by shard and protocol.", STAT(deliveries), 1,
                STATS_WEBSOCKET, STATS_SSE);
    per_shard(&t, set, "ringcast_shard_connections_refused_total", "counter",
              "Connections refused over the shard's share of --max-connections.", STAT(refused));
    per_shard(&t, set, "ringcast_shard_accept_stalls_total", "counter",
              "Times the shard stopped accepting while refusals held every spare slot.",
              STAT(accept_stalls));
    per_shard(&t, set, "ringcast_shard_publishes_total", "counter",
              "Events sequenced by each home shard.", STAT(publishes));
    per_shard(&t, set, "ringcast_shard_ring_full_total", "counter",
              "Publishes that waited for room in a ring, by shard.", STAT(ring_full));
    per_shard(&t, set, "ringcast_shard_ring_messages_total", "counter",
              "Events a home shard passed to this shard through a ring.", STAT(ring_messages));
    per_shard(&t, set, "ringcast_shard_wakeups_total", "counter",
              "Event-loop iterations after waiting for completions, by shard.", STAT(wakeups));
    turn_histogram(&t, set);
    if (t.failed) {
        free(t.data);
        return NULL;
    }
    *out_len = t.len;
    return t.data;
}
