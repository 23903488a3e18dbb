/* fuzz_ws.c: libFuzzer target for the WebSocket reader and frame codec.
 *
 * Input: three control bytes, then the bytes a client sends.
 *   byte 0  low nibble picks max_frame, high nibble max_message (limit_table)
 *   byte 1  how the stream is split into feeds: low 2 bits 0 whole, 1 byte
 *           by byte, 2 random pieces of at most (byte 1 >> 2) + 1 bytes,
 *           3 random pieces of at most 256 bytes
 *   byte 2  0xf0..0xff: the callback stops after (byte 2 - 0xef) events
 *
 * The stream is fed twice to fresh readers: whole, and split as chosen. The
 * callback checks each event's invariants; the two runs must agree on the
 * events and the result, since splitting must never change what a stream
 * means. The frame codec is exercised directly on the same bytes. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "util/utf8.h"
#include "proto/ws.h"
#include "proto/wsread.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const uint64_t limit_table[16] = {
    0, 1, 2, 3, 7, 16, 100, 125, 126, 127, 1000, 65535, 65536, 70000, 1 << 20, UINT64_MAX,
};

struct run {
    const struct ws_limits *limits;
    size_t num_ev;
    size_t stop_after;
    uint64_t digest; /* of every event, in order */
    bool closed;
};

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond))                                                                               \
            abort();                                                                               \
    } while (0)

static uint64_t mix(uint64_t h, uint64_t v)
{
    h ^= v + 0x9e3779b97f4a7c15u + (h << 6) + (h >> 2);
    return h * 0xff51afd7ed558ccdu;
}

static int on_event(void *ctx, const struct ws_event *ev)
{
    struct run *run = ctx;

    CHECK(!run->closed); /* nothing after a close */
    CHECK(ev->len == 0 || ev->data != NULL);
    switch (ev->type) {
    case WS_EV_MESSAGE:
        CHECK(ev->opcode == WS_OP_TEXT || ev->opcode == WS_OP_BINARY);
        CHECK(ev->len <= run->limits->max_message);
        if (ev->opcode == WS_OP_TEXT)
            CHECK(utf8_valid(ev->data, ev->len));
        break;
    case WS_EV_PING:
    case WS_EV_PONG:
        CHECK(ev->len <= WS_MAX_CONTROL_PAYLOAD);
        break;
    case WS_EV_CLOSE:
        CHECK(ev->len <= WS_MAX_CONTROL_PAYLOAD - 2);
        CHECK(ev->close_code == WS_CLOSE_NO_STATUS || ws_close_code_valid(ev->close_code));
        CHECK(ev->close_code != WS_CLOSE_NO_STATUS || ev->len == 0);
        CHECK(utf8_valid(ev->data, ev->len));
        run->closed = true;
        break;
    default:
        abort();
    }

    uint64_t h = mix(run->digest, ev->type);
    h = mix(h, ev->type == WS_EV_MESSAGE ? ev->opcode : 0);
    h = mix(h, ev->close_code);
    h = mix(h, ev->len);
    for (size_t i = 0; i < ev->len; i++) /* also proves every byte is readable */
        h = mix(h, ev->data[i]);
    run->digest = h;

    run->num_ev++;
    if (run->stop_after && run->num_ev == run->stop_after)
        return 1;
    return 0;
}

/* next_piece returns the size of the next feed under split |mode|. */
static size_t next_piece(uint8_t mode, uint32_t *seed, size_t left)
{
    size_t n;
    switch (mode & 3) {
    case 0:
        n = left;
        break;
    case 1:
        n = 1;
        break;
    default: {
        size_t max = (mode & 3) == 2 ? (size_t)(mode >> 2) + 1 : 256;
        *seed = *seed * 1103515245u + 12345u;
        n = 1 + (*seed >> 8) % max;
        break;
    }
    }
    return n < left ? n : left;
}

/* feed_stream feeds |stream| to a fresh reader in pieces, each a separate
 * heap copy of exactly its size so ASan catches any read past a feed. */
static int feed_stream(struct run *run, const uint8_t *stream, size_t len, uint8_t mode,
                       uint32_t seed)
{
    struct ws_reader r;
    int rc = 0;

    ws_reader_init(&r);
    for (size_t at = 0; at < len;) {
        size_t n = next_piece(mode, &seed, len - at);
        uint8_t *piece = malloc(n);
        CHECK(piece != NULL);
        memcpy(piece, stream + at, n);
        rc = ws_reader_feed(&r, piece, n, run->limits, on_event, run);
        free(piece);
        if (rc != 0)
            break;
        at += n;
    }
    /* After a close the reader holds nothing, whatever followed. */
    if (run->closed)
        CHECK(r.buf == NULL && r.ctl == NULL);
    ws_reader_cleanup(&r);
    return rc;
}

static void fuzz_reader(const uint8_t *data, size_t size)
{
    struct ws_limits limits = {
        .max_frame = limit_table[data[0] & 15],
        .max_message = limit_table[data[0] >> 4],
    };
    uint8_t mode = data[1];
    size_t stop_after = data[2] >= 0xf0 ? (size_t)(data[2] - 0xef) : 0;
    const uint8_t *stream = data + 3;
    size_t len = size - 3;

    struct run whole = {.limits = &limits, .stop_after = stop_after};
    struct run split = {.limits = &limits, .stop_after = stop_after};
    int rc_whole = feed_stream(&whole, stream, len, 0, 0);
    int rc_split = feed_stream(&split, stream, len, mode, (uint32_t)data[1] << 8 | data[2]);

    CHECK(rc_whole == 0 || rc_whole == 1 || rc_whole == -1002 || rc_whole == -1007 ||
          rc_whole == -1009);
    CHECK(rc_split == rc_whole);
    CHECK(split.num_ev == whole.num_ev);
    CHECK(split.digest == whole.digest);
}

static void fuzz_header(const uint8_t *data, size_t size)
{
    struct ws_frame_header h;
    int n = ws_parse_frame_header(&h, data, size);

    CHECK(n == -1 || n == 0 || (n >= 2 && n <= WS_MAX_CLIENT_HEADER));
    if (n > 0) {
        CHECK(h.header_len == (size_t)n);
        CHECK(h.rsv <= 7 && h.opcode <= 15);
        CHECK(h.payload_len <= INT64_MAX);
        /* The answer depends on the header bytes only. */
        struct ws_frame_header again;
        CHECK(ws_parse_frame_header(&again, data, (size_t)n) == n);
        CHECK(again.payload_len == h.payload_len);
        CHECK(ws_parse_frame_header(&again, data, (size_t)n - 1) == 0);
        /* A server header for the same length parses back to it. */
        uint8_t out[WS_MAX_HEADER];
        size_t out_len = ws_build_header(out, (enum ws_opcode)h.opcode, h.fin, h.payload_len);
        CHECK(out_len == ws_header_len(h.payload_len));
        CHECK(ws_parse_frame_header(&again, out, out_len) == (int)out_len);
        CHECK(again.payload_len == h.payload_len && again.fin == h.fin && !again.masked);
    }
}

static void fuzz_codec(const uint8_t *data, size_t size)
{
    /* Unmasking at any offset and alignment equals the byte loop. */
    if (size >= 5) {
        uint8_t mask[4];
        memcpy(mask, data, 4);
        uint64_t offset = data[4];
        size_t len = size - 5;
        uint8_t *fast = malloc(len + 1);
        uint8_t *slow = malloc(len + 1);
        CHECK(fast && slow);
        memcpy(fast, data + 5, len);
        memcpy(slow, data + 5, len);
        ws_unmask(fast, len, mask, offset);
        for (size_t i = 0; i < len; i++)
            slow[i] ^= mask[(offset + i) & 3];
        CHECK(memcmp(fast, slow, len) == 0);
        free(fast);
        free(slow);
    }

    /* A close frame built from any reason stays within 125 bytes, and a
     * valid UTF-8 reason stays valid after the cut. */
    char *reason = malloc(size + 1);
    CHECK(reason != NULL);
    memcpy(reason, data, size);
    reason[size] = '\0';
    size_t reason_len = strlen(reason);
    uint8_t frame[2 + WS_MAX_CONTROL_PAYLOAD];
    size_t n = ws_build_close(frame, 1000, reason);
    CHECK(n >= 4 && n <= sizeof(frame) && frame[1] == n - 2);
    CHECK(memcmp(frame + 4, reason, n - 4) == 0);
    if (utf8_valid((const uint8_t *)reason, reason_len))
        CHECK(utf8_valid(frame + 4, n - 4));
    free(reason);

    /* The accept key never writes past its 29 bytes (ASan would see it). */
    if (size >= 24) {
        char accept[WS_ACCEPT_LEN + 1];
        if (ws_accept_key(accept, (const char *)data, 24) == 0)
            CHECK(strlen(accept) == WS_ACCEPT_LEN);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 3)
        return 0;
    fuzz_reader(data, size);
    fuzz_header(data + 3, size - 3);
    fuzz_codec(data + 3, size - 3);
    return 0;
}
