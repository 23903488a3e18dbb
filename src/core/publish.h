/* publish.h: the one way a connection publishes an event or fetches a kept
 * one, whatever protocol it came in by (the binary protocol, HTTP; later
 * the Redis bridge and the dialects' HTTP APIs).
 *
 * A publish: the connection's claims must cover the topic; the topic's
 * home must have room (else the connection waits on the shard's blocked
 * list and is resumed through its ops when there is room: nothing was done
 * and the caller tries the same publish again then); the connection and its
 * token's sub must be within their publish rates (limits.h); the fields are judged
 * (pubcheck.h); then the home sequences it, at once when it is this shard,
 * else through the rings, and the result comes back to the connection's
 * on_result (conn.h). */
#ifndef RC_PUBLISH_H
#define RC_PUBLISH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct conn;
struct msg;
struct tokenbucket;
struct publish_fields;
struct shard;

enum publish_outcome {
    PUBLISH_ANSWERED, /* the result is in |*out|: sequenced here, or refused */
    PUBLISH_SENT,     /* at the home shard: the result comes to on_result */
    PUBLISH_BLOCKED,  /* a ring is full: the connection waits (CONN_BLOCKED) */
};

struct publish_result {
    int error;           /* 0, or an RC_ERR_* code */
    const char *message; /* with an error: what to tell the client */
    uint64_t seq;
    uint8_t ack_flags; /* RC_ACK_* */
    uint32_t retry_ms; /* with RC_ERR_RATE_LIMITED: when a retry may be taken; 0: not known */
};

/* publish_submit publishes |fields| for connection |c|, whose own bucket
 * of --publish-rate-per-conn (its kind's state) is |bucket|; |corr| comes
 * back with the result. Over a rate the answer is RC_ERR_RATE_LIMITED. */
enum publish_outcome publish_submit(struct shard *sh, struct conn *c, struct tokenbucket *bucket,
                                    uint32_t corr, const struct publish_fields *fields,
                                    struct publish_result *out);

/* publish_ask asks the topic's history (pubreq.h has the questions):
 * PUBLISH_ANSWERED when this shard is the home, with the answer in |*local|
 * (whose results the caller takes or releases with
 * pubreq_release_results), or when memory ran out (then |*out_failed| is
 * set); PUBLISH_SENT (the answer comes to the connection's on_result) or
 * PUBLISH_BLOCKED as for a publish. The caller checked the claims. */
struct pubreq;
struct pubreq_ask;

enum publish_outcome publish_ask(struct shard *sh, struct conn *c, const struct pubreq_ask *ask,
                                 struct pubreq *local, bool *out_failed);

#endif
