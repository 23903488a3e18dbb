/* wsparse.c: WebSocket client handshake and frames (see wsparse.h). */
#include "wsparse.h"

#include <stdio.h>
#include <string.h>

#include <openssl/base64.h>
#include <openssl/sha.h>

#include "httpresp.h"
#include "rng.h"

static const char ws_guid[] = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

void wsp_make_key(char out[WSP_KEY_LEN + 1], char accept[WSP_ACCEPT_LEN + 1], uint64_t *rng)
{
    uint8_t raw[16];
    uint64_t a = rng_next(rng), b = rng_next(rng);

    memcpy(raw, &a, 8);
    memcpy(raw + 8, &b, 8);
    EVP_EncodeBlock((uint8_t *)out, raw, sizeof(raw));

    char input[WSP_KEY_LEN + sizeof(ws_guid)];
    memcpy(input, out, WSP_KEY_LEN);
    memcpy(input + WSP_KEY_LEN, ws_guid, sizeof(ws_guid) - 1);
    uint8_t digest[SHA_DIGEST_LENGTH];
    SHA1((const uint8_t *)input, WSP_KEY_LEN + sizeof(ws_guid) - 1, digest);
    EVP_EncodeBlock((uint8_t *)accept, digest, sizeof(digest));
}

int wsp_check_response(const char *head, size_t len, const char *accept, char *err, size_t err_len)
{
    const char *v;
    size_t v_len;
    int status = httpresp_status(head, len);

    if (status != 101) {
        const char *eol = memchr(head, '\r', len);
        int line_len = eol ? (int)(eol - head) : (int)(len < 80 ? len : 80);
        snprintf(err, err_len, "upgrade refused: %.*s", line_len, head);
        return -1;
    }
    if (!httpresp_header(head, len, "Upgrade", &v, &v_len) ||
        !httpresp_value_has(v, v_len, "websocket")) {
        snprintf(err, err_len, "101 without Upgrade: websocket");
        return -1;
    }
    if (!httpresp_header(head, len, "Connection", &v, &v_len) ||
        !httpresp_value_has(v, v_len, "upgrade")) {
        snprintf(err, err_len, "101 without Connection: upgrade");
        return -1;
    }
    if (!httpresp_header(head, len, "Sec-WebSocket-Accept", &v, &v_len) ||
        v_len != WSP_ACCEPT_LEN || memcmp(v, accept, WSP_ACCEPT_LEN) != 0) {
        snprintf(err, err_len, "wrong or missing Sec-WebSocket-Accept");
        return -1;
    }
    return 0;
}

size_t wsp_client_frame(uint8_t *out, uint8_t opcode, const uint8_t *payload, size_t len,
                        uint32_t mask)
{
    size_t pos = 0;

    out[pos++] = (uint8_t)(0x80 | opcode);
    if (len < 126) {
        out[pos++] = (uint8_t)(0x80 | len);
    } else if (len <= 0xffff) {
        out[pos++] = 0x80 | 126;
        out[pos++] = (uint8_t)(len >> 8);
        out[pos++] = (uint8_t)len;
    } else {
        out[pos++] = 0x80 | 127;
        for (int shift = 56; shift >= 0; shift -= 8)
            out[pos++] = (uint8_t)((uint64_t)len >> shift);
    }
    uint8_t key[4] = {(uint8_t)(mask >> 24), (uint8_t)(mask >> 16), (uint8_t)(mask >> 8),
                      (uint8_t)mask};
    memcpy(out + pos, key, 4);
    pos += 4;
    for (size_t i = 0; i < len; i++)
        out[pos + i] = payload[i] ^ key[i & 3];
    return pos + len;
}

/* header_length reads a server frame header: its length in |*out_header|
 * and the payload length in |*out_payload|. Returns 1, 0 (incomplete) or
 * -1 (invalid). */
static int header_length(const uint8_t *p, size_t len, size_t max_len, size_t *out_header,
                         uint64_t *out_payload)
{
    if (len < 2)
        return 0;
    /* RSV2, RSV3, or masked; RSV1 (permessage-deflate) is the caller's to judge */
    if ((p[0] & 0x30) != 0 || (p[1] & 0x80) != 0)
        return -1;
    uint64_t n = p[1] & 0x7f;
    size_t header = 2;
    if (n == 126) {
        if (len < 4)
            return 0;
        n = (uint64_t)p[2] << 8 | p[3];
        header = 4;
    } else if (n == 127) {
        if (len < 10)
            return 0;
        n = 0;
        for (int i = 2; i < 10; i++)
            n = n << 8 | p[i];
        header = 10;
    }
    if (n > max_len)
        return -1;
    *out_header = header;
    *out_payload = n;
    return 1;
}

long wsp_frame_length(const uint8_t *p, size_t len, size_t max_len)
{
    size_t header;
    uint64_t payload;
    int r = header_length(p, len, max_len, &header, &payload);

    return r <= 0 ? r : (long)(header + payload);
}

long wsp_parse_frame(const uint8_t *p, size_t len, size_t max_len, struct wsp_frame *out)
{
    size_t header;
    uint64_t payload;
    int r = header_length(p, len, max_len, &header, &payload);

    if (r <= 0)
        return r;
    if (len - header < payload)
        return 0;
    out->opcode = p[0] & 0x0f;
    out->fin = (p[0] & 0x80) != 0;
    out->compressed = (p[0] & 0x40) != 0;
    out->payload = p + header;
    out->len = (size_t)payload;
    return (long)(header + payload);
}
