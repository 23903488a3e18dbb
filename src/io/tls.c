/* tls.c: the BoringSSL server context and sessions over memory.
 *
 * Each session's SSL reads and writes through one small BIO of ours: a
 * read takes from the ciphertext fed (the receive's provided buffer, in
 * place), a write appends to the session's output buffer. BoringSSL
 * itself keeps a record buffer only while a record is half read or being
 * written, so an idle session holds its SSL state and nothing more. */
#include "io/tls.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

#include "util/alloc.h"

struct tls_retired {
    struct tlscert_set *certs;
    struct tls_retired *next;
};

static const char *const failure_names[TLS_NUM_FAILURES] = {
    [TLS_FAIL_NONE] = "none",           [TLS_FAIL_PLAINTEXT] = "plaintext",
    [TLS_FAIL_HANDSHAKE] = "handshake", [TLS_FAIL_UNKNOWN_NAME] = "unknown_name",
    [TLS_FAIL_RECORD] = "record",
};

const char *tls_failure_name(enum tls_failure f)
{
    return f < TLS_NUM_FAILURES ? failure_names[f] : "unknown";
}

/* reserve makes room for |more| output bytes. Returns 0 or -1. */
static int reserve(struct tls_session *s, size_t more)
{
    size_t need = (size_t)s->out_len + more;
    if (need > UINT32_MAX)
        return -1;
    if (need <= s->out_cap)
        return 0;
    size_t cap = s->out_cap ? s->out_cap : 4096;
    while (cap < need)
        cap *= 2;
    uint8_t *grown = rc_realloc(s->out, cap);
    if (!grown)
        return -1;
    s->out = grown;
    s->out_cap = (uint32_t)cap;
    return 0;
}

/* The output grows by what BoringSSL writes (a record: up to 16 KiB and
 * its overhead) and is freed once sent. */
static int bio_write(BIO *bio, const char *data, int len)
{
    struct tls_session *s = BIO_get_data(bio);
    if (len <= 0)
        return 0;
    if (reserve(s, (size_t)len) != 0)
        return -1;
    size_t need = (size_t)s->out_len + (size_t)len;
    memcpy(s->out + s->out_len, data, (size_t)len);
    s->out_len = (uint32_t)need;
    return len;
}

static int bio_read(BIO *bio, char *out, int len)
{
    struct tls_session *s = BIO_get_data(bio);
    BIO_clear_retry_flags(bio);
    if (s->in_len == 0) {
        BIO_set_retry_read(bio);
        return -1;
    }
    size_t n = (size_t)len < s->in_len ? (size_t)len : s->in_len;
    memcpy(out, s->in, n);
    s->in += n;
    s->in_len -= n;
    return (int)n;
}

static long bio_ctrl(BIO *bio, int cmd, long num, void *ptr)
{
    (void)bio, (void)num, (void)ptr;
    return cmd == BIO_CTRL_FLUSH ? 1 : 0;
}

static int bio_create(BIO *bio)
{
    BIO_set_init(bio, 1);
    return 1;
}

static BIO_METHOD *make_bio_method(void)
{
    BIO_METHOD *m = BIO_meth_new(BIO_TYPE_SOURCE_SINK, "ringcast");
    if (!m)
        return NULL;
    BIO_meth_set_write(m, bio_write);
    BIO_meth_set_read(m, bio_read);
    BIO_meth_set_ctrl(m, bio_ctrl);
    BIO_meth_set_create(m, bio_create);
    return m;
}

static const struct tlscert_pair *choose_pair(SSL *ssl)
{
    struct tls_server *srv = SSL_CTX_get_app_data(SSL_get_SSL_CTX(ssl));
    const struct tlscert_set *set = atomic_load_explicit(&srv->certs, memory_order_acquire);
    return tlscert_set_choose(set, SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name));
}

/* on_server_name refuses a name no certificate covers, with the
 * unrecognized_name alert. */
static int on_server_name(SSL *ssl, int *out_alert, void *arg)
{
    (void)arg;
    if (choose_pair(ssl))
        return SSL_TLSEXT_ERR_OK;
    struct tls_session *s = SSL_get_app_data(ssl);
    s->failure = TLS_FAIL_UNKNOWN_NAME;
    *out_alert = SSL_AD_UNRECOGNIZED_NAME;
    return SSL_TLSEXT_ERR_ALERT_FATAL;
}

static int on_cert(SSL *ssl, void *arg)
{
    (void)arg;
    const struct tlscert_pair *pair = choose_pair(ssl);
    if (!pair) {
        struct tls_session *s = SSL_get_app_data(ssl);
        s->failure = TLS_FAIL_UNKNOWN_NAME;
        return 0;
    }
    return tlscert_pair_use(pair, ssl);
}

static int on_alpn(SSL *ssl, const uint8_t **out, uint8_t *out_len, const uint8_t *in,
                   unsigned in_len, void *arg)
{
    static const uint8_t http11[] = "\x08http/1.1";
    (void)ssl, (void)arg;
    uint8_t *chosen;
    if (SSL_select_next_proto(&chosen, out_len, http11, sizeof(http11) - 1, in, in_len) !=
        OPENSSL_NPN_NEGOTIATED)
        return SSL_TLSEXT_ERR_NOACK; /* no ALPN in the reply: the client decides */
    *out = chosen;
    return SSL_TLSEXT_ERR_OK;
}

int tls_server_init(struct tls_server *srv, struct tlscert_set *certs, char *err, size_t err_len)
{
    memset(srv, 0, sizeof(*srv));
    atomic_init(&srv->certs, certs);
    srv->ctx = SSL_CTX_new(TLS_method());
    srv->bio_method = make_bio_method();
    if (!srv->ctx || !srv->bio_method || !SSL_CTX_set_min_proto_version(srv->ctx, TLS1_2_VERSION) ||
        !SSL_CTX_set_max_proto_version(srv->ctx, TLS1_3_VERSION)) {
        snprintf(err, err_len, "cannot set up the TLS context");
        return -1;
    }
    SSL_CTX_set_app_data(srv->ctx, srv);
    /* Tickets only: a server-side cache would be one lock for every shard. */
    SSL_CTX_set_session_cache_mode(srv->ctx, SSL_SESS_CACHE_OFF);
    SSL_CTX_set_tlsext_servername_callback(srv->ctx, on_server_name);
    SSL_CTX_set_cert_cb(srv->ctx, on_cert, NULL);
    SSL_CTX_set_alpn_select_cb(srv->ctx, on_alpn, NULL);
    return 0;
}

int tls_server_swap_certs(struct tls_server *srv, struct tlscert_set *certs)
{
    struct tls_retired *r = rc_malloc(sizeof(*r));
    if (!r) {
        tlscert_set_free(certs);
        rc_free(certs);
        return -1;
    }
    r->certs = atomic_exchange_explicit(&srv->certs, certs, memory_order_acq_rel);
    r->next = srv->retired;
    srv->retired = r;
    return 0;
}

static void free_set(struct tlscert_set *set)
{
    tlscert_set_free(set);
    rc_free(set);
}

void tls_server_cleanup(struct tls_server *srv)
{
    SSL_CTX_free(srv->ctx);
    if (srv->bio_method)
        BIO_meth_free(srv->bio_method);
    free_set(atomic_load(&srv->certs));
    while (srv->retired) {
        struct tls_retired *r = srv->retired;
        srv->retired = r->next;
        free_set(r->certs);
        rc_free(r);
    }
    memset(srv, 0, sizeof(*srv));
}

int tls_probe_ktls(void)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -errno;
    /* An unconnected socket: ENOTCONN means the tls module is there (it
     * takes only established connections), ENOENT that it is not. */
    int ret = setsockopt(fd, SOL_TCP, TCP_ULP, "tls", sizeof("tls")) == 0 ? 0 : -errno;
    close(fd);
    return ret == -ENOTCONN ? 0 : ret;
}

int tls_session_init(struct tls_session *s, struct tls_server *srv)
{
    memset(s, 0, sizeof(*s));
    s->ssl = SSL_new(srv->ctx);
    BIO *bio = BIO_new(srv->bio_method);
    if (!s->ssl || !bio) {
        BIO_free(bio);
        SSL_free(s->ssl);
        s->ssl = NULL;
        return -1;
    }
    BIO_set_data(bio, s);
    SSL_set_bio(s->ssl, bio, bio);
    SSL_set_app_data(s->ssl, s);
    SSL_set_accept_state(s->ssl);
    return 0;
}

void tls_session_cleanup(struct tls_session *s)
{
    SSL_free(s->ssl);
    rc_free(s->out);
    memset(s, 0, sizeof(*s));
}

/* classify says why a handshake failed, from BoringSSL's error queue,
 * which it then clears (one connection's error must not show in the
 * next's). */
static enum tls_failure classify(struct tls_session *s, enum tls_failure otherwise)
{
    unsigned long code = ERR_peek_error();
    ERR_clear_error();
    if (s->failure != TLS_FAIL_NONE)
        return s->failure;
    if (ERR_GET_LIB(code) == ERR_LIB_SSL && (ERR_GET_REASON(code) == SSL_R_HTTP_REQUEST ||
                                             ERR_GET_REASON(code) == SSL_R_HTTPS_PROXY_REQUEST ||
                                             ERR_GET_REASON(code) == SSL_R_WRONG_VERSION_NUMBER))
        return TLS_FAIL_PLAINTEXT;
    return otherwise;
}

int tls_session_handshake(struct tls_session *s)
{
    if (s->established)
        return 1;
    if (s->failure != TLS_FAIL_NONE)
        return -1;
    int ret = SSL_do_handshake(s->ssl);
    if (ret == 1) {
        s->established = true;
        return 1;
    }
    int why = SSL_get_error(s->ssl, ret);
    if (why == SSL_ERROR_WANT_READ) {
        ERR_clear_error();
        return 0;
    }
    s->failure = classify(s, TLS_FAIL_HANDSHAKE);
    return -1;
}

ssize_t tls_session_read(struct tls_session *s, uint8_t *buf, size_t cap)
{
    if (s->failure != TLS_FAIL_NONE)
        return -2;
    int ret = SSL_read(s->ssl, buf, cap > INT32_MAX ? INT32_MAX : (int)cap);
    if (ret > 0)
        return ret;
    switch (SSL_get_error(s->ssl, ret)) {
    case SSL_ERROR_WANT_READ:
        ERR_clear_error();
        return 0;
    case SSL_ERROR_ZERO_RETURN:
        ERR_clear_error();
        return -1;
    default:
        s->failure = classify(s, TLS_FAIL_RECORD);
        return -2;
    }
}

/* The most a record adds to its plaintext: header, explicit nonce (TLS
 * 1.2), tag, content type (TLS 1.3). */
#define RECORD_OVERHEAD 32

int tls_session_seal(struct tls_session *s, const uint8_t *data, size_t len)
{
    /* Sized once for the whole batch: growing record by record would copy
     * what was sealed before. */
    if (reserve(s, len + (len / SSL3_RT_MAX_PLAIN_LENGTH + 1) * RECORD_OVERHEAD) != 0)
        return -1;
    while (len > 0) {
        int chunk = len > (1u << 20) ? (1 << 20) : (int)len;
        if (SSL_write(s->ssl, data, chunk) != chunk) {
            ERR_clear_error();
            return -1;
        }
        data += chunk;
        len -= (size_t)chunk;
    }
    return 0;
}

void tls_session_close_notify(struct tls_session *s)
{
    if (s->close_notified || !s->established || s->failure != TLS_FAIL_NONE)
        return;
    s->close_notified = true;
    SSL_shutdown(s->ssl);
    ERR_clear_error();
}

bool tls_session_resumed(const struct tls_session *s)
{
    return SSL_session_reused((SSL *)s->ssl) == 1;
}

void tls_session_sent(struct tls_session *s, size_t n)
{
    s->out_sent += (uint32_t)n;
    if (s->out_sent < s->out_len)
        return;
    rc_free(s->out);
    s->out = NULL;
    s->out_len = s->out_cap = s->out_sent = 0;
}
