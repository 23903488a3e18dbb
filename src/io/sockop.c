/* sockop.c: requests on connection sockets held as direct descriptors
 * (see sockop.h). */
#include "io/sockop.h"

#include <sys/socket.h>

#include "io/uring.h"

int sockop_register_table(struct io_uring *ring, unsigned slots)
{
    return io_uring_register_files_sparse(ring, slots);
}

void sockop_prep_accept(struct io_uring_sqe *sqe, int listen_fd, struct sockaddr *addr,
                        socklen_t *addr_len)
{
    /* liburing stores the index plus one: this asks for any free slot. */
    io_uring_prep_accept_direct(sqe, listen_fd, addr, addr_len, 0, IORING_FILE_INDEX_ALLOC - 1);
}

/* ignore marks a request whose completion says nothing the loop needs. */
static void ignore(struct io_uring_sqe *sqe)
{
    io_uring_sqe_set_data64(sqe, uring_pack(OP_IGNORE, 0, 0));
}

void sockop_shutdown(struct io_uring *ring, int slot, int how, uint64_t user_data)
{
    struct io_uring_sqe *sqe = uring_get_sqe(ring);
    io_uring_prep_shutdown(sqe, slot, how);
    sockop_target(sqe);
    io_uring_sqe_set_data64(sqe, user_data);
}

void sockop_cancel(struct io_uring *ring, uint64_t target, uint64_t user_data)
{
    struct io_uring_sqe *sqe = uring_get_sqe(ring);
    io_uring_prep_cancel64(sqe, target, 0);
    io_uring_sqe_set_data64(sqe, user_data);
}

void sockop_close(struct io_uring *ring, int slot)
{
    struct io_uring_sqe *sqe = uring_get_sqe(ring);
    io_uring_prep_close_direct(sqe, (unsigned)slot);
    io_uring_sqe_set_data64(sqe, uring_pack(OP_CLOSE, 0, (uint32_t)slot));
}

void sockop_send_and_close(struct io_uring *ring, int slot, const void *data, size_t len)
{
    /* Both requests go in one submission, or the link would be cut. */
    if (io_uring_sq_space_left(ring) < 2)
        io_uring_submit(ring);
    struct io_uring_sqe *sqe = uring_get_sqe(ring);
    io_uring_prep_send(sqe, slot, data, len, MSG_DONTWAIT | MSG_NOSIGNAL);
    sockop_target(sqe);
    /* A hard link runs the close even when the send fails. */
    sqe->flags |= IOSQE_IO_HARDLINK;
    ignore(sqe);
    sockop_close(ring, slot);
}
