/* config.h: the settings of one run, from the command line (flags.c).
 * Filled in before any thread starts and read-only afterwards: the only
 * data every thread shares without atomics. */
#ifndef BENCH_CONFIG_H
#define BENCH_CONFIG_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "topics.h"

#define PROG "ringcast-bench"

enum bench_exit {
    EXIT_OK = 0,
    EXIT_FAILED = 1, /* the run failed: losses, connection failures, errors */
    EXIT_USAGE = 2,
};

enum sub_protocol { PROTO_WS, PROTO_SSE };

/* The server under test: ringcast, or nginx with nchan (--target nchan):
 * subscribers on /sub/<topic>, HTTP publishers on /pub/<topic>, raw
 * payloads carrying their own per-topic sequence number ("s"); or
 * nats-server (--target nats): WebSocket subscribers speaking the NATS
 * protocol (natsparse.h, subnats.c), publishers on its native TCP port
 * (pubnats.c), raw payloads with "s" as for nchan. */
enum bench_target { TARGET_RINGCAST, TARGET_NCHAN, TARGET_NATS };

/* --fixed-files: whether subscriber sockets move into their thread's
 * io_uring file table once set up (see sub.h). auto: only when the
 * connections do not fit in RLIMIT_NOFILE as ordinary descriptors. */
enum fixed_files_mode { FIXED_FILES_AUTO, FIXED_FILES_ON, FIXED_FILES_OFF };

#define MAX_SERVER_PIDS 16

struct config {
    /* where */
    const char *addr; /* client port, "HOST:PORT" as given */
    struct sockaddr_in client_sa;
    char host_header[64];          /* "127.0.0.1:8080" */
    const char *publish_addr;      /* binary publish port (NATS: its client port), "HOST:PORT" */
    struct sockaddr_in publish_sa; /* --target nats: publish_addr resolved */
    uint32_t source_addrs;         /* bind subscribers to 127.0.0.1 .. 127.0.0.N */

    enum bench_target target;

    /* subscribers */
    enum sub_protocol protocol;
    uint32_t connections;
    struct topics topics;
    uint32_t threads;
    uint32_t connect_concurrency; /* per thread */
    uint32_t recv_buffers;        /* per thread, a power of two */
    uint32_t recv_buffer_size;
    bool no_multishot;
    enum fixed_files_mode fixed_files_mode;
    bool deflate;        /* WebSocket subscribers offer permessage-deflate and inflate events */
    bool tls;            /* --tls: subscribers over TLS (subtls.h) */
    bool tls_resume;     /* --tls-resume: later connections resume the thread's session */
    bool publish_tls;    /* --publish-tls: publishers over TLS */
    const char *ca_file; /* --ca-file: verify the server (publishers always do) */
    bool fixed_files;    /* the decision, made by main before any thread starts */

    /* publishers */
    uint32_t publishers;
    bool http_publish;
    double rate;     /* events/s over all publishers; 0: closed loop */
    uint32_t window; /* closed loop: publishes in flight per publisher */
    uint32_t size;   /* payload bytes */

    /* time, in ns */
    uint64_t warmup_ns, duration_ns, drain_ns;
    uint64_t connect_timeout_ns, close_timeout_ns;

    char *token;                        /* NULL: none */
    char *token_query;                  /* "token=<percent-encoded>" or NULL */
    pid_t server_pids[MAX_SERVER_PIDS]; /* summed: a server of several processes */
    uint32_t num_server_pids;           /* 0: none */
    bool json_only;
    bool progress; /* stderr is a terminal */
};

/* flags_parse fills |cfg| from the command line. Returns -1 when the run
 * may go on, or the exit status (0 after --help or --version, 2 after a
 * usage error, which it reports). */
int flags_parse(struct config *cfg, int argc, char **argv);

/* flags_free frees what flags_parse allocated. */
void flags_free(struct config *cfg);

#endif
