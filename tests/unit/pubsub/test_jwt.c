/* test_jwt.c: the HS256 JWT verifier and signer (src/pubsub/jwt.c) and the claims
 * reader (src/pubsub/claims.c).
 *
 * Known answers come from three places we did not write: RFC 7515 Appendix
 * A.1, RFC 7519 sections 3.1 and 6.1, and tokens made once by PyJWT 2.6
 * (Debian's python3-jwt). The other tests build their tokens here, with
 * BoringSSL's HMAC and base64 directly (not jwt_sign), so that a bug in
 * jwt_sign cannot hide the same bug in jwt_verify. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <openssl/base64.h>
#include <openssl/digest.h>
#include <openssl/hmac.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pubsub/claims.h"
#include "util/hash.h"
#include "pubsub/jwt.h"

/* ---- helpers ---- */

#define K1 "ringcast-unit-test-secret-one-32"
#define K2 "ringcast-unit-test-secret-two-for-rotation"
#define K3 "ringcast-unit-test-secret-three-never-configured"
#define NOW 1700000000

static const struct jwt_keys keys12 = {
    .secret = {(const uint8_t *)K1, (const uint8_t *)K2},
    .secret_len = {sizeof(K1) - 1, sizeof(K2) - 1},
    .count = 2,
};

static const struct jwt_keys keys1 = {
    .secret = {(const uint8_t *)K1, NULL},
    .secret_len = {sizeof(K1) - 1, 0},
    .count = 1,
};

/* b64url returns base64url of |len| bytes, without padding (malloc'd). */
static char *b64url(const void *data, size_t len)
{
    size_t room;
    assert_true(EVP_EncodedLength(&room, len));
    char *out = malloc(room);
    assert_non_null(out);
    size_t n = EVP_EncodeBlock((uint8_t *)out, data, len);
    while (n > 0 && out[n - 1] == '=')
        n--;
    out[n] = '\0';
    for (size_t i = 0; i < n; i++)
        out[i] = out[i] == '+' ? '-' : out[i] == '/' ? '_' : out[i];
    return out;
}

/* unb64url decodes a base64url string (test input, known to be good). */
static uint8_t *unb64url(const char *in, size_t len, size_t *out_len)
{
    char *padded = malloc(len + 4);
    size_t n = 0, max;
    assert_non_null(padded);
    for (size_t i = 0; i < len; i++)
        padded[n++] = in[i] == '-' ? '+' : in[i] == '_' ? '/' : in[i];
    while (n % 4 != 0)
        padded[n++] = '=';
    assert_true(EVP_DecodedLength(&max, n));
    uint8_t *out = malloc(max + 1);
    assert_non_null(out);
    assert_true(EVP_DecodeBase64(out, out_len, max, (uint8_t *)padded, n));
    free(padded);
    return out;
}

/* sign_parts signs already encoded parts |h| "." |p| with |secret|. */
static char *sign_parts(const char *h, const char *p, const char *secret)
{
    size_t signing_len = strlen(h) + 1 + strlen(p);
    char *token = malloc(signing_len + 64);
    assert_non_null(token);
    sprintf(token, "%s.%s", h, p);
    uint8_t mac[EVP_MAX_MD_SIZE];
    unsigned mac_len;
    assert_non_null(
        HMAC(EVP_sha256(), secret, strlen(secret), (uint8_t *)token, signing_len, mac, &mac_len));
    assert_int_equal(mac_len, 32);
    char *s = b64url(mac, mac_len);
    sprintf(token + signing_len, ".%s", s);
    free(s);
    return token;
}

/* make_token signs header.payload (JSON texts) with |secret|, by hand. */
static char *make_token_n(const char *header, size_t header_len, const char *payload,
                          size_t payload_len, const char *secret)
{
    char *h = b64url(header, header_len), *p = b64url(payload, payload_len);
    char *token = sign_parts(h, p, secret);
    free(h);
    free(p);
    return token;
}

static char *make_token(const char *header, const char *payload, const char *secret)
{
    return make_token_n(header, strlen(header), payload, strlen(payload), secret);
}

#define HS256 "{\"alg\":\"HS256\",\"typ\":\"JWT\"}"

static enum jwt_status verify_at(const char *token, int64_t now, const struct jwt_keys *keys)
{
    struct claims *c = (struct claims *)1;
    const char *reason = (const char *)1;
    enum jwt_status st = jwt_verify(&c, token, strlen(token), keys, now, &reason);
    if (st == JWT_OK) {
        assert_non_null(c);
        assert_null(reason);
        claims_free(c);
    } else {
        /* On error: no claims, and a phrase for the log. */
        assert_null(c);
        assert_non_null(reason);
        assert_true(strlen(reason) > 5);
    }
    return st;
}

static enum jwt_status verify(const char *token)
{
    return verify_at(token, NOW, &keys12);
}

/* status_of signs |payload| with K1 under the usual header and verifies. */
static enum jwt_status status_of(const char *payload, int64_t now)
{
    char *t = make_token(HS256, payload, K1);
    enum jwt_status st = verify_at(t, now, &keys12);
    free(t);
    return st;
}

/* reason_of returns the reason jwt_verify gives for |token| (static). */
static const char *reason_of(const char *token)
{
    struct claims *c;
    const char *reason;
    if (jwt_verify(&c, token, strlen(token), &keys12, NOW, &reason) == JWT_OK) {
        claims_free(c);
        return "";
    }
    return reason;
}

/* with_low_bit returns the base64url character with the lowest of its six
 * bits set: the same high bits, so a canonical last character (whose low
 * bits are unused and zero) becomes a non-canonical one. */
static char with_low_bit(char ch)
{
    static const char alphabet[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    const char *at = strchr(alphabet, ch);
    assert_non_null(at);
    assert_int_equal((at - alphabet) & 1, 0);
    return alphabet[(at - alphabet) | 1];
}

static void check_str(const struct claim_str *cs, const char *want)
{
    assert_non_null(cs->s);
    assert_int_equal(cs->len, strlen(want));
    assert_memory_equal(cs->s, want, cs->len);
    assert_int_equal(cs->s[cs->len], '\0');
    assert_true(cs->hash == rc_hash(want, strlen(want)));
}

static struct claim_str cstr(const char *s)
{
    struct claim_str cs = {s, strlen(s), rc_hash(s, strlen(s))};
    return cs;
}

/* ---- known answers ---- */

/* RFC 7515 Appendix A.1: the JWK "k" of the example, and its JWS. */
static const char rfc7515_k[] =
    "AyM1SysPpbyDfgZld3umj1qzKObwVMkoqQ-EstJQLr_T-1qS0gZH75aKtMN3Yj0iPS4hcgUuTwjAzZr1Z9CAow";
static const char rfc7515_a1[] =
    "eyJ0eXAiOiJKV1QiLA0KICJhbGciOiJIUzI1NiJ9"
    "."
    "eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxlLmNvbS9pc19yb290Ijp0cnVl"
    "fQ"
    "."
    "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";

struct rfc_key {
    uint8_t *k;
    size_t len;
    struct jwt_keys keys;
};

static struct rfc_key rfc_key(void)
{
    struct rfc_key r;
    r.k = unb64url(rfc7515_k, strlen(rfc7515_k), &r.len);
    r.keys = (struct jwt_keys){.secret = {r.k, NULL}, .secret_len = {r.len, 0}, .count = 1};
    return r;
}

static void test_rfc7515_a1(void **state)
{
    (void)state;
    struct rfc_key r = rfc_key();
    struct claims *c;
    const char *reason;

    assert_int_equal(r.len, 64);
    /* Its exp is 1300819380 (2011): verify the second before. */
    assert_int_equal(jwt_verify(&c, rfc7515_a1, strlen(rfc7515_a1), &r.keys, 1300819379, &reason),
                     JWT_OK);
    assert_int_equal(c->exp, 1300819380);
    assert_int_equal(c->nbf, 0);
    assert_int_equal(c->sub.len, 0); /* "iss" and "http://example.com/is_root": ignored */
    assert_int_equal(c->num_orgs + c->num_roles + c->num_subscribe + c->num_publish, 0);
    claims_free(c);
    assert_int_equal(verify_at(rfc7515_a1, 1300819380, &r.keys), JWT_EXPIRED);
    assert_int_equal(verify_at(rfc7515_a1, NOW, &r.keys), JWT_EXPIRED);
    /* Not with our secrets. */
    assert_int_equal(verify_at(rfc7515_a1, 1300819379, &keys12), JWT_BAD_SIGNATURE);
    /* The key as the second (rotated) secret. */
    struct jwt_keys two = {
        .secret = {(const uint8_t *)K1, r.k}, .secret_len = {sizeof(K1) - 1, r.len}, .count = 2};
    assert_int_equal(verify_at(rfc7515_a1, 1300819379, &two), JWT_OK);
    free(r.k);
}

/* RFC 7519 section 3.1 gives the JOSE header and claims octets (with their
 * CRLFs) and, with the key of RFC 7515 A.1, the same complete JWT: encoding
 * and signing them here must give it byte for byte. */
static void test_rfc7519_3_1(void **state)
{
    (void)state;
    static const char header[] = "{\"typ\":\"JWT\",\r\n \"alg\":\"HS256\"}";
    static const char claims[] =
        "{\"iss\":\"joe\",\r\n \"exp\":1300819380,\r\n \"http://example.com/is_root\":true}";
    struct rfc_key r = rfc_key();
    char *h = b64url(header, sizeof(header) - 1);
    char *p = b64url(claims, sizeof(claims) - 1);
    char signing[512];
    uint8_t mac[EVP_MAX_MD_SIZE];
    unsigned mac_len;

    assert_string_equal(h, "eyJ0eXAiOiJKV1QiLA0KICJhbGciOiJIUzI1NiJ9");
    snprintf(signing, sizeof(signing), "%s.%s", h, p);
    assert_non_null(
        HMAC(EVP_sha256(), r.k, r.len, (uint8_t *)signing, strlen(signing), mac, &mac_len));
    char *s = b64url(mac, mac_len);
    char token[600];
    snprintf(token, sizeof(token), "%s.%s", signing, s);
    assert_string_equal(token, rfc7515_a1);
    assert_int_equal(verify_at(token, 1300819379, &r.keys), JWT_OK);
    assert_int_equal(verify_at(token, 1300819380, &r.keys), JWT_EXPIRED);
    /* jwt_sign writes its own header, so its token differs, but verifies. */
    char *ours = jwt_sign(claims, sizeof(claims) - 1, r.k, r.len);
    assert_non_null(ours);
    /* ...with the payload part the same as the RFC's. */
    assert_memory_equal(strchr(ours, '.') + 1, p, strlen(p));
    assert_int_equal(strchr(ours, '.')[1 + strlen(p)], '.');
    assert_int_equal(verify_at(ours, 1300819379, &r.keys), JWT_OK);
    free(ours);
    free(h);
    free(p);
    free(s);
    free(r.k);
}

/* RFC 7519 section 6.1: the unsecured JWT (alg none, empty signature). */
static void test_rfc7519_6_1_unsecured(void **state)
{
    (void)state;
    static const char token[] =
        "eyJhbGciOiJub25lIn0"
        "."
        "eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxlLmNvbS9pc19yb290Ijp0"
        "cnVlfQ"
        ".";
    struct rfc_key r = rfc_key();
    assert_int_equal(verify_at(token, 1300819379, &r.keys), JWT_BAD_ALG);
    assert_int_equal(verify_at(token, 1300819379, &keys12), JWT_BAD_ALG);
    free(r.k);
}

/* Tokens made once by PyJWT 2.6.0 (python3-jwt; a library we did not
 * write), with this secret:
 *   jwt.encode(payload, b"ringcast-pyjwt-vector-secret-0123456789",
 *              algorithm="HS256", headers=...)
 * We cannot call our C code from the Python tests, so the cross-check in
 * that direction (PyJWT signs, we verify) lives here, as literal vectors.
 * tests/integration/test_ringcast_token.py checks the other direction. */
#define PYJWT_SECRET "ringcast-pyjwt-vector-secret-0123456789"

static const struct jwt_keys pyjwt_keys = {
    .secret = {(const uint8_t *)PYJWT_SECRET, NULL},
    .secret_len = {sizeof(PYJWT_SECRET) - 1, 0},
    .count = 1,
};

static void test_pyjwt_vectors(void **state)
{
    (void)state;
    /* {"sub":"user-42","tenant":"t\u00e9nant","org":"org-a","orgs":["org-b","org-c"],
     *  "roles":["admin","viewer"],"subscribe":["customer_id:42:>","jobs.*"],
     *  "publish":["customer_id:42:call:*"],"exp":2000000000,"nbf":1600000000} */
    static const char full[] =
        "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9."
        "eyJzdWIiOiJ1c2VyLTQyIiwidGVuYW50IjoidFx1MDBlOW5hbnQiLCJvcmciOiJvcmctYSIsIm9yZ3MiOlsib3JnLW"
        "IiLCJvcmctYyJdLCJyb2xlcyI6WyJhZG1pbiIsInZpZXdlciJdLCJzdWJzY3JpYmUiOlsiY3VzdG9tZXJfaWQ6NDI6"
        "PiIsImpvYnMuKiJdLCJwdWJsaXNoIjpbImN1c3RvbWVyX2lkOjQyOmNhbGw6KiJdLCJleHAiOjIwMDAwMDAwMDAsIm"
        "5iZiI6MTYwMDAwMDAwMH0.pvwpWB9BBh_LSW0YGe456HO0pRXnDYDYcN4toxvBQxs";
    /* {"sub":"frac","exp":1700000000.5} */
    static const char frac[] = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9."
                               "eyJzdWIiOiJmcmFjIiwiZXhwIjoxNzAwMDAwMDAwLjV9."
                               "L1QQIkFOLAgB2ZnoRuS6aMAvyNeS2YEpRui9wBuOY1c";
    /* header {"alg":"HS256","kid":"k1","typ":"JWT"};
     * {"sub":"kid-user","roles":[],"iss":"pyjwt"} */
    static const char kid[] = "eyJhbGciOiJIUzI1NiIsImtpZCI6ImsxIiwidHlwIjoiSldUIn0."
                              "eyJzdWIiOiJraWQtdXNlciIsInJvbGVzIjpbXSwiaXNzIjoicHlqd3QifQ."
                              "eY7dAv4k5AGHivqQEV1TxRtxKy6e8-PDAR7wWfvpUBI";
    struct claims *c;
    const char *reason;

    assert_int_equal(jwt_verify(&c, full, strlen(full), &pyjwt_keys, NOW, &reason), JWT_OK);
    check_str(&c->sub, "user-42");
    check_str(&c->tenant, "t\xc3\xa9nant");
    assert_int_equal(c->num_orgs, 3);
    check_str(&c->orgs[0], "org-a");
    check_str(&c->orgs[1], "org-b");
    check_str(&c->orgs[2], "org-c");
    assert_int_equal(c->num_roles, 2);
    check_str(&c->roles[0], "admin");
    check_str(&c->roles[1], "viewer");
    assert_int_equal(c->num_subscribe, 2);
    check_str(&c->subscribe[0], "customer_id:42:>");
    check_str(&c->subscribe[1], "jobs.*");
    assert_int_equal(c->num_publish, 1);
    check_str(&c->publish[0], "customer_id:42:call:*");
    assert_int_equal(c->exp, 2000000000);
    assert_int_equal(c->nbf, 1600000000);
    claims_free(c);
    assert_int_equal(verify_at(full, 1599999999, &pyjwt_keys), JWT_NOT_YET_VALID);
    assert_int_equal(verify_at(full, 2000000000, &pyjwt_keys), JWT_EXPIRED);
    assert_int_equal(verify_at(full, NOW, &keys12), JWT_BAD_SIGNATURE);

    assert_int_equal(verify_at(frac, 1700000000, &pyjwt_keys), JWT_OK);
    assert_int_equal(verify_at(frac, 1700000001, &pyjwt_keys), JWT_EXPIRED);

    assert_int_equal(jwt_verify(&c, kid, strlen(kid), &pyjwt_keys, NOW, &reason), JWT_OK);
    check_str(&c->sub, "kid-user");
    assert_int_equal(c->num_roles, 0);
    assert_int_equal(c->exp, 0);
    claims_free(c);
}

/* ---- refused ---- */

static void test_bad_alg(void **state)
{
    (void)state;
    static const char *const headers[] = {
        "{\"alg\":\"none\"}",
        "{\"alg\":\"none\",\"typ\":\"JWT\"}",
        "{\"alg\":\"RS256\",\"typ\":\"JWT\"}",
        "{\"alg\":\"HS384\",\"typ\":\"JWT\"}",
        "{\"alg\":\"HS512\"}",
        "{\"alg\":\"hs256\",\"typ\":\"JWT\"}",
        "{\"alg\":\"Hs256\"}",
        "{\"alg\":\"HS256 \"}",
        "{\"alg\":\"HS25\"}",
        "{\"alg\":\"\"}",
        "{\"alg\":256}",
        "{\"alg\":null}",
        "{\"alg\":[\"HS256\"]}",
        "{\"typ\":\"JWT\"}",
        "{}",
        "{\"ALG\":\"HS256\"}",
        "{\"alg\":\"HS256\",\"crit\":[\"exp\"],\"exp\":1}",
        "{\"alg\":\"HS256\",\"crit\":[]}",
        "{\"alg\":\"HS256\",\"b64\":false,\"crit\":[\"b64\"]}",
    };
    for (size_t i = 0; i < sizeof(headers) / sizeof(headers[0]); i++) {
        /* Correctly signed with K1: still refused for the header alone. */
        char *t = make_token(headers[i], "{\"sub\":\"x\"}", K1);
        enum jwt_status st = verify(t);
        if (st != JWT_BAD_ALG)
            fail_msg("header %s: got %s", headers[i], jwt_status_text(st));
        free(t);
    }
    /* alg none with an empty signature, the way an attacker would send it. */
    char *h = b64url("{\"alg\":\"none\"}", 14), *p = b64url("{\"sub\":\"x\"}", 11);
    char t[256];
    snprintf(t, sizeof(t), "%s.%s.", h, p);
    assert_int_equal(verify(t), JWT_BAD_ALG);
    free(h);
    free(p);
}

static void test_header_members(void **state)
{
    (void)state;
    static const char *const ok[] = {
        "{\"alg\":\"HS256\"}",
        "{\"typ\":\"JWT\",\"alg\":\"HS256\"}",
        "{\"alg\":\"HS256\",\"typ\":\"at+jwt\"}",
        "{\"alg\":\"HS256\",\"typ\":\"\"}",
        "{\"alg\":\"HS256\",\"kid\":\"2024-01\",\"x5u\":1,\"cty\":null}",
        " { \"alg\" : \"HS256\" } ",
    };
    for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
        char *t = make_token(ok[i], "{}", K1);
        if (verify(t) != JWT_OK)
            fail_msg("header %s refused", ok[i]);
        free(t);
    }
    static const char *const malformed[] = {
        "{\"alg\":\"HS256\",\"typ\":1}",
        "{\"alg\":\"HS256\",\"typ\":null}",
        "{\"alg\":\"HS256\",\"typ\":[\"JWT\"]}",
        "{\"alg\":\"HS256\",\"alg\":\"HS256\"}", /* duplicate members */
        "{\"alg\":\"HS256\",\"alg\":\"none\"}",
        "{\"alg\":\"HS256\"} x",
        "{\"alg\":\"HS256\"",
        "not json",
        "",
        "[\"HS256\"]",
        "\"HS256\"",
        "null",
        "{\"alg\":\"HS256\\u0000\"}",
        "{\"alg\":\"HS\xff\"}", /* not UTF-8 */
    };
    for (size_t i = 0; i < sizeof(malformed) / sizeof(malformed[0]); i++) {
        char *t = make_token(malformed[i], "{}", K1);
        enum jwt_status st = verify(t);
        if (st != JWT_MALFORMED)
            fail_msg("header %s: got %s", malformed[i], jwt_status_text(st));
        free(t);
    }
    /* A raw NUL byte after the object. */
    char *t = make_token_n("{\"alg\":\"HS256\"}\0", 16, "{}", 2, K1);
    assert_int_equal(verify(t), JWT_MALFORMED);
    free(t);
}

/* flip decodes part |part| of |token|, flips one bit of byte |byte|, and
 * encodes it again, so that the token stays well-formed. */
static char *flip(const char *token, int part, size_t byte, int bit)
{
    const char *start = token;
    for (int i = 0; i < part; i++)
        start = strchr(start, '.') + 1;
    const char *end = strchr(start, '.');
    if (end == NULL)
        end = start + strlen(start);
    size_t n;
    uint8_t *bytes = unb64url(start, (size_t)(end - start), &n);
    assert_true(byte < n);
    bytes[byte] ^= (uint8_t)(1u << bit);
    char *enc = b64url(bytes, n);
    char *out = malloc(strlen(token) + 8);
    sprintf(out, "%.*s%s%s", (int)(start - token), token, enc, end);
    free(bytes);
    free(enc);
    return out;
}

static void test_bad_signature(void **state)
{
    (void)state;
    char *good = make_token(HS256, "{\"sub\":\"alice\",\"roles\":[\"admin\"]}", K1);
    assert_int_equal(verify(good), JWT_OK);

    /* Header: "JWT" -> "JWU" (byte 24 is the 'T'); still HS256, still JSON. */
    char *t = flip(good, 0, 24, 0);
    assert_int_equal(verify(t), JWT_BAD_SIGNATURE);
    free(t);
    /* Payload: "alice" -> "blice"; the JSON is still good, but not signed. */
    t = flip(good, 1, 8, 1);
    assert_int_equal(verify(t), JWT_BAD_SIGNATURE);
    free(t);
    /* Signature: every bit of the first, middle and last byte. */
    static const size_t bytes[] = {0, 15, 31};
    for (size_t i = 0; i < 3; i++)
        for (int bit = 0; bit < 8; bit++) {
            t = flip(good, 2, bytes[i], bit);
            assert_int_equal(verify(t), JWT_BAD_SIGNATURE);
            free(t);
        }

    /* Signed with a secret we do not have, or with none. */
    t = make_token(HS256, "{\"sub\":\"alice\"}", K3);
    assert_int_equal(verify(t), JWT_BAD_SIGNATURE);
    free(t);
    t = make_token(HS256, "{\"sub\":\"alice\"}", "");
    assert_int_equal(verify(t), JWT_BAD_SIGNATURE);
    free(t);

    /* A signature of the wrong length: truncated, extended, empty bytes. */
    size_t len = strlen(good);
    char *sig = strrchr(good, '.') + 1;
    char buf[JWT_MAX_TOKEN];
    snprintf(buf, sizeof(buf), "%.*s", (int)(len - 3), good); /* 40 chars: 30 bytes */
    assert_int_equal(verify(buf), JWT_BAD_SIGNATURE);
    snprintf(buf, sizeof(buf), "%sAAAA", good); /* 47 chars: 35 bytes */
    assert_int_equal(verify(buf), JWT_BAD_SIGNATURE);
    snprintf(buf, sizeof(buf), "%.*sAA", (int)(sig - good), good); /* 1 byte */
    assert_int_equal(verify(buf), JWT_BAD_SIGNATURE);
    free(good);
}

static void test_malformed(void **state)
{
    (void)state;
    char *good = make_token(HS256, "{\"sub\":\"alice\"}", K1);
    const char *p = strchr(good, '.') + 1, *s = strchr(p, '.') + 1;
    int hl = (int)(p - 1 - good), pl = (int)(s - 1 - p);
    char t[JWT_MAX_TOKEN * 2];

    assert_int_equal(verify(good), JWT_OK);
    /* The header part is 36 characters, payload 20, signature 43. */
    assert_int_equal(hl, 36);
    assert_int_equal(strlen(s), 43);

#define REFUSED(...)                                                                               \
    do {                                                                                           \
        snprintf(t, sizeof(t), __VA_ARGS__);                                                       \
        if (verify(t) != JWT_MALFORMED)                                                            \
            fail_msg("accepted as well-formed: %s (%s)", t, jwt_status_text(verify(t)));           \
        if (getenv("JWT_TEST_REASONS"))                                                            \
            print_message("%s -> %s\n", t, reason_of(t));                                          \
    } while (0)

    REFUSED("%s", "");
    REFUSED("%s", ".");
    REFUSED("%s", "..");
    REFUSED("%s", "...");
    REFUSED("%s", "abc");
    /* two parts, four parts */
    REFUSED("%.*s.%.*s", hl, good, pl, p);
    REFUSED("%s.%s", good, s);
    REFUSED("%s.", good);
    REFUSED(".%s", good);
    /* empty parts */
    REFUSED(".%.*s.%s", pl, p, s);
    REFUSED("%.*s..%s", hl, good, s);
    REFUSED("%.*s.%.*s.", hl, good, pl, p);
    REFUSED("%.*s..", hl, good);
    /* '=' padding: the payload (20 chars) with two, the signature with one */
    REFUSED("%.*s.%.*s==.%s", hl, good, pl, p, s);
    REFUSED("%.*s=", (int)strlen(good), good);
    REFUSED("%.*s.%.*s.%.*s=", hl, good, pl, p, 42, s);
    /* '+' or '/' (base64, not base64url), in each part */
    REFUSED("+%s", good + 1);
    REFUSED("/%s", good + 1);
    REFUSED("%.*s.+%s", hl, good, p + 1);
    REFUSED("%.*s/%s", (int)(s - good), good, s + 1);
    REFUSED("%.*s+%s", (int)(s - good), good, s + 1);
    /* other characters */
    REFUSED("%s ", good);
    REFUSED(" %s", good);
    REFUSED("%s\n", good);
    REFUSED("%.*s.%.*s .%s", hl, good, pl, p, s);
    REFUSED("Bearer %s", good);
    REFUSED("%.*s*%s", hl + 5, good, good + hl + 6);
    /* lengths whose remainder by 4 is 1: 37-char header, 21-char payload, 45 */
    REFUSED("%.*sA.%.*s.%s", hl, good, pl, p, s);
    REFUSED("%.*s.%.*sA.%s", hl, good, pl, p, s);
    REFUSED("%sAA", good);
    REFUSED("%.*s.A.%s", hl, good, s);
    /* Not canonical: the last character has unused low bits set. */
    {
        /* {"alg":"HS256"} and a space is 16 bytes: 22 characters, the last
         * one carries 2 bits and 4 unused ones. */
        char *h = b64url("{\"alg\":\"HS256\"} ", 16);
        char *q = b64url("{}", 2);
        assert_int_equal(strlen(h), 22);
        snprintf(t, sizeof(t), "%s.%s.%s", h, q, s);
        assert_int_equal(verify(t), JWT_BAD_SIGNATURE); /* canonical: well-formed */
        h[21] = with_low_bit(h[21]);
        snprintf(t, sizeof(t), "%s.%s.%s", h, q, s);
        assert_int_equal(verify(t), JWT_MALFORMED);
        assert_non_null(strstr(reason_of(t), "header is not base64url"));
        free(h);
        free(q);
        /* The signature: its 43rd character carries 4 bits and 2 unused. */
        char *bad = strdup(good);
        char *bs = strrchr(bad, '.') + 1;
        bs[42] = with_low_bit(bs[42]);
        assert_int_equal(verify(bad), JWT_MALFORMED);
        assert_non_null(strstr(reason_of(bad), "signature is not base64url"));
        free(bad);
        /* The payload, likewise (16 bytes, 22 characters), signed as it is:
         * the check comes after the signature's. */
        h = b64url(HS256, strlen(HS256));
        q = b64url("{\"sub\":\"alice\"} ", 16);
        assert_int_equal(strlen(q), 22);
        bad = sign_parts(h, q, K1);
        assert_int_equal(verify(bad), JWT_OK);
        free(bad);
        q[21] = with_low_bit(q[21]);
        bad = sign_parts(h, q, K1);
        assert_int_equal(verify(bad), JWT_MALFORMED);
        assert_non_null(strstr(reason_of(bad), "payload is not base64url"));
        free(bad);
        free(h);
        free(q);
    }
#undef REFUSED
    free(good);
}

static void test_payload_not_json(void **state)
{
    (void)state;
    static const char *const payloads[] = {
        "",
        "not json",
        "{",
        "{\"sub\":\"a\"",
        "{\"sub\":\"a\"}}",
        "[]",
        "[{\"sub\":\"a\"}]",
        "\"sub\"",
        "42",
        "null",
        "{\"sub\":\"a\",\"sub\":\"b\"}", /* duplicate claims */
        "{\"exp\":1,\"exp\":9999999999}",
        "{\"sub\":\"\xc3\"}", /* not UTF-8 */
        "{\"a\\u0000b\":1}",  /* NUL in a member name: jansson cannot */
        "{\"exp\":99999999999999999999999}",
        "{\"exp\":1e400}",
    };
    for (size_t i = 0; i < sizeof(payloads) / sizeof(payloads[0]); i++) {
        char *t = make_token(HS256, payloads[i], K1);
        enum jwt_status st = verify(t);
        if (payloads[i][0] == '\0') {
            assert_int_equal(st, JWT_MALFORMED); /* the empty part */
        } else if (st != JWT_MALFORMED) {
            fail_msg("payload %s: got %s", payloads[i], jwt_status_text(st));
        }
        free(t);
    }
    /* A raw NUL byte after the object. */
    char *t = make_token_n(HS256, strlen(HS256), "{}\0", 3, K1);
    assert_int_equal(verify(t), JWT_MALFORMED);
    free(t);
}

/* A token of exactly JWT_MAX_TOKEN bytes is read; one more is refused. */
static void test_max_length(void **state)
{
    (void)state;
    char *payload = malloc(JWT_MAX_TOKEN);
    assert_non_null(payload);
    int found = 0;
    for (size_t fill = 5000; fill < 7000 && found < 2; fill++) {
        snprintf(payload, JWT_MAX_TOKEN, "{\"sub\":\"bob\",\"pad\":\"%0*d\"}", (int)fill, 0);
        char *t = make_token(HS256, payload, K1);
        size_t len = strlen(t);
        if (len == JWT_MAX_TOKEN) {
            assert_int_equal(verify(t), JWT_OK);
            found++;
        } else if (len == JWT_MAX_TOKEN + 1) {
            assert_int_equal(verify(t), JWT_MALFORMED);
            found++;
        }
        free(t);
    }
    assert_int_equal(found, 2);
    /* Far longer, and the length given is what counts, not a NUL. */
    char *big = malloc(3 * JWT_MAX_TOKEN);
    memset(big, 'A', 3 * JWT_MAX_TOKEN);
    struct claims *c;
    const char *reason;
    assert_int_equal(jwt_verify(&c, big, 3 * JWT_MAX_TOKEN, &keys12, NOW, &reason), JWT_MALFORMED);
    assert_null(c);
    /* Nothing at all (NULL with length 0 is allowed). */
    assert_int_equal(jwt_verify(&c, NULL, 0, &keys12, NOW, &reason), JWT_MALFORMED);
    assert_null(c);
    assert_string_equal(reason, "token is empty");
    free(big);
    free(payload);
}

static void test_time(void **state)
{
    (void)state;
    /* exp: valid strictly before it (RFC 7519 4.1.4) */
    assert_int_equal(status_of("{\"exp\":1000}", 999), JWT_OK);
    assert_int_equal(status_of("{\"exp\":1000}", 1000), JWT_EXPIRED);
    assert_int_equal(status_of("{\"exp\":1000}", 1001), JWT_EXPIRED);
    /* nbf: valid from it on (4.1.5) */
    assert_int_equal(status_of("{\"nbf\":1000}", 999), JWT_NOT_YET_VALID);
    assert_int_equal(status_of("{\"nbf\":1000}", 1000), JWT_OK);
    assert_int_equal(status_of("{\"nbf\":1000,\"exp\":1001}", 1000), JWT_OK);
    assert_int_equal(status_of("{\"nbf\":1000,\"exp\":1000}", 1000), JWT_EXPIRED);
    /* NumericDate fractions */
    assert_int_equal(status_of("{\"exp\":1000.5}", 1000), JWT_OK);
    assert_int_equal(status_of("{\"exp\":1000.5}", 1001), JWT_EXPIRED);
    assert_int_equal(status_of("{\"exp\":1000.0}", 999), JWT_OK);
    assert_int_equal(status_of("{\"exp\":1000.0}", 1000), JWT_EXPIRED);
    assert_int_equal(status_of("{\"exp\":1000.000001}", 1000), JWT_OK);
    assert_int_equal(status_of("{\"exp\":1.0005e3}", 1000), JWT_OK);
    assert_int_equal(status_of("{\"nbf\":1000.5}", 1000), JWT_NOT_YET_VALID);
    assert_int_equal(status_of("{\"nbf\":1000.5}", 1001), JWT_OK);
    assert_int_equal(status_of("{\"nbf\":999.5}", 1000), JWT_OK);
    assert_int_equal(status_of("{\"exp\":2e9}", NOW), JWT_OK);
    /* An exp of 0 or below is long past, not "no expiry". */
    assert_int_equal(status_of("{\"exp\":0}", NOW), JWT_EXPIRED);
    assert_int_equal(status_of("{\"exp\":0}", 1), JWT_EXPIRED);
    assert_int_equal(status_of("{\"exp\":-0.5}", 1), JWT_EXPIRED);
    assert_int_equal(status_of("{\"exp\":-1}", 0), JWT_EXPIRED);
    assert_int_equal(status_of("{\"exp\":-1e300}", 0), JWT_EXPIRED);
    assert_int_equal(status_of("{\"exp\":0.5}", 0), JWT_OK);
    /* Far future, and no exp or nbf at all. */
    assert_int_equal(status_of("{\"exp\":1e300}", INT64_MAX - 1), JWT_OK);
    assert_int_equal(status_of("{\"exp\":9223372036854775807}", INT64_MAX - 1), JWT_OK);
    assert_int_equal(status_of("{\"nbf\":1e300}", INT64_MAX - 1), JWT_NOT_YET_VALID);
    assert_int_equal(status_of("{}", 0), JWT_OK);
    assert_int_equal(status_of("{}", INT64_MAX), JWT_OK);
    assert_int_equal(status_of("{\"nbf\":-5}", 0), JWT_OK);

    struct claims *c;
    const char *reason;
    c = claims_parse("{\"exp\":1000.5,\"nbf\":999.25}", 27, &reason);
    assert_non_null(c);
    assert_int_equal(c->exp, 1001); /* rounded up: see claims.c */
    assert_int_equal(c->nbf, 1000);
    claims_free(c);
    c = claims_parse("{\"exp\":-2.5,\"nbf\":-2.5}", 23, &reason);
    assert_non_null(c);
    assert_int_equal(c->exp, -2);
    assert_int_equal(c->nbf, -2);
    claims_free(c);
}

static void test_rotation(void **state)
{
    (void)state;
    char *by1 = make_token(HS256, "{\"sub\":\"a\"}", K1);
    char *by2 = make_token(HS256, "{\"sub\":\"a\"}", K2);
    char *by3 = make_token(HS256, "{\"sub\":\"a\"}", K3);
    struct jwt_keys keys21 = {.secret = {keys12.secret[1], keys12.secret[0]},
                              .secret_len = {keys12.secret_len[1], keys12.secret_len[0]},
                              .count = 2};
    struct jwt_keys keys2 = {
        .secret = {keys12.secret[1], NULL}, .secret_len = {keys12.secret_len[1], 0}, .count = 1};

    assert_int_equal(verify_at(by1, NOW, &keys12), JWT_OK);
    assert_int_equal(verify_at(by2, NOW, &keys12), JWT_OK);
    assert_int_equal(verify_at(by3, NOW, &keys12), JWT_BAD_SIGNATURE);
    assert_int_equal(verify_at(by1, NOW, &keys21), JWT_OK);
    assert_int_equal(verify_at(by2, NOW, &keys21), JWT_OK);
    assert_int_equal(verify_at(by1, NOW, &keys1), JWT_OK);
    assert_int_equal(verify_at(by2, NOW, &keys1), JWT_BAD_SIGNATURE);
    assert_int_equal(verify_at(by1, NOW, &keys2), JWT_BAD_SIGNATURE);
    assert_int_equal(verify_at(by2, NOW, &keys2), JWT_OK);
    /* count says one: the second slot is not looked at */
    struct jwt_keys only_first = keys12;
    only_first.count = 1;
    assert_int_equal(verify_at(by2, NOW, &only_first), JWT_BAD_SIGNATURE);
    free(by1);
    free(by2);
    free(by3);
}

static void test_sign_round_trip(void **state)
{
    (void)state;
    static const char json[] =
        "{\"sub\":\"user:7\",\"tenant\":\"acme\",\"org\":\"o1\",\"orgs\":[\"o2\",\"o3\"],"
        "\"roles\":[\"admin\",\"ops\",\"\"],\"subscribe\":[\"customer_id:42:>\",\"*\"],"
        "\"publish\":[\"jobs.done\"],\"exp\":1800000000,\"nbf\":1600000000,"
        "\"extra\":{\"nested\":[1,2,3]}}";
    char *t = jwt_sign(json, strlen(json), (const uint8_t *)K2, strlen(K2));
    assert_non_null(t);
    /* header {"alg":"HS256","typ":"JWT"}, no padding, base64url only */
    assert_memory_equal(t, "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.", 37);
    assert_null(strchr(t, '='));
    assert_null(strchr(t, '+'));
    assert_null(strchr(t, '/'));
    assert_int_equal(strlen(strrchr(t, '.') + 1), 43);
    /* Same as signing by hand. */
    char *by_hand = make_token(HS256, json, K2);
    assert_string_equal(t, by_hand);
    free(by_hand);

    struct claims *c;
    const char *reason;
    assert_int_equal(jwt_verify(&c, t, strlen(t), &keys12, NOW, &reason), JWT_OK);
    check_str(&c->sub, "user:7");
    check_str(&c->tenant, "acme");
    assert_int_equal(c->num_orgs, 3);
    check_str(&c->orgs[0], "o1");
    check_str(&c->orgs[1], "o2");
    check_str(&c->orgs[2], "o3");
    assert_int_equal(c->num_roles, 3);
    check_str(&c->roles[0], "admin");
    check_str(&c->roles[1], "ops");
    check_str(&c->roles[2], "");
    assert_int_equal(c->num_subscribe, 2);
    check_str(&c->subscribe[0], "customer_id:42:>");
    check_str(&c->subscribe[1], "*");
    assert_int_equal(c->num_publish, 1);
    check_str(&c->publish[0], "jobs.done");
    assert_int_equal(c->exp, 1800000000);
    assert_int_equal(c->nbf, 1600000000);
    claims_free(c);

    /* Every length of payload, so that every padding case is covered. */
    char payload[64];
    for (int n = 0; n < 12; n++) {
        snprintf(payload, sizeof(payload), "{\"sub\":\"%.*s\"}", n, "abcdefghijkl");
        char *u = jwt_sign(payload, strlen(payload), (const uint8_t *)K1, strlen(K1));
        assert_non_null(u);
        assert_int_equal(jwt_verify(&c, u, strlen(u), &keys12, NOW, &reason), JWT_OK);
        assert_int_equal(c->sub.len, (size_t)n);
        claims_free(c);
        free(u);
    }
    free(t);
}

static void test_claims_absent(void **state)
{
    (void)state;
    const char *reason = (const char *)1;
    struct claims *c = claims_parse("{}", 2, &reason);
    assert_non_null(c);
    check_str(&c->sub, "");
    check_str(&c->tenant, "");
    assert_int_equal(c->exp, 0);
    assert_int_equal(c->nbf, 0);
    assert_int_equal(c->num_orgs, 0);
    assert_int_equal(c->num_roles, 0);
    assert_int_equal(c->num_subscribe, 0);
    assert_int_equal(c->num_publish, 0);
    struct claim_str admin = cstr("admin");
    assert_false(claims_has_org(c, &admin));
    assert_false(claims_has_role(c, &admin));
    claims_free(c);
    claims_free(NULL);

    /* Unknown claims, of any type, are ignored; so are NULs inside them. */
    static const char other[] = "{\"iss\":1,\"aud\":[1,{}],\"http://example.com/is_root\":true,"
                                "\"note\":\"a\\u0000b\",\"sub\":\"s\"}";
    c = claims_parse(other, strlen(other), &reason);
    assert_non_null(c);
    check_str(&c->sub, "s");
    claims_free(c);

    /* An empty "org" is an org (""), and empty arrays are no entries. */
    static const char empty[] = "{\"org\":\"\",\"roles\":[],\"orgs\":[],\"subscribe\":[]}";
    c = claims_parse(empty, strlen(empty), &reason);
    assert_non_null(c);
    assert_int_equal(c->num_orgs, 1);
    check_str(&c->orgs[0], "");
    assert_int_equal(c->num_roles, 0);
    assert_int_equal(c->num_subscribe, 0);
    claims_free(c);
}

static void test_claims_not_json(void **state)
{
    (void)state;
    static const char *const texts[] = {"", "x", "{", "[]", "1", "\"s\"", "{\"a\":1,\"a\":1}"};
    for (size_t i = 0; i < sizeof(texts) / sizeof(texts[0]); i++) {
        const char *reason = NULL;
        assert_null(claims_parse(texts[i], strlen(texts[i]), &reason));
        assert_non_null(reason);
    }
    const char *reason = NULL;
    assert_null(claims_parse("{}\0", 3, &reason));
    assert_non_null(reason);
    assert_null(claims_parse("{\"sub\":\"a\0b\"}", 13, &reason));
}

static void test_claims_types(void **state)
{
    (void)state;
    static const struct {
        const char *json;
        const char *name; /* in the reason */
    } cases[] = {
        {"{\"sub\":1}", "\"sub\""},
        {"{\"sub\":null}", "\"sub\""},
        {"{\"sub\":[\"a\"]}", "\"sub\""},
        {"{\"tenant\":true}", "\"tenant\""},
        {"{\"tenant\":{}}", "\"tenant\""},
        {"{\"org\":[\"a\"]}", "\"org\""},
        {"{\"org\":7}", "\"org\""},
        {"{\"orgs\":\"a\"}", "\"orgs\""},
        {"{\"orgs\":[\"a\",1]}", "\"orgs\""},
        {"{\"roles\":\"admin\"}", "\"roles\""},
        {"{\"roles\":[null]}", "\"roles\""},
        {"{\"roles\":{\"admin\":true}}", "\"roles\""},
        {"{\"subscribe\":true}", "\"subscribe\""},
        {"{\"subscribe\":[[\"a\"]]}", "\"subscribe\""},
        {"{\"publish\":\"jobs.*\"}", "\"publish\""},
        {"{\"publish\":[{}]}", "\"publish\""},
        {"{\"exp\":\"1800000000\"}", "\"exp\""},
        {"{\"exp\":true}", "\"exp\""},
        {"{\"exp\":null}", "\"exp\""},
        {"{\"nbf\":[1]}", "\"nbf\""},
        {"{\"nbf\":\"soon\"}", "\"nbf\""},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const char *reason = NULL;
        struct claims *c = claims_parse(cases[i].json, strlen(cases[i].json), &reason);
        if (c != NULL)
            fail_msg("accepted %s", cases[i].json);
        assert_non_null(reason);
        if (strstr(reason, cases[i].name) == NULL)
            fail_msg("%s: reason \"%s\" does not name %s", cases[i].json, reason, cases[i].name);
        /* And signed: a bad-claims token, not a malformed one. */
        char *t = make_token(HS256, cases[i].json, K1);
        assert_int_equal(verify(t), JWT_BAD_CLAIMS);
        free(t);
    }
    const char *reason = NULL;
    assert_null(claims_parse("{\"roles\":\"admin\"}", 17, &reason));
    assert_string_equal(reason, "\"roles\" must be an array of strings");
}

static void test_claims_org_union(void **state)
{
    (void)state;
    const char *reason;
    static const char both[] = "{\"orgs\":[\"b\",\"a\"],\"org\":\"a\"}";
    struct claims *c = claims_parse(both, strlen(both), &reason);
    assert_non_null(c);
    assert_int_equal(c->num_orgs, 3); /* "org" first; the duplicate "a" is harmless */
    check_str(&c->orgs[0], "a");
    check_str(&c->orgs[1], "b");
    check_str(&c->orgs[2], "a");
    struct claim_str a = cstr("a"), b = cstr("b"), z = cstr("z");
    assert_true(claims_has_org(c, &a));
    assert_true(claims_has_org(c, &b));
    assert_false(claims_has_org(c, &z));
    claims_free(c);

    c = claims_parse("{\"org\":\"solo\"}", 14, &reason);
    assert_non_null(c);
    assert_int_equal(c->num_orgs, 1);
    check_str(&c->orgs[0], "solo");
    claims_free(c);

    c = claims_parse("{\"orgs\":[\"x\"]}", 14, &reason);
    assert_non_null(c);
    assert_int_equal(c->num_orgs, 1);
    check_str(&c->orgs[0], "x");
    claims_free(c);
}

/* json_array_of returns {"NAME":["r0","r1",...]} with |n| entries (malloc'd). */
static char *json_array_of(const char *name, size_t n, size_t entry_len)
{
    size_t room = strlen(name) + 16 + n * (entry_len + 3);
    char *out = malloc(room);
    size_t pos = (size_t)sprintf(out, "{\"%s\":[", name);
    for (size_t i = 0; i < n; i++) {
        out[pos++] = '"';
        memset(out + pos, 'r', entry_len);
        pos += entry_len;
        out[pos++] = '"';
        if (i + 1 < n)
            out[pos++] = ',';
    }
    strcpy(out + pos, "]}");
    return out;
}

static void test_claims_limits(void **state)
{
    (void)state;
    static const char *const names[] = {"orgs", "roles", "subscribe", "publish"};
    const char *reason;
    struct claims *c;

    for (size_t i = 0; i < 4; i++) {
        char *json = json_array_of(names[i], 1024, 1);
        c = claims_parse(json, strlen(json), &reason);
        assert_non_null(c);
        free(json);
        claims_free(c);
        json = json_array_of(names[i], 1025, 1);
        assert_null(claims_parse(json, strlen(json), &reason));
        assert_non_null(strstr(reason, "more than 1024"));
        free(json);
        /* 4096 bytes per string, not 4097 */
        json = json_array_of(names[i], 2, 4096);
        c = claims_parse(json, strlen(json), &reason);
        assert_non_null(c);
        free(json);
        claims_free(c);
        json = json_array_of(names[i], 2, 4097);
        assert_null(claims_parse(json, strlen(json), &reason));
        assert_non_null(strstr(reason, "4096"));
        free(json);
    }
    /* "org" plus 1024 "orgs": each within its limit. */
    char *json = json_array_of("orgs", 1024, 1);
    size_t len = strlen(json);
    char *both = malloc(len + 16);
    sprintf(both, "{\"org\":\"o\",%s", json + 1);
    c = claims_parse(both, strlen(both), &reason);
    assert_non_null(c);
    assert_int_equal(c->num_orgs, 1025);
    claims_free(c);
    free(both);
    free(json);

    /* Scalar strings: 4096 bytes, not 4097. */
    char big[4200];
    static const char *const scalars[] = {"sub", "tenant", "org"};
    for (size_t i = 0; i < 3; i++) {
        snprintf(big, sizeof(big), "{\"%s\":\"%0*d\"}", scalars[i], 4096, 0);
        c = claims_parse(big, strlen(big), &reason);
        assert_non_null(c);
        claims_free(c);
        snprintf(big, sizeof(big), "{\"%s\":\"%0*d\"}", scalars[i], 4097, 0);
        assert_null(claims_parse(big, strlen(big), &reason));
        assert_non_null(strstr(reason, scalars[i]));
    }

    /* Through a signed token: 1025 roles is bad claims. */
    json = json_array_of("roles", 1025, 1);
    char *t = make_token(HS256, json, K1);
    assert_true(strlen(t) <= JWT_MAX_TOKEN);
    assert_int_equal(verify(t), JWT_BAD_CLAIMS);
    free(t);
    free(json);
    json = json_array_of("roles", 1024, 1);
    t = make_token(HS256, json, K1);
    assert_int_equal(verify(t), JWT_OK);
    free(t);
    free(json);
}

static void test_claims_nul(void **state)
{
    (void)state;
    static const char *const texts[] = {
        "{\"sub\":\"a\\u0000b\"}",        "{\"tenant\":\"\\u0000\"}",
        "{\"org\":\"x\\u0000\"}",         "{\"orgs\":[\"ok\",\"\\u0000x\"]}",
        "{\"roles\":[\"ad\\u0000min\"]}", "{\"subscribe\":[\"a\\u0000\"]}",
        "{\"publish\":[\"\\u0000\"]}",
    };
    for (size_t i = 0; i < sizeof(texts) / sizeof(texts[0]); i++) {
        const char *reason = NULL;
        if (claims_parse(texts[i], strlen(texts[i]), &reason) != NULL)
            fail_msg("accepted %s", texts[i]);
        assert_non_null(strstr(reason, "NUL"));
        char *t = make_token(HS256, texts[i], K1);
        assert_int_equal(verify(t), JWT_BAD_CLAIMS);
        free(t);
    }
}

static void test_has_org_role(void **state)
{
    (void)state;
    static const char json[] = "{\"orgs\":[\"acme\",\"globex\"],\"roles\":[\"admin\",\"ops\"]}";
    const char *reason;
    struct claims *c = claims_parse(json, strlen(json), &reason);
    assert_non_null(c);
    struct claim_str acme = cstr("acme"), globex = cstr("globex"), admin = cstr("admin"),
                     ops = cstr("ops"), acm = cstr("acm"), acmee = cstr("acmee");
    assert_true(claims_has_org(c, &acme));
    assert_true(claims_has_org(c, &globex));
    assert_false(claims_has_org(c, &admin)); /* a role, not an org */
    assert_false(claims_has_org(c, &acm));
    assert_false(claims_has_org(c, &acmee));
    assert_true(claims_has_role(c, &admin));
    assert_true(claims_has_role(c, &ops));
    assert_false(claims_has_role(c, &acme));
    claims_free(c);

    /* By hand: hash-equal entries whose strings differ. A collision of the
     * real hash cannot be found on purpose, so give equal hash fields. */
    struct claim_str orgs[] = {
        {"abcd", 4, 42},
        {"wxyz", 4, 42},
    };
    struct claim_str roles[] = {{"admin", 5, 7}};
    struct claims hand = {.orgs = orgs, .num_orgs = 2, .roles = roles, .num_roles = 1};
    struct claim_str q = {"abce", 4, 42};
    assert_false(claims_has_org(&hand, &q)); /* same hash and length, other bytes */
    q = (struct claim_str){"abc", 3, 42};
    assert_false(claims_has_org(&hand, &q)); /* same hash, other length */
    q = (struct claim_str){"wxyz", 4, 42};
    assert_true(claims_has_org(&hand, &q));
    q = (struct claim_str){"abcd", 4, 43};
    assert_false(claims_has_org(&hand, &q)); /* same string, other hash: hash decides first */
    q = (struct claim_str){"adminx", 5, 7};
    assert_true(claims_has_role(&hand, &q)); /* only len bytes count */
    q = (struct claim_str){"admim", 5, 7};
    assert_false(claims_has_role(&hand, &q));
    q = (struct claim_str){"admin", 5, 8};
    assert_false(claims_has_role(&hand, &q));
}

static void test_status_text(void **state)
{
    (void)state;
    for (int s = JWT_OK; s <= JWT_MISSING; s++) {
        const char *text = jwt_status_text((enum jwt_status)s);
        assert_non_null(text);
        assert_true(strlen(text) > 3);
    }
    assert_string_equal(jwt_status_text(JWT_EXPIRED), "token expired");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rfc7515_a1),
        cmocka_unit_test(test_rfc7519_3_1),
        cmocka_unit_test(test_rfc7519_6_1_unsecured),
        cmocka_unit_test(test_pyjwt_vectors),
        cmocka_unit_test(test_bad_alg),
        cmocka_unit_test(test_header_members),
        cmocka_unit_test(test_bad_signature),
        cmocka_unit_test(test_malformed),
        cmocka_unit_test(test_payload_not_json),
        cmocka_unit_test(test_max_length),
        cmocka_unit_test(test_time),
        cmocka_unit_test(test_rotation),
        cmocka_unit_test(test_sign_round_trip),
        cmocka_unit_test(test_claims_absent),
        cmocka_unit_test(test_claims_not_json),
        cmocka_unit_test(test_claims_types),
        cmocka_unit_test(test_claims_org_union),
        cmocka_unit_test(test_claims_limits),
        cmocka_unit_test(test_claims_nul),
        cmocka_unit_test(test_has_org_role),
        cmocka_unit_test(test_status_text),
    };
    rc_hash_init();
    return cmocka_run_group_tests(tests, NULL, NULL);
}
