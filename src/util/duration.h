/* duration.h: the one duration syntax of every flag of every tool (ringcast,
 * ringcast-pub, ringcast-token, ringcast-bench).
 *
 *   250ms  30s  1.5s  15m  1h  7d   a number with a unit
 *   90                              a bare number, in the flag's own unit
 *
 * The number is decimal digits with an optional fraction (no sign, no
 * blanks); the result must be a whole number of milliseconds. */
#ifndef RC_DURATION_H
#define RC_DURATION_H

#include <stdint.h>

#define DURATION_MS_PER_S 1000
#define DURATION_MAX_MS ((uint64_t)INT64_MAX / 2) /* about 146 million years */

/* DURATION_SYNTAX says it in a few words, for --help texts. */
#define DURATION_SYNTAX "a number with the unit ms, s, m, h or d (250ms, 30s, 1.5s, 15m, 1h, 7d)"

/* duration_parse reads |text| into |*out_ms|; a bare number counts in
 * units of |bare_unit_ms| (1000 for a flag that took seconds, 1 for one that
 * took milliseconds). Returns 0, or -1 when |text| is not a duration or is
 * over DURATION_MAX_MS. */
int duration_parse(const char *text, uint64_t bare_unit_ms, uint64_t *out_ms);

#endif
