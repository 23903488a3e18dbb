/* pusherconn.h: a Pusher protocol 7 connection on /app/<key> (the dialect
 * over wsconn.c's framing; docs/protocol/pusher.md).
 *
 * It subscribes to the topic of each channel (proto/pusher.h maps them),
 * so an event published to that topic by any protocol reaches it; the
 * event's Pusher frame is built once per message and shard (on the
 * shard's struct lref) and shared by every Pusher subscriber there. */
#ifndef RC_PUSHERCONN_H
#define RC_PUSHERCONN_H

#include <stddef.h>
#include <stdint.h>

struct conn;
struct lref;
struct msg;
struct pusher_app;
struct shard;
struct ws_deflate_agreement;

/* pusherconn_start turns an upgraded connection to /app/<key> into a
 * Pusher one for |app| and greets it (pusher:connection_established); an
 * unknown key (|app| NULL) or a missing or unsupported |protocol| is told
 * with pusher:error and closed with its code. */
void pusherconn_start(struct shard *sh, struct conn *c, const struct pusher_app *app,
                      const char *protocol, const struct ws_deflate_agreement *deflate,
                      uint8_t *early, size_t len);

/* pusherconn_queue_event queues |m| to |c| as its Pusher frame, building
 * it on |ref| for the first subscriber (exposed for the unit test).
 * Returns 0 or -1 (memory). */
int pusherconn_queue_event(struct conn *c, struct lref *ref, const struct msg *m);

#endif
