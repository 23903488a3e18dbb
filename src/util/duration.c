/* duration.c: parsing durations (see duration.h). */
#include "util/duration.h"

#include <stddef.h>
#include <string.h>

#define MAX_FRACTION_DIGITS 9

/* unit_ms returns the milliseconds of the unit |suffix|, or 0 when it is
 * none of ms, s, m, h, d. An empty suffix is |bare_unit_ms|. */
static uint64_t unit_ms(const char *suffix, uint64_t bare_unit_ms)
{
    static const struct {
        const char *name;
        uint64_t ms;
    } units[] = {
        {"", 0}, {"ms", 1}, {"s", 1000}, {"m", 60000}, {"h", 3600000}, {"d", 86400000},
    };
    for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++)
        if (strcmp(suffix, units[i].name) == 0)
            return i == 0 ? bare_unit_ms : units[i].ms;
    return 0;
}

/* read_digits accumulates decimal digits from |*p| into |*value|, at most
 * |max_digits| of them when that is not 0. Returns how many were read, or
 * -1 when the value overflows. */
static int read_digits(const char **p, uint64_t *value, int max_digits)
{
    int n = 0;
    while (**p >= '0' && **p <= '9') {
        if (max_digits && n == max_digits)
            return -1;
        uint64_t digit = (uint64_t)(**p - '0');
        if (*value > (DURATION_MAX_MS - digit) / 10)
            return -1;
        *value = *value * 10 + digit;
        (*p)++;
        n++;
    }
    return n;
}

int duration_parse(const char *text, uint64_t bare_unit_ms, uint64_t *out_ms)
{
    const char *p = text;
    uint64_t whole = 0, fraction = 0, scale = 1;
    int whole_digits = read_digits(&p, &whole, 0);
    if (whole_digits <= 0)
        return -1; /* no sign, no blank, no leading '.' */
    if (*p == '.') {
        p++;
        int fraction_digits = read_digits(&p, &fraction, MAX_FRACTION_DIGITS);
        if (fraction_digits <= 0)
            return -1;
        for (int i = 0; i < fraction_digits; i++)
            scale *= 10;
    }
    uint64_t unit = unit_ms(p, bare_unit_ms);
    if (unit == 0 || whole > DURATION_MAX_MS / unit)
        return -1;
    /* fraction / scale of a unit: exact milliseconds only. fraction < scale
     * <= 10^9 and unit <= 86400000, so the product fits. */
    uint64_t fraction_scaled = fraction * unit;
    if (fraction_scaled % scale != 0)
        return -1;
    uint64_t ms = whole * unit + fraction_scaled / scale;
    if (ms > DURATION_MAX_MS)
        return -1;
    *out_ms = ms;
    return 0;
}
