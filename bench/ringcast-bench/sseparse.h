/* sseparse.h: reading a text/event-stream (the client side of
 * docs/protocol/sse.md), a line at a time.
 *
 * ringcast writes one event as "id:", "event:" and "data:" lines and a
 * blank line; the data line is the same event JSON a WebSocket subscriber
 * gets. Bench payloads have no line breaks, so each "data:" line holds one
 * whole event and the subscriber handles it as soon as the line is
 * complete, without waiting for the blank line. */
#ifndef BENCH_SSEPARSE_H
#define BENCH_SSEPARSE_H

#include <stddef.h>
#include <stdint.h>

enum ssep_kind {
    SSEP_DATA,  /* "data:" line: value is the event JSON */
    SSEP_OTHER, /* id:, event:, retry:, a comment, a blank line */
};

struct ssep_line {
    enum ssep_kind kind;
    const uint8_t *value; /* SSEP_DATA: after "data:" and one optional space */
    size_t len;
};

/* ssep_next_line reads the line at the start of |p|. Returns the bytes it
 * takes, including its line break, or 0 when the line is not complete. */
size_t ssep_next_line(const uint8_t *p, size_t len, struct ssep_line *out);

/* ssep_check_response checks the head of the answer to GET /v1/sse: status
 * 200 and Content-Type text/event-stream. Returns 0, or -1 with the reason
 * (the status line) in |err|. */
int ssep_check_response(const char *head, size_t len, char *err, size_t err_len);

#endif
