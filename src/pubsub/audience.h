/* audience.h: who may receive an event (docs/auth.md "Audience").
 *
 * An audience names a tenant and, optionally, organizations, users and
 * roles. A connection receives the event only when its token matches: the
 * same tenant; if organizations are given, one of the token's; if users
 * are given, the token's sub among them; if roles are given, one of the
 * token's roles among them. A blank id matches no token. An audience
 * without a tenant reaches no one,
 * and neither does an audience reach a connection without a token. Events
 * without an audience go to every permitted subscriber.
 *
 * An audience is read once per message, on the shard that received the
 * publish, and travels with the message; the per-connection check compares
 * string hashes (and the strings only when the hashes are equal) and never
 * parses JSON. The shared frame stays shared: the check decides whether to
 * queue it, never what is queued. */
#ifndef RC_AUDIENCE_H
#define RC_AUDIENCE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "pubsub/claims.h"

#define AUDIENCE_MAX_IDS 1024 /* per list */

struct audience {
    struct claim_str tenant; /* len 0: no tenant, reaches no one */
    struct claim_str *orgs;
    size_t num_orgs;
    struct claim_str *users;
    size_t num_users;
    struct claim_str *roles;
    size_t num_roles;
};

/* audience_parse reads an explicit audience, the JSON object
 * {"tenant":"t1","orgs":[…],"users":[…],"roles":[…]} (all optional; other
 * members ignored). Returns NULL with |*out_reason| when it is not an
 * object of that shape, or memory runs out. */
struct audience *audience_parse(const uint8_t *json, size_t len, const char **out_reason);

/* audience_from_payload takes the audience from a JSON payload's top-level
 * tenantId, organizationId / organizationIds, recipientUserId /
 * recipientUserIds, recipientRoleId / recipientRoleIds (strings; blank ones
 * ignored), as an open-mercato backend publishes them. A payload that is not
 * an object, or has no tenantId, gives an audience that reaches no one.
 * NULL only when memory runs out. */
struct audience *audience_from_payload(const uint8_t *payload, size_t len);

/* audience_allows reports whether a connection with |claims| (NULL: none)
 * may receive an event for audience |a|. */
bool audience_allows(const struct audience *a, const struct claims *claims);

/* audience_free frees |a| (NULL is fine). */
void audience_free(struct audience *a);

#endif
