/* test_pusherconn.c: a message's Pusher frame is built once per shard and
 * the same bytes are queued to every Pusher subscriber there, through
 * fan-out (src/core/fanout.c) and pusherconn_queue_event. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "conn/pusherconn.h"
#include "conn/wsconn.h"
#include "core/conn.h"
#include "core/fanout.h"
#include "pubsub/index.h"
#include "pubsub/msg.h"
#include "util/hash.h"

#define SUBSCRIBERS 20
#define TOPIC "pusher:1:App~2EUser~2E7"

/* A Pusher connection as fan-out sees it: its own encoding. */
static const struct conn_ops pusher_like_ops = {
    .name = "websocket",
    .encoding = CONN_ENC_OWN,
    .queue_event = pusherconn_queue_event,
};

static const struct msg_policy deliver_whole = {UINT64_MAX, TRUNCATE_STUB};

static void on_queued(void *ctx, struct conn *c)
{
    (void)c;
    (*(int *)ctx)++;
}

static void on_overflow(void *ctx, struct conn *c)
{
    (void)ctx, (void)c;
    fail_msg("overflow");
}

static struct conn *new_subscriber(struct index *idx, const struct conn_ops *ops)
{
    struct conn *c = calloc(1, sizeof(*c));
    assert_non_null(c);
    c->ops = ops;
    c->state = CONN_OPEN;
    assert_int_equal(
        index_subscribe(idx, &c->subs, TOPIC, strlen(TOPIC), rc_hash(TOPIC, strlen(TOPIC)), 16, 16),
        INDEX_ADDED);
    return c;
}

static const struct sendq_entry *only_entry(const struct conn *c)
{
    assert_int_equal(c->sq.count, 1);
    return &c->sq.entries[c->sq.head];
}

static void test_one_frame_per_shard_shared(void **state)
{
    (void)state;
    struct index shards[2];
    struct conn *subs[2][SUBSCRIBERS];
    struct conn *native[2];
    for (int s = 0; s < 2; s++) {
        index_init(&shards[s]);
        for (int i = 0; i < SUBSCRIBERS; i++)
            subs[s][i] = new_subscriber(&shards[s], &pusher_like_ops);
        native[s] = new_subscriber(&shards[s], &ws_conn_ops);
    }
    const char payload[] = "{\"job\":1}";
    struct msg_input in = {
        .topic = TOPIC,
        .topic_len = strlen(TOPIC),
        .topic_hash = rc_hash(TOPIC, strlen(TOPIC)),
        .event_type = "job-result",
        .event_type_len = 10,
        .payload_is_json = true,
        .payload = (const uint8_t *)payload,
        .payload_len = strlen(payload),
    };
    struct msg *m = msg_new(&in, &deliver_whole, 1, 1768905000000000, 2);
    assert_non_null(m);
    int queued = 0;
    const struct fanout_sink sink = {on_queued, on_overflow, &queued};
    for (int s = 0; s < 2; s++)
        assert_int_equal(fanout_deliver(&shards[s], m, 1 << 20, &sink), SUBSCRIBERS + 1);
    for (int s = 0; s < 2; s++) {
        const struct sendq_entry *first = only_entry(subs[s][0]);
        for (int i = 1; i < SUBSCRIBERS; i++) {
            /* Pointer identity: one frame per shard, shared. */
            assert_ptr_equal(only_entry(subs[s][i])->data, first->data);
            assert_int_equal(only_entry(subs[s][i])->len, first->len);
        }
        assert_ptr_not_equal(first->data, m->ws_frame);
        assert_ptr_equal(only_entry(native[s])->data, m->ws_frame); /* natives unchanged */
        if (s == 1)                                                 /* each shard built its own */
            assert_ptr_not_equal(first->data, only_entry(subs[0][0])->data);
        json_error_t err;
        json_t *root = json_loadb((const char *)first->data + 2, first->len - 2, 0, &err);
        assert_non_null(root);
        assert_string_equal(json_string_value(json_object_get(root, "channel")), "App.User.7");
        assert_string_equal(json_string_value(json_object_get(root, "event")), "job-result");
        assert_string_equal(json_string_value(json_object_get(root, "data")), payload);
        json_decref(root);
    }
    for (int s = 0; s < 2; s++) {
        for (int i = 0; i < SUBSCRIBERS; i++) {
            index_remove_all(&shards[s], &subs[s][i]->subs);
            sendq_clear(&subs[s][i]->sq);
            free(subs[s][i]);
        }
        index_remove_all(&shards[s], &native[s]->subs);
        sendq_clear(&native[s]->sq); /* the last frees the frames and m (ASan) */
        free(native[s]);
        index_cleanup(&shards[s]);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_one_frame_per_shard_shared),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
