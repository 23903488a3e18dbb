/* pushersig.h: Pusher's signatures, checked in constant time.
 *
 * Channel authorization (private- and presence- subscriptions): the client
 * sends "<key>:<hex HMAC-SHA256 of socket_id:channel[:channel_data]>",
 * signed by the app's backend with the app's secret.
 *
 * HTTP API requests: the query carries auth_key, auth_timestamp (within
 * PUSHERSIG_MAX_SKEW seconds), auth_version=1.0, body_md5 (hex MD5 of a
 * non-empty body) and auth_signature, the hex HMAC-SHA256 of
 * "METHOD\nPATH\n<the other parameters, keys lowercased, sorted by key,
 * key=value joined with &>". */
#ifndef RC_PUSHERSIG_H
#define RC_PUSHERSIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "pubsub/pusherapps.h"

#define PUSHERSIG_MAX_SKEW 600
#define PUSHERSIG_HEX_LEN 64
#define PUSHERSIG_MAX_PARAMS 32
#define PUSHERSIG_MAX_KEY 63 /* longest parameter name */

/* pushersig_hex_hmac writes the lowercase hex HMAC-SHA256 of |data| with
 * |app|'s secret, and a NUL. */
void pushersig_hex_hmac(char out[PUSHERSIG_HEX_LEN + 1], const struct pusher_app *app,
                        const void *data, size_t len);

/* pushersig_channel_ok reports whether |auth| authorizes |socket_id| for
 * |channel| (with |channel_data| for presence-, else NULL). */
bool pushersig_channel_ok(const struct pusher_app *app, const char *socket_id, const char *channel,
                          size_t channel_len, const char *channel_data, size_t channel_data_len,
                          const char *auth, size_t auth_len);

/* One parameter of a query, decoded (key lowercased). */
struct pushersig_param {
    char *key;
    char *value;
};

/* A decoded query: at most PUSHERSIG_MAX_PARAMS parameters. */
struct pushersig_query {
    struct pushersig_param params[PUSHERSIG_MAX_PARAMS];
    size_t num_params;
    char *storage;
};

/* pushersig_query_parse decodes |query| (the part after '?', may be
 * empty). Returns 0 (free with pushersig_query_free) or -1 (bad escape,
 * too many parameters, memory). */
int pushersig_query_parse(struct pushersig_query *out, const char *query, size_t len);

void pushersig_query_free(struct pushersig_query *q);

/* pushersig_query_get returns parameter |key|'s value, or NULL. */
const char *pushersig_query_get(const struct pushersig_query *q, const char *key);

/* What a request says about who signed it. */
struct pushersig_request {
    const char *method; /* "GET", "POST" */
    const char *path;
    size_t path_len;
    const struct pushersig_query *query;
    const uint8_t *body;
    size_t body_len;
    int64_t now_s; /* the wall clock */
};

/* pushersig_check verifies |r| against |app|: 0, or the HTTP status to
 * answer (400 malformed, 401 bad key, signature or timestamp) with
 * |*out_message| saying why. */
int pushersig_check(const struct pusher_app *app, const struct pushersig_request *r,
                    const char **out_message);

#endif
