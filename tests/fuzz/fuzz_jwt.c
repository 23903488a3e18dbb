/* fuzz_jwt.c: the JWT verifier (src/pubsub/jwt.c) and the claims reader
 * (src/pubsub/claims.c).
 *
 * Input: 8 bytes of "now" (int64, little-endian), then a token. Shorter
 * inputs are a token verified at a fixed now. The seeds
 * (tests/fuzz/corpus/jwt, from gen_jwt_corpus.py) are tokens signed with
 * the two secrets below, so mutations start from tokens that verify.
 *
 * Each input is run three ways:
 *   1. jwt_verify as it is, with two secrets (rotation);
 *   2. jwt_verify after signing its first two parts again with one of the
 *      secrets: mutations to the header and claims then still reach the
 *      claims reader, which a fuzzer could otherwise never get to (it cannot
 *      forge an HMAC). Such a token must never be refused for its signature;
 *   3. claims_parse on the token bytes as if they were JSON.
 * On JWT_OK the claims must keep their invariants: each string NUL-
 * terminated at len, without NUL inside, hashed with rc_hash, within the
 * limits; every array entry readable (ASan checks the one allocation); exp
 * and nbf consistent with now. */
#include <openssl/base64.h>
#include <openssl/digest.h>
#include <openssl/hmac.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "pubsub/claims.h"
#include "util/hash.h"
#include "pubsub/jwt.h"

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond))                                                                               \
            abort();                                                                               \
    } while (0)

/* Also in gen_jwt_corpus.py: exactly 32 bytes each. */
static const uint8_t secret1[32] = "ringcast-fuzz-jwt-secret-one-32b";
static const uint8_t secret2[32] = "ringcast-fuzz-jwt-secret-two-32b";

static const struct jwt_keys keys = {
    .secret = {secret1, secret2},
    .secret_len = {sizeof(secret1), sizeof(secret2)},
    .count = 2,
};

#define DEFAULT_NOW 1700000000

static void check_str(const struct claim_str *cs)
{
    CHECK(cs->s != NULL);
    CHECK(cs->len <= 4096);
    CHECK(cs->s[cs->len] == '\0');
    CHECK(strlen(cs->s) == cs->len);
    CHECK(cs->hash == rc_hash(cs->s, cs->len));
}

static void check_array(const struct claim_str *a, size_t num, size_t max)
{
    CHECK(num <= max);
    CHECK(num == 0 || a != NULL);
    for (size_t i = 0; i < num; i++)
        check_str(&a[i]);
}

static void check_claims(const struct claims *c)
{
    check_str(&c->sub);
    check_str(&c->tenant);
    check_array(c->orgs, c->num_orgs, 1025); /* "org" and 1024 "orgs" */
    check_array(c->roles, c->num_roles, 1024);
    check_array(c->subscribe, c->num_subscribe, 1024);
    check_array(c->publish, c->num_publish, 1024);
    /* Membership agrees with the arrays. */
    for (size_t i = 0; i < c->num_orgs; i++)
        CHECK(claims_has_org(c, &c->orgs[i]));
    for (size_t i = 0; i < c->num_roles; i++)
        CHECK(claims_has_role(c, &c->roles[i]));
}

static void check_verified(const struct claims *c, int64_t now)
{
    CHECK(c != NULL);
    check_claims(c);
    CHECK(c->exp == 0 || now < c->exp);
    CHECK(c->nbf == 0 || now >= c->nbf);
}

static enum jwt_status verify(const char *token, size_t len, int64_t now)
{
    struct claims *c = (struct claims *)1;
    const char *reason = (const char *)1;
    enum jwt_status st = jwt_verify(&c, token, len, &keys, now, &reason);

    CHECK(st >= JWT_OK && st <= JWT_BAD_CLAIMS);
    CHECK(jwt_status_text(st) != NULL);
    if (st == JWT_OK) {
        CHECK(reason == NULL);
        check_verified(c, now);
        claims_free(c);
    } else {
        CHECK(c == NULL);
        CHECK(reason != NULL && reason[0] != '\0');
        CHECK(len <= JWT_MAX_TOKEN || st == JWT_MALFORMED);
    }
    return st;
}

/* resign verifies |token| with its last part replaced by a good signature. */
static void resign(const char *token, size_t len, int64_t now, enum jwt_status first)
{
    const char *last_dot = NULL;
    for (size_t i = len; i > 0; i--)
        if (token[i - 1] == '.') {
            last_dot = token + i - 1;
            break;
        }
    if (last_dot == NULL || len > 2 * JWT_MAX_TOKEN)
        return;
    size_t signing_len = (size_t)(last_dot - token);
    const uint8_t *secret = (signing_len & 1) ? secret2 : secret1;
    uint8_t mac[EVP_MAX_MD_SIZE];
    unsigned mac_len = 0;
    CHECK(HMAC(EVP_sha256(), secret, 32, (const uint8_t *)token, signing_len, mac, &mac_len));
    CHECK(mac_len == 32);

    char *t = malloc(signing_len + 1 + 45);
    CHECK(t != NULL);
    memcpy(t, token, signing_len);
    t[signing_len] = '.';
    char *sig = t + signing_len + 1;
    size_t n = EVP_EncodeBlock((uint8_t *)sig, mac, 32);
    CHECK(n == 44 && sig[43] == '=');
    n = 43;
    for (size_t i = 0; i < n; i++)
        sig[i] = sig[i] == '+' ? '-' : sig[i] == '/' ? '_' : sig[i];

    enum jwt_status st = verify(t, signing_len + 1 + n, now);
    CHECK(st != JWT_BAD_SIGNATURE);
    if (first == JWT_OK)
        CHECK(st == JWT_OK); /* same signing input, so same answer */
    free(t);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    int64_t now = DEFAULT_NOW;

    if (size >= 8) {
        uint64_t u = 0;
        for (int i = 7; i >= 0; i--)
            u = (u << 8) | data[i];
        memcpy(&now, &u, sizeof(now));
        data += 8;
        size -= 8;
    }
    const char *token = (const char *)data;

    enum jwt_status st = verify(token, size, now);
    resign(token, size, now, st);

    const char *reason = NULL;
    struct claims *c = claims_parse(token, size, &reason);
    if (c != NULL) {
        CHECK(reason == NULL);
        check_claims(c);
        claims_free(c);
    } else {
        CHECK(reason != NULL && reason[0] != '\0');
    }
    return 0;
}
