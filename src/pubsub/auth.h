/* auth.h: who may connect, subscribe and publish (docs/auth.md).
 *
 * With --auth-secret-file every client presents a JWT (jwt.h): a WebSocket
 * or SSE subscriber as ?token=, an "Authorization: Bearer" header, or a
 * Sec-WebSocket-Protocol entry "bearer.<token>" (browsers cannot set
 * headers); a publisher in its HELLO or, over HTTP, like a subscriber. The
 * token's subscribe patterns bound what may be subscribed (a subscription
 * must be contained in one of them, topic_contains), its publish patterns
 * where it may publish (the topic must match one).
 *
 * Without a secret the server is open: no token is needed or checked. */
#ifndef RC_AUTH_H
#define RC_AUTH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "pubsub/claims.h"
#include "util/config.h"
#include "pubsub/jwt.h"

struct http_request;

#define AUTH_SUBPROTOCOL "ringcast"
#define AUTH_BEARER_PREFIX "bearer."

/* The process's keys, loaded before the shards start, read-only after. */
struct auth {
    bool enabled;
    struct jwt_keys keys;
    uint8_t *secrets[2];
};

/* auth_load reads the secret files named in |cfg| (their bytes, one
 * trailing newline removed; at least JWT_MIN_SECRET). Returns 0, or -1 with
 * a message in |err|. */
int auth_load(struct auth *a, const struct rc_config *cfg, char *err, size_t err_len);

/* auth_cleanup wipes and frees the secrets. */
void auth_cleanup(struct auth *a);

/* Where a request's token was found. */
struct auth_token {
    const char *token; /* NULL when the request carries none */
    size_t len;
    const char *subprotocol; /* the Sec-WebSocket-Protocol entry it came in, or NULL */
    size_t subprotocol_len;
    char query_value[JWT_MAX_TOKEN + 1]; /* ?token= decoded */
};

/* auth_find_token looks for a token in |req|: ?token=, then Authorization:
 * Bearer, then a Sec-WebSocket-Protocol entry "bearer.<token>". */
void auth_find_token(struct auth_token *out, const struct http_request *req);

/* auth_check verifies a token at the current time. Returns JWT_OK and the
 * claims, or a status with |*out_reason|. JWT_MISSING when |token| is NULL
 * (no token). */
enum jwt_status auth_check(const struct auth *a, const char *token, size_t len, struct claims **out,
                           const char **out_reason);

/* What a forbidden subscribe (or fetch) and publish are told. */
#define AUTH_FORBIDDEN_SUBSCRIBE                                                                   \
    "the token's subscribe claim does not contain this topic: it needs a token whose subscribe "   \
    "patterns cover it (ringcast-token --subscribe PATTERN)"
#define AUTH_FORBIDDEN_PUBLISH                                                                     \
    "the token's publish claim does not cover this topic: it needs a token whose publish "         \
    "patterns match it (ringcast-token --publish PATTERN)"

/* auth_may_subscribe reports whether |claims| allow the subscription
 * |name| (a topic or pattern); always true for NULL claims (open mode). */
bool auth_may_subscribe(const struct claims *claims, const char *name, size_t len);

/* auth_may_publish reports whether |claims| allow publishing to |topic|;
 * always true for NULL claims (open mode). */
bool auth_may_publish(const struct claims *claims, const char *topic, size_t len);

#define AUTH_EXP_HORIZON_S ((int64_t)10000 * 366 * 24 * 3600)

/* auth_expires_ms converts the claims' exp to the monotonic clock of
 * |now_ms| (0: no expiry). */
int64_t auth_expires_ms(const struct claims *claims, int64_t now_ms);

/* How a client of each kind gives its token: the fix that a "missing
 * token" message names (AUTH_SEND_* below). */
#define AUTH_SEND_WS                                                                               \
    "?token=<token> in the URL, or a Sec-WebSocket-Protocol entry bearer.<token> (or an "          \
    "Authorization: Bearer <token> header where the client can set one)"
#define AUTH_SEND_SSE                                                                              \
    "?token=<token> in the URL (EventSource cannot set headers), or an Authorization: Bearer "     \
    "<token> header"
#define AUTH_SEND_HTTP "an Authorization: Bearer <token> header, or ?token=<token> in the URL"
#define AUTH_SEND_HELLO "the HELLO's token field (ringcast-pub: --token-file FILE)"
#define AUTH_SEND_REFRESH "the refresh message's \"token\""

/* auth_check_text does auth_check and, when the token is refused, writes
 * what to tell the client to |message|: "<status>: <reason>" and what to do
 * about it; for a missing token, to send one as |how_to_send| (AUTH_SEND_*). */
enum jwt_status auth_check_text(const struct auth *a, const char *token, size_t len,
                                struct claims **out, const char *how_to_send, char *message,
                                size_t cap);

/* auth_subprotocol chooses the Sec-WebSocket-Protocol to answer: "ringcast"
 * when offered, else the bearer entry the token came in, else none (NULL). */
const char *auth_subprotocol(const struct http_request *req, const struct auth_token *t,
                             size_t *out_len);

#endif
