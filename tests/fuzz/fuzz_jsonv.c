/* fuzz_jsonv.c: the JSON validator, differentially against jansson.
 *
 * Whatever jansson accepts (it is stricter: it limits number ranges and
 * refuses unpaired surrogate escapes), jsonv must accept too, except input
 * with a raw NUL byte, where jansson stops reading as if the text ended
 * (a raw NUL is never valid JSON). Whatever jsonv
 * accepts must scan cleanly: every member's value lies inside the input and
 * is itself valid JSON, and every string value unescapes. */
#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "util/jsonv.h"

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond))                                                                               \
            abort();                                                                               \
    } while (0)

struct scan {
    const uint8_t *start, *end;
};

static void check_member(void *ctx, const struct jsonv_member *m)
{
    const struct scan *s = ctx;
    CHECK(m->key >= s->start && m->key + m->key_len <= s->end);
    CHECK(m->value >= s->start && m->value + m->value_len <= s->end);
    CHECK(jsonv_valid(m->value, m->value_len));
    char out[256];
    jsonv_unescape(m->key, m->key_len, out, sizeof(out));
    if (m->type == JSONV_STRING) {
        CHECK(m->value_len >= 2 && m->value[0] == '"' && m->value[m->value_len - 1] == '"');
        jsonv_unescape(m->value + 1, m->value_len - 2, out, sizeof(out));
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    bool ours = jsonv_valid(data, size);
    json_error_t err;
    json_t *theirs = json_loadb((const char *)data, size, JSON_DECODE_ANY | JSON_ALLOW_NUL, &err);
    if (theirs && !memchr(data, 0, size)) {
        CHECK(ours);
    }
    json_decref(theirs);
    if (ours) {
        struct scan s = {data, data + size};
        jsonv_each_member(data, size, check_member, &s);
    }
    return 0;
}
