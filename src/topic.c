/* topic.c: topic name rules (see topic.h). */
#include "topic.h"

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

enum topic_status topic_validate(const char *topic, size_t len, size_t max_len)
{
    if (len == 0)
        return TOPIC_EMPTY;
    if (len > max_len)
        return TOPIC_TOO_LONG;
    size_t segment_len = 0;
    enum topic_status status = TOPIC_OK;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)topic[i];
        if (topic_is_separator((char)c)) {
            if (segment_len == 0)
                return TOPIC_EMPTY_SEGMENT;
            segment_len = 0;
        } else if (c == '*' || c == '>') {
            status = TOPIC_WILDCARD;
            segment_len++;
        } else if (segment_char_ok(c)) {
            segment_len++;
        } else {
            return TOPIC_BAD_CHAR;
        }
    }
    if (segment_len == 0)
        return TOPIC_EMPTY_SEGMENT;
    return status;
}

const char *topic_status_text(enum topic_status status)
{
    switch (status) {
    case TOPIC_OK:
        return "valid topic";
    case TOPIC_EMPTY:
        return "topic is empty";
    case TOPIC_TOO_LONG:
        return "topic is longer than the server's limit";
    case TOPIC_BAD_CHAR:
        return "topic has a character outside A-Z a-z 0-9 _-@=+/~ and the separators : .";
    case TOPIC_EMPTY_SEGMENT:
        return "topic has an empty segment";
    case TOPIC_WILDCARD:
        return "wildcards (* and >) are not accepted here";
    }
    return "invalid topic";
}
