/* net.h: listening sockets with SO_REUSEPORT. */
#ifndef RC_NET_H
#define RC_NET_H

#include "util/config.h"

/* net_listen opens a non-blocking listening TCP socket on |ep| with
 * SO_REUSEADDR and SO_REUSEPORT, so that every shard has its own listener
 * on the same port and the kernel spreads connections among them. It also
 * sets TCP_NODELAY, which accepted connections inherit (they are direct
 * descriptors, which setsockopt cannot reach): events are coalesced by the
 * server already, Nagle would only add latency. Returns the descriptor or -errno. */
int net_listen(const struct rc_endpoint *ep, int backlog);

/* net_is_loopback reports whether |ep| is a loopback address. */
int net_is_loopback(const struct rc_endpoint *ep);

#endif
