/* subscribe.c: one subscription, checked (see subscribe.h). */
#include "core/subscribe.h"

#include "pubsub/auth.h"
#include "core/conn.h"
#include "util/hash.h"
#include "core/shard.h"
#include "pubsub/topic.h"

enum subscribe_status subscribe_topic(struct shard *sh, struct conn *c, const char *topic,
                                      size_t len, const char **out_message)
{
    enum topic_status status =
        topic_validate_pattern(topic, len, sh->cfg->max_topic_length, sh->cfg->max_segments);
    if (status != TOPIC_OK) {
        *out_message = topic_status_text(status);
        return SUBSCRIBE_BAD_TOPIC;
    }
    if (!auth_may_subscribe(c->claims, topic, len)) {
        *out_message = AUTH_FORBIDDEN_SUBSCRIBE;
        return SUBSCRIBE_FORBIDDEN;
    }
    switch (index_subscribe(&sh->index, &c->subs, topic, len, rc_hash(topic, len),
                            sh->cfg->max_topics_per_conn, sh->cfg->max_patterns_per_conn)) {
    case INDEX_LIMIT:
        *out_message = "this connection holds --max-topics-per-conn subscriptions";
        return SUBSCRIBE_TOO_MANY_TOPICS;
    case INDEX_PATTERN_LIMIT:
        *out_message = "this connection holds --max-patterns-per-conn patterns";
        return SUBSCRIBE_TOO_MANY_PATTERNS;
    case INDEX_NO_MEMORY:
        *out_message = "out of memory";
        return SUBSCRIBE_NO_MEMORY;
    default:
        return SUBSCRIBE_OK;
    }
}
