/* claims.c: a JWT payload (JSON, read with jansson) into one allocation.
 *
 * claims_parse works in two passes over the parsed JSON: the first checks
 * every known claim's type and limits and adds up the bytes the result
 * needs (the struct, then the claim_str arrays, then the strings); the
 * second copies the strings into that one block. claims_free is one free. */
#include "pubsub/claims.h"

#include <jansson.h>
#include <string.h>

#include "util/alloc.h"
#include "util/hash.h"

/* A token is at most 8192 bytes (jwt.h), so real claims are far below these
 * limits; they bound what a caller of claims_parse on other input (the
 * fuzzer, a long --claims) can make us allocate. */
#define CLAIMS_MAX_ENTRIES 1024 /* per array */
#define CLAIMS_MAX_STRING 4096  /* bytes per string */

/* The layout of the block, counted in the first pass. */
struct claims_size {
    size_t num_orgs, num_roles, num_subscribe, num_publish;
    size_t string_bytes; /* every string with its NUL */
};

/* A cursor over the string area of the block, for the second pass. */
struct claims_fill {
    char *next;
};

/* What is wrong with a string claim, or an array of them. */
enum claim_error {
    CLAIM_OK = 0,
    CLAIM_TYPE, /* not a string / not an array of strings */
    CLAIM_MANY, /* more than CLAIMS_MAX_ENTRIES entries */
    CLAIM_LONG, /* a string longer than CLAIMS_MAX_STRING bytes */
    CLAIM_NUL,  /* a string with a NUL */
};

/* check_string checks one string value. We parse with JSON_ALLOW_NUL so that
 * a "\u0000" in a known claim is a claims error rather than a JSON error. */
static enum claim_error check_string(const json_t *v)
{
    if (!json_is_string(v))
        return CLAIM_TYPE;
    size_t len = json_string_length(v);
    if (len > CLAIMS_MAX_STRING)
        return CLAIM_LONG;
    if (memchr(json_string_value(v), '\0', len) != NULL)
        return CLAIM_NUL;
    return CLAIM_OK;
}

/* check_array checks an array of strings and adds its strings to |*bytes|. */
static enum claim_error check_array(const json_t *v, size_t *bytes)
{
    enum claim_error e;
    size_t i;
    const json_t *item;

    if (!json_is_array(v))
        return CLAIM_TYPE;
    if (json_array_size(v) > CLAIMS_MAX_ENTRIES)
        return CLAIM_MANY;
    json_array_foreach(v, i, item)
    {
        if ((e = check_string(item)) != CLAIM_OK)
            return e;
        *bytes += json_string_length(item) + 1;
    }
    return CLAIM_OK;
}

/* The reasons for each claim, by enum claim_error. */
#define STRING_REASONS(name)                                                                       \
    {                                                                                              \
        [CLAIM_TYPE] = "\"" name "\" must be a string",                                            \
        [CLAIM_LONG] = "\"" name "\" is longer than 4096 bytes",                                   \
        [CLAIM_NUL] = "\"" name "\" contains a NUL character",                                     \
    }
#define ARRAY_REASONS(name)                                                                        \
    {                                                                                              \
        [CLAIM_TYPE] = "\"" name "\" must be an array of strings",                                 \
        [CLAIM_MANY] = "\"" name "\" has more than 1024 entries",                                  \
        [CLAIM_LONG] = "\"" name "\" has a string longer than 4096 bytes",                         \
        [CLAIM_NUL] = "\"" name "\" has a string that contains a NUL character",                   \
    }

/* NumericDate (RFC 7519 section 2) may be a fraction. We store the ceiling:
 * for a whole-second |now|, now >= exp and now < nbf give the same answers
 * with ceil(x) as with x itself. Out-of-range values saturate. */
static int64_t numeric_date(const json_t *v)
{
    if (json_is_integer(v))
        return (int64_t)json_integer_value(v);
    double d = json_real_value(v);
    if (d >= 9223372036854775807.0) /* 2^63 as a double */
        return INT64_MAX;
    if (d < -9223372036854775807.0)
        return INT64_MIN;
    int64_t t = (int64_t)d; /* toward zero */
    if ((double)t < d)
        t++;
    return t;
}

static void fill_str(struct claims_fill *f, struct claim_str *out, const char *s, size_t len)
{
    memcpy(f->next, s, len);
    f->next[len] = '\0';
    out->s = f->next;
    out->len = len;
    out->hash = rc_hash(f->next, len);
    f->next += len + 1;
}

static void fill_value(struct claims_fill *f, struct claim_str *out, const json_t *v)
{
    fill_str(f, out, json_string_value(v), json_string_length(v));
}

static void fill_array(struct claims_fill *f, struct claim_str *out, const json_t *v)
{
    size_t i;
    const json_t *item;

    json_array_foreach(v, i, item)
    {
        fill_value(f, &out[i], item);
    }
}

/* The absent string: length 0, still NUL-terminated and hashed, so every
 * claim_str keeps the same invariants. */
static void empty_str(struct claim_str *out)
{
    out->s = "";
    out->len = 0;
    out->hash = rc_hash("", 0);
}

struct claims *claims_parse(const char *json, size_t len, const char **out_reason)
{
    static const char *const string_names[] = {"sub", "tenant", "org"};
    static const char *const string_reasons[][CLAIM_NUL + 1] = {
        STRING_REASONS("sub"),
        STRING_REASONS("tenant"),
        STRING_REASONS("org"),
    };
    static const char *const array_names[] = {"orgs", "roles", "subscribe", "publish"};
    static const char *const array_reasons[][CLAIM_NUL + 1] = {
        ARRAY_REASONS("orgs"),
        ARRAY_REASONS("roles"),
        ARRAY_REASONS("subscribe"),
        ARRAY_REASONS("publish"),
    };
    enum claim_error e;
    struct claims_size size = {0};
    struct claims *c = NULL;
    json_error_t err;
    json_t *root;

    *out_reason = NULL;
    /* jansson refuses a raw NUL byte anyway; say so before it reads. */
    if (memchr(json, '\0', len) != NULL) {
        *out_reason = "claims are not valid JSON";
        return NULL;
    }
    root = json_loadb(json, len, JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL, &err);
    if (root == NULL) {
        *out_reason = "claims are not valid JSON";
        return NULL;
    }
    if (!json_is_object(root)) {
        *out_reason = "claims are not a JSON object";
        goto out;
    }

    /* First pass: types, limits and sizes. */
    const json_t *strings[3]; /* sub, tenant, org */
    const json_t *arrays[4];  /* orgs, roles, subscribe, publish */
    size_t *counts[4] = {&size.num_orgs, &size.num_roles, &size.num_subscribe, &size.num_publish};
    const json_t *exp = json_object_get(root, "exp");
    const json_t *nbf = json_object_get(root, "nbf");

    for (int i = 0; i < 3; i++) {
        strings[i] = json_object_get(root, string_names[i]);
        if (strings[i] == NULL)
            continue;
        if ((e = check_string(strings[i])) != CLAIM_OK) {
            *out_reason = string_reasons[i][e];
            goto out;
        }
        size.string_bytes += json_string_length(strings[i]) + 1;
    }
    if (strings[2] != NULL)
        size.num_orgs = 1; /* "org" */
    if (exp != NULL && !json_is_number(exp)) {
        *out_reason = "\"exp\" must be a number (seconds since the epoch)";
        goto out;
    }
    if (nbf != NULL && !json_is_number(nbf)) {
        *out_reason = "\"nbf\" must be a number (seconds since the epoch)";
        goto out;
    }
    for (int i = 0; i < 4; i++) {
        arrays[i] = json_object_get(root, array_names[i]);
        if (arrays[i] == NULL)
            continue;
        if ((e = check_array(arrays[i], &size.string_bytes)) != CLAIM_OK) {
            *out_reason = array_reasons[i][e];
            goto out;
        }
        *counts[i] += json_array_size(arrays[i]);
    }

    /* One block: the struct, the claim_str arrays, the strings. The limits
     * above keep these sums far from overflowing. */
    size_t num_strs = size.num_orgs + size.num_roles + size.num_subscribe + size.num_publish;
    size_t total = sizeof(*c) + num_strs * sizeof(struct claim_str) + size.string_bytes;
    c = rc_malloc(total);
    if (c == NULL) {
        *out_reason = "out of memory";
        goto out;
    }
    memset(c, 0, sizeof(*c));
    struct claim_str *strs = (struct claim_str *)(c + 1);
    struct claims_fill fill = {(char *)(strs + num_strs)};

    /* Second pass: copy. */
    if (strings[0] != NULL)
        fill_value(&fill, &c->sub, strings[0]);
    else
        empty_str(&c->sub);
    if (strings[1] != NULL)
        fill_value(&fill, &c->tenant, strings[1]);
    else
        empty_str(&c->tenant);
    if (exp != NULL) {
        c->exp = numeric_date(exp);
        /* 0 means "no expiry": an exp that rounds to 0 is in the past all
         * the same, so keep it there. */
        if (c->exp == 0)
            c->exp = -1;
    }
    if (nbf != NULL)
        c->nbf = numeric_date(nbf); /* nbf 0 and no nbf both allow any time */

    struct claim_str **outs[4] = {&c->orgs, &c->roles, &c->subscribe, &c->publish};
    size_t *nums[4] = {&c->num_orgs, &c->num_roles, &c->num_subscribe, &c->num_publish};
    for (int i = 0; i < 4; i++) {
        *nums[i] = *counts[i];
        if (*counts[i] == 0)
            continue;
        *outs[i] = strs;
        strs += *counts[i];
    }
    /* "org" first, then "orgs": the union (duplicates kept, harmless). */
    struct claim_str *o = c->orgs;
    if (strings[2] != NULL)
        fill_value(&fill, o++, strings[2]);
    if (arrays[0] != NULL)
        fill_array(&fill, o, arrays[0]);
    for (int i = 1; i < 4; i++)
        if (arrays[i] != NULL)
            fill_array(&fill, *outs[i], arrays[i]);

out:
    json_decref(root);
    return c;
}

void claims_free(struct claims *c)
{
    rc_free(c);
}

static bool has(const struct claim_str *set, size_t num, const struct claim_str *want)
{
    for (size_t i = 0; i < num; i++)
        if (set[i].hash == want->hash && set[i].len == want->len &&
            memcmp(set[i].s, want->s, want->len) == 0)
            return true;
    return false;
}

bool claims_has_org(const struct claims *c, const struct claim_str *org)
{
    return has(c->orgs, c->num_orgs, org);
}

bool claims_has_role(const struct claims *c, const struct claim_str *role)
{
    return has(c->roles, c->num_roles, role);
}
