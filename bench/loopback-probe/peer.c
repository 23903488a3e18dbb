/* peer.c: the other end of a probe's connection, in a pinned child. */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sched.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "probe.h"

int probe_pin(int cpu)
{
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
    return sched_setaffinity(0, sizeof(set), &set);
}

static void no_delay(int fd)
{
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
}

/* run_peer is the child's whole life. */
static void run_peer(int listener, int cpu, peer_serve_fn serve)
{
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (probe_pin(cpu) != 0)
        _exit(1);
    int fd = accept(listener, NULL, NULL);
    if (fd < 0)
        _exit(1);
    no_delay(fd);
    serve(fd);
    _exit(0);
}

int peer_start(int peer_cpu, peer_serve_fn serve, int *out_pid)
{
    int listener = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof(addr);
    if (listener < 0 || bind(listener, (struct sockaddr *)&addr, sizeof(addr)) != 0 ||
        listen(listener, 1) != 0 || getsockname(listener, (struct sockaddr *)&addr, &len) != 0)
        return -1;
    pid_t child = fork();
    if (child == 0)
        run_peer(listener, peer_cpu, serve);
    close(listener);
    if (child < 0)
        return -1;
    *out_pid = child;
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0 || connect(fd, (struct sockaddr *)&addr, sizeof(addr)) != 0) {
        int saved = errno;
        peer_stop(fd, child);
        errno = saved;
        return -1;
    }
    no_delay(fd);
    return fd;
}

void peer_stop(int fd, int pid)
{
    if (fd >= 0)
        close(fd); /* the peer sees EOF and exits */
    else
        kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
}
