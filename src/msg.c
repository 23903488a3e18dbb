/* msg.c: building a message's wire encodings once, and its lifetime.
 *
 * Layout of one allocation:
 *
 *   struct msg | topic NUL | event type NUL | pad | frame
 *
 * where the frame is the WebSocket header written right-aligned in front of
 * the event JSON:
 *
 *   {"event_type":"…","timestamp":"…","topic":"…","seq":N,"data":…}
 *
 * The header length depends on the JSON length, which is computed exactly
 * before anything is written, so nothing is moved afterwards. */
#include "msg.h"

#include <string.h>
#include <strings.h>
#include <time.h>

#include "alloc.h"
#include "jsonw.h"
#include "ws.h"

#define LIT(s) s, sizeof(s) - 1

static uint8_t *put(uint8_t *out, const void *s, size_t len)
{
    memcpy(out, s, len);
    return out + len;
}

static size_t u64_digits(uint64_t v)
{
    size_t n = 1;
    while (v >= 10) {
        v /= 10;
        n++;
    }
    return n;
}

static uint8_t *put_u64(uint8_t *out, uint64_t v, size_t digits)
{
    for (size_t i = digits; i > 0; i--) {
        out[i - 1] = (uint8_t)('0' + v % 10);
        v /= 10;
    }
    return out + digits;
}

/* The calendar part of the timestamp changes once a second: cache it per
 * thread (each shard formats its own topics' timestamps). */
struct ts_cache {
    int64_t second;
    char text[21]; /* 2026-01-20T10:30:00. */
};

static _Thread_local struct ts_cache ts_cache = {.second = -1};

void msg_format_timestamp(char out[MSG_TIMESTAMP_LEN + 1], int64_t time_us)
{
    int64_t second = time_us / 1000000;
    if (second != ts_cache.second) {
        time_t t = (time_t)second;
        struct tm tm;
        gmtime_r(&t, &tm);
        strftime(ts_cache.text, sizeof(ts_cache.text), "%Y-%m-%dT%H:%M:%S.", &tm);
        ts_cache.second = second;
    }
    memcpy(out, ts_cache.text, 20);
    put_u64((uint8_t *)out + 20, (uint64_t)(time_us % 1000000), 6);
    out[26] = 'Z';
    out[27] = '\0';
}

static size_t event_json_len(const struct msg_input *in, size_t event_type_len, size_t seq_digits)
{
    size_t data_len =
        in->payload_is_json ? in->payload_len : 2 + json_escaped_len(in->payload, in->payload_len);
    return sizeof("{\"event_type\":\"") - 1 + event_type_len + sizeof("\",\"timestamp\":\"") - 1 +
           MSG_TIMESTAMP_LEN + sizeof("\",\"topic\":\"") - 1 + in->topic_len +
           sizeof("\",\"seq\":") - 1 + seq_digits + sizeof(",\"data\":") - 1 + data_len + 1;
}

static uint8_t *write_event_json(uint8_t *out, const struct msg_input *in, const char *event_type,
                                 size_t event_type_len, uint64_t seq, size_t seq_digits,
                                 int64_t time_us)
{
    char timestamp[MSG_TIMESTAMP_LEN + 1];
    msg_format_timestamp(timestamp, time_us);
    out = put(out, LIT("{\"event_type\":\""));
    out = put(out, event_type, event_type_len);
    out = put(out, LIT("\",\"timestamp\":\""));
    out = put(out, timestamp, MSG_TIMESTAMP_LEN);
    out = put(out, LIT("\",\"topic\":\""));
    out = put(out, in->topic, in->topic_len);
    out = put(out, LIT("\",\"seq\":"));
    out = put_u64(out, seq, seq_digits);
    out = put(out, LIT(",\"data\":"));
    if (in->payload_is_json) {
        out = put(out, in->payload, in->payload_len);
    } else {
        *out++ = '"';
        out = json_escape(out, in->payload, in->payload_len);
        *out++ = '"';
    }
    *out++ = '}';
    return out;
}

struct msg *msg_new(const struct msg_input *in, uint64_t seq, int64_t time_us, uint32_t refs)
{
    const char *event_type = in->event_type;
    size_t event_type_len = in->event_type_len;
    if (event_type_len == 0) {
        event_type = MSG_DEFAULT_EVENT_TYPE;
        event_type_len = sizeof(MSG_DEFAULT_EVENT_TYPE) - 1;
    }
    size_t seq_digits = u64_digits(seq);
    size_t json_len = event_json_len(in, event_type_len, seq_digits);
    size_t names_len = in->topic_len + 1 + event_type_len + 1;
    size_t frame_start = (sizeof(struct msg) + names_len + 7) & ~(size_t)7;
    struct msg *m = rc_malloc(frame_start + WS_MAX_HEADER + json_len);
    if (!m)
        return NULL;

    atomic_init(&m->refs, refs);
    m->topic_len = (uint16_t)in->topic_len;
    m->event_type_len = (uint8_t)event_type_len;
    m->topic_hash = in->topic_hash;
    m->seq = seq;
    m->time_us = time_us;
    char *names = (char *)m->storage;
    memcpy(names, in->topic, in->topic_len);
    names[in->topic_len] = '\0';
    memcpy(names + in->topic_len + 1, event_type, event_type_len);
    names[in->topic_len + 1 + event_type_len] = '\0';
    m->topic = names;
    m->event_type = names + in->topic_len + 1;

    uint8_t *json = (uint8_t *)m + frame_start + WS_MAX_HEADER;
    uint8_t *end = write_event_json(json, in, event_type, event_type_len, seq, seq_digits, time_us);
    size_t header_len = ws_header_len(json_len);
    uint8_t *frame = json - header_len;
    ws_build_header(frame, WS_OP_TEXT, true, json_len);
    m->ws_frame = frame;
    m->ws_frame_len = (uint32_t)(end - frame);
    m->json_offset = (uint32_t)header_len;
    return m;
}

void msg_release(struct msg *m)
{
    if (atomic_fetch_sub_explicit(&m->refs, 1, memory_order_acq_rel) == 1)
        rc_free(m);
}

bool msg_event_type_valid(const char *type, size_t len)
{
    if (len == 0 || len > MSG_MAX_EVENT_TYPE)
        return false;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)type[i];
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                  c == '_' || c == '-' || c == '.' || c == ':' || c == '/';
        if (!ok)
            return false;
    }
    return true;
}

bool msg_content_type_is_json(const char *type, size_t len)
{
    const char *semicolon = memchr(type, ';', len);
    if (semicolon)
        len = (size_t)(semicolon - type);
    while (len > 0 && (type[0] == ' ' || type[0] == '\t')) {
        type++;
        len--;
    }
    while (len > 0 && (type[len - 1] == ' ' || type[len - 1] == '\t'))
        len--;
    if (len == 16 && strncasecmp(type, "application/json", 16) == 0)
        return true;
    return len > 5 && strncasecmp(type + len - 5, "+json", 5) == 0;
}

struct lref *lref_new(struct msg *m)
{
    struct lref *ref = rc_malloc(sizeof(*ref));
    if (!ref)
        return NULL;
    ref->msg = m;
    ref->count = 1;
    return ref;
}

void lref_put(struct lref *ref)
{
    if (--ref->count == 0) {
        msg_release(ref->msg);
        rc_free(ref);
    }
}
