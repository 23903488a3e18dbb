/* hash.h: keyed hashing of topic names and ids (SipHash-2-4 from BoringSSL).
 *
 * The key is random per process, so a client cannot choose topics that all
 * collide in the shards' tables. It is set once before the shards start and
 * only read afterwards. */
#ifndef RC_HASH_H
#define RC_HASH_H

#include <stddef.h>
#include <stdint.h>

/* rc_hash_init picks a random key. Call once, before any thread hashes. */
void rc_hash_init(void);

/* rc_hash hashes |len| bytes. */
uint64_t rc_hash(const void *data, size_t len);

/* rc_hash_pair hashes two byte strings as one key (a topic and a message id). */
uint64_t rc_hash_pair(const void *a, size_t a_len, const void *b, size_t b_len);

#endif
