/* timer.c: hashed timing wheel (see timer.h). */
#include "util/timer.h"

#include <string.h>

static void list_init(struct timer_node *head)
{
    head->next = head->prev = head;
}

static void list_add(struct timer_node *head, struct timer_node *node)
{
    node->prev = head->prev;
    node->next = head;
    head->prev->next = node;
    head->prev = node;
}

static void list_del(struct timer_node *node)
{
    node->prev->next = node->next;
    node->next->prev = node->prev;
    node->next = node->prev = NULL;
}

void timer_wheel_init(struct timer_wheel *w, int64_t now_ms, uint32_t tick_ms)
{
    memset(w, 0, sizeof(*w));
    for (int i = 0; i < TIMER_SLOTS; i++)
        list_init(&w->slots[i]);
    w->origin_ms = now_ms;
    w->tick_ms = tick_ms;
}

void timer_arm(struct timer_wheel *w, struct timer_node *node, int64_t deadline_ms)
{
    timer_cancel(w, node);
    int64_t since_origin = deadline_ms - w->origin_ms;
    uint64_t tick = since_origin <= 0 ? 0 : (uint64_t)(since_origin + w->tick_ms - 1) / w->tick_ms;
    if (tick <= w->tick)
        tick = w->tick + 1; /* the current tick's slot was already processed */
    node->expires_tick = tick;
    list_add(&w->slots[tick % TIMER_SLOTS], node);
    w->armed++;
    if (tick < w->empty_until)
        w->empty_until = tick;
}

void timer_cancel(struct timer_wheel *w, struct timer_node *node)
{
    if (!timer_is_armed(node))
        return;
    list_del(node);
    w->armed--;
}

static void fire_slot(struct timer_wheel *w, uint64_t tick, void *ctx)
{
    /* Move the expired nodes to a private list first: a callback may cancel
     * or re-arm any timer, including ones in this slot. */
    struct timer_node *slot = &w->slots[tick % TIMER_SLOTS];
    struct timer_node expired;
    list_init(&expired);
    for (struct timer_node *n = slot->next, *next; n != slot; n = next) {
        next = n->next;
        if (n->expires_tick <= tick) {
            list_del(n);
            list_add(&expired, n);
        }
    }
    while (expired.next != &expired) {
        struct timer_node *n = expired.next;
        list_del(n);
        w->armed--;
        n->fire(ctx, n);
    }
}

void timer_advance(struct timer_wheel *w, int64_t now_ms, void *ctx)
{
    if (now_ms < w->origin_ms)
        return;
    uint64_t target = (uint64_t)(now_ms - w->origin_ms) / w->tick_ms;
    if (w->armed == 0) {
        w->tick = target; /* nothing to fire: jump */
        return;
    }
    while (w->tick < target) {
        w->tick++;
        fire_slot(w, w->tick, ctx);
        if (w->armed == 0) {
            w->tick = target;
            break;
        }
    }
}

int64_t timer_wait_ms(struct timer_wheel *w, int64_t now_ms)
{
    if (w->armed == 0)
        return -1;
    uint64_t tick = w->tick + 1 > w->empty_until ? w->tick + 1 : w->empty_until;
    while (tick < w->tick + TIMER_SLOTS) {
        const struct timer_node *slot = &w->slots[tick % TIMER_SLOTS];
        if (slot->next != slot)
            break;
        tick++;
    }
    w->empty_until = tick;
    int64_t tick_ms = w->origin_ms + (int64_t)tick * w->tick_ms;
    return tick_ms > now_ms ? tick_ms - now_ms : 0;
}
