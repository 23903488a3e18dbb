/* subtls.c: TLS for subscriber connections (see subtls.h). */
#include "subtls.h"

#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

struct subtls {
    SSL *ssl;
    BIO *in;  /* what the receives brought */
    BIO *out; /* what TLS wrote, sent at once */
    int fd;
};

struct session_keeper {
    SSL_SESSION *newest;
};

static int keeper_index(void)
{
    static int index = -1; /* set before any thread starts (main makes the contexts) */
    if (index < 0)
        index = SSL_CTX_get_ex_new_index(0, NULL, NULL, NULL, NULL);
    return index;
}

static int keep_session(SSL *ssl, SSL_SESSION *session)
{
    struct session_keeper *k = SSL_CTX_get_ex_data(SSL_get_SSL_CTX(ssl), keeper_index());
    SSL_SESSION_free(k->newest);
    k->newest = session;
    return 1;
}

SSL_CTX *subtls_ctx_new(const char *ca_file, bool resume, char *err, size_t err_len)
{
    SSL_CTX *ctx = SSL_CTX_new(TLS_method());
    struct session_keeper *k = calloc(1, sizeof(*k));
    if (!ctx || !k || !SSL_CTX_set_ex_data(ctx, keeper_index(), k)) {
        snprintf(err, err_len, "cannot set up TLS");
        SSL_CTX_free(ctx);
        free(k);
        return NULL;
    }
    SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
    if (ca_file) {
        if (!SSL_CTX_load_verify_locations(ctx, ca_file, NULL)) {
            snprintf(err, err_len, "cannot read the CA file %s", ca_file);
            subtls_ctx_free(ctx);
            return NULL;
        }
        SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
    }
    if (resume) {
        SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_CLIENT | SSL_SESS_CACHE_NO_INTERNAL);
        SSL_CTX_sess_set_new_cb(ctx, keep_session);
    }
    return ctx;
}

void subtls_ctx_free(SSL_CTX *ctx)
{
    if (!ctx)
        return;
    struct session_keeper *k = SSL_CTX_get_ex_data(ctx, keeper_index());
    if (k) {
        SSL_SESSION_free(k->newest);
        free(k);
    }
    SSL_CTX_free(ctx);
}

/* flush sends what TLS wrote. */
static bool flush(struct subtls *s)
{
    const uint8_t *data;
    size_t len;
    BIO_mem_contents(s->out, &data, &len);
    if (len == 0)
        return true;
    ssize_t n = send(s->fd, data, len, MSG_NOSIGNAL | MSG_DONTWAIT);
    BIO_reset(s->out);
    return n == (ssize_t)len;
}

struct subtls *subtls_start(SSL_CTX *ctx, int fd, const char *name)
{
    struct subtls *s = calloc(1, sizeof(*s));
    if (!s)
        return NULL;
    s->fd = fd;
    s->ssl = SSL_new(ctx);
    s->in = BIO_new(BIO_s_mem());
    s->out = BIO_new(BIO_s_mem());
    if (!s->ssl || !s->in || !s->out) {
        BIO_free(s->in);
        BIO_free(s->out);
        subtls_free(s);
        return NULL;
    }
    SSL_set_bio(s->ssl, s->in, s->out);
    SSL_set_tlsext_host_name(s->ssl, name);
    struct session_keeper *k = SSL_CTX_get_ex_data(ctx, keeper_index());
    if (k->newest)
        SSL_set_session(s->ssl, k->newest);
    SSL_set_connect_state(s->ssl);
    if (subtls_handshake(s) < 0) {
        subtls_free(s);
        return NULL;
    }
    return s;
}

bool subtls_feed(struct subtls *s, const uint8_t *data, size_t len)
{
    return BIO_write(s->in, data, (int)len) == (int)len;
}

int subtls_handshake(struct subtls *s)
{
    int ret = SSL_do_handshake(s->ssl);
    bool sent = flush(s);
    if (ret == 1)
        return sent ? 1 : -1;
    if (SSL_get_error(s->ssl, ret) == SSL_ERROR_WANT_READ && sent)
        return 0;
    ERR_clear_error();
    return -1;
}

long subtls_read(struct subtls *s, uint8_t *buf, size_t cap)
{
    int ret = SSL_read(s->ssl, buf, (int)cap);
    if (ret > 0)
        return ret;
    int why = SSL_get_error(s->ssl, ret);
    /* Reading may write (a key update's answer): send it. */
    if (!flush(s) || why != SSL_ERROR_WANT_READ) {
        ERR_clear_error();
        return -1;
    }
    return 0;
}

bool subtls_send(struct subtls *s, const void *data, size_t len)
{
    return SSL_write(s->ssl, data, (int)len) == (int)len && flush(s);
}

bool subtls_resumed(const struct subtls *s)
{
    return SSL_session_reused(s->ssl) == 1;
}

void subtls_free(struct subtls *s)
{
    if (!s)
        return;
    SSL_free(s->ssl); /* and the BIOs */
    free(s);
}
