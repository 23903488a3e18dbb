/* sockop.h: requests on connection sockets.
 *
 * A connection's socket is an io_uring direct descriptor: it is accepted
 * straight into the file table of its shard's ring and never becomes a
 * process file descriptor. So connections are bounded by each shard's
 * table (up to RLIMIT_NOFILE entries per ring) rather than by one
 * RLIMIT_NOFILE for the whole process, and no request pays for a file
 * lookup. Everything done to such a socket (receive, send, shutdown,
 * cancel, close) is a request on the ring; these are the ones that need no
 * completion handling. */
#ifndef RC_SOCKOP_H
#define RC_SOCKOP_H

#include <liburing.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

/* Table slots beyond a shard's share of --max-connections, for what holds
 * a slot besides the connections: accepts armed (each may fill one),
 * connections being refused (each until its close completes) and closes
 * not yet completed. An accept must be armed only while the table has a
 * slot for everything in flight: one that finds the table full has already
 * taken its connection off the listen backlog, and the kernel drops it (the
 * client sees a bare EOF or a reset; the completion says -ENFILE). */
#define SOCKOP_TABLE_SLACK 64

/* sockop_register_table gives |ring| an empty table of |slots| direct
 * descriptors. Returns 0 or -errno. */
int sockop_register_table(struct io_uring *ring, unsigned slots);

/* sockop_prep_accept accepts one connection on |listen_fd| into a free
 * table slot (the completion's result is the slot), writing the peer's
 * address into |addr| (|*addr_len| bytes of room, then the length).
 * One-shot: a multishot accept takes every connection waiting, however few
 * slots are free, and would write every address into one buffer. */
void sockop_prep_accept(struct io_uring_sqe *sqe, int listen_fd, struct sockaddr *addr,
                        socklen_t *addr_len);

/* sockop_target makes a request prepared with a slot as its fd use the
 * table. */
static inline void sockop_target(struct io_uring_sqe *sqe)
{
    sqe->flags |= IOSQE_FIXED_FILE;
}

/* A request names its socket by slot, and the kernel may look the slot up
 * only when the request runs: a shutdown always runs later, on a worker
 * thread. So a slot must not be closed (and reused by the next accept)
 * while any request naming it is in flight; the connection counts these
 * in its ops, and their completions carry |user_data|. */

/* sockop_shutdown shuts down |how| (SHUT_WR, SHUT_RDWR) of |slot|. */
void sockop_shutdown(struct io_uring *ring, int slot, int how, uint64_t user_data);

/* sockop_cancel cancels the request whose user_data is |target|: found
 * by hash, where a cancel by descriptor would scan every request of the
 * ring (with many connections, each closing one, that is quadratic). */
void sockop_cancel(struct io_uring *ring, uint64_t target, uint64_t user_data);

/* sockop_close closes |slot| and frees it for the next accept; its
 * completion (OP_CLOSE) says the slot is free. */
void sockop_close(struct io_uring *ring, int slot);

/* sockop_send_and_close sends |len| bytes (which must stay valid until the
 * ring has run the request: static or long-lived storage) and then closes
 * |slot|, whether or not the send worked. No shutdown and drain: a peer
 * whose input is still unread gets a reset, which may overtake the bytes. */
void sockop_send_and_close(struct io_uring *ring, int slot, const void *data, size_t len);

#endif
