/* wsdeflate.c: permessage-deflate negotiation, the shared compressed frame
 * and the bounded inflater (wsdeflate.h). */
#include "proto/wsdeflate.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <zlib.h>

#include "util/alloc.h"
#include "proto/ws.h"

#define NAME "permessage-deflate"
#define TAIL_LEN 4 /* 00 00 ff ff: the empty stored block of a sync flush */

static const uint8_t sync_tail[TAIL_LEN] = {0x00, 0x00, 0xff, 0xff};

/* ---- negotiation (RFC 7692 section 7.1) ---- */

/* A token span [p, end) with surrounding blanks trimmed. */
struct span {
    const char *p;
    size_t len;
};

static struct span trim(const char *p, const char *end)
{
    while (p < end && (*p == ' ' || *p == '\t'))
        p++;
    while (end > p && (end[-1] == ' ' || end[-1] == '\t'))
        end--;
    return (struct span){p, (size_t)(end - p)};
}

static bool span_is(struct span s, const char *word)
{
    return s.len == strlen(word) && strncasecmp(s.p, word, s.len) == 0;
}

/* window_bits reads a window size value, bare or quoted: 8..15, else -1. */
static int window_bits(struct span v)
{
    if (v.len >= 2 && v.p[0] == '"' && v.p[v.len - 1] == '"') {
        v.p++;
        v.len -= 2;
    }
    if (v.len == 1 && v.p[0] >= '8' && v.p[0] <= '9')
        return v.p[0] - '0';
    if (v.len == 2 && v.p[0] == '1' && v.p[1] >= '0' && v.p[1] <= '5')
        return 10 + v.p[1] - '0';
    return -1;
}

/* What one offer asked. */
struct offer {
    bool server_no_context, client_no_context, server_bits, client_bits;
    int client_bits_value; /* 0: client_max_window_bits without a value */
};

/* read_param judges one "name[=value]" of an offer; false declines it. */
static bool read_param(struct offer *o, struct span param)
{
    const char *eq = memchr(param.p, '=', param.len);
    struct span name = trim(param.p, eq ? eq : param.p + param.len);
    struct span value = eq ? trim(eq + 1, param.p + param.len) : (struct span){NULL, 0};
    bool *seen;
    if (span_is(name, "server_no_context_takeover") ||
        span_is(name, "client_no_context_takeover")) {
        if (eq)
            return false;
        seen = span_is(name, "server_no_context_takeover") ? &o->server_no_context
                                                           : &o->client_no_context;
    } else if (span_is(name, "server_max_window_bits")) {
        /* The shared frames use the full window: only 15 can be honoured. */
        if (!eq || window_bits(value) != 15)
            return false;
        seen = &o->server_bits;
    } else if (span_is(name, "client_max_window_bits")) {
        if (eq && (o->client_bits_value = window_bits(value)) < 0)
            return false;
        seen = &o->client_bits;
    } else {
        return false;
    }
    if (*seen)
        return false; /* a parameter given twice declines the offer */
    *seen = true;
    return true;
}

/* read_offer judges one comma-separated extension offer. */
static bool read_offer(struct span ext, struct offer *o)
{
    const char *end = ext.p + ext.len;
    const char *semi = memchr(ext.p, ';', ext.len);
    if (!span_is(trim(ext.p, semi ? semi : end), NAME))
        return false;
    memset(o, 0, sizeof(*o));
    while (semi) {
        const char *start = semi + 1;
        semi = memchr(start, ';', (size_t)(end - start));
        if (!read_param(o, trim(start, semi ? semi : end)))
            return false;
    }
    return true;
}

static bool write_answer(const struct offer *o, struct ws_deflate_agreement *out, char *answer,
                         size_t cap)
{
    out->on = true;
    out->client_no_context = o->client_no_context;
    out->client_window_bits = 15;
    if (o->client_bits) {
        int bits = WS_DEFLATE_CLIENT_WINDOW_BITS;
        if (o->client_bits_value && o->client_bits_value < bits)
            bits = o->client_bits_value;
        out->client_window_bits = (uint8_t)bits;
    }
    char window[32] = "";
    if (o->client_bits)
        snprintf(window, sizeof(window), "; client_max_window_bits=%u", out->client_window_bits);
    int n = snprintf(answer, cap, NAME "; server_no_context_takeover%s%s",
                     o->client_no_context ? "; client_no_context_takeover" : "", window);
    return n > 0 && (size_t)n < cap;
}

bool ws_deflate_negotiate(const char *offers, size_t len, struct ws_deflate_agreement *out,
                          char *answer, size_t answer_cap)
{
    memset(out, 0, sizeof(*out));
    const char *p = offers, *end = offers + len;
    while (p < end) {
        /* Extensions are comma-separated; a quoted value holds no comma
         * here (window sizes are digits), so a plain split is exact. */
        const char *comma = memchr(p, ',', (size_t)(end - p));
        struct offer o;
        if (read_offer(trim(p, comma ? comma : end), &o))
            return write_answer(&o, out, answer, answer_cap);
        p = comma ? comma + 1 : end;
    }
    return false;
}

/* ---- the shared compressed frame ---- */

/* Each shard thread compresses with streams of its own, reset for every
 * message (server_no_context_takeover). Resetting clears the stream's hash
 * table, 2^(memLevel + 8) bytes: for the usual small event a small table
 * (memLevel 4: 4 KiB) compresses as well as zlib's default (memLevel 8:
 * 64 KiB, whose clearing costs a 1 KiB event about as much as compressing
 * it), so events under SMALL_EVENT bytes use it. */
#define SMALL_EVENT (16 * 1024)

struct compressor {
    z_stream z;
    int level; /* -1: not set up */
};

static _Thread_local struct compressor compressors[2] = {{.level = -1}, {.level = -1}};

static z_stream *compressor_for(int level, size_t len)
{
    bool small = len < SMALL_EVENT;
    struct compressor *c = &compressors[small ? 0 : 1];
    if (c->level == level)
        return &c->z;
    if (c->level >= 0)
        deflateEnd(&c->z);
    memset(&c->z, 0, sizeof(c->z));
    c->level = -1;
    if (deflateInit2(&c->z, level, Z_DEFLATED, -15, small ? 4 : 8, Z_DEFAULT_STRATEGY) != Z_OK)
        return NULL;
    c->level = level;
    return &c->z;
}

void ws_deflate_thread_cleanup(void)
{
    for (size_t i = 0; i < 2; i++) {
        if (compressors[i].level >= 0)
            deflateEnd(&compressors[i].z);
        compressors[i].level = -1;
    }
}

size_t ws_deflate_frame_bound(size_t len)
{
    /* deflateBound's figure for the default memLevel, plus the sync flush's
     * empty block and the frame header. */
    return len + (len >> 12) + (len >> 14) + (len >> 25) + 13 + 16 + WS_MAX_HEADER;
}

size_t ws_deflate_frame(const uint8_t *json, size_t len, int level, uint8_t *out, size_t cap)
{
    z_stream *z = compressor_for(level, len);
    if (!z || deflateReset(z) != Z_OK || cap <= WS_MAX_HEADER)
        return 0;
    size_t plain_len = ws_header_len(len) + len;
    uint8_t *body = out + WS_MAX_HEADER;
    size_t room = cap - WS_MAX_HEADER;
    z->next_in = (Bytef *)json;
    z->avail_in = (uInt)len;
    z->next_out = body;
    z->avail_out = (uInt)room;
    int rc = deflate(z, Z_SYNC_FLUSH);
    size_t body_len = room - z->avail_out;
    if (rc != Z_OK || z->avail_in != 0 || body_len < TAIL_LEN ||
        memcmp(body + body_len - TAIL_LEN, sync_tail, TAIL_LEN) != 0)
        return 0; /* out of room (incompressible) or a zlib failure */
    body_len -= TAIL_LEN;
    size_t header_len = ws_header_len(body_len);
    if (header_len + body_len >= plain_len)
        return 0; /* not worth it: the plain frame goes instead */
    uint8_t header[WS_MAX_HEADER];
    ws_build_header(header, WS_OP_TEXT, true, body_len);
    header[0] |= 0x40; /* RSV1: this message is compressed */
    memmove(out + header_len, body, body_len);
    memcpy(out, header, header_len);
    return header_len + body_len;
}

/* ---- the bounded inflater ---- */

struct ws_inflater {
    z_stream z;
};

static struct ws_inflater *inflater_new(int window_bits)
{
    struct ws_inflater *inf = rc_calloc(1, sizeof(*inf));
    if (!inf)
        return NULL;
    if (inflateInit2(&inf->z, -window_bits) != Z_OK) {
        rc_free(inf);
        return NULL;
    }
    return inf;
}

void ws_inflater_free(struct ws_inflater *inf)
{
    if (!inf)
        return;
    inflateEnd(&inf->z);
    rc_free(inf);
}

/* The output of one message being inflated. */
struct inflated {
    uint8_t *buf;
    size_t len, cap;
    bool ended; /* the client closed its stream with a final block */
};

/* room makes space for more output, never past |max| + 1 bytes (one more
 * than allowed tells an overflow). */
static enum ws_inflate_status room(struct inflated *o, size_t max)
{
    if (o->len < o->cap)
        return WS_INFLATE_OK;
    if (o->cap > max)
        return WS_INFLATE_TOO_BIG;
    size_t grown = o->cap ? o->cap * 2 : 256;
    if (grown > max + 1)
        grown = max + 1;
    uint8_t *bigger = rc_realloc(o->buf, grown);
    if (!bigger)
        return WS_INFLATE_NOMEM;
    o->buf = bigger;
    o->cap = grown;
    return WS_INFLATE_OK;
}

/* inflate_some runs the stream over |in| until all of it is taken and all
 * it yields is out. */
static enum ws_inflate_status inflate_some(z_stream *z, const uint8_t *in, size_t len, size_t max,
                                           struct inflated *o)
{
    z->next_in = (Bytef *)in;
    z->avail_in = (uInt)len;
    for (;;) {
        enum ws_inflate_status st = room(o, max);
        if (st != WS_INFLATE_OK)
            return st;
        z->next_out = o->buf + o->len;
        z->avail_out = (uInt)(o->cap - o->len);
        int rc = inflate(z, Z_SYNC_FLUSH);
        o->len = o->cap - z->avail_out;
        if (rc == Z_MEM_ERROR)
            return WS_INFLATE_NOMEM;
        if (rc != Z_OK && rc != Z_BUF_ERROR && rc != Z_STREAM_END)
            return WS_INFLATE_BAD;
        if (o->len > max)
            return WS_INFLATE_TOO_BIG;
        if (rc == Z_STREAM_END) {
            o->ended = true;
            /* Only the sync tail may follow a final block. */
            return z->avail_in == 0 || (in == sync_tail) ? WS_INFLATE_OK : WS_INFLATE_BAD;
        }
        if (z->avail_in == 0 && z->avail_out > 0)
            return WS_INFLATE_OK;
        if (rc == Z_BUF_ERROR && z->avail_out > 0)
            return WS_INFLATE_BAD; /* no progress with input and room left */
    }
}

enum ws_inflate_status ws_inflate(struct ws_inflater **inf, const struct ws_deflate_agreement *a,
                                  const uint8_t *in, size_t len, size_t max, uint8_t **out,
                                  size_t *out_len)
{
    if (!*inf && !(*inf = inflater_new(a->client_window_bits)))
        return WS_INFLATE_NOMEM;
    z_stream *z = &(*inf)->z;
    struct inflated o = {NULL, 0, 0, false};
    enum ws_inflate_status st = inflate_some(z, in, len, max, &o);
    if (st == WS_INFLATE_OK && !o.ended)
        st = inflate_some(z, sync_tail, TAIL_LEN, max, &o);
    if (st != WS_INFLATE_OK) {
        rc_free(o.buf);
        o.buf = NULL;
        o.len = 0;
    }
    /* A failed or ended stream cannot take the next message; a client that
     * resets its context needs none kept. */
    if (st != WS_INFLATE_OK || a->client_no_context || o.ended) {
        ws_inflater_free(*inf);
        *inf = NULL;
    }
    *out = o.buf;
    *out_len = o.len;
    return st;
}
