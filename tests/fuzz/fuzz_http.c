/* fuzz_http.c: libFuzzer target for the HTTP/1.1 request head parser.
 *
 * Parses the input with fixed limits and checks what the contract promises:
 * a success is a head that ends in CRLF CRLF and whose strings all lie inside
 * it; an error carries a status and a reason; the answer for a prefix agrees
 * with the answer for the whole (the caller re-parses as bytes arrive, so a
 * prefix of a valid head must be "need more", and an error must stay an
 * error). It also runs the query iterator over the query and over the raw
 * input, which reaches escapes the target grammar never lets through. */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "proto/http.h"

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond))                                                                               \
            abort();                                                                               \
    } while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Small limits, so that the fuzzer reaches them. */
static const struct http_limits fuzz_limits = {
    .max_head_bytes = 2048,
    .max_target_bytes = 256,
    .max_headers = 16,
};

static bool lies_inside(const char *p, size_t len, const char *base, size_t base_len)
{
    if (p == NULL)
        return false;
    uintptr_t start = (uintptr_t)p;
    uintptr_t lo = (uintptr_t)base;
    return start >= lo && start - lo <= base_len && len <= base_len - (start - lo);
}

static void run_query(const char *query, size_t query_len)
{
    char key[32];
    char value[64];
    size_t pos = 0;
    for (;;) {
        size_t before = pos;
        int rc = http_query_next(query, query_len, &pos, key, sizeof(key), value, sizeof(value));
        CHECK(rc >= -1 && rc <= 1);
        if (rc == 0)
            break;
        CHECK(pos > before && pos <= query_len); /* always moves on */
        if (rc == 1) {
            CHECK(strlen(key) < sizeof(key));
            CHECK(strlen(value) < sizeof(value));
        }
    }
}

static void check_success(const struct http_request *req, const char *buf, size_t size, int rc)
{
    size_t head_len = (size_t)rc;
    CHECK(head_len <= size && head_len <= fuzz_limits.max_head_bytes);
    CHECK(head_len >= 4 && memcmp(buf + head_len - 4, "\r\n\r\n", 4) == 0);
    CHECK(req->error_status == 0 && req->error_reason == NULL);
    CHECK(req->minor_version == 0 || req->minor_version == 1);
    CHECK(lies_inside(req->method_str, req->method_len, buf, head_len) && req->method_len > 0);
    CHECK(lies_inside(req->target, req->target_len, buf, head_len) && req->target_len > 0);
    CHECK(req->target_len <= fuzz_limits.max_target_bytes);
    CHECK(lies_inside(req->path, req->path_len, req->target, req->target_len));
    if (req->query != NULL) {
        CHECK(lies_inside(req->query, req->query_len, req->target, req->target_len));
        run_query(req->query, req->query_len);
    }
    CHECK(req->num_headers <= fuzz_limits.max_headers);
    for (size_t i = 0; i < req->num_headers; i++) {
        const struct http_header *h = &req->headers[i];
        CHECK(lies_inside(h->name, h->name_len, buf, head_len) && h->name_len > 0);
        CHECK(lies_inside(h->value, h->value_len, buf, head_len));
        (void)http_has_token(h->value, h->value_len, "close");
    }
    CHECK(http_find_header(req, "host") != NULL || req->minor_version == 0);
    CHECK(req->content_length >= -1);
    CHECK(!(req->chunked && req->content_length >= 0));
}

/* check_prefixes: the caller re-parses as bytes arrive, so every prefix of a
 * valid head must ask for more. Checking a few prefixes keeps it linear. */
static void check_prefixes(const char *buf, size_t head_len)
{
    size_t cuts[] = {0, head_len / 2, head_len - 2, head_len - 1};
    struct http_request *req = malloc(sizeof(*req));
    CHECK(req != NULL);
    for (size_t i = 0; i < sizeof(cuts) / sizeof(cuts[0]); i++)
        CHECK(http_parse_request(req, buf, cuts[i], &fuzz_limits) == -2);
    /* The head alone, without what follows it, parses the same. */
    CHECK(http_parse_request(req, buf, head_len, &fuzz_limits) == (int)head_len);
    free(req);
}

static void check_error(const struct http_request *req)
{
    CHECK(req->error_reason != NULL && req->error_reason[0] != '\0');
    int status = req->error_status;
    CHECK(status == 400 || status == 414 || status == 431 || status == 501 || status == 505);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *buf = (const char *)data;
    struct http_request *req = malloc(sizeof(*req));
    CHECK(req != NULL);
    int rc = http_parse_request(req, buf, size, &fuzz_limits);
    if (rc >= 0) {
        check_success(req, buf, size, rc);
        check_prefixes(buf, (size_t)rc);
    } else if (rc == -1) {
        check_error(req);
    } else {
        CHECK(rc == -2);
        CHECK(size < fuzz_limits.max_head_bytes);
    }
    /* An error seen in the first half must still be one with all the bytes. */
    if (http_parse_request(req, buf, size / 2, &fuzz_limits) == -1)
        CHECK(rc == -1);
    run_query(buf, size);
    free(req);
    return 0;
}
