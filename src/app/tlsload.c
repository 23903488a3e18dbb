/* tlsload.c: loading and reloading the certificate pairs of the flags. */
#include "app/tlsload.h"

#include <string.h>

#include "util/alloc.h"
#include "util/log.h"

/* load reads every pair of |cfg| into a new set, or NULL (|err| says). */
static struct tlscert_set *load(const struct rc_tls_config *cfg, char *err, size_t err_len)
{
    const char *certs[CONFIG_MAX_REPEATS], *keys[CONFIG_MAX_REPEATS];
    for (unsigned i = 0; i < cfg->cert_files.count; i++) {
        certs[i] = cfg->cert_files.v[i];
        keys[i] = cfg->key_files.v[i];
    }
    struct tlscert_set *set = rc_malloc(sizeof(*set));
    if (!set) {
        snprintf(err, err_len, "out of memory");
        return NULL;
    }
    if (tlscert_set_load(set, certs, keys, cfg->cert_files.count, err, err_len) != 0) {
        rc_free(set);
        return NULL;
    }
    return set;
}

int tlsload_start(struct tls_server *srv, const struct rc_tls_config *cfg, char *err,
                  size_t err_len)
{
    memset(srv, 0, sizeof(*srv));
    struct tlscert_set *set = load(cfg, err, err_len);
    if (!set)
        return -1;
    return tls_server_init(srv, set, err, err_len);
}

int tlsload_reload(struct tls_server *srv, const struct rc_tls_config *cfg)
{
    char err[512];
    struct tlscert_set *set = load(cfg, err, sizeof(err));
    if (!set) {
        log_error("SIGHUP: certificates not reloaded, the previous ones stay in use: %s", err);
        return -1;
    }
    if (tls_server_swap_certs(srv, set) != 0) {
        log_error("SIGHUP: certificates not reloaded: out of memory");
        return -1;
    }
    log_info("SIGHUP: reloaded %u TLS certificate%s; new handshakes use them",
             cfg->cert_files.count, cfg->cert_files.count == 1 ? "" : "s");
    return 0;
}

void tlsload_log_ktls(void)
{
    int ret = tls_probe_ktls();
    if (ret == 0)
        log_info("kernel TLS (TCP_ULP tls) is available; ringcast encrypts in user space");
    else
        log_info("kernel TLS (TCP_ULP tls) is not available (%s); ringcast encrypts in user space",
                 strerror(-ret));
}
