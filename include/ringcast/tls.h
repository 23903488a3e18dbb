/* ringcast/tls.h: TLS for the client side (the publish client library,
 * ringcast-pub, ringcast-bench), with BoringSSL over a connected socket.
 *
 * A context holds the trusted CAs (a PEM file, or the system's bundle) and,
 * when asked, the last session the server gave (a ticket), so the next
 * connection resumes instead of paying a full handshake. The server's
 * certificate is always verified against the CAs, and its name (DNS name
 * or IP address) against the one given, unless the context was made
 * without verification (benchmarks only). */
#ifndef RINGCAST_TLS_H
#define RINGCAST_TLS_H

#include <stddef.h>

struct rc_tls;
struct rc_tls_ctx;

/* The CA bundle used when no CA file is given (Debian's). */
#define RC_TLS_SYSTEM_CAS "/etc/ssl/certs/ca-certificates.crt"

struct rc_tls_ctx_options {
    const char *ca_file; /* PEM CAs to trust; NULL: RC_TLS_SYSTEM_CAS */
    int resume;          /* keep the last session for the next connection */
    int no_verify;       /* accept any certificate (benchmarks only) */
};

/* rc_tls_ctx_new makes a context. Returns it, or NULL with a message in
 * |err|. */
struct rc_tls_ctx *rc_tls_ctx_new(const struct rc_tls_ctx_options *opts, char *err, size_t err_len);

/* rc_tls_ctx_free frees |ctx| (NULL is fine) once its connections are. */
void rc_tls_ctx_free(struct rc_tls_ctx *ctx);

/* rc_tls_connect runs the handshake on |fd| (connected, non-blocking) as
 * a client of server |name| (sent as SNI unless it is an IP address, and
 * checked against the certificate), waiting at most |timeout_ms|. Returns
 * 0 and a connection in |*out|, or -1 with a message in |err|. */
int rc_tls_connect(struct rc_tls **out, struct rc_tls_ctx *ctx, int fd, const char *name,
                   int timeout_ms, char *err, size_t err_len);

/* rc_tls_start begins the same handshake without waiting: call
 * rc_tls_handshake when |fd| is ready for what rc_tls_wants says. */
struct rc_tls *rc_tls_start(struct rc_tls_ctx *ctx, int fd, const char *name);

/* rc_tls_handshake goes on with the handshake: 1 done, 0 not yet (wait
 * for rc_tls_wants), -1 failed (rc_tls_error says why). */
int rc_tls_handshake(struct rc_tls *t);

/* rc_tls_wants says what the connection waits for: POLLIN or POLLOUT. */
short rc_tls_wants(const struct rc_tls *t);

/* rc_tls_recv reads up to |len| bytes of plaintext: the count, 0 at the
 * end of the stream, or -1 with errno EAGAIN (nothing yet) or EIO. */
long rc_tls_recv(struct rc_tls *t, void *buf, size_t len);

/* rc_tls_send writes up to |len| bytes: the count, or -1 with errno EAGAIN
 * (retry with the same bytes) or EPIPE. */
long rc_tls_send(struct rc_tls *t, const void *buf, size_t len);

/* rc_tls_pending reports whether plaintext waits inside the connection,
 * where poll() cannot see it. */
int rc_tls_pending(const struct rc_tls *t);

/* rc_tls_resumed reports whether the handshake resumed a session. */
int rc_tls_resumed(const struct rc_tls *t);

/* rc_tls_error describes the last failure. */
const char *rc_tls_error(const struct rc_tls *t);

/* rc_tls_free ends the connection (without closing |fd|); NULL is fine. */
void rc_tls_free(struct rc_tls *t);

#endif
