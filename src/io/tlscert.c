/* tlscert.c: loading certificate chains and keys, choosing one by name. */
#include "io/tlscert.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/pool.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "util/alloc.h"

#define TLSCERT_MAX_CHAIN 8
#define TLSCERT_MAX_NAMES 32
#define TLSCERT_NAME_MAX 256

struct tlscert_pair {
    CRYPTO_BUFFER *chain[TLSCERT_MAX_CHAIN];
    size_t chain_len;
    EVP_PKEY *key;
    char names[TLSCERT_MAX_NAMES][TLSCERT_NAME_MAX];
    size_t num_names;
};

static void pair_cleanup(struct tlscert_pair *p)
{
    for (size_t i = 0; i < p->chain_len; i++)
        CRYPTO_BUFFER_free(p->chain[i]);
    EVP_PKEY_free(p->key);
    memset(p, 0, sizeof(*p));
}

static void add_name(struct tlscert_pair *p, const unsigned char *name, size_t len)
{
    if (p->num_names >= TLSCERT_MAX_NAMES || len == 0 || len >= TLSCERT_NAME_MAX ||
        memchr(name, '\0', len))
        return;
    memcpy(p->names[p->num_names], name, len);
    p->names[p->num_names][len] = '\0';
    p->num_names++;
}

/* read_names notes the DNS names |leaf| is for: its subjectAltName
 * entries, or its common name when it has none. */
static void read_names(struct tlscert_pair *p, X509 *leaf)
{
    GENERAL_NAMES *alt = X509_get_ext_d2i(leaf, NID_subject_alt_name, NULL, NULL);
    for (size_t i = 0; alt && i < sk_GENERAL_NAME_num(alt); i++) {
        const GENERAL_NAME *gn = sk_GENERAL_NAME_value(alt, i);
        if (gn->type == GEN_DNS)
            add_name(p, ASN1_STRING_get0_data(gn->d.dNSName),
                     (size_t)ASN1_STRING_length(gn->d.dNSName));
    }
    GENERAL_NAMES_free(alt);
    if (p->num_names > 0)
        return;
    char cn[TLSCERT_NAME_MAX];
    int len =
        X509_NAME_get_text_by_NID(X509_get_subject_name(leaf), NID_commonName, cn, sizeof(cn));
    if (len > 0)
        add_name(p, (const unsigned char *)cn, (size_t)len);
}

static void say(char *err, size_t err_len, const char *what, const char *file)
{
    unsigned long code = ERR_peek_last_error();
    char reason[160] = "";
    if (code)
        ERR_error_string_n(code, reason, sizeof(reason));
    snprintf(err, err_len, "%s %s%s%s", what, file, code ? ": " : "", reason);
    ERR_clear_error();
}

static int load_chain(struct tlscert_pair *p, const char *file, X509 **out_leaf, char *err,
                      size_t err_len)
{
    BIO *bio = BIO_new_file(file, "r");
    if (!bio) {
        say(err, err_len, "cannot open certificate file", file);
        return -1;
    }
    X509 *x;
    while (p->chain_len < TLSCERT_MAX_CHAIN && (x = PEM_read_bio_X509(bio, NULL, NULL, NULL))) {
        uint8_t *der = NULL;
        int der_len = i2d_X509(x, &der);
        if (der_len > 0)
            p->chain[p->chain_len++] = CRYPTO_BUFFER_new(der, (size_t)der_len, NULL);
        OPENSSL_free(der);
        if (p->chain_len == 1)
            *out_leaf = x;
        else
            X509_free(x);
    }
    ERR_clear_error(); /* the end of the file reads as an error */
    BIO_free(bio);
    if (p->chain_len == 0) {
        snprintf(err, err_len, "no PEM certificate in %s", file);
        return -1;
    }
    return 0;
}

static int load_pair(struct tlscert_pair *p, const char *cert_file, const char *key_file, char *err,
                     size_t err_len)
{
    X509 *leaf = NULL;
    if (load_chain(p, cert_file, &leaf, err, err_len) != 0)
        return -1;
    int ret = -1;
    BIO *bio = BIO_new_file(key_file, "r");
    if (!bio) {
        say(err, err_len, "cannot open key file", key_file);
        goto out;
    }
    p->key = PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL);
    BIO_free(bio);
    if (!p->key) {
        say(err, err_len, "no PEM private key in", key_file);
        goto out;
    }
    if (!X509_check_private_key(leaf, p->key)) {
        snprintf(err, err_len, "the key in %s is not the key of the certificate in %s", key_file,
                 cert_file);
        ERR_clear_error();
        goto out;
    }
    read_names(p, leaf);
    ret = 0;
out:
    X509_free(leaf);
    return ret;
}

int tlscert_set_load(struct tlscert_set *out, const char *const *cert_files,
                     const char *const *key_files, size_t num_pairs, char *err, size_t err_len)
{
    memset(out, 0, sizeof(*out));
    out->pairs = rc_calloc(num_pairs ? num_pairs : 1, sizeof(*out->pairs));
    if (!out->pairs) {
        snprintf(err, err_len, "out of memory");
        return -1;
    }
    for (size_t i = 0; i < num_pairs; i++) {
        if (load_pair(&out->pairs[i], cert_files[i], key_files[i], err, err_len) != 0) {
            out->num_pairs = i + 1;
            tlscert_set_free(out);
            return -1;
        }
    }
    out->num_pairs = num_pairs;
    return 0;
}

void tlscert_set_free(struct tlscert_set *set)
{
    if (!set || !set->pairs)
        return;
    for (size_t i = 0; i < set->num_pairs; i++)
        pair_cleanup(&set->pairs[i]);
    rc_free(set->pairs);
    memset(set, 0, sizeof(*set));
}

/* name_covers: an exact name (any case), or "*.rest" for one more label
 * in front of "rest". */
static int name_covers(const char *pattern, const char *name)
{
    if (strcasecmp(pattern, name) == 0)
        return 1;
    if (pattern[0] != '*' || pattern[1] != '.')
        return 0;
    const char *dot = strchr(name, '.');
    return dot && dot != name && strcasecmp(pattern + 1, dot) == 0;
}

const struct tlscert_pair *tlscert_set_choose(const struct tlscert_set *set,
                                              const char *server_name)
{
    if (set->num_pairs == 1 || !server_name)
        return &set->pairs[0];
    for (size_t i = 0; i < set->num_pairs; i++)
        for (size_t j = 0; j < set->pairs[i].num_names; j++)
            if (name_covers(set->pairs[i].names[j], server_name))
                return &set->pairs[i];
    return NULL;
}

int tlscert_pair_use(const struct tlscert_pair *pair, SSL *ssl)
{
    return SSL_set_chain_and_key(ssl, pair->chain, pair->chain_len, pair->key, NULL);
}
