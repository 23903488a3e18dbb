/* jsonw.h: writing JSON strings by hand on the hot path.
 *
 * Events are formatted once per message straight into the frame buffer;
 * these helpers escape text payloads (RFC 8259: quote, backslash and control
 * characters). The input must already be valid UTF-8. */
#ifndef RC_JSONW_H
#define RC_JSONW_H

#include <stddef.h>
#include <stdint.h>

/* json_escaped_len returns the length of |s| once escaped (without quotes). */
size_t json_escaped_len(const uint8_t *s, size_t len);

/* json_escape writes |s| escaped to |out| (which has json_escaped_len bytes
 * of room) and returns the end of what it wrote. */
uint8_t *json_escape(uint8_t *out, const uint8_t *s, size_t len);

#endif
