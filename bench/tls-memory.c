/* tls-memory: the memory one idle TLS connection holds in ringcast.
 *
 *   build/tls-memory CERT.pem KEY.pem [N]
 *
 * Starts N server sessions exactly as ringcast's connections do
 * (io/tls.h), completes each handshake with an in-process BoringSSL
 * client, sends a record each way (a subscribe, an event), frees the
 * clients and counts what the server side still holds: BoringSSL's live
 * allocations, plus the session
 * struct and the connection's pointer to it. BoringSSL's allocations are
 * counted through its allocator hooks (OPENSSL_memory_alloc and friends,
 * weak symbols it calls when a program defines them). No output buffer is left:
 * it exists only while bytes are pending. That is the user-space cost of
 * TLS per idle connection, beside the plaintext connection's own. Memory
 * the allocator keeps after the handshakes (RSS) is not counted: see
 * docs/BENCHMARKS.md for the RSS a server shows. */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>

#include <openssl/ssl.h>

#include "io/tls.h"
#include "io/tlscert.h"

struct client {
    SSL *ssl;
    BIO *in, *out;
};

/* exchange moves bytes between |c| and |s| until neither has more. */
static void exchange(struct tls_session *s, struct client *c)
{
    uint8_t plain[256];
    for (int round = 0; round < 8; round++) {
        SSL_do_handshake(c->ssl);
        const uint8_t *bytes;
        size_t len;
        BIO_mem_contents(c->out, &bytes, &len);
        if (len > 0) {
            tls_session_feed(s, bytes, len);
            if (tls_session_handshake(s) == 1)
                while (tls_session_read(s, plain, sizeof(plain)) > 0)
                    ;
            BIO_reset(c->out);
        }
        uint32_t unsent = tls_session_unsent(s);
        if (unsent > 0) {
            BIO_write(c->in, s->out + s->out_sent, (int)unsent);
            tls_session_sent(s, unsent);
        }
        while (SSL_read(c->ssl, plain, sizeof(plain)) > 0)
            ;
    }
}

/* BoringSSL's allocator hooks: every allocation carries its size. */
static size_t live;

void *OPENSSL_memory_alloc(size_t size);
void OPENSSL_memory_free(void *ptr);
size_t OPENSSL_memory_get_size(void *ptr);

void *OPENSSL_memory_alloc(size_t size)
{
    size_t *p = malloc(size + sizeof(max_align_t));
    if (!p)
        return NULL;
    *p = size;
    live += size;
    return (char *)p + sizeof(max_align_t);
}

void OPENSSL_memory_free(void *ptr)
{
    if (!ptr)
        return;
    size_t *p = (size_t *)((char *)ptr - sizeof(max_align_t));
    live -= *p;
    free(p);
}

size_t OPENSSL_memory_get_size(void *ptr)
{
    return *(size_t *)((char *)ptr - sizeof(max_align_t));
}

static size_t live_bytes(void)
{
    return live;
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: tls-memory CERT.pem KEY.pem [N]\n");
        return 2;
    }
    int n = argc > 3 ? atoi(argv[3]) : 1000;
    char err[512];
    const char *certs[] = {argv[1]}, *keys[] = {argv[2]};
    struct tlscert_set *set = malloc(sizeof(*set));
    struct tls_server srv;
    if (!set || tlscert_set_load(set, certs, keys, 1, err, sizeof(err)) != 0 ||
        tls_server_init(&srv, set, err, sizeof(err)) != 0) {
        fprintf(stderr, "tls-memory: %s\n", err);
        return 1;
    }
    SSL_CTX *client_ctx = SSL_CTX_new(TLS_method());
    struct tls_session *sessions = calloc((size_t)n, sizeof(*sessions));
    struct client *clients = calloc((size_t)n, sizeof(*clients));
    if (!client_ctx || !sessions || !clients || n < 1)
        return 1;
    size_t before = live_bytes();
    int established = 0;
    for (int i = 0; i < n; i++) {
        struct client *c = &clients[i];
        c->ssl = SSL_new(client_ctx);
        c->in = BIO_new(BIO_s_mem());
        c->out = BIO_new(BIO_s_mem());
        SSL_set_bio(c->ssl, c->in, c->out);
        SSL_set_connect_state(c->ssl);
        tls_session_init(&sessions[i], &srv);
        exchange(&sessions[i], c);
        SSL_write(c->ssl, "{\"type\":\"subscribe\",\"topics\":[\"t\"]}", 35);
        tls_session_seal(&sessions[i], (const uint8_t *)"\x81\x05hello", 7);
        exchange(&sessions[i], c);
        established += sessions[i].established && !sessions[i].out;
        SSL_free(c->ssl);
    }
    size_t boring = (live_bytes() - before) / (size_t)n;
    size_t ours = sizeof(struct tls_session) + sizeof(struct tls_session *);
    printf("{\"sessions\":%d,\"established_idle\":%d,\"boringssl_bytes\":%zu,"
           "\"session_struct_bytes\":%zu,\"bytes_per_idle_tls_connection\":%zu}\n",
           n, established, boring, ours, boring + ours);
    for (int i = 0; i < n; i++)
        tls_session_cleanup(&sessions[i]);
    free(sessions);
    free(clients);
    SSL_CTX_free(client_ctx);
    tls_server_cleanup(&srv);
    return established == n ? 0 : 1;
}
