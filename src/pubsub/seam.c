/* seam.c: where replay meets live delivery (see seam.h). */
#include "pubsub/seam.h"

#include "pubsub/msg.h"

static bool seen_nothing(const struct seam_position *p)
{
    return p->epoch == 0 && p->seq == 0;
}

uint64_t seam_home_since(const struct seam_position *since, uint64_t epoch)
{
    return since && since->epoch == epoch ? since->seq : 0;
}

void seam_plan(const struct seam_position *since, const struct home_position *pos,
               struct seam_plan *out)
{
    out->gap = SEAM_NO_GAP;
    if (!since) {
        out->from = pos->last_seq + 1;
        return;
    }
    if (since->epoch == pos->epoch || seen_nothing(since)) {
        out->from = seen_nothing(since) ? 1 : since->seq + 1;
        /* A position ahead of the topic (a seq not assigned yet) names no
         * event that could be missed: delivery goes on with the next one. */
        if (out->from > pos->last_seq + 1)
            out->from = pos->last_seq + 1;
    } else {
        out->gap = SEAM_GAP_EPOCH_CHANGED;
        out->from = pos->first_seq;
        return;
    }
    if (out->from < pos->first_seq) {
        out->gap = SEAM_GAP_TOO_OLD;
        out->from = pos->first_seq;
    }
}

const char *seam_gap_name(enum seam_gap gap)
{
    switch (gap) {
    case SEAM_GAP_TOO_OLD:
        return "too_old";
    case SEAM_GAP_EPOCH_CHANGED:
        return "epoch_changed";
    case SEAM_NO_GAP:
        break;
    }
    return NULL;
}

size_t seam_merge(struct msg *const *replayed, size_t num_replayed, struct msg *const *held,
                  size_t num_held, uint64_t from, struct msg **out)
{
    size_t r = 0, h = 0, n = 0;
    uint64_t next = from; /* the lowest seq still wanted */
    while (r < num_replayed || h < num_held) {
        struct msg *m;
        if (h == num_held || (r < num_replayed && replayed[r]->seq <= held[h]->seq))
            m = replayed[r++];
        else
            m = held[h++];
        if (m->seq < next)
            continue; /* before the start, or a seq already taken */
        out[n++] = m;
        next = m->seq + 1;
    }
    return n;
}
