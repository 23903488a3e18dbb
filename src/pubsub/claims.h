/* claims.h: what a token says about its holder, and what it allows.
 *
 * Claims (docs/auth.md): sub, exp, nbf, tenant, org (one organization) or
 * orgs (several), roles, subscribe (patterns the holder may subscribe to),
 * publish (patterns the holder may publish to). Unknown claims are ignored.
 *
 * A struct claims is one allocation: every string and array inside it, so
 * claims_free is one free. Identity strings (sub, tenant, orgs, roles) come
 * with their rc_hash, so that audience checks compare hashes first and
 * strings only when hashes are equal. */
#ifndef RC_CLAIMS_H
#define RC_CLAIMS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct claim_str {
    const char *s; /* NUL-terminated */
    size_t len;
    uint64_t hash; /* rc_hash(s, len) */
};

struct claims {
    struct claim_str sub; /* len 0 when absent */
    struct claim_str tenant;
    int64_t exp;            /* seconds since the epoch; 0 when absent (no expiry) */
    int64_t nbf;            /* 0 when absent */
    struct claim_str *orgs; /* "org" gives one, "orgs" several */
    size_t num_orgs;
    struct claim_str *roles;
    size_t num_roles;
    struct claim_str *subscribe; /* patterns; absent: none allowed */
    size_t num_subscribe;
    struct claim_str *publish; /* patterns; absent: none allowed */
    size_t num_publish;
};

/* claims_parse reads a JWT payload (JSON object text) into a new struct
 * claims. Returns NULL and sets |*out_reason| (a static English phrase)
 * when the JSON is invalid or a known claim has the wrong type: sub, tenant
 * and org strings; exp and nbf numbers (integers or fractions: NumericDate,
 * RFC 7519 section 2); orgs, roles, subscribe and publish arrays of
 * strings. Strings must be valid UTF-8 without NUL (jansson). */
struct claims *claims_parse(const char *json, size_t len, const char **out_reason);

/* claims_free frees |c| (NULL is fine). */
void claims_free(struct claims *c);

/* claims_has_org / claims_has_role report membership (hash, then string). */
bool claims_has_org(const struct claims *c, const struct claim_str *org);
bool claims_has_role(const struct claims *c, const struct claim_str *role);

#endif
