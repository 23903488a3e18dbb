/* utf8.c: an incremental UTF-8 validator (RFC 3629, section 4).
 *
 * A byte-class state machine. Every byte maps to one of twelve classes; the
 * state says how many continuation bytes are still due and, right after a
 * lead byte that restricts it, which range the next byte must fall in. The
 * restricted second bytes are what reject, at the first byte that decides
 * it (fail fast):
 *
 *   E0 followed by 80..9F   overlong 3-byte form (below U+0800)
 *   ED followed by A0..BF   a surrogate, U+D800..U+DFFF
 *   F0 followed by 80..8F   overlong 4-byte form (below U+10000)
 *   F4 followed by 90..BF   above U+10FFFF
 *
 * C0 and C1 (always overlong) and F5..FF (always above U+10FFFF) are invalid
 * wherever they appear. Runs of ASCII, the common case for JSON, are skipped
 * eight bytes at a time while the state is at a character boundary. */
#include "util/utf8.h"

#include <string.h>

enum utf8_st {
    ST_ACCEPT = 0, /* at a character boundary: must stay 0 (see utf8.h) */
    ST_REJECT,     /* sticky */
    ST_NEED1,      /* one continuation byte due, any 80..BF */
    ST_NEED2,      /* two due, any 80..BF next */
    ST_E0,         /* two due, next A0..BF */
    ST_ED,         /* two due, next 80..9F */
    ST_NEED3,      /* three due, any 80..BF next */
    ST_F0,         /* three due, next 90..BF */
    ST_F4,         /* three due, next 80..8F */
    ST_COUNT,
};

enum utf8_class {
    CL_ASCII,   /* 00..7F */
    CL_CONT_LO, /* 80..8F */
    CL_CONT_MD, /* 90..9F */
    CL_CONT_HI, /* A0..BF */
    CL_BAD,     /* C0, C1, F5..FF */
    CL_LEAD2,   /* C2..DF */
    CL_E0,      /* E0 */
    CL_LEAD3,   /* E1..EC, EE, EF */
    CL_ED,      /* ED */
    CL_F0,      /* F0 */
    CL_LEAD4,   /* F1..F3 */
    CL_F4,      /* F4 */
    CL_COUNT,
};

#define A CL_ASCII
#define L CL_CONT_LO
#define M CL_CONT_MD
#define H CL_CONT_HI
#define X CL_BAD
#define C CL_LEAD2
#define E CL_LEAD3

static const uint8_t byte_class[256] = {
    /* 00..7F */
    A, A, A, A, A, A, A, A, A, A, A, A, A, A, A, A, A, A, A, A, A, A, A, A, A, A, A, A, A, A, A, A,
    A, A, A, A, A, A, A, A, A, A, A, A, A, A, A, A, A, A, A, A, A, A, A, A, A, A, A, A, A, A, A, A,
    A, A, A, A, A, A, A, A, A, A, A, A, A, A, A, A, A, A, A, A, A, A, A, A, A, A, A, A, A, A, A, A,
    A, A, A, A, A, A, A, A, A, A, A, A, A, A, A, A, A, A, A, A, A, A, A, A, A, A, A, A, A, A, A, A,
    /* 80..8F, 90..9F */
    L, L, L, L, L, L, L, L, L, L, L, L, L, L, L, L, M, M, M, M, M, M, M, M, M, M, M, M, M, M, M, M,
    /* A0..BF */
    H, H, H, H, H, H, H, H, H, H, H, H, H, H, H, H, H, H, H, H, H, H, H, H, H, H, H, H, H, H, H, H,
    /* C0..DF */
    X, X, C, C, C, C, C, C, C, C, C, C, C, C, C, C, C, C, C, C, C, C, C, C, C, C, C, C, C, C, C, C,
    /* E0..EF */
    CL_E0, E, E, E, E, E, E, E, E, E, E, E, E, CL_ED, E, E,
    /* F0..FF */
    CL_F0, CL_LEAD4, CL_LEAD4, CL_LEAD4, CL_F4, X, X, X, X, X, X, X, X, X, X, X};

#undef A
#undef L
#undef M
#undef H
#undef X
#undef C
#undef E

/* next_state[state][class]; the columns follow enum utf8_class. Short
 * names keep the columns aligned: OK is ST_ACCEPT, R is ST_REJECT, N1..N3
 * the states that wait for 1..3 continuation bytes. */
#define OK ST_ACCEPT
#define R ST_REJECT
#define N1 ST_NEED1
#define N2 ST_NEED2
#define N3 ST_NEED3

/* clang-format off */
static const uint8_t next_state[ST_COUNT][CL_COUNT] = {
    /*            00-7F 80-8F 90-9F A0-BF  bad  C2-DF  E0     E1-EF  ED     F0     F1-F3  F4 */
    [ST_ACCEPT] = {OK,  R,    R,    R,    R,   N1,    ST_E0, N2,    ST_ED, ST_F0, N3,    ST_F4},
    [ST_REJECT] = {R,   R,    R,    R,    R,   R,     R,     R,     R,     R,     R,     R},
    [ST_NEED1]  = {R,   OK,   OK,   OK,   R,   R,     R,     R,     R,     R,     R,     R},
    [ST_NEED2]  = {R,   N1,   N1,   N1,   R,   R,     R,     R,     R,     R,     R,     R},
    [ST_E0]     = {R,   R,    R,    N1,   R,   R,     R,     R,     R,     R,     R,     R},
    [ST_ED]     = {R,   N1,   N1,   R,    R,   R,     R,     R,     R,     R,     R,     R},
    [ST_NEED3]  = {R,   N2,   N2,   N2,   R,   R,     R,     R,     R,     R,     R,     R},
    [ST_F0]     = {R,   R,    N2,   N2,   R,   R,     R,     R,     R,     R,     R,     R},
    [ST_F4]     = {R,   N2,   R,    R,    R,   R,     R,     R,     R,     R,     R,     R},
};
/* clang-format on */

#undef OK
#undef R
#undef N1
#undef N2
#undef N3

/* first_high_byte returns the index of the first byte of |word| (as loaded
 * from memory) with its top bit set; |high| is word & 0x80..80, non-zero. */
static size_t first_high_byte(uint64_t high)
{
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    return (size_t)__builtin_ctzll(high) / 8;
#else
    return (size_t)__builtin_clzll(high) / 8;
#endif
}

/* skip_ascii returns the first byte at or after |p| that is not ASCII, or
 * a position within 8 bytes of |end| (the caller's byte loop does the
 * rest). The bytes are loaded with memcpy, which compiles to one unaligned
 * load without aliasing trouble. */
static const uint8_t *skip_ascii(const uint8_t *p, const uint8_t *end)
{
    const uint64_t high_bits = 0x8080808080808080u;

    while (end - p >= 16) {
        uint64_t a, b;
        memcpy(&a, p, 8);
        memcpy(&b, p + 8, 8);
        if ((a | b) & high_bits)
            break;
        p += 16;
    }
    while (end - p >= 8) {
        uint64_t a;
        memcpy(&a, p, 8);
        if (a & high_bits)
            return p + first_high_byte(a & high_bits);
        p += 8;
    }
    return p;
}

void utf8_init(struct utf8_state *st)
{
    st->state = ST_ACCEPT;
}

bool utf8_feed(struct utf8_state *st, const uint8_t *p, size_t len)
{
    uint32_t state = st->state;

    if (len == 0)
        return state != ST_REJECT;

    const uint8_t *end = p + len;
    while (p < end) {
        if (state == ST_ACCEPT && *p < 0x80) {
            p = skip_ascii(p, end);
            if (p == end)
                break;
        }
        state = next_state[state][byte_class[*p++]];
        if (state == ST_REJECT)
            break;
    }
    st->state = state;
    return state != ST_REJECT;
}

bool utf8_at_boundary(const struct utf8_state *st)
{
    return st->state == ST_ACCEPT;
}

bool utf8_valid(const uint8_t *p, size_t len)
{
    struct utf8_state st;

    utf8_init(&st);
    return utf8_feed(&st, p, len) && utf8_at_boundary(&st);
}
