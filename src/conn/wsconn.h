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
struct lref;
struct msg;
struct shard;

/* A protocol spoken over this module's WebSocket framing instead of the
 * native one (the Pusher dialect, pusherconn.c): this module reads the
 * frames, answers pings, runs the ping and idle timers and the close
 * handshake; the dialect gives text messages their meaning and encodes
 * the events fan-out hands it. */
struct ws_dialect {
    /* on_text handles one text message. */
    void (*on_text)(struct shard *sh, struct conn *c, const uint8_t *data, size_t len);
    /* queue_event queues message |m| in the dialect's encoding (as
     * conn_ops.queue_event). */
    int (*queue_event)(struct conn *c, struct lref *ref, const struct msg *m);
    /* close_code says the server's own close codes (4001 slow consumer,
     * 4002 idle, 1001 shutting down) in the dialect's terms. */
    uint16_t (*close_code)(uint16_t code);
    /* release frees the dialect's state of a connection. */
    void (*release)(void *state);
};

/* ws_conn_ops: a native-protocol WebSocket connection. */
extern const struct conn_ops ws_conn_ops;

/* wsconn_start turns an upgraded HTTP connection into a WebSocket one and
 * handles |len| bytes the client sent right after its handshake. An |echo|
 * connection (/v1/echo) sends every message back instead of speaking the
 * native protocol: it exists so that RFC 6455 conformance suites, which
 * expect an echo server, can test the framing. */
void wsconn_start(struct shard *sh, struct conn *c, bool echo,
                  const struct ws_deflate_agreement *deflate, uint8_t *early, size_t len);

/* wsconn_start_dialect is wsconn_start for a connection speaking
 * |dialect|, which owns |state| from then on (dialect->release frees it).
 * The dialect sends its greeting after this returns. */
void wsconn_start_dialect(struct shard *sh, struct conn *c, const struct ws_dialect *dialect,
                          void *state, const struct ws_deflate_agreement *deflate, uint8_t *early,
                          size_t len);

/* wsconn_dialect_state returns the |state| a dialect's connection started with. */
void *wsconn_dialect_state(struct conn *c);

/* wsconn_send_text queues a copy of |text| as one text frame. */
void wsconn_send_text(struct shard *sh, struct conn *c, const void *text, size_t len);

/* wsconn_close queues a close frame with |code| and |reason| and closes
 * after it (graceful: queued events go first). */
void wsconn_close(struct shard *sh, struct conn *c, uint16_t code, const char *reason);

/* wsconn_close_slow closes a subscriber whose queue exceeded
 * --max-queued-bytes: the events not yet on the wire are dropped, a close
 * frame with code 4001 follows the frame being sent. */
void wsconn_close_slow(struct shard *sh, struct conn *c);

#endif
