/* test_encodings.c: a message's SSE record and truncation stub, built once.
 *
 * Also the fan-out side: SSE streams get the shared record (by pointer),
 * from its id line on (unnamed, the default) or whole (named), multi-topic
 * streams their own id (and event) line in front of the shared rest, and an
 * oversized event goes out as its stub or not at all. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "core/conn.h"
#include "conn/sseconn.h"
#include "conn/wsconn.h"
#include "core/fanout.h"
#include "util/hash.h"
#include "pubsub/index.h"
#include "pubsub/msg.h"

static const struct msg_policy whole = {UINT64_MAX, TRUNCATE_STUB};

static struct msg_input input(const char *topic, const char *type, bool json, const char *payload)
{
    struct msg_input in = {
        .topic = topic,
        .topic_len = strlen(topic),
        .topic_hash = rc_hash(topic, strlen(topic)),
        .event_type = type,
        .event_type_len = strlen(type),
        .payload_is_json = json,
        .payload = (const uint8_t *)payload,
        .payload_len = strlen(payload),
    };
    return in;
}

static char *dup_range(const uint8_t *p, size_t len)
{
    char *s = malloc(len + 1);
    memcpy(s, p, len);
    s[len] = '\0';
    return s;
}

/* sse_data joins a record's data lines with "\n", as EventSource does. */
static char *sse_data(const struct msg *m)
{
    char *record = dup_range(m->sse_record, m->sse_record_len);
    char *out = calloc(1, m->sse_record_len + 1);
    for (char *line = strtok(record, "\n"); line; line = strtok(NULL, "\n")) {
        if (strncmp(line, "data: ", 6) != 0)
            continue;
        if (out[0])
            strcat(out, "\n");
        strcat(out, line + 6);
    }
    free(record);
    return out;
}

static void test_sse_record_layout(void **state)
{
    (void)state;
    struct msg_input in = input("room:1", "chat.message", true, "{\"text\":\"hi\"}");
    struct msg *m = msg_new(&in, &whole, 17, 1768905000123456, 1);
    assert_non_null(m);
    char *record = dup_range(m->sse_record, m->sse_record_len);
    const char *want_start =
        "event: chat.message\nid: 0000000000000000-17\ndata: {\"event_type\":\"chat.message\"";
    assert_memory_equal(record, want_start, strlen(want_start));
    assert_string_equal(record + strlen(record) - 3, "}\n\n");
    /* The event line can be skipped (the unnamed form starts at "id:"), and
     * the id line after it (the data lines of a stream's own id line). */
    assert_int_equal(m->sse_event_len, strlen("event: chat.message\n"));
    assert_int_equal(m->sse_id_len, strlen("id: 0000000000000000-17\n"));
    assert_memory_equal(m->sse_record + m->sse_event_len, "id: 0000000000000000-17\ndata: ", 30);
    assert_memory_equal(m->sse_record + m->sse_event_len + m->sse_id_len, "data: ", 6);
    /* The data is the same event JSON the WebSocket frame carries. */
    char *data = sse_data(m);
    assert_int_equal(strlen(data), m->full_json_len);
    assert_memory_equal(data, m->full_json, m->full_json_len);
    free(data);
    free(record);
    msg_release(m);
}

/* Line breaks inside a JSON payload become several data lines; joined again
 * they give back the event JSON (CR LF and a lone CR joined as "\n"). */
static void test_sse_multiline_json(void **state)
{
    (void)state;
    const char *payloads[] = {"{\n  \"a\": 1,\n  \"b\": [1,\n 2]\n}",
                              "{\r\n\"a\":\r1}",
                              "[\n]",
                              "\n\n1\n\n",
                              "{\"a\":1}\r",
                              "{\r\r\n\"a\":1\n\r}",
                              "\r\n2\r\n"};
    for (size_t i = 0; i < sizeof(payloads) / sizeof(payloads[0]); i++) {
        struct msg_input in = input("t", "e", true, payloads[i]);
        struct msg *m = msg_new(&in, &whole, 1, 0, 1);
        assert_non_null(m);
        char *data = sse_data(m);
        json_error_t err;
        json_t *joined = json_loads(data, 0, &err);
        json_t *direct = json_loadb((const char *)m->full_json, m->full_json_len, 0, &err);
        assert_non_null(joined);
        assert_true(json_equal(joined, direct));
        /* No raw CR or LF inside any data line. */
        for (uint32_t k = 0; k + 1 < m->sse_record_len; k++)
            if (m->sse_record[k] == '\r')
                fail_msg("raw CR in the record of payload %zu", i);
        json_decref(joined);
        json_decref(direct);
        free(data);
        msg_release(m);
    }
}

/* frame_header_len reads the length of a server frame's header. */
static size_t frame_header_len(const uint8_t *frame)
{
    uint8_t len7 = frame[1] & 0x7f;
    return len7 == 126 ? 4 : len7 == 127 ? 10 : 2;
}

static void test_stub_members(void **state)
{
    (void)state;
    const struct msg_policy small = {8, TRUNCATE_STUB};
    struct msg_input in =
        input("jobs:17", "job.finished", true,
              "{\"id\":\"job-17\",\"entityType\":\"report\",\"blob\":\"xxxxxxxx\"}");
    in.ref_json[0] = "\"job-17\"";
    in.ref_json_len[0] = 8;
    in.ref_json[2] = "\"report\"";
    in.ref_json_len[2] = 8;
    struct msg *m = msg_new(&in, &small, 4, 1768905000000000, 1);
    assert_non_null(m);
    assert_true(m->flags & MSG_OVERSIZED);
    /* The frame carries the stub... */
    json_error_t err;
    size_t header = frame_header_len(m->ws_frame);
    json_t *stub =
        json_loadb((const char *)m->ws_frame + header, m->ws_frame_len - header, 0, &err);
    assert_non_null(stub);
    assert_string_equal(json_string_value(json_object_get(stub, "event_type")), "job.finished");
    assert_string_equal(json_string_value(json_object_get(stub, "topic")), "jobs:17");
    assert_int_equal(json_integer_value(json_object_get(stub, "seq")), 4);
    assert_true(json_is_true(json_object_get(stub, "truncated")));
    assert_int_equal(json_integer_value(json_object_get(stub, "size")), in.payload_len);
    json_t *ref = json_object_get(stub, "ref");
    assert_int_equal(json_object_size(ref), 2);
    assert_string_equal(json_string_value(json_object_get(ref, "id")), "job-17");
    assert_string_equal(json_string_value(json_object_get(ref, "entityType")), "report");
    assert_string_equal(json_string_value(json_object_get(stub, "fetch")),
                        "/v1/messages/jobs:17/4");
    assert_null(json_object_get(stub, "data"));
    /* ...the SSE record too, and the full event stays for fetching. */
    char *data = sse_data(m);
    json_t *from_sse = json_loads(data, 0, &err);
    assert_true(json_equal(stub, from_sse));
    json_t *full = json_loadb((const char *)m->full_json, m->full_json_len, 0, &err);
    assert_string_equal(json_string_value(json_object_get(json_object_get(full, "data"), "blob")),
                        "xxxxxxxx");
    json_decref(full);
    json_decref(from_sse);
    json_decref(stub);
    free(data);
    msg_release(m);
}

static void test_exactly_at_the_limit_is_whole_and_drop_has_no_encoding(void **state)
{
    (void)state;
    const struct msg_policy limit = {5, TRUNCATE_STUB};
    const struct msg_policy drop = {5, TRUNCATE_DROP};
    struct msg_input at = input("t", "e", false, "12345");
    struct msg_input over = input("t", "e", false, "123456");
    struct msg *m = msg_new(&at, &limit, 1, 0, 1);
    assert_false(m->flags & MSG_OVERSIZED);
    assert_ptr_equal(m->ws_frame + (m->ws_frame_len - m->full_json_len), m->full_json);
    msg_release(m);
    m = msg_new(&over, &drop, 2, 0, 1);
    assert_true(m->flags & MSG_OVERSIZED);
    assert_null(m->ws_frame);
    assert_null(m->sse_record);
    assert_non_null(m->full_json);
    msg_release(m);
}

/* Fan-out to SSE streams: pointer identity of the shared record. */

struct counts {
    int queued, overflowed;
};

static void count_queued(void *ctx, struct conn *c)
{
    (void)c;
    ((struct counts *)ctx)->queued++;
}

static void count_overflow(void *ctx, struct conn *c)
{
    (void)c;
    ((struct counts *)ctx)->overflowed++;
}

static struct conn *stream(struct index *idx, const char *const *topics, size_t n, bool named)
{
    struct conn *c = calloc(1, sizeof(*c));
    c->ops = &sse_conn_ops;
    c->state = CONN_OPEN;
    sseconn_name_events(c, named);
    for (size_t i = 0; i < n; i++)
        assert_int_equal(index_subscribe(idx, &c->subs, topics[i], strlen(topics[i]),
                                         rc_hash(topics[i], strlen(topics[i])), 16, UINT32_MAX),
                         INDEX_ADDED);
    assert_int_equal(sseconn_track_positions(c), 0);
    return c;
}

static void free_stream(struct index *idx, struct conn *c)
{
    index_remove_all(idx, &c->subs);
    sendq_clear(&c->sq);
    sse_conn_ops.release(c);
    free(c);
}

static const struct sendq_entry *entry(const struct conn *c, uint32_t i)
{
    return &c->sq.entries[(c->sq.head + i) & (c->sq.cap - 1)];
}

static void test_sse_streams_share_the_record(void **state)
{
    (void)state;
    struct index idx;
    index_init(&idx);
    const char *one[] = {"news"};
    const char *two[] = {"news", "alerts:*"};
    struct conn *a = stream(&idx, one, 1, false), *b = stream(&idx, one, 1, false);
    struct conn *named = stream(&idx, one, 1, true), *multi = stream(&idx, two, 2, false);
    struct conn *multi_named = stream(&idx, two, 2, true);
    struct counts counts = {0, 0};
    const struct fanout_sink sink = {count_queued, count_overflow, &counts};
    struct msg_input in = input("news", "story", true, "{\"n\":1}");
    struct msg *m = msg_new(&in, &whole, 9, 1768905000000001, 1);
    assert_int_equal(fanout_deliver(&idx, m, 1 << 20, &sink), 5);

    /* Unnamed (the default): the shared record from its id line on. */
    assert_ptr_equal(entry(a, 0)->data, m->sse_record + m->sse_event_len);
    assert_ptr_equal(entry(b, 0)->data, m->sse_record + m->sse_event_len);
    assert_int_equal(entry(a, 0)->len, m->sse_record_len - m->sse_event_len);
    assert_memory_equal(entry(a, 0)->data, "id: 0000000000000000-9\ndata: {", 29);
    /* Named: the same bytes, from the event line. */
    assert_ptr_equal(entry(named, 0)->data, m->sse_record);
    assert_int_equal(entry(named, 0)->len, m->sse_record_len);
    assert_memory_equal(entry(named, 0)->data, "event: story\nid: 0000000000000000-9\ndata: {", 42);
    /* The multi-topic streams: their own lines, then the shared data lines. */
    const uint8_t *data = m->sse_record + m->sse_event_len + m->sse_id_len;
    assert_int_equal(multi->sq.count, 2);
    assert_memory_equal(entry(multi, 0)->data, "id: 9,t0\n", entry(multi, 0)->len);
    assert_ptr_equal(entry(multi, 1)->data, data);
    assert_int_equal(multi_named->sq.count, 2);
    assert_int_equal(entry(multi_named, 0)->len, strlen("id: 9,t0\nevent: story\n"));
    assert_memory_equal(entry(multi_named, 0)->data, "id: 9,t0\nevent: story\n",
                        entry(multi_named, 0)->len);
    assert_ptr_equal(entry(multi_named, 1)->data, data);

    struct msg_input alert = input("alerts:fire", "alarm", false, "hot");
    struct msg *m2 = msg_new(&alert, &whole, 1, 1768905000000002, 1);
    assert_int_equal(fanout_deliver(&idx, m2, 1 << 20, &sink), 2);
    assert_memory_equal(entry(multi, 2)->data, "id: 9,t1768905000000002\n", entry(multi, 2)->len);

    free_stream(&idx, a);
    free_stream(&idx, b);
    free_stream(&idx, named);
    free_stream(&idx, multi);
    free_stream(&idx, multi_named);
    index_cleanup(&idx);
}

static void test_oversized_goes_as_stub_or_nowhere(void **state)
{
    (void)state;
    struct index idx;
    index_init(&idx);
    struct conn *ws = calloc(1, sizeof(*ws));
    ws->ops = &ws_conn_ops;
    ws->state = CONN_OPEN;
    assert_int_equal(index_subscribe(&idx, &ws->subs, "t", 1, rc_hash("t", 1), 4, UINT32_MAX),
                     INDEX_ADDED);
    struct counts counts = {0, 0};
    const struct fanout_sink sink = {count_queued, count_overflow, &counts};

    const struct msg_policy stub = {2, TRUNCATE_STUB}, drop = {2, TRUNCATE_DROP};
    struct msg_input big = input("t", "e", false, "too big");
    struct msg *m = msg_new(&big, &stub, 1, 0, 1);
    assert_int_equal(fanout_deliver(&idx, m, 1 << 20, &sink), 1);
    assert_ptr_equal(entry(ws, 0)->data, m->ws_frame); /* the stub's frame */
    assert_ptr_not_equal(m->ws_frame + (m->ws_frame_len - m->full_json_len), m->full_json);
    struct msg *d = msg_new(&big, &drop, 2, 0, 1);
    assert_int_equal(fanout_deliver(&idx, d, 1 << 20, &sink), 0); /* and frees it */
    assert_int_equal(ws->sq.count, 1);

    index_remove_all(&idx, &ws->subs);
    sendq_clear(&ws->sq);
    free(ws);
    index_cleanup(&idx);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sse_record_layout),
        cmocka_unit_test(test_sse_multiline_json),
        cmocka_unit_test(test_stub_members),
        cmocka_unit_test(test_exactly_at_the_limit_is_whole_and_drop_has_no_encoding),
        cmocka_unit_test(test_sse_streams_share_the_record),
        cmocka_unit_test(test_oversized_goes_as_stub_or_nowhere),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
