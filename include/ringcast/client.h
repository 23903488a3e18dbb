/* ringcast/client.h: a small blocking client for the publish protocol.
 *
 * Pipelining: rc_client_send_publish only queues a frame (flushing when the
 * queue grows large); rc_client_read_reply flushes and reads the next reply.
 * Replies to publishes on different topics may come back in any order: match
 * them by correlation id. A client is used by one thread at a time. */
#ifndef RINGCAST_CLIENT_H
#define RINGCAST_CLIENT_H

#include <stddef.h>
#include <stdint.h>

#include "protocol.h"

struct rc_client;

struct rc_client_options {
    const char *server;      /* "HOST:PORT"; NULL means 127.0.0.1:7070 */
    const char *token;       /* NULL or "" for none */
    const char *client_name; /* NULL for "" */
    int timeout_ms;          /* connect, handshake and each read; 0 means 10000 */
    int tls;                 /* TLS (a --publish-tls-listen port): the certificate and the
                                server's name (HOST of |server|) are verified */
    const char *ca_file;     /* with |tls|: PEM CAs to trust; NULL: the system's */
};

struct rc_reply {
    uint8_t type; /* RC_ACK, RC_NACK, RC_PONG or RC_GOAWAY */
    uint32_t corr;
    uint64_t seq;                           /* RC_ACK */
    uint8_t ack_flags;                      /* RC_ACK */
    uint16_t code;                          /* RC_NACK, RC_GOAWAY */
    char message[RC_MAX_ERROR_MESSAGE + 1]; /* RC_NACK, RC_GOAWAY; NUL-terminated */
};

/* rc_client_connect connects, sends HELLO and waits for WELCOME. Returns 0
 * and a client in |*out|, or -1 with a message in |err|. */
int rc_client_connect(struct rc_client **out, const struct rc_client_options *opts, char *err,
                      size_t err_len);

/* rc_client_free closes the connection and frees |c| (NULL is fine). */
void rc_client_free(struct rc_client *c);

/* rc_client_limits returns what the server announced in WELCOME. */
const struct rc_welcome *rc_client_limits(const struct rc_client *c);

/* rc_client_send_publish queues a PUBLISH and returns its correlation id in
 * |*out_corr|. Returns 0, or -1 on a connection error or a field above the
 * server's limits (see rc_client_error). */
int rc_client_send_publish(struct rc_client *c, const struct rc_publish *p, uint32_t *out_corr);

/* rc_client_check_publish checks |p| against the limits the server
 * announced and those of the protocol, without sending anything. Returns 0,
 * or the code the server would answer (RC_ERR_BAD_TOPIC, RC_ERR_TOO_LARGE or
 * RC_ERR_BAD_REQUEST) with an explanation in |err|. rc_client_send_publish
 * makes the same check; callers use this one to tell such a refusal apart
 * from a connection error. */
int rc_client_check_publish(const struct rc_client *c, const struct rc_publish *p, char *err,
                            size_t err_len);

/* rc_client_send_ping queues a PING. */
int rc_client_send_ping(struct rc_client *c, uint32_t *out_corr);

/* rc_client_flush writes every queued frame. Returns 0 or -1. */
int rc_client_flush(struct rc_client *c);

/* rc_client_read_reply flushes, then waits for the next reply from the
 * server. Returns 0, or -1 on a connection error, a timeout or a malformed
 * frame (see rc_client_error). */
int rc_client_read_reply(struct rc_client *c, struct rc_reply *out);

/* rc_client_reply_ready reports whether rc_client_read_reply can return
 * without waiting for the socket: a whole frame is already buffered, or the
 * connection has ended. poll() on rc_client_fd cannot see buffered frames,
 * so an event loop checks this before it polls. */
int rc_client_reply_ready(const struct rc_client *c);

/* rc_client_publish publishes one event and waits for its reply; use it only
 * with nothing else outstanding. Returns 0 when a reply (ACK or NACK) came. */
int rc_client_publish(struct rc_client *c, const struct rc_publish *p, struct rc_reply *out);

/* rc_client_error returns the last connection error as text. */
const char *rc_client_error(const struct rc_client *c);

/* rc_client_fd returns the socket, for callers that poll. */
int rc_client_fd(const struct rc_client *c);

#endif
