/* test_control.c: unit tests for src/proto/control.h (control messages and
 * replies). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <jansson.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "proto/control.h"

struct parsed {
    int rc;
    struct control_msg m;
    const char *code;
    char message[200];
};

static void parse_len(struct parsed *p, const char *text, size_t len)
{
    memset(p, 0, sizeof(*p));
    memset(p->message, 'Z', sizeof(p->message));
    p->rc =
        control_parse(&p->m, (const uint8_t *)text, len, &p->code, p->message, sizeof(p->message));
    if (p->rc != 0) {
        assert_int_equal(p->rc, -1);
        assert_non_null(p->code);
        assert_non_null(memchr(p->message, '\0', sizeof(p->message)));
        assert_true(strlen(p->message) > 0);
        /* Nothing to free, and control_free is harmless. */
        assert_null(p->m.root);
        control_free(&p->m);
    }
}

static void parse(struct parsed *p, const char *text)
{
    parse_len(p, text, strlen(text));
}

static void expect_error(const char *text, const char *code)
{
    struct parsed p;
    parse(&p, text);
    if (p.rc != -1)
        fail_msg("'%s' parsed; want error %s", text, code);
    if (strcmp(p.code, code) != 0)
        fail_msg("'%s': code %s, want %s (%s)", text, p.code, code, p.message);
}

static void test_subscribe(void **state)
{
    struct parsed p;
    parse(&p, "{\"type\":\"subscribe\",\"topics\":[\"a\",\"b.c\",\"caf\\u00e9\"]}");
    assert_int_equal(p.rc, 0);
    assert_int_equal(p.m.type, CONTROL_SUBSCRIBE);
    assert_non_null(p.m.root);
    assert_int_equal(control_num_topics(&p.m), 3);
    size_t len = 99;
    const char *t = control_topic(&p.m, 0, &len);
    assert_non_null(t);
    assert_int_equal(len, 1);
    assert_string_equal(t, "a");
    t = control_topic(&p.m, 1, &len);
    assert_int_equal(len, 3);
    assert_memory_equal(t, "b.c", 3);
    t = control_topic(&p.m, 2, &len);
    assert_int_equal(len, 5); /* UTF-8 bytes of the unescaped text */
    assert_memory_equal(t, "caf\xc3\xa9", 5);
    assert_null(control_topic(&p.m, 3, &len)); /* past the end */
    control_free(&p.m);
    assert_null(p.m.root);
}

static void test_unsubscribe_and_order_of_keys(void **state)
{
    struct parsed p;
    parse(&p, " {\"topics\" : [ \"x\" ] , \"type\" : \"unsubscribe\" } \n");
    assert_int_equal(p.rc, 0);
    assert_int_equal(p.m.type, CONTROL_UNSUBSCRIBE);
    assert_int_equal(control_num_topics(&p.m), 1);
    size_t len;
    assert_string_equal(control_topic(&p.m, 0, &len), "x");
    control_free(&p.m);

    /* An empty topics array is a valid (empty) request. */
    parse(&p, "{\"type\":\"subscribe\",\"topics\":[]}");
    assert_int_equal(p.rc, 0);
    assert_int_equal(control_num_topics(&p.m), 0);
    control_free(&p.m);
}

static void test_ping(void **state)
{
    struct parsed p;
    parse(&p, "{\"type\":\"ping\"}");
    assert_int_equal(p.rc, 0);
    assert_int_equal(p.m.type, CONTROL_PING);
    assert_int_equal(control_num_topics(&p.m), 0);
    size_t len;
    assert_null(control_topic(&p.m, 0, &len));
    control_free(&p.m);

    /* Extra members are ignored, even a "topics" that is not an array. */
    parse(&p, "{\"type\":\"ping\",\"topics\":5,\"id\":1}");
    assert_int_equal(p.rc, 0);
    assert_int_equal(p.m.type, CONTROL_PING);
    control_free(&p.m);
}

static void test_refresh(void **state)
{
    struct parsed p;
    parse(&p, "{\"type\":\"refresh\",\"token\":\"a.b.c\"}");
    assert_int_equal(p.rc, 0);
    assert_int_equal(p.m.type, CONTROL_REFRESH);
    assert_int_equal(p.m.token_len, 5);
    assert_memory_equal(p.m.token, "a.b.c", 5);
    assert_int_equal(control_num_topics(&p.m), 0);
    control_free(&p.m);

    expect_error("{\"type\":\"refresh\"}", CONTROL_ERR_BAD_REQUEST);
    expect_error("{\"type\":\"refresh\",\"token\":5}", CONTROL_ERR_BAD_REQUEST);
    expect_error("{\"type\":\"refresh\",\"token\":null}", CONTROL_ERR_BAD_REQUEST);
    expect_error("{\"type\":\"refresh\",\"token\":[\"x\"]}", CONTROL_ERR_BAD_REQUEST);
}

static void test_bad_json(void **state)
{
    static const char *const bad[] = {
        "",
        " ",
        "{",
        "{\"type\":",
        "{\"type\":\"ping\"",
        "{\"type\":\"ping\",}",
        "{'type':'ping'}",
        "{type:\"ping\"}",
        "nul",
        "{\"type\":\"ping\"} x",
        "{\"type\":\"ping\"}{}",
        "{\"type\":\"pi\\ng\"}x",
        "{\"ty\\u0000pe\":\"ping\"}", /* a member name with a NUL: jansson keeps none */
        "{\"type\":\"subscribe\",\"topics\":[\"a\",]}",
        "{\"type\":\"ping\",\"type\":\"ping\"}",                     /* duplicate key */
        "{\"type\":\"subscribe\",\"topics\":[],\"topics\":[\"a\"]}", /* duplicate key */
        "\xef\xbb\xbf{\"type\":\"ping\"}",                           /* BOM */
        "{\"type\":\"\xff\"}",                                       /* invalid UTF-8 */
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        expect_error(bad[i], CONTROL_ERR_BAD_JSON);
}

static void test_embedded_nul_in_input(void **state)
{
    struct parsed p;
    static const char text[] = "{\"type\":\"ping\"}\0garbage";
    parse_len(&p, text, sizeof(text) - 1);
    assert_int_equal(p.rc, -1);
    assert_string_equal(p.code, CONTROL_ERR_BAD_JSON);
    /* Only the first |len| bytes count. */
    parse_len(&p, "{\"type\":\"ping\"}trailing", 15);
    assert_int_equal(p.rc, 0);
    control_free(&p.m);
}

/* "\u0000" is valid JSON: a string that decodes to a NUL byte is judged
 * like any other string, by its whole length (docs/protocol/websocket.md:
 * a type that is not one of the four is unknown_type; a topic with a
 * character outside the rules is bad_topic, decided by the caller from
 * control_topic's length). */
static void test_nul_in_strings(void **state)
{
    expect_error("{\"type\":\"subscribe\\u0000\",\"topics\":[\"a\"]}", CONTROL_ERR_UNKNOWN_TYPE);
    expect_error("{\"type\":\"ping\\u0000\"}", CONTROL_ERR_UNKNOWN_TYPE);
    expect_error("{\"type\":\"\\u0000ping\"}", CONTROL_ERR_UNKNOWN_TYPE);
    expect_error("{\"type\":\"\\u0000\"}", CONTROL_ERR_UNKNOWN_TYPE);

    struct parsed p;
    parse(&p, "{\"type\":\"subscribe\",\"topics\":[\"a\\u0000b\",\"\\u0000\",\"c\"]}");
    assert_int_equal(p.rc, 0);
    assert_int_equal(control_num_topics(&p.m), 3);
    size_t len = 0;
    const char *t = control_topic(&p.m, 0, &len);
    assert_int_equal(len, 3);
    assert_memory_equal(t, "a\0b", 3);
    t = control_topic(&p.m, 1, &len);
    assert_int_equal(len, 1);
    assert_int_equal(t[0], '\0');
    assert_string_equal(control_topic(&p.m, 2, &len), "c");
    control_free(&p.m);

    /* A token keeps its length, NUL and all (the JWT check refuses it). */
    parse(&p, "{\"type\":\"refresh\",\"token\":\"a.b\\u0000.c\"}");
    assert_int_equal(p.rc, 0);
    assert_int_equal(p.m.token_len, 6);
    assert_memory_equal(p.m.token, "a.b\0.c", 6);
    control_free(&p.m);

    /* In a member that is ignored, it is ignored. */
    parse(&p, "{\"type\":\"ping\",\"id\":\"\\u0000\"}");
    assert_int_equal(p.rc, 0);
    assert_int_equal(p.m.type, CONTROL_PING);
    control_free(&p.m);
}

static void test_not_an_object(void **state)
{
    static const char *const bad[] = {"[]", "[{\"type\":\"ping\"}]", "[1,2]"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        expect_error(bad[i], CONTROL_ERR_BAD_REQUEST);
}

/* A bare scalar is valid JSON (RFC 8259) that is not an object: the same
 * bad_request as an array, not bad_json ("invalid JSON"). */
static void test_scalar_is_bad_request(void **state)
{
    static const char *const bad[] = {"\"ping\"", "42", "null", "true", " 1.5 "};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        expect_error(bad[i], CONTROL_ERR_BAD_REQUEST);
}

static void test_type_missing_or_not_string(void **state)
{
    static const char *const bad[] = {
        "{}",
        "{\"topics\":[\"a\"]}",
        "{\"type\":1}",
        "{\"type\":null}",
        "{\"type\":true}",
        "{\"type\":[\"ping\"]}",
        "{\"type\":{\"name\":\"ping\"}}",
        "{\"Type\":\"ping\"}",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        expect_error(bad[i], CONTROL_ERR_BAD_REQUEST);
}

/* Issue 14: a missing "type" says so, a mistyped one says that. */
static void test_type_messages_name_the_problem(void **state)
{
    struct parsed p;
    parse(&p, "{\"topics\":[\"a\"]}");
    assert_string_equal(
        p.message, "missing \"type\": one of subscribe, unsubscribe, ping, refresh or history");
    parse(&p, "{\"type\":5}");
    assert_string_equal(
        p.message,
        "\"type\" must be a string: one of subscribe, unsubscribe, ping, refresh or history");
    parse(&p, "{\"type\":\"publish\"}");
    assert_string_equal(p.code, CONTROL_ERR_UNKNOWN_TYPE);
    assert_non_null(strstr(p.message, "unknown \"type\""));
    parse(&p, "{\"type\":\"subscribe\"}");
    assert_string_equal(p.message, "missing \"topics\": an array of strings");
}

/* The lambda-websocket-pubsub client's messages: one topic, no reply. */
static void test_action_aliases(void **state)
{
    static const struct {
        const char *text;
        enum control_type type;
    } ok[] = {
        {"{\"action\":\"SUBSCRIBE\",\"topicId\":\"chat:7\"}", CONTROL_SUBSCRIBE},
        {"{\"topicId\":\"chat:7\",\"action\":\"UNSUBSCRIBE\",\"extra\":1}", CONTROL_UNSUBSCRIBE},
    };
    for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
        struct parsed p;
        parse(&p, ok[i].text);
        assert_int_equal(p.rc, 0);
        assert_int_equal(p.m.type, ok[i].type);
        assert_false(p.m.acknowledge);
        assert_int_equal(control_num_topics(&p.m), 1);
        size_t len = 0;
        const char *topic = control_topic(&p.m, 0, &len);
        assert_int_equal(len, 6);
        assert_memory_equal(topic, "chat:7", 6);
        control_free(&p.m);
    }
    struct parsed p;
    parse(&p, "{\"type\":\"subscribe\",\"topics\":[\"a\"]}");
    assert_true(p.m.acknowledge);
    control_free(&p.m);
    /* "type" wins over "action": the native message is judged as such. */
    expect_error("{\"type\":\"subscribe\",\"action\":\"SUBSCRIBE\",\"topicId\":\"a\"}",
                 CONTROL_ERR_BAD_REQUEST);
    expect_error("{\"action\":\"subscribe\",\"topicId\":\"a\"}", CONTROL_ERR_UNKNOWN_TYPE);
    expect_error("{\"action\":\"PUBLISH\",\"topicId\":\"a\"}", CONTROL_ERR_UNKNOWN_TYPE);
    expect_error("{\"action\":1,\"topicId\":\"a\"}", CONTROL_ERR_BAD_REQUEST);
    expect_error("{\"action\":\"SUBSCRIBE\"}", CONTROL_ERR_BAD_REQUEST);
    expect_error("{\"action\":\"SUBSCRIBE\",\"topicId\":[\"a\"]}", CONTROL_ERR_BAD_REQUEST);
    expect_error("{\"action\":null}", CONTROL_ERR_BAD_REQUEST);
    parse(&p, "{\"action\":\"SUBSCRIBE\"}");
    assert_string_equal(p.message, "missing \"topicId\"");
}

static void test_unknown_type(void **state)
{
    static const char *const bad[] = {
        "{\"type\":\"\"}",
        "{\"type\":\"PING\"}",
        "{\"type\":\"ping \"}",
        "{\"type\":\"pong\"}",
        "{\"type\":\"subscribe2\"}",
        "{\"type\":\"subscrib\"}",
        "{\"type\":\"publish\",\"topics\":[\"a\"]}",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        expect_error(bad[i], CONTROL_ERR_UNKNOWN_TYPE);
}

static void test_topics_missing_or_not_array(void **state)
{
    static const char *const bad[] = {
        "{\"type\":\"subscribe\"}",
        "{\"type\":\"unsubscribe\"}",
        "{\"type\":\"subscribe\",\"topics\":\"a\"}",
        "{\"type\":\"subscribe\",\"topics\":null}",
        "{\"type\":\"subscribe\",\"topics\":{\"0\":\"a\"}}",
        "{\"type\":\"unsubscribe\",\"topics\":1}",
        "{\"type\":\"subscribe\",\"Topics\":[\"a\"]}",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        expect_error(bad[i], CONTROL_ERR_BAD_REQUEST);
}

static void test_topic_not_string(void **state)
{
    struct parsed p;
    parse(&p, "{\"type\":\"subscribe\",\"topics\":[\"a\",1,null,{},[\"b\"],true,2.5,\"c\",\"\"]}");
    assert_int_equal(p.rc, 0);
    assert_int_equal(control_num_topics(&p.m), 9);
    size_t len = 0;
    assert_string_equal(control_topic(&p.m, 0, &len), "a");
    for (size_t i = 1; i <= 6; i++) {
        len = 12345;
        assert_null(control_topic(&p.m, i, &len));
    }
    assert_string_equal(control_topic(&p.m, 7, &len), "c");
    assert_int_equal(len, 1);
    const char *empty = control_topic(&p.m, 8, &len);
    assert_non_null(empty);
    assert_int_equal(len, 0);
    assert_null(control_topic(&p.m, 9, &len));
    assert_null(control_topic(&p.m, (size_t)-1, &len));
    control_free(&p.m);
}

/* The explanation is cut to the caller's buffer, always NUL-terminated. */
static void test_small_message_buffer(void **state)
{
    struct control_msg m;
    const char *code = NULL;
    char msg[8];
    memset(msg, 'Z', sizeof(msg));
    assert_int_equal(control_parse(&m, (const uint8_t *)"[", 1, &code, msg, 6), -1);
    assert_string_equal(code, CONTROL_ERR_BAD_JSON);
    assert_true(strlen(msg) <= 5);
    assert_int_equal(msg[6], 'Z'); /* not written past the given size */
    memset(msg, 'Z', sizeof(msg));
    assert_int_equal(control_parse(&m, (const uint8_t *)"[]", 2, &code, msg, 1), -1);
    assert_string_equal(code, CONTROL_ERR_BAD_REQUEST);
    assert_string_equal(msg, "");
    assert_int_equal(msg[1], 'Z');
}

/* Deeply nested input is refused, not a stack overflow. */
static void test_deep_nesting(void **state)
{
    size_t depth = 100000;
    char *text = malloc(2 * depth + 1);
    assert_non_null(text);
    memset(text, '[', depth);
    memset(text + depth, ']', depth);
    text[2 * depth] = '\0';
    struct parsed p;
    parse(&p, text);
    assert_int_equal(p.rc, -1);
    free(text);
}

/* ---- Replies ---- */

static void expect_text(char *text, size_t len, const char *want)
{
    assert_non_null(text);
    assert_int_equal(len, strlen(text));
    if (strcmp(text, want) != 0)
        fail_msg("reply\n got  %s\n want %s", text, want);
    free(text);
}

static void test_reply_topics(void **state)
{
    const char *topics[] = {"a", "b.c", "caf\xc3\xa9", "xyz"};
    size_t lens[] = {1, 3, 5, 2}; /* the last one cut to "xy" */
    size_t len = 0;
    char *text = control_reply_topics("subscribed", topics, lens, 4, &len);
    expect_text(text, len,
                "{\"type\":\"subscribed\",\"topics\":[\"a\",\"b.c\",\"caf\xc3\xa9\",\"xy\"]}");
    text = control_reply_topics("unsubscribed", topics, lens, 1, &len);
    expect_text(text, len, "{\"type\":\"unsubscribed\",\"topics\":[\"a\"]}");
    text = control_reply_topics("subscribed", NULL, NULL, 0, &len);
    expect_text(text, len, "{\"type\":\"subscribed\",\"topics\":[]}");
    /* Characters JSON must escape. */
    const char *odd[] = {"q\"b\\s/\n\x01"};
    size_t odd_len[] = {strlen(odd[0])};
    text = control_reply_topics("subscribed", odd, odd_len, 1, &len);
    expect_text(text, len, "{\"type\":\"subscribed\",\"topics\":[\"q\\\"b\\\\s/\\n\\u0001\"]}");
}

static void test_reply_refreshed(void **state)
{
    size_t len = 0;
    char *text = control_reply_refreshed(1768905000, NULL, NULL, 0, &len);
    expect_text(text, len, "{\"type\":\"refreshed\",\"exp\":1768905000,\"removed\":[]}");
    const char *removed[] = {"customer_id:7:>", "a.*"};
    size_t lens[] = {15, 3};
    text = control_reply_refreshed(0, removed, lens, 2, &len);
    expect_text(text, len,
                "{\"type\":\"refreshed\",\"exp\":null,\"removed\":[\"customer_id:7:>\",\"a.*\"]}");
}

static void test_reply_pong(void **state)
{
    size_t len = 0;
    char *text = control_reply_pong(&len);
    expect_text(text, len, "{\"type\":\"pong\"}");
}

static void test_reply_error(void **state)
{
    size_t len = 0;
    char *text = control_reply_error(CONTROL_ERR_BAD_JSON, NULL, 0, "invalid JSON", &len);
    expect_text(text, len,
                "{\"type\":\"error\",\"code\":\"bad_json\",\"message\":\"invalid JSON\"}");

    text = control_reply_error(CONTROL_ERR_BAD_TOPIC, "a b", 3, "topic has a bad char", &len);
    expect_text(text, len,
                "{\"type\":\"error\",\"code\":\"bad_topic\",\"topic\":\"a b\","
                "\"message\":\"topic has a bad char\"}");

    /* |topic_len| bounds the topic. */
    text = control_reply_error(CONTROL_ERR_TOO_MANY_TOPICS, "abcdef", 3, "m", &len);
    expect_text(text, len,
                "{\"type\":\"error\",\"code\":\"too_many_topics\",\"topic\":\"abc\",\"message\":"
                "\"m\"}");

    /* An empty topic is still a topic. */
    text = control_reply_error(CONTROL_ERR_BAD_TOPIC, "", 0, "topic is empty", &len);
    expect_text(text, len,
                "{\"type\":\"error\",\"code\":\"bad_topic\",\"topic\":\"\",\"message\":"
                "\"topic is empty\"}");

    /* Escaping in topic and message. */
    text = control_reply_error(CONTROL_ERR_BAD_TOPIC, "a\"b", 3, "say \"no\"\n", &len);
    expect_text(text, len,
                "{\"type\":\"error\",\"code\":\"bad_topic\",\"topic\":\"a\\\"b\",\"message\":"
                "\"say \\\"no\\\"\\n\"}");

    /* Invalid UTF-8 in the topic is replaced (U+FFFD). */
    text = control_reply_error(CONTROL_ERR_BAD_TOPIC, "\xff", 1, "bad", &len);
    expect_text(text, len,
                "{\"type\":\"error\",\"code\":\"bad_topic\",\"topic\":\"\xef\xbf\xbd\",\"message\":"
                "\"bad\"}");
    /* ...and the reply stays valid JSON with every member present. */
    text = control_reply_error(CONTROL_ERR_BAD_TOPIC, "ok\xc3(x", 5, "bad", &len);
    assert_non_null(text);
    json_error_t err;
    json_t *root = json_loadb(text, len, 0, &err);
    assert_non_null(root);
    assert_string_equal(json_string_value(json_object_get(root, "type")), "error");
    assert_string_equal(json_string_value(json_object_get(root, "code")), "bad_topic");
    assert_non_null(strstr(json_string_value(json_object_get(root, "topic")), "\xef\xbf\xbd"));
    assert_string_equal(json_string_value(json_object_get(root, "message")), "bad");
    json_decref(root);
    free(text);

    /* A NUL inside the topic is escaped, not a terminator. */
    text = control_reply_error(CONTROL_ERR_BAD_TOPIC, "a\0b", 3, "nul", &len);
    expect_text(text, len,
                "{\"type\":\"error\",\"code\":\"bad_topic\",\"topic\":\"a\\u0000b\",\"message\":"
                "\"nul\"}");
}

/* What control_parse explains can always be sent back in an error reply:
 * the reply carries the message (it must be valid UTF-8 even when the
 * input was not, or was cut in the middle of a character). */
static void test_parse_error_message_fits_reply(void **state)
{
    static const char *const inputs[] = {
        "{\"type\":\"\xff\"}",
        "\xc3",
        "\xe2\x82",
        "{\"type\":\xc3\xa9\xc3\xa9}",
        "{\"type\":\"ping\"} \xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9",
        "\xe2\x82\xac\xe2\x82\xac\xe2\x82\xac\xe2\x82\xac\xe2\x82\xac\xe2\x82\xac\xe2\x82\xac",
        "{\"t\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9",
        "[\"\\ud800\"]",
        "{\"type\":\"subscribe\",\"topics\":[\"\xf0\x9f\x98\x80\xf0\x9f\x98\x80\xf0\x9f\x98",
    };
    for (size_t i = 0; i < sizeof(inputs) / sizeof(inputs[0]); i++) {
        struct parsed p;
        parse(&p, inputs[i]);
        assert_int_equal(p.rc, -1);
        size_t len = 0;
        char *text = control_reply_error(p.code, NULL, 0, p.message, &len);
        assert_non_null(text);
        json_error_t err;
        json_t *root = json_loadb(text, len, 0, &err);
        assert_non_null(root);
        const char *m = json_string_value(json_object_get(root, "message"));
        if (!m)
            fail_msg("input %zu: error reply lost its message: %s (message was '%s')", i, text,
                     p.message);
        json_decref(root);
        free(text);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_subscribe),
        cmocka_unit_test(test_unsubscribe_and_order_of_keys),
        cmocka_unit_test(test_ping),
        cmocka_unit_test(test_refresh),
        cmocka_unit_test(test_bad_json),
        cmocka_unit_test(test_embedded_nul_in_input),
        cmocka_unit_test(test_nul_in_strings),
        cmocka_unit_test(test_not_an_object),
        cmocka_unit_test(test_scalar_is_bad_request),
        cmocka_unit_test(test_type_missing_or_not_string),
        cmocka_unit_test(test_type_messages_name_the_problem),
        cmocka_unit_test(test_action_aliases),
        cmocka_unit_test(test_unknown_type),
        cmocka_unit_test(test_topics_missing_or_not_array),
        cmocka_unit_test(test_topic_not_string),
        cmocka_unit_test(test_small_message_buffer),
        cmocka_unit_test(test_deep_nesting),
        cmocka_unit_test(test_reply_topics),
        cmocka_unit_test(test_reply_refreshed),
        cmocka_unit_test(test_reply_pong),
        cmocka_unit_test(test_reply_error),
        cmocka_unit_test(test_parse_error_message_fits_reply),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
