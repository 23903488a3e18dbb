/* test_conn.c: the connection base without sockets: slots and generations,
 * the per-kind connection counts, swapping the operations table, timer
 * dispatch through ops->on_timer, the dirty lists, and release through
 * ops->release.
 *
 * The shard has no io_uring (fake_shard.h): nothing here arms a receive or
 * a send, so conn_kill submits no cancel and release closes no socket.
 * What needs a ring (conn_arm_recv, conn_flush with bytes queued,
 * begin_linger, the completions) is left to the integration tests. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "pubsub/claims.h"
#include "core/conn.h"
#include "../fake_shard.h"
#include "util/hash.h"
#include "pubsub/index.h"

static int setup(void **state)
{
    *state = fake_set_new(1, 4, NULL);
    return 0;
}

static void test_new_takes_slots_and_counts(void **state)
{
    struct shard *sh = fake_shard(*state, 0);
    sh->max_conns = 2;
    struct conn *a = conn_new(sh, 7, &fake_ops);
    struct conn *b = conn_new(sh, 8, &fake_first_ops);
    assert_non_null(a);
    assert_non_null(b);
    /* The lowest free slot first; each slot names its connection. */
    assert_int_equal(a->slot, 0);
    assert_int_equal(b->slot, 1);
    assert_ptr_equal(sh->conns[0], a);
    assert_ptr_equal(sh->conns[1], b);
    assert_int_equal(a->fd, 7);
    assert_int_equal(b->fd, 8);
    assert_ptr_equal(a->ops, &fake_ops);
    assert_int_equal(a->state, CONN_OPEN);
    assert_int_not_equal(a->gen, b->gen);
    assert_int_equal(sh->num_conns, 2);
    /* Counted under the table's stats_kind. */
    assert_int_equal(fake_connections(sh, STATS_WEBSOCKET), 1);
    assert_int_equal(fake_connections(sh, STATS_PUBLISHER), 1);
    assert_int_equal(fake_connections(sh, STATS_HTTP), 0);
    /* Its timer calls back into the base (timer_node.fire). */
    assert_non_null(a->timer.fire);
    assert_false(timer_is_armed(&a->timer));

    /* At the shard's limit: refused, nothing counted. */
    assert_null(conn_new(sh, 9, &fake_ops));
    assert_int_equal(sh->num_conns, 2);
    assert_int_equal(fake_connections(sh, STATS_WEBSOCKET), 1);
}

static void test_lookup_rejects_stale_generation(void **state)
{
    struct shard *sh = fake_shard(*state, 0);
    struct conn *a = conn_new(sh, 7, &fake_ops);
    assert_non_null(a);
    uint32_t slot = a->slot, old_gen = a->gen;
    assert_ptr_equal(conn_lookup(sh, slot, old_gen), a);
    assert_null(conn_lookup(sh, slot, old_gen + 1));
    assert_null(conn_lookup(sh, slot + 1, old_gen)); /* free slot */
    assert_null(conn_lookup(sh, sh->conns_cap, old_gen));
    assert_null(conn_lookup(sh, UINT32_MAX, old_gen));

    conn_kill(sh, a);
    assert_true(fake_reap(sh, a));
    assert_null(conn_lookup(sh, slot, old_gen));

    /* The slot is taken again by a new connection: the old name does not
     * reach it. */
    struct conn *b = conn_new(sh, 8, &fake_ops);
    assert_non_null(b);
    assert_int_equal(b->slot, slot);
    assert_int_not_equal(b->gen, old_gen);
    assert_null(conn_lookup(sh, slot, old_gen));
    assert_ptr_equal(conn_lookup(sh, slot, b->gen), b);
}

static void test_set_ops_moves_count_and_releases_old_kind(void **state)
{
    struct shard *sh = fake_shard(*state, 0);
    struct conn *c = conn_new(sh, 7, &fake_first_ops);
    assert_non_null(c);
    memset(c->kind_state, 0xab, sizeof(c->kind_state));
    assert_int_equal(fake_connections(sh, STATS_PUBLISHER), 1);

    conn_set_ops(sh, c, &fake_ops);
    /* The old kind released its state before it was zeroed. */
    assert_int_equal(fake_calls.release, 1);
    assert_ptr_equal(fake_calls.last_conn, c);
    assert_int_equal(fake_calls.kind_state_at_release, 0xab);
    for (size_t i = 0; i < sizeof(c->kind_state); i++)
        assert_int_equal(c->kind_state[i], 0);
    assert_ptr_equal(c->ops, &fake_ops);
    assert_int_equal(fake_connections(sh, STATS_PUBLISHER), 0);
    assert_int_equal(fake_connections(sh, STATS_WEBSOCKET), 1);
    assert_int_equal(sh->num_conns, 1);

    /* From a kind without release: nothing to call. */
    conn_set_ops(sh, c, &fake_bare_ops);
    assert_int_equal(fake_calls.release, 2); /* fake_ops' own release */
    conn_set_ops(sh, c, &fake_ops);
    assert_int_equal(fake_calls.release, 2);
    assert_int_equal(fake_connections(sh, STATS_HTTP), 0);
    assert_int_equal(fake_connections(sh, STATS_WEBSOCKET), 1);
}

static void test_timer_dispatch_while_open(void **state)
{
    struct shard *sh = fake_shard(*state, 0);
    struct conn *c = conn_new(sh, 7, &fake_ops);
    assert_non_null(c);
    /* The kind's deadline reached: its on_timer runs, once. */
    conn_arm_timer(sh, c, sh->now_ms);
    conn_on_timer(sh, c);
    assert_int_equal(fake_calls.on_timer, 1);
    assert_ptr_equal(fake_calls.last_conn, c);
    assert_ptr_equal(fake_calls.last_shard, sh);
    assert_int_equal(c->state, CONN_OPEN);
    assert_int_equal(c->kind_deadline_ms, 0);
    conn_on_timer(sh, c); /* no deadline left: the kind is not called */
    assert_int_equal(fake_calls.on_timer, 1);

    /* Through the wheel: the node's callback reaches the kind's on_timer at
     * its deadline, not before. */
    int64_t start = sh->now_ms;
    conn_arm_timer(sh, c, start + 200);
    sh->now_ms = start + 100;
    timer_advance(&sh->timers, sh->now_ms, sh);
    assert_int_equal(fake_calls.on_timer, 1);
    sh->now_ms = start + 400;
    timer_advance(&sh->timers, sh->now_ms, sh);
    assert_int_equal(fake_calls.on_timer, 2);
    assert_int_equal(c->state, CONN_OPEN);

    /* Cancelled: nothing fires. */
    conn_arm_timer(sh, c, sh->now_ms + 100);
    conn_cancel_timer(sh, c);
    assert_false(timer_is_armed(&c->timer));

    /* A kind without on_timer: nothing happens. */
    struct conn *bare = conn_new(sh, 8, &fake_bare_ops);
    assert_non_null(bare);
    conn_arm_timer(sh, bare, sh->now_ms);
    conn_on_timer(sh, bare);
    assert_int_equal(bare->state, CONN_OPEN);
    assert_int_equal(fake_calls.on_timer, 2);
}

/* Output over half of --max-queued-bytes pauses the input (and the kind's
 * timer with it); draining to a quarter resumes it; staying over for
 * --send-timeout closes the connection as a slow consumer. */
static void test_output_bound_pauses_then_times_out(void **state)
{
    struct shard *sh = fake_shard(*state, 0);
    struct rc_config *cfg = (struct rc_config *)sh->cfg;
    cfg->max_queued_bytes = 4096;
    cfg->send_timeout_ms = 1000;
    struct conn *c = conn_new(sh, 7, &fake_ops);
    assert_non_null(c);
    static uint8_t reply[1024];
    for (int i = 0; i < 2; i++) {
        assert_true(conn_input_next(sh, c));
        conn_send_copy(sh, c, reply, sizeof(reply));
    }
    assert_int_equal(c->sq.bytes, 2048); /* exactly half */
    assert_false(conn_input_next(sh, c));
    assert_true(c->flags & CONN_READ_PAUSED);
    assert_true(c->flags & CONN_OUTPUT_FULL);
    assert_false(conn_input_next(sh, c)); /* still */
    assert_int_equal(counter_read(&sh->stats.output_pauses), 1);

    /* The kind's deadline passes while paused: it waits. */
    conn_arm_timer(sh, c, sh->now_ms + 10);
    sh->now_ms += 500;
    conn_on_timer(sh, c);
    assert_int_equal(fake_calls.on_timer, 0);
    assert_int_equal(c->state, CONN_OPEN);
    /* --send-timeout after the pause: closed as slow (no close_slow in the
     * fake kind: given up and killed). */
    sh->now_ms += 500;
    conn_on_timer(sh, c);
    assert_int_equal(c->state, CONN_DEAD);
    assert_int_equal(counter_read(&sh->stats.send_timeouts), 1);
    assert_int_equal(fake_calls.on_timer, 0);
}

/* --input-budget messages per connection per loop turn, then a pause until
 * the next turn (the work list resumes it). */
static void test_input_budget_per_turn(void **state)
{
    struct shard *sh = fake_shard(*state, 0);
    struct rc_config *cfg = (struct rc_config *)sh->cfg;
    cfg->input_budget = 3;
    struct conn *c = conn_new(sh, 7, &fake_ops);
    assert_non_null(c);
    sh->turn = 10;
    for (int i = 0; i < 3; i++)
        assert_true(conn_input_next(sh, c));
    assert_false(conn_input_next(sh, c));
    assert_true(c->flags & CONN_READ_PAUSED);
    assert_false(c->flags & CONN_OUTPUT_FULL);
    assert_true(c->flags & CONN_ON_WORK);
    assert_ptr_equal(sh->work, c);
    assert_int_equal(counter_read(&sh->stats.input_budget_pauses), 1);
    /* The next turn, resumed: a fresh budget. */
    sh->turn = 11;
    c->flags &= ~CONN_READ_PAUSED;
    for (int i = 0; i < 3; i++)
        assert_true(conn_input_next(sh, c));
    assert_false(conn_input_next(sh, c));
}

static void test_timer_kills_closing_connection(void **state)
{
    struct shard *sh = fake_shard(*state, 0);
    struct conn *c = conn_new(sh, 7, &fake_ops);
    assert_non_null(c);
    const char *topic = "room:1";
    assert_int_equal(index_subscribe(&sh->index, &c->subs, topic, strlen(topic),
                                     rc_hash(topic, strlen(topic)), 16, 16),
                     INDEX_ADDED);
    assert_int_equal(sh->index.subscriptions, 1);

    /* conn_finish: CLOSING, out of the index, dirty, the close timer armed. */
    conn_finish(sh, c);
    assert_int_equal(c->state, CONN_CLOSING);
    assert_int_equal(sh->index.subscriptions, 0);
    assert_true(c->flags & CONN_DIRTY);
    assert_ptr_equal(sh->dirty_other, c);
    assert_true(timer_is_armed(&c->timer));

    /* The close timeout ends it; the kind's on_timer is not called. */
    sh->now_ms += sh->cfg->close_timeout_ms + FAKE_TICK_MS;
    timer_advance(&sh->timers, sh->now_ms, sh);
    assert_int_equal(c->state, CONN_DEAD);
    assert_int_equal(fake_calls.on_timer, 0);
    assert_true(c->flags & CONN_ON_WORK);
    assert_ptr_equal(sh->work, c);

    /* LINGER likewise. */
    struct conn *l = conn_new(sh, 8, &fake_ops);
    assert_non_null(l);
    l->state = CONN_LINGER;
    conn_on_timer(sh, l);
    assert_int_equal(l->state, CONN_DEAD);
    assert_int_equal(fake_calls.on_timer, 0);

    /* DEAD: nothing more. */
    conn_on_timer(sh, l);
    assert_int_equal(l->state, CONN_DEAD);
    assert_int_equal(fake_calls.on_timer, 0);
}

static void test_mark_dirty_lists(void **state)
{
    struct shard *sh = fake_shard(*state, 0);
    struct conn *sub1 = conn_new(sh, 7, &fake_ops);
    struct conn *sub2 = conn_new(sh, 8, &fake_ops);
    struct conn *pub = conn_new(sh, 9, &fake_first_ops);
    assert_non_null(sub1);
    assert_non_null(sub2);
    assert_non_null(pub);

    conn_mark_dirty(sh, pub);
    assert_ptr_equal(sh->dirty_first, pub);
    assert_null(pub->next_dirty);
    assert_null(sh->dirty_other);
    assert_true(pub->flags & CONN_DIRTY);

    conn_mark_dirty(sh, sub1);
    conn_mark_dirty(sh, sub1); /* once */
    conn_mark_dirty(sh, sub2);
    conn_mark_dirty(sh, pub);
    assert_ptr_equal(sh->dirty_first, pub);
    assert_null(pub->next_dirty);
    assert_ptr_equal(sh->dirty_other, sub2);
    assert_ptr_equal(sub2->next_dirty, sub1);
    assert_null(sub1->next_dirty);

    /* conn_send_copy queues a copy and marks dirty. */
    struct conn *sub3 = conn_new(sh, 10, &fake_ops);
    assert_non_null(sub3);
    char bytes[] = "hello";
    conn_send_copy(sh, sub3, bytes, 5);
    bytes[0] = 'j';
    assert_int_equal(sub3->sq.count, 1);
    assert_int_equal(sub3->sq.bytes, 5);
    assert_memory_equal(sub3->sq.entries[sub3->sq.head].data, "hello", 5);
    assert_ptr_equal(sh->dirty_other, sub3);
    assert_ptr_equal(sub3->next_dirty, sub2);
}

static void test_add_work_once(void **state)
{
    struct shard *sh = fake_shard(*state, 0);
    struct conn *a = conn_new(sh, 7, &fake_ops);
    struct conn *b = conn_new(sh, 8, &fake_ops);
    assert_non_null(a);
    assert_non_null(b);
    conn_add_work(sh, a);
    conn_add_work(sh, b);
    conn_add_work(sh, a);
    assert_ptr_equal(sh->work, b);
    assert_ptr_equal(b->next_work, a);
    assert_null(a->next_work);
    sh->work = NULL;
    a->flags &= ~CONN_ON_WORK;
    b->flags &= ~CONN_ON_WORK;
}

static void test_kill_and_reap_release(void **state)
{
    struct shard *sh = fake_shard(*state, 0);
    struct conn *c = conn_new(sh, 7, &fake_ops);
    assert_non_null(c);
    uint32_t slot = c->slot;
    uint32_t free_before = sh->num_free;
    const char *topic = "room:>";
    assert_int_equal(index_subscribe(&sh->index, &c->subs, topic, strlen(topic),
                                     rc_hash(topic, strlen(topic)), 16, 16),
                     INDEX_ADDED);
    conn_set_claims(sh, c, fake_claims("{\"sub\":\"u\"}")); /* freed at release (ASan) */
    conn_send_copy(sh, c, "queued", 6);
    timer_arm(&sh->timers, &c->timer, sh->now_ms + 1000);
    c->kind_state[0] = 0x5a;

    /* Not DEAD: never reaped. */
    assert_false(conn_reap(sh, c));
    assert_int_equal(fake_calls.release, 0);

    conn_kill(sh, c);
    assert_int_equal(c->state, CONN_DEAD);
    assert_int_equal(sh->index.subscriptions, 0);
    assert_false(timer_is_armed(&c->timer));
    assert_int_equal(c->pending, 0); /* nothing was in flight: no cancel */
    assert_true(c->flags & CONN_ON_WORK);
    /* Killing twice changes nothing. */
    conn_kill(sh, c);
    assert_ptr_equal(sh->work, c);
    assert_null(c->next_work);

    /* While a list holds it, or a request is in flight, it stays. */
    assert_false(conn_reap(sh, c));
    sh->work = NULL;
    c->flags &= ~CONN_ON_WORK;
    c->pending = 1;
    assert_false(fake_reap(sh, c)); /* still dirty from the send, and pending */
    assert_int_equal(fake_calls.release, 0);
    c->pending = 0;
    assert_true(conn_reap(sh, c));

    assert_int_equal(fake_calls.release, 1);
    assert_int_equal(fake_calls.kind_state_at_release, 0x5a);
    assert_null(sh->conns[slot]);
    assert_int_equal(sh->num_conns, 0);
    assert_int_equal(sh->num_free, free_before + 1);
    assert_int_equal(sh->free_slots[sh->num_free - 1], slot);
    assert_int_equal(fake_connections(sh, STATS_WEBSOCKET), 0);
}

static void test_free_all_releases_every_connection(void **state)
{
    struct shard *sh = fake_shard(*state, 0);
    for (int i = 0; i < 5; i++)
        assert_non_null(conn_new(sh, 7 + i, i % 2 ? &fake_ops : &fake_first_ops));
    assert_non_null(conn_new(sh, 20, &fake_bare_ops));
    conn_free_all(sh);
    assert_int_equal(fake_calls.release, 5);
    assert_int_equal(sh->num_conns, 0);
    for (int k = 0; k < STATS_NUM_PROTOCOLS; k++)
        assert_int_equal(fake_connections(sh, k), 0);
    for (uint32_t i = 0; i < sh->conns_cap; i++)
        assert_null(sh->conns[i]);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_new_takes_slots_and_counts, setup, fake_teardown),
        cmocka_unit_test_setup_teardown(test_lookup_rejects_stale_generation, setup, fake_teardown),
        cmocka_unit_test_setup_teardown(test_set_ops_moves_count_and_releases_old_kind, setup,
                                        fake_teardown),
        cmocka_unit_test_setup_teardown(test_output_bound_pauses_then_times_out, setup,
                                        fake_teardown),
        cmocka_unit_test_setup_teardown(test_input_budget_per_turn, setup, fake_teardown),
        cmocka_unit_test_setup_teardown(test_timer_dispatch_while_open, setup, fake_teardown),
        cmocka_unit_test_setup_teardown(test_timer_kills_closing_connection, setup, fake_teardown),
        cmocka_unit_test_setup_teardown(test_mark_dirty_lists, setup, fake_teardown),
        cmocka_unit_test_setup_teardown(test_add_work_once, setup, fake_teardown),
        cmocka_unit_test_setup_teardown(test_kill_and_reap_release, setup, fake_teardown),
        cmocka_unit_test_setup_teardown(test_free_all_releases_every_connection, setup,
                                        fake_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
