/* sseconn.h: a Server-Sent Events stream (GET /v1/sse?topic=a&topic=b).
 *
 * The response is text/event-stream: a retry: hint, then one record per
 * event (shared bytes built once per message, see msg.h), a comment line
 * every --sse-heartbeat, until either side closes. Topics come from the
 * query, as repeated topic= parameters or comma lists, exact or patterns.
 * Ids are described in docs/protocol/sse.md. */
#ifndef RC_SSECONN_H
#define RC_SSECONN_H

#include <stdbool.h>

struct shard;
struct conn;
struct http_request;

/* sseconn_start subscribes |c| to the request's topics and starts the
 * stream, or answers an HTTP error (400) and closes. Returns true when the
 * stream started. */
bool sseconn_start(struct shard *sh, struct conn *c, const struct http_request *req);

/* sseconn_on_timer sends the heartbeat comment. */
void sseconn_on_timer(struct shard *sh, struct conn *c);

/* sseconn_close_slow ends a stream whose queue exceeded --max-queued-bytes:
 * events not yet on the wire are dropped, the stream ends after the record
 * being sent. */
void sseconn_close_slow(struct shard *sh, struct conn *c);

/* sseconn_close ends a stream gracefully (queued events first). */
void sseconn_close(struct shard *sh, struct conn *c);

#endif
