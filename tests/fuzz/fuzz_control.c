/* fuzz_control.c: libFuzzer target for the native protocol's control
 * messages (src/proto/control.h).
 *
 * Input: the text of one WebSocket message, as a client would send it.
 * Whatever it is, control_parse either succeeds or returns a known error
 * code with a NUL-terminated explanation; every reply the server would
 * build from the result (subscribed/unsubscribed lists, per-topic errors,
 * pong, the parse error itself) must be valid JSON carrying what was put
 * in. Everything is freed: a leak is a finding. */
#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "proto/control.h"
#include "util/utf8.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond))                                                                               \
            abort();                                                                               \
    } while (0)

static bool known_code(const char *code)
{
    static const char *const codes[] = {
        CONTROL_ERR_BAD_JSON,  CONTROL_ERR_BAD_REQUEST,     CONTROL_ERR_UNKNOWN_TYPE,
        CONTROL_ERR_BAD_TOPIC, CONTROL_ERR_TOO_MANY_TOPICS, CONTROL_ERR_INTERNAL,
    };
    for (size_t i = 0; i < sizeof(codes) / sizeof(codes[0]); i++)
        if (code && strcmp(code, codes[i]) == 0)
            return true;
    return false;
}

/* load_reply parses a reply text and checks its "type". */
static json_t *load_reply(const char *text, size_t len, const char *type)
{
    CHECK(text != NULL);
    CHECK(strlen(text) == len);
    json_error_t err;
    json_t *root = json_loadb(text, len, JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL, &err);
    CHECK(root != NULL);
    CHECK(json_is_object(root));
    const char *t = json_string_value(json_object_get(root, "type"));
    CHECK(t != NULL && strcmp(t, type) == 0);
    return root;
}

static void check_error_reply(const char *code, const char *topic, size_t topic_len,
                              const char *message)
{
    size_t len = 0;
    char *text = control_reply_error(code, topic, topic_len, message, &len);
    json_t *root = load_reply(text, len, "error");
    const char *c = json_string_value(json_object_get(root, "code"));
    CHECK(c != NULL && strcmp(c, code) == 0);
    json_t *t = json_object_get(root, "topic");
    if (topic) {
        CHECK(json_is_string(t));
        if (utf8_valid((const uint8_t *)topic, topic_len)) {
            CHECK(json_string_length(t) == topic_len);
            CHECK(memcmp(json_string_value(t), topic, topic_len) == 0);
        }
    } else {
        CHECK(t == NULL);
    }
    /* The explanation reaches the client whenever it is text. */
    json_t *m = json_object_get(root, "message");
    if (utf8_valid((const uint8_t *)message, strlen(message))) {
        CHECK(json_is_string(m));
        CHECK(strcmp(json_string_value(m), message) == 0);
    }
    json_decref(root);
    free(text);
}

static void check_topics_reply(const char *type, const char *const *topics, const size_t *lens,
                               size_t n)
{
    size_t len = 0;
    char *text = control_reply_topics(type, topics, lens, n, &len);
    json_t *root = load_reply(text, len, type);
    json_t *array = json_object_get(root, "topics");
    CHECK(json_is_array(array));
    CHECK(json_array_size(array) == n);
    for (size_t i = 0; i < n; i++) {
        json_t *t = json_array_get(array, i);
        CHECK(json_is_string(t));
        CHECK(json_string_length(t) == lens[i]);
        CHECK(memcmp(json_string_value(t), topics[i], lens[i]) == 0);
    }
    json_decref(root);
    free(text);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct control_msg m;
    const char *code = NULL;
    char message[200];
    memset(message, 0x55, sizeof(message));

    if (control_parse(&m, data, size, &code, message, sizeof(message)) != 0) {
        CHECK(known_code(code));
        CHECK(memchr(message, '\0', sizeof(message)) != NULL);
        CHECK(m.root == NULL && m.topics == NULL);
        check_error_reply(code, NULL, 0, message);
        control_free(&m); /* harmless after a failure */
        return 0;
    }

    CHECK(m.root != NULL);
    CHECK(m.type == CONTROL_SUBSCRIBE || m.type == CONTROL_UNSUBSCRIBE || m.type == CONTROL_PING);
    size_t n = control_num_topics(&m);
    if (m.type == CONTROL_PING) {
        size_t len = 0;
        char *text = control_reply_pong(&len);
        json_t *root = load_reply(text, len, "pong");
        CHECK(json_object_size(root) == 1);
        json_decref(root);
        free(text);
    } else {
        CHECK(json_is_array(m.topics));
    }

    const char **accepted = malloc((n ? n : 1) * sizeof(*accepted));
    size_t *lens = malloc((n ? n : 1) * sizeof(*lens));
    CHECK(accepted && lens);
    size_t num = 0;
    for (size_t i = 0; i < n; i++) {
        size_t len = 0;
        const char *topic = control_topic(&m, i, &len);
        if (!topic) {
            CHECK(!json_is_string(json_array_get(m.topics, i)));
            check_error_reply(CONTROL_ERR_BAD_TOPIC, NULL, 0, "topics must be strings");
            continue;
        }
        CHECK(topic[len] == '\0');
        CHECK(utf8_valid((const uint8_t *)topic, len)); /* jansson only keeps valid UTF-8 */
        check_error_reply(CONTROL_ERR_BAD_TOPIC, topic, len, "topic has an empty segment");
        accepted[num] = topic;
        lens[num++] = len;
    }
    size_t len = 0;
    CHECK(control_topic(&m, n, &len) == NULL);
    check_topics_reply(m.type == CONTROL_SUBSCRIBE ? "subscribed" : "unsubscribed", accepted, lens,
                       num);
    /* Invalid UTF-8 in a topic handed to the error builder is replaced. */
    if (size > 0)
        check_error_reply(CONTROL_ERR_BAD_TOPIC, (const char *)data, size, "raw input");
    free(accepted);
    free(lens);
    control_free(&m);
    CHECK(m.root == NULL);
    return 0;
}
