/* natsparse.h: reading the NATS client protocol as a server sends it
 * (INFO, MSG, PING, PONG, +OK, -ERR), for ringcast-bench's --target nats.
 *
 * The protocol is a byte stream: over WebSocket a server frame may end
 * anywhere, inside a control line or a message's payload, and the next
 * frame goes on from there. So the parser takes the bytes as they come, in
 * pieces of any size, and keeps what it has of an unfinished operation: an
 * operation that lies whole in the input is returned where it lies; only
 * one cut by the end of a piece is copied (into the parser's buffer) and
 * completed from the next pieces. Splitting a stream anywhere never changes
 * the operations it yields. Operation names are case-insensitive, as the
 * protocol says; HMSG (headers, which our CONNECT turns off) is an error. */
#ifndef BENCH_NATSPARSE_H
#define BENCH_NATSPARSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* What ringcast-bench's clients send first (subnats.c, pubnats.c): not
 * verbose (no +OK), no headers (no HMSG), no echo of their own PUBs. */
#define NATSP_CONNECT_LINE                                                                         \
    "CONNECT {\"verbose\":false,\"pedantic\":false,\"headers\":false,\"echo\":false,"              \
    "\"protocol\":1,\"name\":\"ringcast-bench\",\"lang\":\"c\",\"version\":\"1\"}\r\n"

/* The longest control line taken (INFO with its connect URLs included). */
#define NATSP_MAX_LINE 16384

enum natsp_kind {
    NATSP_INFO, /* arg: the JSON */
    NATSP_MSG,  /* arg: the subject; sid; payload */
    NATSP_PING,
    NATSP_PONG,
    NATSP_OK,
    NATSP_ERR, /* arg: the message, quotes included */
};

struct natsp_op {
    enum natsp_kind kind;
    const uint8_t *arg;
    size_t arg_len;
    uint64_t sid;
    const uint8_t *payload;
    size_t len;
};

struct natsp {
    uint8_t *buf;      /* an operation cut by the end of a piece */
    uint32_t len, cap; /* bytes of it held, room for them */
    uint32_t need;     /* its whole length, once its control line is complete; else 0 */
    uint32_t max_payload;
    bool emitted; /* buf holds the operation returned last: dropped at the next call */
    char err[96]; /* why natsp_next returned -1 */
};

/* natsp_init readies |p| for a stream whose messages carry at most
 * |max_payload| bytes. */
void natsp_init(struct natsp *p, uint32_t max_payload);

/* natsp_next reads the next operation from the |*len| bytes at |*data|
 * and advances both past what it took. Returns 1 with |out| set (its
 * pointers stay valid until the next call on |p|, or as long as the input
 * when it lay there whole), 0 when the input is used up (the parser keeps
 * any unfinished operation), -1 on a protocol error (p->err says which). */
int natsp_next(struct natsp *p, const uint8_t **data, size_t *len, struct natsp_op *out);

/* natsp_pending reports whether the parser holds part of an operation. */
bool natsp_pending(const struct natsp *p);

/* natsp_free frees the parser's buffer. */
void natsp_free(struct natsp *p);

#endif
