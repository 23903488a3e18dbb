/* payload.h: what the publisher sends and what the subscriber reads back.
 *
 * The payload is a JSON object padded to an exact size:
 *
 *     {"n":<publish counter>,"t":<send time, ns>,"p":"xxxx...x"}
 *
 * The server embeds it as "data" in the event it sends to subscribers:
 *
 *     {"event_type":"bench","timestamp":"...","topic":"bench-3","seq":17,"data":{"n":..,"t":..,"p":".."}}
 *
 * payload_parse_event reads only "topic", "seq" and "data"'s "n" and "t",
 * by searching for their keys, without a JSON parser: this is on the hot
 * path, once per delivery. */
#ifndef BENCH_PAYLOAD_H
#define BENCH_PAYLOAD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The smallest payload that holds any counter and time (20 digits each). */
#define PAYLOAD_MIN_SIZE 64
/* The same with a sequence number too (payload_format with seq != 0). */
#define PAYLOAD_MIN_SIZE_SEQ 96

/* payload_format writes a payload of exactly |size| bytes (at least
 * PAYLOAD_MIN_SIZE, or PAYLOAD_MIN_SIZE_SEQ with a |seq|) to |out|. With
 * seq != 0 (--target nchan, whose events carry no sequence number of the
 * server) it holds the topic's own sequence number too:
 *
 *     {"n":<publish counter>,"s":<seq in the topic>,"t":<send time, ns>,"p":"xx..x"} */
void payload_format(uint8_t *out, size_t size, uint64_t n, uint64_t seq, uint64_t t_ns);

struct event_fields {
    const char *topic; /* points into the event */
    size_t topic_len;
    uint64_t seq;
    uint64_t n, t_ns; /* valid when has_payload */
    bool has_payload; /* "data" is a payload of ours */
    bool truncated;   /* the server sent a stub instead of the payload */
};

/* payload_parse_event reads the fields of one event JSON. Returns 0, or -1
 * when it has no "topic" string or no "seq" number (not an event). */
int payload_parse_event(const uint8_t *json, size_t len, struct event_fields *out);

/* payload_parse_raw reads "n", "s" (into seq) and "t" from a payload of
 * ours as the server delivered it, without an envelope (nchan). Leaves
 * the topic alone. Returns 0, or -1 when it is not such a payload. */
int payload_parse_raw(const uint8_t *json, size_t len, struct event_fields *out);

#endif
