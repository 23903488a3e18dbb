/* test_config.c: unit tests for src/util/config.h (command-line flags). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util/config.h"
#include "util/log.h"

/* run parses "ringcast ARGS..." into |cfg| (which starts from the
 * defaults). The arguments are string literals, so getopt's pointers into
 * them stay valid between calls. */
static int run_argv(struct rc_config *cfg, int argc, const char *const *args)
{
    char *argv[32];
    assert_true(argc < 31);
    argv[0] = (char *)"ringcast";
    for (int i = 0; i < argc; i++)
        argv[i + 1] = (char *)args[i];
    argv[argc + 1] = NULL;
    config_defaults(cfg);
    return config_parse(cfg, argc + 1, argv);
}

#define RUN(cfg, ...)                                                                              \
    run_argv((cfg), (int)(sizeof((const char *[]){__VA_ARGS__}) / sizeof(const char *)),           \
             (const char *[]){__VA_ARGS__})

static void expect_rejected(const char *arg)
{
    struct rc_config cfg;
    int rc = RUN(&cfg, arg);
    if (rc != -1)
        fail_msg("'%s' was accepted (%d); want -1", arg, rc);
}

static void expect_rejected2(const char *a, const char *b)
{
    struct rc_config cfg;
    int rc = RUN(&cfg, a, b);
    if (rc != -1)
        fail_msg("'%s %s' was accepted (%d); want -1", a, b, rc);
}

static void check_v4(const struct rc_endpoint *e, const char *addr, uint16_t port)
{
    const struct sockaddr_in *a = (const struct sockaddr_in *)&e->addr;
    assert_int_equal(a->sin_family, AF_INET);
    assert_int_equal(ntohs(a->sin_port), port);
    assert_int_equal(e->addr_len, sizeof(struct sockaddr_in));
    char text[INET_ADDRSTRLEN];
    assert_non_null(inet_ntop(AF_INET, &a->sin_addr, text, sizeof(text)));
    assert_string_equal(text, addr);
}

static void check_v6(const struct rc_endpoint *e, const char *addr, uint16_t port)
{
    const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)&e->addr;
    assert_int_equal(a->sin6_family, AF_INET6);
    assert_int_equal(ntohs(a->sin6_port), port);
    assert_int_equal(e->addr_len, sizeof(struct sockaddr_in6));
    char text[INET6_ADDRSTRLEN];
    assert_non_null(inet_ntop(AF_INET6, &a->sin6_addr, text, sizeof(text)));
    assert_string_equal(text, addr);
}

static void test_defaults(void **state)
{
    struct rc_config cfg;
    memset(&cfg, 0xa5, sizeof(cfg));
    config_defaults(&cfg);
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    assert_int_equal(cfg.shards, cpus > 0 ? (unsigned)cpus : 1);
    check_v4(&cfg.listen, "127.0.0.1", 8080);
    assert_string_equal(cfg.listen.text, "127.0.0.1:8080");
    check_v4(&cfg.publish_listen, "127.0.0.1", 7070);
    assert_string_equal(cfg.publish_listen.text, "127.0.0.1:7070");
    assert_int_equal(cfg.max_connections, 1000000);
    assert_int_equal(cfg.max_connections_per_ip, 10000);
    assert_int_equal(cfg.max_connections_per_sub, 1000);
    assert_int_equal(cfg.max_handshakes, 4096);
    assert_int_equal(cfg.max_body_buffer_bytes, 0); /* resolved by config_parse */
    assert_int_equal(cfg.subscribe_rate_conn.per_sec, 20);
    assert_int_equal(cfg.subscribe_rate_conn.burst, 100);
    assert_int_equal(cfg.subscribe_rate_sub.per_sec, 200);
    assert_int_equal(cfg.subscribe_rate_sub.burst, 1000);
    assert_int_equal(cfg.publish_rate_conn.per_sec, 100000);
    assert_int_equal(cfg.publish_rate_conn.burst, 100000);
    assert_int_equal(cfg.publish_rate_sub.per_sec, 1000000);
    assert_int_equal(cfg.publish_rate_sub.burst, 1000000);
    assert_int_equal(cfg.max_frame, 64 * 1024);
    assert_int_equal(cfg.max_message, 64 * 1024);
    assert_int_equal(cfg.max_topics_per_conn, 1024);
    assert_int_equal(cfg.max_topic_length, 256);
    assert_int_equal(cfg.max_queued_bytes, 8 * 1024 * 1024);
    assert_int_equal(cfg.max_publish_bytes, 16 * 1024 * 1024);
    assert_int_equal(cfg.max_inflight, 1024);
    assert_int_equal(cfg.max_topics, 1000000);
    assert_int_equal(cfg.dedup_entries, 100000);
    assert_int_equal(cfg.dedup_seconds, 600);
    assert_int_equal(cfg.max_header_bytes, 8192);
    assert_int_equal(cfg.handshake_timeout_ms, 10000);
    assert_int_equal(cfg.close_timeout_ms, 2000);
    assert_int_equal(cfg.shutdown_timeout_ms, 5000);
    assert_int_equal(cfg.ring_size, 4096);
    assert_int_equal(cfg.recv_buffers, 1024);
    assert_int_equal(cfg.recv_buffer_size, 16384);
    assert_int_equal(cfg.uring_entries, 4096);
    assert_false(cfg.pin_shards);
    assert_int_equal(cfg.log_level, RC_LOG_INFO);
}

/* resolve_defaults applies the defaults that depend on other flags, as
 * documented in --help: --max-target-bytes is half of --max-header-bytes. */
static void resolve_defaults(struct rc_config *cfg)
{
    if (cfg->max_target_bytes == 0)
        cfg->max_target_bytes = cfg->max_header_bytes / 2;
    uint64_t largest_body = (uint64_t)cfg->max_publish_bytes + 65536;
    if (cfg->max_body_buffer_bytes == 0)
        cfg->max_body_buffer_bytes = largest_body > 64 << 20 ? largest_body : 64 << 20;
}

static void test_no_arguments(void **state)
{
    struct rc_config cfg, defaults;
    char *argv[] = {(char *)"ringcast", NULL};
    config_defaults(&cfg);
    config_defaults(&defaults);
    assert_int_equal(config_parse(&cfg, 1, argv), 0);
    assert_int_equal(cfg.max_target_bytes, 4096);
    resolve_defaults(&defaults);
    assert_memory_equal(&cfg, &defaults, sizeof(cfg));
}

/* Each flag fills its own field, with the right width, and nothing else. */
struct flag_case {
    const char *arg;
    size_t offset, width;
    uint64_t value;
};

#define F(field) offsetof(struct rc_config, field), sizeof(((struct rc_config *)0)->field)

static void test_each_flag(void **state)
{
    static const struct flag_case cases[] = {
        {"--shards=3", F(shards), 3},
        {"--shards=256", F(shards), 256},
        {"--max-connections=5000", F(max_connections), 5000},
        {"--max-connections-per-ip=0", F(max_connections_per_ip), 0},
        {"--max-connections-per-ip=7", F(max_connections_per_ip), 7},
        {"--max-connections-per-sub=0", F(max_connections_per_sub), 0},
        {"--max-connections-per-sub=100000000", F(max_connections_per_sub), 100000000},
        {"--max-handshakes=1", F(max_handshakes), 1},
        {"--max-body-buffer-bytes=1G", F(max_body_buffer_bytes), 1u << 30},
        {"--max-frame=32K", F(max_frame), 32 << 10},
        {"--max-message=1G", F(max_message), 1u << 30},
        {"--max-topics-per-conn=7", F(max_topics_per_conn), 7},
        {"--max-topic-length=65535", F(max_topic_length), 65535},
        {"--max-segments=255", F(max_segments), 255},
        {"--max-queued-bytes=1024G", F(max_queued_bytes), 1ull << 40},
        {"--max-publish-bytes=1G", F(max_publish_bytes), 1u << 30},
        {"--max-inflight=1", F(max_inflight), 1},
        {"--max-topics=100000000", F(max_topics), 100000000},
        {"--dedup-entries=0", F(dedup_entries), 0},
        {"--dedup-seconds=86400", F(dedup_seconds), 86400},
        {"--max-header-bytes=4097", F(max_header_bytes), 4097},
        {"--max-target-bytes=16", F(max_target_bytes), 16},
        {"--max-target-bytes=8191", F(max_target_bytes), 8191},
        {"--handshake-timeout=250ms", F(handshake_timeout_ms), 250},
        {"--close-timeout=3s", F(close_timeout_ms), 3000},
        {"--shutdown-timeout=2m", F(shutdown_timeout_ms), 120000},
        {"--ring-size=16", F(ring_size), 16},
        {"--ring-size=16777216", F(ring_size), 1u << 24},
        {"--recv-buffers=32768", F(recv_buffers), 32768},
        {"--recv-buffer-size=1M", F(recv_buffer_size), 1 << 20},
        {"--uring-entries=64", F(uring_entries), 64},
        {"--pin-shards", F(pin_shards), 1},
        {"--log-level=debug", F(log_level), RC_LOG_DEBUG},
        {"--log-level=error", F(log_level), RC_LOG_ERROR},
        {"--log-level=warn", F(log_level), RC_LOG_WARN},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct rc_config cfg, want;
        int rc = RUN(&cfg, cases[i].arg);
        if (rc != 0)
            fail_msg("'%s' rejected", cases[i].arg);
        config_defaults(&want);
        char *field = (char *)&want + cases[i].offset;
        switch (cases[i].width) {
        case 8: {
            uint64_t v = cases[i].value;
            memcpy(field, &v, 8);
            break;
        }
        case 4: {
            uint32_t v = (uint32_t)cases[i].value;
            memcpy(field, &v, 4);
            break;
        }
        case 1: {
            uint8_t v = (uint8_t)cases[i].value;
            memcpy(field, &v, 1);
            break;
        }
        default:
            fail_msg("unexpected width %zu", cases[i].width);
        }
        resolve_defaults(&want);
        /* --max-connections also notes that it was given (the file limit's
         * log line depends on it). */
        if (cases[i].offset == offsetof(struct rc_config, max_connections))
            want.max_connections_given = true;
        if (memcmp(&cfg, &want, sizeof(cfg)) != 0)
            fail_msg("'%s' did not set exactly its field", cases[i].arg);
    }
}

static void test_separate_value_and_last_wins(void **state)
{
    struct rc_config cfg;
    assert_int_equal(RUN(&cfg, "--shards", "5"), 0);
    assert_int_equal(cfg.shards, 5);
    assert_int_equal(RUN(&cfg, "--shards=2", "--shards=4"), 0);
    assert_int_equal(cfg.shards, 4);
    assert_int_equal(RUN(&cfg, "--listen", "0.0.0.0:1234", "--publish-listen=[::1]:99"), 0);
    check_v4(&cfg.listen, "0.0.0.0", 1234);
    check_v6(&cfg.publish_listen, "::1", 99);
}

static void test_sizes(void **state)
{
    static const struct {
        const char *arg;
        uint64_t value;
    } ok[] = {
        {"--max-queued-bytes=1024", 1024},       {"--max-queued-bytes=4K", 4096},
        {"--max-queued-bytes=4k", 4096},         {"--max-queued-bytes=4KiB", 4096},
        {"--max-queued-bytes=8M", 8ull << 20},   {"--max-queued-bytes=8m", 8ull << 20},
        {"--max-queued-bytes=8MiB", 8ull << 20}, {"--max-queued-bytes=3G", 3ull << 30},
        {"--max-queued-bytes=3g", 3ull << 30},   {"--max-queued-bytes=3GiB", 3ull << 30},
        {"--max-queued-bytes=0001K", 1024},
    };
    for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
        struct rc_config cfg;
        if (RUN(&cfg, ok[i].arg) != 0)
            fail_msg("'%s' rejected", ok[i].arg);
        if (cfg.max_queued_bytes != ok[i].value)
            fail_msg("'%s' gave %llu", ok[i].arg, (unsigned long long)cfg.max_queued_bytes);
    }
}

static void test_durations(void **state)
{
    static const struct {
        const char *arg;
        unsigned ms;
    } ok[] = {
        {"--close-timeout=1ms", 1},        {"--close-timeout=500ms", 500},
        {"--close-timeout=2s", 2000},      {"--close-timeout=3", 3000}, /* bare: seconds */
        {"--close-timeout=1m", 60000},     {"--close-timeout=60m", 3600000},
        {"--close-timeout=3600", 3600000}, {"--close-timeout=1h", 3600000},
        {"--close-timeout=1.5s", 1500},    {"--close-timeout=0.5m", 30000},
    };
    for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
        struct rc_config cfg;
        if (RUN(&cfg, ok[i].arg) != 0)
            fail_msg("'%s' rejected", ok[i].arg);
        if (cfg.close_timeout_ms != ok[i].ms)
            fail_msg("'%s' gave %u ms", ok[i].arg, cfg.close_timeout_ms);
    }
    /* The same syntax on every duration flag (issue 14: --sse-heartbeat 1h). */
    struct rc_config cfg;
    assert_int_equal(RUN(&cfg, "--sse-heartbeat=1h"), 0);
    assert_int_equal(cfg.sse_heartbeat_ms, 3600000);
    assert_int_equal(RUN(&cfg, "--dedup-seconds=10m"), 0);
    assert_int_equal(cfg.dedup_seconds, 600);
    assert_int_equal(RUN(&cfg, "--dedup-seconds=1d"), 0);
    assert_int_equal(cfg.dedup_seconds, 86400);
    assert_int_equal(RUN(&cfg, "--dedup-seconds=90"), 0); /* bare: seconds, as before */
    assert_int_equal(cfg.dedup_seconds, 90);
}

static void test_out_of_range(void **state)
{
    static const char *const bad[] = {
        "--shards=0",
        "--shards=257",
        "--shards=4294967297", /* would wrap to 1 in 32 bits */
        "--max-connections=0",
        "--max-connections=100000001",
        "--max-frame=124",
        "--max-frame=1025M",
        "--max-message=2G",
        "--max-topic-length=0",
        "--max-topic-length=65536",
        "--max-segments=0",
        "--max-segments=256",
        "--max-queued-bytes=1023",
        "--max-queued-bytes=1025G",
        "--max-publish-bytes=0",
        "--max-publish-bytes=4G",
        "--max-inflight=0",
        "--dedup-seconds=0",
        "--dedup-seconds=86401",
        "--max-header-bytes=255",
        "--max-target-bytes=15",
        "--max-header-bytes=2M",
        "--handshake-timeout=0",
        "--handshake-timeout=0ms",
        "--handshake-timeout=61m",
        "--handshake-timeout=3601",
        "--close-timeout=3600001ms",
        "--ring-size=8",
        "--ring-size=33554432",
        "--recv-buffers=8",
        "--recv-buffers=65536",
        "--recv-buffer-size=1023",
        "--uring-entries=32",
        "--uring-entries=65536",
        "--max-connections-per-ip=100000001",
        "--max-connections-per-sub=100000001",
        "--max-handshakes=0",
        "--max-body-buffer-bytes=1023",
        "--max-body-buffer-bytes=1025G",
        "--publish-rate-per-conn=1000000001",
        "--publish-rate-per-conn=5:1000000001",
        "--subscribe-rate-per-sub=5:0", /* a rate needs a burst */
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        expect_rejected(bad[i]);
}

/* Rates: N or N:BURST into a struct tokenbucket_rate, and nothing else. */
static void test_rates(void **state)
{
    struct rc_config cfg;
    assert_int_equal(RUN(&cfg, "--subscribe-rate-per-conn=5"), 0);
    assert_int_equal(cfg.subscribe_rate_conn.per_sec, 5);
    assert_int_equal(cfg.subscribe_rate_conn.burst, 5); /* BURST defaults to N */
    assert_int_equal(RUN(&cfg, "--subscribe-rate-per-sub=1:30"), 0);
    assert_int_equal(cfg.subscribe_rate_sub.per_sec, 1);
    assert_int_equal(cfg.subscribe_rate_sub.burst, 30);
    assert_int_equal(RUN(&cfg, "--publish-rate-per-conn", "1000000000:1"), 0);
    assert_int_equal(cfg.publish_rate_conn.per_sec, 1000000000);
    assert_int_equal(cfg.publish_rate_conn.burst, 1);
    assert_int_equal(RUN(&cfg, "--publish-rate-per-sub=0"), 0); /* no limit */
    assert_int_equal(cfg.publish_rate_sub.per_sec, 0);
    assert_int_equal(RUN(&cfg, "--publish-rate-per-sub=0:0"), 0);
    /* Each flag sets its own field only. */
    struct rc_config want;
    config_defaults(&want);
    want.publish_rate_sub.per_sec = want.publish_rate_sub.burst = 0;
    resolve_defaults(&want);
    if (memcmp(&cfg, &want, sizeof(cfg)) != 0)
        fail_msg("--publish-rate-per-sub set more than its field");
    static const char *const bad[] = {
        "--publish-rate-per-conn=",
        "--publish-rate-per-conn=:",
        "--publish-rate-per-conn=5:",
        "--publish-rate-per-conn=:5",
        "--publish-rate-per-conn=-1",
        "--publish-rate-per-conn=1.5",
        "--publish-rate-per-conn=5/s",
        "--publish-rate-per-conn=5:6:7",
        "--publish-rate-per-conn=5 ",
        "--publish-rate-per-conn=1K",
        "--publish-rate-per-conn=99999999999999999999",
        "--publish-rate-per-conn=18446744073709551617",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        expect_rejected(bad[i]);
}

static void test_malformed(void **state)
{
    static const char *const bad[] = {
        "--shards=",
        "--shards=abc",
        "--shards=-1",
        "--shards=+2",
        "--shards= 2",
        "--shards=2 ",
        "--shards=1.5",
        "--shards=0x10",
        "--shards=2K",
        "--shards=99999999999999999999",
        "--max-frame=",
        "--max-frame=K",
        "--max-frame=64KB",
        "--max-frame=64 K",
        "--max-frame=-64K",
        "--max-frame=1.5M",
        "--max-frame=64T",
        "--max-queued-bytes=18446744073709551615K",
        "--max-queued-bytes=99999999999999999999",
        "--handshake-timeout=",
        "--handshake-timeout=s",
        "--handshake-timeout=1.5ms",
        "--handshake-timeout=2h", /* over its 1h maximum */
        "--dedup-seconds=1.5s",   /* whole seconds only */
        "--handshake-timeout=10S",
        "--handshake-timeout=10 s",
        "--handshake-timeout=-5s",
        "--handshake-timeout=18446744073709551615s",
        "--log-level=verbose",
        "--log-level=",
        "--log-level=INFO",
        "--listen=nonsense",
        "--publish-listen=1.2.3.4",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        expect_rejected(bad[i]);
}

static void test_power_of_two(void **state)
{
    struct rc_config cfg;
    expect_rejected("--ring-size=100");
    expect_rejected("--ring-size=4095");
    expect_rejected("--recv-buffers=1000");
    expect_rejected("--uring-entries=1000");
    expect_rejected("--uring-entries=96");
    assert_int_equal(RUN(&cfg, "--ring-size=128"), 0);
    assert_int_equal(cfg.ring_size, 128);
    assert_int_equal(RUN(&cfg, "--recv-buffers=16"), 0);
    assert_int_equal(RUN(&cfg, "--uring-entries=1024"), 0);
    assert_int_equal(cfg.uring_entries, 1024);
}

static void test_cross_checks(void **state)
{
    struct rc_config cfg;
    /* max-message below max-frame. */
    expect_rejected("--max-frame=1M"); /* default max-message is 64K */
    assert_int_equal(RUN(&cfg, "--max-frame=1M", "--max-message=1M"), 0);
    expect_rejected2("--max-frame=1M", "--max-message=1023K");
    assert_int_equal(RUN(&cfg, "--max-message=128K"), 0);
    /* The request target must be shorter than the whole request head. */
    expect_rejected("--max-target-bytes=8K"); /* default max-header-bytes is 8K */
    assert_int_equal(RUN(&cfg, "--max-target-bytes=8191"), 0);
    assert_int_equal(RUN(&cfg, "--max-header-bytes=4K"), 0);
    assert_int_equal(cfg.max_target_bytes, 2048); /* default: half the head */
    expect_rejected2("--max-header-bytes=1K", "--max-target-bytes=1K");
    assert_int_equal(RUN(&cfg, "--max-header-bytes=1K", "--max-target-bytes=1023"), 0);
    assert_int_equal(cfg.max_target_bytes, 1023);
    /* The body budget holds at least the largest body; by default 64M, or
     * that body when it is larger. */
    assert_int_equal(run_argv(&cfg, 0, NULL), 0);
    assert_int_equal(cfg.max_body_buffer_bytes, 64 << 20);
    assert_int_equal(RUN(&cfg, "--max-publish-bytes=1G"), 0);
    assert_int_equal(cfg.max_body_buffer_bytes, (1u << 30) + 65536);
    expect_rejected("--max-body-buffer-bytes=16M"); /* default --max-publish-bytes is 16M */
    assert_int_equal(RUN(&cfg, "--max-body-buffer-bytes=16448K"), 0); /* 16M + 64K */
    expect_rejected2("--max-publish-bytes=1G", "--max-body-buffer-bytes=1G");
    assert_int_equal(RUN(&cfg, "--max-publish-bytes=1K", "--max-body-buffer-bytes=65K"), 0);
    /* max-connections below shards. */
    expect_rejected2("--shards=8", "--max-connections=7");
    assert_int_equal(RUN(&cfg, "--shards=8", "--max-connections=8"), 0);
}

static void test_command_line_errors(void **state)
{
    expect_rejected("--no-such-flag");
    expect_rejected("--no-such-flag=1");
    expect_rejected("-x");
    expect_rejected("stray");
    expect_rejected2("--shards=2", "stray");
    expect_rejected("--shards");         /* value missing */
    expect_rejected("--pin-shards=yes"); /* a flag takes no value */
    expect_rejected("--listen");
}

/* --help and --version print and return 1 (stdout silenced here). */
static void test_help_and_version(void **state)
{
    fflush(stdout);
    int saved = dup(STDOUT_FILENO);
    int devnull = open("/dev/null", O_WRONLY);
    assert_true(saved >= 0 && devnull >= 0);
    dup2(devnull, STDOUT_FILENO);
    struct rc_config cfg;
    int help = RUN(&cfg, "--help");
    int h = RUN(&cfg, "-h");
    int version = RUN(&cfg, "--version");
    int late = RUN(&cfg, "--shards=2", "--help");
    fflush(stdout);
    dup2(saved, STDOUT_FILENO);
    close(saved);
    close(devnull);
    assert_int_equal(help, 1);
    assert_int_equal(h, 1);
    assert_int_equal(version, 1);
    assert_int_equal(late, 1);
}

static void test_usage_lists_every_flag(void **state)
{
    char *buf = NULL;
    size_t size = 0;
    FILE *f = open_memstream(&buf, &size);
    assert_non_null(f);
    config_usage(f);
    fclose(f);
    static const char *const flags[] = {
        "--shards=",
        "--listen=",
        "--publish-listen=",
        "--max-connections=",
        "--max-connections-per-ip=",
        "--max-connections-per-sub=",
        "--max-handshakes=",
        "--max-body-buffer-bytes=",
        "--subscribe-rate-per-conn=",
        "--subscribe-rate-per-sub=",
        "--publish-rate-per-conn=",
        "--publish-rate-per-sub=",
        "--max-frame=",
        "--max-message=",
        "--max-topics-per-conn=",
        "--max-topic-length=",
        "--max-segments=",
        "--max-queued-bytes=",
        "--max-publish-bytes=",
        "--max-inflight=",
        "--max-topics=",
        "--dedup-entries=",
        "--dedup-seconds=",
        "--max-header-bytes=",
        "--max-target-bytes=",
        "--handshake-timeout=",
        "--close-timeout=",
        "--shutdown-timeout=",
        "--ring-size=",
        "--recv-buffers=",
        "--recv-buffer-size=",
        "--uring-entries=",
        "--pin-shards",
        "--log-level=",
        "--help",
        "--version",
    };
    for (size_t i = 0; i < sizeof(flags) / sizeof(flags[0]); i++)
        if (!strstr(buf, flags[i]))
            fail_msg("--help does not mention %s", flags[i]);
    free(buf);
}

static void test_endpoint_good(void **state)
{
    struct rc_endpoint e;
    assert_int_equal(config_parse_endpoint(&e, "0.0.0.0:80"), 0);
    check_v4(&e, "0.0.0.0", 80);
    assert_string_equal(e.text, "0.0.0.0:80");
    assert_int_equal(config_parse_endpoint(&e, "255.255.255.255:65535"), 0);
    check_v4(&e, "255.255.255.255", 65535);
    assert_int_equal(config_parse_endpoint(&e, "10.1.2.3:0"), 0);
    check_v4(&e, "10.1.2.3", 0);
    assert_int_equal(config_parse_endpoint(&e, "localhost:9000"), 0);
    check_v4(&e, "127.0.0.1", 9000);
    assert_string_equal(e.text, "localhost:9000");
    assert_int_equal(config_parse_endpoint(&e, "[::1]:80"), 0);
    check_v6(&e, "::1", 80);
    assert_string_equal(e.text, "[::1]:80");
    assert_int_equal(config_parse_endpoint(&e, "[::]:8080"), 0);
    check_v6(&e, "::", 8080);
    assert_int_equal(config_parse_endpoint(&e, "[fe80::1:2]:1"), 0);
    check_v6(&e, "fe80::1:2", 1);
    assert_int_equal(config_parse_endpoint(&e, "[::ffff:1.2.3.4]:5"), 0);
    check_v6(&e, "::ffff:1.2.3.4", 5);
    assert_int_equal(config_parse_endpoint(&e, "1.2.3.4:00080"), 0);
    check_v4(&e, "1.2.3.4", 80);
}

static void test_endpoint_bad(void **state)
{
    static const char *const bad[] = {
        "",
        ":",
        ":80",
        "80",
        "1.2.3.4",
        "1.2.3.4:",
        "1.2.3.4:65536",
        "1.2.3.4:99999999999999999999",
        "1.2.3.4:80x",
        "1.2.3.4:x",
        "1.2.3.4:0x50",
        "1.2.3.256:80",
        "1.2.3:80",
        "1.2.3.4.5:80",
        "example.com:80",
        "LOCALHOST:80",
        "localhost",
        "::1:80",
        "[::1]",
        "[::1]:",
        "[::1:80",
        "::1]:80",
        "[]:80",
        "[1.2.3.4]:80",
        "[::1]x:80",
        "[::g]:80",
        " 1.2.3.4:80",
        "1.2.3.4 :80",
        "[::1]:65536",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct rc_endpoint e;
        if (config_parse_endpoint(&e, bad[i]) != -1)
            fail_msg("endpoint '%s' accepted", bad[i]);
    }
    /* Longer than the text buffer. */
    char long_host[300];
    memset(long_host, '1', sizeof(long_host));
    memcpy(long_host + 290, ":80", 4);
    struct rc_endpoint e;
    assert_int_equal(config_parse_endpoint(&e, long_host), -1);
}

/* The port is digits only, as every number flag is: strtoul's leading
 * blanks and signs are not a port. */
static void test_endpoint_port_digits_only(void **state)
{
    static const char *const bad[] = {
        "1.2.3.4:+80", "1.2.3.4: 80", "1.2.3.4:-0", "[::1]:+80", "1.2.3.4:\t80",
    };
    char accepted[256] = "";
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct rc_endpoint e;
        if (config_parse_endpoint(&e, bad[i]) != -1) {
            strcat(accepted, " '");
            strcat(accepted, bad[i]);
            strcat(accepted, "'");
        }
    }
    if (accepted[0])
        fail_msg("endpoints accepted:%s", accepted);
}

/* --cors-origins and --ws-origins fill their lists (origin.h); a bad item
 * is refused; --sse-named-events is a flag. */
static void test_origin_lists_and_sse_names(void **state)
{
    (void)state;
    struct rc_config cfg;
    assert_int_equal(RUN(&cfg, "--cors-origins=https://App.example.com,*",
                         "--ws-origins=http://localhost:3000", "--sse-named-events"),
                     0);
    assert_int_equal(cfg.cors_origins.n, 1);
    assert_true(cfg.cors_origins.any);
    assert_string_equal(cfg.cors_origins.origin[0], "https://app.example.com");
    assert_int_equal(cfg.ws_origins.n, 1);
    assert_false(cfg.ws_origins.any);
    assert_true(cfg.sse_named_events);
    assert_int_equal(RUN(&cfg), 0);
    assert_false(origin_list_given(&cfg.cors_origins));
    assert_false(origin_list_given(&cfg.ws_origins));
    assert_false(cfg.sse_named_events);
    /* No flag reads a cookie yet: nothing requires --ws-origins. */
    assert_false(config_ambient_credentials(&cfg));
    expect_rejected("--cors-origins=https://app.example.com/");
    expect_rejected("--cors-origins=");
    expect_rejected("--ws-origins=null");
    expect_rejected("--ws-origins=https://a,,https://b");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_origin_lists_and_sse_names),
        cmocka_unit_test(test_no_arguments),
        cmocka_unit_test(test_each_flag),
        cmocka_unit_test(test_separate_value_and_last_wins),
        cmocka_unit_test(test_sizes),
        cmocka_unit_test(test_durations),
        cmocka_unit_test(test_out_of_range),
        cmocka_unit_test(test_malformed),
        cmocka_unit_test(test_rates),
        cmocka_unit_test(test_power_of_two),
        cmocka_unit_test(test_cross_checks),
        cmocka_unit_test(test_command_line_errors),
        cmocka_unit_test(test_help_and_version),
        cmocka_unit_test(test_usage_lists_every_flag),
        cmocka_unit_test(test_endpoint_good),
        cmocka_unit_test(test_endpoint_bad),
        cmocka_unit_test(test_endpoint_port_digits_only),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
