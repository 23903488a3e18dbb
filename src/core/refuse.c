/* refuse.c: answering connections over --max-connections (see refuse.h). */
#include "core/refuse.h"

#include <errno.h>
#include <string.h>
#include <sys/socket.h>

#include "core/shard.h"
#include "io/uring.h"
#include "util/log.h"

enum refuse_stage {
    REFUSE_SEND,
    REFUSE_SHUTDOWN,
    REFUSE_DRAIN,
};

static uint64_t user_data_of(const struct refusals *rs, const struct refusal *r)
{
    return uring_pack(OP_REFUSE, r->gen, (uint32_t)(r - rs->slots));
}

/* on_deadline ends the refusal whose client did not close within the
 * linger: the request in flight is cancelled, and its completion closes. */
static void on_deadline(void *ctx, struct timer_node *node)
{
    struct shard *sh = ctx;
    struct refusal *r = (struct refusal *)((char *)node - offsetof(struct refusal, timer));
    r->expired = true;
    sockop_cancel(&sh->ring, user_data_of(&sh->refusals, r), uring_pack(OP_IGNORE, 0, 0));
}

void refuse_init(struct refusals *rs)
{
    rs->num_free = 0;
    for (uint32_t i = REFUSE_MAX; i > 0; i--) {
        struct refusal *r = &rs->slots[i - 1];
        r->fd = -1;
        timer_node_init(&r->timer, on_deadline);
        rs->free[rs->num_free++] = (uint16_t)(i - 1);
    }
}

static void send_rest(struct shard *sh, struct refusal *r)
{
    struct io_uring_sqe *sqe = uring_get_sqe(&sh->ring);
    io_uring_prep_send(sqe, r->fd, r->bytes + r->sent, r->len - r->sent, MSG_NOSIGNAL);
    sockop_target(sqe);
    io_uring_sqe_set_data64(sqe, user_data_of(&sh->refusals, r));
    r->stage = REFUSE_SEND;
}

static void shut_write(struct shard *sh, struct refusal *r)
{
    sockop_shutdown(&sh->ring, r->fd, SHUT_WR, user_data_of(&sh->refusals, r));
    r->stage = REFUSE_SHUTDOWN;
}

static void drain(struct shard *sh, struct refusal *r)
{
    struct io_uring_sqe *sqe = uring_get_sqe(&sh->ring);
    io_uring_prep_recv(sqe, r->fd, sh->refusals.discard, sizeof(sh->refusals.discard), 0);
    sockop_target(sqe);
    io_uring_sqe_set_data64(sqe, user_data_of(&sh->refusals, r));
    r->stage = REFUSE_DRAIN;
}

/* finish closes the socket (the shard counts the slot free when the close
 * completes) and frees the refusal. */
static void finish(struct shard *sh, struct refusal *r)
{
    timer_cancel(&sh->timers, &r->timer);
    sockop_close(&sh->ring, r->fd);
    r->fd = -1;
    sh->refusals.free[sh->refusals.num_free++] = (uint16_t)(r - sh->refusals.slots);
}

void refuse_start(struct shard *sh, int fd, const char *bytes, size_t len)
{
    struct refusals *rs = &sh->refusals;
    if (rs->num_free == 0) {
        /* Only when memory ran out below the limit: more refusals than
         * spare slots. Answer without waiting for the client. */
        sockop_send_and_close(&sh->ring, fd, bytes, len);
        return;
    }
    struct refusal *r = &rs->slots[rs->free[--rs->num_free]];
    rs->next_gen = (rs->next_gen + 1) & 0xffffff;
    r->gen = rs->next_gen;
    r->fd = fd;
    r->bytes = bytes;
    r->len = (uint32_t)len;
    r->sent = 0;
    r->expired = false;
    int64_t linger =
        sh->cfg->close_timeout_ms < REFUSE_LINGER_MS ? sh->cfg->close_timeout_ms : REFUSE_LINGER_MS;
    timer_arm(&sh->timers, &r->timer, sh->now_ms + linger);
    if (r->len > 0)
        send_rest(sh, r);
    else
        shut_write(sh, r);
}

void refuse_on_completion(struct shard *sh, uint32_t index, uint32_t gen, int res)
{
    if (index >= REFUSE_MAX)
        return;
    struct refusal *r = &sh->refusals.slots[index];
    if (r->fd < 0 || r->gen != gen)
        return;
    /* An error (the client reset, the deadline's cancel) or the end of
     * the linger: nothing more to say or wait for. */
    if (res < 0 || r->expired) {
        if (res < 0 && res != -ECANCELED)
            log_debug("refused connection: %s", strerror(-res));
        finish(sh, r);
        return;
    }
    switch (r->stage) {
    case REFUSE_SEND:
        r->sent += (uint32_t)res;
        if (res == 0) /* cannot happen for bytes left to send: do not spin */
            finish(sh, r);
        else if (r->sent < r->len)
            send_rest(sh, r);
        else
            shut_write(sh, r);
        break;
    case REFUSE_SHUTDOWN:
        drain(sh, r);
        break;
    case REFUSE_DRAIN:
        if (res == 0) /* the client's EOF: it has read its answer */
            finish(sh, r);
        else
            drain(sh, r);
        break;
    default:
        finish(sh, r);
        break;
    }
}
