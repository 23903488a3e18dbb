/* wsread.h: the receive side of a WebSocket server connection.
 *
 * A ws_reader is fed the bytes a client sends, in pieces of any size, and
 * reports whole messages and control frames through a callback. It enforces
 * RFC 6455: masking required, RSV bits zero (RSV1 allowed on the first
 * frame of a message once permessage-deflate is agreed: |deflate|), known opcodes,
 * continuation rules, control frames of at most 125 bytes and never
 * fragmented (they may arrive between the fragments of a message), close
 * codes, UTF-8 of text messages across fragments (checked as the bytes
 * arrive, so an invalid message fails at the first bad byte), and the frame
 * and message size limits.
 *
 * Memory: an idle reader owns no heap memory. A message that arrives whole in
 * one feed is reported in place (unmasked in the caller's buffer). Only a
 * message split across feeds or fragments is copied into a buffer the reader
 * owns, which it frees once the message is delivered. */
#ifndef RC_WSREAD_H
#define RC_WSREAD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/utf8.h"
#include "proto/ws.h"

enum ws_event_type {
    WS_EV_MESSAGE, /* a complete text or binary message */
    WS_EV_PING,    /* answer with a pong carrying the same data */
    WS_EV_PONG,
    WS_EV_CLOSE, /* the peer's close frame: code (1005 when it had none) and reason */
};

struct ws_event {
    enum ws_event_type type;
    enum ws_opcode opcode; /* WS_OP_TEXT or WS_OP_BINARY for messages */
    const uint8_t *data;   /* payload (message, ping/pong data, close reason) */
    size_t len;
    bool compressed;     /* a message sent with RSV1 (permessage-deflate): |data| is deflated, and
                            its UTF-8 is checked by whoever inflates it */
    uint16_t close_code; /* WS_EV_CLOSE only */
};

/* The callback returns 0 to go on, or non-zero to stop feeding (for
 * example after a close); ws_reader_feed then returns that value. */
typedef int (*ws_event_fn)(void *ctx, const struct ws_event *ev);

struct ws_limits {
    uint64_t max_frame;   /* largest payload of one frame; larger -> 1009 */
    uint64_t max_message; /* largest message after reassembly; larger -> 1009 */
};

struct ws_reader {
    /* Private: the fields below belong to wsread.c. */
    uint8_t *buf;   /* message split across feeds or fragments; NULL when idle */
    size_t buf_len; /* bytes of that message so far */
    size_t buf_cap;
    uint8_t *ctl;           /* a control frame split across feeds (125 bytes), else NULL */
    uint64_t frame_len;     /* payload length of the current frame */
    uint64_t frame_done;    /* payload bytes of the current frame seen */
    struct utf8_state utf8; /* of the text message in buf */
    uint8_t mask[4];        /* of the current frame */
    uint8_t hdr[WS_MAX_CLIENT_HEADER]; /* a header split across feeds */
    uint8_t hdr_len;
    uint8_t in_frame;     /* the current frame's header is parsed: in its payload */
    uint8_t frame_opcode; /* opcode of the current frame */
    uint8_t frame_fin;
    uint8_t msg_opcode;     /* WS_OP_TEXT or WS_OP_BINARY while a message is open, else 0 */
    uint8_t closed;         /* a close frame was reported: input is ignored */
    uint8_t msg_compressed; /* the open message came with RSV1 */
    bool deflate;           /* public: permessage-deflate agreed, RSV1 may start a message */
    uint16_t error;         /* the close code of a protocol error, returned again */
};

/* ws_reader_init prepares |r|; it owns nothing yet. */
void ws_reader_init(struct ws_reader *r);

/* ws_reader_cleanup frees what |r| owns. */
void ws_reader_cleanup(struct ws_reader *r);

/* ws_reader_feed consumes |len| bytes of |data| (which it may unmask in
 * place; event data may point into |data|, valid only during the callback).
 * Returns 0 when all bytes were consumed, the callback's non-zero value if it
 * stopped, or a negative close code (-1002, -1007, -1009; -1011 when out of
 * memory) when the input
 * violates the protocol or a limit; the connection must then be closed with
 * that code. After a WS_EV_CLOSE the reader ignores all further input. */
int ws_reader_feed(struct ws_reader *r, uint8_t *data, size_t len, const struct ws_limits *limits,
                   ws_event_fn fn, void *ctx);

/* ws_reader_feed_some is ws_reader_feed that also says, in |*consumed|, how
 * many bytes of |data| it took: all of them, or (when the callback stopped
 * it with a non-zero value) those up to the end of the frame whose event
 * stopped it. The caller may feed the rest later (a connection that pauses
 * its input); they are untouched. */
int ws_reader_feed_some(struct ws_reader *r, uint8_t *data, size_t len,
                        const struct ws_limits *limits, ws_event_fn fn, void *ctx,
                        size_t *consumed);

#endif
