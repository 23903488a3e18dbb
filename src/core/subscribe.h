/* subscribe.h: subscribing a connection to one topic or pattern, the same
 * way for every protocol (WebSocket messages, SSE queries; later the
 * dialects' channels): the name's rules, the token's subscribe claim, the
 * per-connection limits. Each protocol words the refusal its own way. */
#ifndef RC_SUBSCRIBE_H
#define RC_SUBSCRIBE_H

#include <stddef.h>

struct conn;
struct shard;

enum subscribe_status {
    SUBSCRIBE_OK, /* subscribed, or already was */
    SUBSCRIBE_BAD_TOPIC,
    SUBSCRIBE_FORBIDDEN,
    SUBSCRIBE_TOO_MANY_TOPICS,
    SUBSCRIBE_TOO_MANY_PATTERNS,
    SUBSCRIBE_NO_MEMORY,
};

/* subscribe_topic subscribes |c| to |topic|; when it is refused,
 * |*out_message| explains why. */
enum subscribe_status subscribe_topic(struct shard *sh, struct conn *c, const char *topic,
                                      size_t len, const char **out_message);

#endif
