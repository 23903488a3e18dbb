/* server.c: starting the shards, waiting for a signal, shutting down. */
#include "app/server.h"

#include <arpa/inet.h>
#include <errno.h>
#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "util/alloc.h"
#include "util/hash.h"
#include "conn/httpconn.h"
#include "util/log.h"
#include "io/net.h"
#include "conn/pubconn.h"
#include "core/shard.h"
#include "io/sockop.h"
#include "app/tlsload.h"

/* Descriptors needed besides connections: listeners, rings, eventfds, logs. */
#define FD_OVERHEAD 64
/* The kernel's bound on one ring's table of direct descriptors. */
#define TABLE_MAX (1u << 20)

/* raise_fd_limit raises RLIMIT_NOFILE as far as allowed for
 * --max-connections. Connections are direct descriptors (sockop.h): each
 * shard's table may hold as many as the limit, so what must fit is one
 * shard's share, not every connection. Lowers the connection limit to what
 * the tables can hold, so that extra clients get a clean refusal rather
 * than a failed accept. */
static void raise_fd_limit(struct rc_config *cfg)
{
    struct rlimit lim;
    if (getrlimit(RLIMIT_NOFILE, &lim) != 0)
        return;
    rlim_t share = ((rlim_t)cfg->max_connections + cfg->shards - 1) / cfg->shards;
    rlim_t want = share + SOCKOP_TABLE_SLACK;
    if (want < (rlim_t)FD_OVERHEAD * cfg->shards)
        want = (rlim_t)FD_OVERHEAD * cfg->shards;
    if (lim.rlim_max < want) {
        struct rlimit higher = {want, want};
        if (setrlimit(RLIMIT_NOFILE, &higher) == 0)
            lim = higher;
    }
    if (lim.rlim_cur < want) {
        lim.rlim_cur = lim.rlim_max;
        setrlimit(RLIMIT_NOFILE, &lim);
        getrlimit(RLIMIT_NOFILE, &lim);
    }
    rlim_t table = lim.rlim_cur < TABLE_MAX ? lim.rlim_cur : TABLE_MAX;
    if (table >= share + SOCKOP_TABLE_SLACK)
        return;
    rlim_t usable =
        table > SOCKOP_TABLE_SLACK ? (table - SOCKOP_TABLE_SLACK) * cfg->shards : cfg->shards;
    /* The default --max-connections is a ceiling the file limit usually
     * lowers: that is expected and worth one info line. A limit the user
     * asked for and cannot have is a warning. */
    if (cfg->max_connections_given)
        log_warn("--max-connections %u is more than the open file limit allows: serving at most "
                 "%llu connections (%llu per shard; the limit is %llu, raising it needs "
                 "CAP_SYS_RESOURCE, more --shards hold more)",
                 cfg->max_connections, (unsigned long long)usable,
                 (unsigned long long)(usable / cfg->shards), (unsigned long long)lim.rlim_cur);
    else
        log_info("serving at most %llu connections (what the open file limit %llu allows)",
                 (unsigned long long)usable, (unsigned long long)lim.rlim_cur);
    cfg->max_connections = (unsigned)usable;
}

static uint16_t endpoint_port(const struct rc_endpoint *ep)
{
    if (ep->addr.ss_family == AF_INET)
        return ntohs(((const struct sockaddr_in *)&ep->addr)->sin_port);
    return ntohs(((const struct sockaddr_in6 *)&ep->addr)->sin6_port);
}

static void set_endpoint_port(struct rc_endpoint *ep, uint16_t port)
{
    if (ep->addr.ss_family == AF_INET)
        ((struct sockaddr_in *)&ep->addr)->sin_port = htons(port);
    else
        ((struct sockaddr_in6 *)&ep->addr)->sin6_port = htons(port);
}

/* claim_port makes sure no other program listens on |ep| (SO_REUSEPORT
 * would otherwise let the shards share its port silently), and turns port 0
 * into a free port that every shard then binds. Returns a descriptor that
 * holds the port until the shards have bound it, or -1. */
static int claim_port(struct rc_endpoint *ep)
{
    bool any_port = endpoint_port(ep) == 0;
    int fd = socket(ep->addr.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (any_port)
        setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one));
    if (bind(fd, (const struct sockaddr *)&ep->addr, ep->addr_len) != 0) {
        log_error("cannot bind %s: %s", ep->text, strerror(errno));
        close(fd);
        return -1;
    }
    if (!any_port) {
        close(fd); /* free again: the shards bind it with SO_REUSEPORT */
        return -2;
    }
    struct sockaddr_storage bound;
    socklen_t len = sizeof(bound);
    getsockname(fd, (struct sockaddr *)&bound, &len);
    uint16_t port = bound.ss_family == AF_INET ? ntohs(((struct sockaddr_in *)&bound)->sin_port)
                                               : ntohs(((struct sockaddr_in6 *)&bound)->sin6_port);
    set_endpoint_port(ep, port);
    char *colon = strrchr(ep->text, ':');
    if (colon)
        snprintf(colon + 1, sizeof(ep->text) - (size_t)(colon + 1 - ep->text), "%u", port);
    return fd;
}

static void set_phase(struct server *srv, enum shard_phase phase, unsigned started)
{
    atomic_store_explicit(&srv->set.phase, phase, memory_order_release);
    for (unsigned i = 0; i < started; i++)
        shard_wake(&srv->set.shards[i]);
}

static int64_t monotonic_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* wait_for_drain waits until every shard closed its connections, the
 * shutdown timeout passes, or a second signal asks to stop now. */
static void wait_for_drain(struct server *srv, const sigset_t *signals)
{
    int64_t deadline = monotonic_ms() + srv->cfg.shutdown_timeout_ms;
    while (atomic_load(&srv->set.shards_drained) < srv->set.num_shards) {
        int64_t left = deadline - monotonic_ms();
        if (left <= 0) {
            log_warn("shutdown timeout: closing the remaining connections");
            return;
        }
        struct timespec step = {0, 10 * 1000000};
        if (sigtimedwait(signals, NULL, &step) > 0) {
            log_warn("second signal: stopping now");
            return;
        }
    }
}

/* endpoints lists every port the server listens on: the client port, the
 * publish port, then the TLS ones. Returns how many. */
static unsigned endpoints(struct server *srv, struct rc_endpoint **out)
{
    unsigned n = 0;
    out[n++] = &srv->cfg.listen;
    out[n++] = &srv->cfg.publish_listen;
    for (unsigned i = 0; i < srv->cfg.tls.listen.count; i++)
        out[n++] = &srv->cfg.tls.listen.v[i];
    for (unsigned i = 0; i < srv->cfg.tls.publish_listen.count; i++)
        out[n++] = &srv->cfg.tls.publish_listen.v[i];
    return n;
}

#define MAX_ENDPOINTS (2 + 2 * CONFIG_MAX_REPEATS)
_Static_assert(MAX_ENDPOINTS <= SHARD_MAX_LISTENERS, "a listener for every port");

static void log_tls_ports(const struct server *srv)
{
    const struct rc_tls_config *tls = &srv->cfg.tls;
    for (unsigned i = 0; i < tls->listen.count; i++)
        log_info("ringcast TLS listening: client=%s", tls->listen.v[i].text);
    for (unsigned i = 0; i < tls->publish_listen.count; i++)
        log_info("ringcast TLS listening: publish=%s", tls->publish_listen.v[i].text);
}

static void log_startup(const struct server *srv)
{
    log_tls_ports(srv);
    log_info("ringcast listening: client=%s publish=%s shards=%u", srv->cfg.listen.text,
             srv->cfg.publish_listen.text, srv->set.num_shards);
    if (srv->auth.enabled) {
        log_info("tokens required (HS256, %d secret%s)", srv->auth.keys.count,
                 srv->auth.keys.count > 1 ? "s: the previous one still accepted" : "");
        return;
    }
    log_warn("open mode: no --auth-secret-file, every client may subscribe and publish");
    if (!net_is_loopback(&srv->cfg.listen) || !net_is_loopback(&srv->cfg.publish_listen))
        log_warn("open mode on a non-loopback address (--insecure-open): anyone who can reach "
                 "this host can publish and subscribe");
}

/* check_open_mode refuses to serve without tokens beyond loopback unless
 * the operator said so. */
static int check_open_mode(const struct server *srv)
{
    if (srv->auth.enabled || srv->cfg.insecure_open)
        return 0;
    struct rc_endpoint *eps[MAX_ENDPOINTS];
    unsigned num_eps = endpoints((struct server *)srv, eps);
    for (unsigned i = 0; i < num_eps; i++) {
        if (!net_is_loopback(eps[i])) {
            log_error("refusing to listen on %s without authentication: give --auth-secret-file, "
                      "or --insecure-open to serve open anyway",
                      eps[i]->text);
            return -1;
        }
    }
    return 0;
}

/* load_pusher_apps reads --pusher-apps, which turns the Pusher dialect on. */
static int load_pusher_apps(struct server *srv)
{
    if (!srv->cfg.pusher_apps_file[0])
        return 0;
    char err[512];
    if (pusher_apps_load(&srv->pusher_apps, srv->cfg.pusher_apps_file, err, sizeof(err)) != 0) {
        log_error("--pusher-apps: %s", err);
        return -1;
    }
    srv->set.pusher_apps = &srv->pusher_apps;
    log_info("Pusher dialect on: %zu app%s", srv->pusher_apps.num_apps,
             srv->pusher_apps.num_apps == 1 ? "" : "s");
    return 0;
}

/* set_listeners builds the listener table every shard opens: the client
 * port speaks HTTP first (and upgrades), the publish port the binary
 * protocol. */
static void set_listeners(struct server *srv)
{
    struct shard_set *set = &srv->set;
    const struct rc_tls_config *tls = &srv->cfg.tls;
    set->listeners[set->num_listeners++] =
        (struct listener_spec){&srv->cfg.listen, &http_conn_ops, NULL};
    set->listeners[set->num_listeners++] =
        (struct listener_spec){&srv->cfg.publish_listen, &pub_conn_ops, NULL};
    for (unsigned i = 0; i < tls->listen.count; i++)
        set->listeners[set->num_listeners++] =
            (struct listener_spec){&tls->listen.v[i], &http_conn_ops, &srv->tls};
    for (unsigned i = 0; i < tls->publish_listen.count; i++)
        set->listeners[set->num_listeners++] =
            (struct listener_spec){&tls->publish_listen.v[i], &pub_conn_ops, &srv->tls};
}

/* start_tls loads the certificates when a TLS port is configured. */
static int start_tls(struct server *srv)
{
    const struct rc_tls_config *tls = &srv->cfg.tls;
    if (tls->listen.count == 0 && tls->publish_listen.count == 0)
        return 0;
    char err[512];
    if (tlsload_start(&srv->tls, tls, err, sizeof(err)) != 0) {
        log_error("TLS: %s", err);
        return -1;
    }
    tlsload_log_ktls();
    return 0;
}

/* wait_for_stop waits for SIGTERM or SIGINT and returns it; SIGHUP
 * meanwhile reloads the certificates. */
static int wait_for_stop(struct server *srv, const sigset_t *signals)
{
    for (;;) {
        int sig = 0;
        sigwait(signals, &sig);
        if (sig != SIGHUP)
            return sig;
        if (srv->tls.ctx)
            tlsload_reload(&srv->tls, &srv->cfg.tls);
        else
            log_info("SIGHUP: no TLS certificates to reload");
    }
}

int server_run(const struct rc_config *cfg)
{
    static struct server srv; /* the threads' shared, read-mostly state */
    memset(&srv, 0, sizeof(srv));
    srv.cfg = *cfg;
    srv.set.cfg = &srv.cfg;
    srv.set.auth = &srv.auth;
    rc_hash_init();
    json_object_seed(0);
    signal(SIGPIPE, SIG_IGN);
    sigset_t signals;
    sigemptyset(&signals);
    sigaddset(&signals, SIGINT);
    sigaddset(&signals, SIGTERM);
    sigaddset(&signals, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &signals, NULL); /* the shards inherit the mask */
    raise_fd_limit(&srv.cfg);

    int status = 1;
    unsigned started = 0;
    char err[512];
    if (auth_load(&srv.auth, &srv.cfg, err, sizeof(err)) != 0) {
        log_error("%s", err);
        return 2;
    }
    if (check_open_mode(&srv) != 0 || start_tls(&srv) != 0 || load_pusher_apps(&srv) != 0) {
        tls_server_cleanup(&srv.tls);
        pusher_apps_cleanup(&srv.pusher_apps);
        auth_cleanup(&srv.auth);
        return 2;
    }
    int claims[MAX_ENDPOINTS];
    struct rc_endpoint *eps[MAX_ENDPOINTS];
    unsigned num_eps = endpoints(&srv, eps);
    for (unsigned i = 0; i < MAX_ENDPOINTS; i++)
        claims[i] = -1;
    for (unsigned i = 0; i < num_eps; i++)
        if ((claims[i] = claim_port(eps[i])) == -1)
            goto out;
    set_listeners(&srv);
    if (shard_set_init(&srv.set, cfg->shards, srv.cfg.ring_size) != 0) {
        log_error("out of memory");
        goto out;
    }
    unsigned num_shards = srv.set.num_shards;
    pthread_barrier_init(&srv.set.setup_done, NULL, num_shards + 1);
    for (; started < num_shards; started++) {
        if (shard_start(&srv.set, started) != 0) {
            log_error("cannot start shard %u", started);
            atomic_store(&srv.set.setup_failed, 1);
            break;
        }
    }
    if (started == num_shards)
        pthread_barrier_wait(&srv.set.setup_done);
    for (unsigned i = 0; i < num_eps; i++) {
        if (claims[i] >= 0)
            close(claims[i]);
        claims[i] = -1;
    }
    if (atomic_load(&srv.set.setup_failed)) {
        if (started < num_shards) {
            log_error("giving up");
            _exit(1); /* started shards wait at a barrier that will never open */
        }
        goto join;
    }
    log_startup(&srv);

    int sig = wait_for_stop(&srv, &signals);
    log_info("%s: closing connections (up to %u ms)", sig == SIGINT ? "SIGINT" : "SIGTERM",
             cfg->shutdown_timeout_ms);
    set_phase(&srv, PHASE_DRAIN, started);
    wait_for_drain(&srv, &signals);
    status = 0;
join:
    set_phase(&srv, PHASE_EXIT, started);
    for (unsigned i = 0; i < started; i++)
        pthread_join(srv.set.shards[i].thread, NULL);
    for (unsigned i = 0; i < started; i++)
        shard_cleanup(&srv.set.shards[i]);
    if (started == num_shards)
        pthread_barrier_destroy(&srv.set.setup_done);
    if (status == 0)
        log_info("stopped");
out:
    for (unsigned i = 0; i < num_eps; i++)
        if (claims[i] >= 0)
            close(claims[i]);
    shard_set_cleanup(&srv.set);
    tls_server_cleanup(&srv.tls);
    auth_cleanup(&srv.auth);
    pusher_apps_cleanup(&srv.pusher_apps);
    return status;
}
