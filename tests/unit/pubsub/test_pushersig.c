/* test_pushersig.c: Pusher signatures (src/pubsub/pushersig.c), with the
 * worked example of Pusher's HTTP API documentation. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "pubsub/pusherapps.h"
#include "pubsub/pushersig.h"

#define S(lit) lit, sizeof(lit) - 1

/* Pusher's documented example: key, secret, body, time and signature. */
#define DOC_KEY "278d425bdf160c739803"
#define DOC_SECRET "7ad3773142a6692b25b8"
#define DOC_BODY                                                                                   \
    "{\"name\":\"foo\",\"channels\":[\"project-3\"],\"data\":\"{\\\"some\\\":\\\"data\\\"}\"}"
#define DOC_TIME 1353088179
#define DOC_MD5 "ec365a775a4cd0599faeb73354201b6f"
#define DOC_SIGNATURE "da454824c97ba181a32ccc17a72625ba02771f50b50e1e7430e47a1f3f457e6c"

static struct pusher_app doc_app(void)
{
    struct pusher_app app = {.id = "3",
                             .id_len = 1,
                             .key_len = strlen(DOC_KEY),
                             .secret_len = strlen(DOC_SECRET),
                             .max_payload = 10240};
    memcpy(app.key, DOC_KEY, app.key_len);
    memcpy(app.secret, DOC_SECRET, app.secret_len);
    return app;
}

static int check(const struct pusher_app *app, const char *query, const char *body, int64_t now,
                 const char **message)
{
    struct pushersig_query q;
    assert_int_equal(pushersig_query_parse(&q, query, strlen(query)), 0);
    const struct pushersig_request r = {
        "POST", S("/apps/3/events"), &q, (const uint8_t *)body, strlen(body), now};
    int status = pushersig_check(app, &r, message);
    pushersig_query_free(&q);
    return status;
}

static void test_documented_vector(void **state)
{
    (void)state;
    struct pusher_app app = doc_app();
    const char *message = NULL;
    /* In the order the example writes it, and shuffled with an upper-case
     * key: the server sorts and lowercases before signing. */
    const char *queries[] = {
        "auth_key=" DOC_KEY "&auth_timestamp=1353088179&auth_version=1.0&body_md5=" DOC_MD5
        "&auth_signature=" DOC_SIGNATURE,
        "auth_signature=" DOC_SIGNATURE "&body_md5=" DOC_MD5 "&AUTH_VERSION=1.0&auth_key=" DOC_KEY
        "&auth_timestamp=1353088179",
    };
    for (size_t i = 0; i < 2; i++)
        assert_int_equal(check(&app, queries[i], DOC_BODY, DOC_TIME + 599, &message), 0);
    char expected[PUSHERSIG_HEX_LEN + 1];
    const char to_sign[] = "POST\n/apps/3/events\nauth_key=" DOC_KEY
                           "&auth_timestamp=1353088179&auth_version=1.0&body_md5=" DOC_MD5;
    pushersig_hex_hmac(expected, &app, to_sign, strlen(to_sign));
    assert_string_equal(expected, DOC_SIGNATURE);
}

static void test_refusals(void **state)
{
    (void)state;
    struct pusher_app app = doc_app();
    const char *message = NULL;
    const char good[] = "auth_key=" DOC_KEY "&auth_timestamp=1353088179&auth_version=1.0"
                        "&body_md5=" DOC_MD5 "&auth_signature=" DOC_SIGNATURE;
    assert_int_equal(check(&app, good, DOC_BODY, DOC_TIME + 601, &message), 401); /* old */
    assert_non_null(strstr(message, "Timestamp"));
    assert_int_equal(check(&app, good, DOC_BODY, DOC_TIME - 601, &message), 401); /* future */
    assert_int_equal(check(&app, good, DOC_BODY "x", DOC_TIME, &message), 401);   /* body */
    assert_non_null(strstr(message, "body_md5"));
    char tampered[sizeof(good)];
    memcpy(tampered, good, sizeof(good));
    tampered[sizeof(good) - 2] = tampered[sizeof(good) - 2] == '0' ? '1' : '0';
    assert_int_equal(check(&app, tampered, DOC_BODY, DOC_TIME, &message), 401);
    assert_non_null(strstr(message, "signature"));
    /* An extra parameter is signed too. */
    char extra[sizeof(good) + 16];
    snprintf(extra, sizeof(extra), "%s&name=foo", good);
    assert_int_equal(check(&app, extra, DOC_BODY, DOC_TIME, &message), 401);
    assert_int_equal(check(&app, "auth_key=" DOC_KEY, DOC_BODY, DOC_TIME, &message), 401);
    struct pusher_app other = doc_app();
    other.key[0] = 'X';
    assert_int_equal(check(&other, good, DOC_BODY, DOC_TIME, &message), 401);
    assert_int_equal(check(&app,
                           "auth_key=" DOC_KEY "&auth_timestamp=1353088179&auth_version=2.0"
                           "&auth_signature=x",
                           DOC_BODY, DOC_TIME, &message),
                     400);
}

static void test_channel_authorization(void **state)
{
    (void)state;
    struct pusher_app app = doc_app();
    char sig[PUSHERSIG_HEX_LEN + 1];
    pushersig_hex_hmac(sig, &app, S("1234.1234:private-foobar"));
    char auth[128];
    snprintf(auth, sizeof(auth), "%s:%s", DOC_KEY, sig);
    assert_true(
        pushersig_channel_ok(&app, "1234.1234", S("private-foobar"), NULL, 0, auth, strlen(auth)));
    assert_false(
        pushersig_channel_ok(&app, "1234.1235", S("private-foobar"), NULL, 0, auth, strlen(auth)));
    assert_false(
        pushersig_channel_ok(&app, "1234.1234", S("private-foobaz"), NULL, 0, auth, strlen(auth)));
    assert_false(pushersig_channel_ok(&app, "1234.1234", S("private-foobar"), NULL, 0, auth,
                                      strlen(auth) - 1));
    assert_false(pushersig_channel_ok(&app, "1234.1234", S("private-foobar"), NULL, 0, NULL, 0));
    auth[0] = 'X'; /* another app's key */
    assert_false(
        pushersig_channel_ok(&app, "1234.1234", S("private-foobar"), NULL, 0, auth, strlen(auth)));
    /* presence: channel data is signed too */
    pushersig_hex_hmac(sig, &app, S("1.2:presence-a:{\"user_id\":\"u\"}"));
    snprintf(auth, sizeof(auth), "%s:%s", DOC_KEY, sig);
    assert_true(pushersig_channel_ok(&app, "1.2", S("presence-a"), S("{\"user_id\":\"u\"}"), auth,
                                     strlen(auth)));
}

static void test_query_parse(void **state)
{
    (void)state;
    struct pushersig_query q;
    assert_int_equal(pushersig_query_parse(&q, S("A=1&b=%41%2C&&c&d=x+y")), 0);
    assert_int_equal(q.num_params, 4);
    assert_string_equal(pushersig_query_get(&q, "a"), "1");
    assert_string_equal(pushersig_query_get(&q, "b"), "A,");
    assert_string_equal(pushersig_query_get(&q, "c"), "");
    assert_string_equal(pushersig_query_get(&q, "d"), "x y");
    assert_null(pushersig_query_get(&q, "e"));
    pushersig_query_free(&q);
    assert_int_equal(pushersig_query_parse(&q, S("a=%zz")), -1);
    assert_int_equal(pushersig_query_parse(&q, S("a=%00")), -1);
    char many[PUSHERSIG_MAX_PARAMS * 4 + 8] = "";
    for (int i = 0; i <= PUSHERSIG_MAX_PARAMS; i++)
        strcat(many, "a=1&");
    assert_int_equal(pushersig_query_parse(&q, many, strlen(many)), -1);
}

#define DUPLICATE_IDS                                                                              \
    ("[{\"id\":\"1\",\"key\":\"k\",\"secret\":\"12345678\"},"                                      \
     "{\"id\":\"1\",\"key\":\"j\",\"secret\":\"12345678\"}]")

static void test_apps_parse(void **state)
{
    (void)state;
    struct pusher_apps apps;
    char err[200];
    const char good[] = "[{\"id\":\"1\",\"key\":\"k1\",\"secret\":\"12345678\"},"
                        "{\"id\":\"2\",\"key\":\"k2\",\"secret\":\"abcdefgh\","
                        "\"client_events\":true,\"max_payload\":100}]";
    assert_int_equal(pusher_apps_parse(&apps, S(good), err, sizeof(err)), 0);
    assert_int_equal(apps.num_apps, 2);
    const struct pusher_app *two = pusher_app_by_key(&apps, S("k2"));
    assert_non_null(two);
    assert_ptr_equal(pusher_app_by_id(&apps, S("2")), two);
    assert_true(two->client_events);
    assert_int_equal(two->max_payload, 100);
    assert_int_equal(pusher_app_by_id(&apps, S("1"))->max_payload, PUSHER_APP_DEFAULT_MAX_PAYLOAD);
    assert_null(pusher_app_by_key(&apps, S("k3")));
    pusher_apps_cleanup(&apps);
    static const char *const bad[] = {
        "",
        "{}",
        "[]",
        "[1]",
        "[{\"id\":\"1\",\"key\":\"k\"}]",
        "[{\"id\":\"1\",\"key\":\"k\",\"secret\":\"short\"}]",
        "[{\"id\":\"a b\",\"key\":\"k\",\"secret\":\"12345678\"}]",
        "[{\"id\":\"1\",\"key\":\"k\",\"secret\":\"12345678\",\"client_events\":1}]",
        "[{\"id\":\"1\",\"key\":\"k\",\"secret\":\"12345678\",\"max_payload\":0}]",
        DUPLICATE_IDS,
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        assert_int_equal(pusher_apps_parse(&apps, bad[i], strlen(bad[i]), err, sizeof(err)), -1);
        assert_true(strlen(err) > 0);
        assert_null(apps.apps);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_documented_vector),
        cmocka_unit_test(test_refusals),
        cmocka_unit_test(test_channel_authorization),
        cmocka_unit_test(test_query_parse),
        cmocka_unit_test(test_apps_parse),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
