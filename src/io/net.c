/* net.c: listening sockets. */
#include "io/net.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <string.h>
#include <unistd.h>

int net_listen(const struct rc_endpoint *ep, int backlog)
{
    int fd = socket(ep->addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -errno;
    int one = 1;
    if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) != 0 ||
        setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) != 0 ||
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)) != 0 ||
        bind(fd, (const struct sockaddr *)&ep->addr, ep->addr_len) != 0 ||
        listen(fd, backlog) != 0) {
        int err = -errno;
        close(fd);
        return err;
    }
    return fd;
}

int net_is_loopback(const struct rc_endpoint *ep)
{
    if (ep->addr.ss_family == AF_INET) {
        const struct sockaddr_in *a4 = (const struct sockaddr_in *)&ep->addr;
        return (ntohl(a4->sin_addr.s_addr) >> 24) == 127;
    }
    const struct sockaddr_in6 *a6 = (const struct sockaddr_in6 *)&ep->addr;
    return IN6_IS_ADDR_LOOPBACK(&a6->sin6_addr);
}

size_t net_address_key(const struct sockaddr_storage *addr, socklen_t len,
                       uint8_t out[NET_ADDRESS_KEY_MAX])
{
    if (addr->ss_family == AF_INET && len >= sizeof(struct sockaddr_in)) {
        out[0] = 4;
        memcpy(out + 1, &((const struct sockaddr_in *)addr)->sin_addr, 4);
        return 5;
    }
    if (addr->ss_family != AF_INET6 || len < sizeof(struct sockaddr_in6))
        return 0;
    const struct in6_addr *a6 = &((const struct sockaddr_in6 *)addr)->sin6_addr;
    if (IN6_IS_ADDR_V4MAPPED(a6)) {
        out[0] = 4;
        memcpy(out + 1, a6->s6_addr + 12, 4);
        return 5;
    }
    out[0] = 6;
    memcpy(out + 1, a6->s6_addr, 8);
    return 9;
}
