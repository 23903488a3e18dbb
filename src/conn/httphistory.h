/* httphistory.h: GET /v1/history/TOPIC?since=SEQ&limit=N.
 *
 * Answers the topic's position and the events its home still holds after
 * |since| (default 0), at most |limit| (default and most: --history-size),
 * oldest first, each the full event as GET /v1/messages serves it:
 *   {"topic":"a","epoch":"9f2c0d1e5a7b3c44","first_seq":F,"last_seq":L,
 *    "events":[…]}
 * first_seq is the oldest seq held (last_seq + 1 when none is), last_seq the
 * last assigned (0 when none); a topic that was never published has the
 * null epoch "0000000000000000". Events whose audience excludes the token
 * are left out, as live delivery leaves them out. Same auth as subscribe. */
#ifndef RC_HTTPHISTORY_H
#define RC_HTTPHISTORY_H

#include "conn/httpapi.h"

struct conn;
struct http_request;
struct pubreq;
struct shard;

/* httphistory_serve handles GET /v1/history/TOPIC. */
enum httpapi_result httphistory_serve(struct shard *sh, struct conn *c,
                                      const struct http_request *req);

/* httphistory_answer sends the answer of a PUBREQ_HISTORY request. */
void httphistory_answer(struct shard *sh, struct conn *c, struct pubreq *req);

#endif
