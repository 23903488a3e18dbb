/* ringcast-pub: publish events to a ringcast server over the binary publish
 * protocol (docs/protocol/publish.md).
 *
 *   ringcast-pub [OPTIONS] TOPIC DATA   publish one event, print its seq
 *   ringcast-pub [OPTIONS] < events     publish NDJSON lines, pipelined,
 *                                       print one result line per input line
 *
 * Exit status: 0 every event acknowledged, 1 a NACK or a bad input line,
 * 2 usage error, 3 connection error. */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <poll.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "util/cli.h"
#include "util/duration.h"

#include "pubsub/httppub.h"
#include "util/jsonv.h"
#include "ringcast/client.h"
#include "ringcast/tls.h"

#ifndef RINGCAST_VERSION
#define RINGCAST_VERSION "0.1.0"
#endif

#define PROG "ringcast-pub"
#define DEFAULT_WINDOW 256
#define MAX_WINDOW (1 << 20)
#define DEFAULT_TIMEOUT_MS 10000

enum {
    EXIT_ACKED = 0,
    EXIT_REFUSED = 1, /* a NACK, or a bad input line */
    EXIT_USAGE = CLI_EXIT_USAGE,
    EXIT_CONNECTION = 3,
};

struct options {
    const char *server;
    const char *event_type; /* NULL: none given */
    const char *msg_id;
    const char *content_type; /* NULL: auto */
    const char *token_file;
    const char *audience; /* JSON object text, or NULL */
    long window;
    int timeout_ms;
    int tls;
    const char *ca_file; /* NULL: the system's CAs */
};

static void usage(FILE *out)
{
    fprintf(
        out,
        "Usage: " PROG " [OPTIONS] TOPIC DATA\n"
        "       " PROG " [OPTIONS] < EVENTS.ndjson\n"
        "\n"
        "Publish events to a ringcast server over the binary publish protocol.\n"
        "\n"
        "With TOPIC and DATA, publishes one event and prints the sequence number the\n"
        "server assigned to it (the number alone, then a newline).\n"
        "\n"
        "Without them, reads one JSON object per line from standard input:\n"
        "  {\"topic\":\"jobs:42\", \"event_type\":\"job.done\", \"data\":{...}, \"id\":\"a1\"}\n"
        "topic (string) and data (any JSON value) are required; event_type and id\n"
        "(strings) are optional. data is sent as application/json, exactly as\n"
        "written on the line (use compact JSON for the smallest events). Events are\n"
        "pipelined, and one result line per input line is printed, in input order:\n"
        "  {\"line\":N,\"topic\":\"...\",\"seq\":S}\n"
        "  {\"line\":N,\"topic\":\"...\",\"seq\":S,\"duplicate\":true}\n"
        "  {\"line\":N,\"topic\":\"...\",\"error\":\"NAME\",\"message\":\"...\"}\n"
        "  {\"line\":N,\"error\":\"bad_input\",\"message\":\"...\"}\n"
        "duplicate: the server had seen the id before and did not deliver the event\n"
        "again; S is the first publish's seq. bad_input: the line is not JSON, or\n"
        "has no string \"topic\" or no \"data\".\n"
        "Blank lines are skipped (but counted in N). NAME is a protocol error name\n"
        "(forbidden, too_large, bad_topic, bad_payload, overloaded, ...), or\n"
        "connection_error for events that were in flight when the connection was\n"
        "lost (they may or may not have been published).\n"
        "\n"
        "Options:\n"
        "  --server HOST:PORT     server's publish port (default 127.0.0.1:7070);\n"
        "                         IPv6 as [::1]:7070; the port defaults to 7070\n"
        "  --type EVENT_TYPE      event type (default: none, which subscribers see as\n"
        "                         \"message\"); with standard input, the type of lines\n"
        "                         that have no \"event_type\"\n"
        "  --id MSG_ID            message id (TOPIC DATA only): a repeated publish of\n"
        "                         the same id to the same topic, within the server's\n"
        "                         dedup window, is acknowledged but not delivered\n"
        "                         again, so retrying is safe\n"
        "  --content-type TYPE|auto\n"
        "                         content type of DATA (TOPIC DATA only); auto (the\n"
        "                         default) sends application/json when DATA is valid\n"
        "                         JSON, text/plain otherwise\n"
        "  --tls                  connect with TLS (a --publish-tls-listen port); the\n"
        "                         server's certificate and its name (HOST of --server)\n"
        "                         are verified\n"
        "  --ca-file FILE         with --tls, the PEM CA certificates to trust (default:\n"
        "                         the system's, " RC_TLS_SYSTEM_CAS ")\n"
        "  --token-file FILE      read the auth token (a JWT) from FILE; surrounding\n"
        "                         whitespace is trimmed\n"
        "  --audience JSON        who may receive the event, e.g.\n"
        "                         '{\"tenant\":\"t1\",\"roles\":[\"admin\"]}' (with TOPIC DATA;\n"
        "                         on standard input each line may have an \"audience\")\n"
        "  --window N             events in flight at once with standard input\n"
        "                         (default %d; never more than the server allows)\n"
        "  --timeout DURATION     timeout for connecting and for each reply (default\n"
        "                         %dms); DURATION is " DURATION_SYNTAX ",\n"
        "                         a bare number is milliseconds\n"
        "  -h, --help             show this help and exit\n"
        "  -V, --version          show the version and exit\n"
        "\n"
        "Exit status: 0 every event was acknowledged; 1 the server refused an event\n"
        "or an input line was bad; 2 usage error; 3 connection error (including the\n"
        "server refusing the connection). Errors are also reported on standard\n"
        "error, one line each.\n"
        "\n"
        "Examples:\n"
        "  " PROG " jobs:42 '{\"status\":\"done\"}'\n"
        "  " PROG " --server [::1]:7070 --type call.status --id c7-ringing \\\n"
        "      customer_id:42:call:7 ringing\n"
        "  jq -c '{topic, data}' events.json | " PROG " --token-file ~/.ringcast-token\n",
        DEFAULT_WINDOW, DEFAULT_TIMEOUT_MS);
}

static int parse_long(const char *s, long min, long max, long *out)
{
    char *end;
    long v;

    errno = 0;
    v = strtol(s, &end, 10);
    if (errno != 0 || end == s || *end != '\0' || v < min || v > max)
        return -1;
    *out = v;
    return 0;
}

/* text_json makes a JSON string of bytes that should be UTF-8 (a server's
 * message); bytes that are not are replaced by '?' rather than dropped. */
static json_t *text_json(const char *s, size_t len)
{
    json_t *j = json_stringn(s, len);

    if (j == NULL) {
        char *copy = malloc(len + 1);
        if (copy == NULL)
            return NULL;
        for (size_t i = 0; i < len; i++)
            copy[i] = (unsigned char)s[i] < 0x80 && s[i] != '\0' ? s[i] : '?';
        j = json_stringn(copy, len);
        free(copy);
    }
    return j;
}

/* ---- one event from the command line ---- */

static int publish_one(struct rc_client *c, const struct options *o, const char *topic,
                       const char *data)
{
    const char *content_type = o->content_type;
    struct rc_reply reply;
    char why[512];
    int code;

    if (content_type == NULL)
        content_type =
            jsonv_valid((const uint8_t *)data, strlen(data)) ? "application/json" : "text/plain";
    struct rc_publish p = {
        .topic = topic,
        .topic_len = strlen(topic),
        .event_type = o->event_type ? o->event_type : "",
        .event_type_len = o->event_type ? strlen(o->event_type) : 0,
        .content_type = content_type,
        .content_type_len = strlen(content_type),
        .msg_id = o->msg_id ? o->msg_id : "",
        .msg_id_len = o->msg_id ? strlen(o->msg_id) : 0,
        .audience = o->audience,
        .audience_len = o->audience ? strlen(o->audience) : 0,
        .payload = (const uint8_t *)data,
        .payload_len = strlen(data),
    };
    code = rc_client_check_publish(c, &p, why, sizeof(why));
    if (code != 0) {
        cli_error(PROG, "%s: %s", rc_error_name((uint16_t)code), why);
        return EXIT_REFUSED;
    }
    if (rc_client_publish(c, &p, &reply) < 0) {
        cli_error(PROG, "%s", rc_client_error(c));
        return EXIT_CONNECTION;
    }
    if (reply.type == RC_NACK) {
        cli_error(PROG, "server refused: %s%s%s", rc_error_name(reply.code),
                  reply.message[0] ? ": " : "", reply.message);
        return EXIT_REFUSED;
    }
    printf("%" PRIu64 "\n", reply.seq);
    if (fflush(stdout) != 0) {
        cli_error(PROG, "writing to standard output: %s", strerror(errno));
        return EXIT_REFUSED;
    }
    return EXIT_ACKED;
}

/* ---- NDJSON from standard input ---- */

/* A result, one per non-blank input line, printed in input order. */
struct result {
    long line;
    char *topic; /* NULL for bad input */
    char *text;  /* the finished result line; NULL while the publish is in flight */
};

/* The results not yet printed, oldest first, in a ring. An entry's id is
 * its position in the whole input: head_id + its index. */
struct results {
    struct result *v;
    size_t cap; /* a power of two */
    size_t head, len;
    uint64_t head_id;
};

static struct result *results_at(struct results *q, uint64_t id)
{
    return &q->v[(q->head + (size_t)(id - q->head_id)) & (q->cap - 1)];
}

/* results_push appends an entry and returns its id, or UINT64_MAX. */
static uint64_t results_push(struct results *q, long line, char *topic, char *text)
{
    if (q->len == q->cap) {
        size_t cap = q->cap ? q->cap * 2 : 64;
        struct result *v = malloc(cap * sizeof(*v));
        if (v == NULL)
            return UINT64_MAX;
        for (size_t i = 0; i < q->len; i++)
            v[i] = q->v[(q->head + i) & (q->cap - 1)];
        free(q->v);
        q->v = v;
        q->cap = cap;
        q->head = 0;
    }
    uint64_t id = q->head_id + q->len;
    q->len++;
    *results_at(q, id) = (struct result){.line = line, .topic = topic, .text = text};
    return id;
}

/* Publishes in flight: correlation id -> result id, open addressing with
 * linear probing. Never more than half full (capacity >= 2 * window). */
struct inflight {
    struct slot {
        uint32_t corr;
        bool used;
        uint64_t id;
    } * slots;
    size_t mask;
    size_t count;
};

static size_t corr_hash(uint32_t corr, size_t mask)
{
    return (size_t)(corr * 2654435761u) & mask;
}

static void inflight_put(struct inflight *m, uint32_t corr, uint64_t id)
{
    size_t i = corr_hash(corr, m->mask);

    while (m->slots[i].used)
        i = (i + 1) & m->mask;
    m->slots[i] = (struct slot){.corr = corr, .used = true, .id = id};
    m->count++;
}

/* inflight_take removes |corr| and returns its result id in |*id|. Returns
 * false when |corr| is not in flight. */
static bool inflight_take(struct inflight *m, uint32_t corr, uint64_t *id)
{
    size_t i = corr_hash(corr, m->mask);

    while (m->slots[i].used && m->slots[i].corr != corr)
        i = (i + 1) & m->mask;
    if (!m->slots[i].used)
        return false;
    *id = m->slots[i].id;
    m->count--;
    /* Backward-shift deletion: move later entries of the probe chain into
     * the hole, unless their home lies cyclically within (hole, j]. */
    for (size_t j = i;;) {
        j = (j + 1) & m->mask;
        if (!m->slots[j].used)
            break;
        size_t k = corr_hash(m->slots[j].corr, m->mask);
        bool stays = i <= j ? (i < k && k <= j) : (i < k || k <= j);
        if (!stays) {
            m->slots[i] = m->slots[j];
            i = j;
        }
    }
    m->slots[i].used = false;
    return true;
}

struct session {
    struct rc_client *c;
    const struct options *o;
    struct results q;
    struct inflight fl;
    size_t window;
    size_t max_queued;
    int status;                                  /* EXIT_ACKED or EXIT_REFUSED so far */
    bool goaway;                                 /* no new publishes */
    char conn_error[RC_MAX_ERROR_MESSAGE + 256]; /* set when the connection failed */

    /* the input, read with read(2) so that poll() sees what is pending */
    char *in;
    size_t in_pos, in_len, in_cap;
    size_t max_line;
    bool in_eof;
    bool skipping; /* discarding the rest of an over-long line */
    long line_no;
};

/* finish_line serializes a result object, consuming it. */
static char *finish_line(json_t *obj)
{
    char *s = obj ? json_dumps(obj, JSON_COMPACT) : NULL;

    json_decref(obj);
    return s;
}

static char *error_line(long line, const char *topic, const char *name, const char *msg,
                        size_t msg_len)
{
    json_t *o = json_object();

    if (o == NULL)
        return NULL;
    json_object_set_new(o, "line", json_integer(line));
    if (topic != NULL)
        json_object_set_new(o, "topic", json_string(topic));
    json_object_set_new(o, "error", json_string(name));
    json_object_set_new(o, "message", text_json(msg, msg_len));
    return finish_line(o);
}

static bool add_done(struct session *s, long line, char *text)
{
    if (text == NULL || results_push(&s->q, line, NULL, text) == UINT64_MAX) {
        free(text);
        snprintf(s->conn_error, sizeof(s->conn_error), "out of memory");
        return false;
    }
    return true;
}

static bool bad_input(struct session *s, long line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static bool bad_input(struct session *s, long line, const char *fmt, ...)
{
    char msg[512];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    cli_error(PROG, "line %ld: %s", line, msg);
    s->status = EXIT_REFUSED;
    return add_done(s, line, error_line(line, NULL, "bad_input", msg, strlen(msg)));
}

/* handle_line publishes one input line, or records why it cannot be.
 * Returns false on a connection error (s->conn_error set). */
static bool handle_line(struct session *s, long line, const char *text, size_t len)
{
    struct httppub_request in;
    struct httppub_error err;
    char *topic = NULL;
    bool ok = true;

    /* The line's shape is HTTP publish's JSON form: the server's own reader. */
    if (httppub_parse_object(&in, (const uint8_t *)text, len, &err) != 0)
        return bad_input(s, line, "%s", err.message);
    const char *default_type = s->o->event_type ? s->o->event_type : "";
    struct rc_publish p = {
        .topic = in.topic,
        .topic_len = in.topic_len,
        .event_type = in.event_type_len > 0 ? in.event_type : default_type,
        .event_type_len = in.event_type_len > 0 ? in.event_type_len : strlen(default_type),
        .content_type = "application/json",
        .content_type_len = strlen("application/json"),
        .msg_id = in.msg_id,
        .msg_id_len = in.msg_id_len,
        .payload = in.payload, /* "data" exactly as written on the line */
        .payload_len = in.payload_len,
        .audience = in.audience,
        .audience_len = in.audience_len,
    };
    topic = strndup(in.topic, in.topic_len);
    if (topic == NULL) {
        snprintf(s->conn_error, sizeof(s->conn_error), "out of memory");
        ok = false;
        goto out;
    }
    char why[512];
    int code = rc_client_check_publish(s->c, &p, why, sizeof(why));
    if (code != 0) {
        cli_error(PROG, "line %ld: %s: %s", line, rc_error_name((uint16_t)code), why);
        s->status = EXIT_REFUSED;
        ok = add_done(s, line,
                      error_line(line, topic, rc_error_name((uint16_t)code), why, strlen(why)));
        goto out;
    }
    uint32_t corr;
    if (rc_client_send_publish(s->c, &p, &corr) < 0) {
        snprintf(s->conn_error, sizeof(s->conn_error), "%s", rc_client_error(s->c));
        ok = false;
        goto out;
    }
    uint64_t id = results_push(&s->q, line, topic, NULL);
    if (id == UINT64_MAX) {
        snprintf(s->conn_error, sizeof(s->conn_error), "out of memory");
        ok = false;
        goto out;
    }
    topic = NULL; /* owned by the result now */
    inflight_put(&s->fl, corr, id);
out:
    free(topic);
    httppub_free(&in);
    return ok;
}

static bool is_blank(const char *p, size_t len)
{
    for (size_t i = 0; i < len; i++)
        if (p[i] != ' ' && p[i] != '\t' && p[i] != '\r')
            return false;
    return true;
}

static bool may_send(const struct session *s)
{
    return !s->goaway && s->conn_error[0] == '\0' && s->fl.count < s->window &&
           s->q.len < s->max_queued;
}

/* process_input handles the complete lines read so far, as far as the
 * window allows. Returns false on a connection error. */
static bool process_input(struct session *s)
{
    while (s->in != NULL && may_send(s)) {
        char *start = s->in + s->in_pos;
        size_t avail = s->in_len - s->in_pos;
        char *nl = memchr(start, '\n', avail);
        size_t len;

        if (nl != NULL) {
            len = (size_t)(nl - start);
            s->in_pos += len + 1;
        } else if (s->in_eof && avail > 0) {
            len = avail; /* the last line has no newline */
            s->in_pos += len;
        } else {
            if (avail > s->max_line && !s->skipping) {
                s->line_no++;
                s->skipping = true;
                if (!bad_input(s, s->line_no, "line longer than %zu bytes", s->max_line))
                    return false;
            }
            if (s->skipping)
                s->in_pos = s->in_len;
            return true;
        }
        if (s->skipping) {
            s->skipping = false;
            continue;
        }
        s->line_no++;
        if (len > 0 && start[len - 1] == '\r')
            len--;
        if (is_blank(start, len))
            continue;
        if (len > s->max_line) {
            if (!bad_input(s, s->line_no, "line longer than %zu bytes", s->max_line))
                return false;
            continue;
        }
        if (!handle_line(s, s->line_no, start, len))
            return false;
    }
    return true;
}

/* read_input reads what standard input has. Returns false on a read error. */
static bool read_input(struct session *s)
{
    if (s->in_pos > 0) {
        memmove(s->in, s->in + s->in_pos, s->in_len - s->in_pos);
        s->in_len -= s->in_pos;
        s->in_pos = 0;
    }
    if (s->in_cap - s->in_len < 65536) {
        size_t cap = s->in_cap ? s->in_cap * 2 : 131072;
        char *p = realloc(s->in, cap);
        if (p == NULL) {
            cli_error(PROG, "out of memory");
            return false;
        }
        s->in = p;
        s->in_cap = cap;
    }
    for (;;) {
        ssize_t n = read(STDIN_FILENO, s->in + s->in_len, s->in_cap - s->in_len);
        if (n > 0) {
            s->in_len += (size_t)n;
            return true;
        }
        if (n == 0) {
            s->in_eof = true;
            return true;
        }
        if (errno != EINTR) {
            cli_error(PROG, "reading standard input: %s", strerror(errno));
            s->in_eof = true;
            return false;
        }
    }
}

/* handle_reply matches one reply to its publish. Returns false when the
 * connection is done for (s->conn_error set). */
static bool handle_reply(struct session *s, const struct rc_reply *r)
{
    uint64_t id;

    if (r->type == RC_GOAWAY) {
        s->goaway = true;
        cli_error(PROG, "server is going away (%s%s%s); waiting for outstanding replies",
                  rc_error_name(r->code), r->message[0] ? ": " : "", r->message);
        return true;
    }
    if (r->type != RC_ACK && r->type != RC_NACK)
        return true; /* a PONG: we send no PINGs */
    if (!inflight_take(&s->fl, r->corr, &id)) {
        if (r->type == RC_NACK && rc_error_is_fatal(r->code)) {
            /* Not about one publish (corr 0): the server says why it is
             * closing the connection. */
            snprintf(s->conn_error, sizeof(s->conn_error), "server closed the connection: %s%s%s",
                     rc_error_name(r->code), r->message[0] ? ": " : "", r->message);
            return false;
        }
        cli_error(PROG, "ignoring a %s with unknown correlation id %" PRIu32,
                  r->type == RC_ACK ? "ACK" : "NACK", r->corr);
        return true;
    }
    struct result *res = results_at(&s->q, id);
    json_t *o = json_object();
    if (o == NULL)
        goto oom;
    json_object_set_new(o, "line", json_integer(res->line));
    json_object_set_new(o, "topic", json_string(res->topic));
    if (r->type == RC_ACK) {
        json_object_set_new(o, "seq", json_integer((json_int_t)r->seq));
        if (r->ack_flags & RC_ACK_DUPLICATE)
            json_object_set_new(o, "duplicate", json_true());
    } else {
        s->status = EXIT_REFUSED;
        cli_error(PROG, "line %ld: server refused: %s%s%s", res->line, rc_error_name(r->code),
                  r->message[0] ? ": " : "", r->message);
        json_object_set_new(o, "error", json_string(rc_error_name(r->code)));
        json_object_set_new(o, "message", text_json(r->message, strlen(r->message)));
    }
    res->text = finish_line(o);
    if (res->text == NULL)
        goto oom;
    return true;
oom:
    snprintf(s->conn_error, sizeof(s->conn_error), "out of memory");
    return false;
}

/* print_ready prints the finished results at the head of the queue. */
static void print_ready(struct session *s)
{
    while (s->q.len > 0) {
        struct result *res = results_at(&s->q, s->q.head_id);
        if (res->text == NULL)
            break;
        fputs(res->text, stdout);
        fputc('\n', stdout);
        free(res->text);
        free(res->topic);
        s->q.head = (s->q.head + 1) & (s->q.cap - 1);
        s->q.head_id++;
        s->q.len--;
    }
}

/* fail_pending gives every publish still in flight a connection_error
 * result: its fate is unknown. */
static void fail_pending(struct session *s)
{
    char msg[RC_MAX_ERROR_MESSAGE + 512];

    snprintf(msg, sizeof(msg), "%s; the event may or may not have been published", s->conn_error);
    for (size_t i = 0; i < s->q.len; i++) {
        struct result *res = results_at(&s->q, s->q.head_id + i);
        if (res->text == NULL)
            res->text = error_line(res->line, res->topic, "connection_error", msg, strlen(msg));
        if (res->text == NULL)
            res->text = strdup("{\"error\":\"connection_error\"}");
    }
    s->fl.count = 0;
}

static int publish_stdin(struct rc_client *c, const struct options *o)
{
    const struct rc_welcome *limits = rc_client_limits(c);
    struct session s = {.c = c, .o = o, .status = EXIT_ACKED};
    size_t slots = 16;
    int exit_code;

    s.window = (size_t)o->window;
    if (limits->max_inflight > 0 && s.window > limits->max_inflight)
        s.window = limits->max_inflight;
    s.max_queued = 2 * s.window + 1024;
    /* A line is at most a JSON-escaped payload (6 bytes per byte at worst)
     * plus the other members; anything longer cannot be published. */
    s.max_line = (size_t)limits->max_payload * 6 + 128 * 1024;
    while (slots < 2 * s.window)
        slots *= 2;
    s.fl.slots = calloc(slots, sizeof(*s.fl.slots));
    s.fl.mask = slots - 1;
    if (s.fl.slots == NULL) {
        cli_error(PROG, "out of memory");
        return EXIT_CONNECTION;
    }

    for (;;) {
        if (!process_input(&s))
            break;
        print_ready(&s);
        bool input_done = s.in_eof && s.in_pos == s.in_len;
        if (s.fl.count == 0 && (input_done || s.goaway))
            break;
        /* A failed write is not the end while replies are due: the server
         * may still say why (a fatal NACK) before the connection closes. */
        if (rc_client_flush(c) < 0 && s.fl.count == 0) {
            snprintf(s.conn_error, sizeof(s.conn_error), "%s", rc_client_error(c));
            break;
        }
        bool want_input = !s.in_eof && may_send(&s);
        if (!want_input && s.fl.count == 0) { /* cannot happen; never wait forever */
            snprintf(s.conn_error, sizeof(s.conn_error), "internal error: nothing to wait for");
            break;
        }
        if (s.fl.count > 0 && rc_client_reply_ready(c)) {
            struct rc_reply reply;
            if (rc_client_read_reply(c, &reply) < 0 || !handle_reply(&s, &reply)) {
                if (s.conn_error[0] == '\0')
                    snprintf(s.conn_error, sizeof(s.conn_error), "%s", rc_client_error(c));
                break;
            }
            continue;
        }
        if (fflush(stdout) != 0) {
            cli_error(PROG, "writing to standard output: %s", strerror(errno));
            rc_client_free(c);
            exit(EXIT_REFUSED);
        }
        struct pollfd pfd[2] = {
            {.fd = STDIN_FILENO, .events = want_input ? POLLIN : 0},
            {.fd = rc_client_fd(c), .events = s.fl.count > 0 ? POLLIN : 0},
        };
        int r = poll(pfd, 2, s.fl.count > 0 ? o->timeout_ms : -1);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            snprintf(s.conn_error, sizeof(s.conn_error), "poll: %s", strerror(errno));
            break;
        }
        if (r == 0) {
            snprintf(s.conn_error, sizeof(s.conn_error),
                     "timed out after %d ms waiting for replies", o->timeout_ms);
            break;
        }
        if (pfd[1].revents != 0) {
            struct rc_reply reply;
            if (rc_client_read_reply(c, &reply) < 0 || !handle_reply(&s, &reply)) {
                if (s.conn_error[0] == '\0')
                    snprintf(s.conn_error, sizeof(s.conn_error), "%s", rc_client_error(c));
                break;
            }
        }
        if (pfd[0].revents != 0 && !read_input(&s))
            s.status = EXIT_REFUSED;
    }

    exit_code = s.status;
    if (s.conn_error[0] != '\0') {
        cli_error(PROG, "%s", s.conn_error);
        fail_pending(&s);
        exit_code = EXIT_CONNECTION;
    } else if (s.goaway && !(s.in_eof && s.in_pos == s.in_len)) {
        cli_error(PROG, "stopped after line %ld: the server is shutting down", s.line_no);
        exit_code = EXIT_CONNECTION;
    }
    print_ready(&s);
    if (fflush(stdout) != 0) {
        cli_error(PROG, "writing to standard output: %s", strerror(errno));
        if (exit_code == EXIT_ACKED)
            exit_code = EXIT_REFUSED;
    }
    free(s.q.v);
    free(s.fl.slots);
    free(s.in);
    return exit_code;
}

int main(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"server", required_argument, NULL, 's'},
        {"type", required_argument, NULL, 't'},
        {"id", required_argument, NULL, 'i'},
        {"content-type", required_argument, NULL, 'c'},
        {"token-file", required_argument, NULL, 'k'},
        {"audience", required_argument, NULL, 'a'},
        {"window", required_argument, NULL, 'w'},
        {"timeout", required_argument, NULL, 'T'},
        {"tls", no_argument, NULL, 'L'},
        {"ca-file", required_argument, NULL, 'C'},
        {"help", no_argument, NULL, 'h'},
        {"version", no_argument, NULL, 'V'},
        {NULL, 0, NULL, 0},
    };
    struct options o = {.window = DEFAULT_WINDOW, .timeout_ms = DEFAULT_TIMEOUT_MS};
    char *token = NULL;
    long v;
    uint64_t timeout_ms;
    int opt;

    opterr = 0;
    while ((opt = getopt_long(argc, argv, ":hV", longopts, NULL)) != -1) {
        switch (opt) {
        case 's':
            if (optarg[0] == '\0')
                return cli_usage_error(PROG, "--server: empty address");
            if (optarg[0] != '[' && strchr(optarg, ':') != strrchr(optarg, ':'))
                return cli_usage_error(
                    PROG, "--server: write an IPv6 address in brackets: [%s]:7070", optarg);
            o.server = optarg;
            break;
        case 't':
            o.event_type = optarg;
            break;
        case 'i':
            o.msg_id = optarg;
            break;
        case 'c':
            o.content_type = strcmp(optarg, "auto") == 0 ? NULL : optarg;
            break;
        case 'k':
            o.token_file = optarg;
            break;
        case 'a':
            o.audience = optarg;
            break;
        case 'w':
            if (parse_long(optarg, 1, MAX_WINDOW, &v) < 0)
                return cli_usage_error(PROG, "--window: expected a number from 1 to %d, got \"%s\"",
                                       MAX_WINDOW, optarg);
            o.window = v;
            break;
        case 'T':
            if (duration_parse(optarg, 1, &timeout_ms) != 0 || timeout_ms < 1 ||
                timeout_ms > INT_MAX)
                return cli_usage_error(PROG,
                                       "--timeout: expected at least 1ms as " DURATION_SYNTAX
                                       " (a bare number is milliseconds), got \"%s\"",
                                       optarg);
            o.timeout_ms = (int)timeout_ms;
            break;
        case 'L':
            o.tls = 1;
            break;
        case 'C':
            o.ca_file = optarg;
            break;
        case 'h':
            usage(stdout);
            return fflush(stdout) == 0 ? EXIT_ACKED : EXIT_REFUSED;
        case 'V':
            printf(PROG " " RINGCAST_VERSION " (publish protocol %d)\n", RC_PROTO_VERSION);
            return fflush(stdout) == 0 ? EXIT_ACKED : EXIT_REFUSED;
        case ':':
            return cli_usage_error(PROG, "option %s needs a value", argv[optind - 1]);
        default:
            if (optopt != 0)
                return cli_usage_error(PROG, "unknown option -%c", optopt);
            return cli_usage_error(PROG, "unknown option %s", argv[optind - 1]);
        }
    }
    int npos = argc - optind;
    if (npos == 1)
        return cli_usage_error(PROG, "DATA is missing after TOPIC \"%s\"", argv[optind]);
    if (npos > 2)
        return cli_usage_error(PROG, "too many arguments: expected TOPIC DATA, got %d arguments",
                               npos);
    if (npos == 2 && argv[optind][0] == '\0')
        return cli_usage_error(PROG, "TOPIC is empty");
    if (npos == 0 && o.msg_id != NULL)
        return cli_usage_error(PROG,
                               "--id needs TOPIC DATA; with standard input, give \"id\" per line");
    if (npos == 0 && o.content_type != NULL)
        return cli_usage_error(PROG,
                               "--content-type needs TOPIC DATA; standard input sends JSON data");
    if (npos == 0 && o.audience != NULL)
        return cli_usage_error(
            PROG, "--audience needs TOPIC DATA; with standard input, give \"audience\" "
                  "per line");
    if (o.audience != NULL && !jsonv_valid((const uint8_t *)o.audience, strlen(o.audience)))
        return cli_usage_error(PROG, "--audience: not JSON: %s", o.audience);
    if (o.event_type != NULL && strlen(o.event_type) > RC_MAX_SHORT_FIELD)
        return cli_usage_error(PROG, "--type: longer than %d bytes", RC_MAX_SHORT_FIELD);
    if (o.msg_id != NULL && strlen(o.msg_id) > RC_MAX_SHORT_FIELD)
        return cli_usage_error(PROG, "--id: longer than %d bytes", RC_MAX_SHORT_FIELD);
    if (o.content_type != NULL && strlen(o.content_type) > RC_MAX_SHORT_FIELD)
        return cli_usage_error(PROG, "--content-type: longer than %d bytes", RC_MAX_SHORT_FIELD);
    if (o.ca_file != NULL && !o.tls)
        return cli_usage_error(PROG, "--ca-file needs --tls");
    if (o.token_file != NULL &&
        (token = cli_read_token_file(PROG, o.token_file, RC_MAX_TOKEN_LEN)) == NULL)
        return EXIT_USAGE;

    struct rc_client_options copts = {
        .server = o.server,
        .token = token,
        .client_name = PROG "/" RINGCAST_VERSION,
        .timeout_ms = o.timeout_ms,
        .tls = o.tls,
        .ca_file = o.ca_file,
    };
    struct rc_client *c;
    char err[1400];
    if (rc_client_connect(&c, &copts, err, sizeof(err)) < 0) {
        cli_error(PROG, "%s", err);
        if (token == NULL && strstr(err, "missing token") != NULL)
            cli_error(PROG, "this server requires a token: give it with --token-file FILE "
                            "(ringcast-token mints one)");
        free(token);
        return EXIT_CONNECTION;
    }
    free(token);

    int status =
        npos == 2 ? publish_one(c, &o, argv[optind], argv[optind + 1]) : publish_stdin(c, &o);
    rc_client_free(c);
    return status;
}
