/* stream.h: checking one subscriber's events of one topic.
 *
 * The server numbers each topic's events 1, 2, 3, ... (seq). A subscriber
 * that keeps up sees them consecutively, from the first one it sees. A
 * stream remembers the first and the last seq it saw and which of the 64
 * seqs up to the last arrived, which tells a duplicate (seen before) from a
 * late event (counted lost when the gap opened, so it turns from lost into
 * reordered). Anything further back than 64 counts as a duplicate. */
#ifndef BENCH_STREAM_H
#define BENCH_STREAM_H

#include <stdbool.h>
#include <stdint.h>

struct stream {
    uint64_t first;  /* 0: nothing seen yet */
    uint64_t last;   /* highest seq seen */
    uint64_t recent; /* bit i: seq last - i was seen */
};

struct stream_counts {
    uint64_t lost; /* seqs skipped (missing), including the ones missing at the end */
    uint64_t duplicated;
    uint64_t reordered; /* arrived after a higher seq */
};

/* stream_check accounts for one event with sequence number |seq|. */
static inline void stream_check(struct stream *s, uint64_t seq, struct stream_counts *c)
{
    if (s->first == 0) {
        s->first = s->last = seq;
        s->recent = 1;
    } else if (seq > s->last) {
        uint64_t step = seq - s->last;
        c->lost += step - 1;
        s->recent = step < 64 ? (s->recent << step) | 1 : 1;
        s->last = seq;
    } else if (seq < s->first) {
        c->reordered++; /* before everything seen: the missing head is counted at the end */
        s->first = seq;
    } else {
        uint64_t back = s->last - seq;
        uint64_t bit = back < 64 ? 1ull << back : 0;
        if (bit != 0 && (s->recent & bit) == 0) {
            s->recent |= bit;
            c->lost--;
            c->reordered++;
        } else {
            c->duplicated++;
        }
    }
}

/* stream_complete reports whether |s| has seen the topic's last published
 * event |pub_last|. */
static inline bool stream_complete(const struct stream *s, uint64_t pub_last)
{
    return s->last >= pub_last;
}

/* stream_finish adds to |c| the events of the published range
 * [pub_first, pub_last] that the stream never saw at its start or end
 * (gaps in between are already counted), and returns how many events of
 * that range the subscriber should have received. pub_first == 0 means
 * nothing was published. */
uint64_t stream_finish(const struct stream *s, uint64_t pub_first, uint64_t pub_last,
                       struct stream_counts *c);

#endif
