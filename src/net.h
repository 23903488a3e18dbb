/* net.h: sockets: listeners with SO_REUSEPORT, and accepted connections. */
#ifndef RC_NET_H
#define RC_NET_H

#include "config.h"

/* net_listen opens a non-blocking listening TCP socket on |ep| with
 * SO_REUSEADDR and SO_REUSEPORT, so that every shard has its own listener
 * on the same port and the kernel spreads connections among them.
 * Returns the descriptor or -errno. */
int net_listen(const struct rc_endpoint *ep, int backlog);

/* net_tune_accepted sets TCP_NODELAY on an accepted connection: events are
 * coalesced by the server already, Nagle would only add latency. */
void net_tune_accepted(int fd);

/* net_is_loopback reports whether |ep| is a loopback address. */
int net_is_loopback(const struct rc_endpoint *ep);

#endif
