/* topic.h: topic names.
 *
 * A topic is one or more non-empty segments separated by ':' or '.'
 * ("customer_id:42:call:7", "module.entity.created"). Segment characters are
 * ASCII letters, digits and "_-@=+/~". The wildcard characters '*' and '>'
 * are reserved for subscription patterns. Every place that judges or matches
 * topics goes through this module and src/index.h. */
#ifndef RC_TOPIC_H
#define RC_TOPIC_H

#include <stdbool.h>
#include <stddef.h>

enum topic_status {
    TOPIC_OK = 0,
    TOPIC_EMPTY,
    TOPIC_TOO_LONG,
    TOPIC_BAD_CHAR,
    TOPIC_EMPTY_SEGMENT,
    TOPIC_WILDCARD, /* contains '*' or '>': patterns are not accepted here */
};

/* topic_validate judges the name |topic| of |len| bytes against the rules
 * above and the length limit |max_len|. */
enum topic_status topic_validate(const char *topic, size_t len, size_t max_len);

/* topic_status_text explains a status in a few words, for error messages. */
const char *topic_status_text(enum topic_status status);

/* topic_is_separator reports whether |c| separates segments. */
static inline bool topic_is_separator(char c)
{
    return c == ':' || c == '.';
}

#endif
