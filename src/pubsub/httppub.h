/* httppub.h: reading a publish from an HTTP request (POST /v1/publish).
 *
 * Two forms:
 *
 *   JSON form (no "topic" in the query): the body is a JSON object
 *     {"topic":"…", "event_type":"…", "data":<any JSON>, "id":"…"}
 *   with Content-Type application/json (or any "+json" type). "topic" and
 *   "data" are required; "event_type" and "id" are optional strings (null
 *   counts as absent); other members are ignored. "topicId" may stand for
 *   "topic" (the body lambda-websocket-pubsub's publishToTopic sends:
 *   {"topicId":"…","data":…}), never beside it. The payload is "data"
 *   re-serialized compactly, declared JSON.
 *
 *   Raw form ("topic" in the query): ?topic=…&event_type=…&id=… and the body
 *   is the payload itself: declared JSON when the Content-Type is
 *   application/json (or "+json"), text otherwise. A query key other than
 *   topic, event_type, id and token (authentication, read by the caller)
 *   is an error; so is a repeated key.
 *
 * This module only extracts the fields; the topic, event type, id and
 * payload are judged afterwards by the same checks as the binary protocol. */
#ifndef RC_HTTPPUB_H
#define RC_HTTPPUB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "proto/http.h"

struct httppub_request {
    const char *topic;
    size_t topic_len;
    const char *event_type; /* empty when absent */
    size_t event_type_len;
    const char *msg_id; /* empty when absent */
    size_t msg_id_len;
    bool payload_is_json;
    bool payload_is_valid_json; /* made by this module (JSON form): no need to check again */
    const uint8_t *payload;
    size_t payload_len;
    const char *audience; /* JSON form: the "audience" object's text; empty when absent */
    size_t audience_len;
    /* Memory owned by the request (decoded query values, the re-serialized
     * data, the parsed body); freed by httppub_free. */
    void *owned[4];
};

/* The status, error code and message to answer when parsing fails. */
struct httppub_error {
    int status;       /* 400, 415 or 422 */
    const char *code; /* "bad_json", "bad_request", "unsupported_media_type" */
    char message[200];
};

/* httppub_parse reads the publish in |req| (its query and Content-Type)
 * and its complete |body|. Returns 0 and fills |out| (free it with
 * httppub_free), or -1 and fills |err|:
 *   415 unsupported_media_type: JSON form without a JSON Content-Type;
 *   400 bad_json: JSON form whose body is not valid JSON;
 *   422 bad_request: JSON form that is not an object, lacks "topic" or
 *       "data", or has a non-string topic, event_type or id; raw form with
 *       a bad query (unknown or repeated key, bad %-escape, empty topic);
 *   500 internal_error: out of memory.
 * Strings in |out| point into |body|, into the query, or into memory |out|
 * owns; they are not NUL-terminated. */
int httppub_parse(struct httppub_request *out, const struct http_request *req, const uint8_t *body,
                  size_t body_len, struct httppub_error *err);

/* httppub_parse_object reads the JSON form's object (no Content-Type to
 * judge) from |text|: the same fields, the same errors (400, 422). Also the
 * shape of ringcast-pub's NDJSON lines. Strings point into |text| or into
 * memory |out| owns. */
int httppub_parse_object(struct httppub_request *out, const uint8_t *text, size_t len,
                         struct httppub_error *err);

/* httppub_free releases what |r| owns (safe after a failed parse too). */
void httppub_free(struct httppub_request *r);

#endif
