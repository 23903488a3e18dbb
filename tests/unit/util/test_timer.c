/* test_timer.c: unit tests for src/util/timer.h (hashed timing wheel). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "util/timer.h"

#define ORIGIN 1000000 /* an arbitrary monotonic clock reading */
#define TICK 10

/* A timer with what the test knows about it. */
struct tmr {
    struct timer_node node; /* first: a node pointer is a tmr pointer */
    int64_t deadline;
    int fired;
    int64_t fired_at; /* the now_ms of the advance that fired it */
    int64_t period;   /* > 0: re-arm itself at deadline + period */
    struct tmr *victim;
    int victim_action; /* 1: cancel it, 2: re-arm it at victim_deadline */
    int64_t victim_deadline;
};

struct world {
    struct timer_wheel w;
    int64_t now;
    int total_fired;
};

static void on_fire(void *ctx, struct timer_node *node)
{
    struct world *wd = ctx;
    struct tmr *t = (struct tmr *)node;
    assert_false(timer_is_armed(node)); /* disarmed before the call */
    t->fired++;
    t->fired_at = wd->now;
    wd->total_fired++;
    if (t->period > 0) {
        t->deadline += t->period;
        timer_arm(&wd->w, node, t->deadline);
    }
    if (t->victim) {
        if (t->victim_action == 1) {
            timer_cancel(&wd->w, &t->victim->node);
        } else if (t->victim_action == 2) {
            t->victim->deadline = t->victim_deadline;
            t->victim->node.fire = on_fire;
            timer_arm(&wd->w, &t->victim->node, t->victim_deadline);
        }
        t->victim = NULL; /* once */
    }
}

static void advance(struct world *wd, int64_t now)
{
    wd->now = now;
    timer_advance(&wd->w, now, wd);
}

static void arm(struct world *wd, struct tmr *t, int64_t deadline)
{
    t->deadline = deadline;
    t->node.fire = on_fire;
    timer_arm(&wd->w, &t->node, deadline);
}

static void world_init(struct world *wd, uint32_t tick)
{
    memset(wd, 0, sizeof(*wd));
    timer_wheel_init(&wd->w, ORIGIN, tick);
    wd->now = ORIGIN;
}

/* step advances 1 ms at a time up to |end|. */
static void step(struct world *wd, int64_t end)
{
    for (int64_t t = wd->now + 1; t <= end; t++)
        advance(wd, t);
}

/* fired_in_window: fired exactly once, not before the deadline, and no
 * later than the tick after it. */
static void check_fired(const struct tmr *t, uint32_t tick)
{
    if (t->fired != 1)
        fail_msg("deadline %lld: fired %d times", (long long)(t->deadline - ORIGIN), t->fired);
    if (t->fired_at < t->deadline || t->fired_at > t->deadline + tick)
        fail_msg("deadline %lld fired at %lld", (long long)(t->deadline - ORIGIN),
                 (long long)(t->fired_at - ORIGIN));
}

static void test_fires_at_deadline(void **state)
{
    static const int64_t offsets[] = {1, 9, 10, 11, 15, 19, 20, 55, 100, 999, 1000, 1001};
    for (size_t i = 0; i < sizeof(offsets) / sizeof(offsets[0]); i++) {
        struct world wd;
        world_init(&wd, TICK);
        struct tmr t = {0};
        arm(&wd, &t, ORIGIN + offsets[i]);
        assert_true(timer_is_armed(&t.node));
        step(&wd, ORIGIN + offsets[i] - 1);
        if (t.fired)
            fail_msg("deadline +%lld fired early at +%lld", (long long)offsets[i],
                     (long long)(t.fired_at - ORIGIN));
        step(&wd, ORIGIN + offsets[i] + 3 * TICK);
        check_fired(&t, TICK);
        assert_false(timer_is_armed(&t.node));
    }
}

/* One big jump fires everything due, once, and nothing not yet due. */
static void test_single_big_advance(void **state)
{
    struct world wd;
    world_init(&wd, TICK);
    struct tmr a = {0}, b = {0}, c = {0};
    arm(&wd, &a, ORIGIN + 100);
    arm(&wd, &b, ORIGIN + 5000);
    arm(&wd, &c, ORIGIN + 5001 + TICK);
    advance(&wd, ORIGIN + 5000);
    assert_int_equal(a.fired, 1);
    assert_int_equal(b.fired, 1);
    assert_int_equal(c.fired, 0);
    advance(&wd, ORIGIN + 5000); /* same time again: nothing */
    assert_int_equal(a.fired + b.fired + c.fired, 2);
    advance(&wd, ORIGIN + 5001 + 2 * TICK);
    assert_int_equal(c.fired, 1);
}

static void test_past_deadline(void **state)
{
    struct world wd;
    world_init(&wd, TICK);
    advance(&wd, ORIGIN + 500);
    struct tmr t = {0};
    arm(&wd, &t, ORIGIN + 100);   /* already past: fires at the next tick */
    assert_int_equal(t.fired, 0); /* not from inside timer_arm */
    advance(&wd, ORIGIN + 500 + TICK);
    assert_int_equal(t.fired, 1);
    /* A deadline before the wheel's origin. */
    struct tmr u = {0};
    arm(&wd, &u, ORIGIN - 100000);
    advance(&wd, ORIGIN + 500 + 2 * TICK);
    assert_int_equal(u.fired, 1);
}

static void test_cancel(void **state)
{
    struct world wd;
    world_init(&wd, TICK);
    struct tmr t = {0}, other = {0};
    timer_cancel(&wd.w, &t.node); /* never armed: harmless */
    arm(&wd, &t, ORIGIN + 50);
    arm(&wd, &other, ORIGIN + 50);
    timer_cancel(&wd.w, &t.node);
    assert_false(timer_is_armed(&t.node));
    timer_cancel(&wd.w, &t.node); /* twice: harmless */
    step(&wd, ORIGIN + 20000);
    assert_int_equal(t.fired, 0);
    check_fired(&other, TICK);
    assert_int_equal(timer_wait_ms(&wd.w, wd.now), -1);
}

static void test_rearm_moves(void **state)
{
    struct world wd;
    world_init(&wd, TICK);
    struct tmr later = {0}, sooner = {0};
    arm(&wd, &later, ORIGIN + 100);
    arm(&wd, &later, ORIGIN + 500); /* moved later */
    arm(&wd, &sooner, ORIGIN + 900);
    arm(&wd, &sooner, ORIGIN + 200); /* moved sooner */
    assert_int_equal(wd.w.armed, 2);
    step(&wd, ORIGIN + 199);
    assert_int_equal(later.fired + sooner.fired, 0);
    step(&wd, ORIGIN + 499);
    check_fired(&sooner, TICK);
    assert_int_equal(later.fired, 0);
    step(&wd, ORIGIN + 2000);
    check_fired(&later, TICK);
    assert_int_equal(sooner.fired, 1); /* not again at its old deadline */
    assert_int_equal(wd.w.armed, 0);
}

/* Deadlines more than one turn of the wheel away (TIMER_SLOTS ticks). */
static void test_beyond_one_turn(void **state)
{
    const int64_t turn = (int64_t)TIMER_SLOTS * TICK;
    static const int64_t mult_num[] = {1, 1, 2, 3, 5};
    static const int64_t extra[] = {0, 7, 3 * TICK, -TICK, 1};
    for (size_t i = 0; i < sizeof(extra) / sizeof(extra[0]); i++) {
        struct world wd;
        world_init(&wd, TICK);
        struct tmr t = {0}, near = {0};
        int64_t deadline = ORIGIN + mult_num[i] * turn + extra[i];
        arm(&wd, &t, deadline);
        arm(&wd, &near, ORIGIN + extra[i] + 2 * TICK); /* shares the slot one turn earlier */
        step(&wd, deadline - 1);
        if (t.fired)
            fail_msg("deadline %lld fired a turn early at %lld", (long long)(deadline - ORIGIN),
                     (long long)(t.fired_at - ORIGIN));
        step(&wd, deadline + 2 * TICK);
        check_fired(&t, TICK);
        check_fired(&near, TICK);
    }
}

static void test_callback_rearms_itself(void **state)
{
    struct world wd;
    world_init(&wd, TICK);
    struct tmr t = {.period = 100};
    arm(&wd, &t, ORIGIN + 100);
    /* One call covering ten periods fires ten times, in order. */
    advance(&wd, ORIGIN + 1000);
    assert_int_equal(t.fired, 10);
    assert_true(timer_is_armed(&t.node));
    assert_int_equal(t.deadline, ORIGIN + 1100);
    step(&wd, ORIGIN + 1099);
    assert_int_equal(t.fired, 10);
    step(&wd, ORIGIN + 1100 + TICK);
    assert_int_equal(t.fired, 11);
    timer_cancel(&wd.w, &t.node);
    assert_int_equal(wd.w.armed, 0);
}

/* A period shorter than a tick: the re-armed timer goes to a later tick,
 * never into the one being processed (which would loop forever). */
static void test_rearm_short_period(void **state)
{
    struct world wd;
    world_init(&wd, TICK);
    struct tmr t = {.period = 1};
    arm(&wd, &t, ORIGIN + 5);
    advance(&wd, ORIGIN + 100);
    assert_true(t.fired >= 1 && t.fired <= 10);
    assert_true(timer_is_armed(&t.node));
    timer_cancel(&wd.w, &t.node);
}

static void test_callback_cancels_other_same_tick(void **state)
{
    for (int order = 0; order < 2; order++) {
        struct world wd;
        world_init(&wd, TICK);
        struct tmr a = {0}, b = {0};
        a.victim = &b;
        a.victim_action = 1;
        b.victim = &a;
        b.victim_action = 1;
        if (order == 0) {
            arm(&wd, &a, ORIGIN + 100);
            arm(&wd, &b, ORIGIN + 100);
        } else {
            arm(&wd, &b, ORIGIN + 95);
            arm(&wd, &a, ORIGIN + 100);
        }
        advance(&wd, ORIGIN + 1000);
        /* Whichever fired first cancelled the other. */
        assert_int_equal(a.fired + b.fired, 1);
        assert_int_equal(wd.w.armed, 0);
        assert_false(timer_is_armed(&a.node));
        assert_false(timer_is_armed(&b.node));
        assert_int_equal(timer_wait_ms(&wd.w, wd.now), -1);
    }
}

static void test_callback_rearms_other_same_tick(void **state)
{
    struct world wd;
    world_init(&wd, TICK);
    struct tmr a = {0}, b = {0}, c = {0};
    a.victim = &b;
    a.victim_action = 2;
    a.victim_deadline = ORIGIN + 300;
    b.victim = &a;
    b.victim_action = 2;
    b.victim_deadline = ORIGIN + 300;
    arm(&wd, &a, ORIGIN + 100);
    arm(&wd, &b, ORIGIN + 100);
    arm(&wd, &c, ORIGIN + 100);
    step(&wd, ORIGIN + 299);
    /* The first to fire pushed the other to +300. */
    assert_int_equal(a.fired + b.fired, 1);
    check_fired(&c, TICK);
    struct tmr *first = a.fired ? &a : &b, *second = a.fired ? &b : &a;
    /* The second fires at +300 and re-arms the first for +300, which is
     * the tick being processed: the first fires at the next tick. */
    step(&wd, ORIGIN + 300 + 3 * TICK);
    assert_int_equal(second->fired, 1);
    assert_true(second->fired_at >= ORIGIN + 300 && second->fired_at <= ORIGIN + 300 + TICK);
    assert_int_equal(first->fired, 2);
    assert_true(first->fired_at >= ORIGIN + 300 && first->fired_at <= ORIGIN + 300 + 2 * TICK);
    assert_int_equal(c.fired, 1);
    assert_int_equal(wd.w.armed, 0);
}

/* A callback arms a fresh timer whose deadline lies between the current
 * tick and the end of this advance: it fires within the same advance. */
static void test_callback_arms_new_due_now(void **state)
{
    struct world wd;
    world_init(&wd, TICK);
    struct tmr fresh = {0};
    struct tmr a = {0};
    a.victim = &fresh;
    a.victim_action = 2;
    a.victim_deadline = ORIGIN + 500;
    arm(&wd, &a, ORIGIN + 100);
    advance(&wd, ORIGIN + 1000);
    assert_int_equal(a.fired, 1);
    assert_int_equal(fresh.fired, 1);
    assert_int_equal(wd.w.armed, 0);
}

static void test_wait_ms(void **state)
{
    struct world wd;
    world_init(&wd, TICK);
    assert_int_equal(timer_wait_ms(&wd.w, ORIGIN), -1);
    struct tmr t = {0};
    arm(&wd, &t, ORIGIN + 25);
    int64_t w = timer_wait_ms(&wd.w, ORIGIN);
    assert_true(w >= 25 && w <= 25 + TICK);
    /* Closer to the deadline, shorter. */
    w = timer_wait_ms(&wd.w, ORIGIN + 20);
    assert_true(w >= 5 && w <= 5 + TICK);
    /* Overdue (the loop was late): do not sleep. */
    assert_int_equal(timer_wait_ms(&wd.w, ORIGIN + 100), 0);
    timer_cancel(&wd.w, &t.node);
    assert_int_equal(timer_wait_ms(&wd.w, ORIGIN), -1);

    /* The nearest of several. */
    struct tmr far = {0}, near = {0};
    arm(&wd, &far, ORIGIN + 5000);
    arm(&wd, &near, ORIGIN + 300);
    w = timer_wait_ms(&wd.w, ORIGIN);
    assert_true(w >= 300 && w <= 300 + TICK);
}

/* timer_wait_ms remembers the empty slots it scanned; a timer armed before
 * them, or in a slot it passed, is still the one it waits for. */
static void test_wait_remembers_empty_slots(void **state)
{
    struct world wd;
    world_init(&wd, TICK);
    struct tmr far = {0}, near = {0}, nearer = {0};
    arm(&wd, &far, ORIGIN + 5000);
    int64_t w = timer_wait_ms(&wd.w, ORIGIN);
    assert_true(w >= 5000 && w <= 5000 + TICK);
    arm(&wd, &near, ORIGIN + 300);
    w = timer_wait_ms(&wd.w, ORIGIN);
    assert_true(w >= 300 && w <= 300 + TICK);
    arm(&wd, &nearer, ORIGIN + 40);
    w = timer_wait_ms(&wd.w, ORIGIN);
    assert_true(w >= 40 && w <= 40 + TICK);
    /* Cancelled, the scan goes on past the slots it remembered. */
    timer_cancel(&wd.w, &nearer.node);
    timer_cancel(&wd.w, &near.node);
    w = timer_wait_ms(&wd.w, ORIGIN);
    assert_true(w >= 5000 && w <= 5000 + TICK);
}

/* Random arms, cancels, advances and waits: the wait never passes the
 * earliest armed deadline's tick (checked against every timer). */
static void test_wait_never_oversleeps(void **state)
{
    enum { N = 64 };
    struct world wd;
    world_init(&wd, TICK);
    struct tmr t[N];
    memset(t, 0, sizeof(t));
    unsigned seed = 4242;
    for (int step = 0; step < 20000; step++) {
        struct tmr *x = &t[rand_r(&seed) % N];
        int op = rand_r(&seed) % 4;
        if (op == 0)
            arm(&wd, x, wd.now + 1 + rand_r(&seed) % 30000);
        else if (op == 1)
            timer_cancel(&wd.w, &x->node);
        else if (op == 2)
            advance(&wd, wd.now + rand_r(&seed) % 50);
        int64_t w = timer_wait_ms(&wd.w, wd.now);
        uint64_t earliest = UINT64_MAX;
        for (int i = 0; i < N; i++)
            if (timer_is_armed(&t[i].node) && t[i].node.expires_tick < earliest)
                earliest = t[i].node.expires_tick;
        if (earliest == UINT64_MAX) {
            assert_int_equal(w, -1);
            continue;
        }
        int64_t due = ORIGIN + (int64_t)earliest * TICK - wd.now;
        assert_true(w >= 0 && w <= (due > 0 ? due : 0));
    }
}

/* An event loop that sleeps exactly timer_wait_ms each time wakes up in
 * time for every timer, near or turns away. */
static void test_wait_driven_loop(void **state)
{
    static const int64_t offsets[] = {7, 250, 10240, 10241, 25000, 77777};
    struct world wd;
    world_init(&wd, TICK);
    struct tmr t[6];
    memset(t, 0, sizeof(t));
    for (int i = 0; i < 6; i++)
        arm(&wd, &t[i], ORIGIN + offsets[i]);
    int wakeups = 0;
    for (;;) {
        int64_t w = timer_wait_ms(&wd.w, wd.now);
        if (w < 0)
            break;
        assert_true(w <= (int64_t)TIMER_SLOTS * TICK);
        advance(&wd, wd.now + w);
        wakeups++;
        assert_true(wakeups < 1000);
    }
    for (int i = 0; i < 6; i++)
        check_fired(&t[i], TICK);
}

static void test_many_timers(void **state)
{
    enum { N = 5000 };
    struct world wd;
    world_init(&wd, 5);
    struct tmr *t = calloc(N, sizeof(*t));
    assert_non_null(t);
    unsigned seed = 31337;
    for (int i = 0; i < N; i++)
        arm(&wd, &t[i], ORIGIN + 1 + rand_r(&seed) % 30000);
    /* Cancel a third, re-arm a third. */
    for (int i = 0; i < N; i += 3)
        timer_cancel(&wd.w, &t[i].node);
    for (int i = 1; i < N; i += 3)
        arm(&wd, &t[i], ORIGIN + 1 + rand_r(&seed) % 30000);
    assert_int_equal(wd.w.armed, N - (N + 2) / 3);
    int64_t now = ORIGIN;
    while (now < ORIGIN + 31000) {
        now += 1 + rand_r(&seed) % 7;
        advance(&wd, now);
        /* Partial check on the way: nothing fires early. */
        for (int i = 0; i < N; i += 97)
            if (t[i].fired)
                assert_true(t[i].fired_at >= t[i].deadline);
    }
    for (int i = 0; i < N; i++) {
        if (i % 3 == 0) {
            assert_int_equal(t[i].fired, 0);
            continue;
        }
        assert_int_equal(t[i].fired, 1);
        assert_true(t[i].fired_at >= t[i].deadline);
        /* No later than the first advance at or after the next tick. */
        assert_true(t[i].fired_at <= t[i].deadline + 5 + 7);
    }
    assert_int_equal(wd.w.armed, 0);
    free(t);
}

static void test_advance_before_origin(void **state)
{
    struct world wd;
    world_init(&wd, TICK);
    struct tmr t = {0};
    arm(&wd, &t, ORIGIN + 10);
    advance(&wd, ORIGIN - 5000); /* clock reading before the origin */
    assert_int_equal(t.fired, 0);
    advance(&wd, ORIGIN + 10);
    assert_int_equal(t.fired, 1);
}

/* Idle wheel jumps ahead; timers armed afterwards are still exact. */
static void test_idle_jump_then_arm(void **state)
{
    struct world wd;
    world_init(&wd, TICK);
    advance(&wd, ORIGIN + 12345678);
    struct tmr t = {0};
    arm(&wd, &t, wd.now + 95);
    step(&wd, wd.now + 94);
    assert_int_equal(t.fired, 0);
    step(&wd, wd.now + 20);
    check_fired(&t, TICK);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fires_at_deadline),
        cmocka_unit_test(test_single_big_advance),
        cmocka_unit_test(test_past_deadline),
        cmocka_unit_test(test_cancel),
        cmocka_unit_test(test_rearm_moves),
        cmocka_unit_test(test_beyond_one_turn),
        cmocka_unit_test(test_callback_rearms_itself),
        cmocka_unit_test(test_rearm_short_period),
        cmocka_unit_test(test_callback_cancels_other_same_tick),
        cmocka_unit_test(test_callback_rearms_other_same_tick),
        cmocka_unit_test(test_callback_arms_new_due_now),
        cmocka_unit_test(test_wait_ms),
        cmocka_unit_test(test_wait_remembers_empty_slots),
        cmocka_unit_test(test_wait_never_oversleeps),
        cmocka_unit_test(test_wait_driven_loop),
        cmocka_unit_test(test_many_timers),
        cmocka_unit_test(test_advance_before_origin),
        cmocka_unit_test(test_idle_jump_then_arm),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
