/* config.h: the server's settings, from command-line flags.
 *
 * Filled once by config_parse before any shard starts and read-only after:
 * the only state every shard shares besides the rings. */
#ifndef RC_CONFIG_H
#define RC_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/socket.h>

#include "util/origin.h"
#include "util/tokenbucket.h"

/* What happens to events over --max-payload. */
enum truncate_mode {
    TRUNCATE_STUB,   /* deliver a stub with a reference and a fetch path */
    TRUNCATE_DROP,   /* deliver nothing (the event is still sequenced and fetchable) */
    TRUNCATE_REJECT, /* refuse the publish (too_large) */
};

/* Room in an HTTP publish body (JSON form) besides the payload itself:
 * the largest body is --max-publish-bytes plus this. */
#define CONFIG_BODY_OVERHEAD 65536

/* --max-body-buffer-bytes unless it is given, or the largest body. */
#define CONFIG_BODY_BUFFER_DEFAULT (64ull * 1024 * 1024)

/* The largest --max-segments. */
#define CONFIG_MAX_SEGMENTS_LIMIT 255

struct rc_endpoint {
    char text[128]; /* as given, for logs */
    struct sockaddr_storage addr;
    socklen_t addr_len;
};

/* A flag given several times: up to CONFIG_MAX_REPEATS values. */
#define CONFIG_MAX_REPEATS 8

struct rc_endpoint_list {
    struct rc_endpoint v[CONFIG_MAX_REPEATS];
    unsigned count;
};

struct rc_path_list {
    char v[CONFIG_MAX_REPEATS][256];
    unsigned count;
};

/* TLS (docs/operations.md, "TLS"): listeners and certificate pairs
 * (cert_files.v[i] goes with key_files.v[i]). */
struct rc_tls_config {
    struct rc_endpoint_list listen;         /* client port routes over TLS */
    struct rc_endpoint_list publish_listen; /* binary publish protocol over TLS */
    struct rc_path_list cert_files;         /* PEM chains, leaf first */
    struct rc_path_list key_files;          /* PEM private keys */
};

struct rc_config {
    unsigned shards;
    struct rc_endpoint listen;         /* client port: WebSocket, HTTP */
    struct rc_endpoint publish_listen; /* binary publish protocol */
    unsigned max_connections;          /* whole process; each shard takes an equal share */
    bool max_connections_given;        /* --max-connections was on the command line */
    unsigned max_connections_per_ip;   /* whole process, shared alike; 0: no limit */
    unsigned max_connections_per_sub;  /* whole process, shared alike; 0: no limit */
    unsigned max_handshakes;           /* per shard */
    uint64_t max_body_buffer_bytes;    /* per shard: HTTP request bodies being read */
    struct tokenbucket_rate subscribe_rate_conn; /* WebSocket subscription changes */
    struct tokenbucket_rate subscribe_rate_sub;  /* whole process, shared alike */
    struct tokenbucket_rate publish_rate_conn;
    struct tokenbucket_rate publish_rate_sub; /* whole process, shared alike */
    uint64_t max_frame;                       /* largest WebSocket frame payload from a client */
    uint64_t max_message;                     /* largest reassembled WebSocket message */
    uint32_t deflate_level;                   /* permessage-deflate: zlib level 1..9; 0 off */
    uint64_t deflate_min_size;                /* compress WebSocket messages of this size and up */
    unsigned max_topics_per_conn;
    unsigned max_patterns_per_conn;
    unsigned max_topic_length;
    unsigned max_segments;
    uint64_t max_queued_bytes;  /* per connection, before the slow-consumer close */
    uint32_t max_publish_bytes; /* largest publish payload */
    uint64_t max_payload;       /* larger payloads are truncated (see --truncate) */
    int truncate_mode;          /* enum truncate_mode */
    unsigned history_size;      /* events kept per topic at its home */
    unsigned history_ttl_ms;    /* how long they are kept */
    uint64_t history_bytes;     /* per shard: the bytes of history (--retain-bytes too) */
    unsigned max_inflight;      /* unacknowledged publishes read ahead per publisher */
    unsigned max_topics;        /* topics with a sequence counter, per shard */
    unsigned dedup_entries;     /* remembered message ids, per shard */
    unsigned dedup_seconds;     /* how long a message id is remembered */
    unsigned max_header_bytes;  /* HTTP request head */
    unsigned max_target_bytes;  /* HTTP request target (URL) */
    unsigned handshake_timeout_ms;
    unsigned close_timeout_ms;    /* close handshake and slow-consumer grace */
    unsigned send_timeout_ms;     /* output over the bound this long: closed */
    unsigned input_budget;        /* input messages per connection per loop turn */
    unsigned shutdown_timeout_ms; /* SIGTERM: flush bound */
    unsigned ping_interval_ms;    /* WebSocket pings */
    unsigned idle_timeout_ms;     /* WebSocket: close when silent this long */
    unsigned sse_heartbeat_ms;    /* SSE comment lines */
    unsigned sse_retry_ms;        /* SSE reconnection hint */
    unsigned ring_size;           /* cross-shard ring slots (power of two) */
    unsigned recv_buffers;        /* provided receive buffers per shard (power of two) */
    unsigned recv_buffer_size;
    unsigned uring_entries;
    char auth_secret_file[256];          /* tokens are required when set */
    char auth_previous_secret_file[256]; /* also accepted, for rotation */
    char pusher_apps_file[256];          /* --pusher-apps: the Pusher dialect is on when set */
    bool insecure_open;                  /* serve without tokens on any address */
    bool audience_from_payload;          /* take audiences from payload members */
    bool pin_shards;                     /* pin shard i to CPU i */
    bool echo_endpoint;                  /* serve /v1/echo for WebSocket conformance suites */
    bool sse_named_events;               /* SSE records carry event: <type> by default */
    struct origin_list cors_origins;     /* pages that may use the HTTP routes (CORS) */
    struct origin_list ws_origins;       /* pages that may open WebSockets; empty: any */
    int log_level;
    struct rc_tls_config tls;
};

/* config_defaults fills |cfg| with the defaults documented in --help. */
void config_defaults(struct rc_config *cfg);

/* config_parse reads argv into |cfg| (which holds the defaults). Returns 0
 * to run, 1 when --help or --version was printed (exit 0), or -1 after
 * printing an error (exit 2). */
int config_parse(struct rc_config *cfg, int argc, char **argv);

/* config_ambient_credentials reports whether a browser could send a
 * credential on its own (a cookie) with another site's request: then
 * config_parse insists on --ws-origins. False while every token is given
 * explicitly (URL, header, subprotocol). */
bool config_ambient_credentials(const struct rc_config *cfg);

/* config_parse_endpoint parses "HOST:PORT" or "[V6]:PORT" (numeric host,
 * or "localhost") into |out|. Returns 0 or -1. */
int config_parse_endpoint(struct rc_endpoint *out, const char *text);

/* config_usage prints --help to |f|. */
void config_usage(FILE *f);

#endif
