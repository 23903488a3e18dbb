/* pusherapi.h: Pusher's HTTP API on the client port, for the server
 * libraries (the `pusher` npm package, the Ruby and PHP gems):
 *
 *   POST /apps/<id>/events        {"name","data","channels"|"channel"}: 1-100 channels
 *   POST /apps/<id>/batch_events  {"batch":[{"name","data","channel"}…]}: 1-10 events
 * each with an optional "socket_id" whose connection does not get it.
 *
 * Every request is signed (pubsub/pushersig.h). Each channel's event is
 * a publish to the channel's topic (proto/pusher.h), one after the other
 * through core/publish.h; the answer is 200 {} once all are sequenced.
 * Errors are text bodies, as Pusher's: 400 malformed, 401 signature, 404
 * unknown app or route, 413 over the app's max_payload with
 * --truncate=reject. */
#ifndef RC_PUSHERAPI_H
#define RC_PUSHERAPI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "conn/httpapi.h"

struct conn;
struct http_request;
struct pubreq;
struct shard;

/* pusherapi_serve handles a request under /apps/; |body| has |avail| bytes. */
enum httpapi_result pusherapi_serve(struct shard *sh, struct conn *c,
                                    const struct http_request *req, const uint8_t *body,
                                    size_t avail);

/* pusherapi_waiting reports whether |c| waits for one of its publishes. */
bool pusherapi_waiting(struct conn *c);

/* pusherapi_answer goes on with the request after a publish came back
 * from its home. */
void pusherapi_answer(struct shard *sh, struct conn *c, struct pubreq *req);

/* pusherapi_release frees what a connection closed while waiting held. */
void pusherapi_release(struct conn *c);

#endif
