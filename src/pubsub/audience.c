/* audience.c: reading audiences and matching them to tokens (see audience.h).
 *
 * Reading walks the JSON twice with jsonv (no tree): once to count the ids
 * and their bytes, once to copy them into a single allocation. */
#include "pubsub/audience.h"

#include <string.h>

#include "util/alloc.h"
#include "util/hash.h"
#include "util/jsonv.h"

enum list_kind { LIST_TENANT, LIST_ORGS, LIST_USERS, LIST_ROLES, NUM_LISTS };

/* One pass over the ids: counting, or filling the allocation. */
struct pass {
    bool fill;
    bool trim; /* payload form: surrounding spaces removed, blank ids skipped */
    size_t count[NUM_LISTS];
    size_t bytes;
    struct audience *a;
    char *text; /* where the next string goes */
    const char *error;
};

static struct claim_str *slot_of(struct audience *a, enum list_kind kind)
{
    switch (kind) {
    case LIST_TENANT:
        return &a->tenant;
    case LIST_ORGS:
        return &a->orgs[a->num_orgs++];
    case LIST_USERS:
        return &a->users[a->num_users++];
    default:
        return &a->roles[a->num_roles++];
    }
}

/* add_id takes one id: the text of a JSON string, quotes included. The
 * counting pass makes room for every string, blank or not, so the filling
 * pass (which skips blanks, and keeps at most the limit) always fits. */
static void add_id(struct pass *pass, enum list_kind kind, const struct jsonv_member *m)
{
    size_t limit = kind == LIST_TENANT ? 1 : AUDIENCE_MAX_IDS;
    if (!pass->fill) {
        if (kind != LIST_TENANT && pass->count[kind] >= limit)
            pass->error = "an audience list has more than 1024 ids";
        pass->count[kind]++;
        pass->bytes += m->value_len; /* the decoded text is never longer, plus a NUL */
        return;
    }
    if (pass->count[kind] >= limit)
        return; /* a repeated tenant keeps the first */
    long len = jsonv_unescape(m->value + 1, m->value_len - 2, pass->text, m->value_len);
    if (len < 0)
        return; /* not reached: the text was validated */
    char *s = pass->text;
    if (pass->trim) {
        while (len > 0 && (*s == ' ' || *s == '\t' || *s == '\n' || *s == '\r')) {
            s++;
            len--;
        }
        while (len > 0 && (s[len - 1] == ' ' || s[len - 1] == '\t' || s[len - 1] == '\n' ||
                           s[len - 1] == '\r'))
            len--;
        if (len == 0)
            return; /* blank: not an id */
    }
    s[len] = '\0';
    pass->text += (s - pass->text) + len + 1;
    pass->count[kind]++;
    struct claim_str *slot = slot_of(pass->a, kind);
    *slot = (struct claim_str){s, (size_t)len, rc_hash(s, (size_t)len)};
}

struct list_walk {
    struct pass *pass;
    enum list_kind kind;
    bool strict; /* explicit form: a non-string element is an error */
};

static void take_element(void *ctx, const struct jsonv_member *m)
{
    struct list_walk *w = ctx;
    if (m->type == JSONV_STRING)
        add_id(w->pass, w->kind, m);
    else if (w->strict)
        w->pass->error = "audience lists hold strings";
}

static void take_list(struct pass *pass, enum list_kind kind, const struct jsonv_member *m,
                      bool strict)
{
    struct list_walk w = {pass, kind, strict};
    if (!jsonv_each_element(m->value, m->value_len, take_element, &w) && strict)
        pass->error = "\"orgs\", \"users\" and \"roles\" must be arrays of strings";
}

/* The explicit form: {"tenant":…,"orgs":[…],"users":[…],"roles":[…]}. */
static void take_explicit_member(void *ctx, const struct jsonv_member *m)
{
    struct pass *pass = ctx;
    static const char *const lists[] = {"orgs", "users", "roles"};
    if (jsonv_key_is(m, "tenant")) {
        if (m->type == JSONV_STRING)
            add_id(pass, LIST_TENANT, m);
        else if (m->type != JSONV_NULL)
            pass->error = "\"tenant\" must be a string";
        return;
    }
    for (int i = 0; i < 3; i++)
        if (jsonv_key_is(m, lists[i]) && m->type != JSONV_NULL)
            take_list(pass, (enum list_kind)(LIST_ORGS + i), m, true);
}

/* The payload form, as open-mercato events carry it. */
static void take_payload_member(void *ctx, const struct jsonv_member *m)
{
    struct pass *pass = ctx;
    static const struct {
        const char *one, *many;
        enum list_kind kind;
    } keys[] = {{"organizationId", "organizationIds", LIST_ORGS},
                {"recipientUserId", "recipientUserIds", LIST_USERS},
                {"recipientRoleId", "recipientRoleIds", LIST_ROLES}};
    if (jsonv_key_is(m, "tenantId")) {
        if (m->type == JSONV_STRING)
            add_id(pass, LIST_TENANT, m);
        return;
    }
    for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
        if (jsonv_key_is(m, keys[i].one) && m->type == JSONV_STRING)
            add_id(pass, keys[i].kind, m);
        else if (jsonv_key_is(m, keys[i].many) && m->type == JSONV_ARRAY)
            take_list(pass, keys[i].kind, m, false);
    }
}

static struct audience *read_audience(const uint8_t *json, size_t len, bool payload_form,
                                      const char **out_reason)
{
    jsonv_member_fn take = payload_form ? take_payload_member : take_explicit_member;
    struct pass count = {.trim = payload_form};
    bool is_object = jsonv_valid(json, len) && jsonv_each_member(json, len, take, &count);
    if (!payload_form && (!is_object || count.error)) {
        *out_reason = count.error ? count.error : "the audience must be a JSON object";
        return NULL;
    }
    size_t ids = count.count[LIST_TENANT] + count.count[LIST_ORGS] + count.count[LIST_USERS] +
                 count.count[LIST_ROLES];
    struct audience *a = rc_calloc(1, sizeof(*a) + ids * sizeof(struct claim_str) + count.bytes);
    if (!a) {
        *out_reason = "out of memory";
        return NULL;
    }
    struct claim_str *slots = (struct claim_str *)(a + 1);
    a->orgs = slots;
    a->users = a->orgs + count.count[LIST_ORGS];
    a->roles = a->users + count.count[LIST_USERS];
    struct pass fill = {.fill = true, .trim = payload_form, .a = a};
    fill.text = (char *)(a->roles + count.count[LIST_ROLES]);
    if (is_object)
        jsonv_each_member(json, len, take, &fill);
    return a;
}

struct audience *audience_parse(const uint8_t *json, size_t len, const char **out_reason)
{
    return read_audience(json, len, false, out_reason);
}

struct audience *audience_from_payload(const uint8_t *payload, size_t len)
{
    const char *reason;
    return read_audience(payload, len, true, &reason);
}

static bool same(const struct claim_str *a, const struct claim_str *b)
{
    return a->hash == b->hash && a->len == b->len && memcmp(a->s, b->s, a->len) == 0;
}

/* A blank id matches no one, on either side. */
bool audience_allows(const struct audience *a, const struct claims *claims)
{
    if (!claims || a->tenant.len == 0 || !same(&a->tenant, &claims->tenant))
        return false;
    if (a->num_orgs > 0) {
        bool found = false;
        for (size_t i = 0; i < a->num_orgs && !found; i++)
            found = a->orgs[i].len > 0 && claims_has_org(claims, &a->orgs[i]);
        if (!found)
            return false;
    }
    if (a->num_users > 0) {
        bool found = false;
        for (size_t i = 0; i < a->num_users && !found; i++)
            found = claims->sub.len > 0 && same(&a->users[i], &claims->sub);
        if (!found)
            return false;
    }
    if (a->num_roles > 0) {
        bool found = false;
        for (size_t i = 0; i < a->num_roles && !found; i++)
            found = a->roles[i].len > 0 && claims_has_role(claims, &a->roles[i]);
        if (!found)
            return false;
    }
    return true;
}

void audience_free(struct audience *a)
{
    rc_free(a);
}
