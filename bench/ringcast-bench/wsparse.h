/* wsparse.h: the client side of RFC 6455, as far as a subscriber needs it:
 * the opening handshake (Sec-WebSocket-Key and -Accept), masked frames to
 * the server, and parsing the server's unmasked frames. */
#ifndef BENCH_WSPARSE_H
#define BENCH_WSPARSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define WSP_KEY_LEN 24    /* base64 of 16 bytes */
#define WSP_ACCEPT_LEN 28 /* base64 of a SHA-1 */
#define WSP_MAX_CLIENT_HEADER 14

enum {
    WSP_CONT = 0x0,
    WSP_TEXT = 0x1,
    WSP_BINARY = 0x2,
    WSP_CLOSE = 0x8,
    WSP_PING = 0x9,
    WSP_PONG = 0xA,
};

/* wsp_make_key writes a random Sec-WebSocket-Key (NUL-terminated) to
 * |out| and the Sec-WebSocket-Accept the server must answer to |accept|. */
void wsp_make_key(char out[WSP_KEY_LEN + 1], char accept[WSP_ACCEPT_LEN + 1], uint64_t *rng);

/* wsp_check_response checks the head of the server's answer to an upgrade:
 * status 101, Upgrade: websocket, Connection: upgrade and the expected
 * Sec-WebSocket-Accept. Returns 0, or -1 with the reason in |err|. */
int wsp_check_response(const char *head, size_t len, const char *accept, char *err, size_t err_len);

/* wsp_client_frame writes one masked frame (FIN set) carrying |len| bytes
 * of |payload| to |out|, which must hold WSP_MAX_CLIENT_HEADER + len bytes.
 * Returns the frame's length. */
size_t wsp_client_frame(uint8_t *out, uint8_t opcode, const uint8_t *payload, size_t len,
                        uint32_t mask);

struct wsp_frame {
    uint8_t opcode;
    bool fin;
    bool compressed; /* RSV1: a permessage-deflate message */
    const uint8_t *payload;
    size_t len;
};

/* wsp_frame_length returns the total length (header and payload) of the
 * server frame starting at |p| once its header is there, 0 when the header
 * is incomplete, -1 when the frame is not a valid server frame (masked,
 * reserved bits, over |max_len|). */
long wsp_frame_length(const uint8_t *p, size_t len, size_t max_len);

/* wsp_parse_frame reads one server frame at |p|. Returns its total length
 * when it is complete (|out| set), 0 when more bytes are needed, -1 as
 * wsp_frame_length. */
long wsp_parse_frame(const uint8_t *p, size_t len, size_t max_len, struct wsp_frame *out);

#endif
