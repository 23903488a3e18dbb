/* clock.h: the one clock of ringcast-bench.
 *
 * Every time stamp is CLOCK_MONOTONIC in nanoseconds: the publisher writes
 * it into the payload and the subscriber compares it with its own receive
 * time, which is meaningful because both run on the same machine. */
#ifndef BENCH_CLOCK_H
#define BENCH_CLOCK_H

#include <stdint.h>
#include <time.h>

#define NS_PER_SEC 1000000000ull
#define NS_PER_MS 1000000ull

/* clock_now_ns returns CLOCK_MONOTONIC in nanoseconds. */
static inline uint64_t clock_now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * NS_PER_SEC + (uint64_t)ts.tv_nsec;
}

/* clock_timespec converts a duration in nanoseconds. */
static inline struct timespec clock_timespec(uint64_t ns)
{
    struct timespec ts = {.tv_sec = (time_t)(ns / NS_PER_SEC), .tv_nsec = (long)(ns % NS_PER_SEC)};
    return ts;
}

#endif
