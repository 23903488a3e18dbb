/* httpapi.h: the HTTP requests that go to a topic's home shard:
 *
 *   POST /v1/publish           a publish (httppub.h has the two body forms);
 *                              200 {"topic":…,"seq":N} (and "duplicate":true),
 *                              or 411, 413, 415, 422, 503 with a JSON error
 *   GET /v1/messages/TOPIC/SEQ the full event of a message in history
 *                              (truncated ones in full), or 404 when it is
 *                              not (or no longer) held
 *   GET /v1/history/TOPIC      held messages after a seq (httphistory.h)
 *
 * When the home is this shard the answer goes out at once; otherwise the
 * request travels to the home and the connection waits for the answer. */
#ifndef RC_HTTPAPI_H
#define RC_HTTPAPI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct shard;
struct conn;
struct pubreq;
struct pubreq_ask;
struct http_request;

enum httpapi_result {
    HTTPAPI_SERVED,    /* answered */
    HTTPAPI_WAITING,   /* at the home shard: the answer comes later */
    HTTPAPI_NEED_BODY, /* not handled yet: the body is incomplete, or a ring is full */
    HTTPAPI_STOPPED,   /* answered with an error; the connection closes */
};

/* httpapi_publish handles POST /v1/publish; |body| has |avail| bytes. */
enum httpapi_result httpapi_publish(struct shard *sh, struct conn *c,
                                    const struct http_request *req, const uint8_t *body,
                                    size_t avail);

/* httpapi_fetch handles GET /v1/messages/TOPIC/SEQ. */
enum httpapi_result httpapi_fetch(struct shard *sh, struct conn *c, const struct http_request *req);

/* httpapi_authenticate_get checks that |req| is a GET (else 405 naming
 * |route|) and sets the connection's claims from its token. Returns false
 * after answering. */
bool httpapi_authenticate_get(struct shard *sh, struct conn *c, const struct http_request *req,
                              const char *route);

/* httpapi_may_read checks that the claims may subscribe to |topic| (else
 * 403, closing). Returns false after answering. */
bool httpapi_may_read(struct shard *sh, struct conn *c, const char *topic, size_t topic_len);

/* httpapi_ask sends |ask| to the topic's history and answers it (at once
 * when this shard is the home, else when the answer comes back). */
enum httpapi_result httpapi_ask(struct shard *sh, struct conn *c, const struct pubreq_ask *ask);

/* httpapi_answer sends the answer to a request that came back from its home. */
void httpapi_answer(struct shard *sh, struct conn *c, struct pubreq *req);

/* httpapi_body_state decides whether the request's body (|avail| bytes
 * of it here) can be handled now: -1 to go on, or the result to return
 * (411, 413, 503 answered; or HTTPAPI_NEED_BODY). */
int httpapi_body_state(struct shard *sh, struct conn *c, const struct http_request *req,
                       size_t avail);

/* httpapi_max_body returns the largest request body accepted. */
size_t httpapi_max_body(const struct shard *sh);

/* httpapi_error_code names an HTTP error status ("not_found"). */
const char *httpapi_error_code(int status);

#endif
