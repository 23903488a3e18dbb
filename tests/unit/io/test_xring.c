/* test_xring.c: unit tests for src/io/xring.h (SPSC pointer ring). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <semaphore.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "../two_threads.h"
#include "io/xring.h"

#define ITEM(i) ((void *)(((uintptr_t)(i) << 2) | 1))
#define ITEM_VALUE(p) ((uintptr_t)(p) >> 2)

static void test_init_rejects_bad_capacity(void **state)
{
    struct xring r;
    assert_int_equal(xring_init(&r, 0), -1);
    assert_int_equal(xring_init(&r, 3), -1);
    assert_int_equal(xring_init(&r, 6), -1);
    assert_int_equal(xring_init(&r, 1000), -1);
    assert_int_equal(xring_init(&r, 1), 0);
    xring_cleanup(&r);
    assert_int_equal(xring_init(&r, 1024), 0);
    assert_int_equal(r.mask, 1023);
    xring_cleanup(&r);
    assert_null(r.slots);
}

static void test_empty_peek(void **state)
{
    struct xring r;
    assert_int_equal(xring_init(&r, 8), 0);
    assert_null(xring_peek(&r));
    bool wake = true;
    assert_false(xring_consumer_release(&r, &wake));
    assert_false(wake);
    assert_false(xring_publish(&r)); /* nothing pushed */
    xring_cleanup(&r);
}

static void test_push_peek_pop_order(void **state)
{
    struct xring r;
    assert_int_equal(xring_init(&r, 8), 0);
    for (uintptr_t i = 1; i <= 5; i++) {
        assert_true(xring_has_space(&r, 1));
        xring_push(&r, ITEM(i));
    }
    /* Pushed but not published: invisible to the consumer. */
    assert_null(xring_peek(&r));
    assert_true(xring_publish(&r));
    for (uintptr_t i = 1; i <= 5; i++) {
        void *p = xring_peek(&r);
        assert_ptr_equal(p, ITEM(i));
        /* Peek does not take it. */
        assert_ptr_equal(xring_peek(&r), ITEM(i));
        xring_pop(&r);
    }
    assert_null(xring_peek(&r));
    bool wake;
    assert_false(xring_consumer_release(&r, &wake));
    assert_false(wake);
    xring_cleanup(&r);
}

static void test_has_space_exactly_full(void **state)
{
    struct xring r;
    assert_int_equal(xring_init(&r, 8), 0);
    assert_true(xring_has_space(&r, 8));
    assert_false(xring_has_space(&r, 9));
    for (uintptr_t i = 1; i <= 7; i++)
        xring_push(&r, ITEM(i));
    assert_true(xring_has_space(&r, 1));
    assert_false(xring_has_space(&r, 2));
    xring_push(&r, ITEM(8));
    assert_false(xring_has_space(&r, 1));
    assert_true(xring_has_space(&r, 0));
    xring_publish(&r);
    assert_false(xring_has_space(&r, 1));

    /* Popped but not released: the slot is still the consumer's. */
    assert_ptr_equal(xring_peek(&r), ITEM(1));
    xring_pop(&r);
    assert_false(xring_has_space(&r, 1));

    bool wake;
    assert_true(xring_consumer_release(&r, &wake)); /* 7 more are there */
    assert_false(wake);
    assert_true(xring_has_space(&r, 1));
    assert_false(xring_has_space(&r, 2));
    xring_push(&r, ITEM(9));
    assert_false(xring_has_space(&r, 1));
    xring_publish(&r);

    for (uintptr_t i = 2; i <= 9; i++) {
        assert_ptr_equal(xring_peek(&r), ITEM(i));
        xring_pop(&r);
    }
    assert_null(xring_peek(&r));
    assert_false(xring_consumer_release(&r, &wake));
    assert_true(xring_has_space(&r, 8));
    assert_false(xring_has_space(&r, 9));
    xring_cleanup(&r);
}

static void test_capacity_one(void **state)
{
    struct xring r;
    assert_int_equal(xring_init(&r, 1), 0);
    bool wake;
    for (uintptr_t i = 1; i <= 100; i++) {
        assert_true(xring_has_space(&r, 1));
        xring_push(&r, ITEM(i));
        assert_false(xring_has_space(&r, 1));
        xring_publish(&r);
        assert_ptr_equal(xring_peek(&r), ITEM(i));
        xring_pop(&r);
        assert_false(xring_consumer_release(&r, &wake));
    }
    xring_cleanup(&r);
}

/* Many laps around a small ring with uneven batch sizes. */
static void test_wraparound_many_laps(void **state)
{
    struct xring r;
    assert_int_equal(xring_init(&r, 4), 0);
    uintptr_t next_push = 1, next_pop = 1;
    unsigned seed = 12345;
    for (int round = 0; round < 10000; round++) {
        unsigned batch = (unsigned)rand_r(&seed) % 5; /* 0..4 */
        for (unsigned k = 0; k < batch && xring_has_space(&r, 1); k++)
            xring_push(&r, ITEM(next_push++));
        xring_publish(&r);
        unsigned take = (unsigned)rand_r(&seed) % 5;
        for (unsigned k = 0; k < take; k++) {
            void *p = xring_peek(&r);
            if (!p)
                break;
            assert_int_equal(ITEM_VALUE(p), next_pop);
            next_pop++;
            xring_pop(&r);
        }
        bool wake;
        bool more = xring_consumer_release(&r, &wake);
        assert_int_equal(more, next_pop != next_push);
    }
    assert_true(next_push > 4 * 1000); /* really went around many times */
    xring_cleanup(&r);
}

/* The 32-bit positions wrap past UINT32_MAX (white box: start the
 * counters just below the wrap). */
static void test_counter_wraparound(void **state)
{
    struct xring r;
    assert_int_equal(xring_init(&r, 8), 0);
    uint32_t start = UINT32_MAX - 10;
    atomic_store(&r.tail, start);
    atomic_store(&r.head, start);
    r.prod_tail = r.prod_head_cache = r.prod_published = start;
    r.cons_head = r.cons_tail_cache = start;

    uintptr_t next_push = 1, next_pop = 1;
    bool wake;
    for (int round = 0; round < 20; round++) {
        assert_true(xring_has_space(&r, 8));
        assert_false(xring_has_space(&r, 9));
        for (int k = 0; k < 3; k++)
            xring_push(&r, ITEM(next_push++));
        assert_true(xring_publish(&r)); /* the consumer was caught up */
        for (int k = 0; k < 3; k++) {
            assert_ptr_equal(xring_peek(&r), ITEM(next_pop++));
            xring_pop(&r);
        }
        assert_null(xring_peek(&r));
        assert_false(xring_consumer_release(&r, &wake));
        assert_false(wake);
    }
    assert_true(r.prod_tail < start); /* wrapped */
    xring_cleanup(&r);
}

static void test_publish_wake_result(void **state)
{
    struct xring r;
    assert_int_equal(xring_init(&r, 16), 0);
    bool wake;

    /* Consumer had consumed everything (nothing yet): wake. */
    xring_push(&r, ITEM(1));
    assert_true(xring_publish(&r));
    /* Nothing new: no wake. */
    assert_false(xring_publish(&r));

    /* Consumer has not consumed item 1: it is awake (or will see it). */
    xring_push(&r, ITEM(2));
    assert_false(xring_publish(&r));

    /* Consumer popped both but has not released yet: still behind. */
    assert_ptr_equal(xring_peek(&r), ITEM(1));
    xring_pop(&r);
    assert_ptr_equal(xring_peek(&r), ITEM(2));
    xring_pop(&r);
    xring_push(&r, ITEM(3));
    assert_false(xring_publish(&r));
    /* ...so its release must report that more arrived. */
    assert_true(xring_consumer_release(&r, &wake));
    assert_false(wake);

    /* Consumer drains item 3 and releases: nothing more; next publish wakes. */
    assert_ptr_equal(xring_peek(&r), ITEM(3));
    xring_pop(&r);
    assert_false(xring_consumer_release(&r, &wake));
    xring_push(&r, ITEM(4));
    xring_push(&r, ITEM(5));
    assert_true(xring_publish(&r));
    assert_false(xring_publish(&r));

    /* Consumer consumed only part of the batch and released: still behind. */
    assert_ptr_equal(xring_peek(&r), ITEM(4));
    xring_pop(&r);
    assert_true(xring_consumer_release(&r, &wake)); /* item 5 is there */
    xring_push(&r, ITEM(6));
    assert_false(xring_publish(&r));
    xring_cleanup(&r);
}

static void test_release_more_result(void **state)
{
    struct xring r;
    assert_int_equal(xring_init(&r, 8), 0);
    bool wake;
    xring_push(&r, ITEM(1));
    xring_push(&r, ITEM(2));
    xring_publish(&r);
    /* Nothing popped yet, items are there: more. */
    assert_true(xring_consumer_release(&r, &wake));
    xring_peek(&r);
    xring_pop(&r);
    assert_true(xring_consumer_release(&r, &wake));
    xring_peek(&r);
    xring_pop(&r);
    assert_false(xring_consumer_release(&r, &wake));
    /* Items pushed but not published do not count as "more". */
    xring_push(&r, ITEM(3));
    assert_false(xring_consumer_release(&r, &wake));
    /* Published after the consumer's last peek: more. */
    xring_publish(&r);
    assert_true(xring_consumer_release(&r, &wake));
    assert_ptr_equal(xring_peek(&r), ITEM(3));
    xring_pop(&r);
    assert_false(xring_consumer_release(&r, &wake));
    xring_cleanup(&r);
}

static void test_wait_for_space(void **state)
{
    struct xring r;
    assert_int_equal(xring_init(&r, 4), 0);
    bool wake = true;

    /* Space is there: true, and the consumer is not asked to wake anyone. */
    assert_true(xring_wait_for_space(&r, 4));
    assert_false(xring_consumer_release(&r, &wake));
    assert_false(wake);

    for (uintptr_t i = 1; i <= 4; i++)
        xring_push(&r, ITEM(i));
    xring_publish(&r);
    assert_false(xring_wait_for_space(&r, 1));

    /* A release without popping frees nothing but still reports the waiter
     * (the producer re-checks); the flag is consumed exactly once. */
    assert_ptr_equal(xring_peek(&r), ITEM(1));
    xring_pop(&r);
    assert_true(xring_consumer_release(&r, &wake));
    assert_true(wake);
    assert_true(xring_consumer_release(&r, &wake));
    assert_false(wake);
    assert_true(xring_has_space(&r, 1));

    /* Waiting for more room than there is. */
    xring_push(&r, ITEM(5));
    xring_publish(&r);
    assert_false(xring_wait_for_space(&r, 2));
    xring_peek(&r);
    xring_pop(&r);
    xring_peek(&r);
    xring_pop(&r);
    assert_true(xring_consumer_release(&r, &wake));
    assert_true(wake);
    assert_true(xring_wait_for_space(&r, 2));
    /* Space found at once: the flag was cleared, no wake after this. */
    assert_true(xring_consumer_release(&r, &wake));
    assert_false(wake);

    /* Drain. */
    for (uintptr_t i = 4; i <= 5; i++) {
        assert_ptr_equal(xring_peek(&r), ITEM(i));
        xring_pop(&r);
    }
    assert_false(xring_consumer_release(&r, &wake));
    assert_false(wake);
    xring_cleanup(&r);
}

/* wait_for_space when the consumer released after the producer's cached
 * view: it must find the space itself and clear the flag. */
static void test_wait_for_space_stale_cache(void **state)
{
    struct xring r;
    assert_int_equal(xring_init(&r, 2), 0);
    bool wake;
    xring_push(&r, ITEM(1));
    xring_push(&r, ITEM(2));
    xring_publish(&r);
    assert_false(xring_has_space(&r, 1));
    xring_peek(&r);
    xring_pop(&r);
    assert_true(xring_consumer_release(&r, &wake));
    assert_false(wake);
    /* The producer's cache still says full. */
    assert_true(xring_wait_for_space(&r, 1));
    assert_true(xring_consumer_release(&r, &wake));
    assert_false(wake);
    xring_cleanup(&r);
}

/* ---- Two-thread stress test: order, count, and no lost wake-ups. ---- */

#define STRESS_ITEMS 5000000u
#define STRESS_RING 256u
#define STRESS_WAIT_S 5

struct stress {
    struct xring ring;
    sem_t wake_consumer;
    sem_t wake_producer;
    _Atomic bool lost_wakeup;
    _Atomic bool bad_order;
    uint64_t received;
    uint64_t consumer_sleeps, producer_sleeps;
};

/* sleep_on blocks on |sem|; a wait longer than STRESS_WAIT_S seconds means
 * a wake-up was lost (both sides asleep). Returns false then. */
static bool sleep_on(struct stress *st, sem_t *sem)
{
    struct timespec deadline;
    clock_gettime(CLOCK_REALTIME, &deadline);
    deadline.tv_sec += STRESS_WAIT_S;
    for (;;) {
        if (atomic_load(&st->lost_wakeup) || atomic_load(&st->bad_order))
            return false;
        if (sem_timedwait(sem, &deadline) == 0)
            return true;
        if (errno == EINTR)
            continue;
        atomic_store(&st->lost_wakeup, true);
        sem_post(&st->wake_consumer); /* let the other side notice and quit */
        sem_post(&st->wake_producer);
        return false;
    }
}

static void *stress_producer(void *arg)
{
    struct stress *st = arg;
    unsigned seed = 777;
    uint32_t i = 1;
    while (i <= STRESS_ITEMS) {
        unsigned batch = 1 + (unsigned)rand_r(&seed) % 64;
        unsigned pushed = 0;
        while (pushed < batch && i <= STRESS_ITEMS) {
            if (!xring_has_space(&st->ring, 1)) {
                if (xring_publish(&st->ring))
                    sem_post(&st->wake_consumer);
                if (!xring_wait_for_space(&st->ring, 1)) {
                    st->producer_sleeps++;
                    if (!sleep_on(st, &st->wake_producer))
                        return NULL;
                }
                continue;
            }
            xring_push(&st->ring, ITEM(i));
            i++;
            pushed++;
        }
        if (xring_publish(&st->ring))
            sem_post(&st->wake_consumer);
    }
    return NULL;
}

static void *stress_consumer(void *arg)
{
    struct stress *st = arg;
    uint64_t expect = 1;
    while (expect <= STRESS_ITEMS) {
        void *p;
        while ((p = xring_peek(&st->ring)) != NULL) {
            if (ITEM_VALUE(p) != expect || ((uintptr_t)p & 3) != 1) {
                atomic_store(&st->bad_order, true);
                sem_post(&st->wake_producer);
                return NULL;
            }
            expect++;
            xring_pop(&st->ring);
        }
        bool wake_producer = false;
        bool more = xring_consumer_release(&st->ring, &wake_producer);
        if (wake_producer)
            sem_post(&st->wake_producer);
        if (more || expect > STRESS_ITEMS)
            continue;
        st->consumer_sleeps++;
        if (!sleep_on(st, &st->wake_consumer))
            return NULL;
    }
    st->received = expect - 1;
    /* Nothing beyond the last item. */
    if (xring_peek(&st->ring) != NULL)
        atomic_store(&st->bad_order, true);
    return NULL;
}

static void test_two_thread_stress(void **state)
{
    static struct stress st; /* large alignment: keep it off the stack */
    memset(&st, 0, sizeof(st));
    assert_int_equal(xring_init(&st.ring, STRESS_RING), 0);
    assert_int_equal(sem_init(&st.wake_consumer, 0, 0), 0);
    assert_int_equal(sem_init(&st.wake_producer, 0, 0), 0);
    /* Last resort if a thread hangs somewhere else: SIGALRM kills the test. */
    alarm(120);

    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    pthread_t prod, cons;
    assert_int_equal(pthread_create(&cons, NULL, stress_consumer, &st), 0);
    assert_int_equal(pthread_create(&prod, NULL, stress_producer, &st), 0);
    pthread_join(prod, NULL);
    pthread_join(cons, NULL);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    alarm(0);

    print_message("xring stress: %u items in %.2f s, consumer slept %llu times, producer %llu\n",
                  STRESS_ITEMS,
                  (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9,
                  (unsigned long long)st.consumer_sleeps, (unsigned long long)st.producer_sleeps);
    assert_false(atomic_load(&st.lost_wakeup));
    assert_false(atomic_load(&st.bad_order));
    assert_int_equal(st.received, STRESS_ITEMS);
    sem_destroy(&st.wake_consumer);
    sem_destroy(&st.wake_producer);
    xring_cleanup(&st.ring);
}

/* ---- Ownership through two rings: a request out, its result back. ----
 *
 * As a publish travels to its home and its result back: the publisher
 * fills a request with plain stores and pushes it; the home reads it,
 * writes the result into it and pushes it back on the other ring; the
 * publisher reads the result and frees it. The rings' release and acquire
 * are all that orders those plain accesses (ThreadSanitizer checks it),
 * and the results must come back complete and in order. */

#define ROUND_TRIP_ITEMS 200000u
#define ROUND_TRIP_RING 64u

struct request {
    uint64_t id;
    char text[24];   /* "request <id>" */
    uint64_t result; /* the home's: id * 3 + 1 */
};

struct round_trip {
    struct xring out, back;
    _Atomic bool failed;
    uint64_t results; /* the publisher's count of correct results */
};

static void *round_trip_home(void *arg)
{
    struct round_trip *rt = arg;
    uint64_t handled = 0;
    while (handled < ROUND_TRIP_ITEMS && !atomic_load(&rt->failed)) {
        struct request *req;
        while (xring_has_space(&rt->back, 1) && (req = xring_peek(&rt->out)) != NULL) {
            xring_pop(&rt->out);
            char expect[sizeof(req->text)];
            snprintf(expect, sizeof(expect), "request %llu", (unsigned long long)req->id);
            if (req->id != handled + 1 || strcmp(req->text, expect) != 0)
                atomic_store(&rt->failed, true);
            req->result = req->id * 3 + 1;
            xring_push(&rt->back, req);
            handled++;
        }
        xring_publish(&rt->back);
        bool ignored;
        if (!xring_consumer_release(&rt->out, &ignored))
            sched_yield(); /* nothing more came: give the publisher the core */
    }
    return NULL;
}

static void *round_trip_publisher(void *arg)
{
    struct round_trip *rt = arg;
    uint64_t sent = 0;
    while (rt->results < ROUND_TRIP_ITEMS && !atomic_load(&rt->failed)) {
        while (sent < ROUND_TRIP_ITEMS && xring_has_space(&rt->out, 1)) {
            struct request *req = malloc(sizeof(*req));
            if (!req) {
                atomic_store(&rt->failed, true);
                return NULL;
            }
            req->id = ++sent;
            snprintf(req->text, sizeof(req->text), "request %llu", (unsigned long long)req->id);
            req->result = 0;
            xring_push(&rt->out, req);
        }
        xring_publish(&rt->out);
        struct request *req;
        while ((req = xring_peek(&rt->back)) != NULL) {
            xring_pop(&rt->back);
            if (req->id != rt->results + 1 || req->result != req->id * 3 + 1)
                atomic_store(&rt->failed, true);
            rt->results++;
            free(req);
        }
        bool ignored;
        if (!xring_consumer_release(&rt->back, &ignored))
            sched_yield();
    }
    return NULL;
}

static void test_two_thread_round_trip(void **state)
{
    static struct round_trip rt; /* large alignment: keep it off the stack */
    memset(&rt, 0, sizeof(rt));
    assert_int_equal(xring_init(&rt.out, ROUND_TRIP_RING), 0);
    assert_int_equal(xring_init(&rt.back, ROUND_TRIP_RING), 0);
    run_two_threads(round_trip_home, round_trip_publisher, &rt);
    assert_false(atomic_load(&rt.failed));
    assert_int_equal(rt.results, ROUND_TRIP_ITEMS);
    assert_null(xring_peek(&rt.out));
    assert_null(xring_peek(&rt.back));
    xring_cleanup(&rt.out);
    xring_cleanup(&rt.back);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_init_rejects_bad_capacity),
        cmocka_unit_test(test_empty_peek),
        cmocka_unit_test(test_push_peek_pop_order),
        cmocka_unit_test(test_has_space_exactly_full),
        cmocka_unit_test(test_capacity_one),
        cmocka_unit_test(test_wraparound_many_laps),
        cmocka_unit_test(test_counter_wraparound),
        cmocka_unit_test(test_publish_wake_result),
        cmocka_unit_test(test_release_more_result),
        cmocka_unit_test(test_wait_for_space),
        cmocka_unit_test(test_wait_for_space_stale_cache),
        cmocka_unit_test(test_two_thread_stress),
        cmocka_unit_test(test_two_thread_round_trip),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
