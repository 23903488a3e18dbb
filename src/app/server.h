/* server.h: the process: configuration, the shards and what they share,
 * signals. */
#ifndef RC_SERVER_H
#define RC_SERVER_H

#include "pubsub/auth.h"
#include "io/tls.h"
#include "pubsub/pusherapps.h"
#include "util/config.h"
#include "core/shardset.h"

struct server {
    struct rc_config cfg;
    struct auth auth;               /* keys, read-only after start */
    struct pusher_apps pusher_apps; /* --pusher-apps, read-only after start */
    struct shard_set set;
    struct tls_server tls; /* with TLS listeners: the context every shard's sessions use */
};

/* server_run starts the shards, waits for SIGTERM or SIGINT (reloading
 * the TLS certificates on SIGHUP meanwhile), shuts down gracefully and
 * returns the process exit status. */
int server_run(const struct rc_config *cfg);

#endif
