/* fuzz_tls.c: libFuzzer target for the TLS session of io/tls.h, fed the
 * bytes a client could send.
 *
 * Input: one control byte, then the client's bytes.
 *   byte 0  bit 0: 0 the bytes are the start of the connection (a
 *           ClientHello, or garbage in its place); 1 a real client
 *           (BoringSSL, in this process) first completes a handshake, and
 *           the bytes then come as if they were its records
 *           bits 1-7: the bytes are fed in pieces of at most (byte 0 >> 1)
 *           + 1 bytes
 *
 * Whatever comes, the session must fail cleanly or go on: no crash, no
 * leak, its output bounded, and after a failure no more plaintext. The
 * server's certificate is made at start (a P-256 key and a self-signed
 * leaf, written to temporary files and read back with tlscert.c). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/bio.h>
#include <openssl/ec_key.h>
#include <openssl/evp.h>
#include <openssl/nid.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "io/tls.h"
#include "io/tlscert.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond))                                                                               \
            abort();                                                                               \
    } while (0)

static struct tls_server server;
static SSL_CTX *client_ctx;

static void write_pem(char *path, int (*write)(BIO *, void *), void *what)
{
    int fd = mkstemp(path);
    CHECK(fd >= 0);
    close(fd);
    BIO *bio = BIO_new_file(path, "w");
    CHECK(bio && write(bio, what));
    BIO_free(bio);
}

static int write_cert(BIO *bio, void *x)
{
    return PEM_write_bio_X509(bio, x);
}

static int write_key(BIO *bio, void *k)
{
    return PEM_write_bio_PrivateKey(bio, k, NULL, NULL, 0, NULL, NULL);
}

/* make_server makes a key and a self-signed leaf for "localhost" and
 * starts |server| with them. */
static void make_server(void)
{
    EC_KEY *ec = EC_KEY_new_by_curve_name(NID_X9_62_prime256v1);
    CHECK(ec && EC_KEY_generate_key(ec));
    EVP_PKEY *key = EVP_PKEY_new();
    CHECK(key && EVP_PKEY_assign_EC_KEY(key, ec));
    X509 *x = X509_new();
    CHECK(x);
    X509_set_version(x, 2);
    ASN1_INTEGER_set(X509_get_serialNumber(x), 1);
    X509_gmtime_adj(X509_getm_notBefore(x), 0);
    X509_gmtime_adj(X509_getm_notAfter(x), 86400);
    X509_NAME *name = X509_get_subject_name(x);
    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const uint8_t *)"localhost", -1, -1, 0);
    X509_set_issuer_name(x, name);
    X509_set_pubkey(x, key);
    CHECK(X509_sign(x, key, EVP_sha256()));
    char cert_path[] = "/tmp/fuzz_tls_certXXXXXX", key_path[] = "/tmp/fuzz_tls_keyXXXXXX";
    write_pem(cert_path, write_cert, x);
    write_pem(key_path, write_key, key);
    X509_free(x);
    EVP_PKEY_free(key);
    struct tlscert_set *set = malloc(sizeof(*set));
    const char *certs[] = {cert_path}, *keys[] = {key_path};
    char err[256];
    CHECK(set && tlscert_set_load(set, certs, keys, 1, err, sizeof(err)) == 0);
    unlink(cert_path);
    unlink(key_path);
    CHECK(tls_server_init(&server, set, err, sizeof(err)) == 0);
    client_ctx = SSL_CTX_new(TLS_method());
    CHECK(client_ctx);
}

/* take_output moves what |s| wrote into |to| (the client's input), or
 * drops it (no client). */
static void take_output(struct tls_session *s, BIO *to)
{
    uint32_t n = tls_session_unsent(s);
    CHECK(n <= 1u << 20);
    if (n > 0 && to)
        CHECK(BIO_write(to, s->out + s->out_sent, (int)n) == (int)n);
    tls_session_sent(s, n);
    CHECK(s->out == NULL);
}

/* feed gives |s| |len| bytes, drains every plaintext record out and
 * checks the session's contract. Returns false once it failed. */
static bool feed(struct tls_session *s, const uint8_t *data, size_t len, BIO *client_in)
{
    static uint8_t plain[16384];
    tls_session_feed(s, data, len);
    int hs = tls_session_handshake(s);
    if (hs < 0) {
        CHECK(s->failure != TLS_FAIL_NONE);
        take_output(s, client_in);
        return false;
    }
    if (hs > 0) {
        for (;;) {
            ssize_t n = tls_session_read(s, plain, sizeof(plain));
            CHECK(n <= (ssize_t)sizeof(plain));
            if (n == 0)
                break;
            if (n < 0) {
                take_output(s, client_in);
                return false;
            }
        }
        CHECK(s->in_len == 0);
    }
    take_output(s, client_in);
    return true;
}

/* handshake_with_client runs a real client against |s| until both ends
 * are done. Returns the client, or NULL. */
static SSL *handshake_with_client(struct tls_session *s, BIO **client_in)
{
    SSL *client = SSL_new(client_ctx);
    BIO *in = BIO_new(BIO_s_mem()), *out = BIO_new(BIO_s_mem());
    CHECK(client && in && out);
    SSL_set_bio(client, in, out);
    SSL_set_connect_state(client);
    SSL_set_tlsext_host_name(client, "localhost");
    *client_in = in;
    for (int round = 0; round < 8; round++) {
        int done = SSL_do_handshake(client) == 1;
        const uint8_t *bytes;
        size_t len;
        BIO_mem_contents(out, &bytes, &len);
        if (len > 0) {
            CHECK(feed(s, bytes, len, in));
            BIO_reset(out);
        }
        if (done && s->established)
            return client;
    }
    abort(); /* a real client must get through */
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!client_ctx)
        make_server();
    if (size < 1)
        return 0;
    bool after_handshake = data[0] & 1;
    size_t piece = (size_t)(data[0] >> 1) + 1;
    data++, size--;
    struct tls_session s;
    CHECK(tls_session_init(&s, &server) == 0);
    SSL *client = NULL;
    BIO *client_in = NULL;
    if (after_handshake)
        client = handshake_with_client(&s, &client_in);
    for (size_t at = 0; at < size; at += piece) {
        size_t len = size - at < piece ? size - at : piece;
        if (!feed(&s, data + at, len, client_in))
            break;
    }
    if (s.established && s.failure == TLS_FAIL_NONE) {
        static const uint8_t frame[] = "\x81\x05hello";
        CHECK(tls_session_seal(&s, frame, sizeof(frame) - 1) == 0);
        tls_session_close_notify(&s);
        CHECK(tls_session_unsent(&s) > 0);
        take_output(&s, client_in);
    }
    SSL_free(client);
    tls_session_cleanup(&s);
    return 0;
}
