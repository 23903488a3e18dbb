/* pubsock.h: a publisher's TCP connection with its write and read buffers
 * (pubhttp.c, pubnats.c): non-blocking, every wait bounded. Requests are
 * queued in the write buffer and written by pubsock_flush, which takes in
 * replies while the socket is full, so that a server waiting for its
 * replies to be read cannot deadlock a pipeline. */
#ifndef BENCH_PUBSOCK_H
#define BENCH_PUBSOCK_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define PUBSOCK_TIMEOUT_MS 10000

struct pubsock {
    int fd;
    const char *peer; /* "HOST:PORT", for messages */
    uint8_t *wbuf;    /* [wpos, wlen) not yet written */
    size_t wpos, wlen, wcap;
    uint8_t *rbuf; /* [rpos, rlen) not yet parsed */
    size_t rpos, rlen, rcap;
    bool eof;
    char err[256];
};

/* pubsock_connect connects to |sa| (named |peer|) within the timeout,
 * with TCP_NODELAY. Returns 0, or -1 with the reason in |err|. */
int pubsock_connect(struct pubsock *s, const struct sockaddr_in *sa, const char *peer,
                    const char *who, char *err, size_t err_len);

/* pubsock_wait polls |fd| for |events| until |deadline_ns|; returns
 * revents, 0 on timeout, -1 on error. */
int pubsock_wait(int fd, short events, uint64_t deadline_ns);

/* pubsock_reserve makes room for |n| more bytes in the write buffer and
 * returns where they go (the caller adds what it wrote to s->wlen); NULL
 * when out of memory. */
uint8_t *pubsock_reserve(struct pubsock *s, size_t n);

/* pubsock_read_some moves what the socket has into the read buffer.
 * Returns 0, or -1 on an error; sets s->eof at the end of the stream. */
int pubsock_read_some(struct pubsock *s);

/* pubsock_flush writes what is queued. Returns 0 or -1. */
int pubsock_flush(struct pubsock *s);

/* pubsock_set_err records the last failure. */
void pubsock_set_err(struct pubsock *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* pubsock_close closes the socket and frees the buffers. */
void pubsock_close(struct pubsock *s);

#endif
