/* http.h: a strict HTTP/1.1 request head parser and small helpers.
 *
 * The parser never allocates and never copies: every string in a parsed
 * request points into the caller's buffer. Its contract follows
 * picohttpparser: bytes consumed, -1 for an error, -2 for "need more". */
#ifndef RC_HTTP_H
#define RC_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define HTTP_MAX_HEADERS 64

enum http_method {
    HTTP_OTHER = 0, /* a valid token we do not route (answered 405 or 501) */
    HTTP_GET,
    HTTP_HEAD,
    HTTP_POST,
    HTTP_PUT,
    HTTP_DELETE,
    HTTP_OPTIONS,
    HTTP_PATCH,
};

struct http_header {
    const char *name; /* as sent; compare case-insensitively */
    size_t name_len;
    const char *value; /* leading and trailing spaces/tabs removed */
    size_t value_len;
};

struct http_request {
    enum http_method method;
    const char *method_str;
    size_t method_len;
    const char *target; /* the raw request-target */
    size_t target_len;
    const char *path; /* target up to '?' (origin-form only) */
    size_t path_len;
    const char *query; /* after '?', without it; NULL when there is no '?' */
    size_t query_len;
    int minor_version; /* HTTP/1.<minor_version>: 0 or 1 */
    struct http_header headers[HTTP_MAX_HEADERS];
    size_t num_headers;

    /* Derived from the headers by the parser. */
    int64_t content_length; /* -1 when absent */
    bool chunked;           /* Transfer-Encoding ends in "chunked" */
    bool keep_alive;        /* HTTP/1.1 unless "Connection: close"; 1.0 only with keep-alive */
    bool upgrade;           /* "Connection" lists the token "upgrade" */

    /* On a -1 return: the status to answer (400, 414, 431, 501, 505) and why. */
    int error_status;
    const char *error_reason;
};

struct http_limits {
    size_t max_head_bytes;   /* whole head including the blank line; larger -> 431 */
    size_t max_target_bytes; /* request-target; larger -> 414 */
    size_t max_headers;      /* at most HTTP_MAX_HEADERS; more -> 431 */
};

/* http_parse_request parses one request head at the start of |buf|.
 *
 * Returns the length of the head (through the CRLF CRLF that ends it) when it
 * is complete and valid, -2 when |buf| holds a valid but incomplete prefix of
 * a head (and |len| is below the limits), and -1 when the input can never
 * become a valid head; then |out->error_status| and |out->error_reason| say
 * why. Strict: CRLF line ends only, no obs-fold, no whitespace before a colon,
 * token characters in the method and header names, no control characters in
 * the target or values, HTTP/1.0 or HTTP/1.1 only (other versions -> 505),
 * HTTP/1.1 needs exactly one Host header, Content-Length must be one decimal
 * number (repeats must agree), and Content-Length with Transfer-Encoding is an
 * error. */
int http_parse_request(struct http_request *out, const char *buf, size_t len,
                       const struct http_limits *limits);

/* http_find_header returns the first header named |name| (case-insensitive),
 * or NULL. */
const struct http_header *http_find_header(const struct http_request *req, const char *name);

/* http_has_token reports whether the comma-separated list |value| contains
 * |token| (case-insensitive, surrounding whitespace ignored). */
bool http_has_token(const char *value, size_t value_len, const char *token);

/* http_percent_decode decodes %-escapes of |src| into |dst| (with a NUL
 * after the |*out_len| bytes, when |out_len| is given); with
 * |plus_is_space| ('+' in a query) '+' becomes a space. Returns -1 for a
 * bad escape, a decoded NUL (the result is used as a C string: a NUL would
 * cut a topic name or token short unseen) or a result that does not fit. */
int http_percent_decode(const char *src, size_t src_len, bool plus_is_space, char *dst,
                        size_t dst_cap, size_t *out_len);

/* http_query_next iterates the parameters of a query string. |*pos| starts
 * at 0. On each call it finds the next "key=value" pair (a pair without '='
 * has an empty value), percent-decodes key and value ('+' becomes a space)
 * into |out_key| and |out_value| (NUL-terminated, at most |key_cap|-1 and
 * |value_cap|-1 bytes) and returns 1; it returns 0 at the end and -1 when a
 * key or value is too long or has a bad %-escape or decodes to a NUL byte.
 * After a -1, |*pos| is past the bad pair, so a caller may skip it and go on;
 * the contents of |out_key| and |out_value| are then unspecified. */
int http_query_next(const char *query, size_t query_len, size_t *pos, char *out_key, size_t key_cap,
                    char *out_value, size_t value_cap);

/* http_status_text returns the reason phrase of |status| ("Not Found"). */
const char *http_status_text(int status);

#endif
