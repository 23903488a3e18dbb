/* wsdeflate.h: permessage-deflate (RFC 7692) for a fan-out server.
 *
 * The server always compresses with server_no_context_takeover, which a
 * server may add to its answer on its own (RFC 7692 section 7.1.1.1): every
 * compressed message stands alone, so the compressed frame of an event is
 * the same bytes for every subscriber that negotiated the extension, built
 * once per message like the plain frame (msg.h) and shared.
 *
 * Receiving: a client may compress its messages too (subscribe commands).
 * Those are inflated with a bound on the inflated size, in a stream the
 * connection creates at its first compressed message. The answer asks the
 * client to keep a small window (client_max_window_bits, when offered) and
 * accepts client_no_context_takeover (when offered), so what such a
 * connection keeps is small.
 *
 * zlib from Debian does the work. */
#ifndef RC_WSDEFLATE_H
#define RC_WSDEFLATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The window the server asks a client to compress with, when the client's
 * offer lets it choose (client_max_window_bits): 2^10 bytes of history. */
#define WS_DEFLATE_CLIENT_WINDOW_BITS 10

/* What a handshake agreed. */
struct ws_deflate_agreement {
    bool on;                    /* permessage-deflate is in use */
    bool client_no_context;     /* the client resets its context per message */
    uint8_t client_window_bits; /* the client's window: 8..15 */
};

/* ws_deflate_negotiate reads the Sec-WebSocket-Extensions value |offers|
 * (the header's lines joined with ", ") and accepts the first
 * permessage-deflate offer this server can honour: every parameter known,
 * none repeated, server_max_window_bits (if given) 15, since the shared
 * frames use the full window. On success it writes the response header
 * line's value into |answer| (NUL-terminated) and returns true. */
bool ws_deflate_negotiate(const char *offers, size_t len, struct ws_deflate_agreement *out,
                          char *answer, size_t answer_cap);

/* ws_deflate_frame_bound is the room ws_deflate_frame needs for |len|
 * bytes of JSON. */
size_t ws_deflate_frame_bound(size_t len);

/* ws_deflate_frame writes into |out| a compressed text frame (RSV1 set) of
 * |json|: raw deflate at |level|, the trailing 00 00 ff ff removed (section
 * 7.2.1). Returns its length, or 0 when it would not be smaller than the
 * plain frame or zlib failed. Uses a compressor of the calling thread's
 * own. */
size_t ws_deflate_frame(const uint8_t *json, size_t len, int level, uint8_t *out, size_t cap);

/* ws_deflate_thread_cleanup frees the calling thread's compressor (a
 * shard calls it as it ends). */
void ws_deflate_thread_cleanup(void);

/* A connection's inflater, created at the first compressed message. */
struct ws_inflater;

/* Outcomes of ws_inflate. */
enum ws_inflate_status {
    WS_INFLATE_OK,
    WS_INFLATE_TOO_BIG, /* more than |max| bytes: close 1009 */
    WS_INFLATE_BAD,     /* not a deflate stream: close 1007 */
    WS_INFLATE_NOMEM,   /* close 1011 */
};

/* ws_inflate inflates one message's payload (compressed bytes, without the
 * 00 00 ff ff tail) into a malloc'd buffer of at most |max| bytes, creating
 * |*inf| as needed. The stream is kept between messages unless the
 * agreement says the client resets it. */
enum ws_inflate_status ws_inflate(struct ws_inflater **inf, const struct ws_deflate_agreement *a,
                                  const uint8_t *in, size_t len, size_t max, uint8_t **out,
                                  size_t *out_len);

/* ws_inflater_free frees |inf| (NULL: nothing). */
void ws_inflater_free(struct ws_inflater *inf);

#endif
