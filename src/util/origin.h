/* origin.h: lists of web origins (--cors-origins, --ws-origins): parsed
 * once from a flag, then matched against a request's Origin header.
 *
 * An origin is "scheme://host[:port]" as a browser serializes it (RFC 6454
 * section 6.1): http or https, a host name or address, no path. The list is
 * comma-separated; "*" stands for any origin. Listed origins are kept in
 * lower case, so matching is a byte comparison. */
#ifndef RC_ORIGIN_H
#define RC_ORIGIN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define ORIGIN_LIST_MAX 32 /* origins in one list */
#define ORIGIN_MAX_LEN 255 /* bytes in one origin */
#define ORIGIN_UNLISTED -1 /* origin_list_find: not in the list */

struct origin_list {
    bool any;  /* "*" was listed */
    uint8_t n; /* origins listed by name */
    uint8_t len[ORIGIN_LIST_MAX];
    char origin[ORIGIN_LIST_MAX][ORIGIN_MAX_LEN + 1];
};

/* origin_list_parse fills |out| from |text| ("https://a.example,
 * http://localhost:3000" or "*"; spaces around items are ignored).
 * Returns 0, or -1 with |*error| saying what is wrong. */
int origin_list_parse(struct origin_list *out, const char *text, const char **error);

/* origin_list_given reports whether the list holds anything (the flag was
 * given). */
static inline bool origin_list_given(const struct origin_list *l)
{
    return l->any || l->n > 0;
}

/* origin_list_find returns the index of |origin| (an Origin header's value,
 * compared without regard to case) among the listed names, or
 * ORIGIN_UNLISTED; "*" is not a name: see |any|. */
int origin_list_find(const struct origin_list *l, const char *origin, size_t len);

#endif
