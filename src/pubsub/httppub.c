/* httppub.c: reading a publish from an HTTP request (POST /v1/publish).
 *
 * What the request owns, by slot (fixed, so httppub_free knows how to free
 * each one without remembering the form):
 *
 *   owned[OWNED_STRINGS] the decoded topic, event type and id (JSON form); rc_free
 *   owned[OWNED_QUERY]   the decoded query values (raw form); rc_free
 *
 * The JSON form is read with jsonv (no tree is built): "data" is the
 * payload exactly as written in the body, whatever its numbers' size or
 * precision.
 *
 * Error messages are built from ASCII only: they end up in a JSON error body,
 * and a byte copied from the request could make that body invalid UTF-8. */
#include "pubsub/httppub.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "util/alloc.h"
#include "util/jsonv.h"
#include "pubsub/msg.h"

enum {
    OWNED_STRINGS = 0,
    OWNED_QUERY = 1,
};

/* The same limits as the binary protocol (msg.h: a uint16_t topic length,
 * MSG_MAX_EVENT_TYPE), checked here so that no length is ever truncated. */
#define HTTPPUB_MAX_TOPIC 65535
#define HTTPPUB_MAX_EVENT_TYPE 255
#define HTTPPUB_MAX_ID 255

static const char empty[] = "";

static void set_error(struct httppub_error *err, int status, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static void set_error(struct httppub_error *err, int status, const char *code, const char *fmt, ...)
{
    err->status = status;
    err->code = code;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(err->message, sizeof(err->message), fmt, ap);
    va_end(ap);
    if (n < 0)
        err->message[0] = '\0';
}

/* ascii_copy copies at most |dst_cap|-1 bytes of |src| into |dst| with its
 * NUL, replacing every byte that is not printable ASCII with '?'. */
static void ascii_copy(char *dst, size_t dst_cap, const char *src, size_t src_len)
{
    size_t n = src_len < dst_cap - 1 ? src_len : dst_cap - 1;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)src[i];
        dst[i] = c >= 0x20 && c < 0x7f ? (char)c : '?';
    }
    dst[n] = '\0';
}

static void reset(struct httppub_request *r)
{
    memset(r, 0, sizeof(*r));
    r->topic = empty;
    r->event_type = empty;
    r->msg_id = empty;
    r->payload = (const uint8_t *)empty;
    r->audience = empty;
}

void httppub_free(struct httppub_request *r)
{
    if (r == NULL)
        return;
    if (r->owned[OWNED_STRINGS] != NULL)
        rc_free(r->owned[OWNED_STRINGS]);
    if (r->owned[OWNED_QUERY] != NULL)
        rc_free(r->owned[OWNED_QUERY]);
    reset(r); /* a second httppub_free is harmless */
}

static bool content_type_is_json(const struct http_request *req)
{
    const struct http_header *ct = http_find_header(req, "Content-Type");
    return ct != NULL && msg_content_type_is_json(ct->value, ct->value_len);
}

/* ---- the query ---- */

enum pair_result {
    PAIR_END = 0,
    PAIR_OK,        /* key and value decoded */
    PAIR_BAD_VALUE, /* the key decoded, the value did not */
    PAIR_BAD_KEY,   /* not even the key decoded */
};

/* query_next wraps http_query_next: on a bad pair it decodes the key alone,
 * so that the caller can still tell which parameter was bad. |key| and
 * |value| have room for |cap| bytes; |cap| > |query_len|, so no decoded
 * component is ever too long and a failure always means a bad %-escape or an
 * encoded NUL. */
static enum pair_result query_next(const char *query, size_t query_len, size_t *pos, char *key,
                                   char *value, size_t cap)
{
    size_t start = *pos;
    int rc = http_query_next(query, query_len, pos, key, cap, value, cap);
    if (rc == 0)
        return PAIR_END;
    if (rc == 1)
        return PAIR_OK;
    /* The bad pair is query[start, *pos) after any '&' that lead it. */
    while (start < *pos && query[start] == '&')
        start++;
    const char *pair = query + start;
    size_t pair_len = *pos - start;
    const char *eq = memchr(pair, '=', pair_len);
    size_t key_len = eq != NULL ? (size_t)(eq - pair) : pair_len;
    if (key_len == 0) {
        key[0] = '\0';
        return PAIR_BAD_VALUE; /* an empty key: unknown either way */
    }
    size_t key_pos = 0;
    if (http_query_next(pair, key_len, &key_pos, key, cap, value, cap) != 1)
        return PAIR_BAD_KEY;
    return PAIR_BAD_VALUE;
}

enum query_field {
    FIELD_TOPIC = 0,
    FIELD_EVENT_TYPE,
    FIELD_ID,
    FIELD_COUNT,
};

static const char *const field_names[FIELD_COUNT] = {"topic", "event_type", "id"};
static const size_t field_max[FIELD_COUNT] = {HTTPPUB_MAX_TOPIC, HTTPPUB_MAX_EVENT_TYPE,
                                              HTTPPUB_MAX_ID};

static int field_of(const char *key)
{
    for (int f = 0; f < FIELD_COUNT; f++)
        if (strcmp(key, field_names[f]) == 0)
            return f;
    return -1;
}

/* query_has_topic reports whether some parameter of the query is named
 * "topic" (even one whose value is bad: that is a bad raw-form publish, not
 * a JSON-form one). |scratch| holds 2 * (query_len + 1) bytes. */
static bool query_has_topic(const char *query, size_t query_len, char *scratch)
{
    size_t cap = query_len + 1;
    char *key = scratch;
    char *value = scratch + cap;
    size_t pos = 0;
    for (;;) {
        enum pair_result pr = query_next(query, query_len, &pos, key, value, cap);
        if (pr == PAIR_END)
            return false;
        if ((pr == PAIR_OK || pr == PAIR_BAD_VALUE) && strcmp(key, "topic") == 0)
            return true;
    }
}

/* parse_query decodes the raw form's query into |out|. |buf| holds
 * 3 * (query_len + 1) bytes: key and value scratch, then the kept values
 * (their total never exceeds the query's length). */
static int parse_query(struct httppub_request *out, const char *query, size_t query_len, char *buf,
                       struct httppub_error *err)
{
    size_t cap = query_len + 1;
    char *key = buf;
    char *value = buf + cap;
    char *kept = buf + 2 * cap;
    size_t kept_len = 0;
    const char *field_ptr[FIELD_COUNT] = {empty, empty, empty};
    size_t field_len[FIELD_COUNT] = {0, 0, 0};
    bool seen[FIELD_COUNT] = {false, false, false};
    size_t pos = 0;
    for (;;) {
        enum pair_result pr = query_next(query, query_len, &pos, key, value, cap);
        if (pr == PAIR_END)
            break;
        if (pr == PAIR_BAD_KEY) {
            set_error(err, 422, "bad_request",
                      "a query parameter name has a bad %%-escape or encodes a NUL byte");
            return -1;
        }
        if (strcmp(key, "token") == 0) {
            if (pr == PAIR_BAD_VALUE) {
                set_error(err, 422, "bad_request",
                          "\"token\" in the query has a bad %%-escape or encodes a NUL byte");
                return -1;
            }
            continue; /* the caller's: authentication (auth.h) */
        }
        int f = field_of(key);
        if (f < 0) {
            char shown[41];
            ascii_copy(shown, sizeof(shown), key, strlen(key));
            set_error(err, 422, "bad_request",
                      "unknown query parameter \"%s\" (expected topic, event_type or id)", shown);
            return -1;
        }
        if (seen[f]) {
            set_error(err, 422, "bad_request", "\"%s\" appears more than once in the query",
                      field_names[f]);
            return -1;
        }
        seen[f] = true;
        if (pr == PAIR_BAD_VALUE) {
            set_error(err, 422, "bad_request",
                      "\"%s\" in the query has a bad %%-escape or encodes a NUL byte",
                      field_names[f]);
            return -1;
        }
        size_t len = strlen(value);
        if (len > field_max[f]) {
            set_error(err, 422, "bad_request", "\"%s\" is longer than %zu bytes", field_names[f],
                      field_max[f]);
            return -1;
        }
        if (len > cap - kept_len) { /* cannot happen: values come from disjoint pairs */
            set_error(err, 422, "bad_request", "the query is malformed");
            return -1;
        }
        memcpy(kept + kept_len, value, len);
        field_ptr[f] = len > 0 ? kept + kept_len : empty;
        field_len[f] = len;
        kept_len += len;
    }
    if (field_len[FIELD_TOPIC] == 0) {
        /* Also reached when "topic" was absent, which the caller rules out. */
        set_error(err, 422, "bad_request", "\"topic\" must not be empty");
        return -1;
    }
    out->topic = field_ptr[FIELD_TOPIC];
    out->topic_len = field_len[FIELD_TOPIC];
    out->event_type = field_ptr[FIELD_EVENT_TYPE];
    out->event_type_len = field_len[FIELD_EVENT_TYPE];
    out->msg_id = field_ptr[FIELD_ID];
    out->msg_id_len = field_len[FIELD_ID];
    return 0;
}

static int parse_raw(struct httppub_request *out, const struct http_request *req,
                     const uint8_t *body, size_t body_len, char *buf, struct httppub_error *err)
{
    if (parse_query(out, req->query, req->query_len, buf, err) != 0)
        return -1;
    out->payload_is_json = content_type_is_json(req);
    out->payload_is_valid_json = false;
    out->payload = body != NULL ? body : (const uint8_t *)empty;
    out->payload_len = body != NULL ? body_len : 0;
    return 0;
}

/* ---- the JSON form ---- */

/* The members of the body this form looks at. */
enum {
    MEMBER_TOPIC,
    MEMBER_TOPIC_ID, /* lambda-websocket-pubsub's name for the topic */
    MEMBER_EVENT_TYPE,
    MEMBER_ID,
    MEMBER_DATA,
    MEMBER_AUDIENCE,
    MEMBER_COUNT
};

static const char *const member_names[MEMBER_COUNT] = {"topic", "topicId", "event_type",
                                                       "id",    "data",    "audience"};

struct body_members {
    struct jsonv_member m[MEMBER_COUNT];
    bool seen[MEMBER_COUNT];
    int duplicate; /* a member given twice, or -1 */
};

static void note_member(void *ctx, const struct jsonv_member *m)
{
    struct body_members *b = ctx;
    for (int i = 0; i < MEMBER_COUNT; i++) {
        if (!jsonv_key_is(m, member_names[i]))
            continue;
        if (b->seen[i])
            b->duplicate = i;
        b->m[i] = *m;
        b->seen[i] = true;
    }
}

/* take_string decodes the string member |i| (absent or null: empty, when
 * |optional|) into |*buf| and sets |*out|, |*out_len|. */
static int take_string(const struct body_members *b, int i, bool optional, size_t max_len,
                       char **buf, const char **out, size_t *out_len, struct httppub_error *err)
{
    const char *name = member_names[i];
    if (!b->seen[i] || b->m[i].type == JSONV_NULL) {
        if (optional) {
            *out = empty;
            *out_len = 0;
            return 0;
        }
        set_error(err, 422, "bad_request",
                  b->seen[i] ? "\"%s\" must be a string" : "\"%s\" is required", name);
        return -1;
    }
    if (b->m[i].type != JSONV_STRING) {
        set_error(err, 422, "bad_request", "\"%s\" must be a string", name);
        return -1;
    }
    /* Decoded text is never longer than the escaped text between the quotes. */
    long len =
        jsonv_unescape(b->m[i].value + 1, b->m[i].value_len - 2, *buf, b->m[i].value_len - 2);
    if (len < 0 || (size_t)len > max_len) {
        set_error(err, 422, "bad_request", "\"%s\" is longer than %zu bytes", name, max_len);
        return -1;
    }
    *out = len > 0 ? *buf : empty;
    *out_len = (size_t)len;
    *buf += len;
    return 0;
}

static int read_object(struct httppub_request *out, const uint8_t *body, size_t body_len,
                       struct httppub_error *err)
{
    if (body == NULL)
        body = (const uint8_t *)empty;
    if (!jsonv_valid(body, body_len)) {
        set_error(err, 400, "bad_json", "the body is not valid JSON (RFC 8259)");
        return -1;
    }
    struct body_members b = {.duplicate = -1};
    if (!jsonv_each_member(body, body_len, note_member, &b)) {
        set_error(err, 422, "bad_request", "the body must be a JSON object");
        return -1;
    }
    if (b.duplicate >= 0) {
        set_error(err, 400, "bad_json", "the body has \"%s\" twice", member_names[b.duplicate]);
        return -1;
    }
    size_t strings_len = 1;
    for (int i = 0; i < MEMBER_DATA; i++)
        strings_len += b.seen[i] ? b.m[i].value_len : 0;
    char *buf = rc_malloc(strings_len);
    if (!buf) {
        set_error(err, 500, "internal_error", "out of memory while reading the body");
        return -1;
    }
    out->owned[OWNED_STRINGS] = buf;
    if (b.seen[MEMBER_TOPIC] && b.seen[MEMBER_TOPIC_ID]) {
        set_error(err, 422, "bad_request", "give \"topic\" or \"topicId\", not both");
        return -1;
    }
    if (!b.seen[MEMBER_TOPIC] && !b.seen[MEMBER_TOPIC_ID]) {
        set_error(err, 422, "bad_request", "\"topic\" (or \"topicId\") is required");
        return -1;
    }
    int topic_member = b.seen[MEMBER_TOPIC] ? MEMBER_TOPIC : MEMBER_TOPIC_ID;
    if (take_string(&b, topic_member, false, HTTPPUB_MAX_TOPIC, &buf, &out->topic, &out->topic_len,
                    err) != 0)
        return -1;
    if (!b.seen[MEMBER_DATA]) {
        set_error(err, 422, "bad_request", "\"data\" is required");
        return -1;
    }
    if (take_string(&b, MEMBER_EVENT_TYPE, true, HTTPPUB_MAX_EVENT_TYPE, &buf, &out->event_type,
                    &out->event_type_len, err) != 0 ||
        take_string(&b, MEMBER_ID, true, HTTPPUB_MAX_ID, &buf, &out->msg_id, &out->msg_id_len,
                    err) != 0)
        return -1;
    if (b.seen[MEMBER_AUDIENCE] && b.m[MEMBER_AUDIENCE].type != JSONV_NULL) {
        if (b.m[MEMBER_AUDIENCE].type != JSONV_OBJECT) {
            set_error(err, 422, "bad_request", "\"audience\" must be an object");
            return -1;
        }
        out->audience = (const char *)b.m[MEMBER_AUDIENCE].value;
        out->audience_len = b.m[MEMBER_AUDIENCE].value_len;
    }
    out->payload = b.m[MEMBER_DATA].value;
    out->payload_len = b.m[MEMBER_DATA].value_len;
    out->payload_is_json = true;
    out->payload_is_valid_json = true; /* checked as part of the body */
    return 0;
}

static int parse_json(struct httppub_request *out, const struct http_request *req,
                      const uint8_t *body, size_t body_len, struct httppub_error *err)
{
    if (!content_type_is_json(req)) {
        set_error(err, 415, "unsupported_media_type",
                  "the body must be JSON (Content-Type application/json), "
                  "or name the topic in the query");
        return -1;
    }
    return read_object(out, body, body_len, err);
}

int httppub_parse_object(struct httppub_request *out, const uint8_t *text, size_t len,
                         struct httppub_error *err)
{
    reset(out);
    err->status = 0;
    err->code = NULL;
    err->message[0] = '\0';
    int rc = read_object(out, text, len, err);
    if (rc != 0)
        httppub_free(out);
    return rc;
}

int httppub_parse(struct httppub_request *out, const struct http_request *req, const uint8_t *body,
                  size_t body_len, struct httppub_error *err)
{
    reset(out);
    err->status = 0;
    err->code = NULL;
    err->message[0] = '\0';

    /* The decoded query never outgrows the query: key and value scratch,
     * then the kept values, each query_len + 1 bytes. */
    char *buf = NULL;
    bool raw = false;
    if (req->query != NULL && req->query_len > 0) {
        size_t cap = req->query_len + 1;
        buf = rc_malloc(3 * cap);
        if (buf == NULL) {
            set_error(err, 500, "internal_error", "out of memory while reading the query");
            return -1;
        }
        out->owned[OWNED_QUERY] = buf;
        raw = query_has_topic(req->query, req->query_len, buf);
        if (!raw) {
            rc_free(buf); /* the JSON form does not look at the query again */
            out->owned[OWNED_QUERY] = NULL;
        }
    }
    int rc = raw ? parse_raw(out, req, body, body_len, buf, err)
                 : parse_json(out, req, body, body_len, err);
    if (rc != 0)
        httppub_free(out);
    return rc;
}
