/* resume.c: positions, resuming and rewinding on /v1/ws (see
 * resume.h). */
#include "conn/resume.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/alloc.h"
#include "pubsub/audience.h"
#include "pubsub/auth.h"
#include "proto/control.h"
#include "core/conn.h"
#include "util/hash.h"
#include "pubsub/home.h"
#include "pubsub/msg.h"
#include "proto/position.h"
#include "core/publish.h"
#include "core/pubreq.h"
#include "pubsub/seam.h"
#include "core/sendq.h"
#include "core/shard.h"
#include "pubsub/topic.h"
#include "proto/ws.h"
#include "conn/wsconn.h"
#include "conn/historyjson.h"
#include "core/fanout.h"

/* One exact topic of a waiting subscribe. */
struct resume_topic {
    const char *name; /* in the reply's names */
    size_t len;
    uint64_t hash;
    bool has_since;
    bool hold; /* its live events wait for the answer */
    bool sent;
    bool answered;
    struct seam_position since;
    struct home_replay replay;
    struct msg **held;
    size_t num_held, cap_held;
};

struct resume {
    char **names; /* every accepted topic, for the reply */
    size_t *lens;
    size_t num_names;
    struct resume_topic *topics; /* the exact ones */
    size_t num_topics;
    size_t pending; /* questions sent and not answered */
    uint64_t held_bytes;
    const struct resume_out *out;
};

void resume_free(struct resume *r)
{
    if (!r)
        return;
    for (size_t i = 0; i < r->num_topics; i++) {
        struct resume_topic *t = &r->topics[i];
        home_replay_release(&t->replay);
        for (size_t j = 0; j < t->num_held; j++)
            msg_release(t->held[j]);
        rc_free(t->held);
    }
    for (size_t i = 0; i < r->num_names; i++)
        rc_free(r->names[i]);
    rc_free(r->names);
    rc_free(r->lens);
    rc_free(r->topics);
    rc_free(r);
}

bool resume_check_since(const struct control_msg *m, const char **out_topic, size_t *out_topic_len)
{
    if (!m->since)
        return true;
    const char *key;
    json_t *value;
    json_object_foreach(m->since, key, value)
    {
        uint64_t epoch, seq;
        if (control_since(m, key, strlen(key), &epoch, &seq) < 0) {
            *out_topic = key;
            *out_topic_len = strlen(key);
            return false;
        }
    }
    return true;
}

static void send_text(struct shard *sh, struct conn *c, char *text, size_t len)
{
    if (!text) {
        wsconn_close(sh, c, WS_CLOSE_INTERNAL_ERROR, "out of memory");
        return;
    }
    uint8_t header[WS_MAX_HEADER];
    conn_send_copy(sh, c, header, ws_build_header(header, WS_OP_TEXT, true, len));
    conn_send_copy(sh, c, text, len);
    free(text);
}

static bool visible(const struct conn *c, const struct msg *m)
{
    return m->ws_frame && (!m->audience || audience_allows(m->audience, c->claims));
}

/* deliver_topic sends a topic's gap, if any, and its events from the
 * plan's start on. */
static int deliver_topic(struct shard *sh, struct conn *c, const struct resume_out *out,
                         struct resume_topic *t)
{
    struct seam_plan plan;
    seam_plan(t->has_since ? &t->since : NULL, &t->replay.pos, &plan);
    if (plan.gap != SEAM_NO_GAP) {
        counter_add(&sh->stats.history.gaps, 1);
        size_t len = 0;
        char *text = control_reply_gap(t->name, t->len, seam_gap_name(plan.gap),
                                       t->replay.pos.epoch, plan.from, &len);
        out->send_gap(sh, c, text, len);
    }
    size_t room = t->replay.count + t->num_held;
    if (room == 0)
        return 0;
    struct msg **merged = rc_malloc(room * sizeof(*merged));
    if (!merged)
        return -1;
    size_t n = seam_merge(t->replay.msgs, t->replay.count, t->held, t->num_held, plan.from, merged);
    int r = 0;
    for (size_t i = 0; i < n && r == 0; i++) {
        if (!visible(c, merged[i]))
            continue;
        r = fanout_queue_one(c, merged[i]);
        counter_add(&sh->stats.deliveries[c->ops->stats_kind], 1);
    }
    rc_free(merged);
    return r;
}

/* finish sends the reply and every topic's events, and stops waiting. */
static void finish(struct shard *sh, struct conn *c, struct resume **slot)
{
    struct resume *r = *slot;
    *slot = NULL;
    c->flags &= ~CONN_HOLDING;
    struct control_position *positions =
        rc_malloc((r->num_topics ? r->num_topics : 1) * sizeof(*positions));
    size_t len = 0;
    char *text = NULL;
    if (positions && r->out->reply) {
        for (size_t i = 0; i < r->num_topics; i++) {
            const struct resume_topic *t = &r->topics[i];
            positions[i] = (struct control_position){t->name, t->len, t->replay.pos.epoch,
                                                     t->replay.pos.last_seq};
        }
        text = control_reply_subscribed((const char *const *)r->names, r->lens, r->num_names,
                                        positions, r->num_topics, &len);
    }
    if (r->out->reply || !positions)
        r->out->send_control(sh, c, text, len);
    rc_free(positions);
    for (size_t i = 0; i < r->num_topics && c->state == CONN_OPEN; i++)
        if (deliver_topic(sh, c, r->out, &r->topics[i]) != 0)
            conn_kill(sh, c);
    resume_free(r);
    if (c->state != CONN_OPEN)
        return;
    conn_mark_dirty(sh, c);
    if (c->sq.bytes > sh->cfg->max_queued_bytes) {
        c->flags |= CONN_OVERFLOW;
        conn_add_work(sh, c);
    }
}

/* ask sends topic |i|'s question; false when a ring is full (retried from
 * resume_retry) or memory ran out (the connection is closed). */
static bool ask(struct shard *sh, struct conn *c, struct resume *r, size_t i)
{
    struct resume_topic *t = &r->topics[i];
    const struct pubreq_ask q = {.op = PUBREQ_RESUME,
                                 .topic = t->name,
                                 .topic_len = t->len,
                                 .topic_hash = t->hash,
                                 .seq = t->since.seq,
                                 .limit = t->has_since ? sh->cfg->history_size : 0,
                                 .since_epoch = t->since.epoch,
                                 .corr = (uint32_t)i};
    struct pubreq local;
    bool failed = false;
    switch (publish_ask(sh, c, &q, &local, &failed)) {
    case PUBLISH_ANSWERED:
        if (failed) {
            pubreq_release_results(&local);
            r->out->fail(sh, c);
            return false;
        }
        t->replay = local.replay;
        t->sent = t->answered = true;
        return true;
    case PUBLISH_SENT:
        t->sent = true;
        r->pending++;
        return true;
    case PUBLISH_BLOCKED:
    default:
        return false;
    }
}

/* ask_all sends every question not sent yet; returns true while answers
 * are awaited or a ring held a question back. */
static bool ask_all(struct shard *sh, struct conn *c, struct resume *r)
{
    for (size_t i = 0; i < r->num_topics && c->state == CONN_OPEN; i++)
        if (!r->topics[i].sent && !ask(sh, c, r, i))
            return true;
    return r->pending > 0;
}

static struct resume *new_resume(const char *const *topics, const size_t *lens, size_t n)
{
    struct resume *r = rc_calloc(1, sizeof(*r));
    if (!r)
        return NULL;
    r->names = rc_calloc(n ? n : 1, sizeof(*r->names));
    r->lens = rc_calloc(n ? n : 1, sizeof(*r->lens));
    r->topics = rc_calloc(n ? n : 1, sizeof(*r->topics));
    if (!r->names || !r->lens || !r->topics) {
        resume_free(r);
        return NULL;
    }
    for (size_t i = 0; i < n; i++, r->num_names++) {
        if (!(r->names[i] = rc_malloc(lens[i] + 1))) {
            resume_free(r);
            return NULL;
        }
        memcpy(r->names[i], topics[i], lens[i]);
        r->names[i][lens[i]] = '\0';
        r->lens[i] = lens[i];
    }
    return r;
}

bool resume_start(struct shard *sh, struct conn *c, struct resume **slot,
                  const struct resume_out *out, const char *const *topics, const size_t *lens,
                  const bool *received_before, const struct resume_since *since, size_t n)
{
    struct resume *r = new_resume(topics, lens, n);
    if (!r) {
        out->fail(sh, c);
        return false;
    }
    r->out = out;
    for (size_t i = 0; i < n; i++) {
        if (topic_is_pattern(topics[i], lens[i]))
            continue;
        struct resume_topic *t = &r->topics[r->num_topics++];
        t->name = r->names[i];
        t->len = lens[i];
        t->hash = rc_hash(topics[i], lens[i]);
        t->has_since = since && since[i].given;
        if (t->has_since)
            t->since = since[i].pos;
        t->hold = t->has_since || !received_before[i];
    }
    *slot = r;
    c->flags |= CONN_HOLDING;
    if (ask_all(sh, c, r) && c->state == CONN_OPEN) {
        conn_pause_input(sh, c);
        return true;
    }
    if (c->state == CONN_OPEN)
        finish(sh, c, slot);
    return false;
}

static void ws_close_internal(struct shard *sh, struct conn *c)
{
    wsconn_close(sh, c, WS_CLOSE_INTERNAL_ERROR, "out of memory");
}

static const struct resume_out ws_out = {true, send_text, send_text, ws_close_internal};

bool resume_subscribed(struct shard *sh, struct conn *c, struct resume **slot,
                       const struct control_msg *m, const char *const *topics, const size_t *lens,
                       const bool *received_before, size_t n)
{
    struct resume_since *since = rc_calloc(n ? n : 1, sizeof(*since));
    if (!since) {
        ws_close_internal(sh, c);
        return false;
    }
    for (size_t i = 0; i < n; i++)
        since[i].given =
            control_since(m, topics[i], lens[i], &since[i].pos.epoch, &since[i].pos.seq) > 0;
    bool waits = resume_start(sh, c, slot, &ws_out, topics, lens, received_before, since, n);
    rc_free(since);
    return waits;
}

int resume_hold(struct resume *r, struct msg *m, uint64_t *out_held)
{
    if (!r)
        return 0;
    for (size_t i = 0; i < r->num_topics; i++) {
        struct resume_topic *t = &r->topics[i];
        if (!t->hold || t->hash != m->topic_hash || t->len != m->topic_len ||
            memcmp(t->name, m->topic, t->len) != 0)
            continue;
        if (t->num_held == t->cap_held) {
            size_t cap = t->cap_held ? t->cap_held * 2 : 8;
            struct msg **grown = rc_realloc(t->held, cap * sizeof(*grown));
            if (!grown)
                return -1;
            t->held = grown;
            t->cap_held = cap;
        }
        msg_ref(m);
        t->held[t->num_held++] = m;
        r->held_bytes += m->ws_frame_len;
        *out_held = r->held_bytes;
        return 1;
    }
    return 0;
}

/* delivered_event is the event as subscribers receive it (the stub of a
 * truncated one); none for a dropped one. */
static const uint8_t *delivered_event(const struct msg *m, size_t *out_len)
{
    return m->ws_frame ? msg_ws_json(m, out_len) : NULL;
}

/* history_reply sends {"type":"history",…,"events":[…]} in one text frame
 * whose events are the messages' own bytes, queued by reference. */
static void history_reply(struct shard *sh, struct conn *c, struct pubreq *req)
{
    static _Thread_local struct historyjson h; /* large: one per shard thread */
    historyjson_measure(&h, "{\"type\":\"history\",", c, req, delivered_event);
    uint8_t header[WS_MAX_HEADER];
    conn_send_copy(sh, c, header, ws_build_header(header, WS_OP_TEXT, true, h.len));
    historyjson_queue(sh, c, &h, req, delivered_event);
}

bool resume_history(struct shard *sh, struct conn *c, const struct control_msg *m)
{
    char message[160];
    enum topic_status status =
        topic_validate(m->topic, m->topic_len, sh->cfg->max_topic_length, sh->cfg->max_segments);
    if (status != TOPIC_OK) {
        size_t len = 0;
        send_text(sh, c,
                  control_reply_error(CONTROL_ERR_BAD_TOPIC, m->topic, m->topic_len,
                                      topic_status_text(status), &len),
                  len);
        return false;
    }
    if (!auth_may_subscribe(c->claims, m->topic, m->topic_len)) {
        size_t len = 0;
        snprintf(message, sizeof(message), "%s", AUTH_FORBIDDEN_SUBSCRIBE);
        send_text(sh, c,
                  control_reply_error(CONTROL_ERR_FORBIDDEN, m->topic, m->topic_len, message, &len),
                  len);
        return false;
    }
    uint64_t limit =
        m->limit && m->limit < sh->cfg->history_size ? m->limit : sh->cfg->history_size;
    const struct pubreq_ask q = {.op = PUBREQ_HISTORY,
                                 .topic = m->topic,
                                 .topic_len = m->topic_len,
                                 .topic_hash = rc_hash(m->topic, m->topic_len),
                                 .seq = m->history_since,
                                 .limit = (uint32_t)limit};
    struct pubreq local;
    bool failed = false;
    switch (publish_ask(sh, c, &q, &local, &failed)) {
    case PUBLISH_ANSWERED:
        if (failed)
            wsconn_close(sh, c, WS_CLOSE_INTERNAL_ERROR, "out of memory");
        else
            history_reply(sh, c, &local);
        pubreq_release_results(&local);
        return false;
    case PUBLISH_SENT:
        c->flags |= CONN_AWAITING;
        conn_pause_input(sh, c);
        return true;
    case PUBLISH_BLOCKED:
    default: {
        /* The ring to the home is full (backpressure): not queued here. */
        size_t len = 0;
        send_text(sh, c,
                  control_reply_error(CONTROL_ERR_RATE_LIMITED, m->topic, m->topic_len,
                                      "the server is busy: retry the history request", &len),
                  len);
        return false;
    }
    }
}

bool resume_on_result(struct shard *sh, struct conn *c, struct resume **slot, struct pubreq *req)
{
    if (req->op == PUBREQ_HISTORY) {
        c->flags &= ~CONN_AWAITING;
        if (req->history_failed)
            wsconn_close(sh, c, WS_CLOSE_INTERNAL_ERROR, "out of memory");
        else
            history_reply(sh, c, req);
        return true;
    }
    struct resume *r = *slot;
    if (!r || req->corr >= r->num_topics || r->topics[req->corr].answered)
        return false;
    struct resume_topic *t = &r->topics[req->corr];
    if (req->history_failed) {
        r->out->fail(sh, c);
        return true;
    }
    t->replay = req->replay; /* taken over */
    memset(&req->replay, 0, sizeof(req->replay));
    t->answered = true;
    r->pending--;
    if (ask_all(sh, c, r))
        return false;
    finish(sh, c, slot);
    return true;
}

bool resume_retry(struct shard *sh, struct conn *c, struct resume **slot)
{
    struct resume *r = *slot;
    if (!r)
        return false;
    if (ask_all(sh, c, r))
        return true;
    finish(sh, c, slot);
    return false;
}
