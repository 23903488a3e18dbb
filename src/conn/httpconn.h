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
 * Routes are a table: every one answers OPTIONS (a CORS preflight, or
 * 204 with Allow) and carries the CORS headers of --cors-origins
 * (httpcors.h) without a line of its own; a route added to the table gets
 * both. Errors are JSON ({"error":…,"message":…}). Keep-alive and pipelined
 * requests are served in order: a publish or fetch that waits for its home
 * shard holds back the requests behind it. Malformed requests are answered
 * (400, 404, 405, 408, 411, 413, 414, 426, 431, 501, 505) and the
 * connection is closed. */
#ifndef RC_HTTPCONN_H
#define RC_HTTPCONN_H

struct conn_ops;

/* http_conn_ops: a connection on a client port, before an upgrade. */
extern const struct conn_ops http_conn_ops;

#endif
