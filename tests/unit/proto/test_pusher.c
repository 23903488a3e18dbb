/* test_pusher.c: Pusher protocol codecs (src/proto/pusher.c). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "proto/pusher.h"
#include "pubsub/topic.h"

#define S(lit) lit, sizeof(lit) - 1

static void test_channel_names(void **state)
{
    (void)state;
    assert_true(pusher_channel_valid(S("private-v3-channel-42")));
    assert_true(pusher_channel_valid(S("a-_=@,.;Z9")));
    assert_false(pusher_channel_valid(S("")));
    assert_false(pusher_channel_valid(S("with space")));
    assert_false(pusher_channel_valid(S("#server-to-user-1")));
    assert_false(pusher_channel_valid(S("a:b")));
    assert_false(pusher_channel_valid(S("caf\xc3\xa9")));
    char name[PUSHER_MAX_CHANNEL + 2];
    memset(name, 'x', sizeof(name));
    assert_true(pusher_channel_valid(name, PUSHER_MAX_CHANNEL));
    assert_false(pusher_channel_valid(name, PUSHER_MAX_CHANNEL + 1));
    assert_int_equal(pusher_channel_kind(S("private-x")), PUSHER_PRIVATE);
    assert_int_equal(pusher_channel_kind(S("private-encrypted-x")), PUSHER_PRIVATE_ENCRYPTED);
    assert_int_equal(pusher_channel_kind(S("presence-x")), PUSHER_PRESENCE);
    assert_int_equal(pusher_channel_kind(S("privatex")), PUSHER_PUBLIC);
}

/* Every valid channel maps to a valid topic and back. */
static void test_topic_mapping_round_trip(void **state)
{
    (void)state;
    static const char *const channels[] = {
        "private-v3-channel-42", "App.User.7", "a,b;c.d", "...", "=@-_", "presence-room.1"};
    for (size_t i = 0; i < sizeof(channels) / sizeof(channels[0]); i++) {
        char topic[1024];
        size_t len =
            pusher_topic_of(topic, sizeof(topic), S("12"), channels[i], strlen(channels[i]));
        assert_true(len > 0);
        assert_int_equal(topic_validate(topic, len, 1024, 32), TOPIC_OK);
        char back[PUSHER_MAX_CHANNEL + 1];
        const char *app = NULL;
        size_t app_len = 0;
        size_t back_len = pusher_channel_of(back, sizeof(back), topic, len, &app, &app_len);
        assert_int_equal(back_len, strlen(channels[i]));
        assert_string_equal(back, channels[i]);
        assert_int_equal(app_len, 2);
        assert_memory_equal(app, "12", 2);
    }
    char topic[64];
    assert_int_equal(pusher_topic_of(topic, sizeof(topic), S("1"), S("App.User.7")),
                     strlen("pusher:1:App~2EUser~2E7"));
    assert_string_equal(topic, "pusher:1:App~2EUser~2E7");
    assert_int_equal(pusher_topic_of(topic, 12, S("1"), S("App.User.7")), 0); /* too small */
    const char *app;
    size_t app_len;
    char back[64];
    assert_int_equal(pusher_channel_of(back, sizeof(back), S("other:1:x"), &app, &app_len), 0);
    assert_int_equal(pusher_channel_of(back, sizeof(back), S("pusher:1:a~2"), &app, &app_len), 0);
    assert_int_equal(pusher_channel_of(back, sizeof(back), S("pusher:1:a~41"), &app, &app_len), 0);
    assert_int_equal(pusher_channel_of(back, sizeof(back), S("pusher::a"), &app, &app_len), 0);
}

static void test_parse(void **state)
{
    (void)state;
    struct pusher_msg m;
    char message[128];
    const char sub[] = "{\"event\":\"pusher:subscribe\",\"data\":{\"channel\":\"private-a\","
                       "\"auth\":\"k:sig\"}}";
    assert_int_equal(pusher_parse(&m, (const uint8_t *)sub, strlen(sub), message, sizeof(message)),
                     0);
    assert_int_equal(m.type, PUSHER_MSG_SUBSCRIBE);
    assert_int_equal(m.channel_len, 9);
    assert_memory_equal(m.channel, "private-a", 9);
    assert_int_equal(m.auth_len, 5);
    assert_null(m.channel_data);
    pusher_free(&m);
    const char ping[] = "{\"event\":\"pusher:ping\",\"data\":{}}";
    assert_int_equal(pusher_parse(&m, (const uint8_t *)ping, strlen(ping), message, 128), 0);
    assert_int_equal(m.type, PUSHER_MSG_PING);
    pusher_free(&m);
    const char client[] = "{\"event\":\"client-typing\",\"channel\":\"private-a\",\"data\":{}}";
    assert_int_equal(pusher_parse(&m, (const uint8_t *)client, strlen(client), message, 128), 0);
    assert_int_equal(m.type, PUSHER_MSG_CLIENT_EVENT);
    pusher_free(&m);
    static const char *const bad[] = {"",
                                      "[]",
                                      "{\"event\":1}",
                                      "{\"data\":{}}",
                                      "{\"event\":\"pusher:subscribe\",\"data\":\"x\"}",
                                      "{\"event\":\"pusher:subscribe\",\"data\":{\"channel\":1}}",
                                      "{\"event\":\"a\",\"event\":\"b\"}"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        assert_int_equal(pusher_parse(&m, (const uint8_t *)bad[i], strlen(bad[i]), message, 128),
                         -1);
        assert_true(strlen(message) > 0);
    }
}

/* The frame's JSON, parsed: data is a string pusher-js parses again. */
static json_t *frame_json(const uint8_t *data, size_t data_len)
{
    size_t len = pusher_event_frame_len(strlen("job-result"), strlen("private-a"), data, data_len);
    uint8_t *frame = malloc(len);
    assert_non_null(frame);
    pusher_put_event_frame(frame, S("job-result"), S("private-a"), data, data_len);
    assert_int_equal(frame[0], 0x81); /* FIN, text */
    size_t header = (frame[1] & 0x7f) == 126 ? 4 : 2;
    json_error_t err;
    json_t *root = json_loadb((const char *)frame + header, len - header, 0, &err);
    free(frame);
    assert_non_null(root);
    assert_string_equal(json_string_value(json_object_get(root, "event")), "job-result");
    assert_string_equal(json_string_value(json_object_get(root, "channel")), "private-a");
    return root;
}

static void test_event_frame(void **state)
{
    (void)state;
    json_t *root = frame_json((const uint8_t *)S("{\"a\":\"b\\\"c\"}"));
    assert_string_equal(json_string_value(json_object_get(root, "data")), "{\"a\":\"b\\\"c\"}");
    json_decref(root);
    root = frame_json((const uint8_t *)S("\"already a string\""));
    assert_string_equal(json_string_value(json_object_get(root, "data")), "already a string");
    json_decref(root);
    char big[300];
    memset(big, '7', sizeof(big)); /* a number: the 16-bit length form */
    root = frame_json((const uint8_t *)big, sizeof(big));
    assert_int_equal(json_string_length(json_object_get(root, "data")), sizeof(big));
    json_decref(root);
}

static void test_replies(void **state)
{
    (void)state;
    size_t len = 0;
    char *text = pusher_connection_established("1.2", 60, &len);
    json_error_t err;
    json_t *root = json_loadb(text, len, 0, &err);
    assert_non_null(root);
    json_t *data = json_loads(json_string_value(json_object_get(root, "data")), 0, &err);
    assert_string_equal(json_string_value(json_object_get(data, "socket_id")), "1.2");
    assert_int_equal(json_integer_value(json_object_get(data, "activity_timeout")), 60);
    json_decref(data);
    json_decref(root);
    free(text);
    text = pusher_subscription_error(S("private-a"), "AuthError", "bad \"sig\"", 401, &len);
    root = json_loadb(text, len, 0, &err);
    assert_int_equal(json_integer_value(json_object_get(json_object_get(root, "data"), "status")),
                     401);
    json_decref(root);
    free(text);
    char socket_id[PUSHER_MAX_SOCKET_ID];
    pusher_socket_id(socket_id, UINT32_MAX, UINT32_MAX);
    assert_string_equal(socket_id, "4294967295.4294967295");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_channel_names), cmocka_unit_test(test_topic_mapping_round_trip),
        cmocka_unit_test(test_parse),         cmocka_unit_test(test_event_frame),
        cmocka_unit_test(test_replies),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
