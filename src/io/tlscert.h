/* tlscert.h: the server's certificates and keys, chosen by name (SNI).
 *
 * A set holds one or more pairs, each a PEM chain (leaf first) and its
 * private key, with the DNS names the leaf covers (subjectAltName, else
 * the common name). It is built whole, checked (every key matches its
 * leaf) and then read-only: shards read it from their handshakes while a
 * reload builds the next one beside it. */
#ifndef RC_TLSCERT_H
#define RC_TLSCERT_H

#include <stddef.h>

#include <openssl/base.h>

struct tlscert_pair;

struct tlscert_set {
    struct tlscert_pair *pairs;
    size_t num_pairs;
};

/* tlscert_set_load reads |num_pairs| chains and keys (|cert_files[i]| with
 * |key_files[i]|) into |out|. Returns 0, or -1 with a message in |err|
 * (then |out| holds nothing). */
int tlscert_set_load(struct tlscert_set *out, const char *const *cert_files,
                     const char *const *key_files, size_t num_pairs, char *err, size_t err_len);

/* tlscert_set_free releases what |set| holds (NULL is fine). */
void tlscert_set_free(struct tlscert_set *set);

/* tlscert_set_choose returns the pair whose names cover |server_name| (an
 * exact name, or a "*.example.com" leaf for one label), the only pair
 * when the set has one (whatever the name), the first pair when the
 * client named no server, or NULL: several pairs, none for the name. */
const struct tlscert_pair *tlscert_set_choose(const struct tlscert_set *set,
                                              const char *server_name);

/* tlscert_pair_use makes |pair| the certificate and key |ssl| presents.
 * Returns 1 or 0. */
int tlscert_pair_use(const struct tlscert_pair *pair, SSL *ssl);

#endif
