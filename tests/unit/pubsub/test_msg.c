/* test_msg.c: unit tests for src/pubsub/msg.h (event message and its frame) and
 * src/util/jsonw.h (JSON string escaping). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <inttypes.h>
#include <jansson.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/jsonw.h"
#include "pubsub/msg.h"
#include "proto/wsdeflate.h"

/* No truncation: every payload is delivered whole. */
static const struct msg_policy deliver_whole = {UINT64_MAX, TRUNCATE_STUB};

#define TS0 "1970-01-01T00:00:00.000000Z"
#define T_2026 1768905000123456LL
#define TS_2026 "2026-01-20T10:30:00.123456Z"

static struct msg_input input(const char *topic, const char *event_type, bool is_json,
                              const void *payload, size_t payload_len)
{
    struct msg_input in = {
        .topic = topic,
        .topic_len = strlen(topic),
        .topic_hash = 0x1234,
        .event_type = event_type,
        .event_type_len = strlen(event_type),
        .payload_is_json = is_json,
        .payload = payload,
        .payload_len = payload_len,
    };
    return in;
}

/* frame_check verifies the WebSocket header in front of the JSON: a FIN
 * text frame, unmasked, whose length field is the JSON's length in its
 * shortest form. Returns the JSON length. */
static size_t frame_check(const struct msg *m)
{
    const uint8_t *f = m->ws_frame;
    assert_true(m->ws_frame_len >= 2);
    assert_int_equal(f[0], 0x81); /* FIN, RSV 0, opcode text */
    assert_int_equal(f[1] & 0x80, 0);
    uint64_t len7 = f[1] & 0x7f;
    size_t header_len;
    uint64_t payload_len;
    if (len7 < 126) {
        header_len = 2;
        payload_len = len7;
    } else if (len7 == 126) {
        header_len = 4;
        payload_len = ((uint64_t)f[2] << 8) | f[3];
        assert_true(payload_len >= 126); /* shortest form */
    } else {
        header_len = 10;
        payload_len = 0;
        for (int i = 0; i < 8; i++)
            payload_len = (payload_len << 8) | f[2 + i];
        assert_true(payload_len > 65535);
        assert_int_equal(f[2] & 0x80, 0);
    }
    assert_int_equal((size_t)(m->full_json - m->ws_frame), header_len);
    assert_int_equal(m->ws_frame_len, header_len + payload_len);
    return (size_t)payload_len;
}

static const char *json_part(const struct msg *m)
{
    return (const char *)m->ws_frame + (size_t)(m->full_json - m->ws_frame);
}

static size_t json_len(const struct msg *m)
{
    return m->ws_frame_len - (size_t)(m->full_json - m->ws_frame);
}

/* expect_json compares the event JSON with |want| byte for byte. */
static void expect_json(const struct msg *m, const char *want, size_t want_len)
{
    if (json_len(m) != want_len || memcmp(json_part(m), want, want_len) != 0)
        fail_msg("event JSON differs:\n got  %.*s\n want %.*s", (int)json_len(m), json_part(m),
                 (int)want_len, want);
}

static json_t *parse_event(const struct msg *m)
{
    json_error_t err;
    json_t *root =
        json_loadb(json_part(m), json_len(m), JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL, &err);
    if (!root)
        fail_msg("event JSON does not parse: %s at %d", err.text, err.position);
    assert_true(json_is_object(root));
    assert_int_equal(json_object_size(root), 5);
    return root;
}

static void test_event_fields_json_payload(void **state)
{
    static const char payload[] = "{\"job\":7,\"ok\":true,\"list\":[1,2,3]}";
    struct msg_input in = input("jobs:7", "job.done", true, payload, strlen(payload));
    struct msg *m = msg_new(&in, &deliver_whole, 42, T_2026, 1);
    assert_non_null(m);
    size_t len = frame_check(m);
    assert_int_equal(len, json_len(m));

    char want[512];
    int n = snprintf(want, sizeof(want),
                     "{\"event_type\":\"job.done\",\"timestamp\":\"" TS_2026
                     "\",\"topic\":\"jobs:7\",\"seq\":42,\"data\":%s}",
                     payload);
    expect_json(m, want, (size_t)n);

    json_t *root = parse_event(m);
    assert_string_equal(json_string_value(json_object_get(root, "event_type")), "job.done");
    assert_string_equal(json_string_value(json_object_get(root, "timestamp")), TS_2026);
    assert_string_equal(json_string_value(json_object_get(root, "topic")), "jobs:7");
    assert_true(json_is_integer(json_object_get(root, "seq")));
    assert_int_equal(json_integer_value(json_object_get(root, "seq")), 42);
    json_t *data = json_object_get(root, "data");
    assert_true(json_is_object(data));
    assert_int_equal(json_integer_value(json_object_get(data, "job")), 7);
    assert_true(json_is_true(json_object_get(data, "ok")));
    assert_int_equal(json_array_size(json_object_get(data, "list")), 3);
    json_decref(root);

    /* The metadata is kept too. */
    assert_string_equal(m->topic, "jobs:7");
    assert_int_equal(m->topic_len, 6);
    assert_string_equal(m->event_type, "job.done");
    assert_int_equal(m->event_type_len, 8);
    assert_int_equal(m->topic_hash, 0x1234);
    assert_int_equal(m->seq, 42);
    assert_int_equal(m->time_us, T_2026);
    assert_int_equal(atomic_load(&m->refs), 1);
    msg_release(m);
}

/* The JSON payload is embedded as it is: not re-serialized, whitespace and
 * number formatting kept. */
static void test_json_payload_verbatim(void **state)
{
    static const char *const payloads[] = {
        "null", "0", "-1.50e+10", "\"str\\u00e9\"", "[ 1 , 2 ]", "{ \"a\" : { } }", "true",
    };
    for (size_t i = 0; i < sizeof(payloads) / sizeof(payloads[0]); i++) {
        struct msg_input in = input("t", "e", true, payloads[i], strlen(payloads[i]));
        struct msg *m = msg_new(&in, &deliver_whole, 1, 0, 1);
        assert_non_null(m);
        frame_check(m);
        char want[256];
        int n = snprintf(want, sizeof(want),
                         "{\"event_type\":\"e\",\"timestamp\":\"" TS0
                         "\",\"topic\":\"t\",\"seq\":1,\"data\":%s}",
                         payloads[i]);
        expect_json(m, want, (size_t)n);
        json_decref(parse_event(m));
        msg_release(m);
    }
}

static void test_text_payload_escaped(void **state)
{
    /* Quotes, backslashes, every control character, DEL, '/', and UTF-8
     * multibyte characters (2, 3 and 4 bytes) which are kept as they are. */
    uint8_t payload[128];
    size_t n = 0;
    const char *head = "say \"hi\" \\ /path\x7f caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80 ";
    memcpy(payload, head, strlen(head));
    n = strlen(head);
    for (int c = 0; c < 0x20; c++)
        payload[n++] = (uint8_t)c;
    payload[n++] = '!';

    struct msg_input in = input("a.b", "", false, payload, n);
    struct msg *m = msg_new(&in, &deliver_whole, 7, 0, 1);
    assert_non_null(m);
    frame_check(m);

    static const char want_data[] =
        "\"say \\\"hi\\\" \\\\ /path\x7f caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80 "
        "\\u0000\\u0001\\u0002\\u0003\\u0004\\u0005\\u0006\\u0007\\b\\t\\n\\u000b\\f\\r"
        "\\u000e\\u000f\\u0010\\u0011\\u0012\\u0013\\u0014\\u0015\\u0016\\u0017\\u0018"
        "\\u0019\\u001a\\u001b\\u001c\\u001d\\u001e\\u001f!\"";
    char want[1024];
    int wn = snprintf(want, sizeof(want),
                      "{\"event_type\":\"message\",\"timestamp\":\"" TS0
                      "\",\"topic\":\"a.b\",\"seq\":7,\"data\":%s}",
                      want_data);
    expect_json(m, want, (size_t)wn);

    /* A JSON parser gets the original bytes back. */
    json_t *root = parse_event(m);
    json_t *data = json_object_get(root, "data");
    assert_true(json_is_string(data));
    assert_int_equal(json_string_length(data), n);
    assert_memory_equal(json_string_value(data), payload, n);
    json_decref(root);
    msg_release(m);
}

static void test_text_payload_json_looking(void **state)
{
    /* Text that looks like JSON is still a string. */
    static const char payload[] = "{\"a\":1}";
    struct msg_input in = input("t", "e", false, payload, strlen(payload));
    struct msg *m = msg_new(&in, &deliver_whole, 1, 0, 1);
    assert_non_null(m);
    json_t *root = parse_event(m);
    assert_true(json_is_string(json_object_get(root, "data")));
    assert_string_equal(json_string_value(json_object_get(root, "data")), payload);
    json_decref(root);

    /* An empty text payload is an empty string. */
    struct msg_input empty = input("t", "e", false, "", 0);
    struct msg *m2 = msg_new(&empty, &deliver_whole, 1, 0, 1);
    assert_non_null(m2);
    frame_check(m2);
    root = parse_event(m2);
    assert_string_equal(json_string_value(json_object_get(root, "data")), "");
    json_decref(root);
    msg_release(m2);
    msg_release(m);
}

static void test_default_event_type(void **state)
{
    struct msg_input in = input("t", "", true, "1", 1);
    struct msg *m = msg_new(&in, &deliver_whole, 1, 0, 1);
    assert_non_null(m);
    assert_string_equal(m->event_type, MSG_DEFAULT_EVENT_TYPE);
    assert_string_equal(m->event_type, "message");
    assert_int_equal(m->event_type_len, 7);
    json_t *root = parse_event(m);
    assert_string_equal(json_string_value(json_object_get(root, "event_type")), "message");
    json_decref(root);
    msg_release(m);

    /* The longest valid event type (255) is kept whole. */
    char type[MSG_MAX_EVENT_TYPE + 1];
    memset(type, 'x', MSG_MAX_EVENT_TYPE);
    type[MSG_MAX_EVENT_TYPE] = '\0';
    in = input("t", type, true, "1", 1);
    m = msg_new(&in, &deliver_whole, 1, 0, 1);
    assert_non_null(m);
    assert_int_equal(m->event_type_len, MSG_MAX_EVENT_TYPE);
    assert_string_equal(m->event_type, type);
    root = parse_event(m);
    assert_string_equal(json_string_value(json_object_get(root, "event_type")), type);
    json_decref(root);
    msg_release(m);
}

static void test_seq_digits(void **state)
{
    static const struct {
        uint64_t seq;
        const char *text;
    } cases[] = {
        {0, "0"},
        {1, "1"},
        {9, "9"},
        {10, "10"},
        {99, "99"},
        {100, "100"},
        {4294967296ull, "4294967296"},
        {9999999999999999999ull, "9999999999999999999"},
        {10000000000000000000ull, "10000000000000000000"},
        {UINT64_MAX, "18446744073709551615"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct msg_input in = input("t", "e", true, "{}", 2);
        struct msg *m = msg_new(&in, &deliver_whole, cases[i].seq, 0, 1);
        assert_non_null(m);
        frame_check(m);
        char want[256];
        int n = snprintf(want, sizeof(want),
                         "{\"event_type\":\"e\",\"timestamp\":\"" TS0
                         "\",\"topic\":\"t\",\"seq\":%s,\"data\":{}}",
                         cases[i].text);
        expect_json(m, want, (size_t)n);
        assert_int_equal(m->seq, cases[i].seq);
        msg_release(m);
    }
}

/* Frames whose JSON is just below, at and above each header-size boundary
 * (125/126 and 65535/65536 bytes). */
static void test_frame_header_sizes(void **state)
{
    /* The JSON length with a payload of "" (two quote bytes). */
    struct msg_input probe = input("topic", "e", true, "\"\"", 2);
    struct msg *pm = msg_new(&probe, &deliver_whole, 1, 0, 1);
    assert_non_null(pm);
    size_t overhead = json_len(pm) - 2;
    msg_release(pm);

    static const size_t targets[] = {0, 100, 125, 126, 127, 1000, 65535, 65536, 65537, 200000};
    char *buf = malloc(200000);
    assert_non_null(buf);
    for (size_t i = 0; i < sizeof(targets) / sizeof(targets[0]); i++) {
        size_t target = targets[i];
        if (target < overhead + 2)
            target = overhead + 2; /* smallest possible */
        size_t payload_len = target - overhead;
        buf[0] = '"';
        memset(buf + 1, 'p', payload_len - 2);
        buf[payload_len - 1] = '"';
        struct msg_input in = input("topic", "e", true, buf, payload_len);
        struct msg *m = msg_new(&in, &deliver_whole, 1, 0, 1);
        assert_non_null(m);
        size_t len = frame_check(m);
        assert_int_equal(len, target);
        size_t want_header = target < 126 ? 2 : target <= 65535 ? 4 : 10;
        assert_int_equal((size_t)(m->full_json - m->ws_frame), want_header);
        json_t *root = parse_event(m);
        assert_int_equal(json_string_length(json_object_get(root, "data")), payload_len - 2);
        json_decref(root);
        msg_release(m);
    }
    free(buf);
}

/* A large text payload that grows six-fold when escaped. */
static void test_large_escaped_payload(void **state)
{
    size_t n = 30000;
    uint8_t *payload = malloc(n);
    assert_non_null(payload);
    for (size_t i = 0; i < n; i++)
        payload[i] = (uint8_t)(i % 3 == 0 ? 0x01 : i % 3 == 1 ? '"' : 'z');
    struct msg_input in = input("big", "e", false, payload, n);
    struct msg *m = msg_new(&in, &deliver_whole, 5, 0, 1);
    assert_non_null(m);
    size_t len = frame_check(m);
    assert_true(len > 65535);
    json_t *root = parse_event(m);
    json_t *data = json_object_get(root, "data");
    assert_int_equal(json_string_length(data), n);
    assert_memory_equal(json_string_value(data), payload, n);
    json_decref(root);
    msg_release(m);
    free(payload);
}

static void test_timestamp_format(void **state)
{
    static const struct {
        int64_t us;
        const char *text;
    } cases[] = {
        {0, TS0},
        {1, "1970-01-01T00:00:00.000001Z"},
        {999999, "1970-01-01T00:00:00.999999Z"},
        {1000000, "1970-01-01T00:00:01.000000Z"},
        {T_2026, TS_2026},
        {1768905000000000LL, "2026-01-20T10:30:00.000000Z"},
        {946684799999999LL, "1999-12-31T23:59:59.999999Z"},
        {946684800000000LL, "2000-01-01T00:00:00.000000Z"},
        {1709251199500000LL, "2024-02-29T23:59:59.500000Z"},
        {4102444800000001LL, "2100-01-01T00:00:00.000001Z"},
        {253402300799999999LL, "9999-12-31T23:59:59.999999Z"},
    };
    char out[MSG_TIMESTAMP_LEN + 1];
    /* Twice, in both orders: a per-second cache must never return another
     * second's text. */
    for (int round = 0; round < 2; round++) {
        for (size_t k = 0; k < sizeof(cases) / sizeof(cases[0]); k++) {
            size_t i = round == 0 ? k : sizeof(cases) / sizeof(cases[0]) - 1 - k;
            memset(out, '#', sizeof(out));
            msg_format_timestamp(out, cases[i].us);
            assert_int_equal(strlen(out), MSG_TIMESTAMP_LEN);
            assert_string_equal(out, cases[i].text);
        }
    }
    /* Same second, different microseconds, then back. */
    msg_format_timestamp(out, 1768905000000001LL);
    assert_string_equal(out, "2026-01-20T10:30:00.000001Z");
    msg_format_timestamp(out, 1768905001000001LL);
    assert_string_equal(out, "2026-01-20T10:30:01.000001Z");
    msg_format_timestamp(out, 1768905000999999LL);
    assert_string_equal(out, "2026-01-20T10:30:00.999999Z");
}

static void test_timestamp_in_event(void **state)
{
    int64_t times[] = {0, T_2026, T_2026 + 1, T_2026 + 1000000, 0};
    for (size_t i = 0; i < sizeof(times) / sizeof(times[0]); i++) {
        struct msg_input in = input("t", "e", true, "1", 1);
        struct msg *m = msg_new(&in, &deliver_whole, 1, times[i], 1);
        assert_non_null(m);
        char want[MSG_TIMESTAMP_LEN + 1];
        msg_format_timestamp(want, times[i]);
        json_t *root = parse_event(m);
        assert_string_equal(json_string_value(json_object_get(root, "timestamp")), want);
        json_decref(root);
        msg_release(m);
    }
}

static void test_event_type_valid(void **state)
{
    assert_true(msg_event_type_valid("a", 1));
    assert_true(msg_event_type_valid("job.done", 8));
    assert_true(msg_event_type_valid("A-Z_a-z.0:9/x", 13));
    assert_false(msg_event_type_valid("", 0));
    assert_false(msg_event_type_valid("a b", 3));
    assert_false(msg_event_type_valid("a\"b", 3));
    assert_false(msg_event_type_valid("a\\b", 3));
    assert_false(msg_event_type_valid("caf\xc3\xa9", 5));
    assert_false(msg_event_type_valid("a\0b", 3));
    assert_false(msg_event_type_valid("a*", 2));
    assert_false(msg_event_type_valid("a@b", 3));
    assert_false(msg_event_type_valid("a\n", 2));
    char buf[300];
    memset(buf, 'e', sizeof(buf));
    assert_true(msg_event_type_valid(buf, 255));
    assert_false(msg_event_type_valid(buf, 256));
    assert_false(msg_event_type_valid(buf, 300));
    /* Every byte alone. */
    for (int c = 0; c < 256; c++) {
        char one = (char)c;
        bool want = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '_' || c == '-' || c == '.' || c == ':' || c == '/';
        if (msg_event_type_valid(&one, 1) != want)
            fail_msg("event type byte 0x%02x: want %d", c, want);
    }
}

static void test_content_type_is_json(void **state)
{
    static const struct {
        const char *type;
        bool json;
    } cases[] = {
        {"application/json", true},
        {"application/json; charset=utf-8", true},
        {"application/json;charset=UTF-8", true},
        {"APPLICATION/JSON", true},
        {"Application/Json", true},
        {"application/json ", true},
        {" application/json", true},
        {"\tapplication/json ; charset=utf-8", true},
        {"application/json\t; x=y", true},
        {"application/ld+json", true},
        {"application/vnd.api+json", true},
        {"application/problem+JSON; charset=utf-8", true},
        {"text/plain", false},
        {"text/plain; charset=utf-8", false},
        {"", false},
        {"json", false},
        {"+json", false},
        {"application/jsonp", false},
        {"application/json-seq", false},
        {"application/xjson", false},
        {"text/json", false},
        {"application/octet-stream", false},
        {";application/json", false},
        {"application/x-json-stream", false},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        if (msg_content_type_is_json(cases[i].type, strlen(cases[i].type)) != cases[i].json)
            fail_msg("content type '%s': want %d", cases[i].type, cases[i].json);
    }
    /* Length, not NUL, bounds the type. */
    assert_true(msg_content_type_is_json("application/jsonXYZ", 16));
    assert_false(msg_content_type_is_json("application/json", 15));
}

static void test_refcount(void **state)
{
    struct msg_input in = input("t", "e", true, "1", 1);
    struct msg *m = msg_new(&in, &deliver_whole, 1, 0, 3);
    assert_non_null(m);
    assert_int_equal(atomic_load(&m->refs), 3);
    msg_release(m);
    assert_int_equal(atomic_load(&m->refs), 2); /* ASan: use after free if freed early */
    assert_int_equal(m->seq, 1);
    msg_release(m);
    assert_int_equal(atomic_load(&m->refs), 1);
    assert_memory_equal(m->ws_frame, "\x81", 1);
    msg_release(m); /* freed here: LeakSanitizer reports it otherwise */
}

/* ---- Shards release one message at once. ----
 *
 * A message goes to several shards, each holding one reference; each
 * reads it and releases it, in no set order, and the last one frees it.
 * The acquire-release decrement orders every other shard's reads before
 * that free (ThreadSanitizer checks it; LeakSanitizer that it happens). */

#define SHARED_MSGS 400
#define SHARED_SHARDS 4

struct shared_msgs {
    struct msg *msgs[SHARED_MSGS];
    uint8_t *frames[SHARED_MSGS]; /* copies, to compare against */
    pthread_barrier_t start;
};

struct shard_reader {
    struct shared_msgs *shared;
    int index;
    bool intact; /* every frame read as built */
};

static void *read_and_release(void *arg)
{
    struct shard_reader *r = arg;
    struct shared_msgs *sh = r->shared;
    pthread_barrier_wait(&sh->start);
    for (int k = 0; k < SHARED_MSGS; k++) {
        /* Each shard goes through the messages from another point, so
         * that which one releases last varies. */
        int i = (k + r->index * SHARED_MSGS / SHARED_SHARDS) % SHARED_MSGS;
        struct msg *m = sh->msgs[i];
        msg_ref(m); /* a second holder on this shard, as a queue entry would be */
        if (memcmp(m->ws_frame, sh->frames[i], m->ws_frame_len) != 0 || m->seq != (uint64_t)i + 1)
            r->intact = false;
        msg_release(m);
        msg_release(m);
    }
    return NULL;
}

static void test_refcount_across_threads(void **state)
{
    static struct shared_msgs shared;
    for (int i = 0; i < SHARED_MSGS; i++) {
        char payload[64];
        int len = snprintf(payload, sizeof(payload), "{\"n\":%d}", i);
        struct msg_input in = input("shared.topic", "e", true, payload, (size_t)len);
        shared.msgs[i] = msg_new(&in, &deliver_whole, (uint64_t)i + 1, 0, SHARED_SHARDS);
        assert_non_null(shared.msgs[i]);
        shared.frames[i] = malloc(shared.msgs[i]->ws_frame_len);
        assert_non_null(shared.frames[i]);
        memcpy(shared.frames[i], shared.msgs[i]->ws_frame, shared.msgs[i]->ws_frame_len);
    }
    assert_int_equal(pthread_barrier_init(&shared.start, NULL, SHARED_SHARDS), 0);
    pthread_t threads[SHARED_SHARDS];
    struct shard_reader readers[SHARED_SHARDS];
    for (int t = 0; t < SHARED_SHARDS; t++) {
        readers[t] = (struct shard_reader){&shared, t, true};
        assert_int_equal(pthread_create(&threads[t], NULL, read_and_release, &readers[t]), 0);
    }
    for (int t = 0; t < SHARED_SHARDS; t++)
        pthread_join(threads[t], NULL);
    for (int t = 0; t < SHARED_SHARDS; t++)
        assert_true(readers[t].intact);
    pthread_barrier_destroy(&shared.start);
    for (int i = 0; i < SHARED_MSGS; i++)
        free(shared.frames[i]);
}

static void test_lref(void **state)
{
    struct msg_input in = input("t", "e", true, "1", 1);
    struct msg *m = msg_new(&in, &deliver_whole, 1, 0, 2); /* two shards */
    assert_non_null(m);

    struct lref *a = lref_new(m); /* shard A's reference */
    assert_non_null(a);
    assert_ptr_equal(a->msg, m);
    assert_int_equal(a->count, 1);
    a->count += 2; /* two queue entries */
    lref_put(a);   /* the creator's hold */
    assert_int_equal(a->count, 2);
    assert_int_equal(atomic_load(&m->refs), 2);
    lref_put(a);
    assert_int_equal(a->count, 1);
    assert_int_equal(atomic_load(&m->refs), 2);
    lref_put(a); /* A's last hold: drops A's shard reference, frees |a| */
    assert_int_equal(atomic_load(&m->refs), 1);

    struct lref *b = lref_new(m); /* shard B */
    assert_non_null(b);
    assert_int_equal(b->count, 1);
    lref_put(b); /* frees b and the message (LeakSanitizer checks) */
}

/* jsonw directly: escaped length always matches what json_escape writes. */
/* msg_ws_data: the data value inside the shared frame, for JSON and text
 * payloads, default and named types, every frame header size, and the
 * whole stub of an oversized event. */
static void check_data(const struct msg *m, const char *want, size_t want_len)
{
    size_t len = 0;
    const uint8_t *data = msg_ws_data(m, &len);
    assert_non_null(data);
    assert_int_equal(len, want_len);
    assert_memory_equal(data, want, want_len);
    assert_true(data > m->ws_frame && data + len < m->ws_frame + m->ws_frame_len);
}

static void test_ws_data(void **state)
{
    (void)state;
    struct msg_input in = input("a:b", "call.status", true, "{\"x\":1}", 7);
    struct msg *m = msg_new(&in, &deliver_whole, 42, T_2026, 1);
    check_data(m, "{\"x\":1}", 7);
    msg_release(m);

    in = input("t", "", false, "he\"llo", 6);
    m = msg_new(&in, &deliver_whole, 1234567890123ULL, 0, 1);
    check_data(m, "\"he\\\"llo\"", 9);
    msg_release(m);

    size_t sizes[] = {100, 200, 70000};
    for (size_t i = 0; i < 3; i++) {
        size_t n = sizes[i];
        char *big = malloc(n);
        memset(big, '7', n);
        in = input("t", "e", true, big, n);
        m = msg_new(&in, &deliver_whole, 9, 0, 1);
        check_data(m, big, n);
        msg_release(m);
        free(big);
    }

    struct msg_policy stub = {4, TRUNCATE_STUB};
    in = input("t", "e", true, "{\"id\":5,\"y\":2}", 14);
    m = msg_new(&in, &stub, 3, 0, 1);
    size_t len = 0;
    const uint8_t *data = msg_ws_data(m, &len);
    /* the frame's whole JSON: 4 header bytes for this stub's length */
    assert_true(len >= 126 && len < 65536);
    assert_ptr_equal(data, m->ws_frame + 4);
    assert_ptr_equal(data + len, m->ws_frame + m->ws_frame_len);
    assert_non_null(memmem(data, len, "\"truncated\":true", 16));
    msg_release(m);

    struct msg_policy drop = {4, TRUNCATE_DROP};
    m = msg_new(&in, &drop, 4, 0, 1);
    assert_null(msg_ws_data(m, &len));
    msg_release(m);
}

/* msg_deflated: built once, the same bytes for every caller (pointer
 * identity), from several threads at once; small or dropped events go
 * plain. */
#define DEFLATE_THREADS 4
#define DEFLATE_MSGS 200

struct deflate_race {
    struct msg *msgs[DEFLATE_MSGS];
    const struct msg_frame *seen[DEFLATE_THREADS][DEFLATE_MSGS];
    pthread_barrier_t start;
    int next_thread;
    pthread_mutex_t lock;
};

static void *deflate_all(void *arg)
{
    struct deflate_race *r = arg;
    pthread_mutex_lock(&r->lock);
    int t = r->next_thread++;
    pthread_mutex_unlock(&r->lock);
    pthread_barrier_wait(&r->start);
    for (int i = 0; i < DEFLATE_MSGS; i++)
        r->seen[t][i] = msg_deflated(r->msgs[i], 6, 256);
    ws_deflate_thread_cleanup();
    return NULL;
}

static void test_deflated_once(void **state)
{
    (void)state;
    static struct deflate_race r;
    char payload[2048];
    memset(payload, 'a', sizeof(payload));
    payload[0] = '"';
    payload[sizeof(payload) - 1] = '"';
    for (int i = 0; i < DEFLATE_MSGS; i++) {
        struct msg_input in = input("t", "e", true, payload, sizeof(payload));
        r.msgs[i] = msg_new(&in, &deliver_whole, (uint64_t)i + 1, 0, 1);
    }
    assert_int_equal(pthread_barrier_init(&r.start, NULL, DEFLATE_THREADS), 0);
    pthread_mutex_init(&r.lock, NULL);
    pthread_t threads[DEFLATE_THREADS];
    for (int t = 0; t < DEFLATE_THREADS; t++)
        assert_int_equal(pthread_create(&threads[t], NULL, deflate_all, &r), 0);
    for (int t = 0; t < DEFLATE_THREADS; t++)
        pthread_join(threads[t], NULL);
    for (int i = 0; i < DEFLATE_MSGS; i++) {
        const struct msg_frame *f = r.seen[0][i];
        assert_non_null(f);
        assert_true(f->len < r.msgs[i]->ws_frame_len / 4);
        assert_int_equal(f->bytes[0], 0xc1); /* FIN, RSV1, text */
        for (int t = 1; t < DEFLATE_THREADS; t++)
            assert_ptr_equal(r.seen[t][i], f);
        assert_ptr_equal(msg_deflated(r.msgs[i], 6, 256), f);
        msg_release(r.msgs[i]);
    }
    pthread_barrier_destroy(&r.start);
    pthread_mutex_destroy(&r.lock);

    /* Below --deflate-min-size: plain, and it stays plain. */
    struct msg_input in = input("t", "e", true, "{\"x\":1}", 7);
    struct msg *m = msg_new(&in, &deliver_whole, 1, 0, 1);
    assert_null(msg_deflated(m, 6, 256));
    assert_null(msg_deflated(m, 6, 0));
    msg_release(m);
    /* Dropped (--truncate=drop): nothing to compress. */
    struct msg_policy drop = {4, TRUNCATE_DROP};
    in = input("t", "e", true, payload, sizeof(payload));
    m = msg_new(&in, &drop, 2, 0, 1);
    assert_null(msg_deflated(m, 6, 0));
    msg_release(m);
    ws_deflate_thread_cleanup();
}

static void test_jsonw_every_byte(void **state)
{
    for (int c = 0; c < 256; c++) {
        uint8_t in[3] = {'a', (uint8_t)c, 'b'};
        uint8_t out[3 * 6 + 8];
        memset(out, 0xee, sizeof(out));
        size_t want = json_escaped_len(in, 3);
        uint8_t *end = json_escape(out, in, 3);
        assert_int_equal((size_t)(end - out), want);
        assert_int_equal(out[want], 0xee); /* nothing written beyond */
        size_t mid = want - 2;
        if (c == '"' || c == '\\')
            assert_int_equal(mid, 2);
        else if (c < 0x20)
            assert_true(mid == 2 || mid == 6);
        else
            assert_int_equal(mid, 1); /* DEL, '/', and bytes >= 0x80 are kept */
    }
    uint8_t out[8];
    assert_int_equal(json_escaped_len(NULL, 0), 0);
    assert_ptr_equal(json_escape(out, (const uint8_t *)"", 0), out);
    assert_int_equal(json_escaped_len((const uint8_t *)"\x1f", 1), 6);
    uint8_t *end = json_escape(out, (const uint8_t *)"\x1f", 1);
    assert_int_equal(end - out, 6);
    assert_memory_equal(out, "\\u001f", 6);
    end = json_escape(out, (const uint8_t *)"\"\\", 2);
    assert_int_equal(end - out, 4);
    assert_memory_equal(out, "\\\"\\\\", 4);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_event_fields_json_payload),
        cmocka_unit_test(test_json_payload_verbatim),
        cmocka_unit_test(test_text_payload_escaped),
        cmocka_unit_test(test_text_payload_json_looking),
        cmocka_unit_test(test_default_event_type),
        cmocka_unit_test(test_seq_digits),
        cmocka_unit_test(test_frame_header_sizes),
        cmocka_unit_test(test_large_escaped_payload),
        cmocka_unit_test(test_timestamp_format),
        cmocka_unit_test(test_timestamp_in_event),
        cmocka_unit_test(test_event_type_valid),
        cmocka_unit_test(test_content_type_is_json),
        cmocka_unit_test(test_refcount),
        cmocka_unit_test(test_refcount_across_threads),
        cmocka_unit_test(test_lref),
        cmocka_unit_test(test_jsonw_every_byte),
        cmocka_unit_test(test_ws_data),
        cmocka_unit_test(test_deflated_once),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
