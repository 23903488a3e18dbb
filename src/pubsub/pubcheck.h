/* pubcheck.h: judging a publish, the same way for every protocol.
 *
 * Runs on the shard that received the publish, before it goes to the
 * topic's home: the topic, event type and message id rules, the size limits
 * (--max-publish-bytes; --max-payload with --truncate=reject), and the
 * payload (JSON when declared JSON, UTF-8 text otherwise). For a JSON
 * payload that will be truncated to a stub, it also takes the stub's
 * references (the payload's top-level "id", "entityId", "entityType", each
 * a string or a number, as written) once. JSON is checked by jsonv: no tree
 * is built on this path. */
#ifndef RC_PUBCHECK_H
#define RC_PUBCHECK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/config.h"

#define PUBCHECK_MAX_REF 256 /* longer reference values are left out of the stub */

struct publish_fields {
    const char *topic;
    size_t topic_len;
    const char *event_type;
    size_t event_type_len;
    const char *msg_id;
    size_t msg_id_len;
    bool payload_is_json;
    bool payload_is_valid_json; /* already known valid (made by the server) */
    const uint8_t *payload;
    size_t payload_len;
    const char *audience; /* an explicit audience (JSON object text), or empty */
    size_t audience_len;
    uint64_t exclude;     /* msg_input.exclude */
    uint64_t max_payload; /* msg_input.max_payload */
};

/* The stub references, as JSON texts (a string or a number, as written). */
struct pubcheck_refs {
    char text[3][PUBCHECK_MAX_REF + 1];
    size_t len[3];
};

struct audience;

/* pubcheck judges |f|. Returns 0 (with |refs| filled, lengths 0 when absent,
 * and |*out_audience| the event's audience: the explicit one, or with
 * --audience-from-payload the payload's, else NULL; the caller owns it) or
 * an RC_ERR_* code with |*out_message| explaining it. */
int pubcheck(const struct rc_config *cfg, const struct publish_fields *f,
             struct pubcheck_refs *refs, struct audience **out_audience, const char **out_message);

#endif
