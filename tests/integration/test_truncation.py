"""Payload-size truncation (docs/truncation.md): events whose payload is larger
than --max-payload are delivered as a stub, dropped or rejected, as --truncate
says, to WebSocket and SSE subscribers alike, and stay fetchable at
GET /v1/messages/<topic>/<seq> (docs/protocol/http.md) while their topic's
history holds them (docs/history.md; --retain-bytes names --history-bytes).

Every test subscribes a real WebSocket client (websocket-client) and a real
SSE client (curl -N, ssehelpers.SSEClient) to the same topic, and publishes
through the real binary CLI (build/ringcast-pub) and HTTP POST /v1/publish in
both its JSON and raw forms. "Nothing was delivered" is checked without
sleeping: a small marker event is published after the oversized one and must be
the next thing each subscriber receives."""

import http.client
import json
import re
import socket
import urllib.parse

import pytest
import websocket
from prometheus_client.parser import text_string_to_metric_families

from conftest import publish, publish_many
from ssehelpers import SSEClient, wait_until
from rcproto import without_positions

MODES = ["stub", "drop", "reject"]
STUB_KEYS = {"event_type", "timestamp", "topic", "seq", "truncated", "size", "ref", "fetch"}
EVENT_KEYS = {"event_type", "timestamp", "topic", "seq", "data"}
MIB = 1024 * 1024
BIG = 10 * MIB  # below the default --max-publish-bytes (16M)
TIMEOUT = 20    # seconds, for every single wait on a client


def compact(value):
    return json.dumps(value, separators=(",", ":"))


# --- payloads -----------------------------------------------------------------------------

REF_MEMBERS = {"id": "job-17", "entityId": 9, "entityType": "report"}


def json_payload(size, members=REF_MEMBERS, pad_first=False):
    """A compact JSON object (ASCII) of exactly |size| bytes: |members| and a
    "pad" string member (placed first when |pad_first|)."""
    def build(n):
        pad = {"pad": "x" * n}
        return compact({**pad, **members} if pad_first else {**members, **pad})
    base = len(build(0))
    assert size >= base, "%d bytes cannot hold %r" % (size, members)
    text = build(size - base)
    assert len(text.encode()) == size
    return text


def text_payload(size):
    """A UTF-8 text (not JSON) of exactly |size| bytes, with characters that
    need escaping in JSON and one two-byte character: the size is in bytes of
    the payload as published, before escaping."""
    head = 'said "hi"\n\tthen \\ \x01\x1f \u00e9 \u2028 '
    text = head + "a" * (size - len(head.encode()))
    assert len(text.encode()) == size
    return text


# --- publishing ---------------------------------------------------------------------------

class Result:
    """What a publisher got back: seq (ACK) or error (the refusal's code)."""

    def __init__(self, seq=None, error=None, detail=""):
        self.seq, self.error, self.detail = seq, error, detail

    def __repr__(self):
        return "Result(seq=%r, error=%r, %s)" % (self.seq, self.error, self.detail[:300])


def http_request(server, method, target, body=None, headers=None, timeout=60):
    """One request on a fresh connection; returns (status, headers, body bytes)."""
    conn = http.client.HTTPConnection(server.host, server.port, timeout=timeout)
    try:
        conn.request(method, target, body=body, headers=headers or {})
        resp = conn.getresponse()
        return resp.status, {k.lower(): v for k, v in resp.getheaders()}, resp.read()
    finally:
        conn.close()


def http_result(server, target, body, content_type):
    status, _, data = http_request(server, "POST", target, body.encode(),
                                   {"Content-Type": content_type})
    answer = json.loads(data)
    if status == 200:
        assert set(answer) == {"topic", "seq"}, answer
        return Result(seq=answer["seq"], detail=data.decode())
    return Result(error=(status, answer.get("error")), detail=data.decode())


def pub_cli(server, topic, payload, event_type, is_json):
    """build/ringcast-pub TOPIC DATA (argv: for small payloads)."""
    p = publish(server, topic, payload, event_type=event_type,
                content_type=None if is_json else "text/plain", check=False)
    if p.returncode == 0:
        return Result(seq=int(p.stdout.strip()), detail=p.stderr)
    assert p.returncode == 1, "ringcast-pub exited %d: %s" % (p.returncode, p.stderr)
    assert p.stdout == "", p.stdout
    assert "too_large" in p.stderr or "refused" in p.stderr, p.stderr
    return Result(error="too_large" if "too_large" in p.stderr else p.stderr, detail=p.stderr)


def pub_cli_ndjson(server, topic, payload, event_type, is_json):
    """build/ringcast-pub < NDJSON (standard input: for payloads too big for
    argv; data is sent as application/json, compact)."""
    assert is_json
    event = {"topic": topic, "data": json.loads(payload), "event_type": event_type}
    p, results = publish_many(server, [event], timeout=120)
    assert len(results) == 1, (p.returncode, p.stdout, p.stderr)
    (r,) = results
    if "seq" in r:
        assert p.returncode == 0, p.stderr
        assert r == {"line": 1, "topic": topic, "seq": r["seq"]}, r
        return Result(seq=r["seq"], detail=p.stderr)
    assert p.returncode == 1, (p.returncode, r, p.stderr)
    return Result(error=r.get("error"), detail=json.dumps(r))


def pub_http_json(server, topic, payload, event_type, is_json):
    """POST /v1/publish, JSON form: {"topic","event_type","data"}."""
    assert is_json
    body = '{"topic":%s,"event_type":%s,"data":%s}' % (json.dumps(topic), json.dumps(event_type),
                                                       payload)
    return http_result(server, "/v1/publish", body, "application/json")


def pub_http_raw(server, topic, payload, event_type, is_json):
    """POST /v1/publish?topic=..&event_type=..: the body is the payload."""
    query = urllib.parse.urlencode({"topic": topic, "event_type": event_type})
    return http_result(server, "/v1/publish?" + query, payload,
                       "application/json" if is_json else "text/plain; charset=utf-8")


PUBLISHERS = {
    # name: (function, payload is JSON)
    "cli-json": (pub_cli, True),
    "cli-text": (pub_cli, False),
    "http-json-form": (pub_http_json, True),
    "http-raw-json": (pub_http_raw, True),
    "http-raw-text": (pub_http_raw, False),
}


def make_payload(is_json, size, members=REF_MEMBERS):
    return json_payload(size, members) if is_json else text_payload(size)


def expected_ref(is_json, members=REF_MEMBERS):
    return dict(members) if is_json else {}


def assert_refused(result, how):
    """The publish was refused as too large: NACK too_large or 413 too_large."""
    if how == "http":
        assert result.error == (413, "too_large"), result
    else:
        assert result.error == "too_large", result
    assert result.seq is None


# --- subscribers and checks ---------------------------------------------------------------

@pytest.fixture
def clients(start_server):
    """Tracks the clients a test opens; closes them before the server stops."""
    opened = []
    yield opened
    for c in opened:
        try:
            c.close()
        except Exception:  # noqa: BLE001 - a client already broken by the test
            pass


def ws_subscribe(server, topic, clients):
    ws = websocket.create_connection(server.ws_url, timeout=TIMEOUT)
    clients.append(ws)
    ws.send(json.dumps({"type": "subscribe", "topics": [topic]}))
    assert without_positions(json.loads(ws.recv())) == {"type": "subscribed", "topics": [topic]}
    return ws


def subscribers(server, topic, clients):
    """A WebSocket and an SSE subscriber of |topic|, both subscribed; the
    SSE one asks for named records (a stub keeps its event's type)."""
    ws = ws_subscribe(server, topic, clients)
    sse = SSEClient(server, topic, events="named")
    clients.append(sse)
    return ws, sse


def next_event(ws, sse, seq, event_type):
    """The next event of both subscribers: the same JSON text on both (the
    SSE record's joined data lines), with id = seq and event = type on SSE.
    Returns (parsed event, its text)."""
    text = ws.recv()
    rec = sse.record(TIMEOUT)
    assert rec["data"] == text, "SSE data differs from the WebSocket event:\n%r\n%r" % (
        rec["data"][:500], text[:500])
    event = json.loads(text)
    assert event["seq"] == seq, "expected seq %d, got %s" % (seq, text[:500])
    assert re.fullmatch(r"[0-9a-f]{16}-%d" % seq, rec.get("id", "")), rec  # <epoch>-<seq>
    assert rec.get("event") == event_type, rec
    assert event["event_type"] == event_type, text[:500]
    return event, text


def check_whole(event, text, topic, payload, is_json):
    """A complete event carrying |payload| (embedded as it is when JSON)."""
    assert set(event) == EVENT_KEYS, text[:500]
    assert event["topic"] == topic
    if is_json:
        assert event["data"] == json.loads(payload)
        assert text.endswith('"data":' + payload + "}"), "JSON payload not embedded as published"
    else:
        assert event["data"] == payload


def check_stub(stub, topic, seq, event_type, payload, ref):
    assert set(stub) == STUB_KEYS, stub
    assert stub["event_type"] == event_type
    assert stub["topic"] == topic
    assert stub["seq"] == seq
    assert stub["truncated"] is True
    assert stub["size"] == len(payload.encode()), (stub["size"], len(payload.encode()))
    assert stub["ref"] == ref, stub
    assert stub["fetch"] == "/v1/messages/%s/%d" % (topic, seq), stub
    assert isinstance(stub["timestamp"], str) and len(stub["timestamp"]) == 27


def check_fetch(server, path, topic, seq, event_type, payload, is_json, timestamp=None):
    """GET |path| answers 200 with the complete event, byte-exact data."""
    status, headers, body = http_request(server, "GET", path)
    assert status == 200, (path, status, body[:300])
    assert headers.get("content-type", "").startswith("application/json"), headers
    event = json.loads(body)
    assert set(event) == EVENT_KEYS, body[:300]
    assert (event["topic"], event["seq"], event["event_type"]) == (topic, seq, event_type)
    if timestamp is not None:
        assert event["timestamp"] == timestamp
    if is_json:
        assert event["data"] == json.loads(payload)
        tail = b'"data":' + payload.encode() + b"}"
        assert body.rstrip(b"\n").endswith(tail), "fetched data is not the payload as published"
    else:
        assert event["data"] == payload
    return event


def fetch_status(server, path):
    status, _, body = http_request(server, "GET", path)
    if status != 200:
        assert json.loads(body)["error"] in ("not_found", "bad_request"), body
    return status, body


def metrics(server):
    """The counters of /metrics, by sample name, parsed by prometheus_client."""
    status, headers, body = http_request(server, "GET", "/metrics")
    assert status == 200
    values = {}
    for family in text_string_to_metric_families(body.decode()):
        for sample in family.samples:
            if not sample.labels:
                values[sample.name] = sample.value
    for name in ("ringcast_truncated_total", "ringcast_dropped_total",
                 "ringcast_publish_errors_total"):
        assert name in values, name
    return values


def assert_counters(server, before, truncated=0, dropped=0, errors=0):
    """The counters grew by exactly these amounts (waiting, bounded, for the
    shards' counters to be read)."""
    want = {"ringcast_truncated_total": before["ringcast_truncated_total"] + truncated,
            "ringcast_dropped_total": before["ringcast_dropped_total"] + dropped,
            "ringcast_publish_errors_total": before["ringcast_publish_errors_total"] + errors}
    got = {}

    def matches():
        m = metrics(server)
        got.update({k: m[k] for k in want})
        return got == want
    wait_until(matches, timeout=5)
    assert got == want


# --- boundaries: --max-payload 100 ---------------------------------------------------------

@pytest.mark.parametrize("publisher", sorted(PUBLISHERS))
@pytest.mark.parametrize("mode", MODES)
def test_boundary(start_server, clients, mode, publisher):
    """Exactly --max-payload bytes arrive whole; one byte more is handled by
    the mode; a small marker after it shows what the subscribers got."""
    limit = 100
    server = start_server("--max-payload", str(limit), "--truncate", mode)
    pub, is_json = PUBLISHERS[publisher]
    how = "http" if publisher.startswith("http") else "cli"
    topic = "jobs:17"
    ws, sse = subscribers(server, topic, clients)
    before = metrics(server)

    exact = make_payload(is_json, limit)
    r = pub(server, topic, exact, "job.started", is_json)
    assert r.seq == 1, r
    event, text = next_event(ws, sse, 1, "job.started")
    check_whole(event, text, topic, exact, is_json)

    over = make_payload(is_json, limit + 1)
    r = pub(server, topic, over, "job.finished", is_json)
    if mode == "reject":
        assert_refused(r, how)
    else:
        assert r.seq == 2, r

    marker_seq = 2 if mode == "reject" else 3
    assert publish(server, topic, '{"marker":true}', event_type="mark") == marker_seq
    if mode == "stub":
        stub, _ = next_event(ws, sse, 2, "job.finished")
        check_stub(stub, topic, 2, "job.finished", over, expected_ref(is_json))
        check_fetch(server, stub["fetch"], topic, 2, "job.finished", over, is_json,
                    stub["timestamp"])
    elif mode == "drop":
        check_fetch(server, "/v1/messages/%s/2" % topic, topic, 2, "job.finished", over, is_json)
    marker, _ = next_event(ws, sse, marker_seq, "mark")  # nothing came before it
    assert marker["data"] == {"marker": True}

    # The whole event and the marker are in history too: served as they were delivered.
    check_fetch(server, "/v1/messages/%s/1" % topic, topic, 1, "job.started", exact, is_json,
                event["timestamp"])
    check_fetch(server, "/v1/messages/%s/%d" % (topic, marker_seq), topic, marker_seq, "mark",
                '{"marker":true}', True, marker["timestamp"])
    assert fetch_status(server, "/v1/messages/%s/%d" % (topic, marker_seq + 1))[0] == 404
    assert_counters(server, before, truncated=int(mode == "stub"), dropped=int(mode == "drop"),
                    errors=int(mode == "reject"))


@pytest.mark.parametrize("mode", MODES)
def test_pipelined_batch_mixing_sizes(start_server, clients, mode):
    """One pipelined ringcast-pub run: small, big, small, the big one retried
    with its message id, small. Seqs stay contiguous (reject: no seq for the
    refused ones; the retry is a duplicate, not delivered or counted again).
    Also subscribed: a pattern on WebSocket and a two-topic SSE stream."""
    server = start_server("--max-payload", "100", "--truncate", mode)
    topic = "jobs:17"
    ws, sse = subscribers(server, topic, clients)
    ws_pattern = ws_subscribe(server, "jobs:*", clients)
    sse_two = SSEClient(server, topic, "other")
    clients.append(sse_two)
    before = metrics(server)
    big = json_payload(150)
    events = [{"topic": topic, "data": {"n": 1}},
              {"topic": topic, "data": json.loads(big), "event_type": "job.finished",
               "id": "big-1"},
              {"topic": topic, "data": {"n": 2}},
              {"topic": topic, "data": json.loads(big), "event_type": "job.finished",
               "id": "big-1"},
              {"topic": topic, "data": {"n": 3}}]
    p, results = publish_many(server, events)
    got = [(r.get("seq"), r.get("error"), r.get("duplicate", False)) for r in results]
    if mode == "reject":
        assert p.returncode == 1, p.stderr
        assert got == [(1, None, False), (None, "too_large", False), (2, None, False),
                       (None, "too_large", False), (3, None, False)], results
        expected = [(1, {"n": 1}), (2, {"n": 2}), (3, {"n": 3})]
    else:
        assert p.returncode == 0, p.stderr
        assert got == [(1, None, False), (2, None, False), (3, None, False), (2, None, True),
                       (4, None, False)], results
        expected = [(1, {"n": 1})] + ([(2, None)] if mode == "stub" else []) + \
            [(3, {"n": 2}), (4, {"n": 3})]
    for seq, data in expected:
        event_type = "message" if data is not None else "job.finished"
        event, text = next_event(ws, sse, seq, event_type)
        assert ws_pattern.recv() == text
        rec = sse_two.record(TIMEOUT)
        assert (rec["data"], rec.get("id")) == (text, "%d,0" % seq), rec
        if data is None:
            check_stub(event, topic, seq, "job.finished", big, dict(REF_MEMBERS))
        else:
            assert event["data"] == data
    assert publish(server, topic, '{"marker":true}', event_type="mark") == expected[-1][0] + 1
    marker, text = next_event(ws, sse, expected[-1][0] + 1, "mark")
    assert ws_pattern.recv() == text
    assert sse_two.record(TIMEOUT)["data"] == text
    if mode != "reject":
        check_fetch(server, "/v1/messages/%s/2" % topic, topic, 2, "job.finished", big, True)
    assert_counters(server, before, truncated=int(mode == "stub"), dropped=int(mode == "drop"),
                    errors=2 if mode == "reject" else 0)


def test_pretty_json_at_and_over_the_limit(start_server, clients):
    """A pretty-printed JSON payload of exactly --max-payload bytes is whole
    (several SSE data: lines, joined they are the WebSocket event); one byte
    more is a one-line stub, and the fetch gives the payload as published."""
    server = start_server("--max-payload", "100")
    topic = "pretty"
    ws, sse = subscribers(server, topic, clients)

    def pretty(size):
        base = '{\n  "id": "p-1",\n  "list": [\n    1,\n    2\n  ],\n  "pad": "%s"\n}'
        text = base % ("z" * (size - len(base % "")))
        assert len(text) == size
        return text
    exact, over = pretty(100), pretty(101)
    assert pub_http_raw(server, topic, exact, "job.pretty", True).seq == 1
    event, text = next_event(ws, sse, 1, "job.pretty")
    assert "\n" in text
    check_whole(event, text, topic, exact, True)
    assert pub_http_raw(server, topic, over, "job.pretty", True).seq == 2
    stub, text = next_event(ws, sse, 2, "job.pretty")
    assert "\n" not in text
    check_stub(stub, topic, 2, "job.pretty", over, {"id": "p-1"})
    check_fetch(server, stub["fetch"], topic, 2, "job.pretty", over, True, stub["timestamp"])

    # CRLF and lone CR line breaks (JSON whitespace too): EventSource ends
    # lines at either, so the joined data is the event with LF breaks.
    crlf = '{\r\n  "id": "p-1",\r  "list": [1,\r\n2],\r"pad": "%s"\r\n}'
    crlf = crlf % ("z" * (100 - len(crlf % "")))
    assert len(crlf) == 100
    assert pub_http_raw(server, topic, crlf, "job.pretty", True).seq == 3
    text = ws.recv()
    rec = sse.record(TIMEOUT)
    assert re.fullmatch(r"[0-9a-f]{16}-3", rec.get("id", "")), rec
    event = json.loads(text)
    assert json.loads(rec["data"]) == event
    check_whole(event, text, topic, crlf, True)


# --- the default --max-payload (4096) and 10 MiB payloads -----------------------------------

BIG_PUBLISHERS = [
    # (name, function, is_json, how refusals look)
    ("cli-ndjson", pub_cli_ndjson, True, "cli"),
    ("http-json-form", pub_http_json, True, "http"),
    ("http-raw-json", pub_http_raw, True, "http"),
    ("http-raw-text", pub_http_raw, False, "http"),
]


@pytest.mark.parametrize("mode", MODES)
def test_default_limit_and_10mib(start_server, clients, mode):
    """Default --max-payload: 4096 bytes whole, 4097 handled by the mode; then
    a 10 MiB payload through each publisher (the big string first, the
    reference members after it)."""
    flags = [] if mode == "stub" else ["--truncate", mode]  # stub is the default
    server = start_server(*flags)
    topic = "jobs:17"
    ws, sse = subscribers(server, topic, clients)
    before = metrics(server)
    seq = 0
    handled = 0

    exact = json_payload(4096)
    r = pub_cli(server, topic, exact, "job.small", True)
    seq += 1
    assert r.seq == seq, r
    event, text = next_event(ws, sse, seq, "job.small")
    check_whole(event, text, topic, exact, True)

    cases = [("cli-4097", pub_cli, True, "cli", json_payload(4097))]
    big_json = json_payload(BIG, pad_first=True)
    for name, fn, is_json, how in BIG_PUBLISHERS:
        cases.append((name, fn, is_json, how, big_json if is_json else text_payload(BIG)))

    for name, fn, is_json, how, payload in cases:
        r = fn(server, topic, payload, "job.finished", is_json)
        if mode == "reject":
            assert_refused(r, how)
        else:
            seq += 1
            assert r.seq == seq, (name, r)
            handled += 1
        seq += 1
        assert publish(server, topic, {"marker": name}, event_type="mark") == seq
        if mode == "stub":
            stub, _ = next_event(ws, sse, seq - 1, "job.finished")
            check_stub(stub, topic, seq - 1, "job.finished", payload, expected_ref(is_json))
            check_fetch(server, stub["fetch"], topic, seq - 1, "job.finished", payload, is_json,
                        stub["timestamp"])
        elif mode == "drop":
            check_fetch(server, "/v1/messages/%s/%d" % (topic, seq - 1), topic, seq - 1,
                        "job.finished", payload, is_json)
        marker, _ = next_event(ws, sse, seq, "mark")
        assert marker["data"] == {"marker": name}, (name, marker)

    assert_counters(server, before, truncated=handled if mode == "stub" else 0,
                    dropped=handled if mode == "drop" else 0,
                    errors=len(cases) if mode == "reject" else 0)


# --- stub references ----------------------------------------------------------------------

REF_CASES = {
    # name: (payload (JSON text, over 100 bytes), expected ref)
    "strings-and-numbers": (
        compact({"id": "job-17", "entityId": 42, "entityType": "report", "pad": "p" * 100}),
        {"id": "job-17", "entityId": 42, "entityType": "report"}),
    "some-absent": (
        compact({"entityType": "report", "pad": "p" * 100}), {"entityType": "report"}),
    "none-present": (compact({"name": "x", "pad": "p" * 100}), {}),
    "other-types-left-out": (
        compact({"id": {"nested": "object"}, "entityId": [1, 2], "entityType": True,
                 "pad": "p" * 100}), {}),
    "null-left-out": (compact({"id": None, "entityId": -3.5, "pad": "p" * 100}),
                      {"entityId": -3.5}),
    "nested-ids-are-not-top-level": (
        compact({"inner": {"id": "deep", "entityId": 1, "entityType": "t"}, "pad": "p" * 100}),
        {}),
    # Up to 256 bytes as JSON: a 254-character string is 256 bytes with its quotes.
    "string-of-256-bytes-kept": (
        compact({"id": "i" * 254, "entityId": "e" * 255, "pad": "p" * 10}), {"id": "i" * 254}),
    "escaped-string": (
        '{"id":"job\\"17\\u00e9","pad":"%s"}' % ("p" * 100), {"id": 'job"17\u00e9'}),
    "pretty-printed": (
        '{\n  "id": "a-1",\n  "entityId": 1e3,\n  "pad": "%s"\n}' % ("p" * 100),
        {"id": "a-1", "entityId": 1000}),
    # Numbers are numbers of any size in JSON (RFC 8259): a 64-bit unsigned id,
    # and a number of 256 bytes as JSON (kept) next to one of 257 (left out).
    "uint64-number": (
        '{"id":18446744073709551615,"entityType":"r","pad":"%s"}' % ("p" * 100),
        {"id": 18446744073709551615, "entityType": "r"}),
    "number-of-256-bytes-kept": (
        '{"id":%s,"entityId":%s,"pad":"p"}' % ("1" * 256, "2" * 257), {"id": int("1" * 256)}),
    "array-payload": (compact([{"id": "in-array"}, "p" * 100]), {}),
    "string-payload": (compact("id " * 50), {}),
}


@pytest.mark.parametrize("case", sorted(REF_CASES))
def test_stub_ref(start_server, clients, case):
    """ref holds the top-level id, entityId and entityType that are strings or
    numbers of at most 256 bytes as JSON; everything else is left out."""
    payload, ref = REF_CASES[case]
    assert len(payload.encode()) > 100
    server = start_server("--max-payload", "100")
    ws, sse = subscribers(server, "refs", clients)
    r = pub_http_raw(server, "refs", payload, "ref.case", True)
    assert r.seq == 1, "a valid JSON payload was refused: %r" % r
    stub, _ = next_event(ws, sse, 1, "ref.case")
    check_stub(stub, "refs", 1, "ref.case", payload, ref)
    check_fetch(server, stub["fetch"], "refs", 1, "ref.case", payload, True, stub["timestamp"])


# --- the fetch path -----------------------------------------------------------------------

def test_fetch_path_edge_cases(start_server, clients):
    server = start_server("--max-payload", "100")
    topic = "jobs:17"
    ws, sse = subscribers(server, topic, clients)
    big = json_payload(200)
    assert publish(server, topic, big, event_type="job.finished") == 1
    assert publish(server, topic, '{"small":1}', event_type="job.small") == 2
    stub, _ = next_event(ws, sse, 1, "job.finished")
    next_event(ws, sse, 2, "job.small")

    # The topic may be percent-encoded, in either case.
    for path in ("/v1/messages/jobs:17/1", "/v1/messages/jobs%3A17/1", "/v1/messages/jobs%3a17/1",
                 "/v1/messages/%6Aobs:17/1"):
        check_fetch(server, path, topic, 1, "job.finished", big, True, stub["timestamp"])
    # Not held: unknown seq, unknown topic (the small event 2 is held like every event).
    assert fetch_status(server, "/v1/messages/jobs:17/2")[0] == 200
    for path in ("/v1/messages/jobs:17/3", "/v1/messages/jobs:17/0", "/v1/messages/jobs:17/999",
                 "/v1/messages/jobs:18/1"):
        status, body = fetch_status(server, path)
        assert status == 404, (path, status, body)
        assert json.loads(body)["error"] == "not_found"
    # Malformed paths.
    for path in ("/v1/messages/topic", "/v1/messages/t/abc", "/v1/messages/bad%20topic/1",
                 "/v1/messages/jobs:17/", "/v1/messages//1", "/v1/messages/jobs:17/1x",
                 "/v1/messages/jobs:17/-1", "/v1/messages/jobs%3/1", "/v1/messages/a::b/1",
                 "/v1/messages/a:*/1"):
        status, body = fetch_status(server, path)
        assert status == 400, (path, status, body)
        assert json.loads(body)["error"] == "bad_request", (path, body)
    # A literal space cannot be sent by http.client: a raw request.
    with socket.create_connection((server.host, server.port), timeout=TIMEOUT) as s:
        s.sendall(b"GET /v1/messages/bad topic/1 HTTP/1.1\r\nHost: x\r\n\r\n")
        head = b""
        while b"\r\n" not in head:
            chunk = s.recv(4096)
            if not chunk:
                break
            head += chunk
        assert head.startswith(b"HTTP/1.1 400 "), head


def test_topic_with_path_characters(start_server, clients):
    """Topics may hold / @ = + ~: the stub's fetch path (topic, then the seq
    after the last slash) and its fully percent-encoded form both work."""
    server = start_server("--max-payload", "100")
    topic = "files/x:report@v=1+2~z_-.b"
    ws, sse = subscribers(server, topic, clients)
    big = text_payload(300)
    assert pub_http_raw(server, topic, big, "file.ready", False).seq == 1
    stub, _ = next_event(ws, sse, 1, "file.ready")
    check_stub(stub, topic, 1, "file.ready", big, {})
    check_fetch(server, stub["fetch"], topic, 1, "file.ready", big, False, stub["timestamp"])
    encoded = "/v1/messages/%s/1" % "".join("%%%02X" % b for b in topic.encode())
    check_fetch(server, encoded, topic, 1, "file.ready", big, False, stub["timestamp"])
    assert fetch_status(server, "/v1/messages/files/1")[0] == 404


def test_fetch_across_shards(start_server, clients):
    """With 4 shards, each topic's truncated events are kept by its home shard;
    a fetch on a connection of any shard finds them (8 topics, 4 fresh
    connections each: most fetches cross shards)."""
    server = start_server("--max-payload", "100", shards=4)
    topics = ["jobs:%d" % i for i in range(8)]
    ws = websocket.create_connection(server.ws_url, timeout=TIMEOUT)
    clients.append(ws)
    ws.send(json.dumps({"type": "subscribe", "topics": topics}))
    assert json.loads(ws.recv())["type"] == "subscribed"
    sse = SSEClient(server, *topics)
    clients.append(sse)
    payloads = {t: json_payload(300, {"id": t}) for t in topics}
    p, results = publish_many(server, [{"topic": t, "data": json.loads(payloads[t]),
                                        "event_type": "job.finished"} for t in topics])
    assert p.returncode == 0, p.stderr
    assert [r["seq"] for r in results] == [1] * len(topics), results
    # Topics homed on different shards may arrive in any order between them.
    stubs = {}
    sse_stubs = {}
    for _ in topics:
        stub = json.loads(ws.recv())
        stubs[stub["topic"]] = stub
        rec = json.loads(sse.record(TIMEOUT)["data"])
        sse_stubs[rec["topic"]] = rec
    assert sorted(stubs) == sorted(topics)
    assert sse_stubs == stubs
    for t in topics:
        check_stub(stubs[t], t, 1, "job.finished", payloads[t], {"id": t})
    for t in topics:
        for _ in range(4):
            check_fetch(server, stubs[t]["fetch"], t, 1, "job.finished", payloads[t], True,
                        stubs[t]["timestamp"])
            check_fetch(server, "/v1/messages/%s/1" % urllib.parse.quote(t, safe=""), t, 1,
                        "job.finished", payloads[t], True)
    # Pipelined on one keep-alive connection, with requests the connection's
    # own shard answers between them: the answers come in request order.
    paths = []
    for t in topics:
        paths += [stubs[t]["fetch"], "/healthz", "/v1/messages/%s/2" % t]
    with socket.create_connection((server.host, server.port), timeout=TIMEOUT) as s:
        s.sendall(b"".join(b"GET %s HTTP/1.1\r\nHost: x\r\n\r\n" % p.encode() for p in paths))
        reader = s.makefile("rb")
        for path in paths:
            status, body = read_response(reader)
            if path == "/healthz":
                assert (status, json.loads(body)) == (200, {"status": "ok"}), (path, body)
            elif path.endswith("/2"):
                assert status == 404, (path, status, body)
            else:
                event = json.loads(body)
                assert status == 200, (path, status, body[:300])
                assert "/v1/messages/%s/1" % event["topic"] == path, (path, body[:300])
                assert event["data"] == json.loads(payloads[event["topic"]])


def read_response(reader):
    """One HTTP/1.1 response with a Content-Length from a socket file."""
    status_line = reader.readline()
    assert status_line.startswith(b"HTTP/1.1 "), status_line
    length = None
    while True:
        line = reader.readline()
        assert line, "connection closed in a response head"
        if line in (b"\r\n", b"\n"):
            break
        name, _, value = line.decode("latin-1").partition(":")
        if name.strip().lower() == "content-length":
            length = int(value)
    assert length is not None, status_line
    body = reader.read(length)
    assert len(body) == length, "short body"
    return int(status_line.split()[1]), body


@pytest.mark.parametrize("mode", ["stub", "drop"])
def test_retain_bytes_evicts_oldest_first(start_server, clients, mode):
    """--retain-bytes 1M keeps three 300 KiB events (whatever the few bytes of
    overhead per event): after ten, the oldest seven answer 404, the newest
    three 200."""
    server = start_server("--max-payload", "100", "--retain-bytes", "1M", "--truncate", mode,
                          shards=2)
    topic = "big:events"
    ws, sse = subscribers(server, topic, clients)
    payloads = [json_payload(300 * 1024, {"id": "e-%d" % i}) for i in range(10)]
    p, results = publish_many(server, [{"topic": topic, "data": json.loads(x)} for x in payloads])
    assert p.returncode == 0, p.stderr
    assert [r["seq"] for r in results] == list(range(1, 11)), results
    assert publish(server, topic, '{"marker":1}') == 11
    if mode == "stub":
        for i in range(10):
            stub, _ = next_event(ws, sse, i + 1, "message")
            check_stub(stub, topic, i + 1, "message", payloads[i], {"id": "e-%d" % i})
    next_event(ws, sse, 11, "message")
    statuses = [fetch_status(server, "/v1/messages/%s/%d" % (topic, s))[0] for s in range(1, 11)]
    assert statuses == [404] * 7 + [200] * 3, statuses
    for i in range(7, 10):
        check_fetch(server, "/v1/messages/%s/%d" % (topic, i + 1), topic, i + 1, "message",
                    payloads[i], True)


# --- one stub, many subscribers -----------------------------------------------------------

def test_stub_of_10mib_to_200_subscribers_keeps_memory_flat(start_server, clients):
    """200 WebSocket subscribers get the stub of a 10 MiB event: the same small
    stub for all, and the server's RSS stays far from 200 x 10 MiB.

    Bound: 200 MiB over the baseline. The server legitimately holds the 10 MiB
    publish body while it reads it, the 10 MiB event it keeps for the fetch
    path, and the parse of the payload; under ASan, freed blocks also stay
    resident in the allocator's quarantine (256 MiB at most by default), so
    these transient 10 MiB buffers remain counted. Measured on the ASan build:
    about 95-105 MiB for one 10 MiB event, the same with 0, 1 or 200
    subscribers (about 23 MiB with ASAN_OPTIONS=quarantine_size_mb=0). One
    copy of the full event per subscriber would add 200 x 10 MiB = 2000 MiB,
    ten times the bound."""
    server = start_server()
    topic = "reports:big"
    conns = []
    for _ in range(200):
        ws = websocket.create_connection(server.ws_url, timeout=TIMEOUT)
        clients.append(ws)
        conns.append(ws)
        ws.send(json.dumps({"type": "subscribe", "topics": [topic]}))
    for ws in conns:
        assert without_positions(json.loads(ws.recv())) == {"type": "subscribed", "topics": [topic]}
    sse = SSEClient(server, topic)
    clients.append(sse)
    # Warm up the paths a publish uses, then take the baseline.
    assert publish(server, topic, '{"warm":1}') == 1
    for ws in conns:
        assert json.loads(ws.recv())["seq"] == 1
    assert json.loads(sse.record(TIMEOUT)["data"])["seq"] == 1
    baseline = server.rss_kib()
    before = metrics(server)

    payload = json_payload(BIG, pad_first=True)
    r = pub_cli_ndjson(server, topic, payload, "report.ready", True)
    assert r.seq == 2, r
    texts = {ws.recv() for ws in conns}
    assert len(texts) == 1, "subscribers got different stubs"
    (text,) = texts
    assert len(text) < 1000, text[:300]
    assert sse.record(TIMEOUT)["data"] == text
    stub = json.loads(text)
    check_stub(stub, topic, 2, "report.ready", payload, dict(REF_MEMBERS))
    grown_mib = (server.rss_kib() - baseline) / 1024
    assert_counters(server, before, truncated=1)  # once per event, not per subscriber
    assert grown_mib < 200, \
        "RSS grew by %.0f MiB for one 10 MiB stub to 200 subscribers" % grown_mib
    check_fetch(server, stub["fetch"], topic, 2, "report.ready", payload, True, stub["timestamp"])
