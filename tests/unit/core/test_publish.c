/* test_publish.c: the one publish and fetch entry point (publish.c) and the
 * one subscribe helper (subscribe.c), on shards without io_uring
 * (fake_shard.h): the claims, the checks, sequencing at once when this
 * shard is the topic's home, a request on the ring when it is not, and
 * waiting on the blocked list while that ring is full. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "../fake_shard.h"
#include "util/tokenbucket.h"
#include "util/hash.h"
#include "core/publish.h"
#include "pubsub/pubcheck.h"
#include "ringcast/protocol.h"
#include "core/ringitem.h"
#include "core/route.h"
#include "core/subscribe.h"
#include "pubsub/topic.h"

#define RING 4

static enum publish_outcome submit(struct shard *sh, struct conn *c, uint32_t corr,
                                   struct publish_fields f, struct publish_result *out)
{
    memset(out, 0x5a, sizeof(*out)); /* every field is set by publish_submit */
    struct tokenbucket bucket = {0}; /* full: the test's publishes are not rate limited */
    return publish_submit(sh, c, &bucket, corr, &f, out);
}

static int setup_one(void **state)
{
    *state = fake_set_new(1, RING, NULL);
    return 0;
}

static int setup_two(void **state)
{
    *state = fake_set_new(2, RING, NULL);
    return 0;
}

static void test_forbidden_without_claim(void **state)
{
    struct shard *sh = fake_shard(*state, 0);
    struct conn *c = conn_new(sh, 100, &fake_first_ops);
    assert_non_null(c);
    struct publish_result out;

    /* A token without a publish claim. */
    conn_set_claims(sh, c, fake_claims("{\"sub\":\"u\"}"));
    assert_int_equal(submit(sh, c, 1, fake_fields("news", "{}"), &out), PUBLISH_ANSWERED);
    assert_int_equal(out.error, RC_ERR_FORBIDDEN);
    assert_non_null(out.message);
    assert_non_null(strstr(out.message, "publish claim"));

    /* A claim for other topics. */
    conn_set_claims(sh, c, fake_claims("{\"publish\":[\"news\",\"room:>\"]}"));
    assert_int_equal(submit(sh, c, 2, fake_fields("orders:1", "{}"), &out), PUBLISH_ANSWERED);
    assert_int_equal(out.error, RC_ERR_FORBIDDEN);
    assert_int_equal(home_topic_count(&sh->home), 0);
    assert_int_equal(counter_read(&sh->stats.publishes), 0);

    /* Covered: published. */
    assert_int_equal(submit(sh, c, 3, fake_fields("room:1", "{}"), &out), PUBLISH_ANSWERED);
    assert_int_equal(out.error, 0);
    assert_null(out.message);
    assert_int_equal(out.seq, 1);
    assert_int_equal(submit(sh, c, 4, fake_fields("news", "{}"), &out), PUBLISH_ANSWERED);
    assert_int_equal(out.error, 0);
    assert_int_equal(out.seq, 1);
    assert_int_equal(counter_read(&sh->stats.publishes), 2);
}

static void test_refused_by_pubcheck(void **state)
{
    struct shard *sh = fake_shard(*state, 0);
    struct conn *c = conn_new(sh, 100, &fake_first_ops); /* open mode: no claims */
    assert_non_null(c);
    struct publish_result out;

    assert_int_equal(submit(sh, c, 1, fake_fields("a.*", "{}"), &out), PUBLISH_ANSWERED);
    assert_int_equal(out.error, RC_ERR_BAD_TOPIC);
    enum topic_status ts =
        topic_validate("a.*", 3, sh->cfg->max_topic_length, sh->cfg->max_segments);
    assert_int_not_equal(ts, TOPIC_OK);
    assert_string_equal(out.message, topic_status_text(ts));

    assert_int_equal(submit(sh, c, 2, fake_fields("a", "{bad"), &out), PUBLISH_ANSWERED);
    assert_int_equal(out.error, RC_ERR_BAD_PAYLOAD);
    assert_string_equal(out.message, "payload is declared JSON but is not valid JSON");

    struct publish_fields f = fake_fields("a", "{}");
    f.audience = "[1]";
    f.audience_len = 3;
    assert_int_equal(submit(sh, c, 3, f, &out), PUBLISH_ANSWERED);
    assert_int_not_equal(out.error, 0);
    assert_non_null(out.message);

    assert_int_equal(home_topic_count(&sh->home), 0);
    assert_int_equal(counter_read(&sh->stats.publishes), 0);
}

static void test_answered_at_home(void **state)
{
    struct shard *sh = fake_shard(*state, 0);
    struct conn *c = conn_new(sh, 100, &fake_first_ops);
    struct conn *sub = conn_new(sh, 101, &fake_ops);
    assert_non_null(c);
    assert_non_null(sub);
    const char *message = NULL;
    assert_int_equal(subscribe_topic(sh, sub, "a", 1, &message), SUBSCRIBE_OK);
    struct publish_result out;

    assert_int_equal(submit(sh, c, 1, fake_fields("a", "{\"n\":1}"), &out), PUBLISH_ANSWERED);
    assert_int_equal(out.error, 0);
    assert_null(out.message);
    assert_int_equal(out.seq, 1);
    assert_int_equal(out.ack_flags, 0);
    assert_int_equal(submit(sh, c, 2, fake_fields("a", "{\"n\":2}"), &out), PUBLISH_ANSWERED);
    assert_int_equal(out.seq, 2);
    assert_int_equal(sub->sq.count, 2);

    /* A retry with the same message id: the first seq, flagged. */
    struct publish_fields f = fake_fields("a", "{\"n\":3}");
    f.msg_id = "id-3";
    f.msg_id_len = 4;
    assert_int_equal(submit(sh, c, 3, f, &out), PUBLISH_ANSWERED);
    assert_int_equal(out.seq, 3);
    assert_int_equal(out.ack_flags, 0);
    assert_int_equal(submit(sh, c, 4, f, &out), PUBLISH_ANSWERED);
    assert_int_equal(out.error, 0);
    assert_int_equal(out.seq, 3);
    assert_int_equal(out.ack_flags, RC_ACK_DUPLICATE);
    assert_int_equal(sub->sq.count, 3);

    /* With an audience: it goes with the message (a subscriber without a
     * token is not in it), and a duplicate's is freed (ASan). */
    f = fake_fields("a", "{\"n\":4}");
    f.audience = "{\"tenant\":\"t1\"}";
    f.audience_len = strlen(f.audience);
    f.msg_id = "id-4";
    f.msg_id_len = 4;
    assert_int_equal(submit(sh, c, 5, f, &out), PUBLISH_ANSWERED);
    assert_int_equal(out.error, 0);
    assert_int_equal(out.seq, 4);
    assert_int_equal(submit(sh, c, 6, f, &out), PUBLISH_ANSWERED);
    assert_int_equal(out.ack_flags, RC_ACK_DUPLICATE);
    assert_int_equal(sub->sq.count, 3);
    assert_int_equal(counter_read(&sh->stats.publishes), 4);

    /* Answered here: nothing went through a ring. */
    assert_false(sh->ring_pushed[0]);
    assert_int_equal(fake_calls.on_result, 0);
}

static void test_sent_to_remote_home(void **state)
{
    struct fake_set *fs = *state;
    struct shard *sh = fake_shard(fs, 0);
    struct shard *home = fake_shard(fs, 1);
    struct conn *c = conn_new(sh, 100, &fake_first_ops);
    assert_non_null(c);
    char topic[32];
    fake_topic_homed(topic, sizeof(topic), "room:", 2, 1);
    char payload[] = "{\"n\":1}";
    struct publish_result out;

    assert_int_equal(submit(sh, c, 77, fake_fields(topic, payload), &out), PUBLISH_SENT);
    assert_int_equal(out.error, 0);
    assert_true(sh->ring_pushed[1]);
    assert_int_equal(home_topic_count(&sh->home), 0); /* not sequenced here */
    struct xring *request = shard_set_request_ring(&fs->set, 0, 1);
    assert_int_equal(fake_ring_count(request), 1);
    void *item = xring_peek(request);
    assert_int_equal(ring_item_kind(item), ITEM_REQUEST);
    struct pubreq *req = ring_item_ptr(item);
    assert_int_equal(req->op, PUBREQ_PUBLISH);
    assert_int_equal(req->corr, 77);
    assert_int_equal(req->origin, 0);
    assert_int_equal(req->conn_slot, c->slot);
    assert_int_equal(req->conn_gen, c->gen);
    assert_int_equal(req->in.topic_hash, rc_hash(topic, strlen(topic)));
    /* A copy: the receive buffer may be reused at once. */
    assert_ptr_not_equal(req->in.topic, topic);
    assert_ptr_not_equal(req->in.payload, (const uint8_t *)payload);
    memset(topic, 'x', strlen(topic));
    memset(payload, 'x', strlen(payload));
    assert_memory_equal(req->in.payload, "{\"n\":1}", 7);

    /* The home sequences it and the result comes back to on_result. */
    assert_true(route_handle_item(home, item));
    xring_pop(request);
    assert_int_equal(home_topic_count(&home->home), 1);
    struct xring *back = shard_set_data_ring(&fs->set, 1, 0);
    item = fake_ring_take(back);
    assert_non_null(item);
    assert_int_equal(ring_item_kind(item), ITEM_RESULT);
    assert_true(route_handle_item(sh, item));
    assert_int_equal(fake_calls.on_result, 1);
    assert_ptr_equal(fake_calls.last_conn, c);
    assert_int_equal(fake_calls.corr, 77);
    assert_int_equal(fake_calls.seq, 1);
    assert_int_equal(fake_calls.error, 0);

    /* Refused by the checks before anything goes on the ring. */
    fake_topic_homed(topic, sizeof(topic), "room:", 2, 1);
    assert_int_equal(submit(sh, c, 78, fake_fields(topic, "{bad"), &out), PUBLISH_ANSWERED);
    assert_int_equal(out.error, RC_ERR_BAD_PAYLOAD);
    assert_int_equal(fake_ring_count(request), 0);
}

static void test_blocked_while_ring_full(void **state)
{
    struct fake_set *fs = *state;
    struct shard *sh = fake_shard(fs, 0);
    struct conn *c = conn_new(sh, 100, &fake_first_ops);
    struct conn *c2 = conn_new(sh, 101, &fake_first_ops);
    assert_non_null(c);
    assert_non_null(c2);
    char topic[32];
    fake_topic_homed(topic, sizeof(topic), "room:", 2, 1);
    struct xring *request = shard_set_request_ring(&fs->set, 0, 1);
    struct publish_result out;
    for (uint32_t i = 0; i < RING; i++)
        assert_int_equal(submit(sh, c, i, fake_fields(topic, "{}"), &out), PUBLISH_SENT);

    assert_int_equal(submit(sh, c, 9, fake_fields(topic, "{}"), &out), PUBLISH_BLOCKED);
    assert_true(c->flags & CONN_BLOCKED);
    assert_ptr_equal(sh->blocked, c);
    assert_int_equal(atomic_load(&request->producer_waiting), 1);
    assert_int_equal(counter_read(&sh->stats.ring_full), 1);
    assert_int_equal(fake_ring_count(request), RING);
    /* Not judged while it waits: a bad payload blocks too. */
    assert_int_equal(submit(sh, c2, 10, fake_fields(topic, "{bad"), &out), PUBLISH_BLOCKED);
    assert_ptr_equal(sh->blocked, c2);
    assert_ptr_equal(c2->next_work, c);
    /* The claims come first: a forbidden publish is answered. */
    conn_set_claims(sh, c2, fake_claims("{\"publish\":[\"other\"]}"));
    assert_int_equal(submit(sh, c2, 11, fake_fields(topic, "{}"), &out), PUBLISH_ANSWERED);
    assert_int_equal(out.error, RC_ERR_FORBIDDEN);

    /* The home takes a request: woken, the publisher tries again. */
    void *item = xring_peek(request);
    assert_non_null(item);
    pubreq_free(ring_item_ptr(item));
    xring_pop(request);
    bool wake = false;
    xring_consumer_release(request, &wake);
    assert_true(wake);
    sh->blocked = NULL; /* what the loop's run_work does */
    c->flags &= ~CONN_BLOCKED;
    c2->flags &= ~CONN_BLOCKED;
    assert_int_equal(submit(sh, c, 9, fake_fields(topic, "{}"), &out), PUBLISH_SENT);
    assert_int_equal(fake_ring_count(request), RING);
}

static enum publish_outcome ask_fetch(struct shard *sh, struct conn *c, const char *topic,
                                      uint64_t seq, struct pubreq *local, bool *failed)
{
    const struct pubreq_ask ask = {.op = PUBREQ_FETCH,
                                   .topic = topic,
                                   .topic_len = strlen(topic),
                                   .topic_hash = rc_hash(topic, strlen(topic)),
                                   .seq = seq};
    return publish_ask(sh, c, &ask, local, failed);
}

static void test_fetch(void **state)
{
    (void)state;
    /* Events over 4 bytes are kept for fetching. */
    struct fake_set *fs = fake_set_new_keeping(2, RING, 4);
    struct shard *sh = fake_shard(fs, 0);
    struct conn *c = conn_new(sh, 100, &fake_ops);
    assert_non_null(c);
    char here[32], there[32];
    fake_topic_homed(here, sizeof(here), "doc:", 2, 0);
    fake_topic_homed(there, sizeof(there), "doc:", 2, 1);
    struct publish_result out;
    assert_int_equal(submit(sh, c, 1, fake_fields(here, "{\"big\":true}"), &out), PUBLISH_ANSWERED);
    assert_int_equal(out.seq, 1);

    /* Home here: answered at once. */
    struct pubreq local;
    bool failed = true;
    assert_int_equal(ask_fetch(sh, c, here, 1, &local, &failed), PUBLISH_ANSWERED);
    assert_false(failed);
    assert_non_null(local.fetched);
    assert_int_equal(local.fetched->seq, 1);
    pubreq_release_results(&local);
    assert_int_equal(ask_fetch(sh, c, here, 2, &local, &failed), PUBLISH_ANSWERED);
    assert_null(local.fetched);
    assert_false(failed);

    /* Home elsewhere: a fetch request on its ring, until the ring is full. */
    struct xring *request = shard_set_request_ring(&fs->set, 0, 1);
    for (unsigned i = 0; i < RING; i++)
        assert_int_equal(ask_fetch(sh, c, there, i + 1, &local, &failed), PUBLISH_SENT);
    assert_null(local.fetched);
    assert_int_equal(fake_ring_count(request), RING);
    void *item = xring_peek(request);
    assert_int_equal(ring_item_kind(item), ITEM_REQUEST);
    struct pubreq *req = ring_item_ptr(item);
    assert_int_equal(req->op, PUBREQ_FETCH);
    assert_int_equal(req->seq, 1);
    assert_int_equal(req->conn_slot, c->slot);
    assert_int_equal(req->conn_gen, c->gen);
    assert_memory_equal(req->in.topic, there, strlen(there));
    assert_int_equal(ask_fetch(sh, c, there, 9, &local, &failed), PUBLISH_BLOCKED);
    assert_true(c->flags & CONN_BLOCKED);
    assert_ptr_equal(sh->blocked, c);
    fake_set_free(fs);
}

static void test_subscribe_topic(void **state)
{
    struct fake_set *fs = *state;
    struct shard *sh = fake_shard(fs, 0);
    fs->cfg.max_topics_per_conn = 2;
    fs->cfg.max_patterns_per_conn = 1;
    struct conn *c = conn_new(sh, 100, &fake_ops);
    assert_non_null(c);
    const char *message = NULL;

    assert_int_equal(subscribe_topic(sh, c, "", 0, &message), SUBSCRIBE_BAD_TOPIC);
    assert_non_null(message);
    assert_int_equal(sh->index.subscriptions, 0);

    conn_set_claims(sh, c, fake_claims("{\"subscribe\":[\"room:>\"]}"));
    message = NULL;
    assert_int_equal(subscribe_topic(sh, c, "news", 4, &message), SUBSCRIBE_FORBIDDEN);
    assert_non_null(strstr(message, "subscribe claim"));
    assert_int_equal(subscribe_topic(sh, c, "room:1", 6, &message), SUBSCRIBE_OK);
    assert_int_equal(subscribe_topic(sh, c, "room:1", 6, &message), SUBSCRIBE_OK); /* again */
    assert_int_equal(sh->index.subscriptions, 1);
    assert_int_equal(subscribe_topic(sh, c, "room:*", 6, &message), SUBSCRIBE_OK);
    assert_int_equal(subscribe_topic(sh, c, "room:2:*", 8, &message), SUBSCRIBE_TOO_MANY_TOPICS);
    assert_int_equal(sh->index.subscriptions, 2);

    fs->cfg.max_topics_per_conn = 10;
    message = NULL;
    assert_int_equal(subscribe_topic(sh, c, "room:2:*", 8, &message), SUBSCRIBE_TOO_MANY_PATTERNS);
    assert_non_null(message);
    assert_int_equal(sh->index.subscriptions, 2);

    /* The shard's interest summary now wants the topic. */
    struct interest_query q;
    interest_query_init(&q, "room:1", 6, rc_hash("room:1", 6));
    assert_true(interest_may_want(&sh->interest, &q));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_forbidden_without_claim, setup_one, fake_teardown),
        cmocka_unit_test_setup_teardown(test_refused_by_pubcheck, setup_one, fake_teardown),
        cmocka_unit_test_setup_teardown(test_answered_at_home, setup_one, fake_teardown),
        cmocka_unit_test_setup_teardown(test_sent_to_remote_home, setup_two, fake_teardown),
        cmocka_unit_test_setup_teardown(test_blocked_while_ring_full, setup_two, fake_teardown),
        cmocka_unit_test(test_fetch),
        cmocka_unit_test_setup_teardown(test_subscribe_topic, setup_one, fake_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
