/* hist.h: a log-linear latency histogram, in the manner of HdrHistogram.
 *
 * Values below 2^HIST_SUB_BITS are counted exactly; above, every power of
 * two is split into 2^(HIST_SUB_BITS-1) equal buckets, so a bucket is never
 * wider than 1/128 of its values (0.8%), and its midpoint, which is what
 * percentiles report, is within 0.4%. The whole uint64_t range fits in
 * HIST_BUCKETS counters (58 KiB); recording is a shift and an increment. */
#ifndef BENCH_HIST_H
#define BENCH_HIST_H

#include <stdint.h>

#define HIST_SUB_BITS 8
#define HIST_HALF (1u << (HIST_SUB_BITS - 1)) /* buckets per power of two */
#define HIST_BUCKETS ((64 - HIST_SUB_BITS + 1) * HIST_HALF + HIST_HALF)

struct hist {
    uint64_t count;
    uint64_t sum; /* for the mean; wraps only after 584 years of nanoseconds */
    uint64_t min, max;
    uint64_t buckets[HIST_BUCKETS];
};

/* hist_bucket returns the bucket index of |value|. */
static inline unsigned hist_bucket(uint64_t value)
{
    if (value < 2 * HIST_HALF)
        return (unsigned)value;
    unsigned shift = (unsigned)(63 - __builtin_clzll(value)) - (HIST_SUB_BITS - 1);
    return shift * HIST_HALF + (unsigned)(value >> shift);
}

/* hist_record counts one value. */
static inline void hist_record(struct hist *h, uint64_t value)
{
    h->buckets[hist_bucket(value)]++;
    h->count++;
    h->sum += value;
    if (value < h->min)
        h->min = value;
    if (value > h->max)
        h->max = value;
}

/* hist_init empties |h|. */
void hist_init(struct hist *h);

/* hist_merge adds the counts of |from| to |into|. */
void hist_merge(struct hist *into, const struct hist *from);

/* hist_percentile returns the value below or at which |pct| percent of the
 * recorded values lie (the midpoint of that value's bucket, never above the
 * maximum); 0 when the histogram is empty. */
uint64_t hist_percentile(const struct hist *h, double pct);

/* hist_mean returns the mean, 0 when the histogram is empty. */
double hist_mean(const struct hist *h);

#endif
