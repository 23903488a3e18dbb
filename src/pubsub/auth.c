/* auth.c: tokens and permissions (see auth.h). */
#include "pubsub/auth.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <openssl/mem.h>

#include "util/alloc.h"
#include "proto/http.h"
#include "pubsub/topic.h"

static int read_secret(const char *path, uint8_t **out, size_t *out_len, char *err, size_t err_len)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        snprintf(err, err_len, "cannot read %s: %s", path, strerror(errno));
        return -1;
    }
    uint8_t buf[4096];
    size_t len = fread(buf, 1, sizeof(buf), f);
    bool more = fgetc(f) != EOF;
    fclose(f);
    if (more) {
        snprintf(err, err_len, "%s: a secret of more than %zu bytes", path, sizeof(buf));
        return -1;
    }
    if (len > 0 && buf[len - 1] == '\n')
        len--;
    if (len < JWT_MIN_SECRET) {
        snprintf(err, err_len, "%s: the secret has %zu bytes, at least %d are needed", path, len,
                 JWT_MIN_SECRET);
        OPENSSL_cleanse(buf, sizeof(buf));
        return -1;
    }
    *out = rc_malloc(len);
    if (!*out) {
        snprintf(err, err_len, "out of memory");
        return -1;
    }
    memcpy(*out, buf, len);
    *out_len = len;
    OPENSSL_cleanse(buf, sizeof(buf));
    return 0;
}

int auth_load(struct auth *a, const struct rc_config *cfg, char *err, size_t err_len)
{
    memset(a, 0, sizeof(*a));
    const char *files[2] = {cfg->auth_secret_file, cfg->auth_previous_secret_file};
    for (int i = 0; i < 2 && files[i][0]; i++) {
        if (read_secret(files[i], &a->secrets[i], &a->keys.secret_len[i], err, err_len) != 0) {
            auth_cleanup(a);
            return -1;
        }
        a->keys.secret[i] = a->secrets[i];
        a->keys.count = i + 1;
    }
    a->enabled = a->keys.count > 0;
    return 0;
}

void auth_cleanup(struct auth *a)
{
    for (int i = 0; i < 2; i++) {
        if (a->secrets[i]) {
            OPENSSL_cleanse(a->secrets[i], a->keys.secret_len[i]);
            rc_free(a->secrets[i]);
        }
    }
    memset(a, 0, sizeof(*a));
}

/* next_list_item walks a comma-separated header value. */
static bool next_list_item(const char **p, const char *end, const char **item, size_t *len)
{
    while (*p < end && (**p == ' ' || **p == '\t' || **p == ','))
        (*p)++;
    if (*p >= end)
        return false;
    const char *start = *p;
    while (*p < end && **p != ',')
        (*p)++;
    const char *stop = *p;
    while (stop > start && (stop[-1] == ' ' || stop[-1] == '\t'))
        stop--;
    *item = start;
    *len = (size_t)(stop - start);
    return true;
}

static bool find_in_query(struct auth_token *out, const struct http_request *req)
{
    if (!req->query)
        return false;
    char key[16];
    size_t pos = 0;
    int r;
    while ((r = http_query_next(req->query, req->query_len, &pos, key, sizeof(key),
                                out->query_value, sizeof(out->query_value))) != 0) {
        if (r > 0 && strcmp(key, "token") == 0) {
            out->token = out->query_value;
            out->len = strlen(out->query_value);
            return true;
        }
    }
    return false;
}

static bool find_in_authorization(struct auth_token *out, const struct http_request *req)
{
    const struct http_header *h = http_find_header(req, "Authorization");
    if (!h || h->value_len < 7 || strncasecmp(h->value, "Bearer ", 7) != 0)
        return false;
    const char *token = h->value + 7;
    size_t len = h->value_len - 7;
    while (len > 0 && *token == ' ') {
        token++;
        len--;
    }
    out->token = token;
    out->len = len;
    return true;
}

static bool find_in_subprotocols(struct auth_token *out, const struct http_request *req)
{
    const size_t prefix_len = sizeof(AUTH_BEARER_PREFIX) - 1;
    for (size_t i = 0; i < req->num_headers; i++) {
        const struct http_header *h = &req->headers[i];
        if (h->name_len != 22 || strncasecmp(h->name, "Sec-WebSocket-Protocol", 22) != 0)
            continue;
        const char *p = h->value, *item;
        size_t len;
        while (next_list_item(&p, h->value + h->value_len, &item, &len)) {
            if (len > prefix_len && strncasecmp(item, AUTH_BEARER_PREFIX, prefix_len) == 0) {
                out->token = item + prefix_len;
                out->len = len - prefix_len;
                out->subprotocol = item;
                out->subprotocol_len = len;
                return true;
            }
        }
    }
    return false;
}

void auth_find_token(struct auth_token *out, const struct http_request *req)
{
    out->token = NULL;
    out->len = 0;
    out->subprotocol = NULL;
    out->subprotocol_len = 0;
    if (!find_in_query(out, req) && !find_in_authorization(out, req))
        find_in_subprotocols(out, req);
}

enum jwt_status auth_check(const struct auth *a, const char *token, size_t len, struct claims **out,
                           const char **out_reason)
{
    *out = NULL;
    if (!token) {
        *out_reason = "this server requires a token (it runs with --auth-secret-file)";
        return JWT_MISSING;
    }
    return jwt_verify(out, token, len, &a->keys, (int64_t)time(NULL), out_reason);
}

/* any_pattern reports whether |judge|(pattern, name) holds for one of the
 * claim's patterns. */
static bool any_pattern(const struct claim_str *patterns, size_t n,
                        bool (*judge)(const char *, size_t, const char *, size_t), const char *name,
                        size_t len)
{
    for (size_t i = 0; i < n; i++)
        if (judge(patterns[i].s, patterns[i].len, name, len))
            return true;
    return false;
}

bool auth_may_subscribe(const struct claims *claims, const char *name, size_t len)
{
    return !claims ||
           any_pattern(claims->subscribe, claims->num_subscribe, topic_contains, name, len);
}

bool auth_may_publish(const struct claims *claims, const char *topic, size_t len)
{
    return !claims || any_pattern(claims->publish, claims->num_publish, topic_matches, topic, len);
}

int64_t auth_expires_ms(const struct claims *claims, int64_t now_ms)
{
    if (!claims || claims->exp == 0)
        return 0;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    int64_t wall_ms = (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
    /* An exp beyond AUTH_EXP_HORIZON_S (about 10,000 years) is as good as
     * none; capping it keeps the arithmetic below far from overflow. */
    int64_t exp_s = claims->exp < AUTH_EXP_HORIZON_S ? claims->exp : AUTH_EXP_HORIZON_S;
    int64_t left_ms = exp_s * 1000 - wall_ms;
    /* Never 0 (that means "no expiry"): a past exp expires at once. */
    return now_ms + (left_ms > 1 ? left_ms : 1);
}

const char *auth_subprotocol(const struct http_request *req, const struct auth_token *t,
                             size_t *out_len)
{
    for (size_t i = 0; i < req->num_headers; i++) {
        const struct http_header *h = &req->headers[i];
        if (h->name_len != 22 || strncasecmp(h->name, "Sec-WebSocket-Protocol", 22) != 0)
            continue;
        const char *p = h->value, *item;
        size_t len;
        while (next_list_item(&p, h->value + h->value_len, &item, &len)) {
            if (len == sizeof(AUTH_SUBPROTOCOL) - 1 && memcmp(item, AUTH_SUBPROTOCOL, len) == 0) {
                *out_len = len;
                return AUTH_SUBPROTOCOL;
            }
        }
    }
    *out_len = t->subprotocol_len;
    return t->subprotocol;
}

/* refusal_advice says what the holder of a refused token can do. */
static const char *refusal_advice(enum jwt_status status)
{
    switch (status) {
    case JWT_BAD_SIGNATURE:
        return "; it was signed with another secret than this server's --auth-secret-file "
               "(or --auth-previous-secret-file)";
    case JWT_EXPIRED:
        return "; get a new token (ringcast-token mints one) and connect again";
    case JWT_NOT_YET_VALID:
        return "; wait for its nbf or get a token without one";
    case JWT_BAD_ALG:
        return "; tokens are HS256 JWTs (ringcast-token mints them)";
    default:
        return "";
    }
}

enum jwt_status auth_check_text(const struct auth *a, const char *token, size_t len,
                                struct claims **out, const char *how_to_send, char *message,
                                size_t cap)
{
    const char *reason = NULL;
    enum jwt_status status = auth_check(a, token, len, out, &reason);
    if (status == JWT_MISSING)
        snprintf(message, cap, "%s: %s; send it as %s", jwt_status_text(status), reason,
                 how_to_send);
    else if (status != JWT_OK)
        snprintf(message, cap, "%s: %s%s", jwt_status_text(status), reason, refusal_advice(status));
    return status;
}
