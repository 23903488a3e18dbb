/* payload.c: bench payloads and the cheap event reader (see payload.h). */
#include "payload.h"

#include <string.h>

/* put_u64 writes |v| in decimal at |out| and returns the digits written. */
static size_t put_u64(uint8_t *out, uint64_t v)
{
    uint8_t tmp[20];
    size_t n = 0;

    do {
        tmp[n++] = (uint8_t)('0' + v % 10);
        v /= 10;
    } while (v != 0);
    for (size_t i = 0; i < n; i++)
        out[i] = tmp[n - 1 - i];
    return n;
}

static size_t put_str(uint8_t *out, const char *s)
{
    size_t n = strlen(s);

    memcpy(out, s, n);
    return n;
}

void payload_format(uint8_t *out, size_t size, uint64_t n, uint64_t seq, uint64_t t_ns)
{
    size_t pos = 0;

    pos += put_str(out + pos, "{\"n\":");
    pos += put_u64(out + pos, n);
    if (seq != 0) {
        pos += put_str(out + pos, ",\"s\":");
        pos += put_u64(out + pos, seq);
    }
    pos += put_str(out + pos, ",\"t\":");
    pos += put_u64(out + pos, t_ns);
    pos += put_str(out + pos, ",\"p\":\"");
    /* size >= PAYLOAD_MIN_SIZE leaves room for the closing "} */
    memset(out + pos, 'x', size - pos - 2);
    out[size - 2] = '"';
    out[size - 1] = '}';
}

/* find returns the position just after |key| in [p, end), or NULL. */
static const uint8_t *find(const uint8_t *p, const uint8_t *end, const char *key, size_t key_len)
{
    if (p >= end)
        return NULL;
    const uint8_t *at = memmem(p, (size_t)(end - p), key, key_len);
    return at ? at + key_len : NULL;
}

#define FIND(p, end, key) find((p), (end), (key), sizeof(key) - 1)

/* load64 and load32 read unaligned words (compiled to single loads). */
static inline uint64_t load64(const void *p)
{
    uint64_t v;
    memcpy(&v, p, sizeof(v));
    return v;
}

static inline uint32_t load32(const void *p)
{
    uint32_t v;
    memcpy(&v, p, sizeof(v));
    return v;
}

/* same_bytes compares |n| (4 to 16) bytes with two overlapping word
 * comparisons at each end; with a constant literal it inlines to a few
 * instructions instead of a call to memcmp per field. */
static inline bool same_bytes(const uint8_t *p, const char *lit, size_t n)
{
    if (n >= 8)
        return load64(p) == load64(lit) && load64(p + n - 8) == load64(lit + n - 8);
    return load32(p) == load32(lit) && load32(p + n - 4) == load32(lit + n - 4);
}

/* skip_literal returns the position after |lit| (4 to 16 bytes) when
 * [p, end) starts with it, else NULL. */
static inline const uint8_t *skip_literal(const uint8_t *p, const uint8_t *end, const char *lit,
                                          size_t lit_len)
{
    if ((size_t)(end - p) < lit_len || !same_bytes(p, lit, lit_len))
        return NULL;
    return p + lit_len;
}

#define SKIP(p, end, lit) skip_literal((p), (end), (lit), sizeof(lit) - 1)

/* read_u64 reads decimal digits at |*pp|, advancing it. Returns false when
 * there are none or more than 19 (which could overflow). */
static inline bool read_u64(const uint8_t **pp, const uint8_t *end, uint64_t *out)
{
    const uint8_t *p = *pp;
    const uint8_t *stop = end - p > 19 ? p + 19 : end;
    uint64_t v = 0;

    if (p >= end || (unsigned)(*p - '0') > 9)
        return false;
    while (p < stop && (unsigned)(*p - '0') <= 9)
        v = v * 10 + (uint64_t)(*p++ - '0');
    if (p < end && (unsigned)(*p - '0') <= 9)
        return false;
    *pp = p;
    *out = v;
    return true;
}

/* read_data reads "n" and "t" from the start of a payload of ours. */
static bool read_data(const uint8_t *p, const uint8_t *end, struct event_fields *out)
{
    p = SKIP(p, end, "{\"n\":");
    if (p == NULL || !read_u64(&p, end, &out->n))
        return false;
    p = SKIP(p, end, ",\"t\":");
    return p != NULL && read_u64(&p, end, &out->t_ns);
}

int payload_parse_raw(const uint8_t *json, size_t len, struct event_fields *out)
{
    const uint8_t *p = json, *end = json + len;

    out->has_payload = false;
    out->truncated = false;
    p = SKIP(p, end, "{\"n\":");
    if (p == NULL || !read_u64(&p, end, &out->n))
        return -1;
    p = SKIP(p, end, ",\"s\":");
    if (p == NULL || !read_u64(&p, end, &out->seq))
        return -1;
    p = SKIP(p, end, ",\"t\":");
    if (p == NULL || !read_u64(&p, end, &out->t_ns))
        return -1;
    out->has_payload = true;
    return 0;
}

/* string_end returns the closing quote of a JSON string without escapes
 * starting at |p|, or NULL. Event types and topics are short: look at a
 * few bytes before calling memchr. */
static inline const uint8_t *string_end(const uint8_t *p, const uint8_t *end)
{
    const uint8_t *stop = end - p > 16 ? p + 16 : end;

    for (; p < stop; p++)
        if (*p == '"')
            return p;
    return p < end ? memchr(p, '"', (size_t)(end - p)) : NULL;
}

/* skip_timestamp skips the timestamp's text, which has a fixed length
 * ("2026-01-20T10:30:00.000000Z") unless the server changes its format. */
static inline const uint8_t *skip_timestamp(const uint8_t *p, const uint8_t *end)
{
    enum { TIMESTAMP_LEN = 27 };

    if (end - p > TIMESTAMP_LEN && p[TIMESTAMP_LEN] == '"')
        return p + TIMESTAMP_LEN;
    return string_end(p, end);
}

/* parse_in_order reads an event laid out as the server writes it:
 * {"event_type":"..","timestamp":"..","topic":"..","seq":N,"data":..}.
 * Returns false when the layout differs. */
static bool parse_in_order(const uint8_t *p, const uint8_t *end, struct event_fields *out)
{
    if ((p = SKIP(p, end, "{\"event_type\":\"")) == NULL || (p = string_end(p, end)) == NULL ||
        (p = SKIP(p, end, "\",\"timestamp\":\"")) == NULL || (p = skip_timestamp(p, end)) == NULL ||
        (p = SKIP(p, end, "\",\"topic\":\"")) == NULL)
        return false;
    const uint8_t *topic_end = string_end(p, end);
    if (topic_end == NULL)
        return false;
    out->topic = (const char *)p;
    out->topic_len = (size_t)(topic_end - p);
    p = SKIP(topic_end, end, "\",\"seq\":");
    if (p == NULL || !read_u64(&p, end, &out->seq))
        return false;
    const uint8_t *data = SKIP(p, end, ",\"data\":");
    if (data != NULL)
        out->has_payload = read_data(data, end, out);
    else
        out->truncated = FIND(p, end, "\"truncated\":true") != NULL;
    return true;
}

/* parse_any_order finds the fields wherever they are. */
static int parse_any_order(const uint8_t *json, const uint8_t *end, struct event_fields *out)
{
    const uint8_t *topic = FIND(json, end, "\"topic\":\"");
    if (topic == NULL)
        return -1;
    const uint8_t *topic_end = string_end(topic, end);
    if (topic_end == NULL)
        return -1;
    out->topic = (const char *)topic;
    out->topic_len = (size_t)(topic_end - topic);
    const uint8_t *seq = FIND(json, end, "\"seq\":");
    if (seq == NULL || !read_u64(&seq, end, &out->seq))
        return -1;
    const uint8_t *data = FIND(json, end, "\"data\":");
    if (data != NULL)
        out->has_payload = read_data(data, end, out);
    else
        out->truncated = FIND(json, end, "\"truncated\":true") != NULL;
    return 0;
}

int payload_parse_event(const uint8_t *json, size_t len, struct event_fields *out)
{
    out->has_payload = false;
    out->truncated = false;
    if (parse_in_order(json, json + len, out))
        return 0;
    out->has_payload = false;
    out->truncated = false;
    return parse_any_order(json, json + len, out);
}
