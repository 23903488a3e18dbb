/* uring.h: io_uring setup with feature probing, and the tags on requests.
 *
 * Debian's liburing is 2.3 while kernels are often much newer, so features
 * are found out at run time: setup flags by trying them from the best
 * combination down, opcodes through the probe interface, and multishot
 * receive by its first completion (see conn.c). */
#ifndef RC_URING_H
#define RC_URING_H

#include <liburing.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct uring_features {
    bool single_issuer;  /* IORING_SETUP_SINGLE_ISSUER */
    bool defer_taskrun;  /* IORING_SETUP_DEFER_TASKRUN */
    bool coop_taskrun;   /* IORING_SETUP_COOP_TASKRUN */
    bool msg_ring;       /* IORING_OP_MSG_RING: wake other shards without a syscall each */
    bool send_zc;        /* IORING_OP_SEND_ZC */
    bool ext_arg;        /* timeouts in io_uring_enter itself */
    bool recv_multishot; /* assumed until the kernel says EINVAL */
};

/* uring_setup creates |ring| with |entries| submission slots (and four
 * times as many completion slots), using the best setup flags the kernel
 * accepts. Must run on the thread that will submit. Returns 0 or -errno. */
int uring_setup(struct io_uring *ring, unsigned entries, struct uring_features *out);

/* uring_describe writes the features in use as one line for the log. */
void uring_describe(const struct uring_features *f, char *out, size_t len);

/* uring_get_sqe returns a submission slot, submitting queued ones first if
 * the queue is full. Never returns NULL. */
struct io_uring_sqe *uring_get_sqe(struct io_uring *ring);

/* Every request carries what it is for in its user_data:
 *   bits 56..63 operation, 32..55 connection generation, 0..31 slot. */
enum uring_op {
    OP_NONE = 0,
    OP_ACCEPT, /* slot: the listener's index */
    OP_RECV,
    OP_SEND,
    OP_WAKE,     /* MSG_RING from another shard */
    OP_DOORBELL, /* eventfd read: wake-ups without MSG_RING, and from main */
    OP_IGNORE,   /* cancel requests and the like */
    OP_SOCKOP,   /* shutdown or cancel on a connection's socket: counted in its ops */
    OP_CLOSE,    /* a socket's slot is free again (sockop_close) */
    OP_REFUSE,   /* a step of a refusal (core/refuse.h): slot is its index */
};

static inline uint64_t uring_pack(enum uring_op op, uint32_t gen, uint32_t slot)
{
    return (uint64_t)op << 56 | (uint64_t)(gen & 0xffffff) << 32 | slot;
}

static inline enum uring_op uring_op_of(uint64_t user_data)
{
    return (enum uring_op)(user_data >> 56);
}

static inline uint32_t uring_gen_of(uint64_t user_data)
{
    return (uint32_t)(user_data >> 32) & 0xffffff;
}

static inline uint32_t uring_slot_of(uint64_t user_data)
{
    return (uint32_t)user_data;
}

#endif
