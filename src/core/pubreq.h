/* pubreq.h: a request on its way to its topic's home shard and back: a
 * publish, or a question to its history (a fetch of one held message, or
 * the held messages after a seq).
 *
 * The shard that owns the publisher's connection validates the PUBLISH,
 * copies it into one pubreq and pushes the pointer to the home shard's ring.
 * The home sequences it, fills in the result and pushes the same pointer
 * back, and the origin answers the publisher and frees it. When the origin
 * is itself the home, no pubreq is allocated: it is built on the stack,
 * pointing into the receive buffer. */
#ifndef RC_PUBREQ_H
#define RC_PUBREQ_H

#include <stddef.h>
#include <stdint.h>

#include "pubsub/home.h"
#include "pubsub/msg.h"

enum pubreq_op {
    PUBREQ_PUBLISH,
    PUBREQ_FETCH,   /* in.topic and seq name a message; the result is in fetched */
    PUBREQ_HISTORY, /* in.topic, seq (since) and limit; the result is in replay */
    PUBREQ_RESUME,  /* the same from the client's position (since_epoch, seq): seam.h */
};

struct pubreq {
    uint32_t conn_slot; /* the requesting connection on the origin shard */
    uint32_t conn_gen;
    uint32_t corr;
    uint16_t origin;
    uint16_t error; /* result: 0 or an RC_ERR_* code */
    uint8_t ack_flags;
    uint8_t op;
    uint64_t seq;              /* publish: the result; fetch: the message asked for */
    struct msg *fetched;       /* fetch result, holding one reference; NULL when not found */
    uint32_t limit;            /* history: the most messages wanted */
    uint64_t since_epoch;      /* resume: the epoch of the client's position */
    int history_failed;        /* history: the home ran out of memory */
    struct home_replay replay; /* history result, holding references */
    struct audience *audience; /* publish: read at the origin, given to the message */
    struct msg_input in;
    const char *msg_id;
    size_t msg_id_len;
    uint8_t storage[];
};

struct conn;
struct publish_fields;
struct pubcheck_refs;

/* pubreq_init fills |req| (on the stack) for a publish from connection
 * |c| on shard |origin|, pointing at |fields| and |refs|. */
void pubreq_init(struct pubreq *req, const struct conn *c, uint32_t corr, unsigned origin,
                 const struct publish_fields *fields, uint64_t topic_hash,
                 const struct pubcheck_refs *refs);

/* A question to a topic's history: PUBREQ_FETCH of message |seq|, or
 * PUBREQ_HISTORY of at most |limit| messages after |seq|. */
struct pubreq_ask {
    enum pubreq_op op;
    const char *topic;
    size_t topic_len;
    uint64_t topic_hash;
    uint64_t seq;
    uint32_t limit;
    uint64_t since_epoch; /* PUBREQ_RESUME */
    uint32_t corr;        /* comes back with the answer */
};

/* pubreq_init_ask fills |req| (on the stack, pointing at the topic) with
 * |ask| for connection |c| on shard |origin|. */
void pubreq_init_ask(struct pubreq *req, const struct conn *c, unsigned origin,
                     const struct pubreq_ask *ask);

/* pubreq_new_ask makes a heap request of |ask|, or NULL (memory). */
struct pubreq *pubreq_new_ask(const struct conn *c, unsigned origin, const struct pubreq_ask *ask);

/* pubreq_release_results drops the references a request's answer holds
 * (fetched, replay) that nobody took. */
void pubreq_release_results(struct pubreq *req);

/* pubreq_error_text explains an error a home shard can return. */
const char *pubreq_error_text(int error);

/* pubreq_copy makes a heap copy of |req| whose strings and payload live in
 * its own storage. Returns NULL when memory runs out. */
struct pubreq *pubreq_copy(const struct pubreq *req);

/* pubreq_free frees a copy, with the results nobody took. */
void pubreq_free(struct pubreq *req);

#endif
