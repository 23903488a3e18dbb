/* test_sendq.c: unit tests for src/core/sendq.h (per-connection send queue). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>

#include "pubsub/msg.h"
#include "core/sendq.h"

/* No truncation: every payload is delivered whole. */
static const struct msg_policy deliver_whole = {UINT64_MAX, TRUNCATE_STUB};

static struct sendq_entry *at(const struct sendq *q, uint32_t i)
{
    return &q->entries[(q->head + i) & (q->cap - 1)];
}

/* unsent_sum adds up what the entries still have to send. */
static uint64_t unsent_sum(const struct sendq *q)
{
    uint64_t sum = 0;
    for (uint32_t i = 0; i < q->count; i++)
        sum += at(q, i)->len - at(q, i)->sent;
    return sum;
}

/* holds counts the entries that hold |ref|. */
static uint32_t holds(const struct sendq *q, const struct lref *ref)
{
    uint32_t n = 0;
    for (uint32_t i = 0; i < q->count; i++)
        if (at(q, i)->owner == (uintptr_t)ref)
            n++;
    return n;
}

static void check_invariants(const struct sendq *q)
{
    assert_int_equal(q->bytes, unsent_sum(q));
    assert_true(q->inflight <= q->count);
    assert_true(q->count <= q->cap);
    if (q->cap)
        assert_int_equal(q->cap & (q->cap - 1), 0);
    /* Only the head may be partly sent. */
    for (uint32_t i = 1; i < q->count; i++)
        assert_int_equal(at(q, i)->sent, 0);
    assert_int_equal(sendq_head_partial(q), q->count > 0 && at(q, 0)->sent > 0);
}

/* A message and this test's lref on it (the creator's hold included). */
struct held {
    struct msg *m;
    struct lref *ref;
};

static struct held make_msg(const char *payload)
{
    struct msg_input in = {
        .topic = "t",
        .topic_len = 1,
        .event_type = "e",
        .event_type_len = 1,
        .payload_is_json = false,
        .payload = (const uint8_t *)payload,
        .payload_len = strlen(payload),
    };
    struct held h;
    h.m = msg_new(&in, &deliver_whole, 1, 0, 1);
    assert_non_null(h.m);
    h.ref = lref_new(h.m);
    assert_non_null(h.ref);
    return h;
}

static int push_msg(struct sendq *q, struct held *h)
{
    return sendq_push_shared(q, h->ref, h->m->ws_frame, h->m->ws_frame_len);
}

/* iov_concat joins |n| iovecs into |out| and returns the length. */
static size_t iov_concat(const struct iovec *iov, int n, uint8_t *out)
{
    size_t len = 0;
    for (int i = 0; i < n; i++) {
        memcpy(out + len, iov[i].iov_base, iov[i].iov_len);
        len += iov[i].iov_len;
    }
    return len;
}

static void test_empty_queue(void **state)
{
    struct sendq q = {0};
    struct iovec iov[4];
    assert_int_equal(sendq_fill_iov(&q, iov, 4), 0);
    assert_int_equal(sendq_head_partial(&q), 0);
    sendq_complete(&q, 0);
    sendq_drop_unsent(&q);
    assert_int_equal(q.count, 0);
    assert_int_equal(q.bytes, 0);
    sendq_clear(&q);
    assert_null(q.entries);
}

static void test_push_copy_packs(void **state)
{
    struct sendq q = {0};
    assert_int_equal(sendq_push_copy(&q, "ab", 2), 0);
    assert_int_equal(sendq_push_copy(&q, "cde", 3), 0);
    assert_int_equal(sendq_push_copy(&q, "f", 1), 0);
    assert_int_equal(q.count, 1); /* packed into one entry */
    assert_int_equal(q.bytes, 6);
    check_invariants(&q);

    struct iovec iov[4];
    assert_int_equal(sendq_fill_iov(&q, iov, 4), 1);
    assert_int_equal(iov[0].iov_len, 6);
    assert_memory_equal(iov[0].iov_base, "abcdef", 6);
    sendq_complete(&q, 6);
    assert_int_equal(q.count, 0);
    assert_int_equal(q.bytes, 0);
    sendq_clear(&q);
}

/* A copy is a copy: changing the source afterwards changes nothing. */
static void test_push_copy_copies(void **state)
{
    struct sendq q = {0};
    char src[4] = "xyz";
    assert_int_equal(sendq_push_copy(&q, src, 3), 0);
    memcpy(src, "QQQ", 3);
    struct iovec iov[1];
    assert_int_equal(sendq_fill_iov(&q, iov, 1), 1);
    assert_memory_equal(iov[0].iov_base, "xyz", 3);
    sendq_clear(&q);
}

static void test_no_packing_into_inflight(void **state)
{
    struct sendq q = {0};
    struct iovec iov[4];
    assert_int_equal(sendq_push_copy(&q, "aaa", 3), 0);
    assert_int_equal(sendq_fill_iov(&q, iov, 4), 1);
    /* The kernel may be reading iov[0] now: a new copy must not touch it. */
    assert_int_equal(sendq_push_copy(&q, "bb", 2), 0);
    assert_int_equal(q.count, 2);
    assert_int_equal(iov[0].iov_len, 3);
    assert_memory_equal(iov[0].iov_base, "aaa", 3);
    assert_int_equal(q.bytes, 5);
    check_invariants(&q);
    /* The entry after the in-flight one is not in flight: packing resumes. */
    assert_int_equal(sendq_push_copy(&q, "c", 1), 0);
    assert_int_equal(q.count, 2);
    sendq_complete(&q, 3);
    assert_int_equal(q.count, 1);
    check_invariants(&q);
    assert_int_equal(sendq_fill_iov(&q, iov, 4), 1);
    assert_int_equal(iov[0].iov_len, 3);
    assert_memory_equal(iov[0].iov_base, "bbc", 3);
    sendq_complete(&q, 3);
    assert_int_equal(q.count, 0);
    sendq_clear(&q);
}

/* Copies around a shared entry: no packing across it, order kept. */
static void test_copy_shared_copy_order(void **state)
{
    struct sendq q = {0};
    struct held h = make_msg("hello");
    assert_int_equal(sendq_push_copy(&q, "A", 1), 0);
    assert_int_equal(push_msg(&q, &h), 0);
    assert_int_equal(sendq_push_copy(&q, "B", 1), 0);
    assert_int_equal(sendq_push_copy(&q, "C", 1), 0);
    assert_int_equal(q.count, 3);
    check_invariants(&q);

    struct iovec iov[8];
    assert_int_equal(sendq_fill_iov(&q, iov, 8), 3);
    uint8_t out[256];
    size_t len = iov_concat(iov, 3, out);
    assert_int_equal(len, 1 + h.m->ws_frame_len + 2);
    assert_int_equal(out[0], 'A');
    assert_memory_equal(out + 1, h.m->ws_frame, h.m->ws_frame_len);
    assert_memory_equal(out + 1 + h.m->ws_frame_len, "BC", 2);
    /* The shared entry points at the message's own frame: no copy. */
    assert_ptr_equal(iov[1].iov_base, h.m->ws_frame);
    sendq_complete(&q, len);
    assert_int_equal(q.count, 0);
    assert_int_equal(h.ref->count, 1);
    sendq_clear(&q);
    lref_put(h.ref);
}

static void test_large_copy(void **state)
{
    struct sendq q = {0};
    size_t n = 100000;
    uint8_t *big = malloc(n);
    assert_non_null(big);
    for (size_t i = 0; i < n; i++)
        big[i] = (uint8_t)(i * 7);
    assert_int_equal(sendq_push_copy(&q, "x", 1), 0);
    assert_int_equal(sendq_push_copy(&q, big, n), 0);
    assert_int_equal(sendq_push_copy(&q, "y", 1), 0);
    assert_int_equal(q.bytes, n + 2);
    check_invariants(&q);
    struct iovec iov[8];
    int cnt = sendq_fill_iov(&q, iov, 8);
    uint8_t *out = malloc(n + 2);
    assert_non_null(out);
    assert_int_equal(iov_concat(iov, cnt, out), n + 2);
    assert_int_equal(out[0], 'x');
    assert_memory_equal(out + 1, big, n);
    assert_int_equal(out[n + 1], 'y');
    sendq_complete(&q, n + 2);
    assert_int_equal(q.count, 0);
    sendq_clear(&q);
    free(out);
    free(big);
}

static void test_fill_iov_contents_and_max(void **state)
{
    struct sendq q = {0};
    struct held h[5];
    const char *payloads[5] = {"one", "two", "three", "four", "five"};
    for (int i = 0; i < 5; i++) {
        h[i] = make_msg(payloads[i]);
        assert_int_equal(push_msg(&q, &h[i]), 0);
        assert_int_equal(h[i].ref->count, 2);
    }
    check_invariants(&q);

    struct iovec iov[8];
    assert_int_equal(sendq_fill_iov(&q, iov, 3), 3);
    assert_int_equal(q.inflight, 3);
    for (int i = 0; i < 3; i++) {
        assert_ptr_equal(iov[i].iov_base, h[i].m->ws_frame);
        assert_int_equal(iov[i].iov_len, h[i].m->ws_frame_len);
    }
    size_t sent = 0;
    for (int i = 0; i < 3; i++)
        sent += iov[i].iov_len;
    sendq_complete(&q, sent);
    assert_int_equal(q.count, 2);
    assert_int_equal(q.inflight, 0);
    for (int i = 0; i < 3; i++)
        assert_int_equal(h[i].ref->count, 1); /* released by the send */
    for (int i = 3; i < 5; i++)
        assert_int_equal(h[i].ref->count, 2);
    check_invariants(&q);

    assert_int_equal(sendq_fill_iov(&q, iov, 8), 2);
    assert_ptr_equal(iov[0].iov_base, h[3].m->ws_frame);
    assert_ptr_equal(iov[1].iov_base, h[4].m->ws_frame);
    sendq_complete(&q, iov[0].iov_len + iov[1].iov_len);
    assert_int_equal(q.count, 0);
    assert_int_equal(q.bytes, 0);
    sendq_clear(&q);
    for (int i = 0; i < 5; i++)
        lref_put(h[i].ref);
}

static void test_complete_zero(void **state)
{
    struct sendq q = {0};
    struct held h = make_msg("zero");
    assert_int_equal(push_msg(&q, &h), 0);
    assert_int_equal(sendq_push_copy(&q, "tail", 4), 0);
    uint64_t bytes = q.bytes;
    struct iovec iov[4];
    assert_int_equal(sendq_fill_iov(&q, iov, 4), 2);
    sendq_complete(&q, 0);
    assert_int_equal(q.count, 2);
    assert_int_equal(q.bytes, bytes);
    assert_int_equal(q.inflight, 0);
    assert_int_equal(sendq_head_partial(&q), 0);
    assert_int_equal(h.ref->count, 2);
    check_invariants(&q);
    /* The same bytes are offered again. */
    assert_int_equal(sendq_fill_iov(&q, iov, 4), 2);
    assert_ptr_equal(iov[0].iov_base, h.m->ws_frame);
    assert_int_equal(iov[0].iov_len, h.m->ws_frame_len);
    sendq_complete(&q, bytes);
    assert_int_equal(q.count, 0);
    sendq_clear(&q);
    lref_put(h.ref);
}

static void test_complete_short(void **state)
{
    struct sendq q = {0};
    struct held a = make_msg("aaaaaaaaaa");
    struct held b = make_msg("bbbbbbbbbbbbbbbbbbbb");
    struct held c = make_msg("cccccccccccccccccccccccccccccc");
    assert_int_equal(push_msg(&q, &a), 0);
    assert_int_equal(push_msg(&q, &b), 0);
    assert_int_equal(push_msg(&q, &c), 0);
    uint32_t la = a.m->ws_frame_len, lb = b.m->ws_frame_len, lc = c.m->ws_frame_len;
    assert_int_equal(q.bytes, la + lb + lc);

    struct iovec iov[8];
    /* Short within the first entry. */
    assert_int_equal(sendq_fill_iov(&q, iov, 8), 3);
    sendq_complete(&q, 3);
    assert_int_equal(q.count, 3);
    assert_int_equal(at(&q, 0)->sent, 3);
    assert_true(sendq_head_partial(&q));
    assert_int_equal(q.bytes, la + lb + lc - 3);
    assert_int_equal(a.ref->count, 2);
    check_invariants(&q);

    /* The next fill starts at the unsent part. */
    assert_int_equal(sendq_fill_iov(&q, iov, 8), 3);
    assert_ptr_equal(iov[0].iov_base, a.m->ws_frame + 3);
    assert_int_equal(iov[0].iov_len, la - 3);
    /* Short send that ends inside the second entry. */
    sendq_complete(&q, (la - 3) + 5);
    assert_int_equal(q.count, 2);
    assert_int_equal(a.ref->count, 1);
    assert_int_equal(at(&q, 0)->sent, 5);
    assert_int_equal(q.bytes, lb - 5 + lc);
    check_invariants(&q);

    assert_int_equal(sendq_fill_iov(&q, iov, 8), 2);
    assert_ptr_equal(iov[0].iov_base, b.m->ws_frame + 5);
    assert_int_equal(iov[0].iov_len, lb - 5);
    assert_ptr_equal(iov[1].iov_base, c.m->ws_frame);
    assert_int_equal(iov[1].iov_len, lc);
    /* Exactly the rest of the second entry: the third stays untouched. */
    sendq_complete(&q, lb - 5);
    assert_int_equal(q.count, 1);
    assert_int_equal(b.ref->count, 1);
    assert_int_equal(c.ref->count, 2);
    assert_false(sendq_head_partial(&q));
    assert_int_equal(q.bytes, lc);
    check_invariants(&q);

    assert_int_equal(sendq_fill_iov(&q, iov, 8), 1);
    assert_ptr_equal(iov[0].iov_base, c.m->ws_frame);
    sendq_complete(&q, lc);
    assert_int_equal(q.count, 0);
    assert_int_equal(q.bytes, 0);
    assert_int_equal(c.ref->count, 1);
    sendq_clear(&q);
    lref_put(a.ref);
    lref_put(b.ref);
    lref_put(c.ref);
}

/* Only the in-flight entries are accounted for by a completion. */
static void test_complete_partial_fill(void **state)
{
    struct sendq q = {0};
    struct held h[3] = {make_msg("1"), make_msg("2"), make_msg("3")};
    for (int i = 0; i < 3; i++)
        assert_int_equal(push_msg(&q, &h[i]), 0);
    struct iovec iov[2];
    assert_int_equal(sendq_fill_iov(&q, iov, 2), 2);
    sendq_complete(&q, iov[0].iov_len + iov[1].iov_len);
    assert_int_equal(q.count, 1);
    assert_int_equal(at(&q, 0)->sent, 0);
    assert_int_equal(h[2].ref->count, 2);
    assert_int_equal(q.bytes, h[2].m->ws_frame_len);
    check_invariants(&q);
    sendq_clear(&q);
    for (int i = 0; i < 3; i++) {
        assert_int_equal(h[i].ref->count, 1);
        lref_put(h[i].ref);
    }
}

/* A copy packed into a partly sent (not in-flight) head entry. */
static void test_pack_into_partial_head(void **state)
{
    struct sendq q = {0};
    assert_int_equal(sendq_push_copy(&q, "012345", 6), 0);
    struct iovec iov[4];
    assert_int_equal(sendq_fill_iov(&q, iov, 4), 1);
    sendq_complete(&q, 4);
    assert_true(sendq_head_partial(&q));
    assert_int_equal(sendq_push_copy(&q, "67", 2), 0);
    assert_int_equal(q.bytes, 4);
    check_invariants(&q);
    int n = sendq_fill_iov(&q, iov, 4);
    uint8_t out[16];
    size_t len = iov_concat(iov, n, out);
    assert_int_equal(len, 4);
    assert_memory_equal(out, "4567", 4);
    sendq_complete(&q, 4);
    assert_int_equal(q.count, 0);
    sendq_clear(&q);
}

static void test_drop_unsent(void **state)
{
    struct sendq q = {0};
    struct held h[4] = {make_msg("a"), make_msg("b"), make_msg("c"), make_msg("d")};
    for (int i = 0; i < 3; i++)
        assert_int_equal(push_msg(&q, &h[i]), 0);
    struct iovec iov[4];
    assert_int_equal(sendq_fill_iov(&q, iov, 1), 1); /* a in flight */
    assert_int_equal(push_msg(&q, &h[3]), 0);
    assert_int_equal(sendq_push_copy(&q, "reply", 5), 0);
    sendq_drop_unsent(&q);
    assert_int_equal(q.count, 1); /* only the in-flight entry */
    assert_int_equal(q.inflight, 1);
    assert_int_equal(q.bytes, h[0].m->ws_frame_len);
    assert_int_equal(h[0].ref->count, 2);
    for (int i = 1; i < 4; i++)
        assert_int_equal(h[i].ref->count, 1);
    check_invariants(&q);
    /* The in-flight send completes short: the partial head stays. */
    sendq_complete(&q, 1);
    assert_int_equal(q.count, 1);
    assert_true(sendq_head_partial(&q));
    assert_int_equal(push_msg(&q, &h[1]), 0);
    assert_int_equal(sendq_push_copy(&q, "x", 1), 0);
    sendq_drop_unsent(&q); /* keeps the partly sent frame whole */
    assert_int_equal(q.count, 1);
    assert_int_equal(q.bytes, h[0].m->ws_frame_len - 1);
    assert_int_equal(h[1].ref->count, 1);
    check_invariants(&q);
    assert_int_equal(sendq_fill_iov(&q, iov, 4), 1);
    assert_ptr_equal(iov[0].iov_base, h[0].m->ws_frame + 1);
    sendq_complete(&q, iov[0].iov_len);
    assert_int_equal(q.count, 0);
    assert_int_equal(h[0].ref->count, 1);

    /* Nothing in flight, nothing partial: everything goes. */
    assert_int_equal(push_msg(&q, &h[2]), 0);
    assert_int_equal(push_msg(&q, &h[3]), 0);
    sendq_drop_unsent(&q);
    assert_int_equal(q.count, 0);
    assert_int_equal(q.bytes, 0);
    assert_int_equal(h[2].ref->count, 1);
    assert_int_equal(h[3].ref->count, 1);
    sendq_clear(&q);
    for (int i = 0; i < 4; i++)
        lref_put(h[i].ref);
}

/* Several in flight, one partly sent at the head of the in-flight run. */
static void test_drop_unsent_keeps_all_inflight(void **state)
{
    struct sendq q = {0};
    struct held h[3] = {make_msg("a"), make_msg("b"), make_msg("c")};
    for (int i = 0; i < 3; i++)
        assert_int_equal(push_msg(&q, &h[i]), 0);
    struct iovec iov[4];
    assert_int_equal(sendq_fill_iov(&q, iov, 4), 3);
    sendq_complete(&q, 2); /* head partly sent, nothing in flight */
    assert_int_equal(sendq_fill_iov(&q, iov, 2), 2);
    sendq_drop_unsent(&q);
    assert_int_equal(q.count, 2);
    assert_int_equal(h[2].ref->count, 1);
    check_invariants(&q);
    sendq_complete(&q, iov[0].iov_len + iov[1].iov_len);
    assert_int_equal(q.count, 0);
    sendq_clear(&q);
    for (int i = 0; i < 3; i++) {
        assert_int_equal(h[i].ref->count, 1);
        lref_put(h[i].ref);
    }
}

static void test_clear_releases_holds(void **state)
{
    struct sendq q = {0};
    /* One message held by two shards' lrefs, queued several times. */
    struct msg_input in = {.topic = "t",
                           .topic_len = 1,
                           .payload = (const uint8_t *)"1",
                           .payload_len = 1,
                           .payload_is_json = true};
    struct msg *m = msg_new(&in, &deliver_whole, 1, 0, 2);
    assert_non_null(m);
    struct lref *r1 = lref_new(m);
    struct lref *r2 = lref_new(m);
    assert_non_null(r1);
    assert_non_null(r2);
    for (int i = 0; i < 3; i++)
        assert_int_equal(sendq_push_shared(&q, r1, m->ws_frame, m->ws_frame_len), 0);
    assert_int_equal(sendq_push_shared(&q, r2, m->ws_frame, m->ws_frame_len), 0);
    assert_int_equal(sendq_push_copy(&q, "copy", 4), 0);
    assert_int_equal(r1->count, 4);
    assert_int_equal(r2->count, 2);
    struct iovec iov[8];
    assert_int_equal(sendq_fill_iov(&q, iov, 2), 2);
    sendq_complete(&q, 7); /* partial */
    sendq_clear(&q);
    assert_int_equal(q.count, 0);
    assert_int_equal(q.bytes, 0);
    assert_null(q.entries);
    assert_int_equal(r1->count, 1);
    assert_int_equal(r2->count, 1);
    assert_int_equal(atomic_load(&m->refs), 2);
    lref_put(r1);
    assert_int_equal(atomic_load(&m->refs), 1);
    lref_put(r2); /* frees the message: LeakSanitizer checks */
}

/* The circular array grows while its head is not at index 0. */
static void test_growth_with_wrapped_head(void **state)
{
    struct sendq q = {0};
    char buf[8];
    struct held h[40];
    int pushed = 0, popped = 0;
    for (int i = 0; i < 6; i++) {
        snprintf(buf, sizeof(buf), "%d", pushed);
        h[pushed] = make_msg(buf);
        assert_int_equal(push_msg(&q, &h[pushed]), 0);
        pushed++;
    }
    struct iovec iov[64];
    int n = sendq_fill_iov(&q, iov, 4);
    size_t sent = 0;
    for (int i = 0; i < n; i++)
        sent += iov[i].iov_len;
    sendq_complete(&q, sent);
    popped = 4;
    for (int i = 0; i < 34; i++) {
        snprintf(buf, sizeof(buf), "%d", pushed);
        h[pushed] = make_msg(buf);
        assert_int_equal(push_msg(&q, &h[pushed]), 0);
        pushed++;
        check_invariants(&q);
    }
    assert_int_equal(q.count, pushed - popped);
    n = sendq_fill_iov(&q, iov, 64);
    assert_int_equal(n, pushed - popped);
    for (int i = 0; i < n; i++)
        assert_ptr_equal(iov[i].iov_base, h[popped + i].m->ws_frame);
    sent = 0;
    for (int i = 0; i < n; i++)
        sent += iov[i].iov_len;
    sendq_complete(&q, sent);
    assert_int_equal(q.count, 0);
    sendq_clear(&q);
    for (int i = 0; i < pushed; i++) {
        assert_int_equal(h[i].ref->count, 1);
        lref_put(h[i].ref);
    }
}

/* sendq.h: "An idle queue owns no memory." After everything queued has
 * been sent the queue is idle again. */
static void test_idle_queue_owns_no_memory(void **state)
{
    struct sendq q = {0};
    struct held h = make_msg("m");
    assert_int_equal(push_msg(&q, &h), 0);
    assert_int_equal(sendq_push_copy(&q, "r", 1), 0);
    struct iovec iov[4];
    int n = sendq_fill_iov(&q, iov, 4);
    sendq_complete(&q, iov[0].iov_len + (n > 1 ? iov[1].iov_len : 0));
    assert_int_equal(q.count, 0);
    lref_put(h.ref);
    bool owns = q.entries != NULL;
    uint32_t cap = q.cap;
    sendq_clear(&q);
    if (owns)
        fail_msg("an emptied queue still owns its entry array (cap %u entries, %zu bytes)", cap,
                 (size_t)cap * sizeof(struct sendq_entry));
}

/* Random operations against an exact model: bytes accounting, lref holds,
 * the byte stream the peer receives. */
static void test_randomized(void **state)
{
    enum { NMSG = 8, ROUNDS = 20000 };
    struct sendq q = {0};
    struct held h[NMSG];
    char buf[64];
    for (int i = 0; i < NMSG; i++) {
        snprintf(buf, sizeof(buf), "message-%d-%.*s", i, i * 5,
                 "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx");
        h[i] = make_msg(buf);
    }
    unsigned seed = 99;
    struct iovec iov[16];
    int inflight_n = 0;
    size_t inflight_bytes = 0;
    for (int round = 0; round < ROUNDS; round++) {
        int op = rand_r(&seed) % 10;
        if (op < 3) {
            int k = rand_r(&seed) % NMSG;
            assert_int_equal(push_msg(&q, &h[k]), 0);
        } else if (op < 5) {
            size_t len = (size_t)(rand_r(&seed) % 40);
            assert_int_equal(sendq_push_copy(&q, buf, len), 0);
        } else if (op < 8) {
            if (inflight_n == 0) {
                int max = 1 + rand_r(&seed) % 16;
                inflight_n = sendq_fill_iov(&q, iov, max);
                assert_int_equal(inflight_n, q.count < (uint32_t)max ? (int)q.count : max);
                inflight_bytes = 0;
                for (int i = 0; i < inflight_n; i++)
                    inflight_bytes += iov[i].iov_len;
            } else {
                size_t bytes = inflight_bytes ? (size_t)rand_r(&seed) % (inflight_bytes + 1) : 0;
                if (rand_r(&seed) % 2)
                    bytes = inflight_bytes;
                uint64_t before = q.bytes;
                sendq_complete(&q, bytes);
                assert_int_equal(q.bytes, before - bytes);
                assert_int_equal(q.inflight, 0);
                inflight_n = 0;
            }
        } else if (op == 8) {
            uint32_t keep = q.inflight ? q.inflight : (uint32_t)sendq_head_partial(&q);
            sendq_drop_unsent(&q);
            assert_int_equal(q.count, keep < q.count ? keep : q.count);
            assert_true(q.count <= keep);
        } else if (inflight_n == 0 && rand_r(&seed) % 50 == 0) {
            sendq_clear(&q);
            assert_int_equal(q.bytes, 0);
        }
        check_invariants(&q);
        for (int i = 0; i < NMSG; i++)
            assert_int_equal(h[i].ref->count, 1 + holds(&q, h[i].ref));
    }
    sendq_clear(&q);
    for (int i = 0; i < NMSG; i++) {
        assert_int_equal(h[i].ref->count, 1);
        lref_put(h[i].ref);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_empty_queue),
        cmocka_unit_test(test_push_copy_packs),
        cmocka_unit_test(test_push_copy_copies),
        cmocka_unit_test(test_no_packing_into_inflight),
        cmocka_unit_test(test_copy_shared_copy_order),
        cmocka_unit_test(test_large_copy),
        cmocka_unit_test(test_fill_iov_contents_and_max),
        cmocka_unit_test(test_complete_zero),
        cmocka_unit_test(test_complete_short),
        cmocka_unit_test(test_complete_partial_fill),
        cmocka_unit_test(test_pack_into_partial_head),
        cmocka_unit_test(test_drop_unsent),
        cmocka_unit_test(test_drop_unsent_keeps_all_inflight),
        cmocka_unit_test(test_clear_releases_holds),
        cmocka_unit_test(test_growth_with_wrapped_head),
        cmocka_unit_test(test_idle_queue_owns_no_memory),
        cmocka_unit_test(test_randomized),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
