/* position.c: positions as text (see position.h). */
#include "proto/position.h"

#include <stdio.h>

void position_format_epoch(char out[POSITION_EPOCH_LEN + 1], uint64_t epoch)
{
    static const char digits[] = "0123456789abcdef";
    for (int i = POSITION_EPOCH_LEN - 1; i >= 0; i--, epoch >>= 4)
        out[i] = digits[epoch & 15];
    out[POSITION_EPOCH_LEN] = '\0';
}

static int hex_digit(char ch)
{
    if (ch >= '0' && ch <= '9')
        return ch - '0';
    if (ch >= 'a' && ch <= 'f')
        return ch - 'a' + 10;
    if (ch >= 'A' && ch <= 'F')
        return ch - 'A' + 10;
    return -1;
}

int position_parse_epoch(const char *text, size_t len, uint64_t *out)
{
    if (len != POSITION_EPOCH_LEN)
        return -1;
    uint64_t v = 0;
    for (size_t i = 0; i < len; i++) {
        int d = hex_digit(text[i]);
        if (d < 0)
            return -1;
        v = v << 4 | (uint64_t)d;
    }
    *out = v;
    return 0;
}

int position_parse_seq(const char *text, size_t len, uint64_t *out)
{
    if (len == 0 || len > 20)
        return -1;
    uint64_t v = 0;
    for (size_t i = 0; i < len; i++) {
        if (text[i] < '0' || text[i] > '9')
            return -1;
        uint64_t d = (uint64_t)(text[i] - '0');
        if (v > (UINT64_MAX - d) / 10)
            return -1;
        v = v * 10 + d;
    }
    *out = v;
    return 0;
}

size_t position_format_id(char *out, uint64_t epoch, uint64_t seq)
{
    position_format_epoch(out, epoch);
    int n = snprintf(out + POSITION_EPOCH_LEN, POSITION_ID_MAX + 1 - POSITION_EPOCH_LEN, "-%llu",
                     (unsigned long long)seq);
    return POSITION_EPOCH_LEN + (size_t)n;
}

int position_parse_id(const char *text, size_t len, uint64_t *out_epoch, uint64_t *out_seq)
{
    if (len < POSITION_EPOCH_LEN + 2 || text[POSITION_EPOCH_LEN] != '-')
        return -1;
    uint64_t epoch, seq;
    if (position_parse_epoch(text, POSITION_EPOCH_LEN, &epoch) != 0 ||
        position_parse_seq(text + POSITION_EPOCH_LEN + 1, len - POSITION_EPOCH_LEN - 1, &seq) != 0)
        return -1;
    *out_epoch = epoch;
    *out_seq = seq;
    return 0;
}
