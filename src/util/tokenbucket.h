/* tokenbucket.h: rate limits as token buckets, on a clock the caller reads.
 *
 * A bucket holds up to |burst| tokens and gains |per_sec| tokens a second;
 * a request takes tokens or is refused, and a refused request takes none.
 * The bucket stores what it lacks of full (its debt, in thousandths of a
 * token) and when it last refilled, so a zeroed bucket is full: a
 * connection's bucket needs no set-up, and a counter entry allocated zeroed
 * starts with the whole burst. The rate and burst are passed on each call
 * (one struct tokenbucket_rate in the configuration serves every bucket).
 *
 * Time is whatever clock the caller passes, in milliseconds (the shard's
 * monotonic clock, or a test's fake one); a clock that goes back adds
 * nothing, and a long silence refills no more than the burst. No call can
 * overflow, whatever the rate, burst and times (a burst's thousandths stay
 * below 2^42, and an elapsed time is multiplied by the rate only once it is
 * known to pay at most the debt). */
#ifndef RC_TOKENBUCKET_H
#define RC_TOKENBUCKET_H

#include <stdbool.h>
#include <stdint.h>

struct tokenbucket_rate {
    uint32_t per_sec; /* tokens gained per second; 0: no limit */
    uint32_t burst;   /* most tokens held (at least 1 when per_sec is set) */
};

struct tokenbucket {
    uint64_t debt;   /* thousandths of a token missing from a full bucket */
    int64_t last_ms; /* when the debt was last paid down */
};

/* tokenbucket_take takes |n| tokens at |now_ms| if the bucket has them and
 * returns true; otherwise it takes nothing and returns false. Always true
 * when the rate is 0 (no limit). */
bool tokenbucket_take(struct tokenbucket *b, const struct tokenbucket_rate *r, int64_t now_ms,
                      uint32_t n);

/* tokenbucket_wait_ms returns how many milliseconds from |now_ms| the
 * bucket needs until it holds |n| tokens: 0 when it holds them now, and
 * INT64_MAX when it never will (|n| above the burst). */
int64_t tokenbucket_wait_ms(const struct tokenbucket *b, const struct tokenbucket_rate *r,
                            int64_t now_ms, uint32_t n);

/* tokenbucket_full_at returns when the bucket is full again (at most
 * |now_ms| when it is full now): a bucket kept for a key nobody holds any
 * more may be forgotten from then on, since a new one would be the same. */
int64_t tokenbucket_full_at(const struct tokenbucket *b, const struct tokenbucket_rate *r,
                            int64_t now_ms);

/* tokenbucket_share returns the part of |r| one of |num_shares| shards
 * enforces: rate and burst divided, rounded up (so never below 1). */
struct tokenbucket_rate tokenbucket_share(const struct tokenbucket_rate *r, unsigned num_shares);

#endif
