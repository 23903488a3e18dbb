/* position.h: how positions in a topic's sequence are written on the wire
 * (docs/history.md).
 *
 *   epoch            16 lowercase hex digits ("9f2c0d1e5a7b3c44"); read in
 *                    either case
 *   SSE event id     "<epoch>-<seq>" for a stream of one exact topic: the
 *                    resume position that EventSource sends back as
 *                    Last-Event-ID
 *
 * Parsers are bounds-checked and take any bytes (they are fuzzed:
 * tests/fuzz/fuzz_position.c). */
#ifndef RC_POSITION_H
#define RC_POSITION_H

#include <stddef.h>
#include <stdint.h>

#define POSITION_EPOCH_LEN 16
/* "<epoch>-<seq>": 16 + 1 + at most 20 digits */
#define POSITION_ID_MAX (POSITION_EPOCH_LEN + 1 + 20)

/* position_format_epoch writes |epoch| as POSITION_EPOCH_LEN lowercase hex
 * digits and a NUL. */
void position_format_epoch(char out[POSITION_EPOCH_LEN + 1], uint64_t epoch);

/* position_parse_epoch reads exactly POSITION_EPOCH_LEN hex digits.
 * Returns 0, or -1 when |text| is not an epoch. */
int position_parse_epoch(const char *text, size_t len, uint64_t *out);

/* position_parse_seq reads a decimal seq (1 to 20 digits, no sign, at most
 * UINT64_MAX). Returns 0 or -1. */
int position_parse_seq(const char *text, size_t len, uint64_t *out);

/* position_format_id writes "<epoch>-<seq>" and a NUL (room for
 * POSITION_ID_MAX + 1) and returns its length. */
size_t position_format_id(char *out, uint64_t epoch, uint64_t seq);

/* position_parse_id reads "<epoch>-<seq>". Returns 0 or -1. */
int position_parse_id(const char *text, size_t len, uint64_t *out_epoch, uint64_t *out_seq);

#endif
