"""Pattern subscriptions across shards.

1. The 4-shard fan-out correctness test (test_fanout_node.py) with pattern
   subscriptions: many subscribers written with the npm package ws
   (node/pattern_subscribers.mjs), each holding a mix of exact topics and
   patterns, 4 concurrent publishers. Every subscriber must receive exactly
   the events its subscriptions entitle it to (computed here with the
   reference matcher of test_patterns.py from the published events and their
   ACKed seqs), each once, in seq order per topic.

2. Idle shards stay idle (docs/metrics.md: ringcast_shard_ring_messages_total,
   ringcast_shard_wakeups_total): a home shard passes an event only to shards
   that may have a matching subscriber, so a shard without subscribers for the
   published topics gets no ring message, and a shard with no work at all
   hardly wakes up.
"""

import collections
import json
import subprocess
import time

import websocket
from prometheus_client.parser import text_string_to_metric_families

import rcproto as rp
from conftest import acked_by_topic, publish_concurrently
from nodehelpers import NodeScript, event_digest
from test_patterns import matching

SHARDS = 4


# ---- metrics ------------------------------------------------------------------------

def scrape(server, timeout=10):
    """GET /metrics (curl): {(name, frozenset of label items): value}."""
    p = subprocess.run(["curl", "-s", "--max-time", str(timeout), server.http_url + "/metrics"],
                       capture_output=True, text=True, timeout=timeout + 5)
    assert p.returncode == 0, "curl /metrics failed (%d): %s" % (p.returncode, p.stderr)
    samples = {}
    for family in text_string_to_metric_families(p.stdout):
        for s in family.samples:
            samples[(s.name, frozenset(s.labels.items()))] = s.value
    return samples


def per_shard(samples, name, **labels):
    """{shard: value} of a per-shard metric."""
    out = {}
    for (n, items), value in samples.items():
        items = dict(items)
        if n == name and labels.items() <= items.items():
            out[int(items["shard"])] = value
    assert sorted(out) == list(range(SHARDS)), "no %s%r for every shard: %r" % (name, labels, out)
    return out


def shard_connections(server, protocol):
    return per_shard(scrape(server), "ringcast_shard_connections", protocol=protocol)


def wait_connections(server, protocol, total, timeout=10):
    """Waits until the shards hold |total| connections of |protocol|; returns
    them per shard."""
    deadline = time.monotonic() + timeout
    while True:
        conns = shard_connections(server, protocol)
        if sum(conns.values()) == total:
            return conns
        assert time.monotonic() < deadline, \
            "%s connections per shard %r, not %d in all, after %ss" % (protocol, conns, total, timeout)
        time.sleep(0.05)


# ---- 1. fan-out with patterns over 4 shards ---------------------------------------------

TOPICS = (["t%d:e%d" % (k, j) for k in range(4) for j in range(3)] +
          ["t%d:e3:x" % k for k in range(4)] +
          ["t4.e0", "t4.e1", "t4.e2", "t4.e3.x"])
PROFILES = [
    ["t0:e0"],
    ["t0:*"],
    ["*:e1", "t1:e1"],
    ["t2:>", "t3:e2"],
    ["*"],
    [">", "t0:e0"],
    ["t4.*"],
    ["t4:*", "t4:>"],          # the other separator: nothing
    ["*:*"],
    ["t1:*:x", "t3:>", "t3:e0"],
    ["nomatch:*", "t2:e2"],
    ["*.e0", "t0:e3:x", "t4.>"],
    ["*:e3:>", "t1:e0", "t1:e1", "t1:e2"],
    ["t0:e1:>", "t2:*:x"],
    ["*.*.*"],
    ["t3:*", "t3:e3:x", "*:e2", "*.e2"],
]
SUBSCRIBERS = 960  # 60 per profile
PUBLISHERS = 4
EVENTS_PER_PUBLISHER = 1500
PER_TOPIC = PUBLISHERS * EVENTS_PER_PUBLISHER // len(TOPICS)  # 300
EVENT_TYPE = "fanout.pattern"


def node_pattern_subscribers(url, spec_path, connections, timeout_ms=35000,
                             connect_timeout_ms=30000):
    """node pattern_subscribers.mjs in a child process, holding its
    connections until finish() (see nodehelpers.NodeScript)."""
    return NodeScript("pattern_subscribers.mjs", [
        "--url", url, "--spec", spec_path, "--connections", str(connections),
        "--timeout-ms", str(timeout_ms), "--connect-timeout-ms", str(connect_timeout_ms),
        "--settle-ms", "500", "--hold"])


def publisher_events(p):
    return [{"topic": TOPICS[j % len(TOPICS)], "event_type": EVENT_TYPE, "data": {"p": p, "j": j}}
            for j in range(EVENTS_PER_PUBLISHER)]


def test_pattern_fanout_4_shards(start_server, tmp_path):
    start = time.time()
    # The profiles mean what they were written for: some match nothing, the
    # overlapping ones share topics, and together they cover every topic.
    matched = [matching(p, TOPICS) for p in PROFILES]
    assert matched[7] == [] and matched[10] == ["t2:e2"] and matched[4] == TOPICS
    assert sum(1 for m in matched if 0 < len(m) < len(TOPICS)) >= 12, matched
    spec = {"profiles": [{"topics": p, "expect": len(m) * PER_TOPIC}
                         for p, m in zip(PROFILES, matched)]}
    spec_path = tmp_path / "spec.json"
    spec_path.write_text(json.dumps(spec))

    server = start_server(shards=SHARDS)
    with node_pattern_subscribers(server.ws_url, str(spec_path), SUBSCRIBERS) as subs:
        ready = subs.next_line(timeout=40)
        assert ready.get("ready") == SUBSCRIBERS and ready["failed"] == 0, \
            (ready, "".join(subs.stderr)[-2000:])
        t_ready = time.time()
        # Every shard holds subscribers.
        conns = wait_connections(server, "websocket", SUBSCRIBERS)
        assert all(conns[s] > 0 for s in range(SHARDS)), "websocket connections per shard: %r" % conns

        batches = [publisher_events(p) for p in range(PUBLISHERS)]
        outputs = publish_concurrently(server, batches, timeout=40, separators=(",", ":"))
        t_published = time.time()
        by_topic = acked_by_topic(batches, outputs, TOPICS, PER_TOPIC, exact_results=False)
        digests = {t: event_digest(by_topic[t]) for t in TOPICS}

        summary = subs.next_line(timeout=45)
        t_received = time.time()
        assert "connections" in summary, summary
        problems = summary.pop("problems")
        states = summary.pop("states")
        # Per profile: every connection received, per topic its subscriptions
        # match, all PER_TOPIC events in seq order (the digest covers seq,
        # event_type and data in arrival order), and nothing of other topics.
        # (Checked first: on a timeout this says what is missing.)
        wrong = []
        for index, (profile, topics) in enumerate(zip(PROFILES, matched)):
            want = [[t, PER_TOPIC, digests[t]] for t in sorted(topics)]
            got = states.get(str(index), {})
            assert sum(got.values()) == SUBSCRIBERS // len(PROFILES), (index, got)
            for state, n in got.items():
                rows = json.loads(state)
                if rows != want:
                    have = {r[0]: r[1] for r in rows}
                    wrong.append({
                        "profile": index, "subscriptions": profile, "connections": n,
                        "missing": sorted(set(topics) - set(have)),
                        "not_matching": sorted(set(have) - set(topics)),
                        "counts": {t: c for t, c in have.items() if c != PER_TOPIC},
                        "other_digests": sorted(r[0] for r in rows if r[0] in digests
                                                and r[2] != digests[r[0]] and r[1] == PER_TOPIC)})
        assert not wrong, "%d profiles received wrong events: %r\nsummary %r\nproblems %r" % (
            len({w["profile"] for w in wrong}), wrong[:8], summary, problems)
        assert summary["outcome"] == "done", (summary, problems)
        assert summary["complete"] == SUBSCRIBERS, (summary, problems)
        for counter in ("late", "duplicates", "out_of_order", "bad_messages", "errors",
                        "closed_early", "connect_failed"):
            assert summary[counter] == 0, (counter, summary, problems)
        total = sum(len(m) * PER_TOPIC * (SUBSCRIBERS // len(PROFILES)) for m in matched)
        assert summary["events"] == total, (summary, problems)

        closed = subs.finish(timeout=60)
        assert closed == {"closed": SUBSCRIBERS, "close_codes": {"1000": SUBSCRIBERS}}, closed
    print("\npattern fan-out: %d subscribers (per shard %r), connect %.1fs, publish %.1fs "
          "(%d events), all %d deliveries %.1fs after ready; total %.1fs" % (
              SUBSCRIBERS, dict(sorted(conns.items())), t_ready - start, t_published - t_ready,
              PUBLISHERS * EVENTS_PER_PUBLISHER, total, t_received - t_ready, time.time() - start))


# ---- 2. idle shards stay idle ---------------------------------------------------------------

IDLE_EVENTS = 2000
MATCHING = ["idle:*", "idle:0", "hot:>"]            # subscriber A: matches every idle:N
UNRELATED = ["other:*", "zzz", "elsewhere:>"]        # subscriber B at first
# Patterns close to the published topics idle:N that match none of them.
NEAR_MISSES = ["idle.*", "idle:*:x", "idle:0:>", "idle.>", "*:idle", "*.*", "*:*:*", "*:x",
               "*.x", "idle:*:*:>"]
# Subscriptions that do not look like them at all, and exact near misses.
FAR_MISSES = ["other:*", "x:>", "q.>", "idle:x", "idle.0", "idle", "idle:0:x"]


def ws_request(ws, message_type, topics):
    ws.send(json.dumps({"type": message_type, "topics": topics}))
    reply = rp.recv_event(ws, 10)
    assert rp.without_positions(reply) == {"type": message_type + "d", "topics": topics}, reply


def shard_of_new(server, protocol, before, open_conn):
    """Opens a connection with |open_conn| and finds the shard that took it
    from the change of the per-shard gauge; returns (connection, shard)."""
    conn = open_conn()
    after = wait_connections(server, protocol, sum(before.values()) + 1)
    changed = [s for s in range(SHARDS) if after[s] == before[s] + 1]
    assert len(changed) == 1, (before, after)
    return conn, changed[0]


def nothing_arrives(ws, wait=0.3):
    try:
        message = rp.recv_event(ws, wait)
    except websocket.WebSocketTimeoutException:
        return
    raise AssertionError("unexpected message: %r" % message)


class Publisher:
    """A raw publish connection (rcproto) that pipelines PUBLISH frames."""

    def __init__(self, server, window=20):
        self.conn, welcome = rp.connect_ready(server)
        # Small windows: many round trips, so that the shards with work wake
        # up many times, and the comparison with an idle one means something.
        self.window = min(window, welcome.max_inflight)
        self.corr = 1

    def publish(self, topics):
        """Publishes one event to each of |topics| (in order); returns their seqs."""
        seqs = []
        for start in range(0, len(topics), self.window):
            chunk = topics[start:start + self.window]
            first = self.corr + 1
            frames = [rp.publish(first + i, topic, json.dumps({"n": start + i}),
                                 event_type=b"idle.test", content_type=b"application/json")
                      for i, topic in enumerate(chunk)]
            self.corr += len(chunk)
            self.conn.send(b"".join(frames))
            acks = {}
            while len(acks) < len(chunk):
                f = self.conn.recv_frame(timeout=20)
                assert f is not None and f.type == rp.ACK, rp.describe(f)
                acks[f.corr] = rp.decode_ack(f.body).seq
            seqs += [acks[first + i] for i in range(len(chunk))]
        return seqs

    def close(self):
        self.conn.close()


def deltas(before, after, name):
    b, a = per_shard(before, name), per_shard(after, name)
    return {s: a[s] - b[s] for s in range(SHARDS)}


class Layout:
    """On a 4-shard server: subscriber A (MATCHING) and subscriber B
    (UNRELATED) on two different shards (the kernel spreads connections:
    B is reopened until it lands elsewhere), a raw publisher on shard P, and
    at least 8 topics idle:N whose home shard (learnt from
    ringcast_shard_publishes_total, one probe publish each) is A's, B's or
    P's. The other shards ("idle") then have nothing to do at all."""

    def __init__(self, server):
        self.server = server
        self.a = self.b = self.pub = None
        empty = {s: 0 for s in range(SHARDS)}
        self.a, self.shard_a = shard_of_new(server, "websocket", empty,
                                            lambda: rp.subscribe(server, *MATCHING))
        for _ in range(40):
            self.b, self.shard_b = shard_of_new(server, "websocket", {**empty, self.shard_a: 1},
                                                lambda: rp.subscribe(server, *UNRELATED))
            if self.shard_b != self.shard_a:
                break
            self.b.close()
            self.b = None
            wait_connections(server, "websocket", 1)
        else:
            raise AssertionError("40 connections in a row landed on shard %d" % self.shard_a)
        self.pub = Publisher(server)
        publishers = wait_connections(server, "publisher", 1)
        self.shard_p = [s for s in range(SHARDS) if publishers[s] == 1][0]
        busy = {self.shard_a, self.shard_b, self.shard_p}
        self.idle = sorted(set(range(SHARDS)) - busy)
        assert self.idle, busy

        self.homes = {}
        self.chosen = []
        m = scrape(server)
        for i in range(100):
            topic = "idle:%d" % i
            assert self.pub.publish([topic]) == [1]
            m2 = scrape(server)
            d = deltas(m, m2, "ringcast_shard_publishes_total")
            m = m2
            assert sorted(d.values()) == [0] * (SHARDS - 1) + [1], d
            self.homes[topic] = max(d, key=d.get)
            if self.homes[topic] in busy:
                self.chosen.append(topic)
            if self.enough():
                break
        assert self.enough(), (self.homes, self.shard_a, self.shard_b, self.shard_p)
        rp.recv_events(self.a, len(self.homes))  # the probes (A matches idle:*)
        nothing_arrives(self.b)

    def enough(self):
        # At least 8 topics, some homed away from A and some away from B (so
        # that each gets ring messages when it matches).
        return (len(self.chosen) >= 8 and any(self.homes[t] != self.shard_a for t in self.chosen)
                and any(self.homes[t] != self.shard_b for t in self.chosen))

    def run(self, events, b_matches=False, what=""):
        """Publishes |events| events round-robin over the chosen topics; A
        (and B when |b_matches|) receives each once, in seq order per topic,
        the other nothing. Returns ({counter: {shard: delta}}, {shard: events
        homed on another shard})."""
        topics = [self.chosen[n % len(self.chosen)] for n in range(events)]
        before = scrape(self.server)
        seqs = self.pub.publish(topics)
        expected = collections.defaultdict(list)
        for t, s in zip(topics, seqs):
            expected[t].append(s)
        for ws in [self.a] + ([self.b] if b_matches else []):
            got = collections.defaultdict(list)
            for e in rp.recv_events(ws, events):
                got[e["topic"]].append(e["seq"])
            assert got == expected, {t: (got[t][:5], expected[t][:5]) for t in self.chosen}
        nothing_arrives(self.a)
        nothing_arrives(self.b)
        after = scrape(self.server)
        d = {name: deltas(before, after, "ringcast_shard_%s_total" % name)
             for name in ("ring_messages", "wakeups", "publishes")}
        from_elsewhere = {s: sum(1 for t in topics if self.homes[t] != s) for s in range(SHARDS)}
        print("\n%s%d events, topics homed on %r; A on shard %d, B on %d, publisher on %d, "
              "idle %r:\n  ring messages %r\n  wakeups %r\n  publishes %r" % (
                  what, events, dict(collections.Counter(self.homes[t] for t in self.chosen)),
                  self.shard_a, self.shard_b, self.shard_p, self.idle,
                  d["ring_messages"], d["wakeups"], d["publishes"]))
        assert d["publishes"] == {s: sum(1 for t in topics if self.homes[t] == s)
                                  for s in range(SHARDS)}, d["publishes"]
        return d, from_elsewhere

    def close(self):
        for c in (self.a, self.b, self.pub):
            if c is not None:
                c.close()


def test_idle_shards_stay_idle(start_server):
    server = start_server(shards=SHARDS)
    layout = Layout(server)
    try:
        a, b, idle = layout.shard_a, layout.shard_b, layout.idle
        # B's subscriptions are unrelated to the published topics.
        d, from_elsewhere = layout.run(IDLE_EVENTS, what="B unrelated: ")
        assert d["ring_messages"][a] == from_elsewhere[a] > 0, (d, from_elsewhere)
        for s in range(SHARDS):
            if s != a:
                assert d["ring_messages"][s] == 0, \
                    "shard %d (A on %d, B on %d, publisher on %d, idle %r) got ring messages: %r" % (
                        s, a, b, layout.shard_p, idle, d["ring_messages"])
        for s in idle:
            # No connection, no topic homed there: only its timers and perhaps
            # a /metrics scrape the kernel gave it wake it.
            # (Measured: 0-4, against 100-350 for the shards with work.)
            assert d["wakeups"][s] < IDLE_EVENTS // 40, (s, d["wakeups"])
            assert d["wakeups"][s] * 5 < d["wakeups"][a], (s, d["wakeups"])

        # The counter does move for B once it matches: now B's shard gets the
        # events homed elsewhere, the idle shards still nothing.
        ws_request(layout.b, "subscribe", ["*:*"])
        d, from_elsewhere = layout.run(400, b_matches=True, what="B with *:* ")
        assert d["ring_messages"][b] == from_elsewhere[b] > 0, (d, from_elsewhere)
        assert d["ring_messages"][a] == from_elsewhere[a], (d, from_elsewhere)
        for s in idle:
            assert d["ring_messages"][s] == 0, (s, d["ring_messages"])
            assert d["wakeups"][s] < 400 // 10, (s, d["wakeups"])
    finally:
        layout.close()


def test_shards_with_non_matching_patterns_get_no_ring_messages(start_server):
    """A shard whose only subscriber holds subscriptions that match none of
    the published topics gets no ring message, however close they look:
    each one is tried alone on B (the others' results are collected, so that
    the failure lists them all)."""
    server = start_server(shards=SHARDS)
    layout = Layout(server)
    try:
        assert not matching(NEAR_MISSES + FAR_MISSES, layout.chosen)
        ws_request(layout.b, "unsubscribe", UNRELATED)
        results = {}
        for subscription in FAR_MISSES + NEAR_MISSES:
            ws_request(layout.b, "subscribe", [subscription])
            d, from_elsewhere = layout.run(200, what="B holds %r: " % subscription)
            assert d["ring_messages"][layout.shard_a] == from_elsewhere[layout.shard_a], d
            results[subscription] = d["ring_messages"][layout.shard_b]
            ws_request(layout.b, "unsubscribe", [subscription])
        wrong = {s: n for s, n in results.items() if n != 0}
        assert not wrong, (
            "shard %d, whose only subscriber holds one subscription matching none of the "
            "published topics %r, got ring messages (of 200 events, %d homed elsewhere): %r; "
            "all results: %r" % (layout.shard_b, layout.chosen,
                                 sum(1 for n in range(200) if layout.homes[
                                     layout.chosen[n % len(layout.chosen)]] != layout.shard_b),
                                 wrong, results))
    finally:
        layout.close()
