/* metrics.h: GET /metrics, in the Prometheus text format (version 0.0.4).
 *
 * Every shard counts in its own struct shard_stats (stats.h); rendering sums
 * the shards' counters at read time, so the hot path shares nothing. Totals
 * come as ringcast_*; where the spread over shards helps (connections,
 * deliveries, publishes, ring stalls) a ringcast_shard_* family has one
 * series per shard. docs/metrics.md lists them all. */
#ifndef RC_METRICS_H
#define RC_METRICS_H

#include <stddef.h>

struct shard_set;

/* metrics_render returns the metrics text (free() it) and its length, or
 * NULL when memory runs out. Safe from any shard. */
char *metrics_render(const struct shard_set *set, size_t *out_len);

#endif
