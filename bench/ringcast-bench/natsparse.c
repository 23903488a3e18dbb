/* natsparse.c: the NATS server-to-client protocol, at any split (see
 * natsparse.h). */
#include "natsparse.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_ARGS 4

void natsp_init(struct natsp *p, uint32_t max_payload)
{
    memset(p, 0, sizeof(*p));
    p->max_payload = max_payload;
}

bool natsp_pending(const struct natsp *p)
{
    return p->len > 0 && !p->emitted;
}

void natsp_free(struct natsp *p)
{
    free(p->buf);
    p->buf = NULL;
    p->len = p->cap = p->need = 0;
}

static int error(struct natsp *p, const char *why)
{
    snprintf(p->err, sizeof(p->err), "%s", why);
    return -1;
}

static uint8_t lower(uint8_t c)
{
    return c >= 'A' && c <= 'Z' ? (uint8_t)(c + 32) : c;
}

/* is_op reports whether the line starts with operation |name| (lower
 * case), followed by the end of the line or a space or tab. */
static bool is_op(const uint8_t *line, size_t len, const char *name, size_t name_len)
{
    if (len < name_len)
        return false;
    for (size_t i = 0; i < name_len; i++)
        if (lower(line[i]) != (uint8_t)name[i])
            return false;
    return len == name_len || line[name_len] == ' ' || line[name_len] == '\t';
}

static bool is_space(uint8_t c)
{
    return c == ' ' || c == '\t';
}

/* after_op returns the line's argument: past the operation's name and the
 * spaces after it. */
static const uint8_t *after_op(const uint8_t *line, size_t len, size_t name_len, size_t *out_len)
{
    size_t i = name_len;
    while (i < len && is_space(line[i]))
        i++;
    *out_len = len - i;
    return line + i;
}

/* parse_number reads a decimal number of at most 19 digits. */
static bool parse_number(const uint8_t *s, size_t len, uint64_t *out)
{
    uint64_t v = 0;

    if (len == 0 || len > 19)
        return false;
    for (size_t i = 0; i < len; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        v = v * 10 + (uint64_t)(s[i] - '0');
    }
    *out = v;
    return true;
}

/* split cuts a MSG argument into its space-separated fields; returns how
 * many, or MAX_ARGS + 1 for too many. */
static size_t split(const uint8_t *s, size_t len, const uint8_t *arg[MAX_ARGS],
                    size_t arg_len[MAX_ARGS])
{
    size_t n = 0, i = 0;

    while (i < len) {
        while (i < len && is_space(s[i]))
            i++;
        if (i == len)
            break;
        size_t start = i;
        while (i < len && !is_space(s[i]))
            i++;
        if (n == MAX_ARGS)
            return MAX_ARGS + 1;
        arg[n] = s + start;
        arg_len[n++] = i - start;
    }
    return n;
}

/* parse_msg reads "MSG <subject> <sid> [reply-to] <#bytes>"' arguments:
 * the payload's length to |*out_n|. */
static int parse_msg(struct natsp *p, const uint8_t *s, size_t len, struct natsp_op *out,
                     uint64_t *out_n)
{
    const uint8_t *arg[MAX_ARGS];
    size_t arg_len[MAX_ARGS];
    size_t n = split(s, len, arg, arg_len);

    if (n != 3 && n != 4)
        return error(p, "MSG with neither 3 nor 4 arguments");
    if (!parse_number(arg[1], arg_len[1], &out->sid))
        return error(p, "MSG with an invalid sid");
    if (!parse_number(arg[n - 1], arg_len[n - 1], out_n))
        return error(p, "MSG with an invalid size");
    if (*out_n > p->max_payload)
        return error(p, "MSG over the largest payload taken");
    out->kind = NATSP_MSG;
    out->arg = arg[0];
    out->arg_len = arg_len[0];
    return 0;
}

/* parse_line reads a control line (without its line break); for MSG, the
 * payload length to |*out_n|, else 0. */
static int parse_line(struct natsp *p, const uint8_t *line, size_t len, struct natsp_op *out,
                      uint64_t *out_n)
{
    *out_n = 0;
    memset(out, 0, sizeof(*out));
    if (is_op(line, len, "msg", 3)) {
        size_t arg_len;
        const uint8_t *arg = after_op(line, len, 3, &arg_len);
        return parse_msg(p, arg, arg_len, out, out_n);
    }
    if (is_op(line, len, "info", 4) || is_op(line, len, "-err", 4)) {
        out->kind = lower(line[0]) == 'i' ? NATSP_INFO : NATSP_ERR;
        out->arg = after_op(line, len, 4, &out->arg_len);
        return 0;
    }
    if (is_op(line, len, "ping", 4) || is_op(line, len, "pong", 4)) {
        out->kind = lower(line[1]) == 'i' ? NATSP_PING : NATSP_PONG;
        return 0;
    }
    if (is_op(line, len, "+ok", 3)) {
        out->kind = NATSP_OK;
        return 0;
    }
    if (is_op(line, len, "hmsg", 4))
        return error(p, "HMSG, though CONNECT said no headers");
    return error(p, "an unknown operation");
}

/* parse_at reads the operation at the start of |s|. Returns 1 when it is
 * complete (its length in |*out_total|), 0 when more bytes are needed
 * (|*out_total|: its length once its control line is complete, else 0),
 * -1 on an error. */
static int parse_at(struct natsp *p, const uint8_t *s, size_t len, struct natsp_op *out,
                    size_t *out_total)
{
    const uint8_t *nl = memchr(s, '\n', len < NATSP_MAX_LINE + 2 ? len : NATSP_MAX_LINE + 2);
    uint64_t n;

    *out_total = 0;
    if (nl == NULL)
        return len > NATSP_MAX_LINE + 1 ? error(p, "a control line too long") : 0;
    size_t line_len = (size_t)(nl - s);
    size_t head = line_len + 1;
    if (line_len > 0 && s[line_len - 1] == '\r')
        line_len--;
    if (parse_line(p, s, line_len, out, &n) < 0)
        return -1;
    if (out->kind != NATSP_MSG) {
        *out_total = head;
        return 1;
    }
    *out_total = head + (size_t)n + 2;
    if (len < *out_total)
        return 0;
    if (s[head + n] != '\r' || s[head + n + 1] != '\n')
        return error(p, "a MSG payload not followed by CRLF");
    out->payload = s + head;
    out->len = (size_t)n;
    return 1;
}

/* hold copies |len| bytes after what the buffer holds, with room for
 * |want| in all. */
static int hold(struct natsp *p, const uint8_t *data, size_t len, size_t want)
{
    size_t need = (size_t)p->len + len;

    if (want < need)
        want = need;
    if (want > p->cap) {
        size_t cap = p->cap ? p->cap : 256;
        while (cap < want)
            cap *= 2;
        uint8_t *b = realloc(p->buf, cap);
        if (b == NULL)
            return error(p, "out of memory");
        p->buf = b;
        p->cap = (uint32_t)cap;
    }
    memcpy(p->buf + p->len, data, len);
    p->len = (uint32_t)need;
    return 0;
}

static void advance(const uint8_t **data, size_t *len, size_t n)
{
    *data += n;
    *len -= n;
}

/* take_piece returns how many input bytes the held operation can use: the
 * rest of it once its length is known, else up to the end of its control
 * line. */
static size_t take_piece(const struct natsp *p, const uint8_t *data, size_t len)
{
    size_t want;

    if (p->need > 0) {
        want = p->need - p->len;
    } else {
        const uint8_t *nl = memchr(data, '\n', len);
        want = nl ? (size_t)(nl - data) + 1 : len;
    }
    return want < len ? want : len;
}

/* next_held completes the held operation from the input. */
static int next_held(struct natsp *p, const uint8_t **data, size_t *len, struct natsp_op *out)
{
    while (*len > 0) {
        size_t take = take_piece(p, *data, *len), total;
        if (hold(p, *data, take, p->need) < 0)
            return -1;
        advance(data, len, take);
        int r = parse_at(p, p->buf, p->len, out, &total);
        if (r < 0)
            return -1;
        if (r > 0) {
            p->emitted = true;
            return 1;
        }
        p->need = (uint32_t)total;
    }
    return 0;
}

int natsp_next(struct natsp *p, const uint8_t **data, size_t *len, struct natsp_op *out)
{
    size_t total;

    if (p->emitted) {
        p->len = p->need = 0;
        p->emitted = false;
    }
    if (p->len > 0)
        return next_held(p, data, len, out);
    if (*len == 0)
        return 0;
    int r = parse_at(p, *data, *len, out, &total);
    if (r < 0)
        return -1;
    if (r > 0) {
        advance(data, len, total);
        return 1;
    }
    p->need = (uint32_t)total;
    if (hold(p, *data, *len, total) < 0)
        return -1;
    advance(data, len, *len);
    return 0;
}
