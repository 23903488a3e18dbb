/* pubbin.c: publishing through the binary protocol, with the project's
 * client library (include/ringcast/client.h): PUBLISH frames pipelined on
 * one connection, replies matched by correlation id. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pub.h"
#include "ringcast/client.h"

#define TIMEOUT_MS 10000
#define CONTENT_TYPE "application/json"
#define EVENT_TYPE "bench"

static void *bin_connect(const struct config *cfg, char *err, size_t err_len)
{
    struct rc_client_options opts = {
        .server = cfg->publish_addr,
        .token = cfg->token,
        .client_name = PROG,
        .timeout_ms = TIMEOUT_MS,
        .tls = cfg->publish_tls,
        .ca_file = cfg->ca_file,
    };
    struct rc_client *c;
    char why[1400];

    if (rc_client_connect(&c, &opts, why, sizeof(why)) < 0) {
        snprintf(err, err_len, "publisher: %s", why);
        return NULL;
    }
    return c;
}

static uint32_t bin_max_window(void *st)
{
    return rc_client_limits(st)->max_inflight;
}

static int bin_send(void *st, const char *topic, size_t topic_len, const uint8_t *payload,
                    size_t len, uint32_t *out_id)
{
    struct rc_publish p = {
        .topic = topic,
        .topic_len = topic_len,
        .event_type = EVENT_TYPE,
        .event_type_len = sizeof(EVENT_TYPE) - 1,
        .content_type = CONTENT_TYPE,
        .content_type_len = sizeof(CONTENT_TYPE) - 1,
        .msg_id = "",
        .payload = payload,
        .payload_len = len,
    };
    return rc_client_send_publish(st, &p, out_id);
}

static int bin_flush(void *st)
{
    return rc_client_flush(st);
}

static bool bin_reply_ready(void *st)
{
    return rc_client_reply_ready(st) != 0;
}

static int bin_fd(void *st)
{
    return rc_client_fd(st);
}

static int bin_read_reply(void *st, struct pub_reply *out)
{
    struct rc_reply r;

    for (;;) {
        if (rc_client_read_reply(st, &r) < 0)
            return -1;
        if (r.type == RC_ACK || r.type == RC_NACK)
            break;
        /* PONG: we send no PINGs; GOAWAY: the replies still due follow,
         * then the connection ends, which read_reply reports. */
    }
    out->id = r.corr;
    out->ok = r.type == RC_ACK;
    out->seq = r.seq;
    if (!out->ok)
        snprintf(out->error, sizeof(out->error), "%s%s%.120s", rc_error_name(r.code),
                 r.message[0] ? ": " : "", r.message);
    return 0;
}

static const char *bin_error(void *st)
{
    return rc_client_error(st);
}

static void bin_free(void *st)
{
    rc_client_free(st);
}

const struct pub_transport pubbin_transport = {
    .name = "binary",
    .connect = bin_connect,
    .max_window = bin_max_window,
    .send = bin_send,
    .flush = bin_flush,
    .reply_ready = bin_reply_ready,
    .fd = bin_fd,
    .read_reply = bin_read_reply,
    .error = bin_error,
    .free = bin_free,
};
