/* subnats.h: a subscriber speaking NATS over WebSocket (--target nats).
 *
 * After the 101 the server sends INFO; the subscriber answers with one
 * frame holding CONNECT (no echo, no headers, not verbose), SUB <topic> 1
 * and PING, and is set up (READY) at the PONG, which the server sends once
 * it has taken the SUB. Then each MSG is an event (its raw payload, as
 * nchan's), a PING from the server gets a PONG, and -ERR ends the
 * connection ('Slow Consumer' counts as a slow-consumer close). The NATS
 * stream runs on across frames, cut anywhere (natsparse.h). */
#ifndef BENCH_SUBNATS_H
#define BENCH_SUBNATS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sub.h"

struct subconn;

/* subnats_init gives a connection its NATS parser; false when out of
 * memory. */
bool subnats_init(struct subconn *c);

/* subnats_on_bytes handles the payload of one server frame; false when the
 * connection ended. */
bool subnats_on_bytes(struct sub_thread *t, struct subconn *c, const uint8_t *p, size_t len,
                      uint64_t now_ns);

#endif
