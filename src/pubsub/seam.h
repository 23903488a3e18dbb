/* seam.h: joining a topic's replay from history to its live events,
 * exactly once and in seq order (docs/history.md, "Resuming").
 *
 * A subscriber's shard subscribes the connection first, then asks the
 * topic's home for its position and the held events after the client's
 * position. Until the answer comes, live events of the topic are held on
 * the connection (the home may have sequenced them before or after it
 * answered). The answer and the live events come back on the same ring
 * from the home, in the home's order, so once the answer is in no later
 * live event can have a seq the answer covers. Then:
 *   1. seam_plan decides from the client's position and the home's where
 *      delivery starts and whether a gap must be reported first;
 *   2. seam_merge joins the replayed and the held events: every seq from
 *      there on, once, ascending.
 * Both are pure: no I/O, no references taken or dropped. */
#ifndef RC_SEAM_H
#define RC_SEAM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "pubsub/home.h"

struct msg;

/* A client's position in a topic: it has seen every event up to |seq| of
 * |epoch|. Epoch 0 with seq 0 is "nothing seen yet". */
struct seam_position {
    uint64_t epoch;
    uint64_t seq;
};

enum seam_gap {
    SEAM_NO_GAP = 0,
    SEAM_GAP_TOO_OLD,       /* the first missing seq is no longer held */
    SEAM_GAP_EPOCH_CHANGED, /* the client's epoch is not the topic's */
};

struct seam_plan {
    enum seam_gap gap;
    uint64_t from; /* the first seq to deliver */
};

/* seam_home_since is the seq after which the home replays for a client at
 * |since| when the topic's epoch is |epoch|: the client's seq in the same
 * epoch (or from the start for "nothing seen yet"), every held event
 * otherwise. */
uint64_t seam_home_since(const struct seam_position *since, uint64_t epoch);

/* seam_plan plans the delivery for a client at |since| (NULL: a plain
 * subscribe, which starts after the current position) given the home's
 * position |pos|. */
void seam_plan(const struct seam_position *since, const struct home_position *pos,
               struct seam_plan *out);

/* seam_gap_name names a gap reason for the protocol ("too_old",
 * "epoch_changed"), NULL for SEAM_NO_GAP. */
const char *seam_gap_name(enum seam_gap gap);

/* seam_merge writes to |out| (room for num_replayed + num_held) the events
 * of both lists (each ascending by seq) with a seq of at least |from|, each
 * seq once, ascending, and returns how many. */
size_t seam_merge(struct msg *const *replayed, size_t num_replayed, struct msg *const *held,
                  size_t num_held, uint64_t from, struct msg **out);

#endif
