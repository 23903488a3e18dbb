/* hash.c: SipHash-2-4 with a per-process random key. */
#include "util/hash.h"

#include <openssl/rand.h>
#include <openssl/siphash.h>
#include <string.h>

static uint64_t hash_key[2] = {0x736f6d6570736575ull, 0x646f72616e646f6dull};

void rc_hash_init(void)
{
    RAND_bytes((uint8_t *)hash_key, sizeof(hash_key));
}

uint64_t rc_hash(const void *data, size_t len)
{
    return SIPHASH_24(hash_key, data, len);
}

uint64_t rc_hash_pair(const void *a, size_t a_len, const void *b, size_t b_len)
{
    uint64_t key[2] = {hash_key[0] ^ SIPHASH_24(hash_key, a, a_len), hash_key[1]};
    return SIPHASH_24(key, b, b_len);
}
