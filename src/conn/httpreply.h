/* httpreply.h: writing HTTP responses on the client port. */
#ifndef RC_HTTPREPLY_H
#define RC_HTTPREPLY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct shard;
struct conn;
struct limits_refusal;

/* httpreply_send queues a complete response with |body| (not sent for a
 * HEAD request: |head_only|). |extra_headers| are complete header lines
 * ("Allow: GET\r\n") or "". Without |keep_alive| the response says
 * "Connection: close" and the connection closes after it. The request's
 * CORS headers (httpcors.h) are added. */
void httpreply_send(struct shard *sh, struct conn *c, int status, const char *extra_headers,
                    const char *content_type, const void *body, size_t body_len, bool keep_alive,
                    bool head_only);

/* httpreply_head queues the head of that response only: its body (of
 * |body_len| bytes) is the caller's to queue, and to close after it when
 * not |keep_alive|. Returns false when the head did not fit: a 500 went
 * instead and the connection is closing (queue no body then). */
bool httpreply_head(struct shard *sh, struct conn *c, int status, const char *extra_headers,
                    const char *content_type, size_t body_len, bool keep_alive);

/* httpreply_error queues {"error":<code>,"message":<message>} with |status|;
 * the message is JSON-escaped. */
void httpreply_error(struct shard *sh, struct conn *c, int status, const char *code,
                     const char *message, const char *extra_headers, bool keep_alive);

/* httpreply_refusal answers a limit's refusal (core/limits.h): 503
 * unavailable for the server's limits, 429 rate_limited for the client's,
 * with Retry-After when it is known. */
void httpreply_refusal(struct shard *sh, struct conn *c, const struct limits_refusal *r,
                       bool keep_alive);

/* httpreply_retry_after writes a Retry-After header line for |retry_ms|
 * (whole seconds, rounded up), or "" for 0, into |out| (32 bytes). */
const char *httpreply_retry_after(char out[32], uint32_t retry_ms);

/* httpreply_topic_error does the same with a "topic" member naming the
 * topic at fault (bytes outside printable ASCII shown as '?'), and closes. */
void httpreply_topic_error(struct shard *sh, struct conn *c, int status, const char *code,
                           const char *topic, size_t topic_len, const char *message);

#endif
