/* httpconn.h: the client port before an upgrade: HTTP/1.1 requests.
 *
 * Routes: GET /v1/ws with a WebSocket upgrade, GET|HEAD /healthz, and with
 * --echo-endpoint GET /v1/echo (a WebSocket echo). Anything
 * else gets a JSON error (400, 404, 405, 408, 414, 426, 431, 501, 505) and
 * the connection is closed after it. Keep-alive and pipelined requests are
 * served in order. */
#ifndef RC_HTTPCONN_H
#define RC_HTTPCONN_H

#include <stddef.h>
#include <stdint.h>

struct shard;
struct conn;

/* httpconn_start sets up a new client connection (handshake timer). */
void httpconn_start(struct shard *sh, struct conn *c);

/* httpconn_on_data handles bytes received before the upgrade. */
void httpconn_on_data(struct shard *sh, struct conn *c, uint8_t *data, size_t len);

/* httpconn_on_timeout answers 408 when no complete request head came in
 * time. */
void httpconn_on_timeout(struct shard *sh, struct conn *c);

#endif
