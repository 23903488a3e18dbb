/* tokenbucket.c: token buckets (see tokenbucket.h). */
#include "util/tokenbucket.h"

/* Thousandths of a token: a rate of R tokens a second pays R of them a
 * millisecond, so refills are exact integers and nothing drifts. */
#define MILLI 1000u

static uint64_t capacity(const struct tokenbucket_rate *r)
{
    return (uint64_t)r->burst * MILLI;
}

/* debt_at returns the bucket's debt at |now_ms|, after what the time since
 * its last refill paid. */
static uint64_t debt_at(const struct tokenbucket *b, const struct tokenbucket_rate *r,
                        int64_t now_ms)
{
    uint64_t debt = b->debt < capacity(r) ? b->debt : capacity(r); /* the burst may have shrunk */
    if (now_ms <= b->last_ms || debt == 0)
        return debt;
    /* Unsigned: the difference of any two int64 values, the later first,
     * fits. */
    uint64_t elapsed = (uint64_t)now_ms - (uint64_t)b->last_ms;
    if (elapsed > debt / r->per_sec)
        return 0; /* pays it all: elapsed * per_sec > debt, never computed */
    return debt - elapsed * r->per_sec;
}

/* settle records |debt| as of |now_ms|, the bucket having owed |owed|
 * then. A clock gone back keeps the later time, so the same span is never
 * paid twice; but a full bucket owes nothing to any time, so it takes the
 * clock as it is (a zeroed bucket, refilled "at 0", works on any clock). */
static void settle(struct tokenbucket *b, uint64_t owed, uint64_t debt, int64_t now_ms)
{
    if (now_ms > b->last_ms || owed == 0)
        b->last_ms = now_ms;
    b->debt = debt;
}

bool tokenbucket_take(struct tokenbucket *b, const struct tokenbucket_rate *r, int64_t now_ms,
                      uint32_t n)
{
    if (r->per_sec == 0)
        return true;
    uint64_t debt = debt_at(b, r, now_ms);
    uint64_t need = (uint64_t)n * MILLI;
    bool ok = need <= capacity(r) - debt;
    settle(b, debt, ok ? debt + need : debt, now_ms);
    return ok;
}

/* ceil_div divides, rounding up. */
static uint64_t ceil_div(uint64_t a, uint64_t b)
{
    return a / b + (a % b != 0);
}

int64_t tokenbucket_wait_ms(const struct tokenbucket *b, const struct tokenbucket_rate *r,
                            int64_t now_ms, uint32_t n)
{
    if (r->per_sec == 0)
        return 0;
    uint64_t need = (uint64_t)n * MILLI;
    if (need > capacity(r))
        return INT64_MAX;
    uint64_t room = capacity(r) - debt_at(b, r, now_ms);
    return need <= room ? 0 : (int64_t)ceil_div(need - room, r->per_sec);
}

int64_t tokenbucket_full_at(const struct tokenbucket *b, const struct tokenbucket_rate *r,
                            int64_t now_ms)
{
    if (r->per_sec == 0)
        return now_ms;
    int64_t wait = (int64_t)ceil_div(debt_at(b, r, now_ms), r->per_sec); /* below 2^42 */
    return now_ms > INT64_MAX - wait ? INT64_MAX : now_ms + wait;
}

struct tokenbucket_rate tokenbucket_share(const struct tokenbucket_rate *r, unsigned num_shares)
{
    uint64_t n = num_shares ? num_shares : 1;
    struct tokenbucket_rate share = {(uint32_t)ceil_div(r->per_sec, n),
                                     (uint32_t)ceil_div(r->burst, n)};
    return share;
}
