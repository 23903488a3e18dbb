/* httpcors.h: Cross-Origin Resource Sharing on the client port's HTTP
 * routes (--cors-origins; the Fetch standard's CORS protocol).
 *
 * A browser page on another origin may read a response only when it says
 * so: Access-Control-Allow-Origin naming the page's origin (and
 * Access-Control-Allow-Credentials: true for EventSource withCredentials
 * or fetch with credentials), or "*" without credentials. A request that
 * is not "simple" (fetch with an Authorization header, a JSON POST) is
 * asked first with a preflight OPTIONS, answered here for every route.
 *
 * The request's verdict is kept in the connection's state (struct
 * httpcors_peer, the first member of each kind's state that answers HTTP)
 * from when its head is read until its response is written, which for a
 * publish or fetch is after the home shard answered. */
#ifndef RC_HTTPCORS_H
#define RC_HTTPCORS_H

#include <stddef.h>
#include <stdint.h>

#include "core/conn.h"

struct shard;
struct http_request;
struct rc_config;

/* Verdicts. Zero is none, so that a connection's zeroed state (before its
 * first request is judged: a 413 for an oversized head) adds nothing. */
#define HTTPCORS_NONE 0   /* no CORS headers: no --cors-origins, or no request judged */
#define HTTPCORS_OTHER -1 /* an origin, or none, that is not listed (nor allowed by "*") */
#define HTTPCORS_ANY -2   /* allowed by "*": Access-Control-Allow-Origin: *, no credentials */
/* A listed origin: 1 + its index in --cors-origins. */
#define HTTPCORS_LISTED(index) ((int16_t)((index) + 1))

/* httpcors_peer: the verdict on the Origin of the request being answered:
 * HTTPCORS_LISTED(index in --cors-origins), or another HTTPCORS_*. */
struct httpcors_peer {
    int16_t origin;
};

/* httpcors_of returns |c|'s verdict, at the start of its kind's state
 * (http_state, sse_state; each asserts it with HTTPCORS_STATE_FIRST). */
static inline struct httpcors_peer *httpcors_of(struct conn *c)
{
    return (struct httpcors_peer *)c->kind_state;
}

#define HTTPCORS_STATE_FIRST(type, member)                                                         \
    _Static_assert(offsetof(type, member) == 0, #type " starts with its struct httpcors_peer")

/* httpcors_judge decides the verdict on |req|'s Origin header. */
int16_t httpcors_judge(const struct rc_config *cfg, const struct http_request *req);

/* httpcors_headers writes the header lines a response to a request with
 * verdict |origin| carries, into |out| (HTTPCORS_HEADERS_MAX bytes), and
 * returns |out| ("" when there are none). */
#define HTTPCORS_HEADERS_MAX 512
const char *httpcors_headers(char *out, const struct rc_config *cfg, int16_t origin);

/* httpcors_preflight answers an OPTIONS request to a route that takes
 * |methods| ("GET, HEAD"): 204 with Allow, and, for an allowed origin,
 * the methods, the headers (Authorization, Content-Type, Last-Event-ID)
 * and how long a browser may remember that. Returns whether the connection
 * stays open. */
bool httpcors_preflight(struct shard *sh, struct conn *c, const struct http_request *req,
                        const char *methods);

#endif
