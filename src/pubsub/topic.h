/* topic.h: topic names and subscription patterns.
 *
 * A topic is one or more non-empty segments separated by ':' or '.'
 * ("customer_id:42:call:7", "module.entity.created"). Segment characters are
 * ASCII letters, digits and "_-@=+/~".
 *
 * A pattern is a topic whose segments may also be wildcards:
 *   "*"  matches exactly one segment ("customer_id:42:call:*"),
 *   ">"  as the last segment matches one or more trailing segments
 *        ("customer_id:42:>"),
 * and the pattern "*" alone matches every topic. A wildcard stands for
 * segment text only: the separators around it must be the same in the
 * topic ("a:*" matches "a:b", not "a.b"), just as exact topics compare as
 * whole strings. Publishing to a pattern is refused.
 *
 * Every place that judges or matches topics goes through this module and
 * src/pubsub/index.h. */
#ifndef RC_TOPIC_H
#define RC_TOPIC_H

#include <stdbool.h>
#include <stddef.h>

#include "util/config.h"

#define TOPIC_MAX_SEGMENTS_LIMIT CONFIG_MAX_SEGMENTS_LIMIT /* the largest --max-segments */

enum topic_status {
    TOPIC_OK = 0,
    TOPIC_EMPTY,
    TOPIC_TOO_LONG,
    TOPIC_BAD_CHAR,
    TOPIC_EMPTY_SEGMENT,
    TOPIC_TOO_MANY_SEGMENTS,
    TOPIC_WILDCARD,          /* a wildcard where only a topic is allowed (publish) */
    TOPIC_BAD_WILDCARD,      /* '*' or '>' inside a segment ("a*") */
    TOPIC_WILDCARD_NOT_LAST, /* '>' before the last segment */
};

/* A segment as it stands in a name: every segment but the first starts
 * with the separator in front of it (":42"), so comparing two segments
 * compares their separators too. */
struct topic_segment {
    const char *text;
    size_t len;
};

/* topic_segment_sep returns the separator a segment starts with, or 0 for
 * a first segment. */
static inline char topic_segment_sep(const struct topic_segment *s)
{
    return s->len > 0 && (s->text[0] == ':' || s->text[0] == '.') ? s->text[0] : 0;
}

/* topic_segment_is reports whether the segment's text (after its
 * separator) is the single character |c|. */
static inline bool topic_segment_is(const struct topic_segment *s, char c)
{
    size_t skip = topic_segment_sep(s) ? 1 : 0;
    return s->len == skip + 1 && s->text[skip] == c;
}

/* topic_validate judges a topic (no wildcards) against the rules above,
 * the length limit |max_len| and at most |max_segments| segments. */
enum topic_status topic_validate(const char *topic, size_t len, size_t max_len,
                                 size_t max_segments);

/* topic_validate_pattern judges a subscription: a topic or a pattern. */
enum topic_status topic_validate_pattern(const char *pattern, size_t len, size_t max_len,
                                         size_t max_segments);

/* topic_status_text explains a status in a few words, for error messages. */
const char *topic_status_text(enum topic_status status);

/* topic_is_pattern reports whether a valid subscription has a wildcard. */
bool topic_is_pattern(const char *name, size_t len);

/* topic_split writes the segments of a valid |name| into |out| (room for
 * |max|; each with its leading separator, see struct topic_segment) and
 * returns their number, or max + 1 when there are more. */
size_t topic_split(const char *name, size_t len, struct topic_segment *out, size_t max);

/* topic_matches reports whether |pattern| matches |topic|, by the plain
 * definition (the index must agree with it; tests compare the two). */
bool topic_matches(const char *pattern, size_t pattern_len, const char *topic, size_t topic_len);

/* topic_is_separator reports whether |c| separates segments. */
static inline bool topic_is_separator(char c)
{
    return c == ':' || c == '.';
}

/* topic_contains reports whether every topic |inner| matches is also
 * matched by |outer| (both valid subscriptions: topics or patterns, as
 * judged by topic_validate_pattern). An exact topic contains only itself. */
bool topic_contains(const char *outer, size_t outer_len, const char *inner, size_t inner_len);

#endif
