/* httpconn.h: HTTP/1.1 requests on the client port.
 *
 * Routes:
 *   GET  /v1/ws                    WebSocket upgrade: the native protocol
 *   GET  /v1/echo                  WebSocket echo (with --echo-endpoint)
 *   GET  /v1/sse?topic=…           Server-Sent Events stream
 *   POST /v1/publish               publish (JSON body, or ?topic=… and a raw body)
 *   GET  /v1/messages/TOPIC/SEQ    an oversized event, in full
 *   GET  /metrics                  Prometheus text
 *   GET  /healthz                  liveness
 * Errors are JSON ({"error":…,"message":…}). Keep-alive and pipelined
 * requests are served in order: a publish or fetch that waits for its home
 * shard holds back the requests behind it. Malformed requests are answered
 * (400, 404, 405, 408, 411, 413, 414, 426, 431, 501, 505) and the
 * connection is closed. */
#ifndef RC_HTTPCONN_H
#define RC_HTTPCONN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct shard;
struct conn;
struct pubreq;

/* httpconn_start sets up a new client connection (handshake timer). */
void httpconn_start(struct shard *sh, struct conn *c);

/* httpconn_on_data handles bytes received on an HTTP connection. */
void httpconn_on_data(struct shard *sh, struct conn *c, uint8_t *data, size_t len);

/* httpconn_on_timeout answers 408 when no complete request came in time. */
void httpconn_on_timeout(struct shard *sh, struct conn *c);

/* httpconn_on_result answers the publish or fetch |req| came back with
 * (the caller frees |req|; a fetched message taken over is set to NULL). */
void httpconn_on_result(struct shard *sh, struct conn *c, struct pubreq *req);

struct auth_token;
struct claims;

/* httpconn_authenticate checks the request's token when tokens are
 * required: returns true with the claims in |*out| (NULL in open mode), or
 * false after answering 401 and closing. */
bool httpconn_authenticate(struct shard *sh, struct conn *c, const struct auth_token *token,
                           struct claims **out);

/* httpconn_resume goes on with buffered requests after an answer, or after
 * a full ring cleared. */
void httpconn_resume(struct shard *sh, struct conn *c);

#endif
