/* fuzz_audience.c: reading audiences (both forms) and matching them.
 *
 * The input is JSON text, read as an explicit audience and as a payload
 * (--audience-from-payload). Besides memory safety (ASan), every audience
 * read must hold what its rules promise:
 *   - strings within their recorded lengths, NUL-terminated, hashes equal
 *     to rc_hash of the text; lists within AUDIENCE_MAX_IDS;
 *   - payload-form ids are never blank and never start or end with space;
 *   - no connection without claims is ever allowed;
 *   - a token made from the audience's own first ids (its tenant, first
 *     org, first user as sub, first role) is allowed exactly when none of
 *     those is blank, and a token of another tenant never is. */
#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "pubsub/audience.h"
#include "pubsub/claims.h"
#include "util/hash.h"

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond))                                                                               \
            abort();                                                                               \
    } while (0)

static bool is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

static void check_str(const struct claim_str *s, bool trimmed)
{
    CHECK(s->s != NULL);
    CHECK(s->s[s->len] == '\0');
    CHECK(s->hash == rc_hash(s->s, s->len));
    if (trimmed) {
        CHECK(s->len > 0);
        CHECK(!is_space(s->s[0]) && !is_space(s->s[s->len - 1]));
    }
}

static void check_list(const struct claim_str *v, size_t n, bool trimmed)
{
    CHECK(n <= AUDIENCE_MAX_IDS);
    CHECK(n == 0 || v != NULL);
    for (size_t i = 0; i < n; i++)
        check_str(&v[i], trimmed);
}

/* claims_like builds claims from the audience's first ids, with |tenant|
 * as the tenant (the audience's own, or another). */
static struct claims *claims_like(const struct audience *a, const char *tenant, size_t tenant_len)
{
    json_t *o = json_object();
    CHECK(o != NULL);
    json_object_set_new(o, "tenant", json_stringn(tenant, tenant_len));
    if (a->num_orgs)
        json_object_set_new(o, "org", json_stringn(a->orgs[0].s, a->orgs[0].len));
    if (a->num_users)
        json_object_set_new(o, "sub", json_stringn(a->users[0].s, a->users[0].len));
    if (a->num_roles) {
        json_t *roles = json_array();
        json_array_append_new(roles, json_stringn(a->roles[0].s, a->roles[0].len));
        json_object_set_new(o, "roles", roles);
    }
    char *text = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    if (!text)
        return NULL; /* e.g. a NUL inside an id: jansson refuses, nothing to check */
    const char *reason = NULL;
    struct claims *c = claims_parse(text, strlen(text), &reason);
    free(text);
    return c;
}

static void check_audience(const struct audience *a, bool trimmed)
{
    check_list(&a->tenant, a->tenant.len > 0, trimmed);
    check_list(a->orgs, a->num_orgs, trimmed);
    check_list(a->users, a->num_users, trimmed);
    check_list(a->roles, a->num_roles, trimmed);
    CHECK(!audience_allows(a, NULL));

    /* A blank id (explicit form) matches no token: a token has no blank
     * tenant, org, sub or role. */
    bool own_ids_blank = a->tenant.len == 0 || (a->num_orgs && a->orgs[0].len == 0) ||
                         (a->num_users && a->users[0].len == 0) ||
                         (a->num_roles && a->roles[0].len == 0);
    struct claims *own = claims_like(a, a->tenant.s ? a->tenant.s : "", a->tenant.len);
    if (own) {
        CHECK(audience_allows(a, own) == !own_ids_blank);
        claims_free(own);
    }
    static const char other[] = "\x01other-tenant";
    if (a->tenant.len != sizeof(other) - 1 || memcmp(a->tenant.s, other, a->tenant.len) != 0) {
        struct claims *foreign = claims_like(a, other, sizeof(other) - 1);
        if (foreign) {
            CHECK(!audience_allows(a, foreign));
            claims_free(foreign);
        }
    }
}

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    rc_hash_init();
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *reason = NULL;
    struct audience *a = audience_parse(data, size, &reason);
    if (a) {
        check_audience(a, false);
        audience_free(a);
    } else {
        CHECK(reason != NULL);
    }
    a = audience_from_payload(data, size);
    CHECK(a != NULL);
    check_audience(a, true);
    audience_free(a);
    return 0;
}
