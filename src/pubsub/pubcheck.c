/* pubcheck.c: the checks every publish passes (see pubcheck.h). */
#include "pubsub/pubcheck.h"

#include <string.h>

#include "pubsub/audience.h"
#include "util/jsonv.h"
#include "pubsub/msg.h"
#include "ringcast/protocol.h"
#include "pubsub/topic.h"
#include "util/utf8.h"

/* note_ref keeps a stub reference member: a string or a number, as it was
 * written in the payload. */
static void note_ref(void *ctx, const struct jsonv_member *m)
{
    struct pubcheck_refs *refs = ctx;
    if ((m->type != JSONV_STRING && m->type != JSONV_NUMBER) || m->value_len > PUBCHECK_MAX_REF)
        return;
    for (int i = 0; i < 3; i++) {
        if (jsonv_key_is(m, msg_ref_names[i])) {
            memcpy(refs->text[i], m->value, m->value_len); /* the last one given wins */
            refs->text[i][m->value_len] = '\0';
            refs->len[i] = m->value_len;
        }
    }
}

/* max_payload is the event's --max-payload: its own (a Pusher app's), or
 * the server's. */
static uint64_t max_payload(const struct rc_config *cfg, const struct publish_fields *f)
{
    return f->max_payload ? f->max_payload : cfg->max_payload;
}

/* check_payload validates the payload and, for a stub, takes its
 * references; returns 0 or RC_ERR_BAD_PAYLOAD. */
static int check_payload(const struct rc_config *cfg, const struct publish_fields *f,
                         struct pubcheck_refs *refs)
{
    if (!f->payload_is_json)
        return utf8_valid(f->payload, f->payload_len) ? 0 : RC_ERR_BAD_PAYLOAD;
    if (!f->payload_is_valid_json && !jsonv_valid(f->payload, f->payload_len))
        return RC_ERR_BAD_PAYLOAD;
    if (f->payload_len > max_payload(cfg, f) && cfg->truncate_mode == TRUNCATE_STUB)
        jsonv_each_member(f->payload, f->payload_len, note_ref, refs);
    return 0;
}

/* read_audience gives the event's audience; returns 0 or RC_ERR_BAD_REQUEST. */
static int read_audience(const struct rc_config *cfg, const struct publish_fields *f,
                         struct audience **out, const char **out_message)
{
    *out = NULL;
    if (f->audience_len > 0) {
        *out = audience_parse((const uint8_t *)f->audience, f->audience_len, out_message);
        return *out ? 0 : RC_ERR_BAD_REQUEST;
    }
    /* Every payload gets an audience: a text payload (delivered as a JSON
     * string, so it has no top-level tenantId whatever it reads like) and
     * an object without tenantId reach no one; nothing slips past. */
    if (cfg->audience_from_payload) {
        *out = f->payload_is_json ? audience_from_payload(f->payload, f->payload_len)
                                  : audience_from_payload((const uint8_t *)"", 0);
        if (!*out) {
            *out_message = "out of memory";
            return RC_ERR_INTERNAL;
        }
    }
    return 0;
}

int pubcheck(const struct rc_config *cfg, const struct publish_fields *f,
             struct pubcheck_refs *refs, struct audience **out_audience, const char **out_message)
{
    *out_audience = NULL;
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
    if (f->payload_len > max_payload(cfg, f) && cfg->truncate_mode == TRUNCATE_REJECT) {
        *out_message = "payload larger than --max-payload (or the Pusher app's max_payload) "
                       "with --truncate=reject";
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
    return read_audience(cfg, f, out_audience, out_message);
}
