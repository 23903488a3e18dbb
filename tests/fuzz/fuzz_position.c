/* fuzz_position.c: libFuzzer target for the parsers of resume positions:
 * the SSE event id / Last-Event-ID form and its parts (src/proto/position.h),
 * and the "since" object of a WebSocket subscribe (control_since,
 * src/proto/control.h).
 *
 * Input: any bytes. As an id, a successful parse must format back to the
 * same text (in lowercase: epochs may be read in either case). As a control
 * message, every position control_since accepts must be well formed, and
 * the subscribed and gap replies built from it must be valid JSON. */
#include <ctype.h>
#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "proto/control.h"
#include "proto/position.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond))                                                                               \
            abort();                                                                               \
    } while (0)

static void check_id(const char *text, size_t len)
{
    uint64_t epoch = 0, seq = 0;
    if (position_parse_id(text, len, &epoch, &seq) != 0)
        return;
    char again[POSITION_ID_MAX + 1];
    size_t n = position_format_id(again, epoch, seq);
    CHECK(n <= POSITION_ID_MAX);
    /* Leading zeros of the seq are accepted; compare by value. */
    uint64_t epoch2 = 1, seq2 = 1;
    CHECK(position_parse_id(again, n, &epoch2, &seq2) == 0);
    CHECK(epoch2 == epoch && seq2 == seq);
    for (size_t i = 0; i < POSITION_EPOCH_LEN; i++)
        CHECK(tolower((unsigned char)text[i]) == again[i]);
}

static void check_since(const uint8_t *data, size_t size)
{
    struct control_msg m;
    const char *code = NULL;
    char message[200];
    if (control_parse(&m, data, size, &code, message, sizeof(message)) != 0)
        return;
    for (size_t i = 0; i < control_num_topics(&m); i++) {
        size_t len = 0;
        const char *topic = control_topic(&m, i, &len);
        if (!topic)
            continue;
        uint64_t epoch = 0, seq = 0;
        int r = control_since(&m, topic, len, &epoch, &seq);
        CHECK(r >= -1 && r <= 1);
        if (r != 1)
            continue;
        const struct control_position pos = {topic, len, epoch, seq};
        size_t out_len = 0;
        char *text = control_reply_subscribed(&topic, &len, 1, &pos, 1, &out_len);
        if (text) {
            json_t *root = json_loadb(text, out_len, 0, NULL);
            CHECK(root);
            json_decref(root);
            free(text);
        }
        text = control_reply_gap(topic, len, "too_old", epoch, seq, &out_len);
        if (text) {
            json_t *root = json_loadb(text, out_len, 0, NULL);
            CHECK(root);
            json_decref(root);
            free(text);
        }
    }
    control_free(&m);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    check_id((const char *)data, size);
    check_since(data, size);
    return 0;
}
