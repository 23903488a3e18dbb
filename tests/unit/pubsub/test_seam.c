/* test_seam.c: where replay meets live delivery: the plan (start, gap) and
 * the merge (each seq once, in order, whatever the overlap). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "pubsub/msg.h"
#include "pubsub/seam.h"

#define EPOCH 0x9f2c0d1e5a7b3c44ull

static struct msg *msgs[64]; /* msgs[s] has seq s */

static int setup(void **state)
{
    (void)state;
    for (uint64_t s = 1; s < 64; s++) {
        msgs[s] = calloc(1, sizeof(struct msg));
        msgs[s]->seq = s;
    }
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    for (uint64_t s = 1; s < 64; s++)
        free(msgs[s]);
    return 0;
}

static void plan(const struct seam_position *since, uint64_t epoch, uint64_t first, uint64_t last,
                 enum seam_gap gap, uint64_t from)
{
    const struct home_position pos = {epoch, last, first};
    struct seam_plan p;
    seam_plan(since, &pos, &p);
    assert_int_equal(p.gap, gap);
    assert_int_equal(p.from, from);
}

static void test_plan(void **state)
{
    (void)state;
    const struct seam_position at41 = {EPOCH, 41}, nothing = {0, 0}, other = {0x1234, 41};
    /* No since: from the next event on, never a gap. */
    plan(NULL, EPOCH, 1, 41, SEAM_NO_GAP, 42);
    plan(NULL, 0, 1, 0, SEAM_NO_GAP, 1);
    /* Same epoch, everything after the position still held. */
    plan(&at41, EPOCH, 30, 50, SEAM_NO_GAP, 42);
    plan(&at41, EPOCH, 42, 50, SEAM_NO_GAP, 42);
    plan(&at41, EPOCH, 42, 41, SEAM_NO_GAP, 42); /* up to date, nothing held */
    /* The first missing seq is gone. */
    plan(&at41, EPOCH, 43, 50, SEAM_GAP_TOO_OLD, 43);
    plan(&at41, EPOCH, 51, 50, SEAM_GAP_TOO_OLD, 51); /* all expired */
    /* A position ahead of the topic: nothing to miss. */
    plan(&at41, EPOCH, 1, 10, SEAM_NO_GAP, 11);
    /* Another epoch (a restart): everything still held, after a gap. */
    plan(&other, EPOCH, 5, 9, SEAM_GAP_EPOCH_CHANGED, 5);
    plan(&at41, 0, 1, 0, SEAM_GAP_EPOCH_CHANGED, 1); /* restarted, nothing published yet */
    /* Nothing seen yet: from seq 1 of whatever epoch, a gap once 1 is gone. */
    plan(&nothing, EPOCH, 1, 9, SEAM_NO_GAP, 1);
    plan(&nothing, 0, 1, 0, SEAM_NO_GAP, 1);
    plan(&nothing, EPOCH, 4, 9, SEAM_GAP_TOO_OLD, 4);
    assert_string_equal(seam_gap_name(SEAM_GAP_TOO_OLD), "too_old");
    assert_string_equal(seam_gap_name(SEAM_GAP_EPOCH_CHANGED), "epoch_changed");
    assert_null(seam_gap_name(SEAM_NO_GAP));
}

static void test_home_since(void **state)
{
    (void)state;
    const struct seam_position at41 = {EPOCH, 41}, nothing = {0, 0};
    assert_int_equal(seam_home_since(&at41, EPOCH), 41);
    assert_int_equal(seam_home_since(&at41, 0x1234), 0);
    assert_int_equal(seam_home_since(&nothing, EPOCH), 0);
    assert_int_equal(seam_home_since(NULL, EPOCH), 0);
}

/* merge of replayed seqs [r0, r1] and held seqs [h0, h1] from |from| must
 * give every seq from max(from, min) to max, once. */
static void merge_ranges(uint64_t r0, uint64_t r1, uint64_t h0, uint64_t h1, uint64_t from,
                         uint64_t want_first, uint64_t want_last)
{
    struct msg *replayed[64], *held[64], *out[128];
    size_t nr = 0, nh = 0;
    for (uint64_t s = r0; r0 && s <= r1; s++)
        replayed[nr++] = msgs[s];
    for (uint64_t s = h0; h0 && s <= h1; s++)
        held[nh++] = msgs[s];
    size_t n = seam_merge(replayed, nr, held, nh, from, out);
    assert_int_equal(n, want_first ? want_last - want_first + 1 : 0);
    for (size_t i = 0; i < n; i++)
        assert_int_equal(out[i]->seq, want_first + i);
}

static void test_merge(void **state)
{
    (void)state;
    merge_ranges(42, 50, 0, 0, 42, 42, 50);   /* replay only */
    merge_ranges(0, 0, 42, 50, 42, 42, 50);   /* held only */
    merge_ranges(42, 50, 51, 55, 42, 42, 55); /* adjacent */
    merge_ranges(42, 50, 45, 55, 42, 42, 55); /* live events the replay covers too */
    merge_ranges(42, 50, 30, 44, 42, 42, 50); /* held ones before the start */
    merge_ranges(42, 50, 42, 50, 42, 42, 50); /* the same events twice */
    merge_ranges(42, 50, 10, 60, 42, 42, 60); /* held around the replay */
    merge_ranges(0, 0, 10, 20, 42, 0, 0);     /* all before the start */
    merge_ranges(0, 0, 0, 0, 1, 0, 0);
}

static void test_merge_with_holes(void **state)
{
    (void)state;
    /* Held events are only those that were pushed to this shard; replayed
     * ones those still held: either may miss some the other has. */
    struct msg *replayed[] = {msgs[5], msgs[6], msgs[8]};
    struct msg *held[] = {msgs[6], msgs[7], msgs[9], msgs[9]};
    struct msg *out[8];
    size_t n = seam_merge(replayed, 3, held, 4, 6, out);
    assert_int_equal(n, 4);
    for (size_t i = 0; i < n; i++)
        assert_int_equal(out[i]->seq, 6 + i);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_plan),
        cmocka_unit_test(test_home_since),
        cmocka_unit_test(test_merge),
        cmocka_unit_test(test_merge_with_holes),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
