/* httpreply.h: writing HTTP responses on the client port. */
#ifndef RC_HTTPREPLY_H
#define RC_HTTPREPLY_H

#include <stdbool.h>
#include <stddef.h>

struct shard;
struct conn;

/* httpreply_send queues a complete response with |body| (not sent for a
 * HEAD request: |head_only|). |extra_headers| are complete header lines
 * ("Allow: GET\r\n") or "". Without |keep_alive| the response says
 * "Connection: close" and the connection closes after it. */
void httpreply_send(struct shard *sh, struct conn *c, int status, const char *extra_headers,
                    const char *content_type, const void *body, size_t body_len, bool keep_alive,
                    bool head_only);

/* httpreply_error queues {"error":<code>,"message":<message>} with |status|;
 * the message is JSON-escaped. */
void httpreply_error(struct shard *sh, struct conn *c, int status, const char *code,
                     const char *message, const char *extra_headers, bool keep_alive);

/* httpreply_topic_error does the same with a "topic" member naming the
 * topic at fault (bytes outside printable ASCII shown as '?'), and closes. */
void httpreply_topic_error(struct shard *sh, struct conn *c, int status, const char *code,
                           const char *topic, size_t topic_len, const char *message);

#endif
