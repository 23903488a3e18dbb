"""Pattern subscriptions (docs/protocol/websocket.md, "Topics and patterns";
docs/protocol/sse.md): which topics a pattern matches, over WebSocket, SSE
(curl and the npm package eventsource), mixed with exact topics in one
request, overlapping (one delivery per connection), unsubscribed, and the
limits (--max-patterns-per-conn, --max-topics-per-conn, --max-segments,
--max-topic-length). Publishing to a wildcard topic is refused.

What a pattern must match is decided here by match(), a brute-force matcher
written from the documented rules, independent of the server:

- a topic or pattern is segments separated by `:` or `.`; the separators are
  part of it (pattern `a:*` matches `a:b`, not `a.b`);
- `*` is exactly one (non-empty) segment;
- `>` as the last segment is one or more trailing segments (whatever their
  separators), and the separator before it must be the topic's;
- `*` alone matches every topic.

Every wait is bounded; a connection that received too little, too much, or
twice the same event fails the test with the difference.
"""

import json
import random
import re
import subprocess
import time
import urllib.parse

import pytest
import websocket

import rcproto as rp
from conftest import publish, publish_many
from nodehelpers import NodeScript
from ssehelpers import SSEClient, sse_query
from rcproto import without_positions

EVENT_TYPE = "pattern.test"
WAIT = 20  # seconds allowed for any expected delivery
QUIET = 0.5  # seconds of silence after which nothing more is expected


# ---- the reference matcher ------------------------------------------------------------

SEPARATOR = re.compile(r"([:.])")


def split(name):
    """(segments, separators) of a topic or pattern: "a:b.c" -> ([a, b, c], [:, .])."""
    parts = SEPARATOR.split(name)
    return parts[0::2], parts[1::2]


def match(pattern, topic):
    """Whether subscription |pattern| (an exact topic or a pattern) matches |topic|."""
    if pattern == "*":
        return True
    psegs, pseps = split(pattern)
    tsegs, tseps = split(topic)
    if psegs[-1] == ">":
        fixed = psegs[:-1]
        # One or more segments for ">"; the separators up to and including the
        # one before ">" must be the topic's; those inside the tail are free.
        if len(tsegs) < len(fixed) + 1 or tseps[:len(pseps)] != pseps:
            return False
    else:
        if len(tsegs) != len(psegs) or tseps != pseps:
            return False
        fixed = psegs
    return all(p == "*" or p == t for p, t in zip(fixed, tsegs))


def matching(subscriptions, topics):
    """The topics of |topics| that at least one of |subscriptions| matches, in order."""
    return [t for t in topics if any(match(s, t) for s in subscriptions)]


# ---- the table --------------------------------------------------------------------------

HAND_TOPICS = [
    "a", "b", "x", "7", "a:b", "a.b", "a:c", "a.c", "x:b", "x.b", "b:b", "a:a",
    "a:b:c", "a:x:c", "a:b.c", "a.b:c", "a.b.c", "a.x.c", "a:b:d", "a:b:c:d", "a:b:c.d",
    "x:b:c", "x:b:c:d", "a:b:c:d:e", "a.b.c.d.e", "a.x", "b:a:c",
    "customer_id:42:call:7", "customer_id:42:call:8", "customer_id:42:call:7:leg",
    "customer_id:43:call:7", "customer_id:43:call:7.leg", "customer_id:42:call",
    "customer_id.42.call.7", "customer_id:42.call:7", "customer_id:42", "customer_id:42:sms:7",
    "customer_id", "call:7", "42:b",
]
VOCABULARY = ["a", "b", "c", "x", "customer_id", "42", "call", "7"]


def table_topics(count=64, seed=20260120):
    """The hand-picked topics, then seeded random ones (1-5 segments, both
    separators) up to |count|."""
    rng = random.Random(seed)
    topics = list(HAND_TOPICS)
    while len(topics) < count:
        topic = rng.choice(["a", "b", "c", "x", "customer_id"])
        for _ in range(rng.randint(1, 5) - 1):
            topic += rng.choice(":.:") + rng.choice(VOCABULARY)
        if topic not in topics:
            topics.append(topic)
    return topics


TOPICS = table_topics()
PATTERNS = [
    "*", ">", "a:*", "a:>", "a:*:c", "a.*", "*:b", "a:*.c", "a.>", "*.*.*", "*:*:>", "*:b:>",
    "*.>", "a:b:>", "customer_id:42:call:*", "customer_id:*:call:>", "customer_id:>",
    "customer_id:*:call:*",
    # exact topics, in the same table
    "a:b:c", "a", "a.b", "x", "nope:1",
]
INVALID = {
    "a:>:b": "'>' not last",
    ">:a": "'>' not last",
    "a*": "partial segment",
    "*a": "partial segment",
    "a:b*": "partial segment",
    "a:*x": "partial segment",
    "a:>>": "partial segment",
    "**": "partial segment",
    "a::*": "empty segment",
    ":*": "empty segment",
    "*:": "empty segment",
    "a.*.": "empty segment",
    "a: *": "space",
    "": "empty",
}


def test_reference_matcher_agrees_with_the_documented_examples():
    """The examples of docs/protocol/websocket.md, so that a bug of match()
    does not silently make the table tests agree with a server bug."""
    cases = [
        ("customer_id:42:call:*", "customer_id:42:call:7", True),
        ("customer_id:42:call:*", "customer_id:42:call:7:leg", False),
        ("customer_id:42:>", "customer_id:42:call:7", True),
        ("customer_id:42:>", "customer_id:42", False),
        ("*", "customer_id:42:call:7", True),
        ("*", "a", True),
        ("a:*", "a:b", True),
        ("a:*", "a.b", False),
        ("a:>", "a:b.c", True),
        ("a:>", "a.b:c", False),
        (">", "a", True),
        (">", "a.b:c", True),
        ("*:b", "b", False),
        ("a:*:c", "a:b.c", False),
        ("a:*.c", "a:b.c", True),
        ("a:b:c", "a:b:c", True),
        ("a:b:c", "a:b.c", False),
        ("*.*.*", "a.b.c", True),
        ("*.*.*", "a.b.c.d", False),
    ]
    wrong = [(p, t, want) for p, t, want in cases if match(p, t) != want]
    assert not wrong, wrong
    # Every pattern of the table matches something and misses something
    # (except the match-all ones and the deliberately unmatched exact topic).
    for p in PATTERNS:
        n = len(matching([p], TOPICS))
        if p in ("*", ">"):
            assert n == len(TOPICS)
        elif p == "nope:1":
            assert n == 0
        else:
            assert 0 < n < len(TOPICS), (p, n)


# ---- WebSocket helpers ------------------------------------------------------------------

def ws_connect(server, timeout=10):
    return websocket.create_connection(server.ws_url, timeout=timeout)


def request(ws, message_type, topics, timeout=10):
    """Sends a subscribe or unsubscribe of |topics|; returns (errors, reply):
    the error messages that came first, then the subscribed/unsubscribed reply."""
    ws.send(json.dumps({"type": message_type, "topics": list(topics)}))
    errors = []
    deadline = time.monotonic() + timeout
    while True:
        left = deadline - time.monotonic()
        assert left > 0, "no reply to %s %r within %ss (errors %r)" % (message_type, topics,
                                                                       timeout, errors)
        ws.settimeout(left)
        message = json.loads(ws.recv())
        if message.get("type") == "error":
            errors.append(message)
            continue
        assert message.get("type") == message_type + "d", \
            "expected a %sd reply, got %r" % (message_type, message)
        return errors, message


def subscribe(server, *topics):
    """A connection subscribed to |topics| without errors."""
    ws = ws_connect(server)
    errors, reply = request(ws, "subscribe", topics)
    assert errors == [] and without_positions(reply) == {"type": "subscribed", "topics": list(topics)}, (errors, reply)
    return ws


def collect(ws, count, timeout=WAIT):
    """Events of |ws| until |count| arrived or |timeout| passed."""
    deadline = time.monotonic() + timeout
    events = []
    while len(events) < count:
        left = deadline - time.monotonic()
        if left <= 0:
            break
        ws.settimeout(left)
        try:
            events.append(json.loads(ws.recv()))
        except websocket.WebSocketTimeoutException:
            break
    return events


def remaining(deadline):
    """Seconds left until |deadline| (a little at least, to read what is there)."""
    return max(0.05, deadline - time.monotonic())


def drain(ws, wait=QUIET):
    """What arrives on |ws| within |wait| seconds (normally nothing)."""
    return collect(ws, 10 ** 9, wait)


def check_event(event, topic=None):
    """An event of the table: its data names its topic; returns the topic."""
    assert set(event) == {"event_type", "timestamp", "topic", "seq", "data"}, event
    assert event["event_type"] == EVENT_TYPE, event
    assert event["data"]["topic"] == event["topic"], event
    if topic is not None:
        assert event["topic"] == topic, event
    return event["topic"]


def compare(what, got_topics, expected_topics):
    """|got_topics| (as received, in order) must be |expected_topics|, each once."""
    duplicates = sorted({t for t in got_topics if got_topics.count(t) > 1})
    missing = [t for t in expected_topics if t not in got_topics]
    extra = sorted(set(got_topics) - set(expected_topics))
    assert not (duplicates or missing or extra), (
        "%s: missing %r, not matching but received %r, received twice %r"
        % (what, missing, extra, duplicates))


def table_events(topics=TOPICS):
    return [{"topic": t, "event_type": EVENT_TYPE, "data": {"topic": t, "n": n}}
            for n, t in enumerate(topics)]


def publish_table(server, topics=TOPICS):
    """One event on each of |topics| (fresh topics: each gets seq 1)."""
    events = table_events(topics)
    p, results = publish_many(server, events, timeout=60)
    assert p.returncode == 0, "ringcast-pub exited %d: %s" % (p.returncode, p.stderr[-2000:])
    assert [(r["topic"], r["seq"]) for r in results] == [(t, 1) for t in topics], results
    return events


# ---- the table over WebSocket -----------------------------------------------------------

def test_pattern_table_over_websocket(start_server):
    server = start_server(shards=2)
    singles = [(p, subscribe(server, p)) for p in PATTERNS]
    everything = subscribe(server, *PATTERNS)  # every pattern on one connection
    try:
        publish_table(server)
        # One deadline for all: a test that misses events fails within WAIT.
        deadline = time.monotonic() + WAIT
        received = {}
        for p, ws in singles:
            expected = matching([p], TOPICS)
            received[p] = collect(ws, len(expected), remaining(deadline))
        all_expected = matching(PATTERNS, TOPICS)
        assert all_expected == TOPICS  # "*" is among them
        all_received = collect(everything, len(all_expected), remaining(deadline))
        time.sleep(QUIET)  # then anything more (a duplicate, a wrong match) has arrived too
        for p, ws in singles:
            events = received[p] + drain(ws, 0.05)
            compare("connection of %r" % p, [check_event(e) for e in events],
                    matching([p], TOPICS))
            assert all(e["seq"] == 1 for e in events), events
        events = all_received + drain(everything, 0.05)
        compare("the connection of every pattern %r" % PATTERNS, [check_event(e) for e in events],
                all_expected)
    finally:
        for _, ws in singles:
            ws.close()
        everything.close()


def test_invalid_patterns_get_bad_topic_and_valid_ones_of_the_request_still_apply(start_server):
    server = start_server(shards=2)
    ws = ws_connect(server)
    try:
        invalid = list(INVALID)
        errors, reply = request(ws, "subscribe", invalid[:7] + ["a:*"] + invalid[7:])
        assert without_positions(reply) == {"type": "subscribed", "topics": ["a:*"]}, (errors, reply)
        assert sorted(e["topic"] for e in errors) == sorted(invalid), errors
        for e in errors:
            assert e["code"] == "bad_topic", (INVALID[e["topic"]], e)
            assert isinstance(e.get("message"), str) and e["message"], e
        # None of the refused ones was subscribed: events of topics that only
        # a lenient reading of them would match (a glob "a*", "*a", ">" in
        # the middle, ...) do not arrive. "a:b" (matched by the valid "a:*")
        # comes after them, as a marker.
        for topic in ["ab", "xa", "a:x:b", "b:a", "a:b:c", "a.c.d", "a:bx:y"]:
            assert published(server, topic) == 1
        published(server, "a:b")
        events = collect(ws, 1) + drain(ws)
        assert [check_event(e) for e in events] == ["a:b"], events
        # Unsubscribing invalid ones: bad_topic again, not a silent success.
        errors, reply = request(ws, "unsubscribe", ["a*", "a:>:b"])
        assert reply == {"type": "unsubscribed", "topics": []}, (errors, reply)
        assert sorted((e["code"], e["topic"]) for e in errors) == \
            [("bad_topic", "a*"), ("bad_topic", "a:>:b")], errors
    finally:
        ws.close()


def test_match_all_subscriptions_receive_every_topic_once_with_exact_duplicates(start_server):
    """"*" and ">" together, plus an exact topic on the same connection: every
    event once; "*" matches single-segment topics too, ">" alone as well."""
    server = start_server(shards=3)
    ws = subscribe(server, "*", ">", "a:b:c", "a:*")
    try:
        publish_table(server)
        events = collect(ws, len(TOPICS))
        events += drain(ws)
        compare("the connection of *, >, a:b:c and a:*",
                [check_event(e) for e in events], TOPICS)
    finally:
        ws.close()


# ---- the table over SSE -----------------------------------------------------------------

SSE_SUBSET = ["*", ">", "a:>", "a.*", "*:b", "a:*.c", "*:*:>", "customer_id:*:call:>", "a:b:c"]


def query_sse(server, *params):
    """SSEClient on /v1/sse?topic=P1&topic=P2,P3: a topic= parameter per
    argument, each a subscription or a comma-separated list of them, written
    the way a browser sends it (":", "*", "." and "," as they are; ">"
    percent-encoded)."""
    return SSEClient(server, *params, safe=":*.,")


def sse_collect(client, count, timeout=WAIT):
    """Records of an SSEClient until |count| arrived or |timeout| passed."""
    deadline = time.monotonic() + timeout
    records = []
    while len(records) < count:
        left = deadline - time.monotonic()
        if left <= 0:
            break
        try:
            records.append(client.record(timeout=left))
        except AssertionError:
            break
    return records


def sse_topics(records):
    """Checks each record (data: and no event: line, the default of
    docs/protocol/sse.md) and returns the topics of the events, in order."""
    topics = []
    for record in records:
        assert "event" not in record, record
        event = json.loads(record["data"])
        topics.append(check_event(event))
    return topics


def test_pattern_table_over_sse_with_curl(start_server):
    server = start_server(shards=2)
    streams = []
    try:
        for p in SSE_SUBSET:
            streams.append(([p], SSEClient(server, p)))
        # Everything in one stream: repeated topic= and a comma-separated list.
        mixed = PATTERNS[:10] + PATTERNS[10:]
        streams.append((mixed, query_sse(server, *PATTERNS[:10], ",".join(PATTERNS[10:]))))
        publish_table(server)
        deadline = time.monotonic() + WAIT
        received = [sse_collect(client, len(matching(subs, TOPICS)), remaining(deadline))
                    for subs, client in streams]
        time.sleep(QUIET)
        for (subs, client), records in zip(streams, received):
            records += sse_collect(client, 10 ** 9, 0.05)
            compare("SSE stream of %r" % subs, sse_topics(records), matching(subs, TOPICS))
            # The id: of a stream with a pattern has one position per
            # subscription (docs/protocol/sse.md, "Event ids").
            for record in records:
                positions = record["id"].split(",")
                assert len(positions) == len(subs) or (len(subs) == 1 and subs[0] == "a:b:c"), \
                    (subs, record)
    finally:
        for _, client in streams:
            client.close()


def test_mixed_exact_and_patterns_over_sse(start_server):
    server = start_server(shards=2)
    subs = ["orders.42", "customer:7:call:*", "customer:7:>", "customer:7:call:1"]
    client = query_sse(server, "orders.42,customer:7:call:*", "customer:7:>", "customer:7:call:1")
    try:
        for topic in ["customer:7:call:1", "customer:7:call:2", "customer:7:sms", "customer:7",
                      "customer:8:call:1", "customer.7.call.1", "orders.43", "orders.42"]:
            publish(server, topic, {"topic": topic}, event_type=EVENT_TYPE)
        want = ["customer:7:call:1", "customer:7:call:2", "customer:7:sms", "orders.42"]
        records = sse_collect(client, len(want))
        records += sse_collect(client, 10 ** 9, QUIET)
        compare("SSE stream of %r" % subs, sse_topics(records), want)
    finally:
        client.close()


class NodeEventSource(NodeScript):
    """node sse_client.mjs (the npm package eventsource) on one stream (see
    nodehelpers.NodeScript)."""

    def __init__(self, server, subscriptions, count):
        self.url = "%s/v1/sse?%s" % (server.http_url, sse_query(subscriptions))
        super().__init__("sse_client.mjs", ["--url", self.url, "--event", EVENT_TYPE,
                                            "--count", str(count), "--timeout-ms", str(WAIT * 1000)],
                         packages=["eventsource"])

    def wait_open(self, timeout=WAIT):
        line = self.next_line(timeout)
        assert line == {"open": True}, line

    def events(self, timeout=WAIT * 2):
        """The events printed until the end line; returns (events, end line)."""
        events = []
        while True:
            line = self.next_line(timeout)
            if "done" in line or "timeout" in line:
                return events, line
            assert "error" not in line, line
            events.append(line)


def test_pattern_table_over_sse_with_node_eventsource(start_server):
    server = start_server(shards=2)
    sentinel = "sentinel-node"
    cases = [["customer_id:*:call:>", "a.*", "a:b:c", sentinel],
             ["*:*:>", "a", "*:b", sentinel]]
    clients = []
    try:
        for subs in cases:
            clients.append(NodeEventSource(server, subs, len(matching(subs[:-1], TOPICS)) + 1))
        for client in clients:
            client.wait_open()
        publish_table(server)
        # Published last: with it the count is reached only if nothing extra came.
        publish(server, sentinel, {"topic": sentinel, "n": -1}, event_type=EVENT_TYPE)
        for subs, client in zip(cases, clients):
            events, end = client.events()
            want = matching(subs[:-1], TOPICS) + [sentinel]
            got = []
            for e in events:
                assert e["type"] == "message", e  # unnamed records: onmessage
                assert e["data"]["event_type"] == EVENT_TYPE, e
                got.append(check_event(e["data"]))
                assert len(e["lastEventId"].split(",")) == len(subs), e
            compare("eventsource stream of %r" % subs, got, want)
            assert end == {"done": len(want)}, end
    finally:
        for client in clients:
            client.kill()


# ---- mixing, overlapping, unsubscribing -----------------------------------------------------

def test_mixed_exact_and_patterns_in_one_subscribe(start_server):
    server = start_server(shards=2)
    subs = ["orders.42", "customer:7:call:*", "customer:7:>", "customer:7:call:1"]
    ws = subscribe(server, *subs)
    try:
        # Subscribing to a held pattern again: listed as held, no second delivery.
        errors, reply = request(ws, "subscribe", ["customer:7:call:*", "orders.42"])
        assert errors == [] and reply["topics"] == ["customer:7:call:*", "orders.42"], reply
        topics = ["customer:7:call:1", "customer:7:call:2", "customer:7:sms", "customer:7",
                  "customer:8:call:1", "customer.7.call.1", "customer:7.call:1", "customer:7:call.1",
                  "orders.43", "orders:42", "orders.42"]
        for topic in topics:
            publish(server, topic, {"topic": topic}, event_type=EVENT_TYPE)
        want = ["customer:7:call:1", "customer:7:call:2", "customer:7:sms", "customer:7:call.1",
                "orders.42"]
        assert matching(subs, topics) == want
        events = collect(ws, len(want)) + drain(ws)
        compare("connection of %r" % subs, [check_event(e) for e in events], want)
    finally:
        ws.close()


def published(server, topic):
    return publish(server, topic, {"topic": topic}, event_type=EVENT_TYPE)


def until_sentinel(ws, sentinel, what):
    """The topics of the events |ws| receives up to the one of |sentinel|
    (published last), and in a quiet time after it."""
    events = []
    deadline = time.monotonic() + WAIT
    while not events or events[-1]["topic"] != sentinel:
        left = deadline - time.monotonic()
        got = collect(ws, 1, left) if left > 0 else []
        assert got, "%s: no sentinel within %ss; got %r" % (what, WAIT, events)
        events += got
    return [check_event(e) for e in events + drain(ws, 0.3)]


def expect_only(server, ws, sentinel, topics, what):
    """Publishes to each of |topics| ((topic, must_receive) pairs), then to
    |sentinel| (held exactly by |ws|): the events ws receives up to the
    sentinel, and in a quiet time after it, must be exactly the topics it
    must receive and the sentinel, each once."""
    for topic, _ in topics:
        published(server, topic)
    published(server, sentinel)
    want = [t for t, must in topics if must] + [sentinel]
    compare(what, until_sentinel(ws, sentinel, what), want)


# `>` takes the trailing segments whatever separators they have among them,
# but the separator in front of it is the topic's: (subscriptions, the
# topics of SEPARATOR_TOPICS they receive, in publish order).
SEPARATOR_TOPICS = ["a", "a:b", "a.b", "a:b.c", "a.b:c", "a:b:c", "a.b.c", "a:b.c:d", "a.b:c.d",
                    "a:c.d", "ab:c", "ab.c", "b:a:c", "b.a.c", "x.a:b"]
SEPARATOR_CASES = [
    (["a:>"], ["a:b", "a:b.c", "a:b:c", "a:b.c:d", "a:c.d"]),
    (["a.>"], ["a.b", "a.b:c", "a.b.c", "a.b:c.d"]),
    (["a:>", "a.>"], ["a:b", "a.b", "a:b.c", "a.b:c", "a:b:c", "a.b.c", "a:b.c:d", "a.b:c.d",
                      "a:c.d"]),
    (["a:b.>"], ["a:b.c", "a:b.c:d"]),
    (["a.b:>"], ["a.b:c", "a.b:c.d"]),
    (["*.b:>"], ["a.b:c", "a.b:c.d"]),
]


@pytest.mark.parametrize("shards", [1, 2])
def test_the_separator_before_a_tail_wildcard_must_be_the_topics(start_server, shards):
    """Each case on its own connection (with the sentinel, an exact topic):
    one event on each of SEPARATOR_TOPICS, then the sentinel; each
    connection receives exactly its topics, once each, and nothing else
    (with one shard, in publish order)."""
    server = start_server(shards=shards)
    sentinel = "end"
    for subs, want in SEPARATOR_CASES:
        assert matching(subs, SEPARATOR_TOPICS) == want, subs  # the documented rules
    conns = [(subs, subscribe(server, sentinel, *subs)) for subs, _ in SEPARATOR_CASES]
    try:
        publish_table(server, SEPARATOR_TOPICS + [sentinel])
        for (subs, ws), (_, want) in zip(conns, SEPARATOR_CASES):
            got = until_sentinel(ws, sentinel, "connection of %r" % subs)
            if shards == 1:
                assert got == want + [sentinel], (subs, got)
            compare("connection of %r" % subs, got, want + [sentinel])
    finally:
        for _, ws in conns:
            ws.close()


@pytest.mark.parametrize("shards", [1, 4])
def test_overlap_and_unsubscribe(start_server, shards):
    server = start_server(shards=shards)
    sentinel = "sentinel"
    ws = subscribe(server, sentinel, "p:*", "p:>")
    other = subscribe(server, "p:*")  # another connection holding one of the patterns
    try:
        expect_only(server, ws, sentinel, [("p:1", True), ("p:1:x", True), ("p.1", False)],
                    "p:* and p:>")
        # Unsubscribing a topic the patterns match, or the same pattern with
        # the other separator, removes nothing.
        errors, reply = request(ws, "unsubscribe", ["p:2", "p.*", "p:*:x"])
        assert errors == [] and reply == {"type": "unsubscribed", "topics": ["p:2", "p.*", "p:*:x"]}
        expect_only(server, ws, sentinel, [("p:2", True), ("p:2:x", True)], "after unsubscribing others")
        # One of the two overlapping patterns: the other still delivers, once.
        errors, reply = request(ws, "unsubscribe", ["p:*"])
        assert errors == [] and reply == {"type": "unsubscribed", "topics": ["p:*"]}
        expect_only(server, ws, sentinel, [("p:3", True), ("p:3:x", True), ("q:3", False)],
                    "after unsubscribing p:* (p:> left)")
        # The last one: nothing of p arrives any more.
        errors, reply = request(ws, "unsubscribe", ["p:>"])
        assert errors == [] and reply == {"type": "unsubscribed", "topics": ["p:>"]}
        expect_only(server, ws, sentinel, [("p:4", False), ("p:4:x", False), ("p:4:x:y", False)],
                    "after unsubscribing p:> as well")
        # The other connection kept its p:* all along: p:1 .. p:4 (not p:N:x).
        events = collect(other, 4) + drain(other, 0.3)
        assert [check_event(e) for e in events] == ["p:1", "p:2", "p:3", "p:4"], events
        # Subscribing again works.
        errors, reply = request(ws, "subscribe", ["p:*"])
        assert errors == [] and without_positions(reply) == {"type": "subscribed", "topics": ["p:*"]}
        expect_only(server, ws, sentinel, [("p:5", True), ("p:5:x", False)], "after subscribing p:* again")
    finally:
        ws.close()
        other.close()


# ---- limits ---------------------------------------------------------------------------------

def sse_error(server, query, timeout=10):
    """GET /v1/sse?|query| expected to be refused: (status, JSON body)."""
    p = subprocess.run(["curl", "-s", "-i", "--max-time", str(timeout),
                        "%s/v1/sse?%s" % (server.http_url, query)],
                       capture_output=True, timeout=timeout + 5)
    head, _, body = p.stdout.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 "), p
    return int(head.split()[1]), json.loads(body) if body.strip() else None


def test_max_patterns_per_conn_over_websocket(start_server):
    server = start_server("--max-patterns-per-conn", "3", shards=2)
    ws = subscribe(server, "a:*", "b:>", "c.*")
    try:
        errors, reply = request(ws, "subscribe", ["d:*"])
        assert without_positions(reply) == {"type": "subscribed", "topics": []}, reply
        assert [(e["code"], e["topic"]) for e in errors] == [("too_many_patterns", "d:*")], errors
        assert errors[0].get("message"), errors
        # Exact topics are still allowed; an already-held pattern is no new one.
        errors, reply = request(ws, "subscribe", ["e", "f.g", "a:*", ">"])
        assert without_positions(reply) == {"type": "subscribed", "topics": ["e", "f.g", "a:*"]}, (errors, reply)
        assert [(e["code"], e["topic"]) for e in errors] == [("too_many_patterns", ">")], errors
        # The refused patterns are not held: d:1 does not arrive (">" would
        # match everything); the exact ones are.
        for topic in ["d:1", "x.y", "a:1", "f.g", "e"]:
            published(server, topic)
        want = ["a:1", "f.g", "e"]
        events = collect(ws, len(want)) + drain(ws)
        compare("connection at the pattern limit", [check_event(e) for e in events], want)
        # After unsubscribing one pattern there is room for one more.
        request(ws, "unsubscribe", ["b:>"])
        errors, reply = request(ws, "subscribe", ["d:*", "z:*"])
        assert without_positions(reply) == {"type": "subscribed", "topics": ["d:*"]}, (errors, reply)
        assert [(e["code"], e["topic"]) for e in errors] == [("too_many_patterns", "z:*")], errors
        published(server, "d:2")
        events = collect(ws, 1) + drain(ws)
        assert [check_event(e) for e in events] == ["d:2"], events
    finally:
        ws.close()
    # Four patterns in one request: the first three are taken, the fourth refused.
    ws = ws_connect(server)
    try:
        errors, reply = request(ws, "subscribe", ["w:*", "exact", "w:a:>", "*.w", "w:*:*"])
        assert without_positions(reply) == {"type": "subscribed", "topics": ["w:*", "exact", "w:a:>", "*.w"]}, (errors, reply)
        assert [(e["code"], e["topic"]) for e in errors] == [("too_many_patterns", "w:*:*")], errors
    finally:
        ws.close()


def test_patterns_count_towards_max_topics_per_conn(start_server):
    server = start_server("--max-topics-per-conn", "3", "--max-patterns-per-conn", "8", shards=2)
    ws = subscribe(server, "a:*", "b:>", "c")
    try:
        errors, reply = request(ws, "subscribe", ["d:*", "e"])
        assert without_positions(reply) == {"type": "subscribed", "topics": []}, (errors, reply)
        assert sorted((e["code"], e["topic"]) for e in errors) == \
            [("too_many_topics", "d:*"), ("too_many_topics", "e")], errors
    finally:
        ws.close()


def test_max_patterns_per_conn_over_sse(start_server):
    server = start_server("--max-patterns-per-conn", "3", shards=2)
    status, body = sse_error(server, sse_query(["a:*", "b:>", "exact", "c.*", "d:*"]))
    assert status == 400 and body["error"] == "too_many_patterns", (status, body)
    status, body = sse_error(server, sse_query(["a:*,b:>,c.*,d:*"]))
    assert status == 400 and body["error"] == "too_many_patterns", (status, body)
    # Three patterns and exact topics: a stream.
    client = SSEClient(server, "a:*", "b:>", "exact", "c.*", "other")
    try:
        for topic in ["d:1", "a:1", "b:1:2", "c.1", "exact", "other", "c:1"]:
            published(server, topic)
        want = ["a:1", "b:1:2", "c.1", "exact", "other"]
        records = sse_collect(client, len(want)) + sse_collect(client, 10 ** 9, QUIET)
        compare("SSE stream at the pattern limit", sse_topics(records), want)
    finally:
        client.close()


def test_max_segments(start_server):
    server = start_server("--max-segments", "4", shards=2)
    ws = ws_connect(server)
    try:
        too_many = ["a:b:c:d:e", "a.b.c.d.e", "a:*:c:d:>", "*:*:*:*:*", "a:b:c:d:>"]
        fine = ["a:b:c:d", "a:*:c:>", "*.*.*.*", "q:r:s:t"]
        errors, reply = request(ws, "subscribe", too_many + fine)
        assert without_positions(reply) == {"type": "subscribed", "topics": fine}, (errors, reply)
        assert sorted(e["topic"] for e in errors) == sorted(too_many), errors
        for e in errors:
            assert e["code"] == "bad_topic" and "segments" in e["message"], e
        status, body = sse_error(server, sse_query(["ok", "a:b:*:d:e"]))
        assert status == 400 and body["error"] == "bad_topic" and body["topic"] == "a:b:*:d:e", body
        assert "segments" in body["message"], body
        # Publishing a topic with too many segments is refused; 4 are fine and
        # reach the pattern "a:*:c:>".
        conn, _ = rp.connect_ready(server)
        with conn:
            conn.send(rp.publish(2, "a:b:c:d:e", b'{"topic":"a:b:c:d:e"}'))
            err = conn.expect_nack(rp.BAD_TOPIC, 2)
            assert "segments" in err.message, err
            conn.send(rp.publish(3, "a:x:c:d", b'{"topic":"a:x:c:d"}', event_type=EVENT_TYPE,
                                 content_type=b"application/json"))
            assert conn.expect_ack(3).seq == 1
        events = collect(ws, 1) + drain(ws)
        assert [check_event(e) for e in events] == ["a:x:c:d"], events
        status, body = http_publish(server, "a:b:c:d:e")
        assert status == 422 and body["error"] == "bad_topic", (status, body)
    finally:
        ws.close()


def test_max_topic_length(start_server):
    server = start_server("--max-topic-length", "16", shards=2)
    ws = ws_connect(server)
    try:
        at_limit = ["abcdefghijklmn:*", "abcdefghijklmn:>", "abcdefghijklmnop"]
        over = ["abcdefghijklmno:*", "abcdefghijklmn:*:>", "abcdefghijklmnopq"]
        assert {len(t) for t in at_limit} == {16} and {len(t) for t in over} == {17, 18}
        errors, reply = request(ws, "subscribe", over + at_limit)
        assert without_positions(reply) == {"type": "subscribed", "topics": at_limit}, (errors, reply)
        assert sorted(e["topic"] for e in errors) == sorted(over), errors
        for e in errors:
            assert e["code"] == "bad_topic" and e["message"], e
        status, body = sse_error(server, sse_query(["abcdefghijklmno:*"]))
        assert status == 400 and body["error"] == "bad_topic", (status, body)
        assert body["topic"] == "abcdefghijklmno:*", body
        p = publish(server, "abcdefghijklmn:xy", "x", check=False)
        assert p.returncode != 0 and "bad_topic" in p.stderr, (p.returncode, p.stderr)
        published(server, "abcdefghijklmn:x")
        events = collect(ws, 1) + drain(ws)
        assert [check_event(e) for e in events] == ["abcdefghijklmn:x"], events
    finally:
        ws.close()


def http_publish(server, topic, raw=False):
    """POST /v1/publish with curl (JSON form, or the raw form with the topic in
    the query); returns (status, JSON body)."""
    if raw:
        args = ["%s/v1/publish?%s" % (server.http_url, urllib.parse.urlencode({"topic": topic})),
                "--data-binary", "plain"]
    else:
        args = ["%s/v1/publish" % server.http_url, "-H", "Content-Type: application/json",
                "--data-binary", json.dumps({"topic": topic, "data": {"topic": topic}})]
    p = subprocess.run(["curl", "-s", "-i", "--max-time", "10", "-X", "POST"] + args,
                       capture_output=True, timeout=20)
    head, _, body = p.stdout.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 "), p
    return int(head.split()[1]), json.loads(body)


WILDCARD_TOPICS = ["*", ">", "a:*", "a:>", "a.*.c", "*:b", "customer_id:42:call:*", "a*", "a:>:b"]


def test_publishing_to_a_wildcard_topic_is_refused(start_server):
    server = start_server(shards=2)
    catch_all = subscribe(server, "*", ">", "sentinel")
    try:
        # Binary protocol: non-fatal NACK bad_topic, the connection goes on.
        conn, _ = rp.connect_ready(server)
        with conn:
            for corr, topic in enumerate(WILDCARD_TOPICS, start=10):
                conn.send(rp.publish(corr, topic, b'"x"', content_type=b"application/json"))
                err = conn.expect_nack(rp.BAD_TOPIC, corr)
                assert err.message, err
            conn.ping_roundtrip(99, b"alive")
        # ringcast-pub: exits non-zero and says why.
        for topic in ["a:*", ">"]:
            p = publish(server, topic, "x", check=False)
            assert p.returncode != 0, (topic, p.stdout, p.stderr)
            assert "bad_topic" in p.stderr, (topic, p.stderr)
            assert p.stdout.strip() == "", (topic, p.stdout)
        # HTTP, both forms: 422 bad_topic.
        for topic in ["a:*", "*", "a.>"]:
            for raw in (False, True):
                status, body = http_publish(server, topic, raw)
                assert status == 422 and body["error"] == "bad_topic", (topic, raw, status, body)
        # Nothing reached the subscriber but the sentinel.
        published(server, "sentinel")
        events = collect(catch_all, 1) + drain(catch_all)
        assert [check_event(e) for e in events] == ["sentinel"], events
        assert events[0]["seq"] == 1
    finally:
        catch_all.close()
