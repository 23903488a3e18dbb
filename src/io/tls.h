/* tls.h: TLS in user space with BoringSSL, over bytes the caller moves.
 *
 * A session never touches a socket: the caller feeds it the ciphertext a
 * receive brought (read in place from the provided buffer, no copy) and
 * sends what it produced (handshake messages, records, alerts), which
 * waits in an output buffer that exists only while bytes are pending. So
 * TLS sits under any protocol without the protocol knowing, the way
 * nginx's ngx_ssl_* swaps a connection's recv/send.
 *
 * The server context is one SSL_CTX for the process: TLS 1.2 and 1.3
 * only, BoringSSL's default cipher suites, ALPN http/1.1, stateless
 * session tickets under a key BoringSSL rotates by itself (every two
 * days, the previous key still accepted), and a certificate chosen per
 * handshake by name from the current set (tlscert.h), which a reload
 * replaces without touching the context, so tickets survive reloads. */
#ifndef RC_TLS_H
#define RC_TLS_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <openssl/base.h>

#include "io/tlscert.h"

struct tls_retired;

struct tls_server {
    SSL_CTX *ctx;
    BIO_METHOD *bio_method;
    _Atomic(struct tlscert_set *) certs; /* the current set, read by every shard */
    struct tls_retired *retired;         /* sets replaced by reloads, freed at cleanup */
};

/* tls_server_init sets up |srv| serving |certs| (taken over, also on
 * failure). Returns 0, or -1 with a message in |err|. */
int tls_server_init(struct tls_server *srv, struct tlscert_set *certs, char *err, size_t err_len);

/* tls_server_swap_certs makes |certs| (taken over) the set new handshakes
 * use. The previous set is kept until tls_server_cleanup: a handshake on
 * another thread may be reading it at this moment, and a set is a few
 * KiB. Called from one thread only (the main thread, on SIGHUP). */
int tls_server_swap_certs(struct tls_server *srv, struct tlscert_set *certs);

/* tls_server_cleanup frees what |srv| holds, once no session is left. */
void tls_server_cleanup(struct tls_server *srv);

/* tls_probe_ktls asks the kernel for its TLS upper layer (TCP_ULP "tls")
 * on a scratch socket: 0 when offered, or the -errno that says why not
 * (-ENOENT: no tls module). */
int tls_probe_ktls(void);

/* Why a session failed, for the metrics. */
enum tls_failure {
    TLS_FAIL_NONE,
    TLS_FAIL_PLAINTEXT,    /* an HTTP request or other non-TLS bytes */
    TLS_FAIL_HANDSHAKE,    /* a bad or unacceptable ClientHello, a failed handshake */
    TLS_FAIL_UNKNOWN_NAME, /* SNI named a server no certificate covers */
    TLS_FAIL_RECORD,       /* a bad record after the handshake */
    TLS_NUM_FAILURES,
};

/* tls_failure_name names |f| for the metrics' label. */
const char *tls_failure_name(enum tls_failure f);

struct tls_session {
    SSL *ssl;
    const uint8_t *in; /* ciphertext fed and not yet taken by the session */
    size_t in_len;
    uint8_t *out; /* bytes to send; NULL while none are pending */
    uint32_t out_len;
    uint32_t out_cap;
    uint32_t out_sent;
    uint8_t failure; /* enum tls_failure */
    bool established;
    bool close_notified;
};

/* tls_session_init starts a server session of |srv|. Returns 0 or -1. */
int tls_session_init(struct tls_session *s, struct tls_server *srv);

/* tls_session_cleanup frees what |s| holds. */
void tls_session_cleanup(struct tls_session *s);

/* tls_session_feed hands |s| |len| bytes of ciphertext at |data|, which
 * must stay valid until the session took them all (|s->in_len| is 0: after
 * the handshake or reads returned 0). */
static inline void tls_session_feed(struct tls_session *s, const uint8_t *data, size_t len)
{
    s->in = data;
    s->in_len = len;
}

/* tls_session_handshake goes on with the handshake: 1 done (now or
 * before), 0 it needs more input, -1 failed (|s->failure| says why). */
int tls_session_handshake(struct tls_session *s);

/* tls_session_read decrypts into |buf| (|cap| bytes): the number of bytes,
 * 0 when the input fed is used up, -1 when the peer closed (close_notify),
 * -2 on a bad record (|s->failure|). */
ssize_t tls_session_read(struct tls_session *s, uint8_t *buf, size_t cap);

/* tls_session_seal encrypts |len| bytes into the output: one record per
 * 16 KiB. Returns 0 or -1. */
int tls_session_seal(struct tls_session *s, const uint8_t *data, size_t len);

/* tls_session_close_notify queues the close_notify alert, once. */
void tls_session_close_notify(struct tls_session *s);

/* tls_session_resumed reports whether the handshake resumed a session. */
bool tls_session_resumed(const struct tls_session *s);

/* tls_session_unsent reports how many output bytes wait to be sent. */
static inline uint32_t tls_session_unsent(const struct tls_session *s)
{
    return s->out_len - s->out_sent;
}

/* tls_session_sent accounts for |n| output bytes on the wire; the buffer is
 * freed once everything is. */
void tls_session_sent(struct tls_session *s, size_t n);

#endif
