/* pubreq.c: copying a publish request for the trip to its home shard. */
#include "pubreq.h"

#include <string.h>

#include "alloc.h"

struct pubreq *pubreq_copy(const struct pubreq *req)
{
    const struct msg_input *in = &req->in;
    size_t size =
        sizeof(*req) + in->topic_len + in->event_type_len + req->msg_id_len + in->payload_len;
    struct pubreq *copy = rc_malloc(size);
    if (!copy)
        return NULL;
    *copy = *req;
    char *p = (char *)copy->storage;
    copy->in.topic = memcpy(p, in->topic, in->topic_len);
    p += in->topic_len;
    copy->in.event_type = memcpy(p, in->event_type, in->event_type_len);
    p += in->event_type_len;
    copy->msg_id = memcpy(p, req->msg_id, req->msg_id_len);
    p += req->msg_id_len;
    copy->in.payload = memcpy(p, in->payload, in->payload_len);
    return copy;
}

void pubreq_free(struct pubreq *req)
{
    rc_free(req);
}
