/* route.h: a topic's home shard, and what travels between shards.
 *
 * A publish reaches its home either directly (the publisher's shard is the
 * home) or as a request through the request ring. The home assigns the
 * seq, builds the message once and sends the same pointer to the data ring
 * of every shard that may want it (and delivers to its own subscribers
 * itself); the result goes back to the publisher's shard on the data ring,
 * to the connection's on_result (conn.h). The home keeps each topic's recent
 * messages (history.h); questions to that history travel the same way.
 *
 * Room is checked before anything is sequenced: a full ring means waiting
 * (and being woken when the consumer makes room), never dropping. */
#ifndef RC_ROUTE_H
#define RC_ROUTE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct msg;
struct pubreq;
struct shard;

/* route_home_of returns the home shard of a topic hash. */
unsigned route_home_of(const struct shard *sh, uint64_t topic_hash);

/* route_has_room reports whether a request for |home| can go now: this
 * shard can sequence (when it is the home), or the ring to |home| has
 * room. When not, it registers for a wake-up from the consumer. */
bool route_has_room(struct shard *sh, unsigned home);

/* route_publish_at_home sequences a publish on this shard, the topic's
 * home, giving the request's audience to the message. Returns 0 and the
 * seq (and RC_ACK flags), or an RC_ERR_* code. */
int route_publish_at_home(struct shard *sh, struct pubreq *req, uint64_t *out_seq,
                          uint8_t *out_ack_flags);

/* route_ask_at_home answers a PUBREQ_FETCH or PUBREQ_HISTORY request for
 * a topic this shard is home of, filling its results (with references). */
void route_ask_at_home(struct shard *sh, struct pubreq *req);

/* route_send_request pushes a heap request to its |home|'s ring (the
 * caller checked route_has_room). */
void route_send_request(struct shard *sh, unsigned home, struct pubreq *req);

/* route_handle_item handles one item from another shard's ring. Returns
 * false, leaving the item in place, when it is a request this shard cannot
 * sequence yet. */
bool route_handle_item(struct shard *sh, void *item);

#endif
