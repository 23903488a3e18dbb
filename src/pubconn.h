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

struct shard;
struct conn;
struct pubreq;

/* pubconn_start sets up a new publisher connection (HELLO timer). */
void pubconn_start(struct shard *sh, struct conn *c);

/* pubconn_on_data handles received bytes. */
void pubconn_on_data(struct shard *sh, struct conn *c, uint8_t *data, size_t len);

/* pubconn_on_result answers the publish |req| came back with from its home
 * shard (the caller frees |req|). */
void pubconn_on_result(struct shard *sh, struct conn *c, struct pubreq *req);

/* pubconn_resume goes on reading after a pause or a full ring. */
void pubconn_resume(struct shard *sh, struct conn *c);

/* pubconn_on_timeout closes a connection that sent no HELLO in time. */
void pubconn_on_timeout(struct shard *sh, struct conn *c);

/* pubconn_drain tells the publisher the server is going away (GOAWAY),
 * stops reading, and closes once every outstanding publish is answered. */
void pubconn_drain(struct shard *sh, struct conn *c);

/* pubconn_max_frame returns the largest frame the server accepts. */
uint32_t pubconn_max_frame(const struct shard *sh);

#endif
