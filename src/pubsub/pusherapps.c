/* pusherapps.c: loading --pusher-apps (see pusherapps.h). */
#include "pubsub/pusherapps.h"

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include <openssl/mem.h>

#include "util/alloc.h"

#define MAX_FILE (1u << 20)

static bool name_valid(const char *s, size_t len)
{
    if (len == 0 || len > PUSHER_APP_MAX_NAME)
        return false;
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '-'))
            return false;
    }
    return true;
}

static int fail(char *err, size_t err_len, size_t index, const char *what)
{
    snprintf(err, err_len, "app %zu: %s", index, what);
    return -1;
}

/* copy_name copies string member |name| of |obj| when it is a valid name. */
static bool copy_name(const json_t *obj, const char *name, char *out, size_t *out_len)
{
    const json_t *v = json_object_get(obj, name);
    if (!json_is_string(v) || !name_valid(json_string_value(v), json_string_length(v)))
        return false;
    *out_len = json_string_length(v);
    memcpy(out, json_string_value(v), *out_len);
    out[*out_len] = '\0';
    return true;
}

static int parse_app(struct pusher_app *app, const json_t *obj, size_t index, char *err,
                     size_t err_len)
{
    if (!json_is_object(obj))
        return fail(err, err_len, index, "must be an object");
    if (!copy_name(obj, "id", app->id, &app->id_len))
        return fail(err, err_len, index, "\"id\" must be 1-64 characters of A-Z a-z 0-9 _ -");
    if (!copy_name(obj, "key", app->key, &app->key_len))
        return fail(err, err_len, index, "\"key\" must be 1-64 characters of A-Z a-z 0-9 _ -");
    const json_t *secret = json_object_get(obj, "secret");
    if (!json_is_string(secret) || json_string_length(secret) < 8 ||
        json_string_length(secret) > PUSHER_APP_MAX_SECRET)
        return fail(err, err_len, index, "\"secret\" must be a string of 8-256 bytes");
    app->secret_len = json_string_length(secret);
    memcpy(app->secret, json_string_value(secret), app->secret_len);
    const json_t *client_events = json_object_get(obj, "client_events");
    if (client_events && !json_is_boolean(client_events))
        return fail(err, err_len, index, "\"client_events\" must be true or false");
    app->client_events = json_is_true(client_events);
    const json_t *max_payload = json_object_get(obj, "max_payload");
    if (max_payload && (!json_is_integer(max_payload) || json_integer_value(max_payload) < 1))
        return fail(err, err_len, index, "\"max_payload\" must be a positive integer");
    app->max_payload =
        max_payload ? (uint64_t)json_integer_value(max_payload) : PUSHER_APP_DEFAULT_MAX_PAYLOAD;
    return 0;
}

/* check_unique refuses two apps with one id or one key. */
static int check_unique(const struct pusher_apps *apps, char *err, size_t err_len)
{
    for (size_t i = 0; i < apps->num_apps; i++) {
        for (size_t j = 0; j < i; j++) {
            const struct pusher_app *a = &apps->apps[i], *b = &apps->apps[j];
            if (strcmp(a->id, b->id) == 0 || strcmp(a->key, b->key) == 0)
                return fail(err, err_len, i, "has the id or key of an earlier app");
        }
    }
    return 0;
}

int pusher_apps_parse(struct pusher_apps *out, const char *text, size_t len, char *err,
                      size_t err_len)
{
    memset(out, 0, sizeof(*out));
    json_error_t jerr;
    json_t *root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
    if (!root) {
        snprintf(err, err_len, "not JSON: %s (line %d)", jerr.text, jerr.line);
        return -1;
    }
    int rc = -1;
    if (!json_is_array(root) || json_array_size(root) == 0) {
        snprintf(err, err_len, "expected a non-empty JSON array of apps");
        goto out;
    }
    out->apps = rc_calloc(json_array_size(root), sizeof(*out->apps));
    if (!out->apps) {
        snprintf(err, err_len, "out of memory");
        goto out;
    }
    for (size_t i = 0; i < json_array_size(root); i++) {
        if (parse_app(&out->apps[i], json_array_get(root, i), i, err, err_len) != 0)
            goto out;
        out->num_apps = i + 1;
    }
    rc = check_unique(out, err, err_len);
out:
    json_decref(root);
    if (rc != 0)
        pusher_apps_cleanup(out);
    return rc;
}

int pusher_apps_load(struct pusher_apps *out, const char *path, char *err, size_t err_len)
{
    memset(out, 0, sizeof(*out));
    FILE *f = fopen(path, "rb");
    if (!f) {
        snprintf(err, err_len, "cannot read %s: %s", path, strerror(errno));
        return -1;
    }
    struct stat st;
    if (fstat(fileno(f), &st) != 0 || (st.st_mode & (S_IROTH | S_IWOTH))) {
        fclose(f);
        snprintf(err, err_len,
                 "%s: other users may read or write it (it holds secrets): chmod o-rw", path);
        return -1;
    }
    char *text = rc_malloc(MAX_FILE);
    if (!text) {
        fclose(f);
        snprintf(err, err_len, "out of memory");
        return -1;
    }
    size_t len = fread(text, 1, MAX_FILE, f);
    bool more = fgetc(f) != EOF;
    fclose(f);
    int rc = -1;
    if (more)
        snprintf(err, err_len, "%s: larger than %u bytes", path, MAX_FILE);
    else if (pusher_apps_parse(out, text, len, err, err_len) == 0)
        rc = 0;
    OPENSSL_cleanse(text, len);
    rc_free(text);
    return rc;
}

void pusher_apps_cleanup(struct pusher_apps *apps)
{
    if (apps->apps) {
        OPENSSL_cleanse(apps->apps, apps->num_apps * sizeof(*apps->apps));
        rc_free(apps->apps);
    }
    memset(apps, 0, sizeof(*apps));
}

/* find returns the app whose id (or key, |by_key|) is |s|, or NULL. */
static const struct pusher_app *find(const struct pusher_apps *apps, bool by_key, const char *s,
                                     size_t len)
{
    for (size_t i = 0; apps && i < apps->num_apps; i++) {
        const struct pusher_app *app = &apps->apps[i];
        size_t name_len = by_key ? app->key_len : app->id_len;
        if (name_len == len && memcmp(by_key ? app->key : app->id, s, len) == 0)
            return app;
    }
    return NULL;
}

const struct pusher_app *pusher_app_by_key(const struct pusher_apps *apps, const char *key,
                                           size_t len)
{
    return find(apps, true, key, len);
}

const struct pusher_app *pusher_app_by_id(const struct pusher_apps *apps, const char *id,
                                          size_t len)
{
    return find(apps, false, id, len);
}
