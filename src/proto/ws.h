/* ws.h: the RFC 6455 frame codec (no I/O, no allocation).
 *
 * Server-side helpers: parse the header of a client frame, unmask payload
 * bytes, build the header of a server frame (servers never mask, which is
 * what lets one frame's bytes go to every subscriber), and compute the
 * handshake's Sec-WebSocket-Accept value. */
#ifndef RC_WS_H
#define RC_WS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum ws_opcode {
    WS_OP_CONTINUATION = 0x0,
    WS_OP_TEXT = 0x1,
    WS_OP_BINARY = 0x2,
    WS_OP_CLOSE = 0x8,
    WS_OP_PING = 0x9,
    WS_OP_PONG = 0xA,
};

/* Close codes (RFC 6455 section 7.4.1) and ringcast's own (docs/close-codes.md). */
enum ws_close_code {
    WS_CLOSE_NORMAL = 1000,
    WS_CLOSE_GOING_AWAY = 1001,
    WS_CLOSE_PROTOCOL_ERROR = 1002,
    WS_CLOSE_UNSUPPORTED_DATA = 1003,
    WS_CLOSE_NO_STATUS = 1005, /* never sent: "the close frame had no code" */
    WS_CLOSE_INVALID_PAYLOAD = 1007,
    WS_CLOSE_POLICY_VIOLATION = 1008,
    WS_CLOSE_TOO_BIG = 1009,
    WS_CLOSE_INTERNAL_ERROR = 1011,
    WS_CLOSE_SLOW_CONSUMER = 4001,
    WS_CLOSE_IDLE_TIMEOUT = 4002,
    WS_CLOSE_TOKEN_EXPIRED = 4003,
};

#define WS_MAX_HEADER 10        /* largest server frame header (no mask) */
#define WS_MAX_CLIENT_HEADER 14 /* largest client frame header (with mask) */
#define WS_MAX_CONTROL_PAYLOAD 125
#define WS_ACCEPT_LEN 28 /* base64 of a SHA-1 digest */

struct ws_frame_header {
    bool fin;
    uint8_t rsv;    /* the three RSV bits, as 0..7 */
    uint8_t opcode; /* enum ws_opcode, or an unknown value */
    bool masked;
    uint8_t mask[4];
    uint64_t payload_len;
    size_t header_len;
};

/* ws_parse_frame_header parses a frame header at the start of |buf|.
 * Returns the header length (2..14) when complete, 0 when more bytes are
 * needed, or -1 when a 64-bit length has its top bit set (RFC 6455 5.2).
 * A length not in its shortest form is accepted. It does not judge opcodes,
 * RSV bits or masking: that is the reader's job. */
int ws_parse_frame_header(struct ws_frame_header *out, const uint8_t *buf, size_t len);

/* ws_unmask XORs |len| payload bytes with |mask|, where |offset| is the
 * position of data[0] within the frame's payload (so a payload can be
 * unmasked piecewise as it arrives). */
void ws_unmask(uint8_t *data, size_t len, const uint8_t mask[4], uint64_t offset);

/* ws_header_len returns the length of the header ws_build_header writes for
 * a payload of |payload_len| bytes (2, 4 or 10). */
size_t ws_header_len(uint64_t payload_len);

/* ws_build_header writes an unmasked server frame header into |out| and
 * returns its length. */
size_t ws_build_header(uint8_t out[WS_MAX_HEADER], enum ws_opcode opcode, bool fin,
                       uint64_t payload_len);

/* ws_build_close writes a complete close frame (header, code, reason) into
 * |out| and returns its length. A |code| of 0 writes an empty close frame.
 * |reason| is truncated so the payload stays within 125 bytes; |out| must
 * hold 2 + 125 bytes. */
size_t ws_build_close(uint8_t *out, uint16_t code, const char *reason);

/* ws_close_code_valid reports whether a peer may send |code| in a close
 * frame: 1000-1003, 1007-1011 and 3000-4999. */
bool ws_close_code_valid(uint16_t code);

/* ws_accept_key computes Sec-WebSocket-Accept for the client's
 * Sec-WebSocket-Key (SHA-1 and base64 from BoringSSL). Returns -1, writing
 * nothing, unless |key| is the base64 form of exactly 16 bytes (24
 * characters). |out| receives 28 characters and a NUL. */
int ws_accept_key(char out[WS_ACCEPT_LEN + 1], const char *key, size_t key_len);

#endif
