/* jwt.h: JSON Web Tokens signed with HS256 (RFC 7519, RFC 7515).
 *
 * Only the compact form with alg HS256 is accepted: header.payload.signature,
 * each part base64url without padding (RFC 7515 section 2). Refused: any
 * other alg (none included), a "crit" header, malformed base64url or JSON,
 * a bad signature (compared in constant time, CRYPTO_memcmp), a token past
 * its exp or before its nbf. HMAC-SHA256 and the comparison are BoringSSL's.
 *
 * Up to two secrets are tried, so that a secret can be rotated: tokens
 * signed with the new one or the previous one are both accepted. */
#ifndef RC_JWT_H
#define RC_JWT_H

#include <stddef.h>
#include <stdint.h>

#include "pubsub/claims.h"

#define JWT_MAX_TOKEN 8192 /* longer tokens are refused as malformed */
#define JWT_MIN_SECRET 32  /* bytes: RFC 7518 section 3.2 wants at least 256 bits */

struct jwt_keys {
    const uint8_t *secret[2];
    size_t secret_len[2];
    int count; /* 1 or 2 */
};

enum jwt_status {
    JWT_OK = 0,
    JWT_MALFORMED,     /* not three base64url parts, bad JSON, too long */
    JWT_BAD_ALG,       /* alg is not HS256, or a crit header */
    JWT_BAD_SIGNATURE, /* signed with neither secret */
    JWT_EXPIRED,       /* now >= exp */
    JWT_NOT_YET_VALID, /* now < nbf */
    JWT_BAD_CLAIMS,    /* a known claim has the wrong type */
    JWT_MISSING,       /* no token at all (auth_check; jwt_verify never says it) */
};

/* jwt_verify checks |token| against |keys| at time |now| (seconds since
 * the epoch) and returns JWT_OK with the claims in |*out| (free them with
 * claims_free), or a status with |*out| NULL and |*out_reason| a static
 * English phrase for error messages. */
enum jwt_status jwt_verify(struct claims **out, const char *token, size_t len,
                           const struct jwt_keys *keys, int64_t now, const char **out_reason);

/* jwt_status_text names a status in a few words. */
const char *jwt_status_text(enum jwt_status status);

/* jwt_sign returns a malloc'd token (NUL-terminated) for the claims JSON
 * object |claims_json|, signed with HS256 and |secret|; NULL when memory
 * runs out. For ringcast-token and the tests. */
char *jwt_sign(const char *claims_json, size_t len, const uint8_t *secret, size_t secret_len);

#endif
