/* timer.h: a hashed timing wheel for per-connection deadlines.
 *
 * Each connection embeds one timer_node (handshake, close linger, ...).
 * Arming, re-arming and cancelling are O(1); a tick looks only at the nodes
 * hashed to that tick's slot, so the cost of time passing does not grow with
 * the number of idle connections. Precision is one tick. */
#ifndef RC_TIMER_H
#define RC_TIMER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define TIMER_SLOTS 1024

struct timer_node;

/* timer_fire_fn is called when |node| expires, with the context given to
 * timer_advance (the shard). */
typedef void (*timer_fire_fn)(void *ctx, struct timer_node *node);

struct timer_node {
    struct timer_node *next, *prev; /* NULL when not armed */
    uint64_t expires_tick;
    timer_fire_fn fire; /* the node's own callback (timer_node_init) */
};

struct timer_wheel {
    struct timer_node slots[TIMER_SLOTS]; /* list heads */
    uint64_t tick;                        /* ticks processed so far */
    int64_t origin_ms;                    /* clock reading at tick 0 */
    uint32_t tick_ms;
    uint64_t armed;
    /* Every slot of the ticks after |tick| and before |empty_until| was
     * empty when timer_wait_ms last looked, and nothing was armed there
     * since: its next scan starts here instead of at tick + 1. */
    uint64_t empty_until;
};

/* timer_node_init gives |node| its callback; it is not armed. */
static inline void timer_node_init(struct timer_node *node, timer_fire_fn fire)
{
    node->next = node->prev = NULL;
    node->fire = fire;
}

/* timer_wheel_init starts the wheel at |now_ms| with a tick of |tick_ms|. */
void timer_wheel_init(struct timer_wheel *w, int64_t now_ms, uint32_t tick_ms);

/* timer_arm (re)arms |node| to fire at |deadline_ms| (or the tick after). */
void timer_arm(struct timer_wheel *w, struct timer_node *node, int64_t deadline_ms);

/* timer_cancel disarms |node|; harmless when it is not armed. */
void timer_cancel(struct timer_wheel *w, struct timer_node *node);

/* timer_is_armed reports whether |node| is armed. */
static inline bool timer_is_armed(const struct timer_node *node)
{
    return node->next != NULL;
}

/* timer_advance processes every tick up to |now_ms| and calls each expired
 * node's callback with |ctx| (disarmed before the call; the callback may
 * re-arm it or change other timers). */
void timer_advance(struct timer_wheel *w, int64_t now_ms, void *ctx);

/* timer_wait_ms returns how long the loop may sleep before the next tick
 * whose slot holds a timer (which may belong to a later turn of the wheel),
 * or -1 when no timer is armed. It remembers how far the slots were empty,
 * so that a loop calling it once per turn does not scan the same empty
 * slots again. */
int64_t timer_wait_ms(struct timer_wheel *w, int64_t now_ms);

#endif
