/* jwt.c: HS256 JSON Web Tokens (RFC 7519, RFC 7515 compact serialization).
 *
 * Order of the checks in jwt_verify, and why:
 *   1. length, three parts, the base64url alphabet of every part: cheap,
 *      no parsing at all;
 *   2. the header: decoded and parsed, it must say alg HS256 and have no
 *      crit; this is all the JSON a forged token can make us parse;
 *   3. the signature, HMAC-SHA256 over the two first parts exactly as they
 *      appear in the token, against each secret, compared in constant time;
 *   4. only then the payload: the claims, and exp and nbf against |now|.
 *
 * base64url (RFC 4648 section 5) is decoded by BoringSSL's EVP_DecodeBase64
 * after translating it to base64 and padding it in a scratch buffer. We
 * also insist on the canonical encoding (unused low bits zero), so that a
 * token has exactly one spelling: EVP_DecodeBase64 accepts "QR==" for "A". */
#include "pubsub/jwt.h"

#include <jansson.h>
#include <openssl/base64.h>
#include <openssl/digest.h>
#include <openssl/hmac.h>
#include <openssl/mem.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#define SIG_LEN 32 /* HMAC-SHA256 */

/* The base64url alphabet: A-Z a-z 0-9 - _ and nothing else ('=' padding
 * included: RFC 7515 section 2 leaves it out). */
static bool b64url_char(unsigned char ch)
{
    return (ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') ||
           ch == '-' || ch == '_';
}

/* b64url_syntax reports whether |in| could be base64url: alphabet, and a
 * length whose remainder by 4 is not 1 (no byte count encodes to that). */
static bool b64url_syntax(const char *in, size_t len)
{
    if (len % 4 == 1)
        return false;
    for (size_t i = 0; i < len; i++)
        if (!b64url_char((unsigned char)in[i]))
            return false;
    return true;
}

/* b64url_decode decodes |in| (already checked by b64url_syntax) into |out|,
 * which has room for |max_out| bytes; |scratch| has room for |len| + 3.
 * Returns false when the encoding is not canonical or the output does not
 * fit. */
static bool b64url_decode(uint8_t *out, size_t *out_len, size_t max_out, char *scratch,
                          const char *in, size_t len)
{
    size_t padded = len;

    for (size_t i = 0; i < len; i++)
        scratch[i] = in[i] == '-' ? '+' : in[i] == '_' ? '/' : in[i];
    while (padded % 4 != 0)
        scratch[padded++] = '=';
    if (!EVP_DecodeBase64(out, out_len, max_out, (const uint8_t *)scratch, padded))
        return false;
    /* Canonical: encoding the last group again gives the same characters. */
    size_t tail = *out_len % 3;
    if (tail != 0) {
        uint8_t again[5];
        EVP_EncodeBlock(again, out + *out_len - tail, tail);
        if (memcmp(again, scratch + padded - 4, 4) != 0)
            return false;
    }
    return true;
}

/* b64url_encode writes base64url of |in| (no padding) at |out|, which has
 * room for EVP_EncodedLength bytes, and returns the characters written. */
static size_t b64url_encode(char *out, const uint8_t *in, size_t len)
{
    size_t n = EVP_EncodeBlock((uint8_t *)out, in, len);

    while (n > 0 && out[n - 1] == '=')
        n--;
    for (size_t i = 0; i < n; i++)
        out[i] = out[i] == '+' ? '-' : out[i] == '/' ? '_' : out[i];
    out[n] = '\0';
    return n;
}

/* check_header reads the decoded JOSE header. */
static enum jwt_status check_header(const uint8_t *text, size_t len, const char **out_reason)
{
    enum jwt_status status = JWT_MALFORMED;
    json_error_t err;
    json_t *root = NULL;
    const json_t *alg, *typ;

    if (memchr(text, '\0', len) != NULL) {
        *out_reason = "header is not valid JSON";
        return JWT_MALFORMED;
    }
    root = json_loadb((const char *)text, len, JSON_REJECT_DUPLICATES, &err);
    if (root == NULL) {
        *out_reason = "header is not valid JSON";
        goto out;
    }
    if (!json_is_object(root)) {
        *out_reason = "header is not a JSON object";
        goto out;
    }
    status = JWT_BAD_ALG;
    alg = json_object_get(root, "alg");
    if (alg == NULL) {
        *out_reason = "header has no \"alg\"";
        goto out;
    }
    if (!json_is_string(alg)) {
        *out_reason = "\"alg\" is not a string";
        goto out;
    }
    if (json_string_length(alg) == 4 && memcmp(json_string_value(alg), "none", 4) == 0) {
        *out_reason = "alg \"none\" (an unsigned token) is not accepted";
        goto out;
    }
    if (json_string_length(alg) != 5 || memcmp(json_string_value(alg), "HS256", 5) != 0) {
        *out_reason = "alg is not HS256, the only algorithm accepted";
        goto out;
    }
    /* crit names extensions the recipient must understand (RFC 7515
     * section 4.1.11); we understand none. */
    if (json_object_get(root, "crit") != NULL) {
        *out_reason = "header has \"crit\" extensions, which are not supported";
        goto out;
    }
    status = JWT_MALFORMED;
    typ = json_object_get(root, "typ");
    if (typ != NULL && !json_is_string(typ)) {
        *out_reason = "\"typ\" is not a string";
        goto out;
    }
    status = JWT_OK;
out:
    json_decref(root);
    return status;
}

/* signed_by reports whether |sig| is the HMAC-SHA256 of |data| with one of
 * the secrets. Every secret is tried, match or not. */
static bool signed_by(const struct jwt_keys *keys, const uint8_t *data, size_t len,
                      const uint8_t sig[SIG_LEN])
{
    bool match = false;

    for (int i = 0; i < keys->count && i < 2; i++) {
        uint8_t mac[EVP_MAX_MD_SIZE];
        unsigned mac_len = 0;
        if (HMAC(EVP_sha256(), keys->secret[i], keys->secret_len[i], data, len, mac, &mac_len) ==
                NULL ||
            mac_len != SIG_LEN)
            continue;
        match |= CRYPTO_memcmp(mac, sig, SIG_LEN) == 0;
    }
    return match;
}

/* payload_is_json tells a payload that is not a JSON object (malformed)
 * from one whose claims have the wrong types, after claims_parse refused
 * it. Only on that error path, so the payload is parsed twice only then. */
static bool payload_is_json_object(const uint8_t *text, size_t len)
{
    json_error_t err;
    json_t *root;
    bool ok;

    if (memchr(text, '\0', len) != NULL)
        return false;
    root = json_loadb((const char *)text, len, JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL, &err);
    ok = json_is_object(root);
    json_decref(root);
    return ok;
}

enum jwt_status jwt_verify(struct claims **out, const char *token, size_t len,
                           const struct jwt_keys *keys, int64_t now, const char **out_reason)
{
    /* Scratch on the stack: a token is at most JWT_MAX_TOKEN bytes, so a
     * part padded is at most that plus 3, and decodes to less. */
    char padded[JWT_MAX_TOKEN + 4];
    uint8_t decoded[JWT_MAX_TOKEN / 4 * 3 + 3];
    uint8_t sig[SIG_LEN];
    size_t decoded_len;
    enum jwt_status status;
    struct claims *c;
    const char *reason = NULL;

    *out = NULL;
    *out_reason = NULL;
    if (len == 0) { /* before memchr: |token| may then be NULL */
        *out_reason = "token is empty";
        return JWT_MALFORMED;
    }
    if (len > JWT_MAX_TOKEN) {
        *out_reason = "token is longer than 8192 bytes";
        return JWT_MALFORMED;
    }

    /* 1. header.payload.signature */
    const char *dot1 = memchr(token, '.', len);
    const char *dot2 = dot1 ? memchr(dot1 + 1, '.', len - (size_t)(dot1 + 1 - token)) : NULL;
    if (dot2 == NULL || memchr(dot2 + 1, '.', len - (size_t)(dot2 + 1 - token)) != NULL) {
        *out_reason = "token is not three parts separated by dots";
        return JWT_MALFORMED;
    }
    const char *header = token, *payload = dot1 + 1, *signature = dot2 + 1;
    size_t header_len = (size_t)(dot1 - token);
    size_t payload_len = (size_t)(dot2 - payload);
    size_t signature_len = len - (size_t)(signature - token);
    if (header_len == 0) {
        *out_reason = "token has an empty header";
        return JWT_MALFORMED;
    }
    if (!b64url_syntax(header, header_len)) {
        *out_reason = "header is not base64url without padding";
        return JWT_MALFORMED;
    }
    if (!b64url_syntax(payload, payload_len)) {
        *out_reason = "payload is not base64url without padding";
        return JWT_MALFORMED;
    }
    if (!b64url_syntax(signature, signature_len)) {
        *out_reason = "signature is not base64url without padding";
        return JWT_MALFORMED;
    }

    /* 2. The header. Before the empty-part checks below, so that an
     * unsecured token (alg none, empty signature) is named as such. */
    if (!b64url_decode(decoded, &decoded_len, sizeof(decoded), padded, header, header_len)) {
        *out_reason = "header is not base64url without padding";
        return JWT_MALFORMED;
    }
    status = check_header(decoded, decoded_len, out_reason);
    if (status != JWT_OK)
        return status;
    if (payload_len == 0) {
        *out_reason = "token has an empty payload";
        return JWT_MALFORMED;
    }
    if (signature_len == 0) {
        *out_reason = "token has an empty signature";
        return JWT_MALFORMED;
    }

    /* 3. The signature. */
    if (!b64url_decode(decoded, &decoded_len, sizeof(decoded), padded, signature, signature_len)) {
        *out_reason = "signature is not base64url without padding";
        return JWT_MALFORMED;
    }
    if (decoded_len != SIG_LEN) {
        *out_reason = "signature is not 32 bytes long (HMAC-SHA256)";
        return JWT_BAD_SIGNATURE;
    }
    memcpy(sig, decoded, SIG_LEN);
    if (!signed_by(keys, (const uint8_t *)token, (size_t)(dot2 - token), sig)) {
        *out_reason = "signature does not match";
        return JWT_BAD_SIGNATURE;
    }

    /* 4. The claims. */
    if (!b64url_decode(decoded, &decoded_len, sizeof(decoded), padded, payload, payload_len)) {
        *out_reason = "payload is not base64url without padding";
        return JWT_MALFORMED;
    }
    c = claims_parse((const char *)decoded, decoded_len, &reason);
    if (c == NULL) {
        *out_reason = reason;
        return payload_is_json_object(decoded, decoded_len) ? JWT_BAD_CLAIMS : JWT_MALFORMED;
    }
    /* exp and nbf are stored rounded up (claims.c), which for a whole-second
     * |now| compares exactly like the fraction itself. 0 means absent. */
    if (c->exp != 0 && now >= c->exp) {
        claims_free(c);
        *out_reason = "token has expired (exp)";
        return JWT_EXPIRED;
    }
    if (c->nbf != 0 && now < c->nbf) {
        claims_free(c);
        *out_reason = "token is not valid yet (nbf)";
        return JWT_NOT_YET_VALID;
    }
    *out = c;
    return JWT_OK;
}

const char *jwt_status_text(enum jwt_status status)
{
    switch (status) {
    case JWT_OK:
        return "valid token";
    case JWT_MALFORMED:
        return "malformed token";
    case JWT_BAD_ALG:
        return "algorithm not accepted";
    case JWT_BAD_SIGNATURE:
        return "bad signature";
    case JWT_EXPIRED:
        return "token expired";
    case JWT_NOT_YET_VALID:
        return "token not yet valid";
    case JWT_BAD_CLAIMS:
        return "bad claims";
    case JWT_MISSING:
        return "missing token";
    }
    return "unknown token status";
}

char *jwt_sign(const char *claims_json, size_t len, const uint8_t *secret, size_t secret_len)
{
    static const char header[] = "{\"alg\":\"HS256\",\"typ\":\"JWT\"}";
    size_t header_room, payload_room, sig_room;
    uint8_t mac[EVP_MAX_MD_SIZE];
    unsigned mac_len = 0;
    char *token;
    size_t n;

    if (!EVP_EncodedLength(&header_room, sizeof(header) - 1) ||
        !EVP_EncodedLength(&payload_room, len) || !EVP_EncodedLength(&sig_room, SIG_LEN))
        return NULL;
    /* Each room counts EVP_EncodeBlock's NUL: one for each dot and the end. */
    if (payload_room > SIZE_MAX - header_room - sig_room)
        return NULL;
    token = malloc(header_room + payload_room + sig_room);
    if (token == NULL)
        return NULL;
    n = b64url_encode(token, (const uint8_t *)header, sizeof(header) - 1);
    token[n++] = '.';
    n += b64url_encode(token + n, (const uint8_t *)claims_json, len);
    if (HMAC(EVP_sha256(), secret, secret_len, (const uint8_t *)token, n, mac, &mac_len) == NULL ||
        mac_len != SIG_LEN) {
        free(token);
        return NULL;
    }
    token[n++] = '.';
    b64url_encode(token + n, mac, SIG_LEN);
    return token;
}
