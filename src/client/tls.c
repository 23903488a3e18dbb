/* tls.c: the client side's TLS (include/ringcast/tls.h). */
#include <arpa/inet.h>
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "ringcast/tls.h"

struct rc_tls_ctx {
    SSL_CTX *ctx;
    SSL_SESSION *session; /* the last one the server gave, with |resume| */
};

struct rc_tls {
    SSL *ssl;
    short wants;
    char err[256];
};

static int ctx_index(void)
{
    static int index = -1;
    if (index < 0)
        index = SSL_CTX_get_ex_new_index(0, NULL, NULL, NULL, NULL);
    return index;
}

/* keep_session holds the newest session (TLS 1.3 tickets come after the
 * handshake) for the next connection. */
static int keep_session(SSL *ssl, SSL_SESSION *session)
{
    struct rc_tls_ctx *c = SSL_CTX_get_ex_data(SSL_get_SSL_CTX(ssl), ctx_index());
    SSL_SESSION_free(c->session);
    c->session = session; /* the reference is ours (return 1) */
    return 1;
}

static void say(char *err, size_t err_len, const char *what)
{
    unsigned long code = ERR_peek_last_error();
    char reason[160] = "";
    if (code)
        ERR_error_string_n(code, reason, sizeof(reason));
    if (err_len > 0)
        snprintf(err, err_len, "%s%s%s", what, code ? ": " : "", reason);
    ERR_clear_error();
}

struct rc_tls_ctx *rc_tls_ctx_new(const struct rc_tls_ctx_options *opts, char *err, size_t err_len)
{
    struct rc_tls_ctx *c = calloc(1, sizeof(*c));
    if (!c || !(c->ctx = SSL_CTX_new(TLS_method()))) {
        say(err, err_len, "cannot set up TLS");
        free(c);
        return NULL;
    }
    SSL_CTX_set_min_proto_version(c->ctx, TLS1_2_VERSION);
    SSL_CTX_set_max_proto_version(c->ctx, TLS1_3_VERSION);
    SSL_CTX_set_mode(c->ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
    SSL_CTX_set_ex_data(c->ctx, ctx_index(), c);
    const char *ca_file = opts->ca_file ? opts->ca_file : RC_TLS_SYSTEM_CAS;
    if (opts->no_verify) {
        SSL_CTX_set_verify(c->ctx, SSL_VERIFY_NONE, NULL);
    } else if (!SSL_CTX_load_verify_locations(c->ctx, ca_file, NULL)) {
        char what[320];
        snprintf(what, sizeof(what), "cannot read the CA file %s", ca_file);
        say(err, err_len, what);
        rc_tls_ctx_free(c);
        return NULL;
    } else {
        SSL_CTX_set_verify(c->ctx, SSL_VERIFY_PEER, NULL);
    }
    if (opts->resume) {
        SSL_CTX_set_session_cache_mode(c->ctx,
                                       SSL_SESS_CACHE_CLIENT | SSL_SESS_CACHE_NO_INTERNAL_STORE);
        SSL_CTX_sess_set_new_cb(c->ctx, keep_session);
    }
    return c;
}

void rc_tls_ctx_free(struct rc_tls_ctx *c)
{
    if (!c)
        return;
    SSL_SESSION_free(c->session);
    SSL_CTX_free(c->ctx);
    free(c);
}

/* expect_name makes the handshake check that the certificate is for
 * |name|: an IP address, or a DNS name (then also sent as SNI). */
static int expect_name(SSL *ssl, const char *name)
{
    unsigned char addr[16];
    X509_VERIFY_PARAM *param = SSL_get0_param(ssl);
    if (inet_pton(AF_INET, name, addr) == 1 || inet_pton(AF_INET6, name, addr) == 1)
        return X509_VERIFY_PARAM_set1_ip_asc(param, name);
    return SSL_set_tlsext_host_name(ssl, name) && SSL_set1_host(ssl, name);
}

struct rc_tls *rc_tls_start(struct rc_tls_ctx *ctx, int fd, const char *name)
{
    struct rc_tls *t = calloc(1, sizeof(*t));
    if (!t)
        return NULL;
    t->ssl = SSL_new(ctx->ctx);
    if (!t->ssl || !SSL_set_fd(t->ssl, fd) || !expect_name(t->ssl, name)) {
        rc_tls_free(t);
        return NULL;
    }
    if (ctx->session)
        SSL_set_session(t->ssl, ctx->session);
    SSL_set_connect_state(t->ssl);
    t->wants = POLLOUT;
    return t;
}

int rc_tls_handshake(struct rc_tls *t)
{
    int ret = SSL_do_handshake(t->ssl);
    if (ret == 1)
        return 1;
    switch (SSL_get_error(t->ssl, ret)) {
    case SSL_ERROR_WANT_READ:
        t->wants = POLLIN;
        return 0;
    case SSL_ERROR_WANT_WRITE:
        t->wants = POLLOUT;
        return 0;
    default: {
        long verify = SSL_get_verify_result(t->ssl);
        if (verify != X509_V_OK) {
            snprintf(t->err, sizeof(t->err), "the server's certificate is not trusted: %s",
                     X509_verify_cert_error_string(verify));
            ERR_clear_error();
        } else {
            say(t->err, sizeof(t->err), "TLS handshake failed");
        }
        return -1;
    }
    }
}

short rc_tls_wants(const struct rc_tls *t)
{
    return t->wants;
}

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int rc_tls_connect(struct rc_tls **out, struct rc_tls_ctx *ctx, int fd, const char *name,
                   int timeout_ms, char *err, size_t err_len)
{
    *out = NULL;
    struct rc_tls *t = rc_tls_start(ctx, fd, name);
    if (!t) {
        say(err, err_len, "cannot start TLS");
        return -1;
    }
    int64_t deadline = now_ms() + timeout_ms;
    int ret;
    while ((ret = rc_tls_handshake(t)) == 0) {
        int64_t left = deadline - now_ms();
        struct pollfd pfd = {.fd = fd, .events = t->wants};
        int r = left > 0 ? poll(&pfd, 1, (int)left) : 0;
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0) {
            snprintf(t->err, sizeof(t->err), "TLS handshake: %s",
                     r == 0 ? "timed out" : strerror(errno));
            ret = -1;
            break;
        }
    }
    if (ret < 0) {
        if (err_len > 0)
            snprintf(err, err_len, "%s", t->err);
        rc_tls_free(t);
        return -1;
    }
    *out = t;
    return 0;
}

/* io_result turns SSL_read's or SSL_write's |ret| into the socket's way:
 * the count, 0 at the end of the stream, or -1 with errno EAGAIN or
 * |fail_errno|. */
static long io_result(struct rc_tls *t, int ret, const char *what, int fail_errno)
{
    if (ret > 0)
        return ret;
    switch (SSL_get_error(t->ssl, ret)) {
    case SSL_ERROR_WANT_READ:
    case SSL_ERROR_WANT_WRITE:
        errno = EAGAIN;
        return -1;
    case SSL_ERROR_ZERO_RETURN:
        return 0;
    case SSL_ERROR_SYSCALL:
        if (ret == 0 && fail_errno == EIO) {
            ERR_clear_error();
            return 0; /* EOF without close_notify: the stream ended all the same */
        }
        /* fall through */
    default:
        say(t->err, sizeof(t->err), what);
        errno = fail_errno;
        return -1;
    }
}

long rc_tls_recv(struct rc_tls *t, void *buf, size_t len)
{
    int ret = SSL_read(t->ssl, buf, len > INT32_MAX ? INT32_MAX : (int)len);
    return io_result(t, ret, "TLS read failed", EIO);
}

long rc_tls_send(struct rc_tls *t, const void *buf, size_t len)
{
    int ret = SSL_write(t->ssl, buf, len > INT32_MAX ? INT32_MAX : (int)len);
    return io_result(t, ret, "TLS write failed", EPIPE);
}

int rc_tls_pending(const struct rc_tls *t)
{
    return SSL_pending(t->ssl) > 0;
}

int rc_tls_resumed(const struct rc_tls *t)
{
    return SSL_session_reused(t->ssl) == 1;
}

const char *rc_tls_error(const struct rc_tls *t)
{
    return t->err;
}

void rc_tls_free(struct rc_tls *t)
{
    if (!t)
        return;
    SSL_free(t->ssl);
    free(t);
}
