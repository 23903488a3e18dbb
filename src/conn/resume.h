/* resume.h: positions and resuming for subscribers (/v1/ws and /v1/sse),
 * and the WebSocket history command (docs/protocol/websocket.md, sse.md,
 * docs/history.md).
 *
 * A subscribe (a WebSocket one with a reply, or an SSE stream of one exact
 * topic with Last-Event-ID) asks the home of each exact topic it accepted
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
#ifndef RC_RESUME_H
#define RC_RESUME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "pubsub/seam.h"

struct conn;
struct control_msg;
struct msg;
struct pubreq;
struct shard;
struct resume;

/* How a kind of connection tells a resume's outcome. */
struct resume_out {
    bool reply; /* a subscribed reply with the positions comes first */
    /* send_control sends a control message (JSON text, malloc'd: it frees
     * it; NULL: out of memory, close). */
    void (*send_control)(struct shard *sh, struct conn *c, char *text, size_t len);
    /* send_gap sends a gap message (JSON text, as send_control). */
    void (*send_gap)(struct shard *sh, struct conn *c, char *text, size_t len);
    /* fail closes the connection after running out of memory. */
    void (*fail)(struct shard *sh, struct conn *c);
};

/* The position a client resumes one topic from. */
struct resume_since {
    bool given;
    struct seam_position pos;
};

/* resume_start finishes the subscription of |n| topics (already in the
 * index; |received_before| says, per topic, whether the connection
 * received it already; |since| per topic, or NULL: none): tells it now, or
 * stores what it needs in |*slot| and returns true when it waits for
 * answers (the connection's input is then paused). */
bool resume_start(struct shard *sh, struct conn *c, struct resume **slot,
                  const struct resume_out *out, const char *const *topics, const size_t *lens,
                  const bool *received_before, const struct resume_since *since, size_t n);

/* resume_subscribed is resume_start for a WebSocket subscribe |m|. */
bool resume_subscribed(struct shard *sh, struct conn *c, struct resume **slot,
                       const struct control_msg *m, const char *const *topics, const size_t *lens,
                       const bool *received_before, size_t n);

/* resume_check_since reports whether every position in |m|'s "since" is
 * well formed; when not, it names the first bad topic in |*out_topic|. */
bool resume_check_since(const struct control_msg *m, const char **out_topic, size_t *out_topic_len);

/* resume_history handles {"type":"history"}: returns true when it waits
 * for the home's answer (the input is then paused). */
bool resume_history(struct shard *sh, struct conn *c, const struct control_msg *m);

/* resume_on_result takes a home's answer. Returns true when the
 * connection stopped waiting (its input may go on). */
bool resume_on_result(struct shard *sh, struct conn *c, struct resume **slot, struct pubreq *req);

/* resume_retry sends the questions a full ring held back. Returns true
 * while the connection still waits. */
bool resume_retry(struct shard *sh, struct conn *c, struct resume **slot);

/* resume_hold is the connection's hold_event (conn.h). */
int resume_hold(struct resume *r, struct msg *m, uint64_t *out_held);

/* resume_free drops what a waiting subscribe holds. */
void resume_free(struct resume *r);

#endif
