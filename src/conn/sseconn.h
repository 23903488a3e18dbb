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

struct conn;
struct conn_ops;
struct shard;

/* sse_conn_ops: a Server-Sent Events stream. */
extern const struct conn_ops sse_conn_ops;
struct http_request;

/* sseconn_start subscribes |c| to the request's topics and starts the
 * stream, or answers an HTTP error (400) and closes. Returns true when the
 * stream started. */
bool sseconn_start(struct shard *sh, struct conn *c, const struct http_request *req);

/* sseconn_track_positions makes a stream of |c|'s subscriptions keep its
 * own id positions when it needs them (more than one subscription, or a
 * pattern). Returns 0 or -1 (memory). */
int sseconn_track_positions(struct conn *c);

/* sseconn_name_events chooses the records |c| gets: with "event: <type>"
 * (|named|: for addEventListener) or without (for onmessage). */
void sseconn_name_events(struct conn *c, bool named);

/* sseconn_close_slow ends a stream whose queue exceeded --max-queued-bytes:
 * events not yet on the wire are dropped, the stream ends after the record
 * being sent. */
void sseconn_close_slow(struct shard *sh, struct conn *c);

#endif
