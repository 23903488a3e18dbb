/* config.c: command-line flags.
 *
 * One table describes every flag: its name, what it fills in struct
 * rc_config, its bounds and its help text. getopt_long's option array, the
 * parser and --help are all derived from that table, so a flag cannot be
 * parsed without being documented. */
#include "util/config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util/duration.h"
#include "util/log.h"
#include "util/origin.h"

#define RC_VERSION "0.1.0"

enum opt_kind {
    OPT_UINT,
    OPT_SIZE,
    OPT_DURATION, /* stored in milliseconds */
    OPT_SECONDS,  /* a DURATION of whole seconds, stored in seconds */
    OPT_ENDPOINT,
    OPT_LOGLEVEL,
    OPT_TRUNCATE,
    OPT_PATH,
    OPT_FLAG,
    OPT_RATE,      /* N or N:BURST into a struct tokenbucket_rate */
    OPT_ORIGINS,   /* a comma-separated origin list into a struct origin_list */
    OPT_ENDPOINTS, /* repeatable: appended to a struct rc_endpoint_list */
    OPT_PATHS,     /* repeatable: appended to a struct rc_path_list */
};

struct opt {
    const char *name;
    const char *arg; /* metavariable in --help, NULL for a flag */
    enum opt_kind kind;
    size_t offset; /* into struct rc_config */
    size_t width;  /* sizeof the field: 4 or 8 for numbers */
    uint64_t min, max;
    const char *help;
};

#define OFF(field) offsetof(struct rc_config, field), sizeof(((struct rc_config *)0)->field)

static const struct opt options[] = {
    {"shards", "N", OPT_UINT, OFF(shards), 1, 256,
     "worker threads, one io_uring each (default: online CPUs)"},
    {"listen", "HOST:PORT", OPT_ENDPOINT, OFF(listen), 0, 0,
     "client port: /v1/ws, /v1/sse, /v1/publish, /v1/messages/, /v1/history/, /metrics, /healthz "
     "(default 127.0.0.1:8080)"},
    {"publish-listen", "HOST:PORT", OPT_ENDPOINT, OFF(publish_listen), 0, 0,
     "binary publish protocol port (default 127.0.0.1:7070)"},
    {"max-connections", "N", OPT_UINT, OFF(max_connections), 1, 100000000,
     "connections on both ports, shared equally by the shards (default 1000000)"},
    {"max-connections-per-ip", "N", OPT_UINT, OFF(max_connections_per_ip), 0, 100000000,
     "connections from one address (IPv6: one /64), both ports; more: 429 / NACK rate_limited; "
     "each shard allows its share (default 10000; 0: no limit)"},
    {"max-connections-per-sub", "N", OPT_UINT, OFF(max_connections_per_sub), 0, 100000000,
     "WebSocket, SSE and publisher connections with tokens of one sub; more: 429 / NACK "
     "rate_limited; each shard allows its share (default 1000; 0: no limit)"},
    {"max-handshakes", "N", OPT_UINT, OFF(max_handshakes), 1, 100000000,
     "per shard, connections before their upgrade or HELLO (plain HTTP for their whole life); "
     "more: new connections get 503 / NACK overloaded (default 4096)"},
    {"max-body-buffer-bytes", "BYTES", OPT_SIZE, OFF(max_body_buffer_bytes), 1024, 1ull << 40,
     "per shard, HTTP request bodies being received, each counted whole from its Content-Length; "
     "over it: 503 (default: 64M, or the largest body when that is more)"},
    {"max-frame", "BYTES", OPT_SIZE, OFF(max_frame), 125, 1u << 30,
     "largest WebSocket frame payload a client may send; larger: close 1009 (default 64K)"},
    {"max-message", "BYTES", OPT_SIZE, OFF(max_message), 125, 1u << 30,
     "largest WebSocket message after reassembly; larger: close 1009 (default 64K)"},
    {"deflate-level", "N", OPT_UINT, OFF(deflate_level), 0, 9,
     "permessage-deflate (RFC 7692) for clients that offer it: zlib level 1 (fast) .. 9 "
     "(small), each event compressed once for every such subscriber; 0: never agreed (default 1)"},
    {"deflate-min-size", "BYTES", OPT_SIZE, OFF(deflate_min_size), 0, 1u << 30,
     "compress events whose WebSocket message has at least this many bytes; smaller ones go "
     "plain (default 256)"},
    {"max-topics-per-conn", "N", OPT_UINT, OFF(max_topics_per_conn), 1, 1000000,
     "subscriptions one connection may hold (default 1024)"},
    {"max-patterns-per-conn", "N", OPT_UINT, OFF(max_patterns_per_conn), 0, 1000000,
     "of those, patterns (with * or >) one connection may hold (default 64)"},
    {"max-topic-length", "BYTES", OPT_UINT, OFF(max_topic_length), 1, 65535,
     "longest topic name or pattern (default 256)"},
    {"max-segments", "N", OPT_UINT, OFF(max_segments), 1, CONFIG_MAX_SEGMENTS_LIMIT,
     "most segments in a topic or pattern (default 32)"},
    {"max-queued-bytes", "BYTES", OPT_SIZE, OFF(max_queued_bytes), 1024, 1ull << 40,
     "bytes queued for one subscriber before it is closed as slow (code 4001); a connection "
     "stops being read while half of it is queued, replies included (default 8M)"},
    {"send-timeout", "DURATION", OPT_DURATION, OFF(send_timeout_ms), 1, 86400000,
     "close a connection whose queued output stays over half of --max-queued-bytes this long "
     "(default 30s)"},
    {"input-budget", "N", OPT_UINT, OFF(input_budget), 1, 1000000,
     "input messages (requests, frames) one connection may have handled per loop turn before "
     "the others are served (default 256)"},
    {"max-publish-bytes", "BYTES", OPT_SIZE, OFF(max_publish_bytes), 1, 1u << 30,
     "largest publish payload; larger: NACK too_large (default 16M)"},
    {"max-payload", "BYTES", OPT_SIZE, OFF(max_payload), 0, 1ull << 32,
     "events with a larger payload are truncated, see --truncate (default 4K)"},
    {"truncate", "MODE", OPT_TRUNCATE, OFF(truncate_mode), 0, 0,
     "over --max-payload: stub (a reference and a fetch path), drop, or reject "
     "(NACK too_large / 413) (default stub)"},
    {"history-size", "N", OPT_UINT, OFF(history_size), 0, 1000000,
     "recent events each topic's home keeps for resuming (since, Last-Event-ID), GET "
     "/v1/history and GET /v1/messages/TOPIC/SEQ (default 100; 0: none)"},
    {"history-ttl", "DURATION", OPT_DURATION, OFF(history_ttl_ms), 1, 604800000,
     "how long an event is kept in history (default 10m)"},
    {"history-bytes", "BYTES", OPT_SIZE, OFF(history_bytes), 0, 1ull << 40,
     "per shard, bytes of history; past it the oldest events go first (default 256M)"},
    {"retain-bytes", "BYTES", OPT_SIZE, OFF(history_bytes), 0, 1ull << 40,
     "the former name of --history-bytes, kept as an alias"},
    {"subscribe-rate-per-conn", "N[:BURST]", OPT_RATE, OFF(subscribe_rate_conn), 0, 1000000000,
     "WebSocket subscribe and unsubscribe messages per second on one connection, bursts of BURST "
     "(default N); more: error rate_limited (default 20:100; 0: no limit)"},
    {"subscribe-rate-per-sub", "N[:BURST]", OPT_RATE, OFF(subscribe_rate_sub), 0, 1000000000,
     "the same for every connection with tokens of one sub; each shard allows its share "
     "(default 200:1000; 0: no limit)"},
    {"publish-rate-per-conn", "N[:BURST]", OPT_RATE, OFF(publish_rate_conn), 0, 1000000000,
     "publishes per second on one publisher or HTTP connection; more: NACK rate_limited / 429 "
     "(default 100000; 0: no limit)"},
    {"publish-rate-per-sub", "N[:BURST]", OPT_RATE, OFF(publish_rate_sub), 0, 1000000000,
     "publishes per second with tokens of one sub; each shard allows its share (default "
     "1000000; 0: no limit)"},
    {"max-inflight", "N", OPT_UINT, OFF(max_inflight), 1, 1000000,
     "unacknowledged publishes read ahead per publisher connection (default 1024)"},
    {"max-topics", "N", OPT_UINT, OFF(max_topics), 1, 100000000,
     "topics with a sequence counter per shard; more: NACK overloaded (default 1000000)"},
    {"dedup-entries", "N", OPT_UINT, OFF(dedup_entries), 0, 100000000,
     "message ids remembered per shard for idempotent publishing (default 100000)"},
    {"dedup-seconds", "DURATION", OPT_SECONDS, OFF(dedup_seconds), 1, 86400,
     "how long a message id is remembered, in whole seconds (default 600, 10m)"},
    {"max-header-bytes", "BYTES", OPT_SIZE, OFF(max_header_bytes), 256, 1u << 20,
     "largest HTTP request head; larger: 431 (default 8K)"},
    {"max-target-bytes", "BYTES", OPT_SIZE, OFF(max_target_bytes), 16, 1u << 20,
     "longest HTTP request target (URL), below --max-header-bytes; longer: 414 "
     "(default: half of --max-header-bytes)"},
    {"handshake-timeout", "DURATION", OPT_DURATION, OFF(handshake_timeout_ms), 1, 3600000,
     "time to send a complete HTTP request head or publish HELLO, the TLS handshake "
     "included on TLS ports (default 10s)"},
    {"close-timeout", "DURATION", OPT_DURATION, OFF(close_timeout_ms), 1, 3600000,
     "wait for the peer during a close handshake or after a slow-consumer close (default 2s)"},
    {"shutdown-timeout", "DURATION", OPT_DURATION, OFF(shutdown_timeout_ms), 1, 3600000,
     "on SIGTERM/SIGINT, time allowed to flush queued events and close (default 5s)"},
    {"ping-interval", "DURATION", OPT_DURATION, OFF(ping_interval_ms), 100, 3600000,
     "WebSocket ping frames to every client this often (default 30s)"},
    {"idle-timeout", "DURATION", OPT_DURATION, OFF(idle_timeout_ms), 100, 86400000,
     "close a WebSocket client that sent nothing (not even a pong) this long (default 75s)"},
    {"sse-heartbeat", "DURATION", OPT_DURATION, OFF(sse_heartbeat_ms), 100, 3600000,
     "SSE comment line to every stream this often (default 30s)"},
    {"sse-retry", "DURATION", OPT_DURATION, OFF(sse_retry_ms), 0, 3600000,
     "reconnection delay suggested to SSE clients (retry:) (default 3s)"},
    {"sse-named-events", NULL, OPT_FLAG, OFF(sse_named_events), 0, 0,
     "SSE records carry event: <event_type>, for addEventListener (default: no event: line, "
     "every event reaches onmessage); a stream chooses with ?events=named or ?events=unnamed"},
    {"ring-size", "N", OPT_UINT, OFF(ring_size), 16, 1u << 24,
     "slots of each cross-shard ring, a power of two (default 4096)"},
    {"recv-buffers", "N", OPT_UINT, OFF(recv_buffers), 16, 32768,
     "provided receive buffers per shard, a power of two (default 1024)"},
    {"recv-buffer-size", "BYTES", OPT_SIZE, OFF(recv_buffer_size), 1024, 1u << 20,
     "size of each receive buffer (default 16K)"},
    {"uring-entries", "N", OPT_UINT, OFF(uring_entries), 64, 32768,
     "submission queue entries per shard, a power of two (default 4096)"},
    {"auth-secret-file", "FILE", OPT_PATH, OFF(auth_secret_file), 0, 0,
     "HS256 secret (at least 32 bytes): every connection then needs a token (docs/auth.md)"},
    {"auth-previous-secret-file", "FILE", OPT_PATH, OFF(auth_previous_secret_file), 0, 0,
     "a second secret still accepted, while tokens move to a new one"},
    {"pusher-apps", "FILE", OPT_PATH, OFF(pusher_apps_file), 0, 0,
     "JSON list of Pusher apps (id, key, secret, ...): serves the Pusher protocol on /app/<key> "
     "and its HTTP API on /apps/<id>/ (docs/protocol/pusher.md); others may not read the file"},
    {"insecure-open", NULL, OPT_FLAG, OFF(insecure_open), 0, 0,
     "without a secret, serve on non-loopback addresses too (anyone may publish and subscribe)"},
    {"cors-origins", "LIST", OPT_ORIGINS, OFF(cors_origins), 0, 0,
     "pages of other origins that may use the HTTP routes (SSE, publish, fetch, /healthz, "
     "/metrics): comma-separated scheme://host[:port], allowed with credentials, and/or * for "
     "any origin, without credentials (default: none, no CORS headers)"},
    {"ws-origins", "LIST", OPT_ORIGINS, OFF(ws_origins), 0, 0,
     "origins whose pages may open WebSocket connections: comma-separated scheme://host[:port] "
     "or *; another Origin gets 403; clients that send no Origin are let in (default: any "
     "origin)"},
    {"audience-from-payload", NULL, OPT_FLAG, OFF(audience_from_payload), 0, 0,
     "take an event's audience from its payload (tenantId, organizationId(s), "
     "recipientUserId(s), recipientRoleId(s))"},
    {"pin-shards", NULL, OPT_FLAG, OFF(pin_shards), 0, 0, "pin shard i to CPU i"},
    {"echo-endpoint", NULL, OPT_FLAG, OFF(echo_endpoint), 0, 0,
     "also serve /v1/echo, a WebSocket echo, for conformance suites (Autobahn)"},
    {"log-level", "LEVEL", OPT_LOGLEVEL, OFF(log_level), 0, 0,
     "error, warn, info or debug (default info)"},
    {"tls-listen", "HOST:PORT", OPT_ENDPOINTS, OFF(tls.listen), 0, 0,
     "client port over TLS (wss://, https://), the same routes as --listen; repeatable "
     "(default: none)"},
    {"publish-tls-listen", "HOST:PORT", OPT_ENDPOINTS, OFF(tls.publish_listen), 0, 0,
     "binary publish protocol over TLS; repeatable (default: none)"},
    {"tls-cert", "FILE", OPT_PATHS, OFF(tls.cert_files), 0, 0,
     "PEM certificate chain, leaf first; repeatable, each with the --tls-key given in the same "
     "place; with several, the client's SNI name chooses (an unknown name is refused, none gets "
     "the first); SIGHUP reloads them"},
    {"tls-key", "FILE", OPT_PATHS, OFF(tls.key_files), 0, 0,
     "PEM private key of the --tls-cert in the same place"},
};

#define NUM_OPTIONS (sizeof(options) / sizeof(options[0]))

void config_defaults(struct rc_config *cfg)
{
    memset(cfg, 0, sizeof(*cfg));
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    cfg->shards = cpus > 0 ? (unsigned)cpus : 1;
    config_parse_endpoint(&cfg->listen, "127.0.0.1:8080");
    config_parse_endpoint(&cfg->publish_listen, "127.0.0.1:7070");
    cfg->max_connections = 1000000;
    cfg->max_connections_per_ip = 10000;
    cfg->max_connections_per_sub = 1000;
    cfg->max_handshakes = 4096;
    cfg->max_body_buffer_bytes = 0; /* 64M or the largest body, once that is known */
    cfg->subscribe_rate_conn = (struct tokenbucket_rate){20, 100};
    cfg->subscribe_rate_sub = (struct tokenbucket_rate){200, 1000};
    cfg->publish_rate_conn = (struct tokenbucket_rate){100000, 100000};
    cfg->publish_rate_sub = (struct tokenbucket_rate){1000000, 1000000};
    cfg->max_frame = 64 * 1024;
    cfg->max_message = 64 * 1024;
    cfg->deflate_level = 1;
    cfg->deflate_min_size = 256;
    cfg->max_topics_per_conn = 1024;
    cfg->max_patterns_per_conn = 64;
    cfg->max_topic_length = 256;
    cfg->max_segments = 32;
    cfg->max_queued_bytes = 8 * 1024 * 1024;
    cfg->max_publish_bytes = 16 * 1024 * 1024;
    cfg->max_payload = 4096;
    cfg->truncate_mode = TRUNCATE_STUB;
    cfg->history_size = 100;
    cfg->history_ttl_ms = 10 * 60 * 1000;
    cfg->history_bytes = 256 * 1024 * 1024;
    cfg->max_inflight = 1024;
    cfg->max_topics = 1000000;
    cfg->dedup_entries = 100000;
    cfg->dedup_seconds = 600;
    cfg->max_header_bytes = 8192;
    cfg->max_target_bytes = 0; /* half of max_header_bytes, once that is known */
    cfg->handshake_timeout_ms = 10000;
    cfg->close_timeout_ms = 2000;
    cfg->send_timeout_ms = 30000;
    cfg->input_budget = 256;
    cfg->shutdown_timeout_ms = 5000;
    cfg->ping_interval_ms = 30000;
    cfg->idle_timeout_ms = 75000;
    cfg->sse_heartbeat_ms = 30000;
    cfg->sse_retry_ms = 3000;
    cfg->ring_size = 4096;
    cfg->recv_buffers = 1024;
    cfg->recv_buffer_size = 16384;
    cfg->uring_entries = 4096;
    cfg->log_level = RC_LOG_INFO;
}

void config_usage(FILE *f)
{
    fprintf(f, "Usage: ringcast [OPTION]...\n"
               "Real-time event fan-out server. Publishers send events over the binary\n"
               "publish protocol (--publish-listen) or POST /v1/publish; subscribers receive\n"
               "them over WebSocket (/v1/ws) or Server-Sent Events (/v1/sse). The client port\n"
               "(--listen) also serves the recent events of a topic (GET /v1/history/TOPIC,\n"
               "GET /v1/messages/TOPIC/SEQ), /metrics and /healthz. With --pusher-apps it\n"
               "speaks Pusher's protocol on /app/<key> and serves Pusher's HTTP API under\n"
               "/apps/<id>/.\n\n"
               "Without authentication configured the server is open: it binds to loopback\n"
               "by default and says so in its log.\n\nOptions:\n");
    for (size_t i = 0; i < NUM_OPTIONS; i++) {
        char left[64];
        snprintf(left, sizeof(left), "--%s%s%s", options[i].name, options[i].arg ? "=" : "",
                 options[i].arg ? options[i].arg : "");
        fprintf(f, "  %-30s %s\n", left, options[i].help);
    }
    fprintf(f, "  %-30s %s\n", "-h, --help", "print this help and exit");
    fprintf(f, "  %-30s %s\n", "--version", "print the version and exit");
    fprintf(f,
            "\nBYTES accept the suffixes K, M and G (powers of 1024).\nDURATION is " DURATION_SYNTAX
            ";\na bare number is seconds.\n"
            "Close codes, the publish protocol and operations: see docs/ in the source.\n");
}

/* parse_u64 reads a decimal number with an optional unit suffix from a
 * table of (suffix, multiplier); the whole string must be consumed. */
struct unit {
    const char *suffix;
    uint64_t mult;
};

static int parse_with_units(const char *text, const struct unit *units, size_t num_units,
                            uint64_t bare_mult, uint64_t *out)
{
    errno = 0;
    char *end;
    if (text[0] < '0' || text[0] > '9')
        return -1;
    unsigned long long value = strtoull(text, &end, 10);
    if (errno != 0)
        return -1;
    uint64_t mult = 0;
    if (*end == '\0') {
        mult = bare_mult;
    } else {
        for (size_t i = 0; i < num_units; i++)
            if (strcmp(end, units[i].suffix) == 0)
                mult = units[i].mult;
    }
    if (mult == 0 || value > UINT64_MAX / mult)
        return -1;
    *out = value * mult;
    return 0;
}

static int parse_size(const char *text, uint64_t *out)
{
    static const struct unit units[] = {
        {"K", 1024},    {"k", 1024},   {"M", 1024 * 1024},   {"m", 1024 * 1024}, {"G", 1 << 30},
        {"g", 1 << 30}, {"KiB", 1024}, {"MiB", 1024 * 1024}, {"GiB", 1 << 30}};
    return parse_with_units(text, units, sizeof(units) / sizeof(units[0]), 1, out);
}

int config_parse_endpoint(struct rc_endpoint *out, const char *text)
{
    memset(out, 0, sizeof(*out));
    if (strlen(text) >= sizeof(out->text))
        return -1;
    snprintf(out->text, sizeof(out->text), "%s", text);
    char host[128];
    const char *colon = strrchr(text, ':');
    if (!colon || colon == text)
        return -1;
    size_t host_len = (size_t)(colon - text);
    memcpy(host, text, host_len);
    host[host_len] = '\0';
    char *end;
    errno = 0;
    if (colon[1] < '0' || colon[1] > '9')
        return -1; /* strtoul would take a sign or blanks */
    unsigned long port = strtoul(colon + 1, &end, 10);
    if (errno || *end || port > 65535)
        return -1;
    if (host[0] == '[') {
        if (host_len < 3 || host[host_len - 1] != ']')
            return -1;
        host[host_len - 1] = '\0';
        struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)&out->addr;
        a6->sin6_family = AF_INET6;
        a6->sin6_port = htons((uint16_t)port);
        if (inet_pton(AF_INET6, host + 1, &a6->sin6_addr) != 1)
            return -1;
        out->addr_len = sizeof(*a6);
        return 0;
    }
    if (strcmp(host, "localhost") == 0)
        snprintf(host, sizeof(host), "127.0.0.1");
    struct sockaddr_in *a4 = (struct sockaddr_in *)&out->addr;
    a4->sin_family = AF_INET;
    a4->sin_port = htons((uint16_t)port);
    if (inet_pton(AF_INET, host, &a4->sin_addr) != 1)
        return -1;
    out->addr_len = sizeof(*a4);
    return 0;
}

/* parse_uint reads a whole decimal number. */
static int parse_uint(const char *text, const char *end, uint64_t *out)
{
    if (text == end || end - text > 19)
        return -1;
    uint64_t v = 0;
    for (const char *p = text; p < end; p++) {
        if (*p < '0' || *p > '9')
            return -1;
        v = v * 10 + (uint64_t)(*p - '0');
    }
    *out = v;
    return 0;
}

/* set_rate reads N or N:BURST (BURST defaults to N) within the option's
 * bounds; a burst of 0 is refused unless the rate is 0 (no limit). */
static int set_rate(struct tokenbucket_rate *out, const struct opt *o, const char *arg)
{
    const char *colon = strchr(arg, ':');
    const char *end = arg + strlen(arg);
    uint64_t rate, burst;
    if (parse_uint(arg, colon ? colon : end, &rate) != 0 ||
        (colon && parse_uint(colon + 1, end, &burst) != 0)) {
        fprintf(stderr, "ringcast: --%s: expected N or N:BURST, got '%s'\n", o->name, arg);
        return -1;
    }
    if (!colon)
        burst = rate;
    if (rate > o->max || burst > o->max || (rate > 0 && burst == 0)) {
        fprintf(stderr, "ringcast: --%s=%s is out of range [0, %llu], with a burst of at least 1\n",
                o->name, arg, (unsigned long long)o->max);
        return -1;
    }
    *out = (struct tokenbucket_rate){(uint32_t)rate, (uint32_t)burst};
    return 0;
}

static int set_option(struct rc_config *cfg, const struct opt *o, const char *arg)
{
    char *field = (char *)cfg + o->offset;
    uint64_t value = 0;
    switch (o->kind) {
    case OPT_FLAG:
        *(bool *)field = true;
        return 0;
    case OPT_RATE:
        return set_rate((struct tokenbucket_rate *)field, o, arg);
    case OPT_ORIGINS: {
        const char *error = "";
        if (origin_list_parse((struct origin_list *)field, arg, &error) != 0) {
            fprintf(stderr, "ringcast: --%s: %s, in '%s'\n", o->name, error, arg);
            return -1;
        }
        return 0;
    }
    case OPT_ENDPOINTS: {
        struct rc_endpoint_list *list = (struct rc_endpoint_list *)field;
        if (list->count == CONFIG_MAX_REPEATS) {
            fprintf(stderr, "ringcast: --%s: at most %d\n", o->name, CONFIG_MAX_REPEATS);
            return -1;
        }
        field = (char *)&list->v[list->count++];
    }
        /* fall through */
    case OPT_ENDPOINT:
        if (config_parse_endpoint((struct rc_endpoint *)field, arg) != 0) {
            fprintf(stderr, "ringcast: --%s: expected HOST:PORT with a numeric host, got '%s'\n",
                    o->name, arg);
            return -1;
        }
        return 0;
    case OPT_LOGLEVEL:
        if ((*(int *)field = rc_log_parse_level(arg)) < 0) {
            fprintf(stderr, "ringcast: --%s: expected error, warn, info or debug, got '%s'\n",
                    o->name, arg);
            return -1;
        }
        return 0;
    case OPT_PATHS: {
        struct rc_path_list *list = (struct rc_path_list *)field;
        if (list->count == CONFIG_MAX_REPEATS) {
            fprintf(stderr, "ringcast: --%s: at most %d\n", o->name, CONFIG_MAX_REPEATS);
            return -1;
        }
        field = list->v[list->count++];
    }
        /* fall through */
    case OPT_PATH:
        if (strlen(arg) == 0 || strlen(arg) >= 256) {
            fprintf(stderr, "ringcast: --%s: expected a file name of 1 to 255 bytes\n", o->name);
            return -1;
        }
        snprintf(field, 256, "%s", arg);
        return 0;
    case OPT_TRUNCATE:
        if (strcmp(arg, "stub") == 0) {
            *(int *)field = TRUNCATE_STUB;
        } else if (strcmp(arg, "drop") == 0) {
            *(int *)field = TRUNCATE_DROP;
        } else if (strcmp(arg, "reject") == 0) {
            *(int *)field = TRUNCATE_REJECT;
        } else {
            fprintf(stderr, "ringcast: --%s: expected stub, drop or reject, got '%s'\n", o->name,
                    arg);
            return -1;
        }
        return 0;
    case OPT_UINT: {
        char *end;
        errno = 0;
        unsigned long long v = strtoull(arg, &end, 10);
        if (errno || *end || arg[0] < '0' || arg[0] > '9')
            goto bad_number;
        value = v;
        break;
    }
    case OPT_SIZE:
        if (parse_size(arg, &value) != 0)
            goto bad_number;
        break;
    case OPT_DURATION:
        if (duration_parse(arg, DURATION_MS_PER_S, &value) != 0)
            goto bad_number;
        break;
    case OPT_SECONDS:
        if (duration_parse(arg, DURATION_MS_PER_S, &value) != 0 || value % DURATION_MS_PER_S != 0)
            goto bad_number;
        value /= DURATION_MS_PER_S;
        break;
    }
    if (value < o->min || value > o->max) {
        const char *unit = o->kind == OPT_DURATION  ? "ms"
                           : o->kind == OPT_SECONDS ? "s"
                           : o->kind == OPT_SIZE    ? " bytes"
                                                    : "";
        fprintf(stderr, "ringcast: --%s=%s is out of range [%llu%s, %llu%s]\n", o->name, arg,
                (unsigned long long)o->min, unit, (unsigned long long)o->max, unit);
        return -1;
    }
    if (o->width == sizeof(uint64_t))
        *(uint64_t *)field = value;
    else
        *(unsigned *)field = (unsigned)value;
    return 0;
bad_number:
    fprintf(stderr, "ringcast: --%s: '%s' is not a valid %s\n", o->name, arg,
            o->kind == OPT_SIZE       ? "size"
            : o->kind == OPT_DURATION ? "duration (" DURATION_SYNTAX ")"
            : o->kind == OPT_SECONDS  ? "duration of whole seconds (" DURATION_SYNTAX ")"
                                      : "number");
    return -1;
}

static bool is_power_of_two(unsigned v)
{
    return v && !(v & (v - 1));
}

bool config_ambient_credentials(const struct rc_config *cfg)
{
    /* Every credential today is explicit: ?token=, Authorization: Bearer or
     * a Sec-WebSocket-Protocol entry, which another site's page cannot
     * borrow. A flag that reads a token from a cookie (the ActionCable
     * dialect's --cable-token-cookie) must make this return true. */
    (void)cfg;
    return false;
}

/* check_origins_guard_cookies: with an ambient credential, any site's page
 * could open a WebSocket connection as its visitor; --ws-origins must then
 * say which pages may. */
static int check_origins_guard_cookies(const struct rc_config *cfg)
{
    if (config_ambient_credentials(cfg) &&
        (!origin_list_given(&cfg->ws_origins) || cfg->ws_origins.any)) {
        fprintf(stderr, "ringcast: a token read from a cookie needs --ws-origins with the "
                        "origins of your pages (not *): any other site could connect as its "
                        "visitors\n");
        return -1;
    }
    return 0;
}

/* check_tls: certificates and keys come in pairs, and a TLS listener
 * needs at least one. */
static int check_tls(const struct rc_tls_config *tls)
{
    if (tls->cert_files.count != tls->key_files.count) {
        fprintf(stderr,
                "ringcast: give one --tls-key for each --tls-cert (%u certificates, %u "
                "keys)\n",
                tls->cert_files.count, tls->key_files.count);
        return -1;
    }
    bool listens = tls->listen.count > 0 || tls->publish_listen.count > 0;
    if (listens && tls->cert_files.count == 0) {
        fprintf(stderr, "ringcast: --tls-listen and --publish-tls-listen need --tls-cert and "
                        "--tls-key\n");
        return -1;
    }
    if (!listens && tls->cert_files.count > 0) {
        fprintf(stderr, "ringcast: --tls-cert without --tls-listen or --publish-tls-listen\n");
        return -1;
    }
    return 0;
}

static int check_config(struct rc_config *cfg)
{
    if (check_origins_guard_cookies(cfg) != 0 || check_tls(&cfg->tls) != 0)
        return -1;
    const struct {
        unsigned value;
        const char *name;
    } pow2[] = {{cfg->ring_size, "ring-size"},
                {cfg->recv_buffers, "recv-buffers"},
                {cfg->uring_entries, "uring-entries"}};
    for (size_t i = 0; i < sizeof(pow2) / sizeof(pow2[0]); i++) {
        if (!is_power_of_two(pow2[i].value)) {
            fprintf(stderr, "ringcast: --%s must be a power of two\n", pow2[i].name);
            return -1;
        }
    }
    if (cfg->auth_previous_secret_file[0] && !cfg->auth_secret_file[0]) {
        fprintf(stderr, "ringcast: --auth-previous-secret-file needs --auth-secret-file\n");
        return -1;
    }
    if (cfg->idle_timeout_ms <= cfg->ping_interval_ms) {
        fprintf(stderr, "ringcast: --idle-timeout must be longer than --ping-interval\n");
        return -1;
    }
    if (cfg->max_message < cfg->max_frame) {
        fprintf(stderr, "ringcast: --max-message must be at least --max-frame\n");
        return -1;
    }
    if (cfg->max_target_bytes == 0)
        cfg->max_target_bytes = cfg->max_header_bytes / 2;
    if (cfg->max_target_bytes >= cfg->max_header_bytes) {
        fprintf(stderr, "ringcast: --max-target-bytes must be below --max-header-bytes\n");
        return -1;
    }
    uint64_t largest_body = (uint64_t)cfg->max_publish_bytes + CONFIG_BODY_OVERHEAD;
    if (cfg->max_body_buffer_bytes == 0)
        cfg->max_body_buffer_bytes =
            largest_body > CONFIG_BODY_BUFFER_DEFAULT ? largest_body : CONFIG_BODY_BUFFER_DEFAULT;
    if (cfg->max_body_buffer_bytes < largest_body) {
        fprintf(stderr, "ringcast: --max-body-buffer-bytes must be at least --max-publish-bytes "
                        "plus 64K (the largest HTTP publish body)\n");
        return -1;
    }
    if (cfg->max_connections < cfg->shards) {
        fprintf(stderr, "ringcast: --max-connections must be at least --shards\n");
        return -1;
    }
    return 0;
}

int config_parse(struct rc_config *cfg, int argc, char **argv)
{
    struct option long_opts[NUM_OPTIONS + 3];
    for (size_t i = 0; i < NUM_OPTIONS; i++) {
        long_opts[i] =
            (struct option){options[i].name, options[i].arg ? required_argument : no_argument, NULL,
                            (int)(i + 256)};
    }
    long_opts[NUM_OPTIONS] = (struct option){"help", no_argument, NULL, 'h'};
    long_opts[NUM_OPTIONS + 1] = (struct option){"version", no_argument, NULL, 'V'};
    long_opts[NUM_OPTIONS + 2] = (struct option){NULL, 0, NULL, 0};

    optind = 1;
    opterr = 0;
    int c;
    while ((c = getopt_long(argc, argv, ":h", long_opts, NULL)) != -1) {
        if (c == 'h') {
            config_usage(stdout);
            return 1;
        }
        if (c == 'V') {
            printf("ringcast %s\n", RC_VERSION);
            return 1;
        }
        if (c == '?' || c == ':') {
            const char *what = c == ':' ? "needs a value" : "is not a known option";
            fprintf(stderr, "ringcast: %s %s (see --help)\n", argv[optind - 1], what);
            return -1;
        }
        if (set_option(cfg, &options[c - 256], optarg) != 0)
            return -1;
        if (options[c - 256].offset == offsetof(struct rc_config, max_connections))
            cfg->max_connections_given = true;
    }
    if (optind < argc) {
        fprintf(stderr, "ringcast: unexpected argument '%s' (see --help)\n", argv[optind]);
        return -1;
    }
    return check_config(cfg);
}
