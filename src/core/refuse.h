/* refuse.h: answering connections over --max-connections.
 *
 * A refused connection never becomes a struct conn and never reaches a
 * connection kind. The shard sends it its listener's refusal
 * (conn_ops.write_refusal: 503 on the client port, NACK overloaded on the
 * publish port) and ends it the way docs/protocol/publish.md asks:
 *
 *   SEND ──(all sent)──► SHUTDOWN ──(write side shut: FIN)──► DRAIN
 *   DRAIN ──(peer's EOF, an error, or the linger deadline)──► closed
 *
 * Closing at once would reset a connection whose client already sent
 * something (a request, a HELLO: clients speak first), and the reset may
 * overtake the answer. Each step is one request on the ring; its
 * completion starts the next.
 *
 * A refusal holds its socket's slot in the shard's table until the close
 * completes. The shard arms accepts only while the table has a slot for
 * each (shard.c), so the refusals in flight fit the table's spare slots
 * (SOCKOP_TABLE_SLACK); when those are busy, new connections wait in the
 * listen backlog rather than being accepted and dropped. */
#ifndef RC_REFUSE_H
#define RC_REFUSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "io/sockop.h"
#include "util/timer.h"

struct shard;

/* Refusals a shard runs at once: every spare slot of its table. */
#define REFUSE_MAX SOCKOP_TABLE_SLACK
/* The longest a refused client is waited for after its answer (or
 * --close-timeout, when shorter). */
#define REFUSE_LINGER_MS 1000

struct refusal {
    struct timer_node timer; /* the linger deadline */
    const char *bytes;       /* the answer: the listener's, which outlives the sends */
    uint32_t len, sent;
    int fd; /* table slot; -1 while the refusal is free */
    uint32_t gen;
    uint8_t stage; /* enum refuse_stage (refuse.c) */
    bool expired;  /* the deadline passed: close once the request in flight ends */
};

struct refusals {
    struct refusal slots[REFUSE_MAX];
    uint16_t free[REFUSE_MAX];
    uint32_t num_free;
    uint32_t next_gen;
    /* Where drained input goes: the kernel writes it there, nothing reads
     * it, so every refusal's receive shares it. */
    char discard[4096];
};

/* refuse_init makes every refusal of |r| free. */
void refuse_init(struct refusals *r);

/* refuse_start answers the accepted socket |fd| (a table slot) with |len|
 * bytes at |bytes| (which must outlive the requests: the listener's) and
 * ends it as above. */
void refuse_start(struct shard *sh, int fd, const char *bytes, size_t len);

/* refuse_on_completion takes the completion of refusal |index|'s request
 * (generation |gen|, result |res|) and starts its next step. */
void refuse_on_completion(struct shard *sh, uint32_t index, uint32_t gen, int res);

/* refuse_active counts the refusals not yet closed. */
static inline uint32_t refuse_active(const struct refusals *r)
{
    return REFUSE_MAX - r->num_free;
}

#endif
