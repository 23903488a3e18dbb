/* wsresume.h: positions, resuming and rewinding on /v1/ws
 * (docs/protocol/websocket.md, docs/history.md).
 *
 * A subscribe (with a reply) asks the home of each exact topic it accepted
 * for the topic's position, and with "since" for the held events after the
 * client's position (PUBREQ_RESUME). Until every answer is in, the
 * connection reads no further input and holds the live events of those
 * topics (conn_ops.hold_event, counted in --max-queued-bytes); then it
 * sends the subscribed reply with the positions and, topic by topic, a gap
 * when one must be told, the replayed events and the held ones, each seq
 * once and in order (pubsub/seam.h). A topic the connection received
 * already (subscribed before, or through one of its patterns) is not held
 * unless it comes with "since": its live events go on as they did.
 *
 * {"type":"history",…} asks the home the same way (PUBREQ_HISTORY) and
 * answers with the events as subscribers get them. */
#ifndef RC_WSRESUME_H
#define RC_WSRESUME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct conn;
struct control_msg;
struct msg;
struct pubreq;
struct shard;
struct wsresume;

/* wsresume_subscribed finishes a subscribe whose |n| accepted topics are
 * |topics| (already in the index; |received_before| says, per topic,
 * whether the connection received it already): sends the reply now, or
 * stores what it needs in |*slot| and returns true when it waits for
 * answers (the connection's input is then paused). */
bool wsresume_subscribed(struct shard *sh, struct conn *c, struct wsresume **slot,
                         const struct control_msg *m, const char *const *topics, const size_t *lens,
                         const bool *received_before, size_t n);

/* wsresume_check_since reports whether every position in |m|'s "since" is
 * well formed; when not, it names the first bad topic in |*out_topic|. */
bool wsresume_check_since(const struct control_msg *m, const char **out_topic,
                          size_t *out_topic_len);

/* wsresume_history handles {"type":"history"}: returns true when it waits
 * for the home's answer (the input is then paused). */
bool wsresume_history(struct shard *sh, struct conn *c, const struct control_msg *m);

/* wsresume_on_result takes a home's answer. Returns true when the
 * connection stopped waiting (its input may go on). */
bool wsresume_on_result(struct shard *sh, struct conn *c, struct wsresume **slot,
                        struct pubreq *req);

/* wsresume_retry sends the questions a full ring held back. Returns true
 * while the connection still waits. */
bool wsresume_retry(struct shard *sh, struct conn *c, struct wsresume **slot);

/* wsresume_hold is the connection's hold_event (conn.h). */
int wsresume_hold(struct wsresume *r, struct msg *m, uint64_t *out_held);

/* wsresume_free drops what a waiting subscribe holds. */
void wsresume_free(struct wsresume *r);

#endif
