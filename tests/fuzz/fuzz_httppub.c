/* fuzz_httppub.c: libFuzzer target for reading a publish from an HTTP
 * request (src/pubsub/httppub.c).
 *
 * The input is a request head and a body: it is split at the first CRLF CRLF,
 * the head is parsed with fixed limits, and when it parses the rest is read as
 * the publish's body. Head and body are copied into heap buffers of exactly
 * their lengths, so a read past either is caught. Then the contract is
 * checked:
 *   - a failure carries 400, 415 or 422 with the matching code and a short
 *     ASCII message, and leaves nothing owned;
 *   - a success respects the length limits, and every string lies inside
 *     the body, inside the query, or in memory the request owns (every byte
 *     is read, so AddressSanitizer checks the rest);
 *   - the JSON form agrees with an independent parse of the body (same
 *     topic, event type and id; the payload parses to a value equal to
 *     "data"); the raw form's payload is the body itself and its topic is
 *     the query's decoded "topic";
 *   - httppub_free releases everything (LeakSanitizer) and may run twice. */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "pubsub/httppub.h"
#include "util/jsonv.h"
#include "pubsub/msg.h"

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond))                                                                               \
            abort();                                                                               \
    } while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const struct http_limits fuzz_limits = {
    .max_head_bytes = 4096,
    .max_target_bytes = 1024,
    .max_headers = 16,
};

static volatile unsigned sink;

static bool lies_inside(const void *p, size_t len, const void *base, size_t base_len)
{
    if (p == NULL || base == NULL)
        return false;
    uintptr_t start = (uintptr_t)p;
    uintptr_t lo = (uintptr_t)base;
    return start >= lo && start - lo <= base_len && len <= base_len - (start - lo);
}

/* touch reads every byte, so that ASan checks the whole span. */
static void touch(const void *p, size_t len)
{
    const uint8_t *b = p;
    unsigned sum = 0;
    for (size_t i = 0; i < len; i++)
        sum += b[i];
    sink = sum;
}

static void check_span(const struct httppub_request *r, const void *p, size_t len,
                       const uint8_t *body, size_t body_len, const struct http_request *req)
{
    CHECK(p != NULL);
    if (len == 0)
        return;
    bool owned =
        r->owned[0] != NULL || r->owned[1] != NULL || r->owned[2] != NULL || r->owned[3] != NULL;
    CHECK(lies_inside(p, len, body, body_len) || lies_inside(p, len, req->query, req->query_len) ||
          owned);
    touch(p, len);
}

static bool span_equals_string(const char *p, size_t len, const json_t *v)
{
    if (v == NULL || json_is_null(v))
        return len == 0;
    if (!json_is_string(v))
        return false;
    return json_string_length(v) == len && memcmp(json_string_value(v), p, len) == 0;
}

static void check_json_form(const struct httppub_request *r, const uint8_t *body, size_t body_len)
{
    CHECK(r->payload_is_json && r->payload_is_valid_json);
    /* "data" exactly as written: inside the body, and JSON by itself. */
    CHECK(lies_inside(r->payload, r->payload_len, body, body_len));
    CHECK(jsonv_valid(r->payload, r->payload_len));
    /* Where jansson reads the body too (it refuses numbers beyond its range
     * and unpaired surrogate escapes, which are JSON), both agree. */
    json_t *root = json_loadb((const char *)body, body_len, JSON_DECODE_ANY | JSON_ALLOW_NUL, NULL);
    if (!root)
        return;
    CHECK(json_is_object(root));
    /* The topic is "topic" or, never beside it, "topicId" (the alias). */
    json_t *topic = json_object_get(root, "topic");
    json_t *topic_id = json_object_get(root, "topicId");
    CHECK(!(topic && topic_id));
    CHECK(span_equals_string(r->topic, r->topic_len, topic ? topic : topic_id));
    CHECK(
        span_equals_string(r->event_type, r->event_type_len, json_object_get(root, "event_type")));
    CHECK(span_equals_string(r->msg_id, r->msg_id_len, json_object_get(root, "id")));
    json_t *payload = json_loadb((const char *)r->payload, r->payload_len,
                                 JSON_DECODE_ANY | JSON_ALLOW_NUL, NULL);
    CHECK(payload != NULL);
    CHECK(json_equal(payload, json_object_get(root, "data")));
    json_decref(payload);
    json_decref(root);
}

static void check_raw_form(const struct httppub_request *r, const struct http_request *req,
                           const uint8_t *body, size_t body_len)
{
    CHECK(r->payload == body && r->payload_len == body_len);
    CHECK(!r->payload_is_valid_json);
    const struct http_header *ct = http_find_header(req, "Content-Type");
    CHECK(r->payload_is_json == (ct != NULL && msg_content_type_is_json(ct->value, ct->value_len)));
    CHECK(r->topic_len > 0);
    /* The topic is the query's one "topic", decoded. */
    CHECK(req->query != NULL);
    size_t cap = req->query_len + 1;
    char *key = malloc(cap);
    char *value = malloc(cap);
    CHECK(key != NULL && value != NULL);
    size_t pos = 0;
    int topics = 0;
    int rc;
    while ((rc = http_query_next(req->query, req->query_len, &pos, key, cap, value, cap)) != 0) {
        CHECK(rc == 1); /* the raw form accepts only a query that decodes */
        if (strcmp(key, "topic") == 0) {
            topics++;
            CHECK(strlen(value) == r->topic_len && memcmp(value, r->topic, r->topic_len) == 0);
        }
    }
    CHECK(topics == 1);
    free(key);
    free(value);
}

static void check_error(const struct httppub_request *r, const struct httppub_error *err,
                        const struct http_request *req, const uint8_t *body, size_t body_len)
{
    CHECK(err->code != NULL);
    switch (err->status) {
    case 400:
        CHECK(strcmp(err->code, "bad_json") == 0);
        break;
    case 415:
        CHECK(strcmp(err->code, "unsupported_media_type") == 0);
        break;
    case 422:
        CHECK(strcmp(err->code, "bad_request") == 0);
        break;
    default:
        CHECK(false); /* 500 only when memory runs out */
    }
    size_t n = strnlen(err->message, sizeof(err->message));
    CHECK(n > 0 && n < sizeof(err->message));
    for (size_t i = 0; i < n; i++)
        CHECK((unsigned char)err->message[i] >= 0x20 && (unsigned char)err->message[i] < 0x7f);
    for (size_t i = 0; i < 4; i++)
        CHECK(r->owned[i] == NULL);
    if (err->status == 400 && !memchr(body, 0, body_len)) {
        /* Only the JSON form parses the body, and then the body is not JSON
         * (or names a field twice), which jansson agrees with, except on a
         * raw NUL byte, where jansson stops reading as if the text ended. */
        json_t *root = json_loadb((const char *)body, body_len,
                                  JSON_REJECT_DUPLICATES | JSON_DECODE_ANY | JSON_ALLOW_NUL, NULL);
        CHECK(root == NULL);
    }
    if (err->status == 415) {
        const struct http_header *ct = http_find_header(req, "Content-Type");
        CHECK(ct == NULL || !msg_content_type_is_json(ct->value, ct->value_len));
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const uint8_t *end = memmem(data, size, "\r\n\r\n", 4);
    if (end == NULL)
        return 0;
    size_t head_len = (size_t)(end - data) + 4;
    size_t body_len = size - head_len;
    char *head = malloc(head_len);
    uint8_t *body = malloc(body_len > 0 ? body_len : 1);
    CHECK(head != NULL && body != NULL);
    memcpy(head, data, head_len);
    memcpy(body, data + head_len, body_len);

    struct http_request req;
    int consumed = http_parse_request(&req, head, head_len, &fuzz_limits);
    if (consumed < 0)
        goto out;
    CHECK((size_t)consumed == head_len);

    struct httppub_request r;
    struct httppub_error err;
    int rc = httppub_parse(&r, &req, body, body_len, &err);
    CHECK(rc == 0 || rc == -1);
    if (rc == 0) {
        CHECK(r.topic_len <= 65535 && r.event_type_len <= 255 && r.msg_id_len <= 255);
        check_span(&r, r.topic, r.topic_len, body, body_len, &req);
        check_span(&r, r.event_type, r.event_type_len, body, body_len, &req);
        check_span(&r, r.msg_id, r.msg_id_len, body, body_len, &req);
        check_span(&r, r.payload, r.payload_len, body, body_len, &req);
        if (r.payload_is_valid_json) /* the JSON form */
            check_json_form(&r, body, body_len);
        else
            check_raw_form(&r, &req, body, body_len);
    } else {
        check_error(&r, &err, &req, body, body_len);
    }
    httppub_free(&r);
    for (size_t i = 0; i < 4; i++)
        CHECK(r.owned[i] == NULL);
    httppub_free(&r);
out:
    free(head);
    free(body);
    return 0;
}
