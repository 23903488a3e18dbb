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

/* The longest key net_address_key writes. */
#define NET_ADDRESS_KEY_MAX 9

/* net_address_key writes into |out| what identifies the client at peer
 * address |addr| (|len| bytes) for per-address limits: the family and the
 * IPv4 address (an IPv4-mapped IPv6 address is its IPv4 address), or the
 * first 64 bits of an IPv6 address, since one subscriber commonly has a
 * whole /64. Returns the key's length, or 0 for any other address. */
size_t net_address_key(const struct sockaddr_storage *addr, socklen_t len,
                       uint8_t out[NET_ADDRESS_KEY_MAX]);

/* net_is_loopback reports whether |ep| is a loopback address. */
int net_is_loopback(const struct rc_endpoint *ep);

#endif
