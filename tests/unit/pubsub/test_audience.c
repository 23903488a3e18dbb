/* test_audience.c: reading audiences (explicit and from payloads) and
 * matching them to token claims, checked against a direct model. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pubsub/audience.h"
#include "pubsub/claims.h"

static struct audience *parse(const char *json)
{
    const char *reason = NULL;
    struct audience *a = audience_parse((const uint8_t *)json, strlen(json), &reason);
    if (!a)
        assert_non_null(reason);
    return a;
}

static struct audience *from_payload(const char *json)
{
    struct audience *a = audience_from_payload((const uint8_t *)json, strlen(json));
    assert_non_null(a);
    return a;
}

static struct claims *claims(const char *json)
{
    const char *reason = NULL;
    struct claims *c = claims_parse(json, strlen(json), &reason);
    assert_non_null(c);
    return c;
}

static bool allows(const struct audience *a, const char *claims_json)
{
    struct claims *c = claims(claims_json);
    bool allowed = audience_allows(a, c);
    claims_free(c);
    return allowed;
}

static void assert_str(const struct claim_str *s, const char *want)
{
    assert_int_equal(s->len, strlen(want));
    assert_memory_equal(s->s, want, s->len);
    assert_int_equal(s->s[s->len], '\0');
}

static void test_explicit_form(void **state)
{
    (void)state;
    struct audience *a = parse("{\"tenant\":\"t1\",\"orgs\":[\"o1\",\"o\\u0032\"],"
                               "\"users\":[\"u1\"],\"roles\":[],\"other\":[1,2]}");
    assert_non_null(a);
    assert_str(&a->tenant, "t1");
    assert_int_equal(a->num_orgs, 2);
    assert_str(&a->orgs[0], "o1");
    assert_str(&a->orgs[1], "o2"); /* escapes decoded */
    assert_int_equal(a->num_users, 1);
    assert_str(&a->users[0], "u1");
    assert_int_equal(a->num_roles, 0);
    audience_free(a);

    a = parse("{}");
    assert_non_null(a);
    assert_int_equal(a->tenant.len, 0);
    audience_free(a);
}

/* A blank id in an explicit audience matches no token, not even one that
 * carries the same blank string; it never widens the audience either. */
static void test_blank_ids_match_no_one(void **state)
{
    (void)state;
    struct audience *a = parse("{\"tenant\":\"t1\",\"orgs\":[\"\"]}");
    assert_non_null(a);
    assert_int_equal(a->num_orgs, 1);
    assert_false(allows(a, "{\"tenant\":\"t1\",\"org\":\"\"}"));
    assert_false(allows(a, "{\"tenant\":\"t1\",\"org\":\"o1\"}"));
    assert_false(allows(a, "{\"tenant\":\"t1\"}"));
    audience_free(a);

    a = parse("{\"tenant\":\"t1\",\"users\":[\"\"],\"roles\":[\"\"]}");
    assert_false(allows(a, "{\"tenant\":\"t1\",\"sub\":\"\",\"roles\":[\"\"]}"));
    audience_free(a);

    a = parse("{\"tenant\":\"\"}");
    assert_false(allows(a, "{\"tenant\":\"\"}"));
    audience_free(a);
}

static void test_explicit_form_errors(void **state)
{
    (void)state;
    const char *bad[] = {
        "[]",
        "\"t1\"",
        "{\"tenant\":1}",
        "{\"tenant\":\"t\",\"orgs\":\"o1\"}",
        "{\"tenant\":\"t\",\"users\":[1]}",
        "{\"tenant\":\"t\",\"roles\":[[\"r\"]]}",
        "{\"tenant\":",
        "",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_null(parse(bad[i]));
}

static char *list_json(const char *key, size_t count, const char *blank_first)
{
    size_t cap = 64 + count * 16 + 64;
    char *s = malloc(cap);
    assert_non_null(s);
    size_t n = (size_t)snprintf(s, cap, "{\"tenantId\":\"t\",\"%s\":[", key);
    if (blank_first)
        n += (size_t)snprintf(s + n, cap - n, "\"%s\",", blank_first);
    for (size_t i = 0; i < count; i++)
        n += (size_t)snprintf(s + n, cap - n, "%s\"id%zu\"", i ? "," : "", i);
    snprintf(s + n, cap - n, "]}");
    return s;
}

static void test_list_limit(void **state)
{
    (void)state;
    char *json = list_json("orgs", AUDIENCE_MAX_IDS, NULL);
    struct audience *a = parse(json);
    assert_non_null(a);
    assert_int_equal(a->num_orgs, AUDIENCE_MAX_IDS);
    audience_free(a);
    free(json);
    json = list_json("orgs", AUDIENCE_MAX_IDS + 1, NULL);
    assert_null(parse(json));
    free(json);
}

/* Blanks are skipped in the payload form; room must still be right when a
 * blank comes first and the list is at its limit (a heap overflow once). */
static void test_payload_blanks_and_limit(void **state)
{
    (void)state;
    char *json = list_json("organizationIds", AUDIENCE_MAX_IDS, "   ");
    struct audience *a = from_payload(json);
    assert_int_equal(a->num_orgs, AUDIENCE_MAX_IDS);
    assert_str(&a->orgs[0], "id0");
    assert_str(&a->orgs[AUDIENCE_MAX_IDS - 1], "id1023");
    audience_free(a);
    free(json);

    json = list_json("recipientUserIds", AUDIENCE_MAX_IDS + 5, NULL);
    a = from_payload(json);
    assert_int_equal(a->num_users, AUDIENCE_MAX_IDS); /* the rest ignored */
    audience_free(a);
    free(json);

    /* A blank tenant, then a long one: the second is taken and fits. */
    a = from_payload("{\"tenantId\":\" \",\"tenantId\":\"a-much-longer-tenant-identifier\"}");
    assert_str(&a->tenant, "a-much-longer-tenant-identifier");
    audience_free(a);
}

static void test_payload_form(void **state)
{
    (void)state;
    struct audience *a = from_payload(
        "{\"tenantId\":\" t1 \",\"organizationId\":\"o1\",\"organizationIds\":[\"o2\",\"\",5],"
        "\"recipientUserId\":\"u1\",\"recipientRoleIds\":[\"admin\"],\"title\":\"x\"}");
    assert_str(&a->tenant, "t1");
    assert_int_equal(a->num_orgs, 2);
    assert_str(&a->orgs[0], "o1");
    assert_str(&a->orgs[1], "o2");
    assert_int_equal(a->num_users, 1);
    assert_int_equal(a->num_roles, 1);
    audience_free(a);

    /* No tenant, not an object, or wrong types: an audience reaching no one. */
    const char *none[] = {"{\"organizationId\":\"o1\"}", "[1]", "3", "{\"tenantId\":7}",
                          "{\"tenantId\":\"\"}"};
    for (size_t i = 0; i < sizeof(none) / sizeof(none[0]); i++) {
        a = from_payload(none[i]);
        assert_int_equal(a->tenant.len, 0);
        assert_false(allows(a, "{\"tenant\":\"\",\"sub\":\"u\"}"));
        audience_free(a);
    }
}

static void test_allows(void **state)
{
    (void)state;
    struct audience *a = parse("{\"tenant\":\"t1\"}");
    assert_true(allows(a, "{\"tenant\":\"t1\"}"));
    assert_false(allows(a, "{\"tenant\":\"t2\"}"));
    assert_false(allows(a, "{}"));
    assert_false(audience_allows(a, NULL)); /* no token */
    audience_free(a);

    a = parse("{\"tenant\":\"t1\",\"orgs\":[\"o1\",\"o2\"],\"users\":[\"u1\",\"u2\"],"
              "\"roles\":[\"admin\"]}");
    assert_true(allows(a, "{\"tenant\":\"t1\",\"org\":\"o2\",\"sub\":\"u2\",\"roles\":[\"x\","
                          "\"admin\"]}"));
    assert_false(allows(a, "{\"tenant\":\"t1\",\"org\":\"o3\",\"sub\":\"u2\",\"roles\":["
                           "\"admin\"]}"));
    assert_false(allows(a, "{\"tenant\":\"t1\",\"orgs\":[\"o1\"],\"sub\":\"u3\",\"roles\":["
                           "\"admin\"]}"));
    assert_false(allows(a, "{\"tenant\":\"t1\",\"orgs\":[\"o1\"],\"sub\":\"u1\"}"));
    assert_false(allows(a, "{\"tenant\":\"t2\",\"orgs\":[\"o1\"],\"sub\":\"u1\",\"roles\":["
                           "\"admin\"]}"));
    audience_free(a);

    /* Strings compared exactly: a prefix or a different case is another id. */
    a = parse("{\"tenant\":\"T\",\"users\":[\"user\"]}");
    assert_false(allows(a, "{\"tenant\":\"T\",\"sub\":\"use\"}"));
    assert_false(allows(a, "{\"tenant\":\"T\",\"sub\":\"User\"}"));
    assert_false(allows(a, "{\"tenant\":\"t\",\"sub\":\"user\"}"));
    assert_true(allows(a, "{\"tenant\":\"T\",\"sub\":\"user\"}"));
    audience_free(a);
}

/* Random audiences and claims over a small alphabet of ids, checked against
 * the rule written directly. */
static bool in(const char *const *list, size_t n, const char *id)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(list[i], id) == 0)
            return true;
    return false;
}

static size_t pick(const char **out, unsigned *seed)
{
    static const char *const ids[] = {"a", "b", "c", "ab"};
    size_t n = (size_t)(rand_r(seed) % 3);
    for (size_t i = 0; i < n; i++)
        out[i] = ids[rand_r(seed) % 4];
    return n;
}

static size_t append_list(char *buf, size_t cap, size_t n, const char *key, const char *const *ids,
                          size_t count)
{
    n += (size_t)snprintf(buf + n, cap - n, ",\"%s\":[", key);
    for (size_t i = 0; i < count; i++)
        n += (size_t)snprintf(buf + n, cap - n, "%s\"%s\"", i ? "," : "", ids[i]);
    return n + (size_t)snprintf(buf + n, cap - n, "]");
}

static void test_random_against_model(void **state)
{
    (void)state;
    unsigned seed = 12345;
    for (int round = 0; round < 20000; round++) {
        const char *a_orgs[3], *a_users[3], *a_roles[3], *c_orgs[3], *c_roles[3];
        size_t na_o = pick(a_orgs, &seed), na_u = pick(a_users, &seed), na_r = pick(a_roles, &seed),
               nc_o = pick(c_orgs, &seed), nc_r = pick(c_roles, &seed);
        const char *a_tenant = rand_r(&seed) % 2 ? "t1" : "t2";
        const char *c_tenant = rand_r(&seed) % 2 ? "t1" : "t2";
        const char *c_sub =
            rand_r(&seed) % 4 ? (const char *[]){"a", "b", "c"}[rand_r(&seed) % 3] : "";
        char aj[512], cj[512];
        size_t n = (size_t)snprintf(aj, sizeof(aj), "{\"tenant\":\"%s\"", a_tenant);
        n = append_list(aj, sizeof(aj), n, "orgs", a_orgs, na_o);
        n = append_list(aj, sizeof(aj), n, "users", a_users, na_u);
        n = append_list(aj, sizeof(aj), n, "roles", a_roles, na_r);
        snprintf(aj + n, sizeof(aj) - n, "}");
        n = (size_t)snprintf(cj, sizeof(cj), "{\"tenant\":\"%s\",\"sub\":\"%s\"", c_tenant, c_sub);
        n = append_list(cj, sizeof(cj), n, "orgs", c_orgs, nc_o);
        n = append_list(cj, sizeof(cj), n, "roles", c_roles, nc_r);
        snprintf(cj + n, sizeof(cj) - n, "}");

        bool want = strcmp(a_tenant, c_tenant) == 0;
        if (na_o > 0) {
            bool any = false;
            for (size_t i = 0; i < na_o; i++)
                any |= in(c_orgs, nc_o, a_orgs[i]);
            want &= any;
        }
        if (na_u > 0)
            want &= c_sub[0] != '\0' && in(a_users, na_u, c_sub);
        if (na_r > 0) {
            bool any = false;
            for (size_t i = 0; i < na_r; i++)
                any |= in(c_roles, nc_r, a_roles[i]);
            want &= any;
        }
        struct audience *a = parse(aj);
        assert_non_null(a);
        if (allows(a, cj) != want)
            fail_msg("audience %s, claims %s: want %d", aj, cj, want);
        audience_free(a);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_explicit_form),
        cmocka_unit_test(test_explicit_form_errors),
        cmocka_unit_test(test_blank_ids_match_no_one),
        cmocka_unit_test(test_list_limit),
        cmocka_unit_test(test_payload_blanks_and_limit),
        cmocka_unit_test(test_payload_form),
        cmocka_unit_test(test_allows),
        cmocka_unit_test(test_random_against_model),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
