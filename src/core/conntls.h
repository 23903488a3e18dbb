/* conntls.h: TLS beneath a connection, whatever its kind.
 *
 * A connection accepted on a TLS listener carries a session (io/tls.h):
 * what its receives bring is decrypted before its kind's on_data sees it,
 * and what its kind queued (plaintext, the shared frames every subscriber
 * gets) is sealed at flush time into the session's output, which is what
 * goes on the wire. No kind knows; conn.c calls these where it would
 * otherwise hand bytes over or send the queue.
 *
 * Sealing takes the queued frames as one batch: they are gathered into
 * one plaintext scratch per shard thread and sealed into records of up to
 * 16 KiB, so a batch of many small frames costs one record (one AEAD
 * call, 22 bytes of overhead) rather than one per frame. */
#ifndef RC_CONNTLS_H
#define RC_CONNTLS_H

#include <stddef.h>
#include <stdint.h>

struct conn;
struct shard;
struct tls_server;

/* conntls_start puts a TLS session of |srv| under |c|. Returns 0 or -1
 * (memory). */
int conntls_start(struct shard *sh, struct conn *c, struct tls_server *srv);

/* conntls_on_recv takes |len| bytes of ciphertext received on |c|: goes
 * on with the handshake, hands the plaintext to the kind (on_data while
 * open, on_closing_data after) and schedules a flush for what TLS itself
 * must send (handshake messages, tickets, alerts). A failed handshake or
 * a bad record is counted and closes the connection. */
void conntls_on_recv(struct shard *sh, struct conn *c, const uint8_t *data, size_t len);

/* conntls_next_send seals what |c| has queued, if its last output is out,
 * and describes the ciphertext still to send: its length, 0 when there is
 * none, or -1 when sealing failed. */
long conntls_next_send(struct shard *sh, struct conn *c, const uint8_t **out);

/* conntls_sent accounts for |n| bytes of ciphertext sent. */
void conntls_sent(struct conn *c, size_t n);

/* conntls_has_output reports whether ciphertext waits to be sent. */
int conntls_has_output(const struct conn *c);

/* conntls_free ends |c|'s session. */
void conntls_free(struct conn *c);

#endif
