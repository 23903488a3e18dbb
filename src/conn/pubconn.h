/* pubconn.h: a connection on the publish port (docs/protocol/publish.md).
 *
 * Reads frames, answers HELLO, PING, and PUBLISH: a publish is validated
 * here (on the publisher's shard), then sequenced by the topic's home shard,
 * directly when that is this shard, through a ring otherwise. The ACK or
 * NACK goes back with the request's correlation id.
 *
 * Backpressure: the connection stops reading when --max-inflight publishes
 * await their result, or when the ring to a home shard is full; it reads on
 * once that clears. */
#ifndef RC_PUBCONN_H
#define RC_PUBCONN_H

#include <stddef.h>
#include <stdint.h>

struct conn_ops;
struct shard;

/* pub_conn_ops: a connection on a publish port. */
extern const struct conn_ops pub_conn_ops;

/* pubconn_max_frame returns the largest frame the server accepts. */
uint32_t pubconn_max_frame(const struct shard *sh);

#endif
