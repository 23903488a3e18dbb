/* pubsock.c: a publisher's buffered TCP connection (see pubsock.h). */
#include "pubsock.h"

#include <errno.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "clock.h"

void pubsock_set_err(struct pubsock *s, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(s->err, sizeof(s->err), fmt, ap);
    va_end(ap);
}

int pubsock_wait(int fd, short events, uint64_t deadline_ns)
{
    for (;;) {
        uint64_t now = clock_now_ns();
        struct pollfd pfd = {.fd = fd, .events = events};
        struct timespec ts = clock_timespec(deadline_ns > now ? deadline_ns - now : 0);
        int r = ppoll(&pfd, 1, &ts, NULL);
        if (r > 0)
            return pfd.revents;
        if (r == 0)
            return 0;
        if (errno != EINTR)
            return -1;
    }
}

int pubsock_connect(struct pubsock *s, const struct sockaddr_in *sa, const char *peer,
                    const char *who, char *err, size_t err_len)
{
    int one = 1, soerr = 0;
    socklen_t len = sizeof(soerr);

    memset(s, 0, sizeof(*s));
    s->peer = peer;
    s->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (s->fd < 0) {
        snprintf(err, err_len, "%s: socket: %s", who, strerror(errno));
        return -1;
    }
    if (connect(s->fd, (const struct sockaddr *)sa, sizeof(*sa)) != 0) {
        if (errno != EINPROGRESS) {
            soerr = errno;
        } else {
            int r = pubsock_wait(s->fd, POLLOUT, clock_now_ns() + PUBSOCK_TIMEOUT_MS * NS_PER_MS);
            if (r <= 0)
                soerr = r == 0 ? ETIMEDOUT : errno;
            else if (getsockopt(s->fd, SOL_SOCKET, SO_ERROR, &soerr, &len) != 0)
                soerr = errno;
        }
    }
    if (soerr != 0) {
        snprintf(err, err_len, "%s: cannot connect to %s: %s", who, peer, strerror(soerr));
        close(s->fd);
        s->fd = -1;
        return -1;
    }
    setsockopt(s->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    return 0;
}

uint8_t *pubsock_reserve(struct pubsock *s, size_t n)
{
    if (s->wcap - s->wlen < n) {
        size_t cap = s->wcap ? s->wcap : 65536;
        while (cap - s->wlen < n)
            cap *= 2;
        uint8_t *p = realloc(s->wbuf, cap);
        if (p == NULL) {
            pubsock_set_err(s, "out of memory");
            return NULL;
        }
        s->wbuf = p;
        s->wcap = cap;
    }
    return s->wbuf + s->wlen;
}

int pubsock_read_some(struct pubsock *s)
{
    if (s->rpos > 0) {
        memmove(s->rbuf, s->rbuf + s->rpos, s->rlen - s->rpos);
        s->rlen -= s->rpos;
        s->rpos = 0;
    }
    if (s->rcap - s->rlen < 16384) {
        size_t cap = s->rcap ? s->rcap * 2 : 65536;
        uint8_t *p = realloc(s->rbuf, cap);
        if (p == NULL) {
            pubsock_set_err(s, "out of memory");
            return -1;
        }
        s->rbuf = p;
        s->rcap = cap;
    }
    ssize_t n = recv(s->fd, s->rbuf + s->rlen, s->rcap - s->rlen, MSG_DONTWAIT);
    if (n > 0)
        s->rlen += (size_t)n;
    else if (n == 0)
        s->eof = true;
    else if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
        pubsock_set_err(s, "reading from %s: %s", s->peer, strerror(errno));
        return -1;
    }
    return 0;
}

int pubsock_flush(struct pubsock *s)
{
    while (s->wpos < s->wlen) {
        ssize_t n = send(s->fd, s->wbuf + s->wpos, s->wlen - s->wpos, MSG_NOSIGNAL);
        if (n > 0) {
            s->wpos += (size_t)n;
            continue;
        }
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK) {
            pubsock_set_err(s, "writing to %s: %s", s->peer, strerror(errno));
            return -1;
        }
        /* The socket is full: take in replies meanwhile, so that a server
         * waiting for us to read cannot deadlock the pipeline. */
        int r =
            pubsock_wait(s->fd, POLLOUT | POLLIN, clock_now_ns() + PUBSOCK_TIMEOUT_MS * NS_PER_MS);
        if (r <= 0) {
            pubsock_set_err(s, "%s writing to %s", r == 0 ? "timed out" : strerror(errno), s->peer);
            return -1;
        }
        if ((r & (POLLIN | POLLHUP | POLLERR)) && pubsock_read_some(s) < 0)
            return -1;
    }
    s->wpos = s->wlen = 0;
    return 0;
}

void pubsock_close(struct pubsock *s)
{
    if (s->fd >= 0)
        close(s->fd);
    s->fd = -1;
    free(s->wbuf);
    free(s->rbuf);
    s->wbuf = s->rbuf = NULL;
}
