/* control.c: native protocol control messages (see control.h). */
#include "proto/control.h"

#include <stdio.h>
#include <string.h>

#include "proto/position.h"
#include "util/utf8.h"

static int fail(const char **out_code, const char *code, char *message, size_t message_len,
                const char *text)
{
    *out_code = code;
    snprintf(message, message_len, "%s", text);
    return -1;
}

#define TYPE_NAMES "subscribe, unsubscribe, ping, refresh or history"

/* string_is compares a whole decoded JSON string with |name|. */
static bool string_is(const json_t *s, const char *name)
{
    size_t len = json_string_length(s);
    return len == strlen(name) && memcmp(json_string_value(s), name, len) == 0;
}

/* parse_alias reads {"action":"SUBSCRIBE"|"UNSUBSCRIBE","topicId":"…"}
 * (the lambda-websocket-pubsub client) as a subscribe or unsubscribe of
 * that one topic, without a reply. */
static int parse_alias(struct control_msg *out, json_t *root, const char **out_code, char *message,
                       size_t message_len)
{
    const json_t *action = json_object_get(root, "action");
    if (!json_is_string(action))
        return fail(out_code, CONTROL_ERR_BAD_REQUEST, message, message_len,
                    "\"action\" must be a string: SUBSCRIBE or UNSUBSCRIBE");
    if (string_is(action, "SUBSCRIBE"))
        out->type = CONTROL_SUBSCRIBE;
    else if (string_is(action, "UNSUBSCRIBE"))
        out->type = CONTROL_UNSUBSCRIBE;
    else
        return fail(out_code, CONTROL_ERR_UNKNOWN_TYPE, message, message_len,
                    "unknown \"action\": it must be SUBSCRIBE or UNSUBSCRIBE");
    json_t *topic = json_object_get(root, "topicId");
    if (!json_is_string(topic))
        return fail(out_code, CONTROL_ERR_BAD_REQUEST, message, message_len,
                    topic ? "\"topicId\" must be a string" : "missing \"topicId\"");
    out->alias_topics = json_array();
    if (!out->alias_topics || json_array_append(out->alias_topics, topic) != 0) {
        json_decref(out->alias_topics);
        out->alias_topics = NULL;
        return fail(out_code, CONTROL_ERR_INTERNAL, message, message_len, "out of memory");
    }
    out->topics = out->alias_topics;
    return 0;
}

/* parse_type compares the whole decoded string: "ping\u0000" (length 5)
 * is not "ping". */
static int parse_type(const json_t *type, enum control_type *out)
{
    static const struct {
        const char *name;
        enum control_type type;
    } types[] = {
        {"subscribe", CONTROL_SUBSCRIBE}, {"unsubscribe", CONTROL_UNSUBSCRIBE},
        {"ping", CONTROL_PING},           {"refresh", CONTROL_REFRESH},
        {"history", CONTROL_HISTORY},
    };
    for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
        if (string_is(type, types[i].name)) {
            *out = types[i].type;
            return 0;
        }
    }
    return -1;
}

/* uint_of reads a JSON integer >= 0. */
static int uint_of(const json_t *v, uint64_t *out)
{
    if (!json_is_integer(v) || json_integer_value(v) < 0)
        return -1;
    *out = (uint64_t)json_integer_value(v);
    return 0;
}

/* parse_history reads {"type":"history","topic":"a","since":N,"limit":N}
 * (since and limit optional: 0 and the server's most). */
static int parse_history(struct control_msg *out, json_t *root, const char **out_code,
                         char *message, size_t message_len)
{
    json_t *topic = json_object_get(root, "topic");
    if (!json_is_string(topic))
        return fail(out_code, CONTROL_ERR_BAD_REQUEST, message, message_len,
                    "\"topic\" must be a string");
    out->topic = json_string_value(topic);
    out->topic_len = json_string_length(topic);
    json_t *since = json_object_get(root, "since");
    json_t *limit = json_object_get(root, "limit");
    if ((since && uint_of(since, &out->history_since) != 0) ||
        (limit && uint_of(limit, &out->limit) != 0))
        return fail(out_code, CONTROL_ERR_BAD_REQUEST, message, message_len,
                    "\"since\" and \"limit\" must be integers >= 0");
    return 0;
}

/* parse_topics reads the topics array of a subscribe or unsubscribe, and a
 * subscribe's "since" object. */
static int parse_topics(struct control_msg *out, json_t *root, const char **out_code, char *message,
                        size_t message_len)
{
    json_t *topics = json_object_get(root, "topics");
    if (!json_is_array(topics))
        return fail(out_code, CONTROL_ERR_BAD_REQUEST, message, message_len,
                    topics ? "\"topics\" must be an array of strings"
                           : "missing \"topics\": an array of strings");
    out->topics = topics;
    json_t *since = json_object_get(root, "since");
    if (out->type == CONTROL_SUBSCRIBE && since) {
        if (!json_is_object(since))
            return fail(out_code, CONTROL_ERR_BAD_REQUEST, message, message_len,
                        "\"since\" must be an object of positions by topic");
        out->since = since;
    }
    return 0;
}

int control_since(const struct control_msg *m, const char *topic, size_t topic_len,
                  uint64_t *out_epoch, uint64_t *out_seq)
{
    if (!m->since)
        return 0;
    /* jansson keys are NUL-terminated: a topic holding a NUL is never a key
     * (such topics are refused anyway). */
    if (memchr(topic, '\0', topic_len))
        return 0;
    char key[1024];
    if (topic_len >= sizeof(key))
        return -1;
    memcpy(key, topic, topic_len);
    key[topic_len] = '\0';
    const json_t *p = json_object_get(m->since, key);
    if (!p)
        return 0;
    const json_t *epoch = json_object_get(p, "epoch");
    if (!json_is_object(p) || !json_is_string(epoch) ||
        position_parse_epoch(json_string_value(epoch), json_string_length(epoch), out_epoch) != 0 ||
        uint_of(json_object_get(p, "seq"), out_seq) != 0)
        return -1;
    return 1;
}

int control_parse(struct control_msg *out, const uint8_t *data, size_t len, const char **out_code,
                  char *message, size_t message_len)
{
    memset(out, 0, sizeof(*out));
    json_error_t err;
    /* JSON_ALLOW_NUL: "\u0000" is valid JSON. A string holding it is judged
     * like any other (a topic is bad_topic, a type unknown_type), always by
     * its length; only a member name holding it is refused here, as jansson
     * keeps no such names. */
    json_t *root = json_loadb((const char *)data, len,
                              JSON_REJECT_DUPLICATES | JSON_DECODE_ANY | JSON_ALLOW_NUL, &err);
    if (!root) {
        *out_code = CONTROL_ERR_BAD_JSON;
        snprintf(message, message_len, "invalid JSON at position %d: %s", err.position, err.text);
        return -1;
    }
    if (!json_is_object(root)) {
        json_decref(root);
        return fail(out_code, CONTROL_ERR_BAD_REQUEST, message, message_len,
                    "a control message is a JSON object");
    }
    const json_t *type = json_object_get(root, "type");
    if (!type && json_object_get(root, "action")) {
        if (parse_alias(out, root, out_code, message, message_len) != 0) {
            json_decref(root);
            return -1;
        }
        out->root = root;
        return 0;
    }
    if (!type) {
        json_decref(root);
        return fail(out_code, CONTROL_ERR_BAD_REQUEST, message, message_len,
                    "missing \"type\": one of " TYPE_NAMES);
    }
    if (!json_is_string(type)) {
        json_decref(root);
        return fail(out_code, CONTROL_ERR_BAD_REQUEST, message, message_len,
                    "\"type\" must be a string: one of " TYPE_NAMES);
    }
    if (parse_type(type, &out->type) != 0) {
        json_decref(root);
        return fail(out_code, CONTROL_ERR_UNKNOWN_TYPE, message, message_len,
                    "unknown \"type\": it must be one of " TYPE_NAMES);
    }
    out->acknowledge = true;
    if (out->type == CONTROL_REFRESH) {
        json_t *token = json_object_get(root, "token");
        if (!json_is_string(token)) {
            json_decref(root);
            return fail(out_code, CONTROL_ERR_BAD_REQUEST, message, message_len,
                        "\"token\" must be a string");
        }
        out->token = json_string_value(token);
        out->token_len = json_string_length(token);
    } else if (out->type == CONTROL_HISTORY) {
        if (parse_history(out, root, out_code, message, message_len) != 0) {
            json_decref(root);
            return -1;
        }
    } else if (out->type != CONTROL_PING) {
        if (parse_topics(out, root, out_code, message, message_len) != 0) {
            json_decref(root);
            return -1;
        }
    }
    out->root = root;
    return 0;
}

void control_free(struct control_msg *m)
{
    json_decref(m->alias_topics);
    json_decref(m->root);
    memset(m, 0, sizeof(*m));
}

size_t control_num_topics(const struct control_msg *m)
{
    return m->topics ? json_array_size(m->topics) : 0;
}

const char *control_topic(const struct control_msg *m, size_t i, size_t *out_len)
{
    json_t *t = json_array_get(m->topics, i);
    if (!json_is_string(t))
        return NULL;
    *out_len = json_string_length(t);
    return json_string_value(t);
}

static char *dump(json_t *obj, size_t *out_len)
{
    if (!obj)
        return NULL;
    char *text = json_dumps(obj, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(obj);
    if (text)
        *out_len = strlen(text);
    return text;
}

char *control_reply_topics(const char *type, const char *const *topics, const size_t *lens,
                           size_t n, size_t *out_len)
{
    json_t *array = json_array();
    for (size_t i = 0; array && i < n; i++)
        json_array_append_new(array, json_stringn(topics[i], lens[i]));
    return dump(json_pack("{s:s, s:o}", "type", type, "topics", array), out_len);
}

char *control_reply_subscribed(const char *const *topics, const size_t *lens, size_t n,
                               const struct control_position *positions, size_t num_positions,
                               size_t *out_len)
{
    json_t *array = json_array();
    for (size_t i = 0; array && i < n; i++)
        json_array_append_new(array, json_stringn(topics[i], lens[i]));
    json_t *reply = json_pack("{s:s, s:o}", "type", "subscribed", "topics", array);
    if (!reply || num_positions == 0)
        return dump(reply, out_len);
    json_t *by_topic = json_object();
    for (size_t i = 0; by_topic && i < num_positions; i++) {
        const struct control_position *p = &positions[i];
        char epoch[POSITION_EPOCH_LEN + 1];
        position_format_epoch(epoch, p->epoch);
        json_object_setn_new(by_topic, p->topic, p->topic_len,
                             json_pack("{s:s, s:I}", "epoch", epoch, "seq", (json_int_t)p->seq));
    }
    json_object_set_new(reply, "positions", by_topic);
    return dump(reply, out_len);
}

char *control_reply_gap(const char *topic, size_t topic_len, const char *reason, uint64_t epoch,
                        uint64_t first_seq, size_t *out_len)
{
    char epoch_text[POSITION_EPOCH_LEN + 1];
    position_format_epoch(epoch_text, epoch);
    return dump(json_pack("{s:s, s:s%, s:s, s:s, s:I}", "type", "gap", "topic", topic, topic_len,
                          "reason", reason, "epoch", epoch_text, "first_seq",
                          (json_int_t)first_seq),
                out_len);
}

char *control_reply_refreshed(int64_t exp, const char *const *removed, const size_t *lens, size_t n,
                              size_t *out_len)
{
    json_t *array = json_array();
    for (size_t i = 0; array && i < n; i++)
        json_array_append_new(array, json_stringn(removed[i], lens[i]));
    json_t *expiry = exp ? json_integer(exp) : json_null();
    return dump(json_pack("{s:s, s:o, s:o}", "type", "refreshed", "exp", expiry, "removed", array),
                out_len);
}

char *control_reply_pong(size_t *out_len)
{
    return dump(json_pack("{s:s}", "type", "pong"), out_len);
}

char *control_reply_error(const char *code, const char *topic, size_t topic_len,
                          const char *message, size_t *out_len)
{
    json_t *obj = json_pack("{s:s, s:s}", "type", "error", "code", code);
    if (obj && topic) {
        json_t *t = utf8_valid((const uint8_t *)topic, topic_len) ? json_stringn(topic, topic_len)
                                                                  : json_string("\xEF\xBF\xBD");
        json_object_set_new(obj, "topic", t);
    }
    if (obj)
        json_object_set_new(obj, "message", json_string(message));
    return dump(obj, out_len);
}
