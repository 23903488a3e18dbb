/* hist.c: log-linear histogram (see hist.h). */
#include "hist.h"

#include <string.h>

void hist_init(struct hist *h)
{
    memset(h, 0, sizeof(*h));
    h->min = UINT64_MAX;
}

void hist_merge(struct hist *into, const struct hist *from)
{
    for (unsigned i = 0; i < HIST_BUCKETS; i++)
        into->buckets[i] += from->buckets[i];
    into->count += from->count;
    into->sum += from->sum;
    if (from->min < into->min)
        into->min = from->min;
    if (from->max > into->max)
        into->max = from->max;
}

/* bucket_lowest returns the smallest value counted in bucket |index|;
 * |*out_width| gets how many values the bucket holds. */
static uint64_t bucket_lowest(unsigned index, uint64_t *out_width)
{
    if (index < 2 * HIST_HALF) {
        *out_width = 1;
        return index;
    }
    unsigned shift = index / HIST_HALF - 1;
    *out_width = 1ull << shift;
    return (uint64_t)(index - shift * HIST_HALF) << shift;
}

uint64_t hist_percentile(const struct hist *h, double pct)
{
    if (h->count == 0)
        return 0;
    /* rank = ceil(pct% of count), without libm */
    double exact = pct / 100.0 * (double)h->count;
    uint64_t rank = (uint64_t)exact;
    if ((double)rank < exact)
        rank++;
    if (rank < 1)
        rank = 1;
    if (rank >= h->count)
        return h->max;
    uint64_t seen = 0;
    for (unsigned i = 0; i < HIST_BUCKETS; i++) {
        seen += h->buckets[i];
        if (seen >= rank) {
            uint64_t width;
            uint64_t mid = bucket_lowest(i, &width) + (width - 1) / 2;
            if (mid > h->max)
                mid = h->max;
            if (mid < h->min)
                mid = h->min;
            return mid;
        }
    }
    return h->max;
}

double hist_mean(const struct hist *h)
{
    return h->count ? (double)h->sum / (double)h->count : 0.0;
}
