/* pubreq.c: copying a request for the trip to its home shard. */
#include "core/pubreq.h"

#include <string.h>

#include "util/alloc.h"
#include "pubsub/audience.h"
#include "core/conn.h"
#include "pubsub/pubcheck.h"
#include "ringcast/protocol.h"

/* take copies |len| bytes to |*p| and advances it; returns the copy. */
static const void *take(char **p, const void *src, size_t len)
{
    char *dst = *p;
    if (len > 0)
        memcpy(dst, src, len);
    *p += len;
    return dst;
}

struct pubreq *pubreq_copy(const struct pubreq *req)
{
    const struct msg_input *in = &req->in;
    size_t size =
        sizeof(*req) + in->topic_len + in->event_type_len + req->msg_id_len + in->payload_len;
    for (int i = 0; i < 3; i++)
        size += in->ref_json_len[i];
    struct pubreq *copy = rc_malloc(size);
    if (!copy)
        return NULL;
    *copy = *req;
    char *p = (char *)copy->storage;
    copy->in.topic = take(&p, in->topic, in->topic_len);
    copy->in.event_type = take(&p, in->event_type, in->event_type_len);
    copy->msg_id = take(&p, req->msg_id, req->msg_id_len);
    copy->in.payload = take(&p, in->payload, in->payload_len);
    for (int i = 0; i < 3; i++)
        copy->in.ref_json[i] = take(&p, in->ref_json[i], in->ref_json_len[i]);
    return copy;
}

void pubreq_init(struct pubreq *req, const struct conn *c, uint32_t corr, unsigned origin,
                 const struct publish_fields *fields, uint64_t topic_hash,
                 const struct pubcheck_refs *refs)
{
    memset(req, 0, sizeof(*req));
    req->conn_slot = c->slot;
    req->conn_gen = c->gen;
    req->corr = corr;
    req->origin = (uint16_t)origin;
    req->op = PUBREQ_PUBLISH;
    req->in.topic = fields->topic;
    req->in.topic_len = fields->topic_len;
    req->in.topic_hash = topic_hash;
    req->in.event_type = fields->event_type;
    req->in.event_type_len = fields->event_type_len;
    req->in.payload_is_json = fields->payload_is_json;
    req->in.payload = fields->payload;
    req->in.payload_len = fields->payload_len;
    req->in.exclude = fields->exclude;
    req->in.max_payload = fields->max_payload;
    for (int i = 0; i < 3; i++) {
        req->in.ref_json[i] = refs->text[i];
        req->in.ref_json_len[i] = refs->len[i];
    }
    req->msg_id = fields->msg_id;
    req->msg_id_len = fields->msg_id_len;
}

void pubreq_init_ask(struct pubreq *req, const struct conn *c, unsigned origin,
                     const struct pubreq_ask *ask)
{
    memset(req, 0, sizeof(*req));
    req->conn_slot = c->slot;
    req->conn_gen = c->gen;
    req->origin = (uint16_t)origin;
    req->op = (uint8_t)ask->op;
    req->seq = ask->seq;
    req->limit = ask->limit;
    req->since_epoch = ask->since_epoch;
    req->corr = ask->corr;
    req->in.topic = ask->topic;
    req->in.topic_len = ask->topic_len;
    req->in.topic_hash = ask->topic_hash;
}

struct pubreq *pubreq_new_ask(const struct conn *c, unsigned origin, const struct pubreq_ask *ask)
{
    struct pubreq *req = rc_malloc(sizeof(*req) + ask->topic_len);
    if (!req)
        return NULL;
    pubreq_init_ask(req, c, origin, ask);
    req->in.topic = memcpy(req->storage, ask->topic, ask->topic_len);
    return req;
}

void pubreq_release_results(struct pubreq *req)
{
    if (req->fetched)
        msg_release(req->fetched);
    req->fetched = NULL;
    home_replay_release(&req->replay);
}

const char *pubreq_error_text(int error)
{
    switch (error) {
    case RC_ERR_OVERLOADED:
        return "the server holds --max-topics topics";
    case RC_ERR_SHUTTING_DOWN:
        return "the server is shutting down";
    default:
        return "internal error";
    }
}

void pubreq_free(struct pubreq *req)
{
    pubreq_release_results(req);
    audience_free(req->audience); /* not given to a message: the publish failed */
    rc_free(req);
}
