/* tlsload.h: the server's certificates from its flags, and their reload.
 *
 * At start a file that cannot be read, or a key that is not its
 * certificate's, stops the server. On SIGHUP every pair is read again;
 * the new set replaces the old one only when all of it loaded, so a bad
 * file is logged and the certificates in use stay. Connections are never
 * touched: new handshakes get the new certificates, and session tickets
 * stay valid (the context and its ticket keys do not change). */
#ifndef RC_TLSLOAD_H
#define RC_TLSLOAD_H

#include <stddef.h>

#include "io/tls.h"
#include "util/config.h"

/* tlsload_start sets up |srv| with the pairs of |cfg|. Returns 0, or -1
 * with a message in |err|; tls_server_cleanup frees |srv| either way. */
int tlsload_start(struct tls_server *srv, const struct rc_tls_config *cfg, char *err,
                  size_t err_len);

/* tlsload_reload reads the pairs of |cfg| again into |srv| and logs what
 * happened. Returns 0 when the new ones are in use. */
int tlsload_reload(struct tls_server *srv, const struct rc_tls_config *cfg);

/* tlsload_log_ktls logs whether the kernel offers TLS (TCP_ULP "tls");
 * ringcast encrypts in user space either way. */
void tlsload_log_ktls(void);

#endif
