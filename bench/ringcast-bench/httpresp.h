/* httpresp.h: reading the head of an HTTP/1.1 response, for the WebSocket
 * and SSE handshakes and the HTTP publisher. Only what those need: the
 * status code and a header's value. */
#ifndef BENCH_HTTPRESP_H
#define BENCH_HTTPRESP_H

#include <stdbool.h>
#include <stddef.h>

/* httpresp_head_len returns the length of the head at the start of |buf|
 * including its closing blank line, or 0 when it is not complete. */
size_t httpresp_head_len(const char *buf, size_t len);

/* httpresp_status returns the status code of a head, or -1 when the first
 * line is not "HTTP/1.x NNN ...". */
int httpresp_status(const char *head, size_t len);

/* httpresp_header finds header |name| (case-insensitive) in a head and
 * returns its value with surrounding spaces trimmed in |*out|, |*out_len|.
 * Returns false when it is absent. */
bool httpresp_header(const char *head, size_t len, const char *name, const char **out,
                     size_t *out_len);

/* httpresp_value_has reports whether a comma-separated header value holds
 * |token| (case-insensitive), as "Connection: keep-alive, Upgrade" holds
 * "upgrade". */
bool httpresp_value_has(const char *value, size_t len, const char *token);

#endif
