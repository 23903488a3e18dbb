"""POST /v1/publish (docs/protocol/http.md): the JSON and raw forms with curl,
pipelining and malformed bodies on raw sockets, and delivery checked with a
websocket-client subscriber."""

import json
import re
import socket
import subprocess
import time

import pytest
import websocket

from conftest import publish, publish_many
from rcproto import without_positions

# --- HTTP helpers ----------------------------------------------------------------------


def parse_head(head):
    """(status, headers with lower-case names) of a response head (bytes,
    without the blank line)."""
    lines = head.decode("latin-1").split("\r\n")
    version, status, _ = lines[0].split(" ", 2)
    assert version == "HTTP/1.1", lines[0]
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        name, value = name.strip().lower(), value.strip()
        headers[name] = headers[name] + ", " + value if name in headers else value
    return int(status), headers


def split_responses(data):
    """Splits the bytes of complete responses into [(status, headers, body)];
    fails on anything left over. Interim responses (100 Continue) are
    skipped: they have neither headers that matter nor a body."""
    responses = []
    while data:
        head, sep, rest = data.partition(b"\r\n\r\n")
        assert sep, "incomplete response head: %r" % data
        status, headers = parse_head(head)
        if 100 <= status < 200:
            data = rest
            continue
        length = int(headers["content-length"])
        assert len(rest) >= length, "short body: %r" % rest
        responses.append((status, headers, rest[:length]))
        data = rest[length:]
    return responses


class HttpConn:
    """A raw HTTP/1.1 connection to the client port: send any bytes, read
    responses one at a time (by Content-Length), all reads bounded."""

    def __init__(self, server, timeout=10):
        self.sock = socket.create_connection((server.host, server.port), timeout=timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.timeout = timeout
        self.buf = b""

    def send(self, data):
        self.sock.sendall(data)

    def _fill(self, deadline, what):
        remaining = deadline - time.monotonic()
        assert remaining > 0, "no %s within %ss; have %r" % (what, self.timeout, self.buf[:300])
        self.sock.settimeout(remaining)
        try:
            chunk = self.sock.recv(65536)
        except socket.timeout:
            return
        assert chunk, "connection closed while waiting for %s; have %r" % (what, self.buf[:300])
        self.buf += chunk

    def response(self):
        """The next response: (status, headers, body)."""
        deadline = time.monotonic() + self.timeout
        while b"\r\n\r\n" not in self.buf:
            self._fill(deadline, "response head")
        head, _, self.buf = self.buf.partition(b"\r\n\r\n")
        status, headers = parse_head(head)
        length = int(headers["content-length"])
        while len(self.buf) < length:
            self._fill(deadline, "response body")
        body, self.buf = self.buf[:length], self.buf[length:]
        return status, headers, body

    def exchange(self, request):
        self.send(request)
        return self.response()

    def rest_until_eof(self, timeout=3):
        """Everything after the responses read so far, until the server
        closes the connection; fails when it stays open past |timeout|."""
        deadline = time.monotonic() + timeout
        data, self.buf = self.buf, b""
        while True:
            remaining = deadline - time.monotonic()
            assert remaining > 0, "connection still open after %ss; got %r" % (timeout, data[:300])
            self.sock.settimeout(remaining)
            try:
                chunk = self.sock.recv(65536)
            except socket.timeout:
                continue
            except ConnectionResetError:
                chunk = b""
            if not chunk:
                return data
            data += chunk

    def assert_closed(self, timeout=3):
        rest = self.rest_until_eof(timeout)
        assert rest == b"", "bytes after the last response: %r" % rest[:300]

    def close(self):
        self.sock.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def post(target, body=b"", content_type=None, headers=""):
    """The bytes of one POST request (Content-Length set from |body|)."""
    if isinstance(body, str):
        body = body.encode()
    ct = "Content-Type: %s\r\n" % content_type if content_type is not None else ""
    return ("POST %s HTTP/1.1\r\nHost: rc\r\n%s%sContent-Length: %d\r\n\r\n" %
            (target, ct, headers, len(body))).encode() + body


def json_post(**fields):
    """A JSON-form publish request with |fields| as the body."""
    return post("/v1/publish", json.dumps(fields), "application/json")


def curl(*args, stdin=None):
    """curl -s -i -v |args|; returns ([(status, headers, body)], stderr)."""
    p = subprocess.run(["curl", "-s", "-i", "-v", "--max-time", "20"] + list(args), input=stdin,
                       capture_output=True, timeout=30)
    stderr = p.stderr.decode("latin-1")
    assert p.returncode == 0, "curl failed (%d): %s" % (p.returncode, stderr)
    return split_responses(p.stdout), stderr


def curl_post(server, target, body, *args):
    """POSTs |body| (str or bytes, sent as-is from stdin) to |target| with
    extra curl |args| (headers, ...); returns the one response."""
    if isinstance(body, str):
        body = body.encode()
    (response,), _ = curl("--data-binary", "@-", *args, server.http_url + target, stdin=body)
    return response


def curl_json(server, fields, *args):
    """A JSON-form publish with curl; returns the one response."""
    return curl_post(server, "/v1/publish", json.dumps(fields),
                     "-H", "Content-Type: application/json", *args)


def ok_body(response):
    """The parsed body of a 200 publish answer."""
    status, headers, body = response
    assert status == 200, response
    assert headers["content-type"] == "application/json"
    return json.loads(body)


def assert_json_error(response, status, code):
    got_status, headers, body = response
    assert got_status == status, response
    assert headers["content-type"] == "application/json", response
    error = json.loads(body)
    assert error["error"] == code, response
    assert isinstance(error["message"], str) and error["message"]
    return headers


def metric_values(server, name):
    """{labels text: value} of the samples of |name| in GET /metrics."""
    ((status, _, body),), _ = curl(server.http_url + "/metrics")
    assert status == 200
    pattern = re.compile(r"^%s(\{[^}]*\})? (\S+)$" % re.escape(name), re.M)
    return {m.group(1) or "": float(m.group(2)) for m in pattern.finditer(body.decode())}


# --- subscriber helpers ----------------------------------------------------------------


def subscribe(server, *topics):
    ws = websocket.create_connection(server.ws_url, timeout=10)
    ws.send(json.dumps({"type": "subscribe", "topics": list(topics)}))
    reply = json.loads(ws.recv())
    assert without_positions(reply) == {"type": "subscribed", "topics": list(topics)}
    return ws


def next_event(ws):
    """The next event (bounded by the connection's 10 s timeout)."""
    event = json.loads(ws.recv())
    assert "seq" in event, "not an event: %r" % event
    return event


def next_events(ws, n):
    return [next_event(ws) for _ in range(n)]


# --- JSON form --------------------------------------------------------------------------


def test_json_form_with_every_field(server):
    ws = subscribe(server, "orders.42")
    response = curl_json(server, {"topic": "orders.42", "event_type": "order.paid",
                                  "data": {"total": 12.5}, "id": "pay-981"})
    assert ok_body(response) == {"topic": "orders.42", "seq": 1}
    event = next_event(ws)
    assert set(event) == {"event_type", "timestamp", "topic", "seq", "data"}
    assert (event["event_type"], event["topic"], event["seq"]) == ("order.paid", "orders.42", 1)
    assert event["data"] == {"total": 12.5}
    ws.close()


def test_json_form_topic_and_data_only_defaults_event_type_to_message(server):
    ws = subscribe(server, "jobs:1")
    assert ok_body(curl_json(server, {"topic": "jobs:1", "data": "x"})) == {"topic": "jobs:1",
                                                                         "seq": 1}
    event = next_event(ws)
    assert (event["event_type"], event["seq"], event["data"]) == ("message", 1, "x")
    ws.close()


DATA_VALUES = [
    {"a": {"b": [1, 2, {"c": None}]}, "s": "x y", "e": {}, "l": []},
    [1, "two", 3.5, None, True, [], {}],
    "a string with \"quotes\", a \\ backslash, a newline\n and \u00e9\u2713",
    "",
    0,
    -42,
    12.5,
    1e-7,
    2 ** 53,
    True,
    False,
    None,
    {},
    [],
]


@pytest.mark.parametrize("value", DATA_VALUES, ids=[type(v).__name__ + str(i)
                                                     for i, v in enumerate(DATA_VALUES)])
def test_json_form_data_of_each_type_arrives_as_the_same_json_value(server, value):
    ws = subscribe(server, "types")
    ok_body(curl_json(server, {"topic": "types", "data": value}))
    raw = ws.recv()
    event = json.loads(raw)
    assert event["data"] == value and type(event["data"]) is type(value)
    ws.close()


def test_json_form_data_is_delivered_as_written(server):
    """http.md: "data" exactly as written in the body: spacing, and numbers of any
    size or precision."""
    ws = subscribe(server, "asis")
    data = '{ "k" : [ 1 , 2.50 ] ,  "big" : 18446744073709551616, "e": 1e400 }'
    body = '{ "topic" : "asis",\n  "data" : %s }' % data
    ok_body(curl_post(server, "/v1/publish", body, "-H", "Content-Type: application/json"))
    assert ('"data":%s}' % data) in ws.recv()
    ws.close()


def test_json_form_seqs_count_per_topic(server):
    ws = subscribe(server, "count.a", "count.b")
    order = ["count.a", "count.b", "count.a", "count.a", "count.b"]
    got = [ok_body(curl_json(server, {"topic": t, "data": i})) for i, t in enumerate(order)]
    assert got == [{"topic": "count.a", "seq": 1}, {"topic": "count.b", "seq": 1},
                   {"topic": "count.a", "seq": 2}, {"topic": "count.a", "seq": 3},
                   {"topic": "count.b", "seq": 2}]
    events = next_events(ws, len(order))
    assert [(e["topic"], e["seq"], e["data"]) for e in events] == [
        ("count.a", 1, 0), ("count.b", 1, 1), ("count.a", 2, 2), ("count.a", 3, 3),
        ("count.b", 2, 4)]
    ws.close()


def test_forty_topics_on_four_shards_all_succeed_in_order(start_server):
    server = start_server(shards=4)
    topics = ["many:%d" % i for i in range(40)]
    rounds, conns = 2, 4
    # Several subscribers and publishing connections, so that both land on
    # different shards from the topics' homes.
    subscribers = [subscribe(server, *topics[i::4]) for i in range(4)]
    published = {}  # (topic, seq) -> data
    for c in range(conns):
        with HttpConn(server) as http:
            batch = [(t, {"conn": c, "round": r}) for r in range(rounds) for t in topics]
            http.send(b"".join(json_post(topic=t, data=d) for t, d in batch))
            for t, d in batch:
                answer = ok_body(http.response())
                assert answer["topic"] == t and "duplicate" not in answer
                published[(t, answer["seq"])] = d
    total = rounds * conns
    assert sorted(published) == sorted((t, s) for t in topics for s in range(1, total + 1))
    for i, ws in enumerate(subscribers):
        mine = topics[i::4]
        received = {t: [] for t in mine}
        for e in next_events(ws, len(mine) * total):
            assert e["data"] == published[(e["topic"], e["seq"])]
            received[e["topic"]].append(e["seq"])
        assert received == {t: list(range(1, total + 1)) for t in mine}
        ws.close()


# --- raw form ---------------------------------------------------------------------------

TEXT = 'paid by card: "ok" \u2713'


@pytest.mark.parametrize("curl_args", [
    ["-H", "Content-Type:", "--data-binary", TEXT],
    ["-H", "Content-Type: text/plain; charset=utf-8", "--data-binary", TEXT],
    ["-d", TEXT],  # application/x-www-form-urlencoded
], ids=["no-content-type", "text-plain", "curl-d-form-urlencoded"])
def test_raw_form_text_body_arrives_as_a_json_string(server, curl_args):
    ws = subscribe(server, "notes.1")
    (response,), _ = curl(*curl_args, server.http_url + "/v1/publish?topic=notes.1")
    assert ok_body(response) == {"topic": "notes.1", "seq": 1}
    event = next_event(ws)
    assert (event["event_type"], event["data"]) == ("message", TEXT)
    ws.close()


def test_raw_form_text_keeps_every_byte(server):
    ws = subscribe(server, "notes.2")
    text = 'line 1\r\nline 2\t{"not": "json"}\n\\ \u00e9 '
    ok_body(curl_post(server, "/v1/publish?topic=notes.2", text, "-H", "Content-Type: text/plain"))
    assert next_event(ws)["data"] == text
    ws.close()


@pytest.mark.parametrize("content_type", ["application/json", "application/vnd.acme.job+json",
                                          "Application/JSON; charset=utf-8"])
def test_raw_form_json_content_type_arrives_as_json(server, content_type):
    ws = subscribe(server, "jobs.7")
    body = '{"status": "done", "items": [1, 2.5, null, true]}'
    ok_body(curl_post(server, "/v1/publish?topic=jobs.7", body, "-H",
                      "Content-Type: " + content_type))
    assert next_event(ws)["data"] == {"status": "done", "items": [1, 2.5, None, True]}
    ws.close()


def test_raw_form_event_type_and_id_from_the_query(server):
    ws = subscribe(server, "orders.42")
    target = "/v1/publish?topic=orders.42&event_type=order.note&id=n-1"
    assert ok_body(curl_post(server, target, "paid by card")) == {"topic": "orders.42", "seq": 1}
    again = ok_body(curl_post(server, target, "paid by card"))
    assert again == {"topic": "orders.42", "seq": 1, "duplicate": True}
    event = next_event(ws)
    assert (event["event_type"], event["seq"], event["data"]) == ("order.note", 1, "paid by card")
    ws.close()


def test_raw_form_percent_encoded_topic(server):
    ws = subscribe(server, "customer_id:42:call/7")
    target = "/v1/publish?topic=customer_id%3A42%3acall%2F7&event_type=call%2Estatus"
    assert ok_body(curl_post(server, target, "ringing")) == {"topic": "customer_id:42:call/7",
                                                             "seq": 1}
    event = next_event(ws)
    assert (event["topic"], event["event_type"]) == ("customer_id:42:call/7", "call.status")
    ws.close()


# --- one sequence per topic with the binary protocol ------------------------------------


def test_http_and_binary_publishes_share_one_sequence(server):
    ws = subscribe(server, "shared.seq")
    got = []
    for i in range(10):
        data = {"i": i}
        if i % 3 == 1:
            got.append(publish(server, "shared.seq", data))
        else:
            got.append(ok_body(curl_json(server, {"topic": "shared.seq", "data": data}))["seq"])
    assert got == list(range(1, 11))
    events = next_events(ws, 10)
    assert [(e["seq"], e["data"]) for e in events] == [(i + 1, {"i": i}) for i in range(10)]
    ws.close()


# --- idempotency ------------------------------------------------------------------------


def assert_delivered_once_then_marker(ws, first_data, marker_seq):
    first, marker = next_event(ws), next_event(ws)
    assert (first["seq"], first["data"]) == (1, first_data)
    assert (marker["seq"], marker["data"]) == (marker_seq, "marker")


def test_same_id_twice_is_a_duplicate_delivered_once(server):
    ws = subscribe(server, "idem.http")
    event = {"topic": "idem.http", "data": {"n": 1}, "id": "k1"}
    assert ok_body(curl_json(server, event)) == {"topic": "idem.http", "seq": 1}
    # Only (topic, id) count: the repeat's payload is ignored.
    repeat = dict(event, data={"n": "other"})
    assert ok_body(curl_json(server, repeat)) == {"topic": "idem.http", "seq": 1,
                                                  "duplicate": True}
    marker = ok_body(curl_json(server, {"topic": "idem.http", "data": "marker"}))
    assert marker == {"topic": "idem.http", "seq": 2}
    assert_delivered_once_then_marker(ws, {"n": 1}, 2)
    ws.close()


def test_same_id_with_the_binary_cli_after_http_is_a_duplicate(server):
    ws = subscribe(server, "idem.mixed")
    first = ok_body(curl_json(server, {"topic": "idem.mixed", "data": {"n": 1}, "id": "m1"}))
    assert first == {"topic": "idem.mixed", "seq": 1}
    p, results = publish_many(server, [{"topic": "idem.mixed", "data": {"n": 2}, "id": "m1"},
                                       {"topic": "idem.mixed", "data": "marker"}])
    assert p.returncode == 0, p.stderr
    assert results == [{"line": 1, "topic": "idem.mixed", "seq": 1, "duplicate": True},
                       {"line": 2, "topic": "idem.mixed", "seq": 2}]
    assert_delivered_once_then_marker(ws, {"n": 1}, 2)
    ws.close()


def test_same_id_over_http_after_the_binary_cli_is_a_duplicate(server):
    ws = subscribe(server, "idem.rev")
    assert publish(server, "idem.rev", {"n": 1}, msg_id="r1") == 1
    again = ok_body(curl_post(server, "/v1/publish?topic=idem.rev&id=r1", "x"))
    assert again == {"topic": "idem.rev", "seq": 1, "duplicate": True}
    assert publish(server, "idem.rev", "marker") == 2
    assert_delivered_once_then_marker(ws, {"n": 1}, 2)
    ws.close()


# --- errors -----------------------------------------------------------------------------

JSON_CT = ["-H", "Content-Type: application/json"]


@pytest.mark.parametrize("body", ['{"topic":"a","data":', "not json", "",
                                  '{"topic":"a","topic":"b","data":1}'],
                         ids=["truncated", "garbage", "empty", "duplicate-keys"])
def test_json_form_invalid_json_is_400_bad_json(server, body):
    assert_json_error(curl_post(server, "/v1/publish", body, *JSON_CT), 400, "bad_json")


@pytest.mark.parametrize("curl_args", [["-d"], ["-H", "Content-Type: text/plain", "--data-binary"],
                                       ["-H", "Content-Type:", "--data-binary"]],
                         ids=["form-urlencoded", "text-plain", "none"])
def test_json_form_without_json_content_type_is_415(server, curl_args):
    (response,), _ = curl(*curl_args, '{"topic":"a","data":1}', server.http_url + "/v1/publish")
    assert_json_error(response, 415, "unsupported_media_type")


@pytest.mark.parametrize("fields", [
    {"data": 1},
    {"topic": "a"},
    {"topic": 5, "data": 1},
    {"topic": None, "data": 1},
    {"topic": ["a"], "data": 1},
    {"topic": "a", "data": 1, "event_type": 7},
    {"topic": "a", "data": 1, "id": {"k": 1}},
], ids=["no-topic", "no-data", "topic-number", "topic-null", "topic-array", "event-type-number",
        "id-object"])
def test_json_form_missing_or_ill_typed_field_is_422_bad_request(server, fields):
    assert_json_error(curl_json(server, fields), 422, "bad_request")


@pytest.mark.parametrize("body", ["[1,2]", '"topic"', "42"])
def test_json_form_body_that_is_not_an_object_is_422(server, body):
    assert_json_error(curl_post(server, "/v1/publish", body, *JSON_CT), 422, "bad_request")


@pytest.mark.parametrize("topic", ["a..b", "a.*", "orders:>", "has space", ":lead", "trail."])
def test_bad_topic_is_422_bad_topic_in_both_forms(server, topic):
    assert_json_error(curl_json(server, {"topic": topic, "data": 1}), 422, "bad_topic")
    quoted = "".join("%%%02X" % b for b in topic.encode())
    assert_json_error(curl_post(server, "/v1/publish?topic=" + quoted, "x"), 422, "bad_topic")


@pytest.mark.parametrize("event_type", ["bad type", "a!b", "\u00e9t\u00e9", "x" * 256])
def test_invalid_event_type_is_422(server, event_type):
    assert_json_error(curl_json(server, {"topic": "a", "event_type": event_type, "data": 1}),
                      422, "bad_request")
    quoted = "".join("%%%02X" % b for b in event_type.encode())
    assert_json_error(curl_post(server, "/v1/publish?topic=a&event_type=" + quoted, "x"),
                      422, "bad_request")


@pytest.mark.parametrize("query", ["topic=a&foo=1", "foo=1&topic=a", "topic=a&Topic=b",
                                   "topic=a&topic=b"])
def test_raw_form_bad_query_is_422_bad_request(server, query):
    assert_json_error(curl_post(server, "/v1/publish?" + query, "x"), 422, "bad_request")


@pytest.mark.parametrize("body", ["not json", "", '{"a":1', "{'a':1}"])
def test_raw_form_declared_json_that_is_not_is_422_bad_payload(server, body):
    assert_json_error(curl_post(server, "/v1/publish?topic=a", body, *JSON_CT), 422,
                      "bad_payload")


def test_raw_form_text_that_is_not_utf8_is_422_bad_payload(server):
    assert_json_error(curl_post(server, "/v1/publish?topic=a", b"\xff\xfe bad",
                                "-H", "Content-Type: text/plain"), 422, "bad_payload")


def test_errors_consume_no_seq(server):
    ws = subscribe(server, "noseq")
    assert_json_error(curl_post(server, "/v1/publish?topic=noseq", "{", *JSON_CT), 422,
                      "bad_payload")
    assert_json_error(curl_json(server, {"topic": "noseq", "data": 1, "event_type": "b d"}),
                      422, "bad_request")
    assert ok_body(curl_json(server, {"topic": "noseq", "data": "ok"}))["seq"] == 1
    assert next_event(ws)["data"] == "ok"
    ws.close()


def test_payload_above_max_publish_bytes_is_413_and_the_connection_stays_usable(start_server):
    """http.md: a payload above --max-publish-bytes is refused with 413 after its
    body was read; the connection goes on (keep-alive)."""
    server = start_server("--max-publish-bytes", "1K")
    with HttpConn(server) as http:
        http.send(post("/v1/publish?topic=big", b"x" * 1025, "text/plain"))
        headers = assert_json_error(http.response(), 413, "too_large")
        assert headers.get("connection") != "close", headers
        http.send(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        status, _, _ = http.response()
        assert status == 200


@pytest.mark.parametrize("form", ["raw", "json"])
def test_body_far_above_the_limit_is_413_before_it_is_read_and_closes(start_server, form):
    """http.md: a body larger than --max-publish-bytes plus 64 KiB cannot hold an
    acceptable payload: 413 from its Content-Length alone, then the close."""
    server = start_server("--max-publish-bytes", "1K")
    size = 1024 + 65536 + 1
    if form == "raw":
        request = post("/v1/publish?topic=big", b"x" * size, "text/plain")
    else:
        body = json.dumps({"topic": "big", "data": "d"})
        body += " " * (size - len(body))
        request = post("/v1/publish", body, "application/json")
    with HttpConn(server) as http:
        try:
            http.send(request)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the server may refuse from the Content-Length alone
        headers = assert_json_error(http.response(), 413, "too_large")
        assert headers.get("connection") == "close", headers
        http.assert_closed()


def test_json_form_counts_the_data_not_the_body(start_server):
    """http.md: in the JSON form the payload is the data as written; a body
    padded with whitespace past --max-publish-bytes still publishes."""
    server = start_server("--max-publish-bytes", "1K")
    body = json.dumps({"topic": "big", "data": "d"})
    body += " " * (2048 - len(body))
    with HttpConn(server) as http:
        http.send(post("/v1/publish", body, "application/json"))
        status, _, response = http.response()
        assert status == 200 and json.loads(response)["seq"] == 1


def test_body_of_exactly_max_publish_bytes_is_accepted(start_server):
    server = start_server("--max-publish-bytes", "1K")
    ws = subscribe(server, "big")
    assert ok_body(curl_post(server, "/v1/publish?topic=big", "y" * 1024,
                             "-H", "Content-Type: text/plain"))["seq"] == 1
    assert next_event(ws)["data"] == "y" * 1024
    ws.close()


def test_chunked_body_is_411(server):
    (response,), _ = curl("-H", "Transfer-Encoding: chunked", "-H", "Content-Type: text/plain",
                          "--data-binary", "hello", server.http_url + "/v1/publish?topic=a")
    assert_json_error(response, 411, "length_required")


@pytest.mark.parametrize("method", [[], ["-X", "PUT"], ["-X", "DELETE"]], ids=["GET", "PUT",
                                                                             "DELETE"])
def test_other_methods_are_405_with_allow_post(server, method):
    (response,), _ = curl(*method, server.http_url + "/v1/publish?topic=a")
    headers = assert_json_error(response, 405, "method_not_allowed")
    assert headers["allow"] == "POST"


# --- keep-alive and pipelining ----------------------------------------------------------


def test_two_publishes_reuse_one_curl_connection(server):
    url = server.http_url + "/v1/publish?topic=ka"
    responses, stderr = curl("--data-binary", "one", url, url)
    assert [ok_body(r) for r in responses] == [{"topic": "ka", "seq": 1}, {"topic": "ka", "seq": 2}]
    assert "Re-using existing connection" in stderr, stderr
    assert stderr.count("Connected to") == 1, stderr


def test_json_form_with_next_reuses_the_connection(server):
    url = server.http_url + "/v1/publish"
    responses, stderr = curl(*JSON_CT, "-d", '{"topic":"ka.j","data":1}', url, "--next", "-i",
                             *JSON_CT, "-d", '{"topic":"ka.j","data":2}', url)
    assert [ok_body(r)["seq"] for r in responses] == [1, 2]
    assert "Re-using existing connection" in stderr, stderr


@pytest.mark.parametrize("bad", [
    post("/v1/publish?topic=a&nope=1", "x"),  # refused while parsing the request
    json_post(topic="a..b", data=1),  # refused by the publish checks
    post("/v1/publish?topic=a", "{", "application/json"),
], ids=["bad-query", "bad-topic", "bad-payload"])
def test_connection_stays_usable_after_a_422(server, bad):
    with HttpConn(server) as http:
        status, headers, _ = http.exchange(bad)
        assert status == 422
        assert "connection" not in headers, headers
        assert ok_body(http.exchange(json_post(topic="after.422", data=1))) == {
            "topic": "after.422", "seq": 1}
        # Pipelined the same way.
        http.send(bad + json_post(topic="after.422", data=2))
        assert http.response()[0] == 422
        assert ok_body(http.response())["seq"] == 2


def test_twenty_pipelined_publishes_across_shards_answer_in_order(start_server):
    server = start_server(shards=2)
    topics = ["pipe.%d" % i for i in range(10)]
    ws = subscribe(server, *topics)
    batch = [topics[i % 10] for i in range(20)]
    # Odd requests in the JSON form (data: the number), even ones raw (text).
    sent = [i if i % 2 else str(i) for i in range(20)]
    requests = [json_post(topic=t, data=i) if i % 2 else post("/v1/publish?topic=" + t, str(i))
                for i, t in enumerate(batch)]
    with HttpConn(server) as http:
        http.send(b"".join(requests))
        answers = [ok_body(http.response()) for _ in batch]
    assert answers == [{"topic": t, "seq": 1 + i // 10} for i, t in enumerate(batch)]
    # The topics' homes really were on both shards.
    per_shard = metric_values(server, "ringcast_shard_publishes_total")
    assert len(per_shard) == 2 and all(v > 0 for v in per_shard.values()), per_shard
    events = next_events(ws, 20)
    by_topic = {t: [(e["seq"], e["data"]) for e in events if e["topic"] == t] for t in topics}
    assert by_topic == {t: [(1, sent[i]), (2, sent[i + 10])] for i, t in enumerate(topics)}
    ws.close()


def test_publish_then_healthz_pipelined(server):
    with HttpConn(server) as http:
        http.send(json_post(topic="ph", data=1) + b"GET /healthz HTTP/1.1\r\nHost: rc\r\n\r\n" +
                  json_post(topic="ph", data=2))
        assert ok_body(http.response()) == {"topic": "ph", "seq": 1}
        status, _, body = http.response()
        assert (status, json.loads(body)) == (200, {"status": "ok"})
        assert ok_body(http.response()) == {"topic": "ph", "seq": 2}


def test_connection_close_request_is_answered_then_closed(server):
    with HttpConn(server) as http:
        status, headers, _ = http.exchange(post("/v1/publish?topic=cc", "x",
                                                headers="Connection: close\r\n"))
        assert status == 200 and headers["connection"] == "close"
        http.assert_closed()


# --- large payloads ---------------------------------------------------------------------


def two_mib_text():
    unit = "0123456789abcdef" * 64  # 1 KiB
    return unit * 2047 + unit[:-4] + "END!"


def test_two_mib_text_arrives_whole_with_a_large_max_payload(start_server):
    server = start_server("--max-payload", "4M")
    text = two_mib_text()
    assert len(text) == 2 * 1024 * 1024
    ws = subscribe(server, "huge")
    assert ok_body(curl_post(server, "/v1/publish?topic=huge", text,
                             "-H", "Content-Type: text/plain"))["seq"] == 1
    event = next_event(ws)
    assert "truncated" not in event
    assert len(event["data"]) == len(text) and event["data"] == text
    ws.close()


def test_two_mib_text_with_the_default_max_payload_is_a_stub(server):
    ws = subscribe(server, "huge")
    assert ok_body(curl_post(server, "/v1/publish?topic=huge", two_mib_text(),
                             "-H", "Content-Type: text/plain"))["seq"] == 1
    event = next_event(ws)
    assert event["truncated"] is True
    assert event["seq"] == 1 and event["size"] == 2 * 1024 * 1024
    assert "data" not in event
    ws.close()


# --- the handshake timeout --------------------------------------------------------------


@pytest.mark.parametrize("before", [b"", json_post(topic="slow", data=0)],
                         ids=["first-request", "after-a-publish"])
def test_incomplete_body_gets_408_and_close_after_the_handshake_timeout(start_server, before):
    server = start_server("--handshake-timeout", "500ms")
    with HttpConn(server) as http:
        if before:
            assert ok_body(http.exchange(before))["seq"] == 1
        head = b"POST /v1/publish?topic=slow HTTP/1.1\r\nHost: rc\r\nContent-Length: 10\r\n\r\n"
        start = time.monotonic()
        http.send(head + b"abc")
        headers = assert_json_error(http.response(), 408, "request_timeout")
        waited = time.monotonic() - start
        assert headers["connection"] == "close"
        http.assert_closed()
    assert waited >= 0.3, "408 after %.3fs, before the 500ms timeout" % waited
    # Nothing was published: the next publish to the topic continues the count.
    expected = 2 if before else 1
    assert ok_body(curl_post(server, "/v1/publish?topic=slow", "x"))["seq"] == expected


def test_expect_100_continue_gets_an_interim_response_before_the_body(server):
    """http.md: Expect: 100-continue gets "100 Continue" before the body is sent;
    then the publish is answered as usual."""
    body = b'{"topic":"cont","data":{"n":1}}'
    head = (b"POST /v1/publish HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b"Expect: 100-continue\r\nContent-Length: %d\r\n\r\n" % len(body))
    with HttpConn(server) as http:
        http.send(head)
        deadline = time.monotonic() + 10
        while b"\r\n\r\n" not in http.buf:
            http._fill(deadline, "100 Continue")
        interim, _, http.buf = http.buf.partition(b"\r\n\r\n")
        assert interim == b"HTTP/1.1 100 Continue"
        http.send(body)
        status, _, response = http.response()
        assert status == 200 and json.loads(response) == {"topic": "cont", "seq": 1}
