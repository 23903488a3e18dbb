/* zerocopy.c: does zero-copy send pay on loopback? (probe.h). The peer
 * reads and discards; the measuring side sends --count frames of --size
 * bytes from one buffer with io_uring SEND, then the same with SEND_ZC
 * (asking the kernel to report whether it copied the data after all),
 * --depth requests in flight. */
#include <errno.h>
#include <liburing.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>

#include "probe.h"

/* From newer kernel headers than Debian's liburing 2.3 ships (Linux 6.2). */
#ifndef IORING_SEND_ZC_REPORT_USAGE
#define IORING_SEND_ZC_REPORT_USAGE (1U << 3)
#endif
#ifndef IORING_NOTIF_USAGE_ZC_COPIED
#define IORING_NOTIF_USAGE_ZC_COPIED (1U << 31)
#endif

struct result {
    double wall_s, cpu_us_per_send;
    unsigned long long sent_bytes, notifications, copied;
    int error;
};

static double seconds(struct timespec ts)
{
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double cpu_seconds(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
           (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

static void queue_send(struct io_uring *ring, int fd, const uint8_t *buf, unsigned size, bool zc)
{
    struct io_uring_sqe *sqe = io_uring_get_sqe(ring);
    if (zc)
        io_uring_prep_send_zc(sqe, fd, buf, size, MSG_NOSIGNAL, IORING_SEND_ZC_REPORT_USAGE);
    else
        io_uring_prep_send(sqe, fd, buf, size, MSG_NOSIGNAL);
}

/* Each SEND_ZC completes twice: the send (with IORING_CQE_F_MORE), then a
 * notification once the kernel no longer needs the buffer. */
static bool take_cqe(const struct io_uring_cqe *cqe, struct result *r, unsigned *outstanding)
{
    if (cqe->flags & IORING_CQE_F_NOTIF) {
        r->notifications++;
        if ((uint32_t)cqe->res & IORING_NOTIF_USAGE_ZC_COPIED)
            r->copied++;
        (*outstanding)--;
        return true;
    }
    if (cqe->res < 0) {
        r->error = -cqe->res;
        return false;
    }
    r->sent_bytes += (unsigned)cqe->res;
    if (!(cqe->flags & IORING_CQE_F_MORE))
        (*outstanding)--;
    return true;
}

static void discard(int fd)
{
    static char sink[1 << 16];
    while (recv(fd, sink, sizeof(sink), 0) > 0) {
    }
}

/* send_all sends --count frames over |fd| through |ring| into |r|. */
static void send_all(const struct probe_options *o, struct io_uring *ring, int fd,
                     const uint8_t *buf, bool zc, struct result *r)
{
    unsigned queued = 0, outstanding = 0;
    while ((queued < o->count || outstanding > 0) && r->error == 0) {
        while (queued < o->count && outstanding < o->depth) {
            queue_send(ring, fd, buf, o->size, zc);
            queued++;
            outstanding++;
        }
        struct io_uring_cqe *cqe;
        if (io_uring_submit_and_wait(ring, 1) < 0)
            break;
        unsigned head, seen = 0;
        io_uring_for_each_cqe(ring, head, cqe)
        {
            seen++;
            if (!take_cqe(cqe, r, &outstanding))
                break;
        }
        io_uring_cq_advance(ring, seen);
    }
}

static struct result run_mode(const struct probe_options *o, bool zc)
{
    struct result r = {0};
    int pid;
    struct io_uring ring;
    uint8_t *buf = calloc(1, o->size);
    int fd = buf ? peer_start(o->peer_cpu, discard, &pid) : -1;
    if (fd < 0 || io_uring_queue_init(o->depth * 2, &ring, 0) != 0) {
        r.error = errno ? errno : ENOMEM;
        if (fd >= 0)
            peer_stop(fd, pid);
        free(buf);
        return r;
    }
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    double cpu0 = cpu_seconds();
    send_all(o, &ring, fd, buf, zc, &r);
    r.cpu_us_per_send = (cpu_seconds() - cpu0) * 1e6 / o->count;
    clock_gettime(CLOCK_MONOTONIC, &t1);
    r.wall_s = seconds(t1) - seconds(t0);
    io_uring_queue_exit(&ring);
    peer_stop(fd, pid);
    free(buf);
    return r;
}

static void report(const struct probe_options *o, const char *mode, const struct result *r)
{
    printf("{\"probe\":\"zerocopy\",\"mode\":\"%s\",\"count\":%u,\"size\":%u,\"depth\":%u,"
           "\"error\":\"%s\","
           "\"wall_s\":%.3f,\"mib_per_s\":%.0f,\"sender_cpu_us_per_send\":%.2f,"
           "\"notifications\":%llu,\"copied\":%llu}\n",
           mode, o->count, o->size, o->depth, r->error ? strerror(r->error) : "", r->wall_s,
           (double)r->sent_bytes / (1 << 20) / (r->wall_s > 0 ? r->wall_s : 1), r->cpu_us_per_send,
           r->notifications, r->copied);
}

int probe_zerocopy(const struct probe_options *o)
{
    struct result plain = run_mode(o, false), zc = run_mode(o, true);
    report(o, "send", &plain);
    report(o, "send_zc", &zc);
    return plain.error || zc.error ? 1 : 0;
}
