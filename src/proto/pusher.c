/* pusher.c: Pusher protocol 7 codecs (see pusher.h). */
#include "proto/pusher.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto/ws.h"
#include "util/jsonw.h"

#define LIT(s) s, sizeof(s) - 1

static bool channel_char(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '_' || c == '=' || c == '@' || c == ',' || c == '.' || c == ';';
}

bool pusher_channel_valid(const char *name, size_t len)
{
    if (len == 0 || len > PUSHER_MAX_CHANNEL)
        return false;
    for (size_t i = 0; i < len; i++)
        if (!channel_char((unsigned char)name[i]))
            return false;
    return true;
}

static bool starts(const char *s, size_t len, const char *prefix)
{
    size_t n = strlen(prefix);
    return len >= n && memcmp(s, prefix, n) == 0;
}

enum pusher_channel_kind pusher_channel_kind(const char *name, size_t len)
{
    if (starts(name, len, "private-encrypted-"))
        return PUSHER_PRIVATE_ENCRYPTED;
    if (starts(name, len, "private-"))
        return PUSHER_PRIVATE;
    if (starts(name, len, "presence-"))
        return PUSHER_PRESENCE;
    return PUSHER_PUBLIC;
}

/* The characters a channel has and a topic segment does not, and their
 * escapes (after '~', which channels never have). */
static const char *escape_of(char c)
{
    switch (c) {
    case '.':
        return "2E";
    case ',':
        return "2C";
    case ';':
        return "3B";
    default:
        return NULL;
    }
}

size_t pusher_topic_of(char *out, size_t cap, const char *app_id, size_t app_id_len,
                       const char *channel, size_t channel_len)
{
    size_t prefix = sizeof(PUSHER_TOPIC_PREFIX ":") - 1;
    size_t n = prefix + app_id_len + 1;
    if (n >= cap)
        return 0;
    memcpy(out, PUSHER_TOPIC_PREFIX ":", prefix);
    memcpy(out + prefix, app_id, app_id_len);
    out[n - 1] = ':';
    for (size_t i = 0; i < channel_len; i++) {
        const char *esc = escape_of(channel[i]);
        size_t need = esc ? 3 : 1;
        if (n + need >= cap)
            return 0;
        if (esc) {
            out[n] = '~';
            memcpy(out + n + 1, esc, 2);
        } else {
            out[n] = channel[i];
        }
        n += need;
    }
    out[n] = '\0';
    return n;
}

static char unescape(const char *two)
{
    static const char chars[] = ".,;";
    for (size_t i = 0; i < 3; i++)
        if (memcmp(escape_of(chars[i]), two, 2) == 0)
            return chars[i];
    return 0;
}

size_t pusher_channel_of(char *out, size_t cap, const char *topic, size_t topic_len,
                         const char **out_app, size_t *out_app_len)
{
    size_t prefix = sizeof(PUSHER_TOPIC_PREFIX ":") - 1;
    if (topic_len <= prefix || memcmp(topic, PUSHER_TOPIC_PREFIX ":", prefix) != 0)
        return 0;
    const char *app = topic + prefix;
    const char *colon = memchr(app, ':', topic_len - prefix);
    if (!colon || colon == app)
        return 0;
    const char *p = colon + 1;
    const char *end = topic + topic_len;
    size_t n = 0;
    while (p < end) {
        char c = *p++;
        if (c == '~') {
            if (end - p < 2 || !(c = unescape(p)))
                return 0;
            p += 2;
        }
        if (n + 1 >= cap)
            return 0;
        out[n++] = c;
    }
    if (!pusher_channel_valid(out, n))
        return 0;
    out[n] = '\0';
    *out_app = app;
    *out_app_len = (size_t)(colon - app);
    return n;
}

static int fail(char *message, size_t message_len, const char *text)
{
    snprintf(message, message_len, "%s", text);
    return -1;
}

/* member_string reads a string member of |obj| (NULL when absent or not a
 * string). */
static const char *member_string(const json_t *obj, const char *name, size_t *out_len)
{
    const json_t *v = json_object_get(obj, name);
    if (!json_is_string(v))
        return NULL;
    *out_len = json_string_length(v);
    return json_string_value(v);
}

static bool event_is(const struct pusher_msg *m, const char *name)
{
    return m->event_len == strlen(name) && memcmp(m->event, name, m->event_len) == 0;
}

static enum pusher_msg_type type_of(const struct pusher_msg *m)
{
    if (event_is(m, "pusher:ping"))
        return PUSHER_MSG_PING;
    if (event_is(m, "pusher:pong"))
        return PUSHER_MSG_PONG;
    if (event_is(m, "pusher:subscribe"))
        return PUSHER_MSG_SUBSCRIBE;
    if (event_is(m, "pusher:unsubscribe"))
        return PUSHER_MSG_UNSUBSCRIBE;
    if (starts(m->event, m->event_len, "client-"))
        return PUSHER_MSG_CLIENT_EVENT;
    return PUSHER_MSG_OTHER;
}

int pusher_parse(struct pusher_msg *out, const uint8_t *data, size_t len, char *message,
                 size_t message_len)
{
    memset(out, 0, sizeof(*out));
    json_error_t jerr;
    out->root = json_loadb((const char *)data, len, JSON_REJECT_DUPLICATES, &jerr);
    if (!out->root)
        return fail(message, message_len, "the message is not JSON");
    if (!json_is_object(out->root)) {
        pusher_free(out);
        return fail(message, message_len, "the message must be a JSON object");
    }
    out->event = member_string(out->root, "event", &out->event_len);
    if (!out->event) {
        pusher_free(out);
        return fail(message, message_len, "\"event\" must be a string");
    }
    out->type = type_of(out);
    if (out->type == PUSHER_MSG_CLIENT_EVENT) {
        out->channel = member_string(out->root, "channel", &out->channel_len);
        return 0;
    }
    if (out->type != PUSHER_MSG_SUBSCRIBE && out->type != PUSHER_MSG_UNSUBSCRIBE)
        return 0;
    const json_t *d = json_object_get(out->root, "data");
    if (!json_is_object(d)) {
        pusher_free(out);
        return fail(message, message_len, "\"data\" must be an object");
    }
    out->channel = member_string(d, "channel", &out->channel_len);
    out->auth = member_string(d, "auth", &out->auth_len);
    out->channel_data = member_string(d, "channel_data", &out->channel_data_len);
    if (!out->channel) {
        pusher_free(out);
        return fail(message, message_len, "\"data.channel\" must be a string");
    }
    return 0;
}

void pusher_free(struct pusher_msg *m)
{
    json_decref(m->root);
    m->root = NULL;
}

void pusher_socket_id(char out[PUSHER_MAX_SOCKET_ID], uint32_t a, uint32_t b)
{
    snprintf(out, PUSHER_MAX_SOCKET_ID, "%u.%u", a, b);
}

/* read_u32 reads decimal digits from |*p| up to |end| (at least one). */
static bool read_u32(const char **p, const char *end, uint32_t *out)
{
    uint64_t v = 0;
    const char *start = *p;
    while (*p < end && **p >= '0' && **p <= '9' && *p - start < 10)
        v = v * 10 + (uint64_t)(*(*p)++ - '0');
    *out = (uint32_t)v;
    return *p > start && v <= UINT32_MAX;
}

bool pusher_socket_id_parse(const char *s, size_t len, uint64_t *out_key)
{
    const char *p = s, *end = s + len;
    uint32_t a = 0, b = 0;
    if (!read_u32(&p, end, &a) || p == end || *p++ != '.' || !read_u32(&p, end, &b) || p != end)
        return false;
    *out_key = pusher_socket_key(a, b);
    return true;
}

/* dump writes |v| compactly and takes it over. */
static char *dump(json_t *v, size_t *out_len)
{
    char *text = v ? json_dumps(v, JSON_COMPACT) : NULL;
    json_decref(v);
    if (text)
        *out_len = strlen(text);
    return text;
}

/* message builds {"event":…,["channel":…,]"data":<data>}, taking |data| over. */
static char *message(const char *event, const char *channel, size_t channel_len, json_t *data,
                     size_t *out_len)
{
    json_t *root = json_object();
    if (!root || !data) {
        json_decref(root);
        json_decref(data);
        return NULL;
    }
    json_object_set_new(root, "event", json_string(event));
    if (channel)
        json_object_set_new(root, "channel", json_stringn(channel, channel_len));
    json_object_set_new(root, "data", data);
    return dump(root, out_len);
}

char *pusher_connection_established(const char *socket_id, unsigned activity_timeout_s,
                                    size_t *out_len)
{
    char inner[128];
    snprintf(inner, sizeof(inner), "{\"socket_id\":\"%s\",\"activity_timeout\":%u}", socket_id,
             activity_timeout_s);
    return message("pusher:connection_established", NULL, 0, json_string(inner), out_len);
}

char *pusher_pong(size_t *out_len)
{
    return message("pusher:pong", NULL, 0, json_string("{}"), out_len);
}

char *pusher_error(int code, const char *text, size_t *out_len)
{
    return message("pusher:error", NULL, 0, json_pack("{s:i,s:s}", "code", code, "message", text),
                   out_len);
}

char *pusher_subscription_succeeded(const char *channel, size_t channel_len, size_t *out_len)
{
    return message("pusher_internal:subscription_succeeded", channel, channel_len,
                   json_string("{}"), out_len);
}

char *pusher_subscription_error(const char *channel, size_t channel_len, const char *type,
                                const char *error, int status, size_t *out_len)
{
    return message("pusher:subscription_error", channel, channel_len,
                   json_pack("{s:s,s:s,s:i}", "type", type, "error", error, "status", status),
                   out_len);
}

/* The event JSON: {"event":"<event>","channel":"<channel>","data":<string>}.
 * Event names and channels carry no characters that need escaping. */
static size_t event_json_len(size_t event_len, size_t channel_len, const uint8_t *data,
                             size_t data_len)
{
    size_t data_part =
        data_len > 0 && data[0] == '"' ? data_len : 2 + json_escaped_len(data, data_len);
    return sizeof("{\"event\":\"\",\"channel\":\"\",\"data\":}") - 1 + event_len + channel_len +
           data_part;
}

size_t pusher_event_frame_len(size_t event_len, size_t channel_len, const uint8_t *data,
                              size_t data_len)
{
    size_t json_len = event_json_len(event_len, channel_len, data, data_len);
    return ws_header_len(json_len) + json_len;
}

static uint8_t *put(uint8_t *out, const void *s, size_t len)
{
    memcpy(out, s, len);
    return out + len;
}

void pusher_put_event_frame(uint8_t *out, const char *event, size_t event_len, const char *channel,
                            size_t channel_len, const uint8_t *data, size_t data_len)
{
    size_t json_len = event_json_len(event_len, channel_len, data, data_len);
    uint8_t header[WS_MAX_HEADER];
    size_t header_len = ws_build_header(header, WS_OP_TEXT, true, json_len);
    out = put(out, header, header_len);
    out = put(out, LIT("{\"event\":\""));
    out = put(out, event, event_len);
    out = put(out, LIT("\",\"channel\":\""));
    out = put(out, channel, channel_len);
    out = put(out, LIT("\",\"data\":"));
    if (data_len > 0 && data[0] == '"') {
        out = put(out, data, data_len);
    } else {
        *out++ = '"';
        out = json_escape(out, data, data_len);
        *out++ = '"';
    }
    *out = '}';
}
