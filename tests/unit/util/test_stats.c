/* test_stats.c: shard counters (src/util/stats.h) written by their shard while
 * other threads read them, one by one and summed by metrics_render
 * (src/core/metrics.c), as GET /metrics does on any shard. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <inttypes.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/metrics.h"
#include "core/shardset.h"
#include "core/shard.h"
#include "util/stats.h"
#include "../two_threads.h"

#define ADDS 300000u

/* ---- One writer, one reader, straight on the counters. ---- */

struct one_writer {
    struct shard_stats stats;
    _Atomic bool done;
    /* The reader's findings. */
    bool went_back; /* a total read smaller than the read before it */
    bool out_of_range;
    uint64_t reads;
};

static void *count_up(void *arg)
{
    struct one_writer *w = arg;
    for (uint64_t i = 1; i <= ADDS; i++) {
        counter_add(&w->stats.accepted, 1);
        counter_add(&w->stats.bytes_sent, 3);
        /* A gauge that goes 0, 1, 0, 1...: a reader never sees it below 0
         * (a huge unsigned value) or above 1. */
        if (i % 2)
            counter_add(&w->stats.connections[STATS_WEBSOCKET], 1);
        else
            counter_sub(&w->stats.connections[STATS_WEBSOCKET], 1);
    }
    counter_add(&w->stats.connections[STATS_WEBSOCKET], 5);
    atomic_store_explicit(&w->done, true, memory_order_release);
    return NULL;
}

static void *watch(void *arg)
{
    struct one_writer *w = arg;
    uint64_t last_accepted = 0, last_bytes = 0;
    while (!atomic_load_explicit(&w->done, memory_order_acquire)) {
        uint64_t accepted = counter_read(&w->stats.accepted);
        uint64_t bytes = counter_read(&w->stats.bytes_sent);
        uint64_t gauge = counter_read(&w->stats.connections[STATS_WEBSOCKET]);
        if (accepted < last_accepted || bytes < last_bytes)
            w->went_back = true;
        if (accepted > ADDS || bytes > 3 * (uint64_t)ADDS || (gauge > 1 && gauge != 5))
            w->out_of_range = true;
        last_accepted = accepted;
        last_bytes = bytes;
        w->reads++;
    }
    return NULL;
}

static void test_reader_sees_totals_grow_and_gauges_in_range(void **state)
{
    (void)state;
    struct one_writer *w = calloc(1, sizeof(*w));
    assert_non_null(w);
    run_two_threads(watch, count_up, w);
    print_message("stats: %" PRIu64 " reads while %u adds ran\n", w->reads, ADDS);
    assert_false(w->went_back);
    assert_false(w->out_of_range);
    /* After the join every add is visible. */
    assert_int_equal(counter_read(&w->stats.accepted), ADDS);
    assert_int_equal(counter_read(&w->stats.bytes_sent), 3 * (uint64_t)ADDS);
    assert_int_equal(counter_read(&w->stats.connections[STATS_WEBSOCKET]), 5);
    free(w);
}

/* ---- Shards count, another thread renders /metrics. ---- */

#define SHARDS 3

struct shard_writer {
    struct shard *sh;
    pthread_barrier_t *start;
};

static void *shard_counts(void *arg)
{
    struct shard_writer *sw = arg;
    pthread_barrier_wait(sw->start);
    for (uint64_t i = 0; i < ADDS; i++) {
        counter_add(&sw->sh->stats.publishes, 1);
        counter_add(&sw->sh->stats.deliveries[STATS_WEBSOCKET], 2);
    }
    return NULL;
}

/* metric_value returns the value of the series |name| (with its labels) in
 * the metrics text, or fails the test when it is missing. */
static uint64_t metric_value(const char *text, const char *name)
{
    size_t len = strlen(name);
    const char *line = text;
    while (line) {
        if (strncmp(line, name, len) == 0 && line[len] == ' ')
            return strtoull(line + len + 1, NULL, 10);
        line = strchr(line, '\n');
        if (line)
            line++;
    }
    fail_msg("no series %s", name);
    return 0;
}

static char *render(const struct shard_set *set)
{
    size_t len;
    char *text = metrics_render(set, &len);
    assert_non_null(text);
    assert_int_equal(strlen(text), len);
    return text;
}

static void test_metrics_sums_shards_while_they_count(void **state)
{
    (void)state;
    struct shard_set *set = calloc(1, sizeof(*set));
    assert_non_null(set);
    set->num_shards = SHARDS;
    set->shards = calloc(SHARDS, sizeof(struct shard));
    assert_non_null(set->shards);
    pthread_barrier_t start;
    assert_int_equal(pthread_barrier_init(&start, NULL, SHARDS + 1), 0);
    pthread_t threads[SHARDS];
    struct shard_writer writers[SHARDS];
    for (int i = 0; i < SHARDS; i++) {
        writers[i] = (struct shard_writer){&set->shards[i], &start};
        assert_int_equal(pthread_create(&threads[i], NULL, shard_counts, &writers[i]), 0);
    }
    pthread_barrier_wait(&start);
    /* Scrape while the shards count: each total only grows, never past
     * what the shards will have added. */
    uint64_t last = 0, scrapes = 0;
    while (last < SHARDS * (uint64_t)ADDS) {
        char *text = render(set);
        uint64_t publishes = metric_value(text, "ringcast_publishes_total");
        free(text);
        assert_true(publishes >= last);
        assert_true(publishes <= SHARDS * (uint64_t)ADDS);
        last = publishes;
        scrapes++;
        sched_yield();
    }
    for (int i = 0; i < SHARDS; i++)
        pthread_join(threads[i], NULL);
    print_message("metrics: %" PRIu64 " scrapes while %d shards counted\n", scrapes, SHARDS);

    char *text = render(set);
    assert_int_equal(metric_value(text, "ringcast_publishes_total"), SHARDS * (uint64_t)ADDS);
    assert_int_equal(metric_value(text, "ringcast_deliveries_total{protocol=\"websocket\"}"),
                     2 * SHARDS * (uint64_t)ADDS);
    assert_int_equal(metric_value(text, "ringcast_shard_publishes_total{shard=\"0\"}"), ADDS);
    assert_int_equal(metric_value(text, "ringcast_shard_publishes_total{shard=\"2\"}"), ADDS);
    free(text);
    pthread_barrier_destroy(&start);
    free(set->shards);
    free(set);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_reader_sees_totals_grow_and_gauges_in_range),
        cmocka_unit_test(test_metrics_sums_shards_while_they_count),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
