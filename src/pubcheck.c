/* pubcheck.c: the checks every publish passes (see pubcheck.h). */
#include "pubcheck.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "msg.h"
#include "ringcast/protocol.h"
#include "topic.h"
#include "utf8.h"

/* extract_refs copies the stub's reference members out of a parsed payload. */
static void extract_refs(json_t *payload, struct pubcheck_refs *refs)
{
    if (!json_is_object(payload))
        return;
    for (int i = 0; i < 3; i++) {
        json_t *value = json_object_get(payload, msg_ref_names[i]);
        if (!json_is_string(value) && !json_is_number(value))
            continue;
        char *text = json_dumps(value, JSON_ENCODE_ANY | JSON_COMPACT);
        size_t len = text ? strlen(text) : 0;
        if (len > 0 && len <= PUBCHECK_MAX_REF) {
            memcpy(refs->text[i], text, len + 1);
            refs->len[i] = len;
        }
        free(text);
    }
}

/* check_payload validates the payload and, for a stub, extracts its
 * references; returns 0 or RC_ERR_BAD_PAYLOAD. */
static int check_payload(const struct rc_config *cfg, const struct publish_fields *f,
                         struct pubcheck_refs *refs)
{
    if (!f->payload_is_json)
        return utf8_valid(f->payload, f->payload_len) ? 0 : RC_ERR_BAD_PAYLOAD;
    bool needs_refs = f->payload_len > cfg->max_payload && cfg->truncate_mode == TRUNCATE_STUB;
    if (f->payload_is_valid_json && !needs_refs)
        return 0;
    json_error_t err;
    json_t *value = json_loadb((const char *)f->payload, f->payload_len,
                               JSON_DECODE_ANY | JSON_ALLOW_NUL, &err);
    if (!value)
        return RC_ERR_BAD_PAYLOAD;
    if (needs_refs)
        extract_refs(value, refs);
    json_decref(value);
    return 0;
}

int pubcheck(const struct rc_config *cfg, const struct publish_fields *f,
             struct pubcheck_refs *refs, const char **out_message)
{
    memset(refs->len, 0, sizeof(refs->len));
    enum topic_status ts =
        topic_validate(f->topic, f->topic_len, cfg->max_topic_length, cfg->max_segments);
    if (ts != TOPIC_OK) {
        *out_message = topic_status_text(ts);
        return RC_ERR_BAD_TOPIC;
    }
    if (f->payload_len > cfg->max_publish_bytes) {
        *out_message = "payload larger than the server's --max-publish-bytes";
        return RC_ERR_TOO_LARGE;
    }
    if (f->payload_len > cfg->max_payload && cfg->truncate_mode == TRUNCATE_REJECT) {
        *out_message = "payload larger than the server's --max-payload (--truncate=reject)";
        return RC_ERR_TOO_LARGE;
    }
    if (f->event_type_len > 0 && !msg_event_type_valid(f->event_type, f->event_type_len)) {
        *out_message = "event type must be 1-255 characters from A-Z a-z 0-9 _-.:/";
        return RC_ERR_BAD_REQUEST;
    }
    if (!utf8_valid((const uint8_t *)f->msg_id, f->msg_id_len)) {
        *out_message = "message id must be UTF-8";
        return RC_ERR_BAD_REQUEST;
    }
    if (check_payload(cfg, f, refs) != 0) {
        *out_message = f->payload_is_json ? "payload is declared JSON but is not valid JSON"
                                          : "text payload must be UTF-8";
        return RC_ERR_BAD_PAYLOAD;
    }
    return 0;
}
