/* report.h: the results of a run, as a table for people and one JSON line
 * for programs (the last line of standard output; with --json the only
 * one), and the status line shown while running. */
#ifndef BENCH_REPORT_H
#define BENCH_REPORT_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "config.h"
#include "hist.h"
#include "stream.h"

#define REPORT_MAX_FAILURES 8

struct report {
    const struct config *cfg;
    const char *recv_mode; /* "multishot" or "recv" */

    /* setup */
    uint32_t connected, connect_failures;
    uint32_t tls_resumed; /* --tls: connections whose handshake resumed a session */
    double setup_s;
    char connect_error[256];

    /* the measured window */
    double window_s;
    uint64_t publishes, deliveries, receives, recv_bytes;
    struct hist *latency;
    struct hist *late; /* open loop: how late the publishers' sends were */

    /* the whole run */
    uint64_t publishes_total, sent_total, publish_errors;
    uint64_t deliveries_total, expected_deliveries;
    struct stream_counts counts;      /* of connections still subscribed at the end */
    struct stream_counts after_close; /* missed by connections the server closed */
    uint32_t slow_closes, other_closes, unclean_closes;
    uint64_t truncated, unparsed, foreign, misrouted;
    bool drained;
    double drain_s;
    char publish_error[256];
    char sub_error[256];

    /* CPU over the window */
    double client_cpu_s;
    double *sub_cpu_s; /* per subscriber thread */
    double *pub_cpu_s; /* per publisher */
    bool server_stats;
    double server_cpu_s;
    uint64_t server_rss_kib;
    uint64_t server_rss_before_kib; /* before the connections; 0: unknown */

    /* verdict */
    const char *failures[REPORT_MAX_FAILURES];
    char failure_text[REPORT_MAX_FAILURES][200];
    int num_failures;
};

/* report_judge fills in the failures; returns true when the run is clean. */
bool report_judge(struct report *r);

/* report_table prints the human-readable table. */
void report_table(FILE *out, const struct report *r);

/* report_json prints the JSON line. Returns 0, or -1 when out of memory. */
int report_json(FILE *out, const struct report *r);

/* report_status rewrites the status line on standard error. */
void report_status(const char *phase, double elapsed_s, uint32_t ready, uint32_t connections,
                   double deliveries_per_s, double publishes_per_s, double receives_per_s,
                   uint32_t closed);

/* report_status_clear erases the status line. */
void report_status_clear(void);

#endif
