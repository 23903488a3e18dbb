/* httpcors.c: CORS headers and preflight answers (see httpcors.h). */
#include "conn/httpcors.h"

#include <stdio.h>
#include <string.h>

#include "core/shard.h"
#include "proto/http.h"
#include "util/config.h"
#include "util/origin.h"

/* How long a browser may cache a preflight's answer, in seconds. Chromium
 * caps it at 7200. */
#define HTTPCORS_MAX_AGE 7200

/* The response headers a page may read besides the safelisted ones: when
 * to retry a 429 or 503. */
#define EXPOSE "Access-Control-Expose-Headers: Retry-After\r\n"

int16_t httpcors_judge(const struct rc_config *cfg, const struct http_request *req)
{
    const struct origin_list *allowed = &cfg->cors_origins;
    if (!origin_list_given(allowed))
        return HTTPCORS_NONE;
    /* A request without Origin (not a browser's from another page) is
     * answered as an unlisted origin would be: a cache that keeps its
     * answer then hands browsers the one that fits them (Vary: Origin, or
     * "*" for everybody). */
    const struct http_header *origin = http_find_header(req, "Origin");
    int listed =
        origin ? origin_list_find(allowed, origin->value, origin->value_len) : ORIGIN_UNLISTED;
    if (listed != ORIGIN_UNLISTED)
        return HTTPCORS_LISTED(listed);
    return allowed->any ? HTTPCORS_ANY : HTTPCORS_OTHER;
}

const char *httpcors_headers(char *out, const struct rc_config *cfg, int16_t origin)
{
    out[0] = '\0';
    if (origin == HTTPCORS_NONE)
        return out;
    /* The answer depends on Origin whenever names are listed: caches must
     * keep one per origin. */
    const char *vary = cfg->cors_origins.n > 0 ? "Vary: Origin\r\n" : "";
    if (origin == HTTPCORS_OTHER)
        snprintf(out, HTTPCORS_HEADERS_MAX, "%s", vary);
    else if (origin == HTTPCORS_ANY)
        snprintf(out, HTTPCORS_HEADERS_MAX, "Access-Control-Allow-Origin: *\r\n%s%s", EXPOSE, vary);
    else
        snprintf(out, HTTPCORS_HEADERS_MAX,
                 "Access-Control-Allow-Origin: %s\r\nAccess-Control-Allow-Credentials: true\r\n"
                 "%s%s",
                 cfg->cors_origins.origin[origin - 1], EXPOSE, vary);
    return out;
}

bool httpcors_preflight(struct shard *sh, struct conn *c, const struct http_request *req,
                        const char *methods)
{
    int16_t origin = httpcors_of(c)->origin;
    char cors[HTTPCORS_HEADERS_MAX];
    char allowed[256] = "";
    if (origin > 0 || origin == HTTPCORS_ANY)
        snprintf(allowed, sizeof(allowed),
                 "Access-Control-Allow-Methods: %s, OPTIONS\r\n"
                 "Access-Control-Allow-Headers: Authorization, Content-Type, Last-Event-ID\r\n"
                 "Access-Control-Max-Age: %d\r\n",
                 methods, HTTPCORS_MAX_AGE);
    char head[1024];
    /* 204 has no Content-Length (RFC 9110 section 8.6). */
    int len = snprintf(head, sizeof(head),
                       "HTTP/1.1 204 No Content\r\nServer: ringcast\r\nAllow: %s, OPTIONS\r\n"
                       "%s%s%s\r\n",
                       methods, httpcors_headers(cors, sh->cfg, origin), allowed,
                       req->keep_alive ? "" : "Connection: close\r\n");
    conn_send_copy(sh, c, head, (size_t)len);
    if (!req->keep_alive)
        conn_finish(sh, c);
    return req->keep_alive;
}
