/* fuzz_pusher.c: libFuzzer target for the Pusher dialect's client
 * messages and channel names (src/proto/pusher.h).
 *
 * Input: the text of one WebSocket message on /app/<key>. Whatever it is,
 * pusher_parse succeeds or explains why not; from a parsed message every
 * reply the server could build (subscription succeeded or refused, an
 * error) must be valid JSON carrying the channel as it was sent; a valid
 * channel maps to a topic the topic rules accept and back to itself; and
 * the input, taken as an event's data, makes a frame whose JSON data
 * string is the input (or its string value). Everything is freed: a leak
 * is a finding. */
#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "proto/pusher.h"
#include "pubsub/topic.h"
#include "util/jsonv.h"
#include "util/utf8.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond))                                                                               \
            abort();                                                                               \
    } while (0)

/* load parses a reply and checks its event name. */
static json_t *load(char *text, size_t len, const char *event)
{
    CHECK(text);
    json_error_t err;
    json_t *root = json_loadb(text, len, JSON_ALLOW_NUL, &err);
    free(text);
    CHECK(root);
    CHECK(strcmp(json_string_value(json_object_get(root, "event")), event) == 0);
    return root;
}

static void check_channel(const char *channel, size_t len)
{
    size_t n = 0;
    json_t *root = load(pusher_subscription_succeeded(channel, len, &n), n,
                        "pusher_internal:subscription_succeeded");
    const json_t *echoed = json_object_get(root, "channel");
    CHECK(json_string_length(echoed) == len &&
          memcmp(json_string_value(echoed), channel, len) == 0);
    json_decref(root);
    json_decref(load(pusher_subscription_error(channel, len, "AuthError", "x", 401, &n), n,
                     "pusher:subscription_error"));
    if (!pusher_channel_valid(channel, len))
        return;
    char topic[1024];
    size_t topic_len = pusher_topic_of(topic, sizeof(topic), "42", 2, channel, len);
    CHECK(topic_len > 0);
    CHECK(topic_validate(topic, topic_len, sizeof(topic), TOPIC_MAX_SEGMENTS_LIMIT) == TOPIC_OK);
    char back[PUSHER_MAX_CHANNEL + 1];
    const char *app = NULL;
    size_t app_len = 0;
    CHECK(pusher_channel_of(back, sizeof(back), topic, topic_len, &app, &app_len) == len);
    CHECK(memcmp(back, channel, len) == 0 && app_len == 2 && memcmp(app, "42", 2) == 0);
}

/* check_frame: |data| as an event's data (a JSON text, as the message's
 * payload is). */
static void check_frame(const uint8_t *data, size_t size)
{
    if (!jsonv_valid(data, size))
        return;
    /* jansson, the oracle, refuses some valid JSON that jsonv (like
     * JSON.parse in pusher-js) takes: a lone surrogate escape such as
     * "\udddd". What it cannot read in, it cannot check in the frame. */
    json_error_t in_err;
    json_t *input = json_loadb((const char *)data, size, JSON_DECODE_ANY, &in_err);
    if (!input)
        return;
    json_decref(input);
    size_t len = pusher_event_frame_len(3, 1, data, size);
    uint8_t *frame = malloc(len);
    CHECK(frame);
    pusher_put_event_frame(frame, "evt", 3, "c", 1, data, size);
    size_t small = frame[1] & 0x7f;
    size_t header = small == 127 ? 10 : small == 126 ? 4 : 2;
    json_error_t err;
    json_t *root = json_loadb((const char *)frame + header, len - header, 0, &err);
    CHECK(root);
    const json_t *got = json_object_get(root, "data");
    CHECK(json_is_string(got));
    if (size > 0 && data[0] == '"') {
        json_t *value = json_loadb((const char *)data, size, JSON_DECODE_ANY, &err);
        CHECK(value && json_equal(value, got));
        json_decref(value);
    } else {
        CHECK(json_string_length(got) == size && memcmp(json_string_value(got), data, size) == 0);
    }
    json_decref(root);
    free(frame);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct pusher_msg m;
    char message[200];
    if (pusher_parse(&m, data, size, message, sizeof(message)) == 0) {
        if (m.channel)
            check_channel(m.channel, m.channel_len);
        pusher_free(&m);
    } else {
        CHECK(message[0] != '\0');
        size_t n = 0;
        json_decref(load(pusher_error(4200, message, &n), n, "pusher:error"));
    }
    if (size <= 300 && utf8_valid(data, size))
        check_channel((const char *)data, size);
    check_frame(data, size);
    uint64_t key = 0;
    if (pusher_socket_id_parse((const char *)data, size, &key)) {
        char again[PUSHER_MAX_SOCKET_ID];
        pusher_socket_id(again, (uint32_t)((key - 1) >> 32), (uint32_t)(key - 1));
        uint64_t key_again = 0;
        CHECK(pusher_socket_id_parse(again, strlen(again), &key_again) && key_again == key);
    }
    return 0;
}
