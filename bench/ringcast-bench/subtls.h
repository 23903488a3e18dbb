/* subtls.h: TLS for subscriber connections (--tls).
 *
 * The receives stay io_uring's (multishot, provided buffers): what one
 * brings is fed to the connection's SSL through a memory BIO and the
 * plaintext comes out into a per-thread buffer, to be parsed as a
 * plaintext connection's bytes are. What TLS writes (the handshake, the
 * upgrade request, pongs, close frames) goes out with a plain send, so a
 * TLS connection never moves into the io_uring file table.
 *
 * A thread's context keeps the newest session the server gave (a ticket)
 * when --tls-resume asks: every later connection of the thread offers it,
 * so a run's connects measure resumed handshakes. */
#ifndef BENCH_SUBTLS_H
#define BENCH_SUBTLS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <openssl/base.h>

struct subtls;

/* subtls_ctx_new makes a thread's client context: with |ca_file| the
 * server's certificate is verified, without it accepted as it is. NULL
 * with a message in |err|. */
SSL_CTX *subtls_ctx_new(const char *ca_file, bool resume, char *err, size_t err_len);

/* subtls_ctx_free frees a context made by subtls_ctx_new. */
void subtls_ctx_free(SSL_CTX *ctx);

/* subtls_start begins a handshake on connected socket |fd| as a client of
 * |name| (SNI); its first flight is sent. NULL when that failed. */
struct subtls *subtls_start(SSL_CTX *ctx, int fd, const char *name);

/* subtls_feed hands the connection |len| received bytes. */
bool subtls_feed(struct subtls *s, const uint8_t *data, size_t len);

/* subtls_handshake goes on with the handshake: 1 done, 0 it needs more
 * input, -1 failed. */
int subtls_handshake(struct subtls *s);

/* subtls_read decrypts into |buf|: the byte count, 0 when the input is
 * used up, -1 when the stream ended or broke. */
long subtls_read(struct subtls *s, uint8_t *buf, size_t cap);

/* subtls_send encrypts and sends |len| bytes (never blocking: a socket
 * that is full fails the send). */
bool subtls_send(struct subtls *s, const void *data, size_t len);

/* subtls_resumed reports whether the handshake resumed a session. */
bool subtls_resumed(const struct subtls *s);

/* subtls_free frees |s| (NULL is fine); the socket stays open. */
void subtls_free(struct subtls *s);

#endif
