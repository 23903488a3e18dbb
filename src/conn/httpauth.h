/* httpauth.h: authenticating an HTTP request (a WebSocket handshake, an SSE
 * stream, a publish or fetch), the one place that answers 401. */
#ifndef RC_HTTPAUTH_H
#define RC_HTTPAUTH_H

#include <stdbool.h>

struct auth_token;
struct claims;
struct conn;
struct http_request;
struct shard;

/* httpauth_request finds the request's token (into |*token|) and, when
 * tokens are required, checks it: returns true with the claims in |*out|
 * (NULL in open mode), or false after answering 401 and closing. The 401
 * for no token names |how_to_send| (an AUTH_SEND_* of pubsub/auth.h) as
 * the fix. */
bool httpauth_request(struct shard *sh, struct conn *c, const struct http_request *req,
                      const char *how_to_send, struct auth_token *token, struct claims **out);

/* httpauth_keep does the same for a connection that keeps its token for
 * its life (a WebSocket, an SSE stream), which then counts for the token's
 * sub: over --max-connections-per-sub it answers 429 (core/limits.h),
 * closes and returns false. */
bool httpauth_keep(struct shard *sh, struct conn *c, const struct http_request *req,
                   const char *how_to_send, struct auth_token *token, struct claims **out);

#endif
