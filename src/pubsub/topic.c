/* topic.c: topic and pattern rules, and the reference matcher (see topic.h). */
#include "pubsub/topic.h"

#include <string.h>

static bool segment_char_ok(unsigned char c)
{
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))
        return true;
    switch (c) {
    case '_':
    case '-':
    case '@':
    case '=':
    case '+':
    case '/':
    case '~':
        return true;
    default:
        return false;
    }
}

static bool is_wildcard_char(char c)
{
    return c == '*' || c == '>';
}

/* judge_segment checks one segment of a name; wildcards are whole segments
 * only. */
static enum topic_status judge_segment(const char *s, size_t len, bool allow_wildcards,
                                       bool is_last)
{
    if (len == 0)
        return TOPIC_EMPTY_SEGMENT;
    if (len == 1 && is_wildcard_char(s[0])) {
        if (!allow_wildcards)
            return TOPIC_WILDCARD;
        return s[0] == '>' && !is_last ? TOPIC_WILDCARD_NOT_LAST : TOPIC_OK;
    }
    for (size_t i = 0; i < len; i++) {
        if (is_wildcard_char(s[i]))
            return allow_wildcards ? TOPIC_BAD_WILDCARD : TOPIC_WILDCARD;
        if (!segment_char_ok((unsigned char)s[i]))
            return TOPIC_BAD_CHAR;
    }
    return TOPIC_OK;
}

static enum topic_status judge(const char *name, size_t len, size_t max_len, size_t max_segments,
                               bool allow_wildcards)
{
    if (len == 0)
        return TOPIC_EMPTY;
    if (len > max_len)
        return TOPIC_TOO_LONG;
    size_t start = 0, segments = 0;
    for (size_t i = 0; i <= len; i++) {
        if (i < len && !topic_is_separator(name[i]))
            continue;
        if (++segments > max_segments)
            return TOPIC_TOO_MANY_SEGMENTS;
        enum topic_status s = judge_segment(name + start, i - start, allow_wildcards, i == len);
        if (s != TOPIC_OK)
            return s;
        start = i + 1;
    }
    return TOPIC_OK;
}

enum topic_status topic_validate(const char *topic, size_t len, size_t max_len, size_t max_segments)
{
    return judge(topic, len, max_len, max_segments, false);
}

enum topic_status topic_validate_pattern(const char *pattern, size_t len, size_t max_len,
                                         size_t max_segments)
{
    return judge(pattern, len, max_len, max_segments, true);
}

const char *topic_status_text(enum topic_status status)
{
    switch (status) {
    case TOPIC_OK:
        return "valid topic";
    case TOPIC_EMPTY:
        return "topic is empty";
    case TOPIC_TOO_LONG:
        return "topic is longer than the server's --max-topic-length";
    case TOPIC_BAD_CHAR:
        return "topic has a character outside A-Z a-z 0-9 _-@=+/~ and the separators : .";
    case TOPIC_EMPTY_SEGMENT:
        return "topic has an empty segment";
    case TOPIC_TOO_MANY_SEGMENTS:
        return "topic has more segments than the server's --max-segments";
    case TOPIC_WILDCARD:
        return "wildcards (* and >) are only allowed in subscriptions";
    case TOPIC_BAD_WILDCARD:
        return "a wildcard (* or >) must be a whole segment";
    case TOPIC_WILDCARD_NOT_LAST:
        return "'>' is only allowed as the last segment";
    }
    return "invalid topic";
}

bool topic_is_pattern(const char *name, size_t len)
{
    for (size_t i = 0; i < len; i++)
        if (is_wildcard_char(name[i]))
            return true;
    return false;
}

size_t topic_split(const char *name, size_t len, struct topic_segment *out, size_t max)
{
    size_t n = 0, start = 0;
    for (size_t i = 1; i <= len; i++) {
        if (i < len && !topic_is_separator(name[i]))
            continue;
        if (n == max)
            return max + 1;
        out[n++] = (struct topic_segment){name + start, i - start};
        start = i;
    }
    return n;
}

static bool same_segment(const struct topic_segment *a, const struct topic_segment *b)
{
    return a->len == b->len && memcmp(a->text, b->text, a->len) == 0;
}

bool topic_matches(const char *pattern, size_t pattern_len, const char *topic, size_t topic_len)
{
    struct topic_segment p[TOPIC_MAX_SEGMENTS_LIMIT + 1], t[TOPIC_MAX_SEGMENTS_LIMIT + 1];
    size_t np = topic_split(pattern, pattern_len, p, TOPIC_MAX_SEGMENTS_LIMIT);
    size_t nt = topic_split(topic, topic_len, t, TOPIC_MAX_SEGMENTS_LIMIT);
    if (np > TOPIC_MAX_SEGMENTS_LIMIT || nt > TOPIC_MAX_SEGMENTS_LIMIT || np == 0)
        return false;
    if (np == 1 && topic_segment_is(&p[0], '*'))
        return true; /* "*" alone: every topic */
    for (size_t i = 0; i < np; i++) {
        if (topic_segment_is(&p[i], '>')) /* one or more trailing segments */
            return i == np - 1 && nt > i && topic_segment_sep(&p[i]) == topic_segment_sep(&t[i]);
        if (i >= nt)
            return false;
        if (topic_segment_is(&p[i], '*')) {
            if (topic_segment_sep(&p[i]) != topic_segment_sep(&t[i]))
                return false;
        } else if (!same_segment(&p[i], &t[i])) {
            return false;
        }
    }
    return np == nt;
}

/* is_tail reports whether a segment of an |n|-segment pattern stands for
 * "this segment and any after it": '>' (always last), or '*' alone, which
 * matches every topic just as '>' alone does. */
static bool is_tail(const struct topic_segment *s, size_t n)
{
    return topic_segment_is(s, '>') || (n == 1 && topic_segment_is(s, '*'));
}

/* Containment, position by position (o = outer segment, x = inner segment;
 * every pattern matches some topic, so nothing holds vacuously):
 *   o is a tail ('>'): holds iff x exists and has o's separator; whatever
 *       inner has from here on (literal, '*', '>') fills o's segments.
 *   x is a tail, o is not: fails; inner reaches topics of any length, and
 *       any text at this position, which a fixed-length or later-'>' outer
 *       cannot all match.
 *   o is '*': x (literal or '*') must have o's separator.
 *   o is a literal: x must be the same literal with the same separator
 *       ('*' under a literal fails: it matches texts the literal does not).
 *   inner runs out first: fails (outer needs more segments).
 * When outer runs out without a tail, the lengths must be equal: a longer
 * inner matches topics that are too long for outer. */
bool topic_contains(const char *outer, size_t outer_len, const char *inner, size_t inner_len)
{
    const size_t any_len = (size_t)-1, max = TOPIC_MAX_SEGMENTS_LIMIT;
    if (topic_validate_pattern(outer, outer_len, any_len, max) != TOPIC_OK ||
        topic_validate_pattern(inner, inner_len, any_len, max) != TOPIC_OK)
        return false;
    struct topic_segment o[TOPIC_MAX_SEGMENTS_LIMIT + 1], x[TOPIC_MAX_SEGMENTS_LIMIT + 1];
    size_t no = topic_split(outer, outer_len, o, max);
    size_t nx = topic_split(inner, inner_len, x, max);
    for (size_t i = 0; i < no; i++) {
        if (i >= nx)
            return false;
        if (is_tail(&o[i], no))
            return topic_segment_sep(&o[i]) == topic_segment_sep(&x[i]);
        if (is_tail(&x[i], nx))
            return false;
        if (topic_segment_is(&o[i], '*')) {
            if (topic_segment_sep(&o[i]) != topic_segment_sep(&x[i]))
                return false;
        } else if (!same_segment(&o[i], &x[i])) {
            return false;
        }
    }
    return no == nx;
}
