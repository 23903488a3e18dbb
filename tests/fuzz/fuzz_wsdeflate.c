/* fuzz_wsdeflate.c: libFuzzer target for permessage-deflate (wsdeflate.h).
 *
 * Input: one control byte, then the bytes.
 *   byte 0 bit 0  0: the bytes are a Sec-WebSocket-Extensions value, for
 *                 ws_deflate_negotiate (an agreement must answer with a
 *                 parseable value that agrees again the same way);
 *                 1: the bytes are what a client sends compressed, cut
 *                 into up to three messages at bytes 1 and 2 of the rest,
 *                 inflated with one inflater (context kept unless bit 1),
 *                 within a limit from bits 4..7
 * Every input is also compressed as a shared frame and inflated again:
 * the round trip must give the bytes back. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "proto/wsdeflate.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond))                                                                               \
            abort();                                                                               \
    } while (0)

static const size_t limit_table[16] = {
    0, 1, 2, 15, 16, 100, 125, 126, 1000, 4096, 65535, 65536, 70000, 1 << 18, 1 << 20, 1 << 22,
};

static void negotiate(const uint8_t *data, size_t size)
{
    struct ws_deflate_agreement a, again;
    char answer[128], second[128];
    if (!ws_deflate_negotiate((const char *)data, size, &a, answer, sizeof(answer)))
        return;
    CHECK(a.on && a.client_window_bits >= 8 && a.client_window_bits <= 15);
    /* The answer is itself a valid offer, agreed the same way. */
    CHECK(ws_deflate_negotiate(answer, strlen(answer), &again, second, sizeof(second)));
    CHECK(again.client_no_context == a.client_no_context);
}

static void inflate_messages(uint8_t control, const uint8_t *data, size_t size)
{
    struct ws_deflate_agreement a = {true, (control & 2) != 0, 15};
    size_t max = limit_table[control >> 4];
    size_t cut1 = size > 0 ? data[0] : 0, cut2 = size > 1 ? data[1] : 0;
    const uint8_t *p = data + (size > 2 ? 2 : size);
    size_t left = size > 2 ? size - 2 : 0;
    size_t lens[3] = {cut1 < left ? cut1 : left, 0, 0};
    lens[1] = cut2 < left - lens[0] ? cut2 : left - lens[0];
    lens[2] = left - lens[0] - lens[1];
    struct ws_inflater *inf = NULL;
    for (int i = 0; i < 3; i++) {
        uint8_t *out = NULL;
        size_t out_len = 0;
        enum ws_inflate_status st = ws_inflate(&inf, &a, p, lens[i], max, &out, &out_len);
        CHECK(st == WS_INFLATE_OK || (out == NULL && out_len == 0 && inf == NULL));
        CHECK(out_len <= max);
        free(out);
        p += lens[i];
    }
    ws_inflater_free(inf);
}

static void round_trip(const uint8_t *data, size_t size)
{
    size_t cap = ws_deflate_frame_bound(size);
    uint8_t *frame = malloc(cap);
    size_t len = ws_deflate_frame(data, size, 1 + (int)(size % 9), frame, cap);
    if (len > 0) {
        CHECK(frame[0] == 0xc1 && (frame[1] & 0x80) == 0);
        size_t header = (frame[1] & 0x7f) == 126 ? 4 : (frame[1] & 0x7f) == 127 ? 10 : 2;
        struct ws_deflate_agreement a = {true, true, 15};
        struct ws_inflater *inf = NULL;
        uint8_t *out = NULL;
        size_t out_len = 0;
        CHECK(ws_inflate(&inf, &a, frame + header, len - header, size, &out, &out_len) ==
              WS_INFLATE_OK);
        CHECK(out_len == size && (size == 0 || memcmp(out, data, size) == 0));
        CHECK(inf == NULL);
        free(out);
    }
    free(frame);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    if (data[0] & 1)
        inflate_messages(data[0], data + 1, size - 1);
    else
        negotiate(data + 1, size - 1);
    round_trip(data + 1, size - 1);
    return 0;
}
