/* fuzz_natsparse.c: libFuzzer target for the NATS protocol reader of
 * ringcast-bench's --target nats (bench/ringcast-bench/natsparse.c).
 *
 * Input: one control byte, then the bytes a server sends. The control
 * byte's low 2 bits split the stream into pieces: 0 whole, 1 byte by byte,
 * 2 pieces of (byte >> 2) + 1 bytes, 3 pieces of pseudo-random lengths up
 * to 256. The stream is parsed whole and split as chosen by fresh parsers:
 * each operation's fields must lie inside the stream's bytes as they were
 * fed, and both runs must yield the same operations and the same end, as
 * splitting never changes what a stream means. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../bench/ringcast-bench/natsparse.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_PAYLOAD 4096

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond))                                                                               \
            abort();                                                                               \
    } while (0)

static uint64_t mix(uint64_t h, const void *p, size_t len)
{
    const uint8_t *b = p;
    for (size_t i = 0; i < len; i++)
        h = (h ^ b[i]) * 0x100000001b3ull;
    return h;
}

static uint64_t digest_op(uint64_t h, const struct natsp_op *op)
{
    uint64_t k = (uint64_t)op->kind, len = op->len, arg_len = op->arg_len;

    CHECK(op->kind <= NATSP_ERR);
    CHECK(op->len <= MAX_PAYLOAD);
    CHECK(op->arg_len <= NATSP_MAX_LINE);
    CHECK(op->kind == NATSP_MSG || op->payload == NULL);
    h = mix(h, &k, sizeof(k));
    h = mix(h, &op->sid, sizeof(op->sid));
    h = mix(h, &arg_len, sizeof(arg_len));
    if (op->arg_len > 0)
        h = mix(h, op->arg, op->arg_len);
    h = mix(h, &len, sizeof(len));
    if (op->len > 0)
        h = mix(h, op->payload, op->len);
    return h;
}

struct outcome {
    uint64_t digest;
    size_t ops;
    int end; /* -1 error, 0 clean, 2 an unfinished operation */
};

static size_t piece_length(uint8_t mode, size_t left, uint64_t *rng)
{
    size_t n;

    switch (mode & 3) {
    case 0:
        n = left;
        break;
    case 1:
        n = 1;
        break;
    case 2:
        n = (size_t)(mode >> 2) + 1;
        break;
    default:
        *rng = *rng * 6364136223846793005ull + 1442695040888963407ull;
        n = (size_t)(*rng >> 56) + 1;
        break;
    }
    return n < left ? n : left;
}

static struct outcome run(const uint8_t *s, size_t len, uint8_t mode)
{
    struct outcome o = {.digest = 0xcbf29ce484222325ull};
    struct natsp p;
    struct natsp_op op;
    uint64_t rng = len;
    size_t pos = 0;
    int r = 0;

    natsp_init(&p, MAX_PAYLOAD);
    while (pos < len && r >= 0) {
        size_t n = piece_length(mode, len - pos, &rng);
        /* Each piece in a buffer of its own, as a WebSocket frame is: what
         * the parser returns must not point into an earlier piece. */
        uint8_t *piece = malloc(n);
        CHECK(piece != NULL);
        memcpy(piece, s + pos, n);
        const uint8_t *d = piece;
        size_t left = n;
        while ((r = natsp_next(&p, &d, &left, &op)) == 1) {
            o.digest = digest_op(o.digest, &op);
            o.ops++;
        }
        CHECK(r < 0 || left == 0);
        free(piece);
        pos += n;
    }
    o.end = r < 0 ? -1 : natsp_pending(&p) ? 2 : 0;
    natsp_free(&p);
    return o;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    struct outcome whole = run(data + 1, size - 1, 0);
    struct outcome split = run(data + 1, size - 1, data[0]);
    CHECK(whole.end == split.end);
    /* Up to an error too: the operations before it are the same. */
    CHECK(whole.ops == split.ops);
    CHECK(whole.digest == split.digest);
    return 0;
}
