/* ws.c: the RFC 6455 frame codec: headers, masking, close frames and the
 * handshake's accept key. No I/O, no allocation. */
#include "proto/ws.h"

#include <stdint.h>
#include <string.h>

#include <openssl/base64.h>
#include <openssl/sha.h>

/* The GUID every server appends to the client's key (RFC 6455 section 1.3). */
static const char ws_guid[] = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

#define WS_KEY_LEN 24     /* base64 of 16 bytes, with "==" */
#define WS_KEY_RAW_LEN 16 /* the nonce the key encodes */

#define WS_LEN16 126 /* 7-bit length markers of the extended forms */
#define WS_LEN64 127

static uint64_t load_be(const uint8_t *p, size_t n)
{
    uint64_t v = 0;
    for (size_t i = 0; i < n; i++)
        v = (v << 8) | p[i];
    return v;
}

static void store_be(uint8_t *p, uint64_t v, size_t n)
{
    for (size_t i = n; i-- > 0;) {
        p[i] = (uint8_t)v;
        v >>= 8;
    }
}

int ws_parse_frame_header(struct ws_frame_header *out, const uint8_t *buf, size_t len)
{
    if (len < 2)
        return 0;

    uint8_t len7 = buf[1] & 0x7f;
    size_t ext_len = len7 == WS_LEN64 ? 8 : len7 == WS_LEN16 ? 2 : 0;
    bool masked = (buf[1] & 0x80) != 0;
    size_t header_len = 2 + ext_len + (masked ? 4 : 0);

    /* The top bit of a 64-bit length must be 0 (section 5.2). Reject as soon
     * as its byte is here, rather than after the rest of the header. */
    if (len7 == WS_LEN64 && len > 2 && (buf[2] & 0x80))
        return -1;
    if (len < header_len)
        return 0;

    out->fin = (buf[0] & 0x80) != 0;
    out->rsv = (buf[0] >> 4) & 0x07;
    out->opcode = buf[0] & 0x0f;
    out->masked = masked;
    out->payload_len = ext_len ? load_be(buf + 2, ext_len) : len7;
    if (masked)
        memcpy(out->mask, buf + 2 + ext_len, 4);
    else
        memset(out->mask, 0, 4);
    out->header_len = header_len;
    return (int)header_len;
}

/* unmask_bytes is the byte-at-a-time loop, for the unaligned head and the
 * tail; it returns the payload offset after the bytes it processed. */
static uint64_t unmask_bytes(uint8_t *data, size_t len, const uint8_t mask[4], uint64_t offset)
{
    for (size_t i = 0; i < len; i++)
        data[i] ^= mask[(offset + i) & 3];
    return offset + len;
}

void ws_unmask(uint8_t *data, size_t len, const uint8_t mask[4], uint64_t offset)
{
    if (len == 0)
        return;

    /* Bytes up to an 8-byte boundary one at a time, so the word loop below
     * only does aligned loads and stores. */
    size_t head = (size_t)(-(uintptr_t)data & 7);
    if (head > len)
        head = len;
    offset = unmask_bytes(data, head, mask, offset);
    data += head;
    len -= head;

    /* The mask rotated to this offset and repeated twice; built byte by byte
     * so it lines up with memory whatever the host's byte order. */
    uint8_t key_bytes[8];
    for (size_t i = 0; i < 8; i++)
        key_bytes[i] = mask[(offset + i) & 3];
    uint64_t key;
    memcpy(&key, key_bytes, 8);

    size_t words = len / 8;
    for (size_t i = 0; i < words; i++) {
        uint64_t w;
        memcpy(&w, data + 8 * i, 8);
        w ^= key;
        memcpy(data + 8 * i, &w, 8);
    }
    /* A multiple of 8 keeps the mask phase: the tail starts where the key did. */
    unmask_bytes(data + 8 * words, len - 8 * words, mask, offset);
}

size_t ws_header_len(uint64_t payload_len)
{
    if (payload_len < WS_LEN16)
        return 2;
    if (payload_len <= UINT16_MAX)
        return 4;
    return 10;
}

size_t ws_build_header(uint8_t out[WS_MAX_HEADER], enum ws_opcode opcode, bool fin,
                       uint64_t payload_len)
{
    size_t header_len = ws_header_len(payload_len);

    out[0] = (uint8_t)((fin ? 0x80 : 0) | (opcode & 0x0f));
    if (header_len == 2) {
        out[1] = (uint8_t)payload_len;
    } else if (header_len == 4) {
        out[1] = WS_LEN16;
        store_be(out + 2, payload_len, 2);
    } else {
        out[1] = WS_LEN64;
        store_be(out + 2, payload_len, 8);
    }
    return header_len;
}

/* reason_cut returns how many bytes of |reason| fit in |room|, backing off
 * so the cut never splits a UTF-8 character (a peer must reject a close
 * reason that is not valid UTF-8). */
static size_t reason_cut(const char *reason, size_t room)
{
    size_t len = 0;
    while (len <= room && reason[len] != '\0') /* never reads past room + 1 */
        len++;
    if (len <= room)
        return len;

    /* reason[room] is the first byte left out; while it is a continuation
     * byte, the character it belongs to started before the cut. */
    size_t cut = room;
    while (cut > 0 && ((uint8_t)reason[cut] & 0xc0) == 0x80)
        cut--;
    return cut;
}

size_t ws_build_close(uint8_t *out, uint16_t code, const char *reason)
{
    if (code == 0)
        return ws_build_header(out, WS_OP_CLOSE, true, 0);

    size_t reason_len = reason ? reason_cut(reason, WS_MAX_CONTROL_PAYLOAD - 2) : 0;
    size_t header_len = ws_build_header(out, WS_OP_CLOSE, true, 2 + reason_len);
    store_be(out + header_len, code, 2);
    if (reason_len)
        memcpy(out + header_len + 2, reason, reason_len);
    return header_len + 2 + reason_len;
}

bool ws_close_code_valid(uint16_t code)
{
    /* 1004 is reserved, 1005 and 1006 must never be sent, 1012-1015 are
     * either later registrations or "never sent" (1015, TLS); like the
     * Autobahn testsuite we accept only the codes of RFC 6455 itself plus
     * the ranges for libraries (3000-3999) and applications (4000-4999). */
    return (code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1011) ||
           (code >= 3000 && code <= 4999);
}

/* base64_digest writes the 28 characters (and a NUL) of a SHA-1 digest in
 * base64: six groups of three bytes, then two bytes and one "=". By hand,
 * as EVP_EncodeBlock's general loop costs more than the rest of an accept
 * key but the SHA-1. */
static void base64_digest(char out[WS_ACCEPT_LEN + 1], const uint8_t digest[SHA_DIGEST_LENGTH])
{
    static const char alphabet[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    size_t o = 0;

    for (size_t i = 0; i + 3 <= SHA_DIGEST_LENGTH; i += 3) {
        uint32_t v = (uint32_t)digest[i] << 16 | (uint32_t)digest[i + 1] << 8 | digest[i + 2];
        out[o++] = alphabet[v >> 18 & 63];
        out[o++] = alphabet[v >> 12 & 63];
        out[o++] = alphabet[v >> 6 & 63];
        out[o++] = alphabet[v & 63];
    }
    uint32_t v = (uint32_t)digest[18] << 16 | (uint32_t)digest[19] << 8;
    out[o++] = alphabet[v >> 18 & 63];
    out[o++] = alphabet[v >> 12 & 63];
    out[o++] = alphabet[v >> 6 & 63];
    out[o++] = '=';
    out[o] = '\0';
}

int ws_accept_key(char out[WS_ACCEPT_LEN + 1], const char *key, size_t key_len)
{
    uint8_t nonce[WS_KEY_RAW_LEN + 2]; /* room for the 18 bytes 24 characters may hold */
    size_t nonce_len = 0;

    if (key == NULL || key_len != WS_KEY_LEN)
        return -1;
    if (!EVP_DecodeBase64(nonce, &nonce_len, sizeof(nonce), (const uint8_t *)key, key_len) ||
        nonce_len != WS_KEY_RAW_LEN)
        return -1;

    /* SHA-1 over the key as sent (not the decoded nonce) and the GUID. */
    SHA_CTX sha;
    uint8_t digest[SHA_DIGEST_LENGTH];
    SHA1_Init(&sha);
    SHA1_Update(&sha, key, key_len);
    SHA1_Update(&sha, ws_guid, sizeof(ws_guid) - 1);
    SHA1_Final(digest, &sha);

    base64_digest(out, digest);
    return 0;
}
