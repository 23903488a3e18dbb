/* test_auth.c: where a request's token is found, what the claims allow,
 * and when a connection's token expires (src/pubsub/auth.h). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "pubsub/auth.h"
#include "proto/http.h"

static const struct http_limits limits = {
    .max_head_bytes = 16384, .max_target_bytes = 8192, .max_headers = HTTP_MAX_HEADERS};

/* The head text must outlive the request: the parser points into it. */
static char head[4096];

static void parse_head(struct http_request *req, const char *target, const char *extra_headers)
{
    int n =
        snprintf(head, sizeof(head), "GET %s HTTP/1.1\r\nHost: x\r\n%s\r\n", target, extra_headers);
    assert_true(n > 0 && (size_t)n < sizeof(head));
    assert_int_equal(http_parse_request(req, head, (size_t)n, &limits), n);
}

static void expect_token(const char *target, const char *headers, const char *want,
                         const char *want_subprotocol)
{
    struct http_request req;
    parse_head(&req, target, headers);
    struct auth_token t;
    auth_find_token(&t, &req);
    if (!want) {
        if (t.token)
            fail_msg("%s + %s: found token '%.*s', want none", target, headers, (int)t.len,
                     t.token);
        return;
    }
    if (!t.token || t.len != strlen(want) || memcmp(t.token, want, t.len) != 0)
        fail_msg("%s + %s: token '%.*s', want '%s'", target, headers, (int)t.len,
                 t.token ? t.token : "", want);
    if (!want_subprotocol) {
        assert_null(t.subprotocol);
    } else {
        assert_non_null(t.subprotocol);
        assert_int_equal(t.subprotocol_len, strlen(want_subprotocol));
        assert_memory_equal(t.subprotocol, want_subprotocol, t.subprotocol_len);
    }
}

static void test_token_in_query(void **state)
{
    (void)state;
    expect_token("/v1/ws?token=abc.def.ghi", "", "abc.def.ghi", NULL);
    expect_token("/v1/sse?topic=a&token=x.y.z&topic=b", "", "x.y.z", NULL);
    /* Percent-decoded. */
    expect_token("/v1/ws?token=a%2Eb.c", "", "a.b.c", NULL);
    /* The query wins over a header. */
    expect_token("/v1/ws?token=q.q.q", "Authorization: Bearer h.h.h\r\n", "q.q.q", NULL);
    /* Names are exact: no "tokens", no "Token". */
    expect_token("/v1/ws?tokens=a.b.c&Token=d.e.f", "", NULL, NULL);
}

static void test_token_in_authorization(void **state)
{
    (void)state;
    expect_token("/v1/ws", "Authorization: Bearer a.b.c\r\n", "a.b.c", NULL);
    expect_token("/v1/ws", "authorization: bearer   a.b.c\r\n", "a.b.c", NULL);
    expect_token("/v1/ws", "Authorization: Basic dXNlcjpwYXNz\r\n", NULL, NULL);
    expect_token("/v1/ws", "Authorization: Bearerx.y.z\r\n", NULL, NULL);
    /* "Bearer " with nothing after it is a (blank, so refused) token. */
    struct http_request req;
    parse_head(&req, "/v1/ws", "Authorization: Bearer \r\n");
    struct auth_token t;
    auth_find_token(&t, &req);
    /* The parser trims trailing whitespace, leaving "Bearer": no token. */
    assert_null(t.token);
}

static void test_token_in_subprotocol(void **state)
{
    (void)state;
    expect_token("/v1/ws", "Sec-WebSocket-Protocol: ringcast, bearer.a.b.c\r\n", "a.b.c",
                 "bearer.a.b.c");
    expect_token("/v1/ws", "Sec-WebSocket-Protocol: bearer.x.y.z\r\n", "x.y.z", "bearer.x.y.z");
    /* Split over two headers. */
    expect_token("/v1/ws",
                 "Sec-WebSocket-Protocol: chat\r\nSec-WebSocket-Protocol: bearer.k.l.m\r\n",
                 "k.l.m", "bearer.k.l.m");
    /* "bearer." alone carries nothing. */
    expect_token("/v1/ws", "Sec-WebSocket-Protocol: bearer.\r\n", NULL, NULL);
    expect_token("/v1/ws", "Sec-WebSocket-Protocol: chat, superchat\r\n", NULL, NULL);
}

static void test_subprotocol_answer(void **state)
{
    (void)state;
    struct http_request req;
    struct auth_token t;
    size_t len = 0;

    /* "ringcast" is preferred when offered. */
    parse_head(&req, "/v1/ws", "Sec-WebSocket-Protocol: bearer.a.b.c, ringcast\r\n");
    auth_find_token(&t, &req);
    const char *chosen = auth_subprotocol(&req, &t, &len);
    assert_non_null(chosen);
    assert_int_equal(len, 8);
    assert_memory_equal(chosen, "ringcast", 8);

    /* Otherwise the entry the token came in is echoed exactly. */
    parse_head(&req, "/v1/ws", "Sec-WebSocket-Protocol: bearer.a.b.c\r\n");
    auth_find_token(&t, &req);
    chosen = auth_subprotocol(&req, &t, &len);
    assert_non_null(chosen);
    assert_int_equal(len, 12);
    assert_memory_equal(chosen, "bearer.a.b.c", 12);

    /* Nothing we know: no Sec-WebSocket-Protocol in the answer. */
    parse_head(&req, "/v1/ws", "Sec-WebSocket-Protocol: chat\r\n");
    auth_find_token(&t, &req);
    assert_null(auth_subprotocol(&req, &t, &len));
    parse_head(&req, "/v1/ws?token=a.b.c", "");
    auth_find_token(&t, &req);
    assert_null(auth_subprotocol(&req, &t, &len));
}

static struct claims *claims(const char *json)
{
    const char *reason = NULL;
    struct claims *c = claims_parse(json, strlen(json), &reason);
    if (!c)
        fail_msg("claims %s: %s", json, reason);
    return c;
}

static void test_may_subscribe_and_publish(void **state)
{
    (void)state;
    struct claims *c = claims("{\"subscribe\":[\"customer_id:42:>\",\"news\"],"
                              "\"publish\":[\"customer_id:42:call:*\"]}");
    static const struct {
        const char *name;
        bool allowed;
    } subs[] = {
        {"customer_id:42:call:*", true},
        {"customer_id:42:>", true},
        {"customer_id:42:a:b:c", true},
        {"news", true},
        {"customer_id:*:call:*", false},
        {"customer_id:43:call:*", false},
        {"customer_id:42", false},
        {"news:x", false},
        {"*", false},
        {">", false},
    };
    for (size_t i = 0; i < sizeof(subs) / sizeof(subs[0]); i++)
        if (auth_may_subscribe(c, subs[i].name, strlen(subs[i].name)) != subs[i].allowed)
            fail_msg("subscribe %s: want %d", subs[i].name, subs[i].allowed);
    assert_true(auth_may_publish(c, "customer_id:42:call:7", 21));
    assert_false(auth_may_publish(c, "customer_id:42:call:7:x", 23));
    assert_false(auth_may_publish(c, "news", 4));
    claims_free(c);

    /* No claims at all: nothing allowed. Open mode (NULL): everything. */
    c = claims("{\"sub\":\"u\"}");
    assert_false(auth_may_subscribe(c, "a", 1));
    assert_false(auth_may_publish(c, "a", 1));
    claims_free(c);
    assert_true(auth_may_subscribe(NULL, "*", 1));
    assert_true(auth_may_publish(NULL, "a", 1));

    /* "*" in the token allows everything. */
    c = claims("{\"subscribe\":[\"*\"],\"publish\":[\">\"]}");
    assert_true(auth_may_subscribe(c, "a:b:*", 5));
    assert_true(auth_may_subscribe(c, "*", 1));
    assert_true(auth_may_publish(c, "a.b.c", 5));
    claims_free(c);
}

static int64_t wall_seconds(void)
{
    return (int64_t)time(NULL);
}

static void test_expires(void **state)
{
    (void)state;
    const int64_t now_ms = 5000; /* a monotonic clock reading */
    struct claims *c = claims("{\"sub\":\"u\"}");
    assert_int_equal(auth_expires_ms(c, now_ms), 0); /* no exp: never */
    assert_int_equal(auth_expires_ms(NULL, now_ms), 0);
    claims_free(c);

    char json[128];
    snprintf(json, sizeof(json), "{\"exp\":%lld}", (long long)(wall_seconds() + 60));
    c = claims(json);
    int64_t at = auth_expires_ms(c, now_ms);
    assert_true(at > now_ms + 58000 && at <= now_ms + 60000);
    claims_free(c);

    /* In the past: expires at once, never "0 = no expiry". */
    snprintf(json, sizeof(json), "{\"exp\":%lld}", (long long)(wall_seconds() - 60));
    c = claims(json);
    assert_int_equal(auth_expires_ms(c, now_ms), now_ms + 1);
    claims_free(c);

    /* Far future: no overflow, and still in the future. */
    static const char *const far[] = {"{\"exp\":9223372036854775807}", "{\"exp\":1e300}",
                                      "{\"exp\":9300000000000000}"};
    for (size_t i = 0; i < sizeof(far) / sizeof(far[0]); i++) {
        const char *reason = NULL;
        c = claims_parse(far[i], strlen(far[i]), &reason);
        if (!c)
            continue; /* refusing such a claim is fine too */
        at = auth_expires_ms(c, now_ms);
        if (at <= now_ms + (int64_t)1000 * 3600 * 24 * 365 * 1000)
            fail_msg("%s: expires at %lld", far[i], (long long)at);
        claims_free(c);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_token_in_query),
        cmocka_unit_test(test_token_in_authorization),
        cmocka_unit_test(test_token_in_subprotocol),
        cmocka_unit_test(test_subprotocol_answer),
        cmocka_unit_test(test_may_subscribe_and_publish),
        cmocka_unit_test(test_expires),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
