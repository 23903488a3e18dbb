/* rng.h: a per-thread pseudo-random generator (xorshift64*) for WebSocket
 * keys and masks: unpredictable enough for a load generator, and free of
 * syscalls on the path that makes frames. */
#ifndef BENCH_RNG_H
#define BENCH_RNG_H

#include <stdint.h>
#include <sys/random.h>

/* rng_seed returns a seed from the kernel (never 0). */
static inline uint64_t rng_seed(void)
{
    uint64_t s = 0;

    if (getrandom(&s, sizeof(s), 0) != (ssize_t)sizeof(s) || s == 0)
        s = 0x9e3779b97f4a7c15ull ^ (uint64_t)(uintptr_t)&s;
    return s;
}

/* rng_next advances |*state| (never 0) and returns 64 random bits. */
static inline uint64_t rng_next(uint64_t *state)
{
    uint64_t x = *state;

    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *state = x;
    return x * 0x2545f4914f6cdd1dull;
}

#endif
