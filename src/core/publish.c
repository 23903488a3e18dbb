/* publish.c: the publish and fetch entry point for every connection kind
 * (see publish.h). */
#include "core/publish.h"

#include "util/alloc.h"
#include "pubsub/audience.h"
#include "pubsub/auth.h"
#include "core/conn.h"
#include "core/limits.h"
#include "util/hash.h"
#include "util/log.h"
#include "pubsub/pubcheck.h"
#include "core/pubreq.h"
#include "ringcast/protocol.h"
#include "core/route.h"
#include "core/shard.h"
#include "pubsub/topic.h"

/* wait_for_room puts |c| on the blocked list: it is resumed (its ops'
 * resume) once the ring that was full has room. */
static void wait_for_room(struct shard *sh, struct conn *c)
{
    c->flags |= CONN_BLOCKED;
    /* Log at the 1st, 2nd, 4th, 8th, ... stall: visible, never a flood. */
    uint64_t stalls = counter_read(&sh->stats.ring_full);
    if ((stalls & (stalls - 1)) == 0)
        log_debug("connection %u paused: a ring to another shard is full (%llu stalls so far)",
                  c->slot, (unsigned long long)stalls);
    c->next_work = sh->blocked;
    sh->blocked = c;
}

static enum publish_outcome refuse(struct publish_result *out, int error, const char *message)
{
    out->error = error;
    out->message = message;
    return PUBLISH_ANSWERED;
}

/* submit sends |req| (on the stack; its audience is taken over in every
 * case) to the topic's |home|: sequenced at once when this shard is the
 * home, else copied onto the home's request ring. */
static enum publish_outcome submit(struct shard *sh, unsigned home, struct pubreq *req,
                                   struct publish_result *out)
{
    if (home == sh->id) {
        out->error = route_publish_at_home(sh, req, &out->seq, &out->ack_flags);
        out->message = out->error ? pubreq_error_text(out->error) : NULL;
        audience_free(req->audience); /* still here when the publish failed */
        return PUBLISH_ANSWERED;
    }
    struct pubreq *copy = pubreq_copy(req); /* the copy owns the audience now */
    if (!copy) {
        audience_free(req->audience);
        return refuse(out, RC_ERR_INTERNAL, "out of memory");
    }
    route_send_request(sh, home, copy);
    return PUBLISH_SENT;
}

/* refuse_unpermitted answers a publish outside the token's publish claim:
 * bad_topic when the topic is not one at all (no token could allow it),
 * else forbidden. */
static enum publish_outcome refuse_unpermitted(struct shard *sh, const struct publish_fields *f,
                                               struct publish_result *out)
{
    enum topic_status ts =
        topic_validate(f->topic, f->topic_len, sh->cfg->max_topic_length, sh->cfg->max_segments);
    if (ts != TOPIC_OK)
        return refuse(out, RC_ERR_BAD_TOPIC, topic_status_text(ts));
    return refuse(out, RC_ERR_FORBIDDEN, AUTH_FORBIDDEN_PUBLISH);
}

enum publish_outcome publish_submit(struct shard *sh, struct conn *c, struct tokenbucket *bucket,
                                    uint32_t corr, const struct publish_fields *fields,
                                    struct publish_result *out)
{
    *out = (struct publish_result){0};
    if (!auth_may_publish(c->claims, fields->topic, fields->topic_len))
        return refuse_unpermitted(sh, fields, out);
    /* Room first: a publish that must wait is not judged twice. */
    uint64_t hash = rc_hash(fields->topic, fields->topic_len);
    unsigned home = route_home_of(sh, hash);
    if (!route_has_room(sh, home)) {
        wait_for_room(sh, c);
        return PUBLISH_BLOCKED;
    }
    /* Then the rates, before any work on the fields. */
    struct limits_refusal limited;
    if (!limits_take_publish(sh, c, bucket, &limited)) {
        out->retry_ms = limited.retry_ms;
        return refuse(out, limited.server ? RC_ERR_OVERLOADED : RC_ERR_RATE_LIMITED,
                      limited.message);
    }
    struct pubcheck_refs refs;
    struct audience *audience = NULL;
    const char *message = NULL;
    int error = pubcheck(sh->cfg, fields, &refs, &audience, &message);
    if (error)
        return refuse(out, error, message);
    struct pubreq req;
    pubreq_init(&req, c, corr, sh->id, fields, hash, &refs);
    req.audience = audience;
    return submit(sh, home, &req, out);
}

enum publish_outcome publish_ask(struct shard *sh, struct conn *c, const struct pubreq_ask *ask,
                                 struct pubreq *local, bool *out_failed)
{
    *out_failed = false;
    pubreq_init_ask(local, c, sh->id, ask);
    unsigned home = route_home_of(sh, ask->topic_hash);
    if (home == sh->id) {
        route_ask_at_home(sh, local);
        *out_failed = local->history_failed;
        return PUBLISH_ANSWERED;
    }
    if (!route_has_room(sh, home)) {
        wait_for_room(sh, c);
        return PUBLISH_BLOCKED;
    }
    struct pubreq *req = pubreq_new_ask(c, sh->id, ask);
    if (!req) {
        *out_failed = true;
        return PUBLISH_ANSWERED;
    }
    route_send_request(sh, home, req);
    return PUBLISH_SENT;
}
