"""GET /metrics (docs/metrics.md, normative): the whole answer parses with
prometheus_client's own parser, every documented family is there with its
type and HELP, and each counter and gauge moves as documented, by exact
amounts where the server's behaviour is deterministic.

Each shard keeps its own counters and the request sums them, and the size
gauges are refreshed once per loop iteration: so the tests poll /metrics
until the expected values show (every wait bounded), then check that they
stay there.

MetricsClient, SseClient and their helpers are also used by test_heartbeats.py."""

import json
import os
import re
import socket
import subprocess
import threading
import time
import urllib.parse

import websocket
from prometheus_client.parser import text_string_to_metric_families
from websockets.frames import Opcode

import rcproto as rp
from conftest import TOP, publish, publish_many
from rawws import frame as ws_frame

METRICS_DOC = os.path.join(TOP, "docs", "metrics.md")
PROTOCOLS = ("http", "websocket", "sse", "publisher")
SUBSCRIBER_PROTOCOLS = ("websocket", "sse")


def documented_families():
    """{metric name: (type, [label names])} from the table of docs/metrics.md."""
    row = re.compile(r"^\| `(ringcast_\w+)(?:\{([\w,]+)\})?` \| (counter|gauge|histogram) \|")
    families = {}
    with open(METRICS_DOC) as f:
        for line in f:
            m = row.match(line)
            if m:
                families[m.group(1)] = (m.group(3), (m.group(2) or "").split(",") if m.group(2) else [])
    assert len(families) >= 20, "could not read the table of %s: %r" % (METRICS_DOC, families)
    return families


def family_name(metric, mtype):
    """The name prometheus_client gives a family: counters lose `_total`."""
    return metric[:-len("_total")] if mtype == "counter" and metric.endswith("_total") else metric


def key(name, **labels):
    """A sample's key, written as in the text format: name{a="x",b="y"}."""
    if not labels:
        return name
    return "%s{%s}" % (name, ",".join('%s="%s"' % kv for kv in sorted(labels.items())))


# ---- reading /metrics -------------------------------------------------------------------

def curl_metrics(server, timeout=10):
    """GET /metrics with curl; returns (status, headers dict, body text,
    size of the whole answer in bytes)."""
    p = subprocess.run(["curl", "-s", "-i", "--max-time", str(timeout), server.http_url + "/metrics"],
                       capture_output=True, timeout=timeout + 5)
    assert p.returncode == 0, "curl /metrics failed (%d): %r" % (p.returncode, p.stderr)
    head, _, body = p.stdout.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    headers = {k.strip().lower(): v.strip() for k, v in (l.split(":", 1) for l in lines[1:])}
    return status, headers, body.decode("utf-8"), len(p.stdout)


class Metrics:
    """One parsed /metrics answer."""

    def __init__(self, text):
        self.text = text
        # list(): the whole answer must parse, not only the part a test reads.
        self.families = {f.name: f for f in text_string_to_metric_families(text)}
        self.samples = {}
        for family in self.families.values():
            for s in family.samples:
                k = key(s.name, **s.labels)
                assert k not in self.samples, "sample %s appears twice" % k
                self.samples[k] = s.value

    def __getitem__(self, k):
        assert k in self.samples, "no sample %s in /metrics:\n%s" % (k, self.text)
        return self.samples[k]

    def value(self, name, **labels):
        return self[key(name, **labels)]

    def total(self, name, **labels):
        """The sum of the samples of |name| whose labels include |labels|."""
        family = [s for f in self.families.values() for s in f.samples if s.name == name]
        assert family, "no samples of %s in /metrics" % name
        return sum(s.value for s in family if labels.items() <= s.labels.items())

    def per_shard(self, name, **labels):
        """{shard: value} of a per-shard family."""
        return {int(s.labels["shard"]): s.value for f in self.families.values() for s in f.samples
                if s.name == name and labels.items() <= s.labels.items()}


class MetricsClient:
    """Scrapes one server's /metrics. Counts the connections it opened
    (each scrape is one `http` connection, accepted or refused with 503)."""

    def __init__(self, server):
        self.server = server
        self.accepted = 0  # scrapes answered
        self.refused = 0  # scrapes refused with 503 (--max-connections)
        self.last_size = None  # bytes of the last answer

    def scrape(self, timeout=10):
        """The parsed metrics; retries while the server refuses with 503."""
        deadline = time.monotonic() + timeout
        while True:
            status, headers, body, size = curl_metrics(self.server)
            if status != 503:
                break
            self.refused += 1
            assert time.monotonic() < deadline, "/metrics refused with 503 for %ss" % timeout
            time.sleep(0.05)
        self.accepted += 1
        assert status == 200, "/metrics answered %d: %s" % (status, body)
        self.last_size = size
        return Metrics(body)

    def wait_for(self, expected, timeout=15, settle=0.3):
        """Scrapes until every sample key of |expected| has its value, then
        once more after |settle| seconds (a counter that overshoots later
        fails too). Returns the last Metrics."""
        deadline = time.monotonic() + timeout
        while True:
            m = self.scrape()
            got = {k: m[k] for k in expected}
            if got == expected:
                break
            assert time.monotonic() < deadline, \
                "metrics did not reach %s within %ss; last: %s" % (expected, timeout, got)
            time.sleep(0.05)
        time.sleep(settle)
        m = self.scrape()
        got = {k: m[k] for k in expected}
        assert got == expected, "metrics moved on after reaching %s: %s" % (expected, got)
        return m

    def wait_for_deltas(self, before, deltas, **kwargs):
        """wait_for() the values of |before| plus |deltas| ({key: delta})."""
        return self.wait_for({k: before[k] + d for k, d in deltas.items()}, **kwargs)


def connections(**counts):
    """The expected ringcast_connections{protocol} of every protocol: those
    given, 0 for the others."""
    return {key("ringcast_connections", protocol=p): counts.get(p, 0) for p in PROTOCOLS}


def assert_shard_sums(m, shards):
    """The per-shard families add up to the totals (on a quiet server)."""
    families = [("ringcast_shard_connections", "ringcast_connections", PROTOCOLS),
                ("ringcast_shard_deliveries_total", "ringcast_deliveries_total",
                 SUBSCRIBER_PROTOCOLS)]
    for per_shard, total, protocols in families:
        for p in protocols:
            values = m.per_shard(per_shard, protocol=p)
            assert sorted(values) == list(range(shards)), (per_shard, p, values)
            assert sum(values.values()) == m.value(total, protocol=p), \
                "%s{protocol=%s} %s does not add up to %s %s" % (
                    per_shard, p, values, total, m.value(total, protocol=p))
    for per_shard, total in (("ringcast_shard_publishes_total", "ringcast_publishes_total"),
                             ("ringcast_shard_ring_full_total", "ringcast_ring_full_total")):
        values = m.per_shard(per_shard)
        assert sorted(values) == list(range(shards)), (per_shard, values)
        assert sum(values.values()) == m.value(total), \
            "%s %s does not add up to %s %s" % (per_shard, values, total, m.value(total))


# ---- clients ---------------------------------------------------------------------------

class SseClient:
    """curl -N on /v1/sse?topic=...; its output lines are collected by a
    thread. Use as a context manager (curl is ended when the test fails)."""

    def __init__(self, server, *topics, max_time=120):
        query = "&".join("topic=" + urllib.parse.quote(t, safe=":*,.") for t in topics)
        self.proc = subprocess.Popen(["curl", "-s", "-N", "--max-time", str(max_time),
                                      server.http_url + "/v1/sse?" + query],
                                     stdout=subprocess.PIPE)
        self.lines = []
        self.cond = threading.Condition()
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()
        self.wait_until(lambda lines: any(l.startswith("retry:") for l in lines),
                        "the retry: line of the stream")

    def _read(self):
        for raw in self.proc.stdout:
            with self.cond:
                self.lines.append(raw.decode("utf-8").rstrip("\n"))
                self.cond.notify_all()
        with self.cond:
            self.lines.append(None)  # EOF
            self.cond.notify_all()

    def wait_until(self, predicate, what, timeout=10):
        """Waits until predicate(lines received) holds; returns the lines."""
        with self.cond:
            ok = self.cond.wait_for(lambda: predicate(self.received()), timeout)
            assert ok, "SSE: no %s within %ss; got %r" % (what, timeout, self.lines[-20:])
            return self.received()

    def received(self):
        """The lines received so far."""
        with self.cond:
            return [l for l in self.lines if l is not None]

    def events(self):
        """The data: of every complete record received, parsed as JSON."""
        return [json.loads("\n".join(r["data"])) for r in sse_records(self.received())
                if "data" in r]

    def wait_events(self, count, timeout=10):
        self.wait_until(lambda lines: sum("data" in r for r in sse_records(lines)) >= count,
                        "%d events" % count, timeout)
        return self.events()

    def close(self):
        if self.proc.poll() is None:
            self.proc.terminate()
        self.proc.wait(10)
        self.proc.stdout.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def sse_records(lines):
    """The complete records (ended by a blank line) of an SSE stream as
    {field: [values]}; comment lines are skipped, as EventSource does."""
    records, current = [], {}
    for line in lines:
        if line == "":
            if current:
                records.append(current)
            current = {}
        elif not line.startswith(":"):
            field, _, value = line.partition(":")
            current.setdefault(field, []).append(value[1:] if value.startswith(" ") else value)
    return records


def ws_connect(server, *topics):
    """A websocket-client connection, subscribed to |topics| if any."""
    if topics:
        return rp.subscribe(server, *topics)
    return websocket.create_connection(server.ws_url, timeout=10)


def ws_request(ws, msg_type, *topics):
    """Sends a subscribe or unsubscribe and returns the reply."""
    ws.send(json.dumps({"type": msg_type, "topics": list(topics)}))
    return rp.recv_event(ws)


def http_publish(server, topic, data, msg_id=None):
    """POST /v1/publish (raw form) with curl; returns (status, JSON answer)."""
    query = {"topic": topic}
    if msg_id:
        query["id"] = msg_id
    p = subprocess.run(["curl", "-s", "--max-time", "10", "-w", "\n%{http_code}", "-X", "POST",
                        "-H", "Content-Type: application/json", "--data-binary", json.dumps(data),
                        server.http_url + "/v1/publish?" + urllib.parse.urlencode(query)],
                       capture_output=True, text=True, timeout=20)
    assert p.returncode == 0, "curl failed (%d): %s" % (p.returncode, p.stderr)
    body, _, status = p.stdout.rpartition("\n")
    return int(status), json.loads(body)


def publish_all(server, events, **kwargs):
    """publish_many that must succeed: returns the seqs."""
    proc, results = publish_many(server, events, **kwargs)
    assert proc.returncode == 0, "ringcast-pub failed (%d): %s" % (proc.returncode, proc.stderr)
    assert len(results) == len(events) and all("seq" in r for r in results), results[:10]
    return [r["seq"] for r in results]


def closing(*clients):
    """Closes every client (websocket-client, SseClient, PubConn)."""
    for c in clients:
        c.close()


# ---- the format -------------------------------------------------------------------------

def test_metrics_parse_and_every_documented_family_is_there(server):
    status, headers, body, _ = curl_metrics(server)
    assert status == 200
    media_type, *params = [p.strip() for p in headers["content-type"].split(";")]
    assert media_type == "text/plain" and "version=0.0.4" in params, headers["content-type"]
    assert set(params) <= {"version=0.0.4", "charset=utf-8"}, headers["content-type"]

    m = Metrics(body)
    documented = documented_families()
    for metric, (mtype, labels) in documented.items():
        name = family_name(metric, mtype)
        assert name in m.families, "%s is not in /metrics:\n%s" % (metric, body)
        family = m.families[name]
        assert family.type == mtype, "%s is a %s, documented as a %s" % (metric, family.type, mtype)
        assert family.documentation.strip(), "%s has no HELP text" % metric
        assert re.search(r"^# HELP %s \S" % re.escape(metric), body, re.M), metric
        assert family.samples, "%s has no sample" % metric
        for s in family.samples:
            if mtype == "histogram":  # le on the buckets only
                assert s.name in (metric + "_bucket", metric + "_sum", metric + "_count"), s
                want = set(labels) - ({"le"} if s.name != metric + "_bucket" else set())
            else:
                assert s.name == metric, s
                want = set(labels)
            assert set(s.labels) == want, "%s has labels %s, documented %s" % (
                s.name, sorted(s.labels), sorted(want))
    exposed = {f.name for f in m.families.values()}
    undocumented = exposed - {family_name(k, t) for k, (t, _) in documented.items()}
    assert not undocumented, "families not in docs/metrics.md: %s" % sorted(undocumented)

    # Documented label values, and no others: only subscribers get deliveries.
    for p in PROTOCOLS:
        m.value("ringcast_connections", protocol=p)
    delivery_labels = {s.labels["protocol"] for s in m.families["ringcast_deliveries"].samples}
    assert delivery_labels == set(SUBSCRIBER_PROTOCOLS), delivery_labels
    assert m.value("ringcast_shards") == 2
    assert sorted(m.per_shard("ringcast_shard_publishes_total")) == [0, 1]


def test_fresh_server_counts_only_the_scrape_itself(start_server):
    server = start_server(shards=3)
    client = MetricsClient(server)
    first = client.scrape()
    assert first.value("ringcast_connections_accepted_total") == 1
    assert first.value("ringcast_bytes_sent_total") == 0  # its answer is not written yet
    m = client.wait_for(connections(http=1))
    assert m.value("ringcast_shards") == 3
    assert m.value("ringcast_connections_accepted_total") == client.accepted
    for name in ("ringcast_subscriptions", "ringcast_topics_subscribed",
                 "ringcast_topics_sequenced", "ringcast_publishes_total",
                 "ringcast_publish_errors_total", "ringcast_connections_refused_total",
                 "ringcast_ring_full_total", "ringcast_idle_closes_total"):
        assert m.value(name) == 0, name
    assert_shard_sums(m, 3)


# ---- connections --------------------------------------------------------------------------

def test_connection_gauges_follow_each_protocol(server):
    client = MetricsClient(server)
    before = client.wait_for(connections(http=1))  # the scrape is an http connection
    scrapes_before = client.accepted

    sockets = [ws_connect(server) for _ in range(3)]
    streams = [SseClient(server, "c.%d" % i) for i in range(2)]
    publisher, _ = rp.connect_ready(server)
    try:
        m = client.wait_for(connections(http=1, websocket=3, sse=2, publisher=1))
        assert_shard_sums(m, 2)
        # Every connection was accepted once: ours and the scrapes since |before|.
        assert (m.value("ringcast_connections_accepted_total") -
                before.value("ringcast_connections_accepted_total")) == \
            6 + client.accepted - scrapes_before
    finally:
        closing(*sockets, *streams, publisher)
    m = client.wait_for(connections(http=1))
    assert_shard_sums(m, 2)


def test_connections_over_the_limit_are_counted_as_refused(start_server):
    server = start_server("--max-connections", "2", shards=2)  # one per shard
    client = MetricsClient(server)
    before = client.scrape()
    client.wait_for(connections(http=1))  # the first scrape's connection is gone

    def http_status(sock):
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        head = b""
        while b"\r\n" not in head:
            chunk = sock.recv(4096)
            assert chunk, "closed without an answer: %r" % head
            head += chunk
        return int(head.split(b" ")[1])

    def publisher_refused(sock):
        """True for a NACK overloaded at once; False when the server waits
        for HELLO (an accepted publisher)."""
        conn = rp.PubConn(sock=sock)
        try:
            f = conn.recv_frame(timeout=1)
        except AssertionError:  # nothing within 1 s
            return False
        assert f is not None and f.type == rp.NACK, rp.describe(f)
        assert rp.decode_error(f.body).code == rp.OVERLOADED, rp.describe(f)
        return True

    refused = 0
    socks = [socket.create_connection((server.host, server.port), timeout=10) for _ in range(6)]
    statuses = [http_status(s) for s in socks]
    closing(*socks)
    assert set(statuses) <= {200, 503} and statuses.count(200) <= 2, statuses
    refused += statuses.count(503)
    client.wait_for(connections(http=1))  # they are gone (the scrape may need retries)

    socks = [socket.create_connection((server.host, server.publish_port), timeout=10)
             for _ in range(5)]
    outcomes = [publisher_refused(s) for s in socks]
    closing(*socks)
    assert outcomes.count(False) <= 2, outcomes
    refused += outcomes.count(True)
    assert refused >= 7

    # The scrapes refused on the way are counted too.
    client.wait_for({"ringcast_connections_refused_total":
                     before.value("ringcast_connections_refused_total") + refused + client.refused})


# ---- subscriptions and topics --------------------------------------------------------------

def subscription_gauges(subscriptions, topics):
    return {"ringcast_subscriptions": subscriptions, "ringcast_topics_subscribed": topics}


def test_subscription_gauges_count_each_subscription_and_each_distinct_topic(start_server):
    # One shard: topics_subscribed counts each topic or pattern once.
    server = start_server(shards=1)
    client = MetricsClient(server)
    a = ws_connect(server, "a.1", "a.2", "p:*")
    b = ws_connect(server, "a.1", "p:*", "q:>")
    with SseClient(server, "a.1,a.3", "p:*"):
        try:
            # 3 + 3 + 3 held; distinct: a.1 a.2 a.3 p:* q:>.
            client.wait_for(subscription_gauges(9, 5))
            assert ws_request(a, "subscribe", "a.1")["type"] == "subscribed"  # held already
            client.wait_for(subscription_gauges(9, 5))
            assert ws_request(a, "unsubscribe", "a.2", "p:*", "never.held")["type"] == "unsubscribed"
            client.wait_for(subscription_gauges(7, 4))  # a.2 had only a; p:* still b and c
            b.close()
            client.wait_for(subscription_gauges(4, 3))  # a: a.1; c: a.1 a.3 p:*
        finally:
            closing(a, b)
    client.wait_for(subscription_gauges(0, 0))


def test_topics_subscribed_counts_once_per_shard_holding_them(server):
    client = MetricsClient(server)
    sockets = [ws_connect(server, "x.1", "y:*") for _ in range(4)]
    try:
        m = client.wait_for({**connections(http=1, websocket=4),
                             "ringcast_subscriptions": 8}, timeout=20)
        shards_holding = sum(1 for n in m.per_shard("ringcast_shard_connections",
                                                    protocol="websocket").values() if n)
        client.wait_for({"ringcast_topics_subscribed": 2 * shards_holding})
    finally:
        closing(*sockets)
    client.wait_for(subscription_gauges(0, 0))


def test_topics_sequenced_counts_new_topics_only(server):
    client = MetricsClient(server)
    before = client.scrape()
    topics = ["seq.%d" % i for i in range(7)]
    publish_all(server, [{"topic": t, "data": 1} for t in topics])
    m = client.wait_for_deltas(before, {"ringcast_topics_sequenced": 7})
    publish_all(server, [{"topic": t, "data": 2} for t in topics])  # no new topic
    assert http_publish(server, "seq.http", {"n": 1})[0] == 200  # one more, over HTTP
    client.wait_for_deltas(m, {"ringcast_topics_sequenced": 1, "ringcast_publishes_total": 8})


# ---- publishes and deliveries ----------------------------------------------------------

def test_publishes_deliveries_and_bytes_sent(server):
    client = MetricsClient(server)
    exact = ws_connect(server, "d.1")
    overlapping = ws_connect(server, "d.1", "d.*")  # receives each event once
    with SseClient(server, "d.1") as sse:
        try:
            before = client.wait_for(connections(http=1, websocket=2, sse=1))
            published = publish_all(server, [{"topic": "d.1", "data": {"n": i}} for i in range(4)])
            assert http_publish(server, "d.1", {"n": 4})[0] == 200
            publish_all(server, [{"topic": "nobody.listens", "data": 0}])
            assert published == [1, 2, 3, 4]

            received = []
            for ws in (exact, overlapping):
                events = rp.recv_events(ws, 5)
                assert [e["seq"] for e in events] == [1, 2, 3, 4, 5]
                received += [json.dumps(e) for e in events]
            sse_events = sse.wait_events(5)
            assert [e["seq"] for e in sse_events] == [1, 2, 3, 4, 5]

            m = client.wait_for_deltas(before, {
                "ringcast_publishes_total": 6,
                key("ringcast_deliveries_total", protocol="websocket"): 10,
                key("ringcast_deliveries_total", protocol="sse"): 5,
            })
            assert_shard_sums(m, 2)
            # At least the events' bytes went out (plus frame heads, records, answers...).
            sent = m.value("ringcast_bytes_sent_total") - before.value("ringcast_bytes_sent_total")
            assert sent >= sum(len(e) for e in received) + sum(
                len(json.dumps(e)) for e in sse_events), sent
            # Nothing more arrives: each connection got each event once.
            exact.settimeout(0.3)
            try:
                extra = exact.recv()
            except websocket.WebSocketTimeoutException:
                extra = None
            assert extra is None, extra
        finally:
            closing(exact, overlapping)


def drain(sock, quiet=0.5, timeout=15):
    """Reads |sock| until nothing arrived for |quiet| seconds; returns the bytes."""
    data = b""
    deadline = time.monotonic() + timeout
    sock.settimeout(quiet)
    while True:
        assert time.monotonic() < deadline, "%r still sending after %ss" % (data[-80:], timeout)
        try:
            chunk = sock.recv(65536)
        except socket.timeout:
            return data
        if not chunk:
            return data
        data += chunk


def test_bytes_sent_counts_every_byte_written(server):
    """Exact: between two scrapes the server wrote the first scrape's answer
    and what our raw sockets received, nothing else."""
    client = MetricsClient(server)
    client.wait_for(connections(http=1))
    before = client.scrape()
    scrape_size = client.last_size

    ws = socket.create_connection((server.host, server.port), timeout=10)
    ws.sendall(b"GET /v1/ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
               b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n" +
               ws_frame(Opcode.TEXT, json.dumps({"type": "subscribe", "topics": ["b.1"]})))
    sse = socket.create_connection((server.host, server.port), timeout=10)
    sse.sendall(b"GET /v1/sse?topic=b.1 HTTP/1.1\r\nHost: x\r\n\r\n")
    received = {"ws": drain(ws), "sse": drain(sse)}  # subscribed before the publishes
    pub = socket.create_connection((server.host, server.publish_port), timeout=10)
    pub.sendall(rp.hello() + b"".join(rp.publish(2 + i, "b.1", b'{"n":%d}' % i,
                                                 content_type=b"application/json")
                                      for i in range(3)))
    received["pub"] = drain(pub)
    received["ws"] += drain(ws)
    received["sse"] += drain(sse)
    try:
        assert len(received["pub"]) == (rp.HEADER_LEN + 16) + 3 * (rp.HEADER_LEN + 9), \
            received["pub"]  # WELCOME, 3 ACKs
        assert received["ws"].startswith(b"HTTP/1.1 101 ") and received["ws"].count(b'"event_type":') == 3
        assert received["sse"].startswith(b"HTTP/1.1 200 ") and received["sse"].count(b"\ndata:") == 3
        m = client.scrape()
        sent = m.value("ringcast_bytes_sent_total") - before.value("ringcast_bytes_sent_total")
        expected = scrape_size + sum(len(v) for v in received.values())
        assert sent == expected, "bytes_sent_total grew by %d; the sockets received %d (%s)" % (
            sent, expected, {k: len(v) for k, v in received.items()})
    finally:
        closing(ws, sse, pub)


def test_publishes_from_both_home_shards_are_summed(server):
    client = MetricsClient(server)
    before = client.scrape()
    topics = ["sum.%d" % i for i in range(24)]  # homes spread over both shards
    events = [{"topic": t, "data": {"i": i}} for i in range(5) for t in topics]
    publish_all(server, events)
    m = client.wait_for_deltas(before, {"ringcast_publishes_total": len(events)})
    per_shard = m.per_shard("ringcast_shard_publishes_total")
    assert all(per_shard.values()), "all 24 topics homed on one shard? %s" % per_shard
    assert sum(per_shard.values()) == len(events)
    assert_shard_sums(m, 2)


def test_publish_errors_and_duplicates(server):
    client = MetricsClient(server)
    before = client.scrape()
    p = publish(server, "bad*topic", "{}", check=False)
    assert p.returncode == 1, (p.returncode, p.stdout, p.stderr)
    status, answer = http_publish(server, "bad*topic", {})
    assert (status, answer["error"]) == (422, "bad_topic"), answer
    m = client.wait_for_deltas(before, {"ringcast_publish_errors_total": 2,
                                        "ringcast_publishes_total": 0})

    assert publish(server, "dup.1", {"v": 1}, msg_id="m-1") == 1
    assert publish(server, "dup.1", {"v": 1}, msg_id="m-1") == 1  # a retry
    assert http_publish(server, "dup.2", {"v": 2}, msg_id="m-2") == (200, {"topic": "dup.2", "seq": 1})
    assert http_publish(server, "dup.2", {"v": 2}, msg_id="m-2") == \
        (200, {"topic": "dup.2", "seq": 1, "duplicate": True})
    client.wait_for_deltas(m, {"ringcast_publish_duplicates_total": 2,
                               "ringcast_publishes_total": 2,
                               "ringcast_publish_errors_total": 0})


# ---- oversized events, slow consumers, full rings -------------------------------------

OVERSIZED = {"id": "big-1", "pad": "x" * 300}  # above --max-payload 64


def test_truncated_events_are_counted_once_each(start_server):
    server = start_server("--max-payload", "64")
    client = MetricsClient(server)
    subscribers = [ws_connect(server, "big.1") for _ in range(2)]
    try:
        before = client.wait_for(connections(http=1, websocket=2))
        publish_all(server, [{"topic": "big.1", "data": OVERSIZED},
                             {"topic": "big.1", "data": {"small": 1}}])
        for ws in subscribers:
            stub, whole = rp.recv_events(ws, 2)
            assert stub["truncated"] is True and stub["seq"] == 1, stub
            assert whole["data"] == {"small": 1}
        client.wait_for_deltas(before, {
            "ringcast_truncated_total": 1, "ringcast_dropped_total": 0,
            "ringcast_publishes_total": 2,
            key("ringcast_deliveries_total", protocol="websocket"): 4})
    finally:
        closing(*subscribers)


def test_dropped_events_are_counted_once_each(start_server):
    server = start_server("--max-payload", "64", "--truncate=drop")
    client = MetricsClient(server)
    subscribers = [ws_connect(server, "big.1") for _ in range(2)]
    try:
        before = client.wait_for(connections(http=1, websocket=2))
        seqs = publish_all(server, [{"topic": "big.1", "data": OVERSIZED},
                                    {"topic": "big.1", "data": {"small": 1}}])
        assert seqs == [1, 2]
        for ws in subscribers:
            (only,) = rp.recv_events(ws, 1)
            assert (only["seq"], only["data"]) == (2, {"small": 1}), only
        client.wait_for_deltas(before, {
            "ringcast_dropped_total": 1, "ringcast_truncated_total": 0,
            "ringcast_publishes_total": 2,
            key("ringcast_deliveries_total", protocol="websocket"): 2})
    finally:
        closing(*subscribers)


def test_rejected_oversized_publishes_are_errors(start_server):
    server = start_server("--max-payload", "64", "--truncate=reject")
    client = MetricsClient(server)
    before = client.scrape()
    p = publish(server, "rej.1", OVERSIZED, check=False)
    assert p.returncode == 1 and "too_large" in p.stderr, (p.returncode, p.stderr)
    assert http_publish(server, "rej.1", OVERSIZED)[0] == 413
    assert publish(server, "rej.1", {"small": 1}) == 1  # no seq was used
    client.wait_for_deltas(before, {
        "ringcast_publish_errors_total": 2, "ringcast_publishes_total": 1,
        "ringcast_truncated_total": 0, "ringcast_dropped_total": 0,
        "ringcast_topics_sequenced": 1})


def test_publishes_over_max_topics_are_errors(start_server):
    server = start_server("--max-topics", "2", shards=1)
    client = MetricsClient(server)
    before = client.scrape()
    publish_all(server, [{"topic": "cap.1", "data": 1}, {"topic": "cap.2", "data": 2}])
    p = publish(server, "cap.3", "3", check=False)
    assert p.returncode == 1 and "overloaded" in p.stderr, (p.returncode, p.stderr)
    client.wait_for_deltas(before, {"ringcast_publish_errors_total": 1,
                                    "ringcast_publishes_total": 2,
                                    "ringcast_topics_sequenced": 2})


def test_slow_consumer_close_is_counted(start_server):
    server = start_server("--max-queued-bytes", "1M", "--max-payload", "1M",
                          "--close-timeout", "1s")
    client = MetricsClient(server)
    # A small receive buffer, set before connecting: the TCP window stays small.
    slow = rp.subscribe(server, "slow.1", sockopt=((socket.SOL_SOCKET, socket.SO_RCVBUF, 4096),))
    fast = ws_connect(server, "slow.1")
    batches, per_batch = 8, 10  # 64 KiB events: 640 KiB a batch, 5 MiB in all
    try:
        before = client.wait_for(connections(http=1, websocket=2))
        seqs = []
        for b in range(batches):
            # The reading client takes each batch before the next is sent, so
            # its backlog stays below the bound; the other one's keeps growing.
            publish_all(server, [{"topic": "slow.1", "data": {"i": i, "pad": "y" * 65536}}
                                 for i in range(b * per_batch, (b + 1) * per_batch)])
            seqs += [e["seq"] for e in rp.recv_events(fast, per_batch, 60)]
        assert seqs == list(range(1, batches * per_batch + 1))
        client.wait_for_deltas(before, {"ringcast_slow_consumer_closes_total": 1,
                                        "ringcast_idle_closes_total": 0,
                                        key("ringcast_connections", protocol="websocket"): -1})
    finally:
        closing(slow, fast)


def test_slow_sse_consumer_close_is_counted(start_server):
    server = start_server("--max-queued-bytes", "256K", "--max-payload", "1M")
    client = MetricsClient(server)
    slow = socket.socket()
    slow.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    slow.settimeout(10)
    slow.connect((server.host, server.port))
    slow.sendall(b"GET /v1/sse?topic=slow.2 HTTP/1.1\r\nHost: x\r\n\r\n")
    try:
        assert slow.recv(4096).startswith(b"HTTP/1.1 200 ")  # then it never reads again
        before = client.wait_for(connections(http=1, sse=1))
        publish_all(server, [{"topic": "slow.2", "data": {"i": i, "pad": "y" * 65536}}
                             for i in range(80)])
        client.wait_for_deltas(before, {"ringcast_slow_consumer_closes_total": 1,
                                        key("ringcast_connections", protocol="sse"): -1})
    finally:
        slow.close()


class BackgroundReader:
    """Receives |count| events of a websocket-client connection in a thread,
    so that it keeps up while the test publishes."""

    def __init__(self, ws, count, timeout=60):
        self.events, self.error = None, None
        self.thread = threading.Thread(target=self._run, args=(ws, count, timeout), daemon=True)
        self.thread.start()
        self.timeout = timeout

    def _run(self, ws, count, timeout):
        try:
            self.events = rp.recv_events(ws, count, timeout)
        except Exception as e:  # reported by result()
            self.error = e

    def result(self):
        self.thread.join(self.timeout + 5)
        assert not self.thread.is_alive(), "the reader is still reading"
        if self.error:
            raise self.error
        return self.events


def test_full_rings_are_counted(start_server):
    server = start_server("--ring-size", "16", shards=2)
    client = MetricsClient(server)
    before = client.scrape()
    topics = ["ring.%d" % i for i in range(40)]
    events = [{"topic": topics[i % len(topics)], "data": {"n": i}} for i in range(4000)]
    publish_all(server, events, window=1000)
    m = client.wait_for_deltas(before, {"ringcast_publishes_total": len(events)})
    assert m.value("ringcast_ring_full_total") > 0, "no ring stall counted:\n" + m.text
    assert_shard_sums(m, 2)


def test_per_shard_families_add_up_under_a_mixed_load(server):
    client = MetricsClient(server)
    sockets = [ws_connect(server, "mix.*") for _ in range(4)]
    streams = [SseClient(server, "mix.1", "mix.2") for _ in range(3)]
    publishers = [rp.connect_ready(server)[0] for _ in range(3)]
    try:
        client.wait_for(connections(http=1, websocket=4, sse=3, publisher=3))
        topics = ["mix.%d" % i for i in range(1, 13)]
        publish_all(server, [{"topic": t, "data": i} for i in range(3) for t in topics])
        for ws in sockets:
            rp.recv_events(ws, 36)
        for sse in streams:
            sse.wait_events(6)
        m = client.wait_for({"ringcast_publishes_total": 36,
                             key("ringcast_deliveries_total", protocol="websocket"): 4 * 36,
                             key("ringcast_deliveries_total", protocol="sse"): 3 * 6})
        assert_shard_sums(m, 2)
        assert m.value("ringcast_subscriptions") == 4 + 3 * 2
    finally:
        closing(*sockets, *streams, *publishers)
    assert_shard_sums(client.wait_for(connections(http=1)), 2)
