/* recvbuf.c: the multishot receive probe (see recvbuf.h). */
#include "recvbuf.h"

#include "io/bufring.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* probe_on runs the probe on a ring and a socket pair, and tears the ring
 * down. */
static bool probe_on(struct io_uring *ring, int fds[2], char *why, size_t why_len)
{
    struct bufring b;
    int ret = bufring_setup(&b, ring, 0, 2, 64);

    if (ret != 0) {
        snprintf(why, why_len, "no provided-buffer rings (%s)", strerror(-ret));
        io_uring_queue_exit(ring);
        return false;
    }
    struct io_uring_sqe *sqe = io_uring_get_sqe(ring);
    io_uring_prep_recv_multishot(sqe, fds[0], NULL, 0, 0);
    sqe->flags |= IOSQE_BUFFER_SELECT;
    sqe->buf_group = 0;
    bool ok = false;
    struct io_uring_cqe *cqe;
    if (write(fds[1], "x", 1) == 1 && io_uring_submit_and_wait(ring, 1) >= 0 &&
        io_uring_peek_cqe(ring, &cqe) == 0) {
        ok = cqe->res == 1 && (cqe->flags & IORING_CQE_F_MORE) != 0 &&
             (cqe->flags & IORING_CQE_F_BUFFER) != 0;
        if (!ok)
            snprintf(why, why_len, "no multishot receive (%s)",
                     cqe->res < 0 ? strerror(-cqe->res) : "single shot");
        io_uring_cqe_seen(ring, cqe);
    } else {
        snprintf(why, why_len, "the probe receive did not complete");
    }
    io_uring_queue_exit(ring);
    bufring_unmap(&b);
    return ok;
}

bool recvbuf_probe_multishot(char *why, size_t why_len)
{
    struct io_uring ring;
    int fds[2];

    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) != 0) {
        snprintf(why, why_len, "socketpair: %s", strerror(errno));
        return false;
    }
    int ret = io_uring_queue_init(4, &ring, 0);
    bool ok = false;
    if (ret != 0)
        snprintf(why, why_len, "io_uring_queue_init: %s", strerror(-ret));
    else
        ok = probe_on(&ring, fds, why, why_len);
    close(fds[0]);
    close(fds[1]);
    return ok;
}
