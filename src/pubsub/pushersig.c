/* pushersig.c: Pusher signatures (see pushersig.h). */
#include "pubsub/pushersig.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/hmac.h>
#include <openssl/md5.h>
#include <openssl/mem.h>

#include "proto/http.h"
#include "util/alloc.h"

static void hex(char *out, const uint8_t *bytes, size_t len)
{
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < len; i++) {
        out[2 * i] = digits[bytes[i] >> 4];
        out[2 * i + 1] = digits[bytes[i] & 15];
    }
    out[2 * len] = '\0';
}

void pushersig_hex_hmac(char out[PUSHERSIG_HEX_LEN + 1], const struct pusher_app *app,
                        const void *data, size_t len)
{
    uint8_t mac[32];
    unsigned mac_len = 0;
    if (!HMAC(EVP_sha256(), app->secret, app->secret_len, data, len, mac, &mac_len))
        memset(mac, 0, sizeof(mac)); /* matches no signature a client could send */
    hex(out, mac, sizeof(mac));
}

/* hex_equal compares a received hex signature with the expected one in
 * constant time (for a signature of the expected length). */
static bool hex_equal(const char *got, size_t got_len, const char *expected)
{
    return got_len == PUSHERSIG_HEX_LEN && CRYPTO_memcmp(got, expected, PUSHERSIG_HEX_LEN) == 0;
}

bool pushersig_channel_ok(const struct pusher_app *app, const char *socket_id, const char *channel,
                          size_t channel_len, const char *channel_data, size_t channel_data_len,
                          const char *auth, size_t auth_len)
{
    if (!auth || auth_len != app->key_len + 1 + PUSHERSIG_HEX_LEN ||
        memcmp(auth, app->key, app->key_len) != 0 || auth[app->key_len] != ':')
        return false;
    size_t sid_len = strlen(socket_id);
    size_t len = sid_len + 1 + channel_len + (channel_data ? 1 + channel_data_len : 0);
    char *text = rc_malloc(len);
    if (!text)
        return false;
    memcpy(text, socket_id, sid_len);
    text[sid_len] = ':';
    memcpy(text + sid_len + 1, channel, channel_len);
    if (channel_data) {
        text[sid_len + 1 + channel_len] = ':';
        memcpy(text + sid_len + 2 + channel_len, channel_data, channel_data_len);
    }
    char expected[PUSHERSIG_HEX_LEN + 1];
    pushersig_hex_hmac(expected, app, text, len);
    rc_free(text);
    return hex_equal(auth + app->key_len + 1, PUSHERSIG_HEX_LEN, expected);
}

int pushersig_query_parse(struct pushersig_query *out, const char *query, size_t len)
{
    memset(out, 0, sizeof(*out));
    /* Values decode to at most the query's length in all; keys are short. */
    size_t cap = len + 1 + PUSHERSIG_MAX_PARAMS * (PUSHERSIG_MAX_KEY + 1);
    out->storage = rc_malloc(cap);
    if (!out->storage)
        return -1;
    char *dst = out->storage;
    char key[PUSHERSIG_MAX_KEY + 1];
    size_t pos = 0;
    int r;
    while ((r = http_query_next(query, len, &pos, key, sizeof(key), dst,
                                cap - (size_t)(dst - out->storage))) != 0) {
        if (r < 0 || out->num_params == PUSHERSIG_MAX_PARAMS) {
            pushersig_query_free(out);
            return -1;
        }
        struct pushersig_param *param = &out->params[out->num_params++];
        param->value = dst;
        dst += strlen(dst) + 1;
        param->key = dst;
        for (size_t i = 0; key[i]; i++)
            *dst++ = key[i] >= 'A' && key[i] <= 'Z' ? (char)(key[i] - 'A' + 'a') : key[i];
        *dst++ = '\0';
    }
    return 0;
}

void pushersig_query_free(struct pushersig_query *q)
{
    rc_free(q->storage);
    memset(q, 0, sizeof(*q));
}

const char *pushersig_query_get(const struct pushersig_query *q, const char *key)
{
    for (size_t i = 0; i < q->num_params; i++)
        if (strcmp(q->params[i].key, key) == 0)
            return q->params[i].value;
    return NULL;
}

static int by_key(const void *a, const void *b)
{
    const struct pushersig_param *x = *(const struct pushersig_param *const *)a;
    const struct pushersig_param *y = *(const struct pushersig_param *const *)b;
    return strcmp(x->key, y->key);
}

/* string_to_sign builds METHOD\nPATH\nk=v&k=v (sorted, without
 * auth_signature); malloc'd, or NULL (out of memory, or a parameter given
 * twice: |*out_duplicate|). */
static char *string_to_sign(const struct pushersig_request *r, size_t *out_len, bool *out_duplicate)
{
    const struct pushersig_query *q = r->query;
    const struct pushersig_param *sorted[PUSHERSIG_MAX_PARAMS];
    size_t n = 0, len = strlen(r->method) + 1 + r->path_len + 1;
    for (size_t i = 0; i < q->num_params; i++) {
        if (strcmp(q->params[i].key, "auth_signature") == 0)
            continue;
        sorted[n++] = &q->params[i];
        len += strlen(q->params[i].key) + 1 + strlen(q->params[i].value) + 1;
    }
    qsort(sorted, n, sizeof(sorted[0]), by_key);
    for (size_t i = 1; i < n; i++) {
        if (strcmp(sorted[i - 1]->key, sorted[i]->key) == 0) {
            *out_duplicate = true; /* which one was signed? */
            return NULL;
        }
    }
    char *text = rc_malloc(len + 1);
    if (!text)
        return NULL;
    int w = snprintf(text, len + 1, "%s\n%.*s\n", r->method, (int)r->path_len, r->path);
    size_t at = (size_t)w;
    for (size_t i = 0; i < n; i++)
        at += (size_t)snprintf(text + at, len + 1 - at, "%s%s=%s", i ? "&" : "", sorted[i]->key,
                               sorted[i]->value);
    *out_len = at;
    return text;
}

static bool body_md5_ok(const struct pushersig_request *r, const char *given)
{
    if (r->body_len == 0)
        return !given || given[0] == '\0' || strcmp(given, "d41d8cd98f00b204e9800998ecf8427e") == 0;
    if (!given)
        return false;
    uint8_t digest[MD5_DIGEST_LENGTH];
    MD5(r->body, r->body_len, digest);
    char text[2 * MD5_DIGEST_LENGTH + 1];
    hex(text, digest, sizeof(digest));
    return strcmp(text, given) == 0;
}

int pushersig_check(const struct pusher_app *app, const struct pushersig_request *r,
                    const char **out_message)
{
    const struct pushersig_query *q = r->query;
    const char *key = pushersig_query_get(q, "auth_key");
    const char *timestamp = pushersig_query_get(q, "auth_timestamp");
    const char *version = pushersig_query_get(q, "auth_version");
    const char *signature = pushersig_query_get(q, "auth_signature");
    if (!key || !timestamp || !signature) {
        *out_message = "auth_key, auth_timestamp and auth_signature are required";
        return 401;
    }
    if (version && strcmp(version, "1.0") != 0) {
        *out_message = "auth_version must be 1.0";
        return 400;
    }
    if (strlen(key) != app->key_len || memcmp(key, app->key, app->key_len) != 0) {
        *out_message = "unknown auth_key";
        return 401;
    }
    char *end = NULL;
    long long ts = strtoll(timestamp, &end, 10);
    if (!end || *end || end == timestamp || ts < r->now_s - PUSHERSIG_MAX_SKEW ||
        ts > r->now_s + PUSHERSIG_MAX_SKEW) {
        *out_message = "Timestamp expired: given auth_timestamp is more than 600 s from the "
                       "server's time";
        return 401;
    }
    if (!body_md5_ok(r, pushersig_query_get(q, "body_md5"))) {
        *out_message = "body_md5 does not match the body";
        return 401;
    }
    size_t len = 0;
    bool duplicate = false;
    char *text = string_to_sign(r, &len, &duplicate);
    if (!text) {
        *out_message = duplicate ? "a query parameter is given twice" : "out of memory";
        return duplicate ? 400 : 503;
    }
    char expected[PUSHERSIG_HEX_LEN + 1];
    pushersig_hex_hmac(expected, app, text, len);
    rc_free(text);
    if (!hex_equal(signature, strlen(signature), expected)) {
        *out_message = "Invalid signature: you should have sent the HMAC-SHA256 (hex) of "
                       "METHOD\\nPATH\\nsorted query with your secret";
        return 401;
    }
    return 0;
}
