/* uring.c: io_uring setup and feature probing. */
#include "io/uring.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

struct setup_choice {
    unsigned flags;
    bool single_issuer, defer_taskrun, coop_taskrun;
};

/* From the most efficient to the most portable. DEFER_TASKRUN runs
 * completion work only when this thread waits, so the loop is never
 * interrupted; it needs SINGLE_ISSUER. */
static const struct setup_choice choices[] = {
    {IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN, true, true, false},
    {IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_COOP_TASKRUN, true, false, true},
    {IORING_SETUP_COOP_TASKRUN, false, false, true},
    {0, false, false, false},
};

int uring_setup(struct io_uring *ring, unsigned entries, struct uring_features *out)
{
    memset(out, 0, sizeof(*out));
    int ret = -EINVAL;
    for (size_t i = 0; i < sizeof(choices) / sizeof(choices[0]); i++) {
        struct io_uring_params params;
        memset(&params, 0, sizeof(params));
        params.flags = choices[i].flags | IORING_SETUP_CQSIZE | IORING_SETUP_SUBMIT_ALL;
        params.cq_entries = entries * 4;
        ret = io_uring_queue_init_params(entries, ring, &params);
        if (ret == -EINVAL) {
            /* Older kernels also lack SUBMIT_ALL: try without it. */
            params.flags &= ~IORING_SETUP_SUBMIT_ALL;
            ret = io_uring_queue_init_params(entries, ring, &params);
        }
        if (ret == 0) {
            out->single_issuer = choices[i].single_issuer;
            out->defer_taskrun = choices[i].defer_taskrun;
            out->coop_taskrun = choices[i].coop_taskrun;
            out->ext_arg = (params.features & IORING_FEAT_EXT_ARG) != 0;
            break;
        }
        if (ret != -EINVAL)
            return ret;
    }
    if (ret != 0)
        return ret;
    struct io_uring_probe *probe = io_uring_get_probe_ring(ring);
    if (probe) {
        out->msg_ring = io_uring_opcode_supported(probe, IORING_OP_MSG_RING);
        out->send_zc = io_uring_opcode_supported(probe, IORING_OP_SEND_ZC);
        io_uring_free_probe(probe);
    }
    out->recv_multishot = true;
    return 0;
}

void uring_describe(const struct uring_features *f, char *out, size_t len)
{
    snprintf(out, len,
             "single_issuer=%s defer_taskrun=%s coop_taskrun=%s msg_ring=%s send_zc=%s "
             "ext_arg=%s",
             f->single_issuer ? "yes" : "no", f->defer_taskrun ? "yes" : "no",
             f->coop_taskrun ? "yes" : "no", f->msg_ring ? "yes" : "no (eventfd)",
             f->send_zc ? "yes" : "no", f->ext_arg ? "yes" : "no");
}

struct io_uring_sqe *uring_get_sqe(struct io_uring *ring)
{
    struct io_uring_sqe *sqe;
    while ((sqe = io_uring_get_sqe(ring)) == NULL)
        io_uring_submit(ring);
    return sqe;
}
