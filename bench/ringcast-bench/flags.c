/* flags.c: the command line of ringcast-bench: --help and parsing into
 * struct config (see config.h). */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util/cli.h"
#include "util/duration.h"
#include "clock.h"
#include "config.h"
#include "payload.h"
#include "ringcast/protocol.h"
#include "urlenc.h"

#ifndef RINGCAST_VERSION
#define RINGCAST_VERSION "0.1.0"
#endif

#define DEFAULT_ADDR "127.0.0.1:8080"
#define DEFAULT_PUBLISH_ADDR "127.0.0.1:7070"
#define DEFAULT_CONNECTIONS 100
#define DEFAULT_PATTERN "*"
#define DEFAULT_CONCURRENCY 256
#define DEFAULT_WINDOW 64
#define DEFAULT_SIZE 128
#define DEFAULT_RECV_BUFFERS 1024
#define DEFAULT_RECV_BUFFER_SIZE (32 * 1024)
/* connect() searches for a free port among those its source address
 * already uses towards the server; past a few thousand that search costs
 * more than the rest of the connect, so spread early. */
#define CONNS_PER_SOURCE_ADDR 1000
#define MAX_PATTERN_STREAM_BYTES (2ull << 30)

static void usage(FILE *out)
{
    fprintf(
        out,
        "Usage: " PROG " [OPTIONS]\n"
        "\n"
        "Load generator for ringcast: opens N subscriber connections (WebSocket\n"
        "/v1/ws or SSE /v1/sse), publishes events of a fixed size through the binary\n"
        "publish protocol (or HTTP POST /v1/publish), checks every subscriber's\n"
        "stream for lost, duplicated and reordered events, and reports deliveries/s,\n"
        "publishes/s, end-to-end latency percentiles and CPU use. With --target\n"
        "nchan or nats the same run goes against nginx with the nchan module or\n"
        "nats-server instead.\n"
        "\n"
        "A run: connect and subscribe every connection; publish for --warmup, then\n"
        "measure for --duration; stop publishing and wait up to --drain for the\n"
        "events in flight; close every connection. Rates, latencies and CPU times\n"
        "cover the measured window only; the loss check covers the whole run.\n"
        "\n"
        "Server:\n"
        "  --target ringcast|nchan|nats  the server under test (default ringcast).\n"
        "                           nchan:\n"
        "                           nginx with nchan (bench/nchan/nchan.conf.in);\n"
        "                           subscribers open ws://HOST/sub/TOPIC (WebSocket)\n"
        "                           or GET /sub/TOPIC with Accept: text/event-stream\n"
        "                           (SSE), with no subscribe message; publishers POST\n"
        "                           to /pub/TOPIC (keep-alive, pipelined; 201 or 202\n"
        "                           is success; implies --http-publish). Events arrive\n"
        "                           as raw payloads, without seq: the payload carries\n"
        "                           the topic's own sequence number \"s\" (1, 2, 3, ..\n"
        "                           per topic; so --publishers <= --topics) and the\n"
        "                           stream check uses it. Needs --size >= %d; no\n"
        "                           --pattern-share, no --token-file. nats:\n"
        "                           nats-server with websocket on --addr (no TLS):\n"
        "                           subscribers speak the NATS protocol over WebSocket\n"
        "                           (INFO, CONNECT, SUB, PING; set up at the PONG),\n"
        "                           publishers PUB on its client port (--publish-addr)\n"
        "                           and a publish counts as done at the PONG that\n"
        "                           answers the PING after its batch; payloads as for\n"
        "                           nchan, with the same limits\n"
        "  --addr HOST:PORT         client port: /v1/ws, /v1/sse, and /v1/publish with\n"
        "                           --http-publish (default " DEFAULT_ADDR ")\n"
        "  --publish-addr HOST:PORT binary publish port; for nats, its client port\n"
        "                           (default " DEFAULT_PUBLISH_ADDR ")\n"
        "  --server-pid PID[,PID..] also report the server's CPU time (utime+stime from\n"
        "                           /proc/PID/stat) over the measured window and its RSS\n"
        "                           (VmRSS) before the connections and at the window's\n"
        "                           end; several PIDs (up to %d, e.g. nginx's master and\n"
        "                           workers) are summed (default: none)\n"
        "  --token-file FILE        a token (JWT) for servers with --auth-secret-file:\n"
        "                           subscribers send it as ?token=, publishers in HELLO\n"
        "                           or as Authorization: Bearer (default: none)\n"
        "\n"
        "Subscribers:\n"
        "  --protocol ws|sse        WebSocket /v1/ws (masked client frames, one\n"
        "                           subscribe message) or SSE /v1/sse?topic=T (default ws)\n"
        "  -c, --connections N      subscriber connections (default %d). Needs N file\n"
        "                           descriptors plus a few (fewer with --fixed-files);\n"
        "                           the soft limit is raised to the hard one, and a run\n"
        "                           that cannot fit is refused\n"
        "  --topics K               topics, named PREFIX-0 .. PREFIX-(K-1); the exact\n"
        "                           subscribers take them in turn (default 1)\n"
        "  --topic-prefix PREFIX    topic name prefix (default bench)\n"
        "  --pattern-share F        fraction (0..1) of the connections, spread evenly,\n"
        "                           that subscribe to --pattern instead of one topic;\n"
        "                           each receives every topic the pattern matches\n"
        "                           (default 0)\n"
        "  --pattern PATTERN        the pattern for --pattern-share, with the server's\n"
        "                           rules: '*' alone matches every topic, 'a:*' one\n"
        "                           segment, 'a:>' one or more; with --topic-prefix\n"
        "                           app:bench, 'app:*' matches all K topics (default \"*\")\n"
        "  --source-addrs N         bind the connections round-robin to 127.0.0.1 ..\n"
        "                           127.0.0.N before connecting, for more connections\n"
        "                           than one source address has ports, and cheaper\n"
        "                           connects; only for a 127.0.0.0/8 server (default:\n"
        "                           one per %d connections, at most 254)\n"
        "  --threads T              subscriber threads, each with its own io_uring and\n"
        "                           connections (default 1; use a core the server does\n"
        "                           not need)\n"
        "  --connect-concurrency N  connection setups in flight per thread (default %d)\n"
        "  --connect-timeout DUR    connect, handshake and subscription of one connection\n"
        "                           (default 10s). Connecting stops after 1%% of the\n"
        "                           connections (at least 10) failed; the run goes on\n"
        "                           with the others and fails\n"
        "  --close-timeout DUR      wait for the server's close at the end (default 2s)\n"
        "  --recv-buffers N         receive buffers per thread, a power of two (default %d)\n"
        "  --recv-buffer-size BYTES size of each (default 32K)\n"
        "  --deflate                WebSocket subscribers offer permessage-deflate\n"
        "                           (RFC 7692) and inflate the compressed events (zlib,\n"
        "                           a stream reset per message); recv_mib_per_s then\n"
        "                           counts the compressed bytes on the wire\n"
        "  --no-multishot           plain receives with a 4 KiB buffer per connection\n"
        "                           instead of multishot receives into a provided-buffer\n"
        "                           ring (used anyway when the kernel lacks them)\n"
        "  --fixed-files auto|on|off once a connection is subscribed, move its socket\n"
        "                           into its thread's io_uring file table (a registered,\n"
        "                           \"direct\" file) and close its descriptor: then only\n"
        "                           the setups in flight hold descriptors, and each\n"
        "                           thread holds up to RLIMIT_NOFILE's hard limit of\n"
        "                           connections (so -c 100000 with a limit of 20000\n"
        "                           needs --threads 5 or more). auto: on when the\n"
        "                           connections do not fit in the limit as descriptors,\n"
        "                           and the kernel has sparse file tables (default auto)\n"
        "\n"
        "TLS:\n"
        "  --tls                    subscribers over TLS (--addr is a --tls-listen port);\n"
        "                           multishot receives, no fixed files\n"
        "  --tls-resume             --tls, and every connection after a thread's first\n"
        "                           resumes the newest session (ticket) the server gave\n"
        "                           that thread: connects measure resumed handshakes\n"
        "  --publish-tls            publishers over TLS (--publish-addr is a\n"
        "                           --publish-tls-listen port), with --ca-file\n"
        "  --ca-file FILE           PEM CAs: the server's certificate is verified (without\n"
        "                           it, subscribers accept any certificate)\n"
        "\n"
        "Publishers:\n"
        "  --publishers P           publisher connections, one thread each (default 1);\n"
        "                           publisher p publishes to topics p, p+P, p+2P, ...\n"
        "  --http-publish           publish with HTTP POST /v1/publish?topic=T (raw form,\n"
        "                           keep-alive, pipelined) on --addr instead of the\n"
        "                           binary protocol\n"
        "  --rate R                 open loop: R events/s in all (suffix k or M allowed),\n"
        "                           each stamped with its scheduled send time, so a\n"
        "                           generator that falls behind shows in the latency\n"
        "                           (how late each send was: \"sent late\");\n"
        "                           0: closed loop, as fast as --window allows (default 0)\n"
        "  --window W               closed loop: publishes in flight per publisher, at\n"
        "                           most what the server allows (default %d)\n"
        "  --size BYTES             payload size, at least %d (default %d). The payload is\n"
        "                           JSON {\"n\":COUNTER,\"t\":SEND_TIME_NS,\"p\":\"xx..\"}; the\n"
        "                           server truncates payloads over its --max-payload\n"
        "\n"
        "Time (DUR: " DURATION_SYNTAX ";\n"
        "a bare number is seconds):\n"
        "  --warmup DUR             publishing before the measurement (default 2s)\n"
        "  --duration DUR           the measured window (default 10s)\n"
        "  --drain DUR              after publishing stops, wait at most this long for\n"
        "                           every subscriber to get every event (default 5s)\n"
        "\n"
        "Output:\n"
        "  --json                   print only the JSON line (default: a table, then the\n"
        "                           JSON line as the last line of standard output)\n"
        "  -h, --help               show this help and exit\n"
        "  -V, --version            show the version and exit\n"
        "\n"
        "While running, a status line is updated once a second on standard error when\n"
        "it is a terminal. Lost, duplicated and reordered events are counted per\n"
        "subscriber and topic from the events' seq; a subscriber the server closed as\n"
        "slow (WebSocket close 4001) is reported and its later events are not counted\n"
        "as lost.\n"
        "\n"
        "Exit status: 0 the run completed cleanly; 1 the run failed (lost, duplicated\n"
        "or reordered events, connection or publish failures, slow-consumer closes,\n"
        "events still missing after --drain, not enough file descriptors, or\n"
        "--fixed-files on without kernel support);\n"
        "2 usage error.\n"
        "\n"
        "Examples:\n"
        "  " PROG " -c 1000 --topics 1 --size 128 --duration 10s --server-pid $(pidof ringcast)\n"
        "  " PROG " -c 10000 --topics 100 --rate 20k --publishers 2 --threads 2\n"
        "  " PROG " --protocol sse -c 500 --topics 4 --http-publish --json\n"
        "  " PROG " -c 100000 --threads 6 --topics 1000 --rate 1k --fixed-files on\n"
        "  " PROG " --target nchan --addr 127.0.0.1:8090 -c 1000 --server-pid 123,124\n",
        PAYLOAD_MIN_SIZE_SEQ, MAX_SERVER_PIDS, DEFAULT_CONNECTIONS, CONNS_PER_SOURCE_ADDR,
        DEFAULT_CONCURRENCY, DEFAULT_RECV_BUFFERS, DEFAULT_WINDOW, PAYLOAD_MIN_SIZE, DEFAULT_SIZE);
}

/* parse_u64 parses a whole decimal number in [min, max]. */
static int parse_u64(const char *s, uint64_t min, uint64_t max, uint64_t *out)
{
    char *end;

    if (s[0] < '0' || s[0] > '9')
        return -1;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno != 0 || *end != '\0' || v < min || v > max)
        return -1;
    *out = v;
    return 0;
}

/* A unit suffix and its factor. */
struct suffix {
    const char *text;
    double factor;
};

/* parse_scaled parses a non-negative number with an optional suffix from
 * |suffixes|. */
static const struct suffix no_units[] = {{NULL, 0}};

static int parse_scaled(const char *s, const struct suffix *suffixes, double *out)
{
    char *end;

    if ((s[0] < '0' || s[0] > '9') && s[0] != '.')
        return -1;
    errno = 0;
    double v = strtod(s, &end);
    if (errno != 0 || end == s || !(v >= 0 && v <= 1e18))
        return -1;
    const struct suffix *sf = suffixes;
    while (sf->text != NULL && strcmp(end, sf->text) != 0)
        sf++;
    if (sf->text != NULL)
        v *= sf->factor;
    else if (*end != '\0')
        return -1;
    *out = v;
    return 0;
}

/* parse_duration reads a duration (util/duration.h; a bare number is
 * seconds) of at most a day. */
static int parse_duration(const char *s, uint64_t *out_ns)
{
    uint64_t ms;

    if (duration_parse(s, DURATION_MS_PER_S, &ms) != 0 || ms > (uint64_t)86400 * 1000)
        return -1;
    *out_ns = ms * NS_PER_MS;
    return 0;
}

static int parse_bytes(const char *s, uint64_t min, uint64_t max, uint64_t *out)
{
    static const struct suffix units[] = {
        {"K", 1024.0},
        {"M", 1048576.0},
        {"G", 1073741824.0},
        {NULL, 0},
    };
    double v;

    if (parse_scaled(s, units, &v) < 0 || v != (double)(uint64_t)v || v < (double)min ||
        v > (double)max)
        return -1;
    *out = (uint64_t)v;
    return 0;
}

/* parse_addr resolves an IPv4 "HOST:PORT". */
static int parse_addr(const char *s, struct sockaddr_in *out)
{
    const char *colon = strrchr(s, ':');
    char host[256];

    if (colon == NULL || colon == s || (size_t)(colon - s) >= sizeof(host) || colon[1] == '\0')
        return -1;
    memcpy(host, s, (size_t)(colon - s));
    host[colon - s] = '\0';
    uint64_t port;
    if (parse_u64(colon + 1, 1, 65535, &port) < 0)
        return -1;
    struct addrinfo hints = {.ai_family = AF_INET, .ai_socktype = SOCK_STREAM};
    struct addrinfo *res;
    if (getaddrinfo(host, NULL, &hints, &res) != 0)
        return -1;
    memcpy(out, res->ai_addr, sizeof(*out));
    out->sin_port = htons((uint16_t)port);
    freeaddrinfo(res);
    return 0;
}

/* token_query returns "token=<percent-encoded token>", malloc'd. */
static char *token_query(const char *token)
{
    size_t len = strlen(token);
    char *out = malloc(6 + 3 * len + 1);

    if (out == NULL)
        return NULL;
    memcpy(out, "token=", 6);
    out[6 + urlenc_append(out + 6, token, len)] = '\0';
    return out;
}

enum {
    OPT_ADDR = 256,
    OPT_PUBLISH_ADDR,
    OPT_SERVER_PID,
    OPT_TOKEN_FILE,
    OPT_PROTOCOL,
    OPT_TOPICS,
    OPT_TOPIC_PREFIX,
    OPT_PATTERN_SHARE,
    OPT_PATTERN,
    OPT_SOURCE_ADDRS,
    OPT_THREADS,
    OPT_CONNECT_CONCURRENCY,
    OPT_CONNECT_TIMEOUT,
    OPT_CLOSE_TIMEOUT,
    OPT_RECV_BUFFERS,
    OPT_RECV_BUFFER_SIZE,
    OPT_NO_MULTISHOT,
    OPT_FIXED_FILES,
    OPT_PUBLISHERS,
    OPT_HTTP_PUBLISH,
    OPT_DEFLATE,
    OPT_RATE,
    OPT_WINDOW,
    OPT_SIZE,
    OPT_WARMUP,
    OPT_DURATION,
    OPT_DRAIN,
    OPT_JSON,
    OPT_TARGET,
    OPT_TLS,
    OPT_TLS_RESUME,
    OPT_PUBLISH_TLS,
    OPT_CA_FILE,
};

static const struct option longopts[] = {
    {"target", required_argument, NULL, OPT_TARGET},
    {"addr", required_argument, NULL, OPT_ADDR},
    {"publish-addr", required_argument, NULL, OPT_PUBLISH_ADDR},
    {"server-pid", required_argument, NULL, OPT_SERVER_PID},
    {"token-file", required_argument, NULL, OPT_TOKEN_FILE},
    {"protocol", required_argument, NULL, OPT_PROTOCOL},
    {"connections", required_argument, NULL, 'c'},
    {"topics", required_argument, NULL, OPT_TOPICS},
    {"topic-prefix", required_argument, NULL, OPT_TOPIC_PREFIX},
    {"pattern-share", required_argument, NULL, OPT_PATTERN_SHARE},
    {"pattern", required_argument, NULL, OPT_PATTERN},
    {"source-addrs", required_argument, NULL, OPT_SOURCE_ADDRS},
    {"threads", required_argument, NULL, OPT_THREADS},
    {"connect-concurrency", required_argument, NULL, OPT_CONNECT_CONCURRENCY},
    {"connect-timeout", required_argument, NULL, OPT_CONNECT_TIMEOUT},
    {"close-timeout", required_argument, NULL, OPT_CLOSE_TIMEOUT},
    {"recv-buffers", required_argument, NULL, OPT_RECV_BUFFERS},
    {"recv-buffer-size", required_argument, NULL, OPT_RECV_BUFFER_SIZE},
    {"no-multishot", no_argument, NULL, OPT_NO_MULTISHOT},
    {"deflate", no_argument, NULL, OPT_DEFLATE},
    {"fixed-files", required_argument, NULL, OPT_FIXED_FILES},
    {"publishers", required_argument, NULL, OPT_PUBLISHERS},
    {"http-publish", no_argument, NULL, OPT_HTTP_PUBLISH},
    {"rate", required_argument, NULL, OPT_RATE},
    {"window", required_argument, NULL, OPT_WINDOW},
    {"size", required_argument, NULL, OPT_SIZE},
    {"warmup", required_argument, NULL, OPT_WARMUP},
    {"duration", required_argument, NULL, OPT_DURATION},
    {"drain", required_argument, NULL, OPT_DRAIN},
    {"json", no_argument, NULL, OPT_JSON},
    {"tls", no_argument, NULL, OPT_TLS},
    {"tls-resume", no_argument, NULL, OPT_TLS_RESUME},
    {"publish-tls", no_argument, NULL, OPT_PUBLISH_TLS},
    {"ca-file", required_argument, NULL, OPT_CA_FILE},
    {"help", no_argument, NULL, 'h'},
    {"version", no_argument, NULL, 'V'},
    {NULL, 0, NULL, 0},
};

static void set_defaults(struct config *cfg)
{
    memset(cfg, 0, sizeof(*cfg));
    cfg->addr = DEFAULT_ADDR;
    cfg->publish_addr = DEFAULT_PUBLISH_ADDR;
    cfg->protocol = PROTO_WS;
    cfg->connections = DEFAULT_CONNECTIONS;
    cfg->topics.prefix = "bench";
    cfg->topics.count = 1;
    cfg->topics.pattern = DEFAULT_PATTERN;
    cfg->threads = 1;
    cfg->connect_concurrency = DEFAULT_CONCURRENCY;
    cfg->recv_buffers = DEFAULT_RECV_BUFFERS;
    cfg->recv_buffer_size = DEFAULT_RECV_BUFFER_SIZE;
    cfg->publishers = 1;
    cfg->window = DEFAULT_WINDOW;
    cfg->size = DEFAULT_SIZE;
    cfg->warmup_ns = 2 * NS_PER_SEC;
    cfg->duration_ns = 10 * NS_PER_SEC;
    cfg->drain_ns = 5 * NS_PER_SEC;
    cfg->connect_timeout_ns = 10 * NS_PER_SEC;
    cfg->close_timeout_ns = 2 * NS_PER_SEC;
}

/* bad_value reports a flag value that does not parse. */
static int bad_value(const char *flag, const char *expected, const char *got)
{
    return cli_usage_error(PROG, "--%s: expected %s, got \"%s\"", flag, expected, got);
}

/* apply_option handles one option; returns -1 to go on, or an exit
 * status. */
static int apply_option(struct config *cfg, int opt, const char *arg, const char *name,
                        bool *source_addrs_given)
{
    uint64_t v;
    double d;
    static const struct suffix rate_units[] = {{"k", 1e3}, {"M", 1e6}, {NULL, 0}};

    switch (opt) {
    case OPT_ADDR:
        cfg->addr = arg;
        return -1;
    case OPT_PUBLISH_ADDR:
        cfg->publish_addr = arg;
        return -1;
    case OPT_TLS:
        cfg->tls = true;
        return -1;
    case OPT_TLS_RESUME:
        cfg->tls = cfg->tls_resume = true;
        return -1;
    case OPT_PUBLISH_TLS:
        cfg->publish_tls = true;
        return -1;
    case OPT_CA_FILE:
        cfg->ca_file = arg;
        return -1;
    case OPT_TARGET:
        if (strcmp(arg, "ringcast") == 0)
            cfg->target = TARGET_RINGCAST;
        else if (strcmp(arg, "nchan") == 0)
            cfg->target = TARGET_NCHAN;
        else if (strcmp(arg, "nats") == 0)
            cfg->target = TARGET_NATS;
        else
            return bad_value(name, "ringcast, nchan or nats", arg);
        return -1;
    case OPT_SERVER_PID: {
        char one[32];
        const char *p = arg;
        cfg->num_server_pids = 0;
        for (;;) {
            size_t len = strcspn(p, ",");
            if (len == 0 || len >= sizeof(one) || cfg->num_server_pids == MAX_SERVER_PIDS)
                return bad_value(name, "process ids separated by commas", arg);
            memcpy(one, p, len);
            one[len] = '\0';
            if (parse_u64(one, 1, INT32_MAX, &v) < 0)
                return bad_value(name, "process ids separated by commas", arg);
            cfg->server_pids[cfg->num_server_pids++] = (pid_t)v;
            if (p[len] == '\0')
                break;
            p += len + 1;
        }
        return -1;
    }
    case OPT_TOKEN_FILE:
        free(cfg->token);
        cfg->token = cli_read_token_file(PROG, arg, RC_MAX_TOKEN_LEN);
        return cfg->token ? -1 : EXIT_USAGE;
    case OPT_PROTOCOL:
        if (strcmp(arg, "ws") != 0 && strcmp(arg, "sse") != 0)
            return bad_value(name, "ws or sse", arg);
        cfg->protocol = strcmp(arg, "ws") == 0 ? PROTO_WS : PROTO_SSE;
        return -1;
    case 'c':
        if (parse_u64(arg, 1, 10000000, &v) < 0)
            return bad_value(name, "a number from 1 to 10000000", arg);
        cfg->connections = (uint32_t)v;
        return -1;
    case OPT_TOPICS:
        if (parse_u64(arg, 1, 1000000, &v) < 0)
            return bad_value(name, "a number from 1 to 1000000", arg);
        cfg->topics.count = (uint32_t)v;
        return -1;
    case OPT_TOPIC_PREFIX:
        if (arg[0] == '\0' || strlen(arg) > TOPIC_MAX_LEN - 16)
            return bad_value(name, "a non-empty prefix of at most 240 bytes", arg);
        cfg->topics.prefix = arg;
        return -1;
    case OPT_PATTERN_SHARE:
        if (parse_scaled(arg, no_units, &d) < 0 || d > 1)
            return bad_value(name, "a fraction from 0 to 1", arg);
        cfg->topics.pattern_share = d;
        return -1;
    case OPT_PATTERN:
        if (arg[0] == '\0' || strlen(arg) > TOPIC_MAX_LEN)
            return bad_value(name, "a pattern of 1 to 256 bytes", arg);
        cfg->topics.pattern = arg;
        return -1;
    case OPT_SOURCE_ADDRS:
        if (parse_u64(arg, 1, 254, &v) < 0)
            return bad_value(name, "a number from 1 to 254", arg);
        cfg->source_addrs = (uint32_t)v;
        *source_addrs_given = true;
        return -1;
    case OPT_THREADS:
        if (parse_u64(arg, 1, 64, &v) < 0)
            return bad_value(name, "a number from 1 to 64", arg);
        cfg->threads = (uint32_t)v;
        return -1;
    case OPT_CONNECT_CONCURRENCY:
        if (parse_u64(arg, 1, 65536, &v) < 0)
            return bad_value(name, "a number from 1 to 65536", arg);
        cfg->connect_concurrency = (uint32_t)v;
        return -1;
    case OPT_CONNECT_TIMEOUT:
    case OPT_CLOSE_TIMEOUT:
    case OPT_WARMUP:
    case OPT_DURATION:
    case OPT_DRAIN: {
        uint64_t ns;
        if (parse_duration(arg, &ns) < 0)
            return bad_value(name, "a duration such as 10s, 500ms or 1m (at most a day)", arg);
        bool positive = opt != OPT_WARMUP && opt != OPT_DRAIN;
        if (positive && ns < NS_PER_MS)
            return bad_value(name, "a duration of at least 1ms", arg);
        if (opt == OPT_CONNECT_TIMEOUT)
            cfg->connect_timeout_ns = ns;
        else if (opt == OPT_CLOSE_TIMEOUT)
            cfg->close_timeout_ns = ns;
        else if (opt == OPT_WARMUP)
            cfg->warmup_ns = ns;
        else if (opt == OPT_DURATION)
            cfg->duration_ns = ns;
        else
            cfg->drain_ns = ns;
        return -1;
    }
    case OPT_RECV_BUFFERS:
        if (parse_u64(arg, 8, 32768, &v) < 0 || (v & (v - 1)) != 0)
            return bad_value(name, "a power of two from 8 to 32768", arg);
        cfg->recv_buffers = (uint32_t)v;
        return -1;
    case OPT_RECV_BUFFER_SIZE:
        if (parse_bytes(arg, 1024, 1 << 20, &v) < 0)
            return bad_value(name, "bytes from 1K to 1M", arg);
        cfg->recv_buffer_size = (uint32_t)v;
        return -1;
    case OPT_NO_MULTISHOT:
        cfg->no_multishot = true;
        return -1;
    case OPT_FIXED_FILES:
        if (strcmp(arg, "auto") == 0)
            cfg->fixed_files_mode = FIXED_FILES_AUTO;
        else if (strcmp(arg, "on") == 0)
            cfg->fixed_files_mode = FIXED_FILES_ON;
        else if (strcmp(arg, "off") == 0)
            cfg->fixed_files_mode = FIXED_FILES_OFF;
        else
            return bad_value(name, "auto, on or off", arg);
        return -1;
    case OPT_PUBLISHERS:
        if (parse_u64(arg, 1, 64, &v) < 0)
            return bad_value(name, "a number from 1 to 64", arg);
        cfg->publishers = (uint32_t)v;
        return -1;
    case OPT_HTTP_PUBLISH:
        cfg->http_publish = true;
        return -1;
    case OPT_DEFLATE:
        cfg->deflate = true;
        return -1;
    case OPT_RATE:
        if (parse_scaled(arg, rate_units, &d) < 0 || d > 1e9)
            return bad_value(name, "events per second (0 for closed loop; k and M allowed)", arg);
        cfg->rate = d;
        return -1;
    case OPT_WINDOW:
        if (parse_u64(arg, 1, 65536, &v) < 0)
            return bad_value(name, "a number from 1 to 65536", arg);
        cfg->window = (uint32_t)v;
        return -1;
    case OPT_SIZE:
        if (parse_bytes(arg, PAYLOAD_MIN_SIZE, 16 << 20, &v) < 0)
            return bad_value(name, "bytes from 64 to 16M", arg);
        cfg->size = (uint32_t)v;
        return -1;
    case OPT_JSON:
        cfg->json_only = true;
        return -1;
    }
    return cli_usage_error(PROG, "unknown option");
}

/* check_config checks what single flags cannot, and derives the rest. */
static int check_config(struct config *cfg, bool source_addrs_given)
{
    if (parse_addr(cfg->addr, &cfg->client_sa) < 0)
        return bad_value("addr", "an IPv4 HOST:PORT", cfg->addr);
    snprintf(cfg->host_header, sizeof(cfg->host_header), "%s:%u",
             inet_ntoa(cfg->client_sa.sin_addr), ntohs(cfg->client_sa.sin_port));
    bool loopback = (ntohl(cfg->client_sa.sin_addr.s_addr) >> 24) == 127;
    if (!loopback && source_addrs_given)
        return cli_usage_error(PROG, "--source-addrs needs a server on 127.0.0.0/8");
    if (!source_addrs_given)
        cfg->source_addrs =
            loopback ? (cfg->connections + CONNS_PER_SOURCE_ADDR - 1) / CONNS_PER_SOURCE_ADDR : 0;
    if (cfg->source_addrs > 254)
        cfg->source_addrs = 254;

    struct topics *t = &cfg->topics;
    t->prefix_len = strlen(t->prefix);
    t->connections = cfg->connections;
    if (t->pattern_share > 0) {
        uint32_t matches = 0;
        for (uint32_t k = 0; k < t->count; k++)
            matches += topics_pattern_matches(t, k);
        if (matches == 0)
            return cli_usage_error(PROG,
                                   "--pattern \"%s\" matches none of the topics %s-0 .. %s-%u",
                                   t->pattern, t->prefix, t->prefix, t->count - 1);
        double stream_bytes =
            t->pattern_share * cfg->connections * (double)t->count * 24.0; /* struct stream */
        if (stream_bytes > (double)MAX_PATTERN_STREAM_BYTES)
            return cli_usage_error(PROG,
                                   "--pattern-share with %u topics needs %.0f MiB of stream "
                                   "state; use fewer topics or pattern connections",
                                   t->count, stream_bytes / 1048576.0);
    }
    if (cfg->target != TARGET_RINGCAST) {
        const char *target = cfg->target == TARGET_NCHAN ? "nchan" : "nats";
        if (t->pattern_share > 0)
            return cli_usage_error(PROG, "--target %s has no patterns (--pattern-share)", target);
        if (cfg->token != NULL)
            return cli_usage_error(PROG, "--target %s takes no --token-file", target);
        if (cfg->size < PAYLOAD_MIN_SIZE_SEQ)
            return cli_usage_error(PROG, "--target %s needs --size of at least %d, got %u", target,
                                   PAYLOAD_MIN_SIZE_SEQ, cfg->size);
        if (cfg->publishers > t->count)
            return cli_usage_error(PROG,
                                   "--target %s needs --publishers <= --topics (each topic's "
                                   "events are numbered by its one publisher)",
                                   target);
    }
    if (cfg->target == TARGET_NCHAN)
        cfg->http_publish = true;
    if (cfg->target == TARGET_NATS) {
        if (cfg->http_publish || cfg->protocol != PROTO_WS)
            return cli_usage_error(PROG, "--target nats takes WebSocket subscribers and its own "
                                         "publish protocol (no --protocol sse, no --http-publish)");
        if (parse_addr(cfg->publish_addr, &cfg->publish_sa) < 0)
            return bad_value("publish-addr", "an IPv4 HOST:PORT", cfg->publish_addr);
    }
    if (cfg->tls || cfg->publish_tls) {
        if (cfg->target == TARGET_NCHAN)
            return cli_usage_error(PROG, "--tls and --publish-tls are for --target ringcast");
        if (cfg->tls && (cfg->no_multishot || cfg->fixed_files_mode == FIXED_FILES_ON))
            return cli_usage_error(PROG, "--tls needs multishot receives and no fixed files");
        if (cfg->publish_tls && (cfg->http_publish || cfg->ca_file == NULL))
            return cli_usage_error(PROG, "--publish-tls needs the binary protocol and --ca-file");
        if (cfg->tls)
            cfg->fixed_files_mode = FIXED_FILES_OFF;
    }
    if (cfg->threads > cfg->connections)
        cfg->threads = cfg->connections;
    if (cfg->token != NULL && (cfg->token_query = token_query(cfg->token)) == NULL) {
        cli_error(PROG, "out of memory");
        return EXIT_FAILED;
    }
    cfg->progress = isatty(STDERR_FILENO) == 1;
    return -1;
}

int flags_parse(struct config *cfg, int argc, char **argv)
{
    bool source_addrs_given = false;
    int opt, status;

    set_defaults(cfg);
    opterr = 0;
    optind = 1;
    while ((opt = getopt_long(argc, argv, ":c:hV", longopts, NULL)) != -1) {
        switch (opt) {
        case 'h':
            usage(stdout);
            return fflush(stdout) == 0 ? EXIT_OK : EXIT_FAILED;
        case 'V':
            printf(PROG " " RINGCAST_VERSION "\n");
            return fflush(stdout) == 0 ? EXIT_OK : EXIT_FAILED;
        case ':':
            return cli_usage_error(PROG, "option %s needs a value", argv[optind - 1]);
        case '?':
            if (optopt != 0 && optopt < 256)
                return cli_usage_error(PROG, "unknown option -%c", optopt);
            return cli_usage_error(PROG, "unknown option %s", argv[optind - 1]);
        default: {
            const char *name = "c";
            for (const struct option *o = longopts; o->name != NULL; o++)
                if (o->val == opt)
                    name = o->name;
            status = apply_option(cfg, opt, optarg, name, &source_addrs_given);
            if (status >= 0)
                return status;
        }
        }
    }
    if (optind < argc)
        return cli_usage_error(PROG, "unexpected argument \"%s\"", argv[optind]);
    return check_config(cfg, source_addrs_given);
}

void flags_free(struct config *cfg)
{
    free(cfg->token);
    free(cfg->token_query);
    cfg->token = cfg->token_query = NULL;
}
