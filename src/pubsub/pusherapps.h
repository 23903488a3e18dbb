/* pusherapps.h: the Pusher apps of --pusher-apps, read once at start.
 *
 * The file is a JSON array of apps:
 *   [{"id":"1","key":"…","secret":"…","client_events":false,"max_payload":10240}]
 * "id" and "key" are 1..64 characters of A-Z a-z 0-9 and "_-"; "secret"
 * at least 8 bytes. Read-only once loaded: every shard reads it. */
#ifndef RC_PUSHERAPPS_H
#define RC_PUSHERAPPS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define PUSHER_APP_MAX_NAME 64
#define PUSHER_APP_MAX_SECRET 256
#define PUSHER_APP_DEFAULT_MAX_PAYLOAD 10240 /* Pusher's limit */

struct pusher_app {
    char id[PUSHER_APP_MAX_NAME + 1];
    size_t id_len;
    char key[PUSHER_APP_MAX_NAME + 1];
    size_t key_len;
    uint8_t secret[PUSHER_APP_MAX_SECRET];
    size_t secret_len;
    bool client_events;
    uint64_t max_payload;
};

struct pusher_apps {
    struct pusher_app *apps;
    size_t num_apps;
};

/* pusher_apps_load reads |path|; a file others may read is refused, as a
 * secret's should be. Returns 0, or -1 with |err| saying why. */
int pusher_apps_load(struct pusher_apps *out, const char *path, char *err, size_t err_len);

/* pusher_apps_parse reads the JSON text |text| (pusher_apps_load's part
 * after reading the file). */
int pusher_apps_parse(struct pusher_apps *out, const char *text, size_t len, char *err,
                      size_t err_len);

/* pusher_apps_cleanup frees what was loaded (and wipes the secrets). */
void pusher_apps_cleanup(struct pusher_apps *apps);

/* pusher_app_by_key and pusher_app_by_id find an app, or NULL. */
const struct pusher_app *pusher_app_by_key(const struct pusher_apps *apps, const char *key,
                                           size_t len);
const struct pusher_app *pusher_app_by_id(const struct pusher_apps *apps, const char *id,
                                          size_t len);

#endif
