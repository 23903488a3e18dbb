/* test_fanout.c: a message is framed once and the same bytes are queued to
 * every subscriber on every shard.
 *
 * Two indexes stand for two shards' private indexes; connections are real
 * struct conn values (no sockets needed to queue). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "pubsub/audience.h"
#include "pubsub/claims.h"
#include "core/conn.h"
#include "conn/sseconn.h"
#include "conn/wsconn.h"
#include "core/fanout.h"
#include "util/hash.h"
#include "pubsub/index.h"
#include "pubsub/msg.h"

/* No truncation: every payload is delivered whole. */
static const struct msg_policy deliver_whole = {UINT64_MAX, TRUNCATE_STUB};

#define SUBSCRIBERS_PER_SHARD 50

struct sink_log {
    int queued;
    int overflowed;
};

static void on_queued(void *ctx, struct conn *c)
{
    (void)c;
    ((struct sink_log *)ctx)->queued++;
}

static void on_overflow(void *ctx, struct conn *c)
{
    (void)c;
    ((struct sink_log *)ctx)->overflowed++;
}

static struct conn *new_subscriber(struct index *idx, const char *topic)
{
    struct conn *c = calloc(1, sizeof(*c));
    assert_non_null(c);
    c->ops = &ws_conn_ops;
    c->state = CONN_OPEN;
    assert_int_equal(index_subscribe(idx, &c->subs, topic, strlen(topic),
                                     rc_hash(topic, strlen(topic)), 16, UINT32_MAX),
                     INDEX_ADDED);
    return c;
}

static void free_subscriber(struct index *idx, struct conn *c)
{
    index_remove_all(idx, &c->subs);
    sendq_clear(&c->sq);
    free(c);
}

static struct msg *new_message(const char *topic, const char *json, uint32_t shard_refs)
{
    struct msg_input in = {
        .topic = topic,
        .topic_len = strlen(topic),
        .topic_hash = rc_hash(topic, strlen(topic)),
        .event_type = "call.status",
        .event_type_len = 11,
        .payload_is_json = true,
        .payload = (const uint8_t *)json,
        .payload_len = strlen(json),
    };
    struct msg *m = msg_new(&in, &deliver_whole, 1, 1768905000000000, shard_refs);
    assert_non_null(m);
    return m;
}

static void test_same_frame_bytes_on_every_shard(void **state)
{
    (void)state;
    struct index shards[2];
    struct conn *subscribers[2][SUBSCRIBERS_PER_SHARD];
    for (int s = 0; s < 2; s++) {
        index_init(&shards[s]);
        for (int i = 0; i < SUBSCRIBERS_PER_SHARD; i++)
            subscribers[s][i] = new_subscriber(&shards[s], i % 2 ? "room:1" : "room:>");
    }
    struct msg *m = new_message("room:1", "{\"status\":\"ringing\"}", 2);
    const uint8_t *frame = m->ws_frame;
    uint32_t frame_len = m->ws_frame_len;

    struct sink_log log = {0, 0};
    const struct fanout_sink sink = {on_queued, on_overflow, &log};
    for (int s = 0; s < 2; s++)
        assert_int_equal(fanout_deliver(&shards[s], m, 1 << 20, &sink), SUBSCRIBERS_PER_SHARD);
    assert_int_equal(log.queued, 2 * SUBSCRIBERS_PER_SHARD);

    for (int s = 0; s < 2; s++) {
        for (int i = 0; i < SUBSCRIBERS_PER_SHARD; i++) {
            struct sendq *q = &subscribers[s][i]->sq;
            assert_int_equal(q->count, 1);
            /* Pointer identity: not a copy, the message's own frame. */
            assert_ptr_equal(q->entries[q->head].data, frame);
            assert_int_equal(q->entries[q->head].len, frame_len);
        }
    }
    for (int s = 0; s < 2; s++) {
        for (int i = 0; i < SUBSCRIBERS_PER_SHARD; i++)
            free_subscriber(&shards[s], subscribers[s][i]); /* the last one frees m (ASan) */
        index_cleanup(&shards[s]);
    }
}

static void test_message_without_subscribers_is_released(void **state)
{
    (void)state;
    struct index idx;
    index_init(&idx);
    struct conn *c = new_subscriber(&idx, "other");
    struct sink_log log = {0, 0};
    const struct fanout_sink sink = {on_queued, on_overflow, &log};
    struct msg *m = new_message("room:1", "1", 1);
    assert_int_equal(fanout_deliver(&idx, m, 1 << 20, &sink), 0); /* frees m (ASan) */
    assert_int_equal(log.queued, 0);
    assert_int_equal(c->sq.count, 0);
    free_subscriber(&idx, c);
    index_cleanup(&idx);
}

static void test_overflow_stops_queueing(void **state)
{
    (void)state;
    struct index idx;
    index_init(&idx);
    struct conn *slow = new_subscriber(&idx, "t");
    struct sink_log log = {0, 0};
    const struct fanout_sink sink = {on_queued, on_overflow, &log};
    struct msg *first = new_message("t", "\"0123456789\"", 1);
    uint64_t limit = first->ws_frame_len + first->ws_frame_len / 2; /* room for one and a half */
    fanout_deliver(&idx, first, limit, &sink);
    assert_int_equal(log.overflowed, 0);
    fanout_deliver(&idx, new_message("t", "\"0123456789\"", 1), limit, &sink);
    assert_int_equal(log.overflowed, 1);
    assert_true(slow->flags & CONN_OVERFLOW);
    fanout_deliver(&idx, new_message("t", "\"0123456789\"", 1), limit, &sink);
    assert_int_equal(slow->sq.count, 2); /* nothing more after the overflow */
    assert_int_equal(log.overflowed, 1);
    free_subscriber(&idx, slow);
    index_cleanup(&idx);
}

/* --max-queued-bytes is the most a queue may hold: a delivery that brings
 * it to exactly the limit is fine, one byte more overflows (the docs: "more
 * than --max-queued-bytes"). Over WebSocket (the frame) and SSE (a stream
 * of one exact topic: the record from its id line, without --sse-named-events). */
static void test_queue_may_reach_the_limit_but_not_pass_it(void **state)
{
    (void)state;
    const struct conn_ops *const kinds[] = {&ws_conn_ops, &sse_conn_ops};
    for (size_t k = 0; k < sizeof(kinds) / sizeof(kinds[0]); k++) {
        for (uint64_t past = 0; past <= 1; past++) {
            struct index idx;
            index_init(&idx);
            struct conn *c = new_subscriber(&idx, "t");
            c->ops = kinds[k];
            struct sink_log log = {0, 0};
            const struct fanout_sink sink = {on_queued, on_overflow, &log};
            struct msg *first = new_message("t", "\"0123456789\"", 1);
            uint64_t len = c->ops == &ws_conn_ops ? first->ws_frame_len
                                                  : first->sse_record_len - first->sse_event_len;
            uint64_t limit = 2 * len - past; /* two events are the limit, or one byte past it */
            assert_int_equal(fanout_deliver(&idx, first, limit, &sink), 1);
            assert_int_equal(
                fanout_deliver(&idx, new_message("t", "\"0123456789\"", 1), limit, &sink), 1);
            assert_int_equal(c->sq.bytes, limit + past);
            assert_int_equal(log.overflowed, past);
            assert_int_equal((c->flags & CONN_OVERFLOW) != 0, past);
            free_subscriber(&idx, c);
            index_cleanup(&idx);
        }
    }
}

static struct claims *claims_of(const char *json)
{
    const char *reason = NULL;
    struct claims *c = claims_parse(json, strlen(json), &reason);
    assert_non_null(c);
    return c;
}

/* The audience decides who gets the frame; those who do get the very same
 * bytes, unchanged. */
static void test_audience_filters_but_shares_the_frame(void **state)
{
    (void)state;
    static const char *const tokens[] = {
        "{\"tenant\":\"t1\",\"org\":\"o1\"}",           /* yes */
        "{\"tenant\":\"t1\",\"org\":\"o2\"}",           /* another org */
        "{\"tenant\":\"t2\",\"org\":\"o1\"}",           /* another tenant */
        NULL,                                           /* no token */
        "{\"tenant\":\"t1\",\"orgs\":[\"o9\",\"o1\"]}", /* yes */
    };
    enum { N = sizeof(tokens) / sizeof(tokens[0]) };
    struct index idx;
    index_init(&idx);
    struct conn *subscribers[N];
    for (int i = 0; i < N; i++) {
        subscribers[i] = new_subscriber(&idx, i % 2 ? "room:1" : "room:*");
        subscribers[i]->claims = tokens[i] ? claims_of(tokens[i]) : NULL;
    }
    struct msg *m = new_message("room:1", "{\"status\":\"ringing\"}", 1);
    const char *audience_json = "{\"tenant\":\"t1\",\"orgs\":[\"o1\"]}";
    const char *reason = NULL;
    m->audience = audience_parse((const uint8_t *)audience_json, strlen(audience_json), &reason);
    assert_non_null(m->audience);
    const uint8_t *frame = m->ws_frame;

    struct sink_log log = {0, 0};
    const struct fanout_sink sink = {on_queued, on_overflow, &log};
    assert_int_equal(fanout_deliver(&idx, m, 1 << 20, &sink), 2);
    static const bool receives[N] = {true, false, false, false, true};
    for (int i = 0; i < N; i++) {
        struct sendq *q = &subscribers[i]->sq;
        assert_int_equal(q->count, receives[i] ? 1 : 0);
        if (receives[i])
            assert_ptr_equal(q->entries[q->head].data, frame);
    }
    for (int i = 0; i < N; i++) {
        claims_free(subscribers[i]->claims);
        subscribers[i]->claims = NULL;
        free_subscriber(&idx, subscribers[i]); /* the last reference frees m and its audience */
    }
    index_cleanup(&idx);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_same_frame_bytes_on_every_shard),
        cmocka_unit_test(test_message_without_subscribers_is_released),
        cmocka_unit_test(test_overflow_stops_queueing),
        cmocka_unit_test(test_queue_may_reach_the_limit_but_not_pass_it),
        cmocka_unit_test(test_audience_filters_but_shares_the_frame),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
