/* wsread.c: the receive side of a WebSocket server connection.
 *
 * The reader is a small state machine over frames: it is either collecting a
 * frame header (possibly split across feeds, kept in r->hdr) or inside a
 * frame's payload. Headers are judged as soon as their bytes are here: the
 * first two bytes decide RSV, opcode, masking, control-frame FIN and the
 * continuation rules; the complete header decides the size limits, before a
 * single payload byte is read.
 *
 * Payload bytes take one of three routes:
 *
 *  - in place: a whole message in one frame, or a whole control frame, that
 *    lies entirely within the current feed is unmasked in the caller's
 *    buffer and reported from there. This is the common case and costs no
 *    copy and no allocation.
 *  - r->buf: a message split across feeds or fragments is copied, unmasked
 *    and (for text) UTF-8 checked chunk by chunk as it arrives, so a bad byte
 *    fails the connection at once, not when the message ends. The buffer is
 *    freed as soon as the message is reported.
 *  - r->ctl: a control frame split across feeds gets its own 125 bytes, so
 *    that a ping between two fragments does not disturb the message being
 *    assembled in r->buf. Freed as soon as the frame is reported.
 *
 * So an idle reader (between messages) owns no heap memory. */
#include "proto/wsread.h"

#include <string.h>

#include "util/alloc.h"

#define BUF_MIN_CAP 256 /* first allocation of r->buf */

/* Reported as the data of empty payloads, so data is never NULL. */
static const uint8_t empty_payload[1];

static bool opcode_is_control(uint8_t opcode)
{
    return (opcode & 0x08) != 0;
}

static bool opcode_is_known(uint8_t opcode)
{
    switch (opcode) {
    case WS_OP_CONTINUATION:
    case WS_OP_TEXT:
    case WS_OP_BINARY:
    case WS_OP_CLOSE:
    case WS_OP_PING:
    case WS_OP_PONG:
        return true;
    default:
        return false;
    }
}

static size_t min_size(size_t a, uint64_t b)
{
    return b < a ? (size_t)b : a;
}

/* release_message forgets the message being assembled and frees its buffer. */
static void release_message(struct ws_reader *r)
{
    rc_free(r->buf);
    r->buf = NULL;
    r->buf_len = 0;
    r->buf_cap = 0;
    r->msg_opcode = 0;
    r->msg_compressed = 0;
    utf8_init(&r->utf8);
}

/* release_all returns the reader to owning nothing: no message, no split
 * control frame, no partial header. */
static void release_all(struct ws_reader *r)
{
    release_message(r);
    rc_free(r->ctl);
    r->ctl = NULL;
    r->hdr_len = 0;
    r->in_frame = 0;
}

/* fail records a protocol error and returns it as ws_reader_feed does. The
 * error sticks: the connection is being closed, and feeding more bytes must
 * not resynchronise on garbage. */
static int fail(struct ws_reader *r, enum ws_close_code code)
{
    release_all(r);
    r->error = (uint16_t)code;
    return -(int)code;
}

/* check_frame_start judges what the first two header bytes decide. It
 * returns 0 or a close code. */
static int check_frame_start(const struct ws_reader *r, uint8_t b0, uint8_t b1)
{
    bool fin = (b0 & 0x80) != 0;
    uint8_t rsv = (b0 >> 4) & 0x07;
    uint8_t opcode = b0 & 0x0f;
    bool masked = (b1 & 0x80) != 0;

    /* RSV1 is permessage-deflate's, on a message's first frame only (RFC
     * 7692 section 6); no other extension is ever negotiated. */
    bool starts_message = opcode == WS_OP_TEXT || opcode == WS_OP_BINARY;
    if (rsv != 0 && !(rsv == 4 && r->deflate && starts_message))
        return WS_CLOSE_PROTOCOL_ERROR;
    if (!opcode_is_known(opcode))
        return WS_CLOSE_PROTOCOL_ERROR;
    if (!masked) /* a client must mask every frame (section 5.1) */
        return WS_CLOSE_PROTOCOL_ERROR;
    if (opcode_is_control(opcode))
        return fin ? 0 : WS_CLOSE_PROTOCOL_ERROR; /* never fragmented (5.5) */
    if (opcode == WS_OP_CONTINUATION)
        return r->msg_opcode != 0 ? 0 : WS_CLOSE_PROTOCOL_ERROR;
    /* A new message may not start inside another (5.4). */
    return r->msg_opcode == 0 ? 0 : WS_CLOSE_PROTOCOL_ERROR;
}

/* check_frame_len judges the payload length of a complete header against
 * RFC 6455 and the limits, before any payload byte is read. */
static int check_frame_len(const struct ws_reader *r, const struct ws_frame_header *h,
                           const struct ws_limits *limits)
{
    /* Judged on the value, not the encoding: a non-minimal length form is
     * accepted (see ws_parse_frame_header). */
    if (opcode_is_control(h->opcode))
        return h->payload_len <= WS_MAX_CONTROL_PAYLOAD ? 0 : WS_CLOSE_PROTOCOL_ERROR;
    if (h->payload_len > limits->max_frame)
        return WS_CLOSE_TOO_BIG;
    /* The message so far plus this frame: known now, so refuse now. The
     * SIZE_MAX test only matters where size_t is narrower than 64 bits. */
    if (r->buf_len > limits->max_message || h->payload_len > limits->max_message - r->buf_len ||
        h->payload_len > SIZE_MAX - r->buf_len)
        return WS_CLOSE_TOO_BIG;
    return 0;
}

static void begin_frame(struct ws_reader *r, const struct ws_frame_header *h)
{
    r->in_frame = 1;
    r->frame_opcode = h->opcode;
    r->frame_fin = h->fin;
    r->frame_len = h->payload_len;
    r->frame_done = 0;
    memcpy(r->mask, h->mask, sizeof(r->mask));
    if (h->opcode == WS_OP_TEXT || h->opcode == WS_OP_BINARY) {
        r->msg_opcode = h->opcode;
        r->msg_compressed = (h->rsv & 4) != 0;
        utf8_init(&r->utf8);
    }
}

/* read_header consumes header bytes from |p|. It sets *consumed and returns
 * 0 (r->in_frame tells whether the header is complete) or a close code. */
static int read_header(struct ws_reader *r, const uint8_t *p, size_t avail,
                       const struct ws_limits *limits, size_t *consumed)
{
    struct ws_frame_header h;
    const uint8_t *hp; /* the header bytes seen so far */
    size_t have;
    int n;

    if (r->hdr_len == 0) {
        hp = p;
        have = avail;
    } else {
        size_t take = min_size(avail, sizeof(r->hdr) - r->hdr_len);
        memcpy(r->hdr + r->hdr_len, p, take);
        hp = r->hdr;
        have = r->hdr_len + take;
    }
    n = ws_parse_frame_header(&h, hp, have);

    if (have >= 2) {
        int rc = check_frame_start(r, hp[0], hp[1]);
        if (rc)
            return rc;
    }
    if (n < 0) /* a 64-bit length with its top bit set */
        return WS_CLOSE_PROTOCOL_ERROR;
    if (n == 0) {
        /* Incomplete, so shorter than WS_MAX_CLIENT_HEADER: all of it fits. */
        if (r->hdr_len == 0)
            memcpy(r->hdr, p, avail);
        r->hdr_len = (uint8_t)have;
        *consumed = avail;
        return 0;
    }

    *consumed = (size_t)n - r->hdr_len;
    r->hdr_len = 0;
    int rc = check_frame_len(r, &h, limits);
    if (rc)
        return rc;
    begin_frame(r, &h);
    return 0;
}

/* parse_close fills the code and reason of a close event from its payload
 * (section 5.5.1); it returns 0 or the close code of the violation. */
static int parse_close(struct ws_event *ev, const uint8_t *payload, size_t len)
{
    if (len == 0) {
        ev->close_code = WS_CLOSE_NO_STATUS;
        return 0;
    }
    if (len == 1) /* half a status code */
        return WS_CLOSE_PROTOCOL_ERROR;
    ev->close_code = (uint16_t)(payload[0] << 8 | payload[1]);
    if (!ws_close_code_valid(ev->close_code))
        return WS_CLOSE_PROTOCOL_ERROR;
    if (!utf8_valid(payload + 2, len - 2))
        return WS_CLOSE_INVALID_PAYLOAD;
    if (len > 2) {
        ev->data = payload + 2;
        ev->len = len - 2;
    }
    return 0;
}

/* deliver_control reports a complete, unmasked control frame. */
static int deliver_control(struct ws_reader *r, uint8_t opcode, const uint8_t *payload, size_t len,
                           ws_event_fn fn, void *ctx)
{
    struct ws_event ev = {
        .opcode = (enum ws_opcode)opcode,
        .data = len ? payload : empty_payload,
        .len = len,
    };

    if (opcode == WS_OP_PING) {
        ev.type = WS_EV_PING;
    } else if (opcode == WS_OP_PONG) {
        ev.type = WS_EV_PONG;
    } else {
        ev.type = WS_EV_CLOSE;
        ev.data = empty_payload;
        ev.len = 0;
        int rc = parse_close(&ev, payload, len);
        if (rc)
            return fail(r, rc);
        /* Nothing after a close frame counts (section 5.5.1): drop any
         * message half assembled and ignore the rest of the input. */
        release_all(r);
        r->closed = 1;
    }
    return fn(ctx, &ev);
}

/* read_control consumes control-frame payload at data[*pos]. */
static int read_control(struct ws_reader *r, uint8_t *data, size_t len, size_t *pos, ws_event_fn fn,
                        void *ctx)
{
    uint8_t *p = data + *pos;
    size_t avail = len - *pos;
    uint8_t opcode = r->frame_opcode;

    if (r->frame_done == 0 && avail >= r->frame_len) {
        size_t n = (size_t)r->frame_len;
        ws_unmask(p, n, r->mask, 0);
        *pos += n;
        r->in_frame = 0;
        return deliver_control(r, opcode, p, n, fn, ctx);
    }

    /* Only the header was in this feed: nothing to keep yet, and the whole
     * payload may still arrive in one piece next time. */
    if (avail == 0)
        return 0;
    if (r->ctl == NULL) {
        r->ctl = rc_malloc(WS_MAX_CONTROL_PAYLOAD);
        if (r->ctl == NULL)
            return fail(r, WS_CLOSE_INTERNAL_ERROR);
    }
    size_t take = min_size(avail, r->frame_len - r->frame_done);
    uint8_t *dst = r->ctl + r->frame_done;
    memcpy(dst, p, take);
    ws_unmask(dst, take, r->mask, r->frame_done);
    r->frame_done += take;
    *pos += take;
    if (r->frame_done < r->frame_len)
        return 0;

    /* Detach the buffer first: delivering a close releases everything. */
    uint8_t *ctl = r->ctl;
    r->ctl = NULL;
    r->in_frame = 0;
    int rc = deliver_control(r, opcode, ctl, (size_t)r->frame_len, fn, ctx);
    rc_free(ctl);
    return rc;
}

/* reserve makes r->buf hold |needed| bytes, growing geometrically but never
 * past max_message (check_frame_len has made sure |needed| fits in it). */
static int reserve(struct ws_reader *r, size_t needed, const struct ws_limits *limits)
{
    if (needed <= r->buf_cap)
        return 0;

    size_t cap = r->buf_cap ? r->buf_cap : BUF_MIN_CAP;
    while (cap < needed && cap <= SIZE_MAX / 2)
        cap *= 2;
    if (cap > limits->max_message)
        cap = (size_t)limits->max_message;
    if (cap < needed)
        cap = needed;

    uint8_t *buf = rc_realloc(r->buf, cap);
    if (buf == NULL)
        return -1;
    r->buf = buf;
    r->buf_cap = cap;
    return 0;
}

static int deliver_message(uint8_t opcode, bool compressed, const uint8_t *payload, size_t len,
                           ws_event_fn fn, void *ctx)
{
    struct ws_event ev = {
        .type = WS_EV_MESSAGE,
        .opcode = (enum ws_opcode)opcode,
        .data = len ? payload : empty_payload,
        .len = len,
        .compressed = compressed,
    };
    return fn(ctx, &ev);
}

/* read_data consumes data-frame payload at data[*pos]. */
static int read_data(struct ws_reader *r, uint8_t *data, size_t len, size_t *pos,
                     const struct ws_limits *limits, ws_event_fn fn, void *ctx)
{
    uint8_t *p = data + *pos;
    size_t avail = len - *pos;
    uint8_t opcode = r->msg_opcode;
    bool compressed = r->msg_compressed;
    bool check_text = opcode == WS_OP_TEXT && !compressed; /* compressed: after inflating */

    /* The whole message is this frame, and all of it is here: in place. */
    if (r->frame_fin && r->buf_len == 0 && r->frame_done == 0 && avail >= r->frame_len) {
        size_t n = (size_t)r->frame_len;
        ws_unmask(p, n, r->mask, 0);
        if (check_text && !utf8_valid(p, n))
            return fail(r, WS_CLOSE_INVALID_PAYLOAD);
        *pos += n;
        r->in_frame = 0;
        r->msg_opcode = 0;
        r->msg_compressed = 0;
        return deliver_message(opcode, compressed, p, n, fn, ctx);
    }

    size_t take = min_size(avail, r->frame_len - r->frame_done);
    if (take > 0) {
        if (reserve(r, r->buf_len + take, limits) != 0)
            return fail(r, WS_CLOSE_INTERNAL_ERROR);
        uint8_t *dst = r->buf + r->buf_len;
        memcpy(dst, p, take);
        ws_unmask(dst, take, r->mask, r->frame_done);
        /* Checked now, so a bad byte fails before the frame is complete. */
        if (check_text && !utf8_feed(&r->utf8, dst, take))
            return fail(r, WS_CLOSE_INVALID_PAYLOAD);
        r->buf_len += take;
        r->frame_done += take;
        *pos += take;
    }
    if (r->frame_done < r->frame_len)
        return 0;
    r->in_frame = 0;
    if (!r->frame_fin)
        return 0;
    if (check_text && !utf8_at_boundary(&r->utf8))
        return fail(r, WS_CLOSE_INVALID_PAYLOAD);

    /* Detach the message before reporting it, so the reader is idle (and
     * consistent) whatever the callback returns. */
    uint8_t *buf = r->buf;
    size_t buf_len = r->buf_len;
    r->buf = NULL;
    release_message(r);
    int rc = deliver_message(opcode, compressed, buf, buf_len, fn, ctx);
    rc_free(buf);
    return rc;
}

void ws_reader_init(struct ws_reader *r)
{
    memset(r, 0, sizeof(*r));
    utf8_init(&r->utf8);
}

void ws_reader_cleanup(struct ws_reader *r)
{
    release_all(r);
}

int ws_reader_feed_some(struct ws_reader *r, uint8_t *data, size_t len,
                        const struct ws_limits *limits, ws_event_fn fn, void *ctx, size_t *consumed)
{
    size_t pos = 0;
    int rc = 0;

    *consumed = len;
    if (r->error)
        return -(int)r->error;
    if (r->closed)
        return 0;

    while (pos < len) {
        if (!r->in_frame) {
            size_t used;
            rc = read_header(r, data + pos, len - pos, limits, &used);
            if (rc)
                return fail(r, rc);
            pos += used;
            if (!r->in_frame)
                break; /* the header continues in the next feed */
        }
        /* Runs even when pos == len: a zero-length payload completes the
         * frame with its header. */
        rc = opcode_is_control(r->frame_opcode) ? read_control(r, data, len, &pos, fn, ctx)
                                                : read_data(r, data, len, &pos, limits, fn, ctx);
        if (rc > 0)
            *consumed = pos; /* the callback stopped: the rest is the caller's */
        if (rc || r->closed)
            return rc;
    }
    return 0;
}

int ws_reader_feed(struct ws_reader *r, uint8_t *data, size_t len, const struct ws_limits *limits,
                   ws_event_fn fn, void *ctx)
{
    size_t consumed;
    return ws_reader_feed_some(r, data, len, limits, fn, ctx, &consumed);
}
