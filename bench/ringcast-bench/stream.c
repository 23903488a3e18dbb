/* stream.c: end-of-run accounting of a stream (see stream.h). */
#include "stream.h"

uint64_t stream_finish(const struct stream *s, uint64_t pub_first, uint64_t pub_last,
                       struct stream_counts *c)
{
    if (pub_first == 0 || pub_last < pub_first)
        return 0;
    uint64_t expected = pub_last - pub_first + 1;
    if (s->first == 0) {
        c->lost += expected;
        return expected;
    }
    if (s->first > pub_first)
        c->lost += s->first - pub_first;
    if (pub_last > s->last)
        c->lost += pub_last - s->last;
    return expected;
}
