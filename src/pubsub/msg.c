/* msg.c: building a message's wire encodings once, and its lifetime.
 *
 * Layout of one allocation:
 *
 *   struct msg | topic NUL | event type NUL | pad
 *   | [frame header space] full event JSON | SSE record of the full event
 *   | [frame header space] stub JSON       | SSE record of the stub
 *
 * (the stub parts only for oversized events in stub mode, the SSE record of
 * the full event only when it is delivered). The event JSON is
 *
 *   {"event_type":"…","timestamp":"…","topic":"…","seq":N,"data":…}
 *
 * and the WebSocket header is written right-aligned in front of it. Every
 * length is computed before anything is written, so nothing moves. */
#include "pubsub/msg.h"
#include "proto/position.h"

#include <assert.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "util/alloc.h"
#include "pubsub/audience.h"
#include "util/jsonw.h"
#include "proto/ws.h"
#include "proto/wsdeflate.h"

#define LIT(s) s, sizeof(s) - 1

const char *const msg_ref_names[3] = {"id", "entityId", "entityType"};

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

static uint8_t *put_u64(uint8_t *out, uint64_t v)
{
    size_t digits = u64_digits(v);
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
    uint64_t micros = (uint64_t)(time_us % 1000000);
    for (int i = 25; i >= 20; i--) {
        out[i] = (char)('0' + micros % 10);
        micros /= 10;
    }
    out[26] = 'Z';
    out[27] = '\0';
}

/* What every encoding of one event shares. */
struct event_parts {
    const struct msg_input *in;
    const char *event_type;
    size_t event_type_len;
    uint64_t seq;
    char timestamp[MSG_TIMESTAMP_LEN + 1];
};

/* The common start: {"event_type":"…","timestamp":"…","topic":"…","seq":N */
static size_t head_len(const struct event_parts *e)
{
    return sizeof("{\"event_type\":\"\",\"timestamp\":\"\",\"topic\":\"\",\"seq\":") - 1 +
           e->event_type_len + MSG_TIMESTAMP_LEN + e->in->topic_len + u64_digits(e->seq);
}

static uint8_t *put_head(uint8_t *out, const struct event_parts *e)
{
    out = put(out, LIT("{\"event_type\":\""));
    out = put(out, e->event_type, e->event_type_len);
    out = put(out, LIT("\",\"timestamp\":\""));
    out = put(out, e->timestamp, MSG_TIMESTAMP_LEN);
    out = put(out, LIT("\",\"topic\":\""));
    out = put(out, e->in->topic, e->in->topic_len);
    out = put(out, LIT("\",\"seq\":"));
    return put_u64(out, e->seq);
}

/* The full event: head + ,"data":<payload>} */
static size_t full_json_len(const struct event_parts *e)
{
    const struct msg_input *in = e->in;
    size_t data_len =
        in->payload_is_json ? in->payload_len : 2 + json_escaped_len(in->payload, in->payload_len);
    return head_len(e) + sizeof(",\"data\":}") - 1 + data_len;
}

static uint8_t *put_full_json(uint8_t *out, const struct event_parts *e)
{
    const struct msg_input *in = e->in;
    out = put_head(out, e);
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

/* The stub: head + ,"truncated":true,"size":S,"ref":{…},"fetch":"/v1/messages/<topic>/<seq>"} */
static size_t stub_json_len(const struct event_parts *e)
{
    const struct msg_input *in = e->in;
    size_t len = head_len(e) +
                 sizeof(",\"truncated\":true,\"size\":,\"ref\":{},\"fetch\":\"/v1/"
                        "messages//\"}") -
                 1 + u64_digits(in->payload_len) + in->topic_len + u64_digits(e->seq);
    size_t members = 0;
    for (int i = 0; i < 3; i++) {
        if (in->ref_json_len[i] == 0)
            continue;
        len += (members++ ? 1 : 0) + 3 + strlen(msg_ref_names[i]) + in->ref_json_len[i];
    }
    return len;
}

static uint8_t *put_stub_json(uint8_t *out, const struct event_parts *e)
{
    const struct msg_input *in = e->in;
    out = put_head(out, e);
    out = put(out, LIT(",\"truncated\":true,\"size\":"));
    out = put_u64(out, in->payload_len);
    out = put(out, LIT(",\"ref\":{"));
    size_t members = 0;
    for (int i = 0; i < 3; i++) {
        if (in->ref_json_len[i] == 0)
            continue;
        if (members++)
            *out++ = ',';
        *out++ = '"';
        out = put(out, msg_ref_names[i], strlen(msg_ref_names[i]));
        out = put(out, LIT("\":"));
        out = put(out, in->ref_json[i], in->ref_json_len[i]);
    }
    out = put(out, LIT("},\"fetch\":\"/v1/messages/"));
    out = put(out, in->topic, in->topic_len);
    *out++ = '/';
    out = put_u64(out, e->seq);
    return put(out, LIT("\"}"));
}

/* SSE record of a JSON text:
 *   event: <type>\nid: <seq>\ndata: <line>\n[data: <line>\n…]\n
 * The event line comes first so that both forms are one range of the same
 * bytes: the whole record is the named form (addEventListener), and from
 * the id line on it is the unnamed form, which EventSource dispatches to
 * onmessage (the order of the fields of a record does not matter to it).
 * A JSON text has line breaks only as whitespace (pretty-printed payloads):
 * each becomes the start of a new data line, which EventSource joins with
 * "\n" again. CR LF, CR and LF each count as one break. */
static size_t sse_event_len(const struct event_parts *e)
{
    return sizeof("event: \n") - 1 + e->event_type_len;
}

/* The id line: "id: <epoch>-<seq>\n", the topic's position after this
 * event (proto/position.h). */
static size_t sse_id_len(const struct event_parts *e)
{
    return sizeof("id: -\n") - 1 + POSITION_EPOCH_LEN + u64_digits(e->seq);
}

/* next_break returns the first CR or LF in [p, end), or end. Breaks are
 * rare: two vectorized memchr calls beat a test per byte. */
static const uint8_t *next_break(const uint8_t *p, const uint8_t *end)
{
    const uint8_t *lf = memchr(p, '\n', (size_t)(end - p));
    const uint8_t *limit = lf ? lf : end;
    const uint8_t *cr = memchr(p, '\r', (size_t)(limit - p));
    return cr ? cr : limit;
}

/* after_break returns what follows the break at |brk|: CR LF is one break. */
static const uint8_t *after_break(const uint8_t *brk, const uint8_t *end)
{
    return brk + (brk[0] == '\r' && brk + 1 < end && brk[1] == '\n' ? 2 : 1);
}

/* line_break_extra returns how many bytes the breaks in |json| add to a
 * record: CR LF (2 bytes) and a lone CR or LF (1) each become "\ndata: " (7). */
static size_t line_break_extra(const uint8_t *json, size_t len)
{
    const uint8_t *end = json + len;
    size_t extra = 0;
    for (const uint8_t *brk = next_break(json, end); brk < end;) {
        const uint8_t *next = after_break(brk, end);
        extra += 7 - (size_t)(next - brk);
        brk = next_break(next, end);
    }
    return extra;
}

static size_t sse_record_len(const struct event_parts *e, size_t json_len, size_t break_extra)
{
    return sse_event_len(e) + sse_id_len(e) + sizeof("data: \n\n") - 1 + json_len + break_extra;
}

static uint8_t *put_sse_record(uint8_t *out, const struct event_parts *e, const uint8_t *json,
                               size_t json_len)
{
    out = put(out, LIT("event: "));
    out = put(out, e->event_type, e->event_type_len);
    out = put(out, LIT("\nid: "));
    char epoch[POSITION_EPOCH_LEN + 1];
    position_format_epoch(epoch, e->in->epoch);
    out = put(out, epoch, POSITION_EPOCH_LEN);
    *out++ = '-';
    out = put_u64(out, e->seq);
    out = put(out, LIT("\ndata: "));
    const uint8_t *line = json, *end = json + json_len;
    for (const uint8_t *brk = next_break(line, end); brk < end; brk = next_break(line, end)) {
        out = put(out, line, (size_t)(brk - line));
        out = put(out, LIT("\ndata: "));
        line = after_break(brk, end);
    }
    out = put(out, line, (size_t)(end - line));
    return put(out, LIT("\n\n"));
}

/* An encoded event: a WebSocket frame around a JSON text, and its SSE record. */
struct encoding {
    size_t json_len;
    size_t sse_len; /* 0: no SSE record */
};

static size_t encoding_size(const struct encoding *enc)
{
    return WS_MAX_HEADER + enc->json_len + enc->sse_len;
}

/* finish_encoding writes the frame header in front of the JSON the caller
 * wrote at at + WS_MAX_HEADER, and the SSE record after it, and makes them
 * the message's delivery encodings. Returns the end. */
static uint8_t *finish_encoding(struct msg *m, const struct event_parts *e, uint8_t *at,
                                const struct encoding *enc)
{
    uint8_t *json = at + WS_MAX_HEADER;
    size_t header_len = ws_header_len(enc->json_len);
    uint8_t *frame = json - header_len;
    ws_build_header(frame, WS_OP_TEXT, true, enc->json_len);
    m->ws_frame = frame;
    m->ws_frame_len = (uint32_t)(header_len + enc->json_len);
    uint8_t *sse = json + enc->json_len;
    m->sse_record = sse;
    m->sse_event_len = (uint16_t)sse_event_len(e);
    m->sse_id_len = (uint16_t)sse_id_len(e);
    uint8_t *end = put_sse_record(sse, e, json, enc->json_len);
    m->sse_record_len = (uint32_t)(end - sse);
    assert(m->sse_record_len == enc->sse_len); /* the size computed before writing */
    return end;
}

static void init_header(struct msg *m, const struct msg_input *in, const struct event_parts *e,
                        int64_t time_us, uint32_t refs)
{
    atomic_init(&m->refs, refs);
    m->topic_len = (uint16_t)in->topic_len;
    m->event_type_len = (uint8_t)e->event_type_len;
    m->flags = 0;
    m->topic_hash = in->topic_hash;
    m->seq = e->seq;
    m->time_us = time_us;
    m->payload_len = in->payload_len;
    char *names = (char *)m->storage;
    memcpy(names, in->topic, in->topic_len);
    names[in->topic_len] = '\0';
    memcpy(names + in->topic_len + 1, e->event_type, e->event_type_len);
    names[in->topic_len + 1 + e->event_type_len] = '\0';
    m->topic = names;
    m->event_type = names + in->topic_len + 1;
    m->ws_frame = NULL;
    m->sse_record = NULL;
    m->audience = NULL;
    atomic_init(&m->deflated, NULL);
    m->exclude = in->exclude;
    m->ws_frame_len = m->sse_record_len = 0;
    m->sse_event_len = m->sse_id_len = 0;
}

struct msg *msg_new(const struct msg_input *in, const struct msg_policy *policy, uint64_t seq,
                    int64_t time_us, uint32_t refs)
{
    struct event_parts e = {in, in->event_type, in->event_type_len, seq, {0}};
    if (e.event_type_len == 0) {
        e.event_type = MSG_DEFAULT_EVENT_TYPE;
        e.event_type_len = sizeof(MSG_DEFAULT_EVENT_TYPE) - 1;
    }
    msg_format_timestamp(e.timestamp, time_us);
    bool oversized = in->payload_len > policy->max_payload;
    bool stub = oversized && policy->mode == TRUNCATE_STUB;

    /* The full event always; its SSE record only when it is delivered. Only
     * a JSON payload can hold raw line breaks (the rest of the event has
     * none, text is escaped, stub references are compact JSON). */
    struct encoding full = {full_json_len(&e), 0};
    struct encoding stub_enc = {0, 0};
    size_t names_len = in->topic_len + 1 + e.event_type_len + 1;
    size_t start = (sizeof(struct msg) + names_len + 7) & ~(size_t)7;
    size_t size = start + WS_MAX_HEADER + full.json_len;
    if (!oversized) {
        size_t breaks = in->payload_is_json ? line_break_extra(in->payload, in->payload_len) : 0;
        full.sse_len = sse_record_len(&e, full.json_len, breaks);
        size += full.sse_len;
    } else if (stub) {
        stub_enc.json_len = stub_json_len(&e);
        stub_enc.sse_len = sse_record_len(&e, stub_enc.json_len, 0);
        size += encoding_size(&stub_enc);
    }
    struct msg *m = rc_malloc(size);
    if (!m)
        return NULL;
    init_header(m, in, &e, time_us, refs);
    uint8_t *at = (uint8_t *)m + start;
    uint8_t *json = at + WS_MAX_HEADER;
    uint8_t *json_end = put_full_json(json, &e);
    assert((size_t)(json_end - json) == full.json_len);
    (void)json_end;
    m->full_json = json;
    m->full_json_len = (uint32_t)full.json_len;
    if (!oversized) {
        finish_encoding(m, &e, at, &full);
        return m;
    }
    m->flags |= MSG_OVERSIZED;
    if (stub) {
        uint8_t *stub_at = json + full.json_len;
        uint8_t *stub_end = put_stub_json(stub_at + WS_MAX_HEADER, &e);
        assert((size_t)(stub_end - stub_at - WS_MAX_HEADER) == stub_enc.json_len);
        (void)stub_end;
        finish_encoding(m, &e, stub_at, &stub_enc);
    }
    return m;
}

const uint8_t *msg_ws_json(const struct msg *m, size_t *len)
{
    uint8_t short_len = m->ws_frame[1] & 0x7f;
    size_t header_len = short_len == 127 ? 10 : short_len == 126 ? 4 : 2;
    *len = m->ws_frame_len - header_len;
    return m->ws_frame + header_len;
}

const uint8_t *msg_ws_data(const struct msg *m, size_t *len)
{
    if (!m->ws_frame)
        return NULL;
    if (m->flags & MSG_OVERSIZED)
        return msg_ws_json(m, len); /* the stub, whole */
    return msg_data_json(m, len);   /* the frame's JSON is the full event's */
}

/* Stored when the message goes plain to every deflate subscriber. */
static struct msg_frame plain_marker;

static struct msg_frame *build_deflated(const struct msg *m, int level, size_t min_size)
{
    size_t json_len = 0;
    const uint8_t *json = msg_ws_json(m, &json_len);
    if (json_len < min_size)
        return &plain_marker;
    size_t cap = ws_deflate_frame_bound(json_len);
    struct msg_frame *f = rc_malloc(sizeof(*f) + cap);
    if (!f)
        return &plain_marker;
    size_t len = ws_deflate_frame(json, json_len, level, f->bytes, cap);
    if (len == 0) {
        rc_free(f);
        return &plain_marker;
    }
    f->len = (uint32_t)len;
    struct msg_frame *fitted = rc_realloc(f, sizeof(*f) + len);
    return fitted ? fitted : f;
}

const struct msg_frame *msg_deflated(const struct msg *m, int level, size_t min_size)
{
    if (!m->ws_frame)
        return NULL;
    struct msg *shared = (struct msg *)m; /* the cache is the mutable part */
    struct msg_frame *f = atomic_load_explicit(&shared->deflated, memory_order_acquire);
    if (!f) {
        struct msg_frame *built = build_deflated(m, level, min_size);
        if (atomic_compare_exchange_strong_explicit(&shared->deflated, &f, built,
                                                    memory_order_acq_rel, memory_order_acquire))
            f = built;
        else if (built != &plain_marker)
            rc_free(built); /* another shard stored its frame first */
    }
    return f == &plain_marker ? NULL : f;
}

void msg_ref(struct msg *m)
{
    atomic_fetch_add_explicit(&m->refs, 1, memory_order_relaxed);
}

void msg_release(struct msg *m)
{
    if (atomic_fetch_sub_explicit(&m->refs, 1, memory_order_acq_rel) == 1) {
        audience_free(m->audience);
        struct msg_frame *f = atomic_load_explicit(&m->deflated, memory_order_relaxed);
        if (f != &plain_marker)
            rc_free(f);
        rc_free(m);
    }
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

const uint8_t *msg_data_json(const struct msg *m, size_t *out_len)
{
    /* full_json is head + ,"data":<payload>} (put_full_json) */
    size_t start = sizeof("{\"event_type\":\"\",\"timestamp\":\"\",\"topic\":\"\",\"seq\":") - 1 +
                   m->event_type_len + MSG_TIMESTAMP_LEN + m->topic_len + u64_digits(m->seq) +
                   sizeof(",\"data\":") - 1;
    *out_len = m->full_json_len - start - 1;
    return m->full_json + start;
}

struct lref *lref_new(struct msg *m)
{
    struct lref *ref = rc_malloc(sizeof(*ref));
    if (!ref)
        return NULL;
    ref->msg = m;
    ref->count = 1;
    ref->dialect_kind = NULL;
    ref->dialect_frame = NULL;
    ref->dialect_frame_len = 0;
    return ref;
}

void lref_put(struct lref *ref)
{
    if (--ref->count == 0) {
        rc_free(ref->dialect_frame);
        msg_release(ref->msg);
        rc_free(ref);
    }
}
