/* http.c: a strict HTTP/1.1 request head parser (RFC 9110, RFC 9112).
 *
 * The caller parses again from the start of its buffer whenever more bytes
 * arrive, so the parser is one left-to-right pass over a bounded cursor. It
 * answers "need more" (-2) whenever the cursor runs out of bytes and "error"
 * (-1) as soon as a byte proves that the head can never become valid. The
 * cursor ends at the smaller of |len| and the head size limit, so no byte
 * past either is ever read.
 *
 * The strictness is deliberate. Request smuggling comes from two parsers (a
 * proxy and a server) that disagree about where a head or a body ends: bare
 * LF, obs-fold, space before a colon, repeated or conflicting Content-Length,
 * Content-Length next to Transfer-Encoding. Refusing every such message
 * leaves nothing for them to disagree about. */
#include "proto/http.h"

#include <limits.h>
#include <string.h>

/* Internal results, equal to the public return values. */
enum {
    PARSE_OK = 0,
    PARSE_ERROR = -1,
    PARSE_PARTIAL = -2,
};

/* ---- Character classes (RFC 9110 section 5.6.2 and 5.5) ---- */

static bool is_digit(unsigned char b)
{
    return b >= '0' && b <= '9';
}

/* is_tchar: the characters of a token (method, header name): digits,
 * letters and !#$%&'*+-.^_`|~ (RFC 9110 section 5.6.2), as a bitmap of the
 * 128 ASCII codes, since every byte of a head's names goes through it. */
static bool is_tchar(unsigned char b)
{
    static const uint64_t tchar_bits[2] = {0x03ff6cfa00000000ull, 0x57ffffffc7fffffeull};
    return b < 128 && (tchar_bits[b >> 6] >> (b & 63) & 1);
}

/* is_target_char: visible ASCII. The request-target grammar is narrower, but
 * the router judges paths; the parser only keeps out what could confuse
 * framing or logs (controls, spaces, non-ASCII). */
static bool is_target_char(unsigned char b)
{
    return b >= 0x21 && b <= 0x7e;
}

static bool is_ows(unsigned char b)
{
    return b == ' ' || b == '\t';
}

/* is_value_char: field-vchar, SP, HTAB and obs-text (0x80-0xFF), which old
 * clients still send in values. Every other control byte, DEL and NUL among
 * them, is refused. */
static bool is_value_char(unsigned char b)
{
    return b == '\t' || (b >= 0x20 && b != 0x7f);
}

static unsigned char ascii_lower(unsigned char b)
{
    return b >= 'A' && b <= 'Z' ? (unsigned char)(b + ('a' - 'A')) : b;
}

/* ascii_case_equal compares without the locale: header names are ASCII. */
static bool ascii_case_equal(const char *a, const char *b, size_t len)
{
    for (size_t i = 0; i < len; i++)
        if (ascii_lower((unsigned char)a[i]) != ascii_lower((unsigned char)b[i]))
            return false;
    return true;
}

/* name_is reports whether the |len| bytes at |s| are |name|, ignoring case. */
static bool name_is(const char *s, size_t len, const char *name)
{
    return strlen(name) == len && ascii_case_equal(s, name, len);
}

static const char *trim_ows(const char *s, size_t *len)
{
    while (*len > 0 && is_ows((unsigned char)s[0])) {
        s++;
        (*len)--;
    }
    while (*len > 0 && is_ows((unsigned char)s[*len - 1]))
        (*len)--;
    return s;
}

/* list_next returns the next element of a comma-separated list, without the
 * whitespace around it. Empty elements are returned too (with length 0) so
 * that callers decide about them. |*pos| starts at 0; false at the end. */
static bool list_next(const char *list, size_t list_len, size_t *pos, const char **out_item,
                      size_t *out_len)
{
    if (*pos > list_len)
        return false;
    size_t start = *pos;
    size_t end = start;
    while (end < list_len && list[end] != ',')
        end++;
    *pos = end + 1; /* past the comma, or past the end */
    *out_len = end - start;
    *out_item = trim_ows(list + start, out_len);
    return true;
}

/* ---- The cursor ---- */

/* A bounded reader over the head: every byte the parser looks at goes
 * through it, and it never looks past |len|. */
struct cursor {
    const unsigned char *data;
    size_t len;
    size_t pos;
};

static bool cursor_at_end(const struct cursor *c)
{
    return c->pos >= c->len;
}

/* cursor_peek returns the byte at the cursor; the caller checked the end. */
static unsigned char cursor_peek(const struct cursor *c)
{
    return c->data[c->pos];
}

static const char *cursor_ptr(const struct cursor *c, size_t at)
{
    return (const char *)c->data + at;
}

static int fail(struct http_request *out, int status, const char *reason)
{
    out->error_status = status;
    out->error_reason = reason;
    return PARSE_ERROR;
}

/* fail_unexpected reports the byte at the cursor, which does not belong
 * there. Line-ending mistakes get their own reason, since a bare LF is the
 * most likely cause (hand-written requests, scripts that print "\n"). */
static int fail_unexpected(struct http_request *out, const struct cursor *c, const char *reason)
{
    unsigned char b = cursor_peek(c);
    if (b == '\n')
        return fail(out, 400, "bare LF in head");
    if (b == '\r' && c->pos + 1 < c->len && c->data[c->pos + 1] != '\n')
        return fail(out, 400, "bare CR in head");
    return fail(out, 400, reason);
}

/* consume_crlf consumes the CR LF at the cursor; the caller has seen the CR.
 * A head cut between the CR and the LF is a valid prefix. */
static int consume_crlf(struct cursor *c, struct http_request *out)
{
    c->pos++;
    if (cursor_at_end(c))
        return PARSE_PARTIAL;
    if (cursor_peek(c) != '\n')
        return fail(out, 400, "bare CR in head");
    c->pos++;
    return PARSE_OK;
}

/* ---- Request line: method SP request-target SP HTTP-version CRLF ---- */

struct known_method {
    const char *name;
    enum http_method method;
};

static const struct known_method known_methods[] = {
    {"GET", HTTP_GET},       {"HEAD", HTTP_HEAD},       {"POST", HTTP_POST},   {"PUT", HTTP_PUT},
    {"DELETE", HTTP_DELETE}, {"OPTIONS", HTTP_OPTIONS}, {"PATCH", HTTP_PATCH},
};

/* method_from_token: methods are case-sensitive (RFC 9110 section 9.1), so
 * "get" is a valid token we do not route. */
static enum http_method method_from_token(const char *s, size_t len)
{
    for (size_t i = 0; i < sizeof(known_methods) / sizeof(known_methods[0]); i++) {
        const char *name = known_methods[i].name;
        if (strlen(name) == len && memcmp(name, s, len) == 0)
            return known_methods[i].method;
    }
    return HTTP_OTHER;
}

static int parse_method(struct cursor *c, struct http_request *out)
{
    size_t start = c->pos;
    while (!cursor_at_end(c) && is_tchar(cursor_peek(c)))
        c->pos++;
    if (cursor_at_end(c))
        return PARSE_PARTIAL;
    if (c->pos == start)
        return fail_unexpected(out, c, "missing method");
    if (cursor_peek(c) != ' ')
        return fail_unexpected(out, c, "bad character in method");
    out->method_str = cursor_ptr(c, start);
    out->method_len = c->pos - start;
    out->method = method_from_token(out->method_str, out->method_len);
    c->pos++;
    return PARSE_OK;
}

/* absolute_form_path returns where the path of an absolute-form target
 * ("http://host:port/p?q") starts, or NULL when |target| is not one. A
 * server must accept this form (RFC 9112 section 3.2.2); without a path it
 * means "/", which the caller handles by a path of length 0. */
static const char *absolute_form_path(const char *target, size_t len, const char **out_end)
{
    size_t scheme_len = len >= 7 && ascii_case_equal(target, "http://", 7)    ? 7
                        : len >= 8 && ascii_case_equal(target, "https://", 8) ? 8
                                                                              : 0;
    if (scheme_len == 0)
        return NULL;
    const char *end = target + len;
    const char *p = target + scheme_len;
    while (p < end && *p != '/' && *p != '?')
        p++;
    *out_end = end;
    return p;
}

/* split_target fills path and query. Origin-form ("/p?q") and absolute-form
 * ("http://h/p?q") have both; for asterisk-form ("*") and authority-form
 * the path is the whole target and the router answers them. */
static void split_target(struct http_request *out)
{
    out->path = out->target;
    out->path_len = out->target_len;
    out->query = NULL;
    out->query_len = 0;
    const char *end = out->target + out->target_len;
    if (out->target[0] != '/') {
        const char *path = absolute_form_path(out->target, out->target_len, &end);
        if (!path)
            return;
        out->path = path;
        out->path_len = (size_t)(end - path);
    }
    const char *mark = memchr(out->path, '?', out->path_len);
    if (mark == NULL)
        return;
    out->query = mark + 1;
    out->query_len = (size_t)(end - out->query);
    out->path_len = (size_t)(mark - out->path);
}

/* parse_target answers 414 as soon as the target passes the limit, before
 * its end arrives: waiting for it would only buffer more of it. */
static int parse_target(struct cursor *c, struct http_request *out,
                        const struct http_limits *limits)
{
    size_t start = c->pos;
    while (!cursor_at_end(c) && is_target_char(cursor_peek(c))) {
        c->pos++;
        if (c->pos - start > limits->max_target_bytes)
            return fail(out, 414, "request target too long");
    }
    if (cursor_at_end(c))
        return PARSE_PARTIAL;
    if (c->pos == start)
        return fail_unexpected(out, c, "empty request target");
    if (cursor_peek(c) == '\r')
        return fail_unexpected(out, c, "missing HTTP version");
    if (cursor_peek(c) != ' ')
        return fail_unexpected(out, c, "bad character in request target");
    out->target = cursor_ptr(c, start);
    out->target_len = c->pos - start;
    split_target(out);
    c->pos++;
    return PARSE_OK;
}

/* parse_version reads "HTTP/" DIGIT "." DIGIT CRLF. A well-formed version
 * other than 1.0 and 1.1 is 505 (we understood it and do not speak it);
 * anything else is 400. The 505 waits for the CRLF, since "HTTP/2.0x" is not
 * a version at all. */
static int parse_version(struct cursor *c, struct http_request *out)
{
    static const char shape[] = "HTTP/#.#"; /* '#' stands for one digit */
    size_t start = c->pos;
    for (size_t i = 0; i < sizeof(shape) - 1; i++) {
        if (cursor_at_end(c))
            return PARSE_PARTIAL;
        unsigned char b = cursor_peek(c);
        bool fits = shape[i] == '#' ? is_digit(b) : b == (unsigned char)shape[i];
        if (!fits)
            return fail_unexpected(out, c, "malformed HTTP version");
        c->pos++;
    }
    if (cursor_at_end(c))
        return PARSE_PARTIAL;
    if (cursor_peek(c) != '\r')
        return fail_unexpected(out, c, "malformed HTTP version");
    int rc = consume_crlf(c, out);
    if (rc != PARSE_OK)
        return rc;
    int major = c->data[start + 5] - '0';
    int minor = c->data[start + 7] - '0';
    if (major != 1 || minor > 1)
        return fail(out, 505, "HTTP version not supported");
    out->minor_version = minor;
    return PARSE_OK;
}

static int parse_request_line(struct cursor *c, struct http_request *out,
                              const struct http_limits *limits)
{
    int rc = parse_method(c, out);
    if (rc == PARSE_OK)
        rc = parse_target(c, out, limits);
    if (rc == PARSE_OK)
        rc = parse_version(c, out);
    return rc;
}

/* ---- Header fields: name ":" OWS value OWS CRLF ---- */

static int parse_field_name(struct cursor *c, struct http_request *out, struct http_header *h)
{
    size_t start = c->pos;
    while (!cursor_at_end(c) && is_tchar(cursor_peek(c)))
        c->pos++;
    if (cursor_at_end(c))
        return PARSE_PARTIAL;
    unsigned char b = cursor_peek(c);
    if (c->pos == start)
        return fail_unexpected(out, c, b == ':' ? "empty header name" : "bad header name");
    if (is_ows(b))
        return fail(out, 400, "whitespace before colon in header");
    if (b != ':')
        return fail_unexpected(out, c, "bad character in header name");
    h->name = cursor_ptr(c, start);
    h->name_len = c->pos - start;
    c->pos++;
    return PARSE_OK;
}

static int parse_field_value(struct cursor *c, struct http_request *out, struct http_header *h)
{
    while (!cursor_at_end(c) && is_ows(cursor_peek(c)))
        c->pos++;
    size_t start = c->pos;
    while (!cursor_at_end(c) && is_value_char(cursor_peek(c)))
        c->pos++;
    if (cursor_at_end(c))
        return PARSE_PARTIAL;
    if (cursor_peek(c) != '\r')
        return fail_unexpected(out, c, "control character in header value");
    size_t end = c->pos;
    while (end > start && is_ows(c->data[end - 1]))
        end--;
    h->value = cursor_ptr(c, start);
    h->value_len = end - start;
    return consume_crlf(c, out);
}

/* parse_header_lines reads header lines up to and including the empty line
 * that ends the head. */
static int parse_header_lines(struct cursor *c, struct http_request *out, size_t max_headers)
{
    for (;;) {
        if (cursor_at_end(c))
            return PARSE_PARTIAL;
        unsigned char first = cursor_peek(c);
        if (first == '\r')
            return consume_crlf(c, out);
        if (first == '\n')
            return fail(out, 400, "bare LF in head");
        /* A line that starts with whitespace is obs-fold (a continuation of
         * the previous value), or hides a header from parsers that trim. */
        if (is_ows(first))
            return fail(out, 400, "obs-fold or leading whitespace in header line");
        if (out->num_headers == max_headers)
            return fail(out, 431, "too many header fields");
        struct http_header *h = &out->headers[out->num_headers];
        int rc = parse_field_name(c, out, h);
        if (rc == PARSE_OK)
            rc = parse_field_value(c, out, h);
        if (rc != PARSE_OK)
            return rc;
        out->num_headers++;
    }
}

/* ---- What the headers mean for framing and the connection ---- */

/* parse_content_length reads 1*DIGIT into a non-negative int64_t. */
static bool parse_content_length(const char *s, size_t len, int64_t *out_value)
{
    if (len == 0)
        return false;
    int64_t value = 0;
    for (size_t i = 0; i < len; i++) {
        unsigned char b = (unsigned char)s[i];
        if (!is_digit(b))
            return false;
        int digit = b - '0';
        if (value > (INT64_MAX - digit) / 10)
            return false;
        value = value * 10 + digit;
    }
    *out_value = value;
    return true;
}

/* Transfer-Encoding fields, read as one list in order (several fields
 * concatenate, RFC 9110 section 5.3). */
struct transfer_codings {
    bool present;
    size_t count;
    size_t chunked_count;
    bool last_is_chunked;
    bool has_unknown; /* a coding we cannot decode (gzip, ...) */
};

/* What the headers said, gathered in one pass and judged together. */
struct header_facts {
    size_t host_count;
    struct transfer_codings te;
    bool connection_close;
    bool connection_keep_alive;
    bool connection_upgrade;
};

static void note_transfer_codings(const struct http_header *h, struct transfer_codings *te)
{
    const char *coding;
    size_t coding_len;
    size_t pos = 0;
    te->present = true;
    while (list_next(h->value, h->value_len, &pos, &coding, &coding_len)) {
        if (coding_len == 0)
            continue; /* empty list elements are ignored (RFC 9110 5.6.1) */
        te->count++;
        te->last_is_chunked = name_is(coding, coding_len, "chunked");
        if (te->last_is_chunked)
            te->chunked_count++;
        else
            te->has_unknown = true;
    }
}

static int note_content_length(struct http_request *out, const struct http_header *h)
{
    int64_t value;
    if (!parse_content_length(h->value, h->value_len, &value))
        return fail(out, 400, "invalid Content-Length");
    /* Repeats are tolerated only when they agree (RFC 9112 section 6.3). */
    if (out->content_length >= 0 && out->content_length != value)
        return fail(out, 400, "conflicting Content-Length headers");
    out->content_length = value;
    return PARSE_OK;
}

static int note_header(struct http_request *out, const struct http_header *h,
                       struct header_facts *facts)
{
    if (name_is(h->name, h->name_len, "host")) {
        facts->host_count++;
    } else if (name_is(h->name, h->name_len, "content-length")) {
        return note_content_length(out, h);
    } else if (name_is(h->name, h->name_len, "transfer-encoding")) {
        note_transfer_codings(h, &facts->te);
    } else if (name_is(h->name, h->name_len, "connection")) {
        facts->connection_close |= http_has_token(h->value, h->value_len, "close");
        facts->connection_keep_alive |= http_has_token(h->value, h->value_len, "keep-alive");
        facts->connection_upgrade |= http_has_token(h->value, h->value_len, "upgrade");
    }
    return PARSE_OK;
}

/* check_transfer_encoding applies RFC 9112 section 6: a request body is
 * either chunked last or its length is unknowable (400), and a coding we do
 * not implement is 501. */
static int check_transfer_encoding(struct http_request *out, const struct transfer_codings *te)
{
    if (out->minor_version == 0)
        return fail(out, 400, "Transfer-Encoding in an HTTP/1.0 request");
    if (out->content_length >= 0)
        return fail(out, 400, "both Content-Length and Transfer-Encoding");
    if (te->count == 0)
        return fail(out, 400, "empty Transfer-Encoding");
    if (!te->last_is_chunked)
        return fail(out, 400, "Transfer-Encoding does not end in chunked");
    if (te->chunked_count > 1)
        return fail(out, 400, "chunked applied more than once");
    if (te->has_unknown)
        return fail(out, 501, "unsupported transfer coding");
    out->chunked = true;
    return PARSE_OK;
}

static int judge_headers(struct http_request *out)
{
    struct header_facts facts = {0};
    for (size_t i = 0; i < out->num_headers; i++) {
        int rc = note_header(out, &out->headers[i], &facts);
        if (rc != PARSE_OK)
            return rc;
    }
    /* RFC 9112 section 3.2: 400 for any request with several Host lines,
     * whatever its version, and for HTTP/1.1 without one. */
    if (facts.host_count > 1)
        return fail(out, 400, "more than one Host header");
    if (out->minor_version == 1 && facts.host_count == 0)
        return fail(out, 400, "Host header missing");
    if (facts.te.present) {
        int rc = check_transfer_encoding(out, &facts.te);
        if (rc != PARSE_OK)
            return rc;
    }
    if (out->minor_version == 1)
        out->keep_alive = !facts.connection_close;
    else
        out->keep_alive = facts.connection_keep_alive && !facts.connection_close;
    out->upgrade = facts.connection_upgrade;
    return PARSE_OK;
}

/* ---- Public functions ---- */

static void reset_request(struct http_request *out)
{
    out->method = HTTP_OTHER;
    out->method_str = NULL;
    out->method_len = 0;
    out->target = NULL;
    out->target_len = 0;
    out->path = NULL;
    out->path_len = 0;
    out->query = NULL;
    out->query_len = 0;
    out->minor_version = 0;
    out->num_headers = 0;
    out->content_length = -1;
    out->chunked = false;
    out->keep_alive = false;
    out->upgrade = false;
    out->error_status = 0;
    out->error_reason = NULL;
}

int http_parse_request(struct http_request *out, const char *buf, size_t len,
                       const struct http_limits *limits)
{
    reset_request(out);
    size_t max_headers =
        limits->max_headers < HTTP_MAX_HEADERS ? limits->max_headers : HTTP_MAX_HEADERS;
    /* The cursor never sees past the head limit: a head that is not complete
     * within it is too large, whatever follows. */
    struct cursor c = {
        .data = (const unsigned char *)buf,
        .len = len < limits->max_head_bytes ? len : limits->max_head_bytes,
        .pos = 0,
    };
    int rc = parse_request_line(&c, out, limits);
    if (rc == PARSE_OK)
        rc = parse_header_lines(&c, out, max_headers);
    if (rc == PARSE_PARTIAL && len >= limits->max_head_bytes)
        return fail(out, 431, "request head too large");
    if (rc != PARSE_OK)
        return rc;
    rc = judge_headers(out);
    if (rc != PARSE_OK)
        return rc;
    if (c.pos > INT_MAX) /* only with a limit above INT_MAX: the length must fit */
        return fail(out, 431, "request head too large");
    return (int)c.pos;
}

const struct http_header *http_find_header(const struct http_request *req, const char *name)
{
    for (size_t i = 0; i < req->num_headers; i++) {
        const struct http_header *h = &req->headers[i];
        if (name_is(h->name, h->name_len, name))
            return h;
    }
    return NULL;
}

bool http_has_token(const char *value, size_t value_len, const char *token)
{
    size_t token_len = strlen(token);
    if (token_len == 0 || value_len == 0)
        return false;
    const char *item;
    size_t item_len;
    size_t pos = 0;
    while (list_next(value, value_len, &pos, &item, &item_len))
        if (item_len == token_len && ascii_case_equal(item, token, token_len))
            return true;
    return false;
}

static int hex_value(unsigned char b)
{
    if (is_digit(b))
        return b - '0';
    b = ascii_lower(b);
    if (b >= 'a' && b <= 'f')
        return b - 'a' + 10;
    return -1;
}

int http_percent_decode(const char *src, size_t src_len, bool plus_is_space, char *dst,
                        size_t dst_cap, size_t *out_len)
{
    if (dst_cap == 0)
        return -1;
    dst[0] = '\0';
    size_t n = 0;
    size_t i = 0;
    while (i < src_len) {
        unsigned char b = (unsigned char)src[i];
        if (b == '%') {
            if (src_len - i < 3)
                return -1;
            int hi = hex_value((unsigned char)src[i + 1]);
            int lo = hex_value((unsigned char)src[i + 2]);
            if (hi < 0 || lo < 0)
                return -1;
            b = (unsigned char)(hi << 4 | lo);
            i += 3;
        } else {
            if (b == '+' && plus_is_space)
                b = ' ';
            i++;
        }
        if (b == '\0' || n + 1 >= dst_cap)
            return -1;
        dst[n++] = (char)b;
    }
    dst[n] = '\0';
    if (out_len)
        *out_len = n;
    return 0;
}

int http_query_next(const char *query, size_t query_len, size_t *pos, char *out_key, size_t key_cap,
                    char *out_value, size_t value_cap)
{
    while (*pos < query_len && query[*pos] == '&')
        (*pos)++; /* empty pairs, as in "a=1&&b=2" */
    if (*pos >= query_len)
        return 0;
    size_t start = *pos;
    size_t end = start;
    while (end < query_len && query[end] != '&')
        end++;
    /* Move past the pair first, so a caller may skip a bad pair and go on. */
    *pos = end;
    const char *pair = query + start;
    size_t pair_len = end - start;
    const char *eq = memchr(pair, '=', pair_len);
    size_t key_len = eq != NULL ? (size_t)(eq - pair) : pair_len;
    const char *value = eq != NULL ? eq + 1 : pair + pair_len;
    size_t value_len = eq != NULL ? pair_len - key_len - 1 : 0;
    if (http_percent_decode(pair, key_len, true, out_key, key_cap, NULL) != 0)
        return -1;
    if (http_percent_decode(value, value_len, true, out_value, value_cap, NULL) != 0)
        return -1;
    return 1;
}

const char *http_status_text(int status)
{
    switch (status) {
    case 101:
        return "Switching Protocols";
    case 200:
        return "OK";
    case 201:
        return "Created";
    case 202:
        return "Accepted";
    case 204:
        return "No Content";
    case 301:
        return "Moved Permanently";
    case 302:
        return "Found";
    case 304:
        return "Not Modified";
    case 400:
        return "Bad Request";
    case 401:
        return "Unauthorized";
    case 403:
        return "Forbidden";
    case 404:
        return "Not Found";
    case 405:
        return "Method Not Allowed";
    case 408:
        return "Request Timeout";
    case 409:
        return "Conflict";
    case 410:
        return "Gone";
    case 411:
        return "Length Required";
    case 413:
        return "Content Too Large";
    case 414:
        return "URI Too Long";
    case 415:
        return "Unsupported Media Type";
    case 422:
        return "Unprocessable Content";
    case 426:
        return "Upgrade Required";
    case 429:
        return "Too Many Requests";
    case 431:
        return "Request Header Fields Too Large";
    case 500:
        return "Internal Server Error";
    case 501:
        return "Not Implemented";
    case 502:
        return "Bad Gateway";
    case 503:
        return "Service Unavailable";
    case 504:
        return "Gateway Timeout";
    case 505:
        return "HTTP Version Not Supported";
    default:
        return "Unknown";
    }
}
