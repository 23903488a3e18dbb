"""Server-Sent Events (docs/protocol/sse.md) received by three clients we did
not write: curl -N, the npm package eventsource (node/sse_client.mjs) and
Chromium's own EventSource (node/browser_sse.mjs, driven by playwright-core
with the installed /usr/bin/chromium), in both forms of records: unnamed
(the default: no event: line, every event reaches onmessage) and named
(?events=named or --sse-named-events: event: <event_type>, for
addEventListener).

A stream is taken as live once its first bytes (the head and `retry:`)
arrived: only then are events published. Every wait is bounded by WAIT."""

import calendar
import datetime
import json
import os
import queue
import re
import subprocess
import threading
import time

import pytest

from conftest import NODE_DIR, publish

WAIT = 15  # seconds allowed for anything that must arrive
LINE_END = re.compile(rb"\r\n|\r|\n")  # what ends a line of an event stream
TIMESTAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$")
HEARTBEAT = ": heartbeat"

# A pretty-printed JSON payload, with LF and with CRLF line ends.
PRETTY_JSON = '{\n  "a": 1,\n  "b": [1,\n 2]\n}'
PRETTY_JSON_CRLF = PRETTY_JSON.replace("\n", "\r\n")
TEXT_WITH_NEWLINES = "first line\nsecond line\r\nthird line"


# --- topics, subscriptions and the ids the doc prescribes -------------------

def is_pattern(subscription):
    return subscription == "*" or any(s in ("*", ">") for s in re.split(r"[:.]", subscription))


def matches(subscription, topic):
    """Whether |topic| is one of |subscription|'s (docs/protocol/websocket.md,
    "Topics and patterns")."""
    if subscription == "*":
        return True
    regex = "".join({"*": r"[^:.]+", ">": r".+"}.get(piece, re.escape(piece))
                    for piece in re.split(r"([:.])", subscription))
    return re.fullmatch(regex, topic) is not None


def timestamp_micros(timestamp):
    """An event's "timestamp" in whole microseconds since the epoch."""
    assert TIMESTAMP.match(timestamp), timestamp
    t = datetime.datetime.strptime(timestamp, "%Y-%m-%dT%H:%M:%S.%fZ")
    return calendar.timegm(t.timetuple()) * 1000000 + t.microsecond


def seqs_of_ids(subscriptions, ids):
    """The ids of a stream with the epoch of a one-exact-topic stream's ids
    ("<epoch>-<seq>", one epoch for all) checked and taken off; other
    streams' ids as they are."""
    if len(subscriptions) != 1 or is_pattern(subscriptions[0]):
        return list(ids)
    parts = [re.fullmatch(r"([0-9a-f]{16})-(\d+)", i) for i in ids]
    assert all(parts), ids
    assert len({p.group(1) for p in parts}) <= 1, ids
    return [p.group(2) for p in parts]


def expected_ids(subscriptions, events):
    """The `id:` of each of |events| (event JSON, in the order a stream of
    |subscriptions| received them), per docs/protocol/sse.md "Event ids".
    The tests' subscriptions never overlap."""
    if len(subscriptions) == 1 and not is_pattern(subscriptions[0]):
        return [str(event["seq"]) for event in events]
    positions = ["t0" if is_pattern(s) else "0" for s in subscriptions]
    ids = []
    for event in events:
        (i,) = [i for i, s in enumerate(subscriptions) if matches(s, event["topic"])]
        if is_pattern(subscriptions[i]):
            positions[i] = "t%d" % timestamp_micros(event["timestamp"])
        else:
            positions[i] = str(event["seq"])
        ids.append(",".join(positions))
    return ids


def sse_path(*topic_params):
    """/v1/sse with one topic= parameter per argument."""
    return "/v1/sse?" + "&".join("topic=" + t for t in topic_params)


# --- publishing and checking events -----------------------------------------

def publish_event(server, topic, payload, event_type=None, content_type="application/json"):
    """Publishes |payload| (text, JSON unless |content_type| says otherwise)
    with ringcast-pub; returns the event a subscriber must receive, less its
    timestamp."""
    seq = publish(server, topic, payload, event_type=event_type, content_type=content_type)
    is_json = content_type == "application/json"
    return {"event_type": event_type or "message", "topic": topic, "seq": seq,
            "data": json.loads(payload) if is_json else payload}


def assert_event(received, expected):
    """|received| (event JSON) is |expected| with a well-formed timestamp."""
    assert set(received) == {"event_type", "timestamp", "topic", "seq", "data"}, received
    assert TIMESTAMP.match(received["timestamp"]), received
    assert {k: v for k, v in received.items() if k != "timestamp"} == expected


def assert_delivery(received, expected):
    """|received| events are exactly the |expected| ones (as publish_event
    returns them), each once, in seq order per topic (the order across
    topics is not prescribed)."""
    key = lambda e: (e["topic"], e["seq"])
    assert sorted(map(key, received)) == sorted(map(key, expected)), received
    by_key = {key(e): e for e in expected}
    for event in received:
        assert_event(event, by_key[key(event)])
    for topic in {e["topic"] for e in expected}:
        seqs = [e["seq"] for e in received if e["topic"] == topic]
        assert seqs == sorted(seqs), "%s out of seq order: %s" % (topic, seqs)


# --- curl -N ----------------------------------------------------------------

class Record:
    """One block of an event stream (lines up to a blank line), parsed as
    the SSE spec says: `name: value` fields, `:` comments."""

    def __init__(self, lines):
        self.lines = lines
        self.fields = []
        for line in lines:
            name, _, value = line.partition(":")
            self.fields.append((name, value[1:] if value.startswith(" ") else value))

    def values(self, name):
        return [value for field, value in self.fields if field == name]

    @property
    def is_event(self):
        return bool(self.values("data"))

    @property
    def id(self):
        (value,) = self.values("id")
        return value

    @property
    def event_type(self):
        (value,) = self.values("event")
        return value

    @property
    def data(self):
        """The data lines joined with "\\n", as EventSource does."""
        return "\n".join(self.values("data"))

    def __repr__(self):
        return "Record(%r)" % self.lines


class CurlStream:
    """`curl -sN -i URL` in a child process. A thread splits its output into
    lines (CR, LF or CRLF end a line, as in the SSE spec): first the response
    head, then the event stream. Use it as a context manager."""

    def __init__(self, url, max_seconds=60):
        self.proc = subprocess.Popen(["curl", "-sN", "-i", "--max-time", str(max_seconds), url],
                                     stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        self.lines = []
        self.ended = False
        self.changed = threading.Condition()
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self):
        pending = b""
        while True:
            chunk = os.read(self.proc.stdout.fileno(), 65536)
            pending = self._take_lines(pending + chunk, final=not chunk)
            if not chunk:
                break
        with self.changed:
            self.ended = True
            self.changed.notify_all()

    def _take_lines(self, data, final):
        """Adds the complete lines of |data|; returns the rest. A CR at the
        very end waits for the next chunk: it may be half of a CRLF."""
        lines = []
        while True:
            m = LINE_END.search(data)
            if not m or (m.group() == b"\r" and m.end() == len(data) and not final):
                break
            lines.append(data[:m.start()].decode("utf-8"))
            data = data[m.end():]
        with self.changed:
            self.lines.extend(lines)
            self.changed.notify_all()
        return data

    def wait_until(self, predicate, what, timeout=WAIT):
        """Waits until predicate(self) holds (bounded); fails on timeout."""
        with self.changed:
            self.changed.wait_for(lambda: predicate(self) or self.ended, timeout)
            if predicate(self):
                return
            raise AssertionError("curl: no %s within %ss (ended: %s); received:\n%s" %
                                 (what, timeout, self.ended, "\n".join(self.lines)[-4000:]))

    def blocks(self):
        """The complete blocks of lines (each ended by a blank line)."""
        blocks, current = [], []
        for line in self.lines:
            if line:
                current.append(line)
            else:
                blocks.append(current)
                current = []
        return blocks

    def head(self):
        """(status line, {lower-case header name: value}) of the response."""
        self.wait_until(lambda s: s.blocks(), "response head")
        status, *fields = self.blocks()[0]
        headers = {}
        for field in fields:
            name, _, value = field.partition(":")
            headers[name.strip().lower()] = value.strip()
        return status, headers

    def records(self):
        """The complete records of the event stream (after the head)."""
        return [Record(block) for block in self.blocks()[1:]]

    def wait_live(self):
        """Waits for the first record (the retry hint); returns it."""
        self.wait_until(lambda s: s.records(), "first record")
        return self.records()[0]

    def events(self, count):
        """Waits for |count| event records; returns them."""
        events = lambda s: [r for r in s.records() if r.is_event]
        self.wait_until(lambda s: len(events(s)) >= count, "%d events" % count)
        return events(self)[:count]

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()
        self.reader.join(WAIT)


def curl_error(*args):
    """A one-shot curl -s -i; returns (status, headers, parsed JSON body)."""
    p = subprocess.run(["curl", "-s", "-i", "--max-time", str(WAIT)] + list(args),
                       capture_output=True, timeout=WAIT + 5)
    assert p.returncode == 0, "curl exited %d: %r" % (p.returncode, p.stdout)
    head, _, body = p.stdout.partition(b"\r\n\r\n")
    status, *fields = head.decode("latin-1").split("\r\n")
    headers = {name.strip().lower(): value.strip()
               for name, _, value in (f.partition(":") for f in fields)}
    return int(status.split()[1]), headers, json.loads(body)


def stream_events(stream, expected, subscriptions, named=False):
    """Checks that curl |stream| of |subscriptions| received exactly the
    |expected| events with the ids of the doc, and event: lines when
    |named|, none otherwise; returns the records."""
    records = stream.events(len(expected))
    received = [json.loads(r.data) for r in records]
    assert_delivery(received, expected)
    assert seqs_of_ids(subscriptions, [r.id for r in records]) == expected_ids(subscriptions,
                                                                             received)
    if named:
        assert [r.event_type for r in records] == [e["event_type"] for e in received]
    else:
        assert all(r.values("event") == [] for r in records), records
    return records


@pytest.mark.parametrize("flags, retry", [((), 3000), (("--sse-retry", "1500ms"), 1500)],
                         ids=["default", "sse-retry-1500ms"])
def test_curl_response_head_and_retry(start_server, flags, retry):
    server = start_server(*flags)
    # Other query parameters are ignored.
    with CurlStream(server.http_url + sse_path("orders.42") + "&foo=bar") as stream:
        status, headers = stream.head()
        assert status == "HTTP/1.1 200 OK"
        assert headers["content-type"] == "text/event-stream"
        assert "no-cache" in [v.strip() for v in headers["cache-control"].split(",")]
        assert headers["x-accel-buffering"] == "no"
        assert stream.wait_live().lines == ["retry: %d" % retry]


# (server flags, query added to the stream, whether records are named)
NAMING = [((), "", False), ((), "&events=named", True), ((), "&events=unnamed", False),
          (("--sse-named-events",), "", True), (("--sse-named-events",), "&events=unnamed", False),
          (("--sse-named-events",), "&events=named", True)]
NAMING_IDS = ["default", "events-named", "events-unnamed", "server-named",
              "server-named-stream-unnamed", "server-named-stream-named"]


@pytest.mark.parametrize("flags, query, named", NAMING, ids=NAMING_IDS)
def test_curl_records_one_exact_topic(start_server, flags, query, named):
    server = start_server(*flags)
    topic = "orders.42"
    for n in (1, 2):
        publish_event(server, topic, '{"n":%d}' % n)
    with CurlStream(server.http_url + sse_path(topic) + query) as stream:
        stream.wait_live()
        expected = [publish_event(server, topic, '{"status":"paid"}', event_type="order.paid"),
                    publish_event(server, topic, '{"n":4}')]
        records = stream_events(stream, expected, [topic], named)
    # Only what was published while subscribed; the id is the position,
    # "<epoch>-<seq>", the epoch the topic's (GET /v1/history).
    epoch = json.loads(subprocess.run(
        ["curl", "-sS", "--max-time", "10", server.http_url + "/v1/history/" + topic],
        capture_output=True, text=True, timeout=15).stdout)["epoch"]
    assert [r.id for r in records] == [epoch + "-3", epoch + "-4"]
    for record in records:
        want = ["event", "id", "data"] if named else ["id", "data"]
        assert [name for name, _ in record.fields] == want, record
    # Unnamed, the type is in the data (the event JSON) all the same.
    assert [json.loads(r.data)["event_type"] for r in records] == ["order.paid", "message"]


@pytest.mark.parametrize("payload", [PRETTY_JSON, PRETTY_JSON_CRLF], ids=["lf", "crlf"])
def test_curl_multiline_json_payload(server, payload):
    topic = "orders.42"
    with CurlStream(server.http_url + sse_path(topic)) as stream:
        stream.wait_live()
        expected = [publish_event(server, topic, payload, content_type="application/json")]
        (record,) = stream_events(stream, expected, [topic])
    # Split into one data: line per line of the payload; joined with "\n",
    # they are the event JSON with the payload embedded as published.
    assert len(record.values("data")) == len(payload.splitlines())
    assert payload.replace("\r\n", "\n") in record.data
    assert json.loads(record.data)["data"] == {"a": 1, "b": [1, 2]}


def test_curl_text_payload_with_newlines(server):
    topic = "orders.42"
    with CurlStream(server.http_url + sse_path(topic)) as stream:
        stream.wait_live()
        expected = [publish_event(server, topic, TEXT_WITH_NEWLINES, content_type="text/plain")]
        (record,) = stream_events(stream, expected, [topic])
    assert len(record.values("data")) == 1, record
    assert json.loads(record.data)["data"] == TEXT_WITH_NEWLINES


def test_curl_heartbeats(start_server):
    server = start_server("--sse-heartbeat", "200ms")
    with CurlStream(server.http_url + sse_path("orders.42")) as stream:
        stream.wait_live()
        stream.wait_until(lambda s: s.lines.count(HEARTBEAT) >= 3, "3 heartbeats", timeout=2)
        heartbeats = [r for r in stream.records() if HEARTBEAT in r.lines]
    assert all(r.lines == [HEARTBEAT] and r.fields == [("", "heartbeat")] for r in heartbeats)


@pytest.mark.parametrize("topic_params", [["orders.42", "customer:7:call:3"],
                                          ["orders.42,customer:7:call:3"]],
                         ids=["repeated-topic", "comma-list"])
@pytest.mark.parametrize("named", [False, True], ids=["unnamed", "named"])
def test_curl_two_exact_topics(server, topic_params, named):
    first, second = subscriptions = ["orders.42", "customer:7:call:3"]
    # The second topic's seq is 2 before the stream starts: its position in
    # the ids stays 0 until the stream delivered one of its events.
    for n in (1, 2):
        publish_event(server, second, '{"before":%d}' % n)
    query = "&events=named" if named else ""
    with CurlStream(server.http_url + sse_path(*topic_params) + query) as stream:
        stream.wait_live()
        expected = [publish_event(server, topic, '{"n":%d}' % n, event_type="t.%d" % n)
                    for n, topic in enumerate([first, second, first, first, second])]
        records = stream_events(stream, expected, subscriptions, named)
    # The stream's own id line first, then (named) the event line.
    want = ["id", "event", "data"] if named else ["id", "data"]
    assert all([name for name, _ in r.fields] == want for r in records), records


def test_curl_pattern_ids_are_publish_times(server):
    mixed = ["orders.42", "customer:7:call:*"]
    pattern = ["customer:7:call:*"]
    with CurlStream(server.http_url + sse_path(",".join(mixed))) as mixed_stream, \
            CurlStream(server.http_url + sse_path(*pattern)) as pattern_stream:
        mixed_stream.wait_live()
        pattern_stream.wait_live()
        published = [publish_event(server, topic, '{"n":%d}' % n, event_type="call.status")
                     for n, topic in enumerate(["customer:7:call:3", "orders.42",
                                                "customer:7:call:3:leg",  # matches neither
                                                "customer:7:call:4", "customer:7:call:3"])]
        for subscriptions, stream in [(mixed, mixed_stream), (pattern, pattern_stream)]:
            expected = [e for e in published if any(matches(s, e["topic"]) for s in subscriptions)]
            records = stream_events(stream, expected, subscriptions)
            assert all(re.fullmatch(r"(\d+,)?t\d{16}", r.id) for r in records), records


@pytest.mark.parametrize("method, query, status, code, topic", [
    ("GET", "?topic=orders..42", 400, "bad_topic", "orders..42"),
    ("GET", "?topic=orders.42,call*", 400, "bad_topic", "call*"),
    ("GET", "?topic=a&topic=b,c", 400, "too_many_topics", None),
    ("GET", "", 400, "bad_request", None),
    ("GET", "?foo=orders.42", 400, "bad_request", None),
    ("GET", "?topic=orders.42&events=typed", 400, "bad_request", None),
    ("POST", "?topic=orders.42", 405, "method_not_allowed", None),
], ids=["bad-topic", "bad-topic-in-list", "too-many-topics", "no-query", "no-topic",
        "bad-events", "post"])
def test_curl_errors(start_server, method, query, status, code, topic):
    server = start_server("--max-topics-per-conn", "2")
    got_status, headers, error = curl_error("-X", method, server.http_url + "/v1/sse" + query)
    assert (got_status, error["error"]) == (status, code), error
    assert headers["content-type"] == "application/json"
    assert isinstance(error["message"], str) and error["message"]
    if topic is not None:
        assert error["topic"] == topic
    if status == 400:
        assert headers["connection"] == "close"


# --- Node: the eventsource package, and Chromium ----------------------------

NODE_PACKAGES = ["eventsource", "playwright-core"]

class NodeClient:
    """node SCRIPT ARGS in a child process (sse_client.mjs or browser_sse.mjs,
    which share their output format: JSON lines). A thread reads them; every
    wait is bounded. Use it as a context manager."""

    def __init__(self, script, *args):
        for package in NODE_PACKAGES:
            assert os.path.isdir(os.path.join(NODE_DIR, "node_modules", package)), \
                "the npm package %s is missing: run `npm ci` in %s (configure.py --install-deps)" % (
                    package, NODE_DIR)
        self.name = script
        self.proc = subprocess.Popen(["node", os.path.join(NODE_DIR, script)] + list(args),
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.out = queue.Queue()
        self.stderr = []
        threading.Thread(target=self._read_stdout, daemon=True).start()
        threading.Thread(target=lambda: self.stderr.extend(self.proc.stderr), daemon=True).start()

    def _read_stdout(self):
        for line in self.proc.stdout:
            self.out.put(json.loads(line))
        self.out.put(None)  # end of output

    def next_line(self, timeout):
        try:
            line = self.out.get(timeout=timeout)
        except queue.Empty:
            line = {"silent_for_seconds": timeout}
        assert line is not None and not {"failure", "timeout", "silent_for_seconds"} & set(line), \
            "%s: %s (exit %s); stderr:\n%s" % (self.name, line, self.proc.poll(),
                                               "".join(self.stderr)[-4000:])
        return line

    def wait_open(self, timeout):
        """Waits for {"open":true}; returns the lines before it."""
        before = []
        deadline = time.time() + timeout
        while True:
            line = self.next_line(max(0.1, deadline - time.time()))
            if line == {"open": True}:
                return before
            before.append(line)

    def events(self, count, timeout=WAIT):
        """Waits for |count| events and the {"done":count} line that ends the
        script; returns the events. Error lines (which would mean a
        reconnection) fail the test."""
        events = []
        deadline = time.time() + timeout
        while True:
            line = self.next_line(max(0.1, deadline - time.time()))
            assert "error" not in line, line
            if "done" in line:
                assert line == {"done": count}, line
                assert self.proc.wait(timeout) == 0, "".join(self.stderr)[-4000:]
                assert len(events) == count
                return events
            events.append(line)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()


# Events of several types, with multi-line JSON, CRLF and text payloads,
# spread over an exact topic and topics of a pattern:
# (topic, event_type, payload, content_type).
CLIENT_TOPIC = "customer:7:call:3"
CLIENT_EVENTS = [
    (CLIENT_TOPIC, "call.status", '{"status":"ringing"}', "application/json"),
    (CLIENT_TOPIC, "message.received", '{"text":"hello"}', "application/json"),
    ("orders.42", "message.received", '{"order":42}', "application/json"),
    (CLIENT_TOPIC, "call.status", PRETTY_JSON, "application/json"),
    ("orders.43", "call.status", PRETTY_JSON_CRLF, "application/json"),
    (CLIENT_TOPIC, None, TEXT_WITH_NEWLINES, "text/plain"),  # type "message": onmessage
    (CLIENT_TOPIC, "message.received", '{"text":"bye"}', "application/json"),
]
CLIENT_EVENT_TYPES = ["call.status", "message.received"]
LISTEN_ARGS = [arg for t in CLIENT_EVENT_TYPES for arg in ("--event", t)]


def client_scenario(server, subscriptions, start_client, open_timeout=WAIT, query="",
                    named=False):
    """Starts a client with start_client(path, count), which listens with
    onmessage and addEventListener for CLIENT_EVENT_TYPES, publishes
    CLIENT_EVENTS once it is open, and checks what it printed: the events of
    its subscriptions, with lastEventIds and parsed data, and the types they
    were dispatched as: their own when |named|, else all "message"
    (onmessage), whatever their event_type."""
    count = sum(any(matches(s, topic) for s in subscriptions) for topic, *_ in CLIENT_EVENTS)
    with start_client(sse_path(",".join(subscriptions)) + query, count) as client:
        client.wait_open(open_timeout)
        published = [publish_event(server, topic, payload, event_type, content_type)
                     for topic, event_type, payload, content_type in CLIENT_EVENTS]
        lines = client.events(count)
    expected = [e for e in published if any(matches(s, e["topic"]) for s in subscriptions)]
    received = [line["data"] for line in lines]
    assert_delivery(received, expected)
    if named:
        assert [line["type"] for line in lines] == [e["event_type"] for e in received]
    else:
        assert [line["type"] for line in lines] == ["message"] * count
        assert {e["event_type"] for e in received} == {"message", *CLIENT_EVENT_TYPES}
    assert seqs_of_ids(subscriptions, [line["lastEventId"] for line in lines]) == expected_ids(
        subscriptions, received)


@pytest.mark.parametrize("subscriptions", [[CLIENT_TOPIC], ["customer:7:call:*", "orders.42"]],
                         ids=["exact-topic", "pattern-and-topic"])
@pytest.mark.parametrize("flags, query, named", [NAMING[0], NAMING[1], NAMING[3]],
                         ids=[NAMING_IDS[0], NAMING_IDS[1], NAMING_IDS[3]])
def test_node_eventsource(start_server, subscriptions, flags, query, named):
    server = start_server(*flags)

    def start(path, count):
        return NodeClient("sse_client.mjs", "--url", server.http_url + path,
                          *LISTEN_ARGS,
                          "--count", str(count), "--timeout-ms", str(WAIT * 2000))
    client_scenario(server, subscriptions, start, query=query, named=named)


@pytest.mark.parametrize("flags, query, named", [NAMING[0], NAMING[1], NAMING[3]],
                         ids=[NAMING_IDS[0], NAMING_IDS[1], NAMING_IDS[3]])
def test_chromium_eventsource(start_server, tmp_path, flags, query, named):
    server = start_server(*flags)

    def start(path, count):
        return NodeClient("browser_sse.mjs", "--origin", server.http_url, "--path", path,
                          "--user-data-dir", str(tmp_path / "chromium-profile"), *LISTEN_ARGS,
                          "--count", str(count), "--timeout-ms", str(WAIT * 4000))
    # Chromium takes a few seconds to start.
    client_scenario(server, ["customer:7:call:*", "orders.42"], start, open_timeout=WAIT * 3,
                    query=query, named=named)
