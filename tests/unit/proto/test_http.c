/* test_http.c: unit tests for the HTTP/1.1 request head parser (src/proto/http.c).
 *
 * Every input is copied into a heap buffer of exactly its length before it is
 * parsed, so that under AddressSanitizer a read past |len| fails the test. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto/http.h"

static const struct http_limits default_limits = {
    .max_head_bytes = 8192,
    .max_target_bytes = 1024,
    .max_headers = 64,
};

/* repoint moves |*p| from inside |from| to the same offset inside |to|. */
static void repoint(const char **p, const char *from, const char *to)
{
    if (*p != NULL)
        *p = to + (*p - from);
}

/* parse_exact parses the |len| bytes at |s| from a heap copy of exactly |len|
 * bytes, then points the results back into |s|. */
static int parse_exact(struct http_request *req, const char *s, size_t len,
                       const struct http_limits *limits)
{
    char *copy = malloc(len > 0 ? len : 1);
    assert_non_null(copy);
    memcpy(copy, s, len);
    int rc = http_parse_request(req, copy, len, limits);
    if (rc >= 0) {
        repoint(&req->method_str, copy, s);
        repoint(&req->target, copy, s);
        repoint(&req->path, copy, s);
        repoint(&req->query, copy, s);
        for (size_t i = 0; i < req->num_headers; i++) {
            repoint(&req->headers[i].name, copy, s);
            repoint(&req->headers[i].value, copy, s);
        }
    }
    free(copy);
    return rc;
}

static int parse(struct http_request *req, const char *s)
{
    return parse_exact(req, s, strlen(s), &default_limits);
}

static int parse_with(struct http_request *req, const char *s, const struct http_limits *limits)
{
    return parse_exact(req, s, strlen(s), limits);
}

static void assert_error_with(const char *s, const struct http_limits *limits, int status)
{
    struct http_request req;
    int rc = parse_with(&req, s, limits);
    if (rc != -1 || req.error_status != status)
        print_error("input: \"%s\" rc=%d status=%d\n", s, rc, req.error_status);
    assert_int_equal(rc, -1);
    assert_int_equal(req.error_status, status);
    assert_non_null(req.error_reason);
    assert_true(strlen(req.error_reason) > 0);
}

static void assert_error(const char *s, int status)
{
    assert_error_with(s, &default_limits, status);
}

static void assert_reason(const char *s, const char *reason)
{
    struct http_request req;
    assert_int_equal(parse(&req, s), -1);
    assert_string_equal(req.error_reason, reason);
}

static void assert_ok(const char *s)
{
    struct http_request req;
    int rc = parse(&req, s);
    if (rc != (int)strlen(s))
        print_error("input: \"%s\" rc=%d reason=%s\n", s, rc,
                    req.error_reason ? req.error_reason : "-");
    assert_int_equal(rc, (int)strlen(s));
}

static void assert_mem(const char *got, size_t got_len, const char *want)
{
    assert_non_null(got);
    assert_int_equal(got_len, strlen(want));
    assert_memory_equal(got, want, got_len);
}

static void assert_header(const struct http_request *req, const char *name, const char *value)
{
    const struct http_header *h = http_find_header(req, name);
    assert_non_null(h);
    assert_mem(h->value, h->value_len, value);
}

/* ---- Valid requests ---- */

static void test_get_with_headers_and_query(void **state)
{
    const char *s = "GET /v1/sse?topic=a&topic=b HTTP/1.1\r\n"
                    "Host: example.com:8080\r\n"
                    "Accept: text/event-stream\r\n"
                    "X-Empty:\r\n"
                    "Last-Event-ID:   17 \t\r\n"
                    "\r\n";
    struct http_request req;
    assert_int_equal(parse(&req, s), (int)strlen(s));
    assert_int_equal(req.method, HTTP_GET);
    assert_mem(req.method_str, req.method_len, "GET");
    assert_mem(req.target, req.target_len, "/v1/sse?topic=a&topic=b");
    assert_mem(req.path, req.path_len, "/v1/sse");
    assert_mem(req.query, req.query_len, "topic=a&topic=b");
    assert_int_equal(req.minor_version, 1);
    assert_int_equal(req.num_headers, 4);
    assert_mem(req.headers[0].name, req.headers[0].name_len, "Host");
    assert_header(&req, "host", "example.com:8080");
    assert_header(&req, "ACCEPT", "text/event-stream");
    assert_header(&req, "x-empty", "");
    assert_header(&req, "last-event-id", "17");
    assert_int_equal(req.content_length, -1);
    assert_false(req.chunked);
    assert_true(req.keep_alive);
    assert_false(req.upgrade);
}

static void test_http10_without_host(void **state)
{
    struct http_request req;
    const char *s = "GET / HTTP/1.0\r\n\r\n";
    assert_int_equal(parse(&req, s), (int)strlen(s));
    assert_int_equal(req.minor_version, 0);
    assert_int_equal(req.num_headers, 0);
    assert_false(req.keep_alive);
    assert_null(req.query);
}

static void test_methods(void **state)
{
    static const struct {
        const char *name;
        enum http_method method;
    } cases[] = {
        {"GET", HTTP_GET},        {"HEAD", HTTP_HEAD},
        {"POST", HTTP_POST},      {"PUT", HTTP_PUT},
        {"DELETE", HTTP_DELETE},  {"OPTIONS", HTTP_OPTIONS},
        {"PATCH", HTTP_PATCH},    {"get", HTTP_OTHER},
        {"Get", HTTP_OTHER},      {"GETS", HTTP_OTHER},
        {"PROPFIND", HTTP_OTHER}, {"M-SEARCH", HTTP_OTHER},
        {"CONNECT", HTTP_OTHER},  {"!#$%&'*+-.^_`|~09", HTTP_OTHER},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char s[256];
        snprintf(s, sizeof(s), "%s / HTTP/1.1\r\nHost: a\r\n\r\n", cases[i].name);
        struct http_request req;
        assert_int_equal(parse(&req, s), (int)strlen(s));
        assert_int_equal(req.method, cases[i].method);
        assert_mem(req.method_str, req.method_len, cases[i].name);
    }
}

static void test_target_forms(void **state)
{
    struct http_request req;
    const char *star = "OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n";
    assert_int_equal(parse(&req, star), (int)strlen(star));
    assert_mem(req.path, req.path_len, "*");
    assert_null(req.query);

    const char *absolute = "GET http://a.example/x?y=1 HTTP/1.1\r\nHost: a.example\r\n\r\n";
    assert_int_equal(parse(&req, absolute), (int)strlen(absolute));
    assert_mem(req.path, req.path_len, "/x");
    assert_mem(req.query, req.query_len, "y=1");
    assert_mem(req.target, req.target_len, "http://a.example/x?y=1");

    const char *no_path = "GET HTTPS://a.example:8080?q HTTP/1.1\r\nHost: a.example\r\n\r\n";
    assert_int_equal(parse(&req, no_path), (int)strlen(no_path));
    assert_int_equal(req.path_len, 0);
    assert_mem(req.query, req.query_len, "q");

    const char *other_scheme = "GET ftp://a.example/x HTTP/1.1\r\nHost: a.example\r\n\r\n";
    assert_int_equal(parse(&req, other_scheme), (int)strlen(other_scheme));
    assert_mem(req.path, req.path_len, "ftp://a.example/x");
    assert_null(req.query);

    const char *authority = "CONNECT a.example:443 HTTP/1.1\r\nHost: a.example:443\r\n\r\n";
    assert_int_equal(parse(&req, authority), (int)strlen(authority));
    assert_mem(req.path, req.path_len, "a.example:443");
    assert_null(req.query);

    const char *no_query = "GET /metrics HTTP/1.1\r\nHost: a\r\n\r\n";
    assert_int_equal(parse(&req, no_query), (int)strlen(no_query));
    assert_mem(req.path, req.path_len, "/metrics");
    assert_null(req.query);

    const char *empty_query = "GET /x? HTTP/1.1\r\nHost: a\r\n\r\n";
    assert_int_equal(parse(&req, empty_query), (int)strlen(empty_query));
    assert_mem(req.path, req.path_len, "/x");
    assert_non_null(req.query);
    assert_int_equal(req.query_len, 0);

    const char *two_marks = "GET /x?a=?&b HTTP/1.1\r\nHost: a\r\n\r\n";
    assert_int_equal(parse(&req, two_marks), (int)strlen(two_marks));
    assert_mem(req.path, req.path_len, "/x");
    assert_mem(req.query, req.query_len, "a=?&b");
}

static void test_header_value_characters(void **state)
{
    struct http_request req;
    const char *s = "GET / HTTP/1.1\r\nHost: a\r\n"
                    "X-Tab: a\tb\r\n"
                    "X-Obs: caf\xc3\xa9 \xff\r\n"
                    "X-Trim:\t \t v a l \t \r\n"
                    "X-Only-Space:    \r\n"
                    "X-Colon: a:b: c\r\n"
                    "\r\n";
    assert_int_equal(parse(&req, s), (int)strlen(s));
    assert_header(&req, "x-tab", "a\tb");
    assert_header(&req, "x-obs", "caf\xc3\xa9 \xff");
    assert_header(&req, "x-trim", "v a l");
    assert_header(&req, "x-only-space", "");
    assert_header(&req, "x-colon", "a:b: c");
}

/* ---- Request line errors ---- */

static void test_method_errors(void **state)
{
    assert_error(" / HTTP/1.1\r\nHost: a\r\n\r\n", 400);
    assert_error("G@T / HTTP/1.1\r\nHost: a\r\n\r\n", 400);
    assert_error("GE(T / HTTP/1.1\r\nHost: a\r\n\r\n", 400);
    assert_error("G\xc3\x89T / HTTP/1.1\r\nHost: a\r\n\r\n", 400);
    assert_error("GET\t/ HTTP/1.1\r\nHost: a\r\n\r\n", 400);
    assert_error("\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n", 400);
    assert_error("GET\r\n\r\n", 400);
}

static void test_request_line_spacing(void **state)
{
    assert_error("GET  / HTTP/1.1\r\nHost: a\r\n\r\n", 400);
    assert_error("GET /  HTTP/1.1\r\nHost: a\r\n\r\n", 400);
    assert_error("GET / HTTP/1.1 \r\nHost: a\r\n\r\n", 400);
    assert_error("GET /\tHTTP/1.1\r\nHost: a\r\n\r\n", 400);
    assert_error(" GET / HTTP/1.1\r\nHost: a\r\n\r\n", 400);
    assert_error("GET / \r\nHost: a\r\n\r\n", 400);
}

static void test_missing_version(void **state)
{
    assert_reason("GET /\r\nHost: a\r\n\r\n", "missing HTTP version");
    assert_error("GET /\r\n\r\n", 400);
}

static void test_version_errors(void **state)
{
    assert_error("GET / HTTP/2.0\r\nHost: a\r\n\r\n", 505);
    assert_error("GET / HTTP/1.2\r\nHost: a\r\n\r\n", 505);
    assert_error("GET / HTTP/0.9\r\n\r\n", 505);
    assert_error("GET / HTTP/9.9\r\n\r\n", 505);
    assert_error("GET / HTTP/1.1x\r\nHost: a\r\n\r\n", 400);
    assert_error("GET / HTTP/2.0x\r\nHost: a\r\n\r\n", 400);
    assert_error("GET / http/1.1\r\nHost: a\r\n\r\n", 400);
    assert_error("GET / HTTP/1\r\nHost: a\r\n\r\n", 400);
    assert_error("GET / HTTP/11.1\r\nHost: a\r\n\r\n", 400);
    assert_error("GET / HTTP/1.10\r\nHost: a\r\n\r\n", 400);
    assert_error("GET / HTTP/2\r\nHost: a\r\n\r\n", 400);
    assert_error("GET / HTTP/1,1\r\nHost: a\r\n\r\n", 400);
    assert_error("GET / HTTPS/1.1\r\nHost: a\r\n\r\n", 400);
}

static void test_target_errors(void **state)
{
    assert_reason("GET  HTTP/1.1\r\nHost: a\r\n\r\n", "empty request target");
    assert_error("GET /a\x01 HTTP/1.1\r\nHost: a\r\n\r\n", 400);
    assert_error("GET /a\x7f HTTP/1.1\r\nHost: a\r\n\r\n", 400);
    assert_error("GET /caf\xc3\xa9 HTTP/1.1\r\nHost: a\r\n\r\n", 400);
    assert_error("GET /a\tb HTTP/1.1\r\nHost: a\r\n\r\n", 400);
    static const char with_nul[] = "GET /a\0b HTTP/1.1\r\nHost: a\r\n\r\n";
    struct http_request req;
    assert_int_equal(parse_exact(&req, with_nul, sizeof(with_nul) - 1, &default_limits), -1);
    assert_int_equal(req.error_status, 400);
}

static void test_target_limit(void **state)
{
    const struct http_limits limits = {
        .max_head_bytes = 8192, .max_target_bytes = 16, .max_headers = 64};
    struct http_request req;
    const char *at_limit = "GET /123456789abcdef HTTP/1.1\r\nHost: a\r\n\r\n";
    assert_int_equal(parse_with(&req, at_limit, &limits), (int)strlen(at_limit));
    assert_int_equal(req.target_len, 16);

    assert_error_with("GET /123456789abcdefg HTTP/1.1\r\nHost: a\r\n\r\n", &limits, 414);
    /* 414 before the rest of the head has arrived. */
    assert_error_with("GET /123456789abcdefg", &limits, 414);
    /* At the limit and incomplete: not yet an error. */
    assert_int_equal(parse_with(&req, "GET /123456789abcdef", &limits), -2);
}

/* ---- Line endings ---- */

static void test_bare_lf(void **state)
{
    assert_reason("GET / HTTP/1.1\nHost: a\r\n\r\n", "bare LF in head");
    assert_reason("GET / HTTP/1.1\r\nHost: a\n\r\n", "bare LF in head");
    assert_reason("GET / HTTP/1.1\r\nHost: a\r\n\n", "bare LF in head");
    assert_reason("GET / HTTP/1.1\r\nHost: a\r\nX: a\nb\r\n\r\n", "bare LF in head");
    assert_reason("GET /\n HTTP/1.1\r\nHost: a\r\n\r\n", "bare LF in head");
    assert_reason("GET\n/ HTTP/1.1\r\nHost: a\r\n\r\n", "bare LF in head");
    assert_reason("GET / HTTP/1.1\r\nHo\nst: a\r\n\r\n", "bare LF in head");
    assert_reason("\n", "bare LF in head");
}

static void test_bare_cr(void **state)
{
    assert_reason("GET / HTTP/1.1\rHost: a\r\n\r\n", "bare CR in head");
    assert_reason("GET / HTTP/1.1\r\nHost: a\rX\r\n\r\n", "bare CR in head");
    assert_reason("GET / HTTP/1.1\r\nHost: a\r\n\rX", "bare CR in head");
    assert_reason("GET / HTTP/1.1\r\nHost: a\r\n\r\r\n", "bare CR in head");
    assert_reason("GET /\rx HTTP/1.1\r\nHost: a\r\n\r\n", "bare CR in head");
    assert_reason("GET / HTTP/1.1\r\nX\r: a\r\n\r\n", "bare CR in head");
}

/* ---- Header line errors ---- */

static void test_whitespace_before_colon(void **state)
{
    assert_reason("GET / HTTP/1.1\r\nHost : a\r\n\r\n", "whitespace before colon in header");
    assert_error("GET / HTTP/1.1\r\nHost: a\r\nX-A\t: b\r\n\r\n", 400);
}

static void test_bad_header_names(void **state)
{
    assert_reason("GET / HTTP/1.1\r\nHost: a\r\n: b\r\n\r\n", "empty header name");
    assert_error("GET / HTTP/1.1\r\nHost: a\r\nX@Y: b\r\n\r\n", 400);
    assert_error("GET / HTTP/1.1\r\nHost: a\r\nX Y: b\r\n\r\n", 400);
    assert_error("GET / HTTP/1.1\r\nHost: a\r\nNoColon\r\n\r\n", 400);
    assert_error("GET / HTTP/1.1\r\nHost: a\r\n\"X\": b\r\n\r\n", 400);
    assert_error("GET / HTTP/1.1\r\nHost: a\r\nX\xc3\xa9: b\r\n\r\n", 400);
}

static void test_obs_fold(void **state)
{
    assert_error("GET / HTTP/1.1\r\nHost: a\r\nX: b\r\n c\r\n\r\n", 400);
    assert_error("GET / HTTP/1.1\r\nHost: a\r\nX: b\r\n\tc\r\n\r\n", 400);
    /* Whitespace between the request line and the first header. */
    assert_error("GET / HTTP/1.1\r\n Host: a\r\n\r\n", 400);
}

static void test_control_chars_in_value(void **state)
{
    assert_reason("GET / HTTP/1.1\r\nHost: a\r\nX: a\x01\r\n\r\n",
                  "control character in header value");
    assert_error("GET / HTTP/1.1\r\nHost: a\r\nX: a\x7f\r\n\r\n", 400);
    assert_error("GET / HTTP/1.1\r\nHost: a\r\nX: \x1b[0m\r\n\r\n", 400);
    static const char with_nul[] = "GET / HTTP/1.1\r\nHost: a\r\nX: a\0b\r\n\r\n";
    struct http_request req;
    assert_int_equal(parse_exact(&req, with_nul, sizeof(with_nul) - 1, &default_limits), -1);
    assert_int_equal(req.error_status, 400);
}

/* ---- Limits ---- */

static void test_header_count_limit(void **state)
{
    const struct http_limits limits = {
        .max_head_bytes = 8192, .max_target_bytes = 1024, .max_headers = 3};
    struct http_request req;
    const char *three = "GET / HTTP/1.1\r\nHost: a\r\nA: 1\r\nB: 2\r\n\r\n";
    assert_int_equal(parse_with(&req, three, &limits), (int)strlen(three));
    assert_int_equal(req.num_headers, 3);
    assert_error_with("GET / HTTP/1.1\r\nHost: a\r\nA: 1\r\nB: 2\r\nC: 3\r\n\r\n", &limits, 431);
    /* 431 as soon as the extra line starts. */
    assert_error_with("GET / HTTP/1.1\r\nHost: a\r\nA: 1\r\nB: 2\r\nC", &limits, 431);
}

static void append(char *buf, size_t cap, size_t *len, const char *s)
{
    size_t n = strlen(s);
    assert_true(*len + n < cap);
    memcpy(buf + *len, s, n);
    *len += n;
    buf[*len] = '\0';
}

/* build_request writes a request with |num_headers| headers, the first Host. */
static void build_request(char *buf, size_t cap, size_t num_headers)
{
    size_t len = 0;
    buf[0] = '\0';
    append(buf, cap, &len, "GET / HTTP/1.1\r\nHost: a\r\n");
    for (size_t i = 1; i < num_headers; i++) {
        char line[48];
        snprintf(line, sizeof(line), "X-%zu: %zu\r\n", i, i);
        append(buf, cap, &len, line);
    }
    append(buf, cap, &len, "\r\n");
}

static void test_header_count_clamped_to_array(void **state)
{
    const struct http_limits limits = {
        .max_head_bytes = 65536, .max_target_bytes = 1024, .max_headers = 1000};
    char buf[4096];
    struct http_request req;
    build_request(buf, sizeof(buf), HTTP_MAX_HEADERS);
    assert_int_equal(parse_with(&req, buf, &limits), (int)strlen(buf));
    assert_int_equal(req.num_headers, HTTP_MAX_HEADERS);
    build_request(buf, sizeof(buf), HTTP_MAX_HEADERS + 1);
    assert_error_with(buf, &limits, 431);
}

static void test_head_size_limit(void **state)
{
    const char *s = "GET / HTTP/1.1\r\nHost: a\r\nX: 0123456789\r\n\r\n";
    size_t n = strlen(s);
    struct http_limits limits = {.max_head_bytes = n, .max_target_bytes = 1024, .max_headers = 64};
    struct http_request req;
    /* Exactly at the limit. */
    assert_int_equal(parse_with(&req, s, &limits), (int)n);
    /* Exactly at the limit with pipelined bytes after it. */
    char more[256];
    snprintf(more, sizeof(more), "%sGET / HTTP/1.1\r\n", s);
    assert_int_equal(parse_with(&req, more, &limits), (int)n);
    /* One byte over. */
    limits.max_head_bytes = n - 1;
    assert_error_with(s, &limits, 431);
    /* The buffer holds max_head_bytes without a complete head: 431, not -2. */
    limits.max_head_bytes = 20;
    assert_error_with("GET / HTTP/1.1\r\nHost", &limits, 431); /* exactly 20 bytes */
    assert_int_equal(parse_with(&req, "GET / HTTP/1.1\r\nHos", &limits), -2);
    assert_error_with("GET / HTTP/1.1\r\nHost: a", &limits, 431);
}

/* ---- Host ---- */

static void test_host_rules(void **state)
{
    assert_reason("GET / HTTP/1.1\r\nAccept: */*\r\n\r\n", "Host header missing");
    assert_reason("GET / HTTP/1.1\r\nHost: a\r\nHost: a\r\n\r\n", "more than one Host header");
    assert_error("GET / HTTP/1.1\r\nHost: a\r\nhost: b\r\n\r\n", 400);
    assert_error("GET / HTTP/1.0\r\nHost: a\r\nHost: b\r\n\r\n", 400);
    assert_ok("GET / HTTP/1.0\r\nHost: a\r\n\r\n");
    assert_ok("GET / HTTP/1.1\r\nhOsT: a\r\n\r\n");
    /* An empty Host is valid (RFC 9110 section 7.2). */
    assert_ok("GET / HTTP/1.1\r\nHost:\r\n\r\n");
}

/* ---- Content-Length ---- */

static int64_t content_length_of(const char *headers)
{
    char s[512];
    snprintf(s, sizeof(s), "POST /v1/publish HTTP/1.1\r\nHost: a\r\n%s\r\n", headers);
    struct http_request req;
    assert_int_equal(parse(&req, s), (int)strlen(s));
    return req.content_length;
}

static void assert_content_length_error(const char *headers)
{
    char s[512];
    snprintf(s, sizeof(s), "POST /v1/publish HTTP/1.1\r\nHost: a\r\n%s\r\n", headers);
    assert_error(s, 400);
}

static void test_content_length(void **state)
{
    assert_int_equal(content_length_of("Content-Length: 42\r\n"), 42);
    assert_int_equal(content_length_of("content-length: 0\r\n"), 0);
    assert_int_equal(content_length_of("Content-Length:  7  \r\n"), 7);
    assert_int_equal(content_length_of("Content-Length: 9223372036854775807\r\n"), INT64_MAX);
    assert_int_equal(content_length_of("Content-Length: 000\r\n"), 0);
    assert_int_equal(content_length_of(""), -1);
}

static void test_content_length_errors(void **state)
{
    assert_content_length_error("Content-Length: 9223372036854775808\r\n");
    assert_content_length_error("Content-Length: 99999999999999999999999\r\n");
    assert_content_length_error("Content-Length: -1\r\n");
    assert_content_length_error("Content-Length: +1\r\n");
    assert_content_length_error("Content-Length: 1 2\r\n");
    assert_content_length_error("Content-Length: \r\n");
    assert_content_length_error("Content-Length: 5, 5\r\n");
    assert_content_length_error("Content-Length: 5,\r\n");
    assert_content_length_error("Content-Length: abc\r\n");
    assert_content_length_error("Content-Length: 0x10\r\n");
    assert_content_length_error("Content-Length: 1.0\r\n");
}

static void test_content_length_repeated(void **state)
{
    assert_int_equal(content_length_of("Content-Length: 5\r\nContent-Length: 5\r\n"), 5);
    /* Repeats are compared as numbers (RFC 9112 section 6.3: "the same
     * decimal value"). */
    assert_int_equal(content_length_of("Content-Length: 5\r\nContent-Length: 05\r\n"), 5);
    assert_content_length_error("Content-Length: 5\r\nContent-Length: 6\r\n");
    assert_content_length_error("Content-Length: 5\r\nContent-Length: x\r\n");
    assert_content_length_error("Content-Length: 5\r\nX: y\r\nContent-Length: 0\r\n");
}

/* ---- Transfer-Encoding ---- */

static void test_transfer_encoding(void **state)
{
    struct http_request req;
    const char *s = "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n";
    assert_int_equal(parse(&req, s), (int)strlen(s));
    assert_true(req.chunked);
    assert_int_equal(req.content_length, -1);

    const char *upper = "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: CHUNKED \r\n\r\n";
    assert_int_equal(parse(&req, upper), (int)strlen(upper));
    assert_true(req.chunked);

    const char *empty_items = "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: ,chunked,\r\n\r\n";
    assert_int_equal(parse(&req, empty_items), (int)strlen(empty_items));
    assert_true(req.chunked);

    const char *none = "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\r\n";
    assert_int_equal(parse(&req, none), (int)strlen(none));
    assert_false(req.chunked);
}

static void test_transfer_encoding_errors(void **state)
{
    assert_reason("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n"
                  "Content-Length: 5\r\n\r\n",
                  "both Content-Length and Transfer-Encoding");
    assert_error("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n"
                 "Transfer-Encoding: chunked\r\n\r\n",
                 400);
    assert_reason("POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n",
                  "Transfer-Encoding in an HTTP/1.0 request");
    assert_error("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked, gzip\r\n\r\n", 400);
    assert_error("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip\r\n\r\n", 400);
    assert_error("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked, chunked\r\n\r\n", 400);
    assert_error("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding:\r\n\r\n", 400);
    assert_error("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n"
                 "Transfer-Encoding: identity\r\n\r\n",
                 400);
    assert_error("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: xchunked\r\n\r\n", 400);
}

static void test_transfer_encoding_unsupported(void **state)
{
    assert_reason("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip, chunked\r\n\r\n",
                  "unsupported transfer coding");
    assert_error("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip\r\n"
                 "Transfer-Encoding: chunked\r\n\r\n",
                 501);
}

/* ---- Connection ---- */

static void assert_connection(const char *version, const char *connection, bool keep_alive,
                              bool upgrade)
{
    char s[512];
    snprintf(s, sizeof(s), "GET / %s\r\nHost: a\r\n%s\r\n", version, connection);
    struct http_request req;
    assert_int_equal(parse(&req, s), (int)strlen(s));
    assert_int_equal(req.keep_alive, keep_alive);
    assert_int_equal(req.upgrade, upgrade);
}

static void test_keep_alive(void **state)
{
    assert_connection("HTTP/1.1", "", true, false);
    assert_connection("HTTP/1.1", "Connection: close\r\n", false, false);
    assert_connection("HTTP/1.1", "Connection: Close\r\n", false, false);
    assert_connection("HTTP/1.1", "Connection: keep-alive\r\n", true, false);
    assert_connection("HTTP/1.1", "Connection: keep-alive, close\r\n", false, false);
    assert_connection("HTTP/1.1", "Connection: foo\r\nConnection: close\r\n", false, false);
    assert_connection("HTTP/1.1", "Connection: closed\r\n", true, false);
    assert_connection("HTTP/1.1", "X-Connection: close\r\n", true, false);
    assert_connection("HTTP/1.0", "", false, false);
    assert_connection("HTTP/1.0", "Connection: keep-alive\r\n", true, false);
    assert_connection("HTTP/1.0", "Connection: Keep-Alive\r\n", true, false);
    assert_connection("HTTP/1.0", "Connection: close, keep-alive\r\n", false, false);
    assert_connection("HTTP/1.0", "Connection: keep-alives\r\n", false, false);
}

static void test_upgrade_flag(void **state)
{
    assert_connection("HTTP/1.1", "Connection: Upgrade\r\n", true, true);
    assert_connection("HTTP/1.1", "Connection: keep-alive, Upgrade\r\n", true, true);
    assert_connection("HTTP/1.1", "Connection: upgrade, close\r\n", false, true);
    assert_connection("HTTP/1.1", "Upgrade: websocket\r\n", true, false);
    assert_connection("HTTP/1.1", "Connection: upgrades\r\n", true, false);
}

/* ---- Incremental use ---- */

static const char browser_upgrade[] =
    "GET /v1/ws?token=eyJhbGciOiJIUzI1NiJ9.e30.sig HTTP/1.1\r\n"
    "Host: localhost:8080\r\n"
    "Connection: Upgrade\r\n"
    "Pragma: no-cache\r\n"
    "Cache-Control: no-cache\r\n"
    "User-Agent: Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/124.0.0.0 Safari/537.36\r\n"
    "Upgrade: websocket\r\n"
    "Origin: http://localhost:8080\r\n"
    "Sec-WebSocket-Version: 13\r\n"
    "Accept-Encoding: gzip, deflate, br, zstd\r\n"
    "Accept-Language: en-US,en;q=0.9\r\n"
    "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
    "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n"
    "Sec-WebSocket-Protocol: ringcast.v1, bearer.eyJhbGciOiJIUzI1NiJ9\r\n"
    "\r\n";

static void test_every_prefix_is_partial(void **state)
{
    size_t n = sizeof(browser_upgrade) - 1;
    struct http_request req;
    for (size_t i = 0; i < n; i++) {
        int rc = parse_exact(&req, browser_upgrade, i, &default_limits);
        if (rc != -2)
            print_error("prefix of %zu bytes: rc=%d reason=%s\n", i, rc,
                        req.error_reason ? req.error_reason : "-");
        assert_int_equal(rc, -2);
    }
    assert_int_equal(parse_exact(&req, browser_upgrade, n, &default_limits), (int)n);
}

static void test_prefix_inside_crlf(void **state)
{
    struct http_request req;
    assert_int_equal(parse(&req, "GET / HTTP/1.1\r"), -2);
    assert_int_equal(parse(&req, "GET / HTTP/1.1\r\nHost: a\r"), -2);
    assert_int_equal(parse(&req, "GET / HTTP/1.1\r\nHost: a\r\n\r"), -2);
    assert_int_equal(parse(&req, "GET / HTTP/1.1\r\nHost: a  \r"), -2);
    assert_int_equal(parse(&req, "GET / HTTP/1.1\r\nHost:"), -2);
    assert_int_equal(parse(&req, "GET / HTTP/1.1\r\nHost: "), -2);
    assert_int_equal(parse(&req, "GET / HTTP/2.0"), -2);
    assert_int_equal(parse(&req, ""), -2);
}

static void test_error_found_early(void **state)
{
    /* Errors are reported before the rest of the head arrives. */
    assert_error("G\x01", 400);
    assert_error("GET  ", 400);
    assert_error("GET / HTTX", 400);
    assert_error("GET / HTTP/1.1\n", 400);
    assert_error("GET / HTTP/1.1\r\nHost: a\r\nX : ", 400);
    assert_error("GET / HTTP/1.1\r\nHost: a\r\n ", 400);
    assert_error("GET / HTTP/1.1\r\nHost: a\x01", 400);
    assert_error("GET / HTTP/1.1\r\nHost: a\rx", 400);
    assert_error("GET / HTTP/2.0\r\n", 505);
}

/* test_byte_at_a_time feeds a stream of pipelined requests one byte at a
 * time into a growing buffer, as a connection would, and takes each head off
 * the front of the buffer when it is complete. */
static void test_byte_at_a_time(void **state)
{
    static const char stream[] = "GET /a HTTP/1.1\r\nHost: x\r\n\r\n"
                                 "POST /v1/publish HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n"
                                 "GET /c?q=1 HTTP/1.0\r\n\r\n";
    static const char *const paths[] = {"/a", "/v1/publish", "/c"};
    char buf[sizeof(stream)];
    size_t buf_len = 0;
    size_t done = 0;
    struct http_request req;
    for (size_t i = 0; i < sizeof(stream) - 1; i++) {
        buf[buf_len++] = stream[i];
        int rc = parse_exact(&req, buf, buf_len, &default_limits);
        if (rc == -2)
            continue;
        assert_int_equal(rc, (int)buf_len);
        assert_true(done < 3);
        assert_int_equal(req.path_len, strlen(paths[done]));
        assert_memory_equal(req.path, paths[done], req.path_len);
        done++;
        buf_len = 0;
    }
    assert_int_equal(done, 3);
    assert_int_equal(buf_len, 0);
}

static void test_pipelined_bytes_not_consumed(void **state)
{
    const char *first = "POST /v1/publish HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\n";
    char s[512];
    snprintf(s, sizeof(s), "%shelloGET /x HTTP/1.1\r\nHost: a\r\n\r\n", first);
    struct http_request req;
    int rc = parse(&req, s);
    assert_int_equal(rc, (int)strlen(first));
    assert_int_equal(req.content_length, 5);
    assert_memory_equal(s + rc, "hello", 5);

    const char *second = s + rc + 5;
    assert_int_equal(parse(&req, second), (int)strlen(second));
    assert_mem(req.path, req.path_len, "/x");

    /* The bytes after the head may be anything, even garbage. */
    snprintf(s, sizeof(s), "GET / HTTP/1.1\r\nHost: a\r\n\r\n\n\x01\r");
    assert_int_equal(parse(&req, s), (int)strlen(s) - 3);
}

/* ---- Real clients ---- */

static void test_browser_websocket_upgrade(void **state)
{
    struct http_request req;
    size_t n = sizeof(browser_upgrade) - 1;
    assert_int_equal(parse_exact(&req, browser_upgrade, n, &default_limits), (int)n);
    assert_int_equal(req.method, HTTP_GET);
    assert_mem(req.path, req.path_len, "/v1/ws");
    assert_mem(req.query, req.query_len, "token=eyJhbGciOiJIUzI1NiJ9.e30.sig");
    assert_true(req.upgrade);
    assert_true(req.keep_alive);
    assert_int_equal(req.num_headers, 13);
    assert_header(&req, "upgrade", "websocket");
    assert_header(&req, "sec-websocket-key", "dGhlIHNhbXBsZSBub25jZQ==");
    assert_header(&req, "sec-websocket-version", "13");
    assert_header(&req, "sec-websocket-protocol", "ringcast.v1, bearer.eyJhbGciOiJIUzI1NiJ9");
    const struct http_header *h = http_find_header(&req, "sec-websocket-protocol");
    assert_true(http_has_token(h->value, h->value_len, "ringcast.v1"));
}

static void test_firefox_websocket_upgrade(void **state)
{
    const char *s = "GET /v1/ws HTTP/1.1\r\n"
                    "Host: localhost:8080\r\n"
                    "User-Agent: Mozilla/5.0 (X11; Linux x86_64; rv:125.0) Gecko/20100101 "
                    "Firefox/125.0\r\n"
                    "Accept: */*\r\n"
                    "Accept-Language: en-US,en;q=0.5\r\n"
                    "Accept-Encoding: gzip, deflate, br\r\n"
                    "Sec-WebSocket-Version: 13\r\n"
                    "Origin: http://localhost:8080\r\n"
                    "Sec-WebSocket-Extensions: permessage-deflate\r\n"
                    "Sec-WebSocket-Key: x3JJHMbDL1EzLkh9GBhXDw==\r\n"
                    "Connection: keep-alive, Upgrade\r\n"
                    "Sec-Fetch-Dest: empty\r\n"
                    "Sec-Fetch-Mode: websocket\r\n"
                    "Sec-Fetch-Site: same-origin\r\n"
                    "Pragma: no-cache\r\n"
                    "Cache-Control: no-cache\r\n"
                    "Upgrade: websocket\r\n"
                    "\r\n";
    struct http_request req;
    assert_int_equal(parse(&req, s), (int)strlen(s));
    assert_true(req.upgrade);
    assert_true(req.keep_alive);
    assert_null(req.query);
}

static void test_python_websocket_client_upgrade(void **state)
{
    /* The shape websocket-client (python3-websocket) sends. */
    const char *s = "GET /v1/ws?token=abc%2Edef HTTP/1.1\r\n"
                    "Upgrade: websocket\r\n"
                    "Host: 127.0.0.1:8080\r\n"
                    "Origin: http://127.0.0.1:8080\r\n"
                    "Sec-WebSocket-Key: 6C4H5dJ4fn4Pl0HfT0BQ4Q==\r\n"
                    "Sec-WebSocket-Version: 13\r\n"
                    "Connection: Upgrade\r\n"
                    "\r\n";
    struct http_request req;
    assert_int_equal(parse(&req, s), (int)strlen(s));
    assert_true(req.upgrade);
    assert_int_equal(req.num_headers, 6);
    assert_header(&req, "Host", "127.0.0.1:8080");

    char key[16];
    char value[64];
    size_t pos = 0;
    assert_int_equal(
        http_query_next(req.query, req.query_len, &pos, key, sizeof(key), value, sizeof(value)), 1);
    assert_string_equal(key, "token");
    assert_string_equal(value, "abc.def");
}

/* ---- http_find_header ---- */

static void test_find_header(void **state)
{
    const char *s = "GET / HTTP/1.1\r\nHost: a\r\nX-Dup: 1\r\nx-dup: 2\r\nX-Dupe: 3\r\n\r\n";
    struct http_request req;
    assert_int_equal(parse(&req, s), (int)strlen(s));
    assert_header(&req, "X-DUP", "1");
    assert_header(&req, "x-dupe", "3");
    assert_null(http_find_header(&req, "X-Du"));
    assert_null(http_find_header(&req, "X-Dupes"));
    assert_null(http_find_header(&req, "Cookie"));
    assert_null(http_find_header(&req, ""));
}

/* ---- http_has_token ---- */

static bool has(const char *list, const char *token)
{
    return http_has_token(list, strlen(list), token);
}

static void test_has_token(void **state)
{
    assert_true(has("close", "close"));
    assert_true(has("CLOSE", "close"));
    assert_true(has("keep-alive, Upgrade", "upgrade"));
    assert_true(has("keep-alive,Upgrade", "keep-alive"));
    assert_true(has(" \tupgrade\t ", "upgrade"));
    assert_true(has("a,,b", "b"));
    assert_true(has(",a,", "a"));
    assert_true(has("a , b , c", "b"));
    assert_false(has("", "close"));
    assert_false(has("closed", "close"));
    assert_false(has("clos", "close"));
    assert_false(has("upgrade-insecure", "upgrade"));
    assert_false(has("a b", "a"));
    assert_false(has(",,", "close"));
    assert_false(has("a,,b", ""));
    /* Only |value_len| bytes count. */
    assert_false(http_has_token("closeXYZ", 4, "close"));
    assert_true(http_has_token("close, x", 5, "close"));
    assert_false(http_has_token(NULL, 0, "close"));
}

/* ---- http_query_next ---- */

struct query_pair {
    const char *key;
    const char *value;
};

/* assert_query checks that |query| yields exactly |pairs|, then 0. */
static void assert_query(const char *query, const struct query_pair *pairs, size_t num_pairs)
{
    char key[32];
    char value[32];
    size_t pos = 0;
    for (size_t i = 0; i < num_pairs; i++) {
        assert_int_equal(
            http_query_next(query, strlen(query), &pos, key, sizeof(key), value, sizeof(value)), 1);
        assert_string_equal(key, pairs[i].key);
        assert_string_equal(value, pairs[i].value);
    }
    assert_int_equal(
        http_query_next(query, strlen(query), &pos, key, sizeof(key), value, sizeof(value)), 0);
    /* And 0 again: the end is stable. */
    assert_int_equal(
        http_query_next(query, strlen(query), &pos, key, sizeof(key), value, sizeof(value)), 0);
}

static int query_first(const char *query, size_t key_cap, size_t value_cap)
{
    char key[64];
    char value[64];
    size_t pos = 0;
    assert_true(key_cap <= sizeof(key) && value_cap <= sizeof(value));
    return http_query_next(query, strlen(query), &pos, key, key_cap, value, value_cap);
}

static void test_query_basic(void **state)
{
    const struct query_pair two[] = {{"topic", "a"}, {"topic", "b"}};
    assert_query("topic=a&topic=b", two, 2);
    const struct query_pair decoded[] = {{"t k", "a b+c/d"}, {"x", ""}, {"", "v"}, {"k", "=2"}};
    assert_query("t+k=a%20b%2Bc%2fd&x&=v&k==2", decoded, 4);
    const struct query_pair utf8[] = {{"name", "caf\xc3\xa9"}};
    assert_query("name=caf%C3%A9", utf8, 1);
}

static void test_query_empty_pairs(void **state)
{
    const struct query_pair pairs[] = {{"a", "1"}, {"b", "2"}};
    assert_query("a=1&&b=2", pairs, 2);
    assert_query("&&a=1&b=2&&", pairs, 2);
    assert_query("", NULL, 0);
    assert_query("&", NULL, 0);
    size_t pos = 0;
    char key[4];
    char value[4];
    assert_int_equal(http_query_next(NULL, 0, &pos, key, sizeof(key), value, sizeof(value)), 0);
}

static void test_query_bad_escapes(void **state)
{
    assert_int_equal(query_first("a=%zz", 16, 16), -1);
    assert_int_equal(query_first("a=%2", 16, 16), -1);
    assert_int_equal(query_first("a=%", 16, 16), -1);
    assert_int_equal(query_first("%g1=b", 16, 16), -1);
    assert_int_equal(query_first("a=%00", 16, 16), -1);
    assert_int_equal(query_first("%00=b", 16, 16), -1);
    assert_int_equal(query_first("a=%2&b=1", 16, 16), -1);
}

static void test_query_lengths(void **state)
{
    /* A capacity of N holds N-1 bytes and the NUL. */
    assert_int_equal(query_first("abc=12345", 4, 6), 1);
    assert_int_equal(query_first("abcd=1", 4, 6), -1);
    assert_int_equal(query_first("abc=123456", 4, 6), -1);
    /* The decoded length counts, not the encoded one. */
    assert_int_equal(query_first("%41%42%43=%31", 4, 2), 1);
    assert_int_equal(query_first("k=v", 0, 6), -1);
    assert_int_equal(query_first("k=v", 2, 1), -1);
    assert_int_equal(query_first("k=", 2, 1), 1);
}

static void test_query_continues_after_error(void **state)
{
    const char *query = "a=%zz&b=2";
    char key[8];
    char value[8];
    size_t pos = 0;
    size_t len = strlen(query);
    assert_int_equal(http_query_next(query, len, &pos, key, sizeof(key), value, sizeof(value)), -1);
    assert_int_equal(http_query_next(query, len, &pos, key, sizeof(key), value, sizeof(value)), 1);
    assert_string_equal(key, "b");
    assert_string_equal(value, "2");
    assert_int_equal(http_query_next(query, len, &pos, key, sizeof(key), value, sizeof(value)), 0);
}

/* ---- http_status_text ---- */

static void test_status_text(void **state)
{
    static const struct {
        int status;
        const char *text;
    } cases[] = {
        {101, "Switching Protocols"},
        {200, "OK"},
        {204, "No Content"},
        {400, "Bad Request"},
        {401, "Unauthorized"},
        {403, "Forbidden"},
        {404, "Not Found"},
        {405, "Method Not Allowed"},
        {408, "Request Timeout"},
        {411, "Length Required"},
        {413, "Content Too Large"},
        {414, "URI Too Long"},
        {415, "Unsupported Media Type"},
        {422, "Unprocessable Content"},
        {426, "Upgrade Required"},
        {429, "Too Many Requests"},
        {431, "Request Header Fields Too Large"},
        {500, "Internal Server Error"},
        {501, "Not Implemented"},
        {503, "Service Unavailable"},
        {505, "HTTP Version Not Supported"},
        {0, "Unknown"},
        {299, "Unknown"},
        {-1, "Unknown"},
        {999, "Unknown"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        assert_string_equal(http_status_text(cases[i].status), cases[i].text);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_get_with_headers_and_query),
        cmocka_unit_test(test_http10_without_host),
        cmocka_unit_test(test_methods),
        cmocka_unit_test(test_target_forms),
        cmocka_unit_test(test_header_value_characters),
        cmocka_unit_test(test_method_errors),
        cmocka_unit_test(test_request_line_spacing),
        cmocka_unit_test(test_missing_version),
        cmocka_unit_test(test_version_errors),
        cmocka_unit_test(test_target_errors),
        cmocka_unit_test(test_target_limit),
        cmocka_unit_test(test_bare_lf),
        cmocka_unit_test(test_bare_cr),
        cmocka_unit_test(test_whitespace_before_colon),
        cmocka_unit_test(test_bad_header_names),
        cmocka_unit_test(test_obs_fold),
        cmocka_unit_test(test_control_chars_in_value),
        cmocka_unit_test(test_header_count_limit),
        cmocka_unit_test(test_header_count_clamped_to_array),
        cmocka_unit_test(test_head_size_limit),
        cmocka_unit_test(test_host_rules),
        cmocka_unit_test(test_content_length),
        cmocka_unit_test(test_content_length_errors),
        cmocka_unit_test(test_content_length_repeated),
        cmocka_unit_test(test_transfer_encoding),
        cmocka_unit_test(test_transfer_encoding_errors),
        cmocka_unit_test(test_transfer_encoding_unsupported),
        cmocka_unit_test(test_keep_alive),
        cmocka_unit_test(test_upgrade_flag),
        cmocka_unit_test(test_every_prefix_is_partial),
        cmocka_unit_test(test_prefix_inside_crlf),
        cmocka_unit_test(test_error_found_early),
        cmocka_unit_test(test_byte_at_a_time),
        cmocka_unit_test(test_pipelined_bytes_not_consumed),
        cmocka_unit_test(test_browser_websocket_upgrade),
        cmocka_unit_test(test_firefox_websocket_upgrade),
        cmocka_unit_test(test_python_websocket_client_upgrade),
        cmocka_unit_test(test_find_header),
        cmocka_unit_test(test_has_token),
        cmocka_unit_test(test_query_basic),
        cmocka_unit_test(test_query_empty_pairs),
        cmocka_unit_test(test_query_bad_escapes),
        cmocka_unit_test(test_query_lengths),
        cmocka_unit_test(test_query_continues_after_error),
        cmocka_unit_test(test_status_text),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
