/* historyjson.h: the JSON of a history answer, shared by GET /v1/history
 * (httphistory.h) and the WebSocket history command (resume.h):
 *
 *   <prefix>"topic":"a","epoch":"…","first_seq":F,"last_seq":L,"events":[e,e,…]}
 *
 * The events are the messages' own bytes (as the caller's |event_fn|
 * picks them), queued by reference, those the connection's token may see. */
#ifndef RC_HISTORYJSON_H
#define RC_HISTORYJSON_H

#include <stddef.h>
#include <stdint.h>

struct conn;
struct msg;
struct pubreq;
struct shard;

/* An event's bytes in the answer, or NULL when it is left out. */
typedef const uint8_t *(*historyjson_event_fn)(const struct msg *m, size_t *out_len);

struct historyjson {
    char open[160 + 65536];
    size_t open_len;
    size_t len; /* the whole text */
};

/* historyjson_measure writes the text before the events (after |prefix|)
 * into |out| and the whole length, for the answer to |req| (a
 * PUBREQ_HISTORY that came back) to connection |c|. */
void historyjson_measure(struct historyjson *out, const char *prefix, const struct conn *c,
                         const struct pubreq *req, historyjson_event_fn event_fn);

/* historyjson_queue queues the whole text measured. Returns 0, or -1 after
 * killing the connection (memory). */
int historyjson_queue(struct shard *sh, struct conn *c, const struct historyjson *h,
                      const struct pubreq *req, historyjson_event_fn event_fn);

/* historyjson_queue_shared queues |len| bytes of |m| (inside it) by
 * reference, with a reference of their own. Returns 0 or -1 (memory). */
int historyjson_queue_shared(struct conn *c, struct msg *m, const uint8_t *data, size_t len);

#endif
