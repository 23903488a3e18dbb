/* httpstate.h: an HTTP connection's own state between requests (its part
 * of struct conn's kind_state), shared by the router (httpconn.c) and the
 * requests that go to a home shard (httpapi.c). */
#ifndef RC_HTTPSTATE_H
#define RC_HTTPSTATE_H

#include <stdbool.h>

#include "conn/httpcors.h"
#include "core/conn.h"
#include "util/tokenbucket.h"

struct pusherapi_job;

struct http_state {
    struct httpcors_peer cors;        /* of the request being answered (first: httpcors.h) */
    bool keep_alive;                  /* of the request being answered */
    bool continue_sent;               /* "100 Continue" went out for the request being read */
    struct tokenbucket publishes;     /* --publish-rate-per-conn (zeroed: full) */
    struct pusherapi_job *pusher_job; /* a Pusher API request's publishes (pusherapi.c) */
};
CONN_KIND_STATE_FITS(struct http_state);
HTTPCORS_STATE_FIRST(struct http_state, cors);

static inline struct http_state *http_state_of(struct conn *c)
{
    return (struct http_state *)c->kind_state;
}

#endif
