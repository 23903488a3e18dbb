/* topics.c: topic names and the subscription mix (see topics.h). */
#include "topics.h"

#include <stdio.h>
#include <string.h>

size_t topics_name(const struct topics *t, uint32_t k, char *out)
{
    int n = snprintf(out, TOPIC_MAX_LEN + 1, "%s-%u", t->prefix, k);
    return n < 0 ? 0 : (size_t)n > TOPIC_MAX_LEN ? TOPIC_MAX_LEN : (size_t)n;
}

int64_t topics_index(const struct topics *t, const char *name, size_t len)
{
    if (len <= t->prefix_len + 1 || memcmp(name, t->prefix, t->prefix_len) != 0 ||
        name[t->prefix_len] != '-')
        return -1;
    uint64_t k = 0;
    for (size_t i = t->prefix_len + 1; i < len; i++) {
        if (name[i] < '0' || name[i] > '9' || k > UINT32_MAX)
            return -1;
        k = k * 10 + (uint64_t)(name[i] - '0');
    }
    return k < t->count ? (int64_t)k : -1;
}

/* pattern_before returns how many of connections 0..i-1 subscribe to the
 * pattern: floor(i * share), which spreads them evenly. */
static uint64_t pattern_before(const struct topics *t, uint32_t i)
{
    return (uint64_t)((double)i * t->pattern_share);
}

bool topics_is_pattern_conn(const struct topics *t, uint32_t i)
{
    return pattern_before(t, i + 1) > pattern_before(t, i);
}

uint32_t topics_conn_topic(const struct topics *t, uint32_t i)
{
    uint64_t exact_before = i - pattern_before(t, i);
    return (uint32_t)(exact_before % t->count);
}

/* segment_end returns the end of the segment starting at |s|. */
static size_t segment_end(const char *s, size_t pos, size_t len)
{
    while (pos < len && s[pos] != ':' && s[pos] != '.')
        pos++;
    return pos;
}

bool topics_match(const char *pattern, size_t pattern_len, const char *topic, size_t topic_len)
{
    if (pattern_len == 1 && pattern[0] == '*')
        return true;
    size_t p = 0, q = 0;
    for (;;) {
        size_t pe = segment_end(pattern, p, pattern_len);
        size_t qe = segment_end(topic, q, topic_len);
        bool last = pe == pattern_len;
        if (last && pe - p == 1 && pattern[p] == '>')
            return q < topic_len; /* one or more segments left */
        bool star = pe - p == 1 && pattern[p] == '*';
        if (!star && (pe - p != qe - q || memcmp(pattern + p, topic + q, pe - p) != 0))
            return false;
        if (last || qe == topic_len)
            return last && qe == topic_len;
        if (pattern[pe] != topic[qe]) /* the separators must be the same */
            return false;
        p = pe + 1;
        q = qe + 1;
    }
}

bool topics_pattern_matches(const struct topics *t, uint32_t k)
{
    char name[TOPIC_MAX_LEN + 1];
    size_t len = topics_name(t, k, name);

    return topics_match(t->pattern, strlen(t->pattern), name, len);
}

uint32_t topics_subscribers(const struct topics *t, uint64_t *out)
{
    uint32_t patterns = (uint32_t)pattern_before(t, t->connections);
    uint64_t exact = t->connections - patterns;

    for (uint32_t k = 0; k < t->count; k++) {
        out[k] = exact / t->count + (k < exact % t->count ? 1 : 0);
        if (patterns > 0 && topics_pattern_matches(t, k))
            out[k] += patterns;
    }
    return patterns;
}
