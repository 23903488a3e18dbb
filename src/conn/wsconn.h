/* wsconn.h: a native-protocol WebSocket connection.
 *
 * Text messages are control messages (control.h); binary messages are not
 * part of the native protocol (close 1003). Pings are answered with pongs,
 * a close frame with a close frame echoing its code. Protocol errors close
 * with the code the reader reports (1002, 1007, 1009). */
#ifndef RC_WSCONN_H
#define RC_WSCONN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct ws_deflate_agreement;

struct conn;
struct conn_ops;
struct shard;

/* ws_conn_ops: a native-protocol WebSocket connection. */
extern const struct conn_ops ws_conn_ops;

/* wsconn_start turns an upgraded HTTP connection into a WebSocket one and
 * handles |len| bytes the client sent right after its handshake. An |echo|
 * connection (/v1/echo) sends every message back instead of speaking the
 * native protocol: it exists so that RFC 6455 conformance suites, which
 * expect an echo server, can test the framing. */
void wsconn_start(struct shard *sh, struct conn *c, bool echo,
                  const struct ws_deflate_agreement *deflate, uint8_t *early, size_t len);

/* wsconn_close queues a close frame with |code| and |reason| and closes
 * after it (graceful: queued events go first). */
void wsconn_close(struct shard *sh, struct conn *c, uint16_t code, const char *reason);

/* wsconn_close_slow closes a subscriber whose queue exceeded
 * --max-queued-bytes: the events not yet on the wire are dropped, a close
 * frame with code 4001 follows the frame being sent. */
void wsconn_close_slow(struct shard *sh, struct conn *c);

#endif
