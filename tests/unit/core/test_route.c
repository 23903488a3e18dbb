/* test_route.c: routing between shards without io_uring: a topic's home,
 * room in the rings, sequencing and deduplication at the home, which data
 * rings a message is pushed to (the interest summaries), delivery at the
 * home and on the other shards, results back to the right connection, and
 * a request left waiting while the home's data rings are full.
 *
 * A real struct shard_set of three shards (fake_shard.h); a test plays each
 * shard's loop in turn by calling route_handle_item with the items it takes
 * from that shard's incoming rings. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "../fake_shard.h"
#include "util/hash.h"
#include "pubsub/msg.h"
#include "core/pubreq.h"
#include "ringcast/protocol.h"
#include "core/ringitem.h"
#include "core/route.h"
#include "core/subscribe.h"

#define SHARDS 3
#define RING 4

static int setup(void **state)
{
    *state = fake_set_new(SHARDS, RING, NULL);
    return 0;
}

/* subscriber makes a connection on |sh| subscribed to |name|. */
static struct conn *subscriber(struct shard *sh, const char *name)
{
    struct conn *c = conn_new(sh, 100, &fake_ops);
    assert_non_null(c);
    const char *message = NULL;
    assert_int_equal(subscribe_topic(sh, c, name, strlen(name), &message), SUBSCRIBE_OK);
    return c;
}

/* publish sequences a publish of |topic| at |sh|; returns the seq. */
static uint64_t publish(struct shard *sh, const char *topic, const char *payload,
                        const char *msg_id, uint8_t *out_flags)
{
    struct conn c;
    memset(&c, 0, sizeof(c));
    struct pubreq *req = fake_publish_req(&c, sh->id, 1, topic, payload, msg_id);
    uint64_t seq = 0;
    uint8_t flags = 0xff;
    assert_int_equal(route_publish_at_home(sh, req, &seq, &flags), 0);
    pubreq_free(req);
    if (out_flags)
        *out_flags = flags;
    else
        assert_int_equal(flags, 0);
    return seq;
}

/* queued_data is the first entry queued to |c|. */
static const void *queued_data(const struct conn *c)
{
    assert_true(c->sq.count > 0);
    return c->sq.entries[c->sq.head].data;
}

/* handle_all lets shard |to| handle everything in ring |r|, as its loop
 * does, and hands the slots back. */
static void handle_all(struct shard *to, struct xring *r, bool *out_wake_producer)
{
    void *item;
    xring_publish(r);
    while ((item = xring_peek(r)) != NULL) {
        assert_true(route_handle_item(to, item));
        xring_pop(r);
    }
    bool wake = false;
    xring_consumer_release(r, &wake);
    if (out_wake_producer)
        *out_wake_producer = wake;
}

/* send_result hands |req| back to shard |origin| on ring |r| as a result,
 * and lets the shard handle it. */
static void send_result(struct shard *origin, struct xring *r, struct pubreq *req)
{
    xring_push(r, ring_item(req, ITEM_RESULT));
    handle_all(origin, r, NULL);
}

static void check_home_of(unsigned num_shards)
{
    struct fake_set *fs = fake_set_new(num_shards, RING, NULL);
    unsigned hits[4] = {0};
    char topic[32];
    for (unsigned i = 0; i < 200; i++) {
        int len = snprintf(topic, sizeof(topic), "customer:%u:calls", i);
        uint64_t hash = rc_hash(topic, (size_t)len);
        unsigned home = route_home_of(fake_shard(fs, 0), hash);
        assert_int_equal(home, hash % num_shards);
        /* Every shard agrees. */
        for (unsigned j = 1; j < num_shards; j++)
            assert_int_equal(route_home_of(fake_shard(fs, j), hash), home);
        hits[home]++;
    }
    for (unsigned j = 0; j < num_shards; j++)
        assert_true(hits[j] > 0);
    fake_set_free(fs);
}

static void test_home_of_covers_every_shard(void **state)
{
    (void)state;
    check_home_of(1);
    check_home_of(2);
    check_home_of(4);
}

static void test_room_until_request_ring_full(void **state)
{
    struct fake_set *fs = *state;
    struct shard *sh = fake_shard(fs, 0);
    struct xring *to1 = shard_set_request_ring(&fs->set, 0, 1);
    struct conn c;
    memset(&c, 0, sizeof(c));
    for (unsigned i = 0; i < RING; i++) {
        assert_true(route_has_room(sh, 1));
        struct pubreq *req = fake_new_fetch(&c, 0, "a", 1, rc_hash("a", 1), i + 1);
        assert_non_null(req);
        route_send_request(sh, 1, req);
    }
    assert_true(sh->ring_pushed[1]);
    assert_false(sh->ring_pushed[2]);
    assert_int_equal(atomic_load(&to1->producer_waiting), 0);

    /* Full: no room, and the consumer is asked to wake this shard. */
    assert_false(route_has_room(sh, 1));
    assert_int_equal(atomic_load(&to1->producer_waiting), 1);
    assert_int_equal(counter_read(&sh->stats.ring_full), 1);
    /* The other home's ring is another ring. */
    assert_true(route_has_room(sh, 2));

    /* The home takes one request and hands its slot back: it must wake
     * the publisher's shard, which has room again. */
    void *item = fake_ring_take(to1);
    assert_int_equal(ring_item_kind(item), ITEM_REQUEST);
    struct pubreq *req = ring_item_ptr(item);
    assert_int_equal(req->seq, 1);
    pubreq_free(req);
    bool wake = false;
    xring_consumer_release(to1, &wake);
    assert_true(wake);
    assert_true(route_has_room(sh, 1));
    assert_int_equal(counter_read(&sh->stats.ring_full), 1);
}

static void test_room_at_home_needs_every_data_ring(void **state)
{
    struct fake_set *fs = *state;
    struct shard *sh = fake_shard(fs, 0);
    assert_true(route_has_room(sh, 0));
    /* One publish may put two items on a data ring: one free slot is not
     * enough. */
    struct xring *to2 = shard_set_data_ring(&fs->set, 0, 2);
    for (unsigned i = 0; i < RING - 1; i++)
        xring_push(to2, ring_item(fake_msg("x", i + 1, 1), ITEM_DELIVER));
    assert_false(route_has_room(sh, 0));
    assert_int_equal(atomic_load(&to2->producer_waiting), 1);
    assert_int_equal(counter_read(&sh->stats.ring_full), 1);
    /* Shard 2 drains it: room again. */
    bool wake = false;
    handle_all(fake_shard(fs, 2), to2, &wake);
    assert_true(wake);
    assert_true(route_has_room(sh, 0));
}

static void test_sequences_per_topic_and_dedups(void **state)
{
    struct fake_set *fs = *state;
    struct shard *sh = fake_shard(fs, 0);
    assert_int_equal(publish(sh, "a", "{}", NULL, NULL), 1);
    assert_int_equal(publish(sh, "a", "{}", NULL, NULL), 2);
    assert_int_equal(publish(sh, "b", "{}", NULL, NULL), 1);
    assert_int_equal(publish(sh, "a", "{}", NULL, NULL), 3);
    assert_int_equal(publish(sh, "a", "{}", "m-1", NULL), 4);
    assert_int_equal(counter_read(&sh->stats.publishes), 5);

    /* The same message id again: the first seq, flagged, not published. */
    uint8_t flags = 0;
    assert_int_equal(publish(sh, "a", "{}", "m-1", &flags), 4);
    assert_int_equal(flags, RC_ACK_DUPLICATE);
    assert_int_equal(counter_read(&sh->stats.duplicates), 1);
    assert_int_equal(counter_read(&sh->stats.publishes), 5);
    /* The id belongs to its topic. */
    assert_int_equal(publish(sh, "b", "{}", "m-1", NULL), 2);
    assert_int_equal(publish(sh, "a", "{}", NULL, NULL), 5);

    /* Nobody wants these topics: nothing left on any ring. */
    for (unsigned j = 0; j < SHARDS; j++) {
        assert_false(sh->ring_pushed[j]);
        assert_int_equal(fake_ring_count(shard_set_data_ring(&fs->set, 0, j)), 0);
    }
}

static void test_pushes_to_interested_shards_only(void **state)
{
    struct fake_set *fs = *state;
    struct shard *home = fake_shard(fs, 0);
    struct shard *s1 = fake_shard(fs, 1);
    struct shard *s2 = fake_shard(fs, 2);
    char topic[32];
    fake_topic_homed(topic, sizeof(topic), "room:", SHARDS, 0);
    struct conn *at_home = subscriber(home, topic);
    struct conn *on1 = subscriber(s1, topic);
    struct conn *on2 = subscriber(s2, "elsewhere:1");
    struct xring *to1 = shard_set_data_ring(&fs->set, 0, 1);
    struct xring *to2 = shard_set_data_ring(&fs->set, 0, 2);

    assert_int_equal(publish(home, topic, "{\"n\":1}", NULL, NULL), 1);
    /* Exactly the shard whose summary wants the topic. */
    assert_true(home->ring_pushed[1]);
    assert_false(home->ring_pushed[2]);
    assert_int_equal(fake_ring_count(to1), 1);
    assert_int_equal(fake_ring_count(to2), 0);
    void *item = fake_ring_take(to1);
    assert_int_equal(ring_item_kind(item), ITEM_DELIVER);
    struct msg *m = ring_item_ptr(item);
    assert_int_equal(m->seq, 1);
    assert_string_equal(m->topic, topic);

    /* The home delivered to its own subscriber: the message's frame, and
     * the connection is dirty. */
    assert_int_equal(at_home->sq.count, 1);
    assert_ptr_equal(queued_data(at_home), m->ws_frame);
    assert_ptr_equal(home->dirty_other, at_home);
    assert_int_equal(counter_read(&home->stats.deliveries[STATS_WEBSOCKET]), 1);
    assert_int_equal(on1->sq.count, 0);

    /* Shard 1 delivers the same bytes. */
    assert_true(route_handle_item(s1, item));
    assert_int_equal(on1->sq.count, 1);
    assert_ptr_equal(queued_data(on1), m->ws_frame);
    assert_ptr_equal(s1->dirty_other, on1);
    assert_int_equal(counter_read(&s1->stats.ring_messages), 1);
    assert_int_equal(counter_read(&s1->stats.deliveries[STATS_WEBSOCKET]), 1);
    assert_int_equal(on2->sq.count, 0);

    /* A pattern on shard 2 makes it want the topic too. */
    const char *message = NULL;
    assert_int_equal(subscribe_topic(s2, on2, "room:*", 6, &message), SUBSCRIBE_OK);
    home->ring_pushed[1] = false;
    assert_int_equal(publish(home, topic, "{\"n\":2}", NULL, NULL), 2);
    assert_true(home->ring_pushed[1]);
    assert_true(home->ring_pushed[2]);
    assert_int_equal(fake_ring_count(to1), 1);
    assert_int_equal(fake_ring_count(to2), 1);
    handle_all(s1, to1, NULL);
    handle_all(s2, to2, NULL);
    assert_int_equal(at_home->sq.count, 2);
    assert_int_equal(on1->sq.count, 2);
    assert_int_equal(on2->sq.count, 1);
}

static void test_result_reaches_its_connection(void **state)
{
    struct fake_set *fs = *state;
    struct shard *origin = fake_shard(fs, 0);
    struct xring *from1 = shard_set_data_ring(&fs->set, 1, 0);
    struct conn *c = conn_new(origin, 100, &fake_ops);
    struct conn *other = conn_new(origin, 101, &fake_ops);
    assert_non_null(c);
    assert_non_null(other);

    /* A publish result. */
    struct pubreq *req = fake_publish_req(c, 0, 42, "a", "{}", NULL);
    req->seq = 9;
    req->ack_flags = RC_ACK_DUPLICATE;
    send_result(origin, from1, req);
    assert_int_equal(fake_calls.on_result, 1);
    assert_ptr_equal(fake_calls.last_conn, c);
    assert_ptr_equal(fake_calls.last_shard, origin);
    assert_int_equal(fake_calls.corr, 42);
    assert_int_equal(fake_calls.seq, 9);
    assert_int_equal(fake_calls.ack_flags, RC_ACK_DUPLICATE);
    assert_int_equal(fake_calls.op, PUBREQ_PUBLISH);

    /* A fetch result, with the message taken over by the connection. */
    struct msg *m = fake_msg("a", 3, 1);
    req = fake_new_fetch(c, 0, "a", 1, m->topic_hash, 3);
    assert_non_null(req);
    req->fetched = m;
    send_result(origin, from1, req);
    assert_int_equal(fake_calls.on_result, 2);
    assert_ptr_equal(fake_calls.last_conn, c);
    assert_int_equal(fake_calls.op, PUBREQ_FETCH);
    assert_ptr_equal(fake_calls.fetched, m);

    /* The connection went away and its slot was reused: the result is
     * dropped, and the fetched message released (ASan). */
    uint32_t slot = c->slot, gen = c->gen;
    struct pubreq *stale = fake_new_fetch(c, 0, "a", 1, m->topic_hash, 3);
    assert_non_null(stale);
    stale->fetched = fake_msg("a", 3, 1);
    conn_kill(origin, c);
    assert_true(fake_reap(origin, c));
    struct conn *reused = conn_new(origin, 102, &fake_ops);
    assert_non_null(reused);
    assert_int_equal(reused->slot, slot);
    assert_int_not_equal(reused->gen, gen);
    send_result(origin, from1, stale);
    assert_int_equal(fake_calls.on_result, 2);

    /* A kind without on_result: dropped likewise. */
    struct conn *bare = conn_new(origin, 103, &fake_bare_ops);
    assert_non_null(bare);
    req = fake_new_fetch(bare, 0, "a", 1, m->topic_hash, 3);
    assert_non_null(req);
    req->fetched = fake_msg("a", 3, 1);
    send_result(origin, from1, req);
    assert_int_equal(fake_calls.on_result, 2);
}

static void test_request_waits_while_data_rings_full(void **state)
{
    struct fake_set *fs = *state;
    struct shard *home = fake_shard(fs, 0);
    struct shard *origin = fake_shard(fs, 1);
    char topic[32];
    fake_topic_homed(topic, sizeof(topic), "room:", SHARDS, 0);
    struct conn *c = conn_new(origin, 100, &fake_first_ops);
    assert_non_null(c);
    struct pubreq *req = fake_publish_req(c, 1, 7, topic, "{}", NULL);
    void *item = ring_item(req, ITEM_REQUEST);

    /* The ring to shard 2, which is neither home nor origin, is full. */
    struct xring *to2 = shard_set_data_ring(&fs->set, 0, 2);
    for (unsigned i = 0; i < RING - 1; i++)
        xring_push(to2, ring_item(fake_msg("x", i + 1, 1), ITEM_DELIVER));
    assert_false(route_handle_item(home, item));
    /* Left as it was: not sequenced, no result. */
    assert_int_equal(home_topic_count(&home->home), 0);
    assert_int_equal(fake_ring_count(shard_set_data_ring(&fs->set, 0, 1)), 0);
    assert_int_equal(atomic_load(&to2->producer_waiting), 1);
    assert_int_equal(counter_read(&home->stats.ring_full), 1);
    assert_false(route_handle_item(home, item));

    /* Shard 2 drains its ring: the home may go on. */
    bool wake = false;
    handle_all(fake_shard(fs, 2), to2, &wake);
    assert_true(wake);
    assert_true(route_handle_item(home, item));
    assert_true(home->ring_pushed[1]);
    struct xring *back = shard_set_data_ring(&fs->set, 0, 1);
    assert_int_equal(fake_ring_count(back), 1);
    /* The result goes back to the publisher's connection. */
    handle_all(origin, back, NULL);
    assert_int_equal(fake_calls.on_result, 1);
    assert_ptr_equal(fake_calls.last_conn, c);
    assert_ptr_equal(fake_calls.last_shard, origin);
    assert_int_equal(fake_calls.corr, 7);
    assert_int_equal(fake_calls.seq, 1);
    assert_int_equal(fake_calls.error, 0);
}

static void test_fetch_from_home(void **state)
{
    (void)state;
    /* Every event is held in history; those over 8 bytes are truncated. */
    struct fake_set *fs = fake_set_new_keeping(2, RING, 8);
    struct shard *home = fake_shard(fs, 0);
    struct shard *origin = fake_shard(fs, 1);
    char topic[32];
    fake_topic_homed(topic, sizeof(topic), "doc:", 2, 0);
    uint64_t hash = rc_hash(topic, strlen(topic));
    const char *big = "{\"id\":\"x\",\"body\":\"more than eight bytes\"}";

    assert_int_equal(publish(home, topic, big, NULL, NULL), 1);
    assert_int_equal(publish(home, topic, "{}", NULL, NULL), 2); /* small: held too */
    assert_int_equal(counter_read(&home->stats.truncated), 1);
    struct msg *kept = fake_fetch_at_home(home, topic, strlen(topic), hash, 1);
    assert_non_null(kept);
    assert_int_equal(kept->seq, 1);
    assert_non_null(memmem(kept->full_json, kept->full_json_len, "more than eight bytes", 21));
    msg_release(kept);
    kept = fake_fetch_at_home(home, topic, strlen(topic), hash, 2);
    assert_non_null(kept);
    assert_int_equal(kept->seq, 2);
    msg_release(kept);
    assert_null(fake_fetch_at_home(home, topic, strlen(topic), hash, 3));
    assert_null(fake_fetch_at_home(home, topic, strlen(topic), hash, 0));

    /* From another shard: the request goes to the home and the message
     * comes back to the connection. */
    struct conn *c = conn_new(origin, 100, &fake_ops);
    assert_non_null(c);
    struct pubreq *req = fake_new_fetch(c, 1, topic, strlen(topic), hash, 1);
    assert_non_null(req);
    struct xring *request = shard_set_request_ring(&fs->set, 1, 0);
    xring_push(request, ring_item(req, ITEM_REQUEST));
    handle_all(home, request, NULL);
    handle_all(origin, shard_set_data_ring(&fs->set, 0, 1), NULL);
    assert_int_equal(fake_calls.on_result, 1);
    assert_int_equal(fake_calls.op, PUBREQ_FETCH);
    assert_non_null(fake_calls.fetched);
    assert_int_equal(fake_calls.fetched->seq, 1);
    assert_ptr_equal(fake_calls.fetched, fake_fetch_at_home(home, topic, strlen(topic), hash, 1));
    msg_release(fake_calls.fetched); /* the reference just taken */
    msg_release(fake_calls.fetched);
    fake_calls.fetched = NULL;

    /* Not held: answered with nothing. */
    req = fake_new_fetch(c, 1, topic, strlen(topic), hash, 3);
    assert_non_null(req);
    xring_push(request, ring_item(req, ITEM_REQUEST));
    handle_all(home, request, NULL);
    handle_all(origin, shard_set_data_ring(&fs->set, 0, 1), NULL);
    assert_int_equal(fake_calls.on_result, 2);
    assert_null(fake_calls.fetched);
    fake_set_free(fs);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_home_of_covers_every_shard),
        cmocka_unit_test_setup_teardown(test_room_until_request_ring_full, setup, fake_teardown),
        cmocka_unit_test_setup_teardown(test_room_at_home_needs_every_data_ring, setup,
                                        fake_teardown),
        cmocka_unit_test_setup_teardown(test_sequences_per_topic_and_dedups, setup, fake_teardown),
        cmocka_unit_test_setup_teardown(test_pushes_to_interested_shards_only, setup,
                                        fake_teardown),
        cmocka_unit_test_setup_teardown(test_result_reaches_its_connection, setup, fake_teardown),
        cmocka_unit_test_setup_teardown(test_request_waits_while_data_rings_full, setup,
                                        fake_teardown),
        cmocka_unit_test(test_fetch_from_home),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
