"""The limits a public server needs (docs/operations.md, "Limits and
abuse"): connections per source address and per token sub, handshakes in
progress per shard, subscribe and publish rates per connection and per sub,
and the bytes of request bodies a shard buffers.

For each: exactly the limit is allowed, one more is refused with the
documented answer (429 / rate_limited for a client over its own limit, 503 /
overloaded for a server that is full), ringcast_limited_total{limit} counts
it, and once the excess is gone (a connection closed, a handshake finished
or timed out, a bucket refilled, a body received) service resumes.

Clients are real: raw sockets (bound to 127.0.0.2 and 127.0.0.3 to be other
addresses), curl, websocket-client and http.client. Servers run one shard,
where every share is the whole limit, except where the share itself is what
is checked. Rates are low (1 token a second) with small bursts, so that what
the tests send in a few milliseconds is over them and a pause of a little
more than a second brings one token back. Every wait is bounded."""

import http.client
import json
import socket
import subprocess
import time
import urllib.parse

import pytest
import websocket

import rcproto as rp
from conftest import binary
from test_limits import http_status, unasked
from test_metrics import MetricsClient, SseClient
from rcproto import without_positions

STEP = 10  # seconds allowed for any one step
SILENT = ("--handshake-timeout", "60s")  # accepted connections stay quiet while the test looks
REFILL = 1.2  # seconds for a bucket of 1 token a second to have one again


def refusal_http(status, code, message):
    body = json.dumps({"error": code, "message": message}, separators=(",", ":")).encode() + b"\n"
    return (b"HTTP/1.1 %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\n"
            b"Connection: close\r\n\r\n" % (status, len(body)) + body)


REFUSED_ADDRESS = refusal_http(b"429 Too Many Requests", "rate_limited",
                               "too many connections from this address")
REFUSED_HANDSHAKES = refusal_http(b"503 Service Unavailable", "unavailable",
                                  "too many handshakes in progress")


def connect_from(server, port, source):
    return socket.create_connection((server.host, port), timeout=STEP, source_address=(source, 0))


def read_to_eof(sock, timeout=STEP):
    sock.settimeout(timeout)
    data = b""
    while True:
        try:
            chunk = sock.recv(65536)
        except ConnectionResetError:
            break
        if not chunk:
            break
        data += chunk
    return data


def limited(metrics, limit):
    return metrics.value("ringcast_limited_total", limit=limit)


def eventually(check, what, timeout=STEP):
    """Calls check() until it returns a true value (returned); fails after
    |timeout| seconds."""
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result:
            return result
        assert time.monotonic() < deadline, "%s: not within %ss" % (what, timeout)
        time.sleep(0.05)


def curl(server, path, *args, method="GET"):
    """One request with curl; returns (status, headers dict, body bytes)."""
    p = subprocess.run(["curl", "-s", "-i", "--max-time", str(STEP), "-X", method, *args,
                        server.http_url + path], capture_output=True, timeout=STEP + 5)
    assert p.returncode == 0, "curl %s failed (%d): %r" % (path, p.returncode, p.stderr)
    head, _, body = p.stdout.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = {k.strip().lower(): v.strip() for k, v in (l.split(":", 1) for l in lines[1:])}
    return int(lines[0].split()[1]), headers, body


def curl_publish(server, topic, token=None, *args):
    auth = ["-H", "Authorization: Bearer " + token] if token else []
    return curl(server, "/v1/publish?" + urllib.parse.urlencode({"topic": topic}), *auth,
                "-H", "Content-Type: application/json", "--data-binary", '{"n":1}', *args,
                method="POST")


def assert_json_error(result, status, code):
    got_status, headers, body = result
    assert got_status == status, (got_status, body)
    assert headers.get("content-type") == "application/json", headers
    err = json.loads(body)
    assert err["error"] == code, err
    return err, headers


# ---- tokens -----------------------------------------------------------------------------

class Tokens:
    """A secret in a file and tokens for a few subs, from ringcast-token."""

    def __init__(self, tmp_path):
        self.secret_file = str(tmp_path / "secret")
        with open(self.secret_file, "w") as f:
            f.write("s" * 40 + "\n")

    def flags(self):
        return ("--auth-secret-file", self.secret_file)

    def mint(self, sub):
        p = subprocess.run([binary("ringcast-token"), "--secret-file", self.secret_file, "--ttl",
                            "1h", "--sub", sub, "--subscribe", "*", "--publish", "*"],
                           capture_output=True, text=True, timeout=STEP)
        assert p.returncode == 0, p.stderr
        return p.stdout.strip()


@pytest.fixture
def tokens(tmp_path):
    return Tokens(tmp_path)


def ws_with(server, token):
    return websocket.create_connection(server.ws_url + "?token=" + token, timeout=STEP)


def ws_upgrade_status(server, token):
    """A WebSocket upgrade with |token| by http.client: (status, headers,
    body) of a refusal, or (101, headers, b"")."""
    conn = http.client.HTTPConnection(server.host, server.port, timeout=STEP)
    try:
        conn.request("GET", "/v1/ws?token=" + token, headers={
            "Connection": "Upgrade", "Upgrade": "websocket", "Sec-WebSocket-Version": "13",
            "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ=="})
        resp = conn.getresponse()
        headers = {k.lower(): v for k, v in resp.getheaders()}
        return resp.status, headers, b"" if resp.status == 101 else resp.read()
    finally:
        conn.close()


def request(ws, msg_type, *topics):
    ws.send(json.dumps({"type": msg_type, "topics": list(topics)}))
    return rp.recv_event(ws, STEP)


def alive(ws):
    """A ping answered by a pong, and nothing else in between."""
    ws.send('{"type":"ping"}')
    assert rp.recv_event(ws, STEP) == {"type": "pong"}


# ---- connections per source address -------------------------------------------------------

def test_connections_per_address(start_server):
    """--max-connections-per-ip 3: three connections from 127.0.0.2 on
    either port are served, the fourth gets 429 (client port) or NACK
    rate_limited (publish port) and is closed; 127.0.0.3 is another
    address; once one closes, 127.0.0.2 is served again."""
    server = start_server("--max-connections-per-ip", "3", *SILENT, shards=1)
    held = [connect_from(server, server.port, "127.0.0.2") for _ in range(2)]
    for s in held:  # served (and kept open: keep-alive)
        assert http_status(s) == 200
    publisher = rp.PubConn(sock=connect_from(server, server.publish_port, "127.0.0.2"))
    publisher.hello()

    over = connect_from(server, server.port, "127.0.0.2")
    assert read_to_eof(over) == REFUSED_ADDRESS
    over_pub = rp.PubConn(sock=connect_from(server, server.publish_port, "127.0.0.2"))
    err = over_pub.expect_nack(rp.RATE_LIMITED, corr=0)
    assert err.message == "too many connections from this address"
    over_pub.expect_eof()
    err, _ = assert_json_error(curl(server, "/healthz", "--interface", "127.0.0.2"), 429,
                               "rate_limited")
    assert err["message"] == "too many connections from this address"
    other = connect_from(server, server.port, "127.0.0.3")
    assert http_status(other) == 200

    client = MetricsClient(server)  # from 127.0.0.1: yet another address
    m = client.scrape()
    assert limited(m, "connections_per_ip") == 3
    assert m.value("ringcast_connections_refused_total") == 0  # not --max-connections
    # In their handshake: the three HTTP connections and the scrape (the
    # publisher is past HELLO).
    assert m.value("ringcast_handshakes") == 4

    held[0].close()

    def served_again():
        s = connect_from(server, server.port, "127.0.0.2")
        try:
            return http_status(s) == 200
        finally:
            s.close()

    eventually(served_again, "127.0.0.2 served once one of its connections closed")
    for s in held[1:] + [other, over]:
        s.close()
    publisher.close()
    over_pub.close()


def test_connections_per_address_is_shared_by_the_shards(start_server):
    """With 2 shards each allows its share, ceil(4 / 2) = 2, of
    --max-connections-per-ip 4: of 10 connections from one address, 2 to 4
    are served (as SO_REUSEPORT spread them), the others refused, and the
    server counted exactly the refusals the clients saw."""
    server = start_server("--max-connections-per-ip", "4", *SILENT, shards=2)
    socks = [connect_from(server, server.port, "127.0.0.2") for _ in range(10)]
    refused, silent = unasked(socks, at_least=6)
    assert all(data == REFUSED_ADDRESS for data in refused.values()), refused
    assert 2 <= len(silent) <= 4, (refused, silent)
    for i in silent:
        assert http_status(socks[i]) == 200
    assert limited(MetricsClient(server).scrape(), "connections_per_ip") == len(refused)
    for s in socks:
        s.close()


# ---- connections per token sub ------------------------------------------------------------

def test_connections_per_sub(start_server, tokens):
    """--max-connections-per-sub 2: two WebSocket connections with alice's
    tokens are served; a third (WebSocket or SSE) gets 429 rate_limited
    before any upgrade, a publisher's HELLO gets NACK rate_limited and the
    close; bob is not affected, nor are alice's HTTP publishes (each request
    brings its own token); once one closes, alice connects again."""
    server = start_server(*tokens.flags(), "--max-connections-per-sub", "2", shards=1)
    alice, bob = tokens.mint("alice"), tokens.mint("bob")
    held = [ws_with(server, alice), ws_with(server, alice)]
    for ws in held:
        alive(ws)

    status, headers, body = ws_upgrade_status(server, alice)
    err, _ = assert_json_error((status, headers, body), 429, "rate_limited")
    assert "--max-connections-per-sub" in err["message"], err
    err, _ = assert_json_error(curl(server, "/v1/sse?topic=a&token=" + alice), 429,
                               "rate_limited")
    with rp.PubConn(server) as pub:
        pub.send(rp.hello(corr=7, token=alice.encode()))
        err = pub.expect_nack(rp.RATE_LIMITED, corr=7)
        assert "--max-connections-per-sub" in err.message
        pub.expect_eof()
    bob_ws = ws_with(server, bob)
    alive(bob_ws)
    assert curl_publish(server, "a", alice)[0] == 200

    assert limited(MetricsClient(server).scrape(), "connections_per_sub") == 3

    held[0].close()

    def connects_again():
        status, _, _ = ws_upgrade_status(server, alice)
        return status == 101

    eventually(connects_again, "alice connects once one of her connections closed")
    for ws in held[1:] + [bob_ws]:
        ws.close()


# ---- handshakes in progress -----------------------------------------------------------------

def test_handshakes_in_progress(start_server):
    """--max-handshakes 2: with two connections that have not finished
    their request (or HELLO), new ones get 503 (client port) or NACK
    overloaded (publish port); a finished handshake (a WebSocket upgrade)
    makes room for one more; those that never finish time out with 408 and
    make room too."""
    server = start_server("--max-handshakes", "2", "--handshake-timeout", "3s", shards=1)
    a, b, c = (socket.create_connection((server.host, server.port), timeout=STEP)
               for _ in range(3))
    refused, silent = unasked([a, b, c], at_least=1, quiet=0.3)
    assert refused == {2: REFUSED_HANDSHAKES} and silent == [0, 1], (refused, silent)
    with rp.PubConn(server) as pub:
        err = pub.expect_nack(rp.OVERLOADED, corr=0)
        assert err.message == "too many handshakes in progress"
        pub.expect_eof()

    # a finishes its handshake: it upgrades to WebSocket.
    a.sendall(b"GET /v1/ws HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n"
              b"Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n")
    a.settimeout(STEP)
    assert a.recv(4096).startswith(b"HTTP/1.1 101 ")
    d, e = (socket.create_connection((server.host, server.port), timeout=STEP) for _ in range(2))
    refused, silent = unasked([d, e], at_least=1, quiet=0.3)
    assert refused == {1: REFUSED_HANDSHAKES} and silent == [0], (refused, silent)

    # b and d never finish: after --handshake-timeout each gets 408; once
    # they close too (or after --close-timeout) they no longer count.
    for s in (b, d):
        assert read_to_eof(s).startswith(b"HTTP/1.1 408 ")
        s.close()
    client = MetricsClient(server)
    m = client.scrape()  # retried while b and d are still being released
    assert limited(m, "handshakes") == 3 + client.refused
    assert m.value("ringcast_handshakes") == 1  # the scrape itself
    for s in (a, b, c, d, e):
        s.close()


def test_sse_streams_leave_the_handshake_count(start_server):
    """An SSE subscribe is a handshake until the stream starts: with
    --max-handshakes 1 and a stream open, a new connection is still
    accepted, and a second one (while the first is in its handshake) is
    refused."""
    server = start_server("--max-handshakes", "1", *SILENT, shards=1)
    with SseClient(server, "news"):
        a, b = (socket.create_connection((server.host, server.port), timeout=STEP)
                for _ in range(2))
        refused, silent = unasked([a, b], at_least=1, quiet=0.3)
        assert refused == {1: REFUSED_HANDSHAKES} and silent == [0], (refused, silent)
        assert http_status(a) == 200
        a.close()
        b.close()


# ---- subscription changes -------------------------------------------------------------------

def test_subscribe_rate_per_connection(start_server):
    """--subscribe-rate-per-conn 1:3: three subscribe messages at once are
    applied, a fourth gets one error rate_limited and is not applied, the
    connection stays; a second later a token is back."""
    server = start_server("--subscribe-rate-per-conn", "1:3", shards=1)
    ws = websocket.create_connection(server.ws_url, timeout=STEP)
    for t in ("t0", "t1", "t2"):
        assert without_positions(request(ws, "subscribe", t)) == {"type": "subscribed", "topics": [t]}
    err = request(ws, "subscribe", "t3")
    assert err["type"] == "error" and err["code"] == "rate_limited", err
    assert "--subscribe-rate-per-conn" in err["message"] and "topic" not in err, err
    alive(ws)  # no "subscribed" came after the error
    err = request(ws, "unsubscribe", "t0")  # unsubscribing is a change too
    assert err["code"] == "rate_limited", err
    # t3 was not applied and t0 is still held: a publish to each, and only
    # t0's event arrives.
    with rp.PubConn(server) as pub:
        pub.hello()
        pub.send(rp.publish(2, "t3", b"{}", content_type=b"application/json"))
        pub.expect_ack(2)
        pub.send(rp.publish(3, "t0", b"{}", content_type=b"application/json"))
        pub.expect_ack(3)
    assert rp.recv_event(ws, STEP)["topic"] == "t0"
    assert limited(MetricsClient(server).scrape(), "subscribe_rate_per_conn") == 2

    time.sleep(REFILL)
    assert without_positions(request(ws, "subscribe", "t3")) == {"type": "subscribed", "topics": ["t3"]}
    ws.close()


def test_subscribe_rate_per_sub(start_server, tokens):
    """--subscribe-rate-per-sub 1:3: alice's connections share three
    changes at once; the fourth, on either connection, is refused; bob has
    his own; a second later alice has one again."""
    server = start_server(*tokens.flags(), "--subscribe-rate-per-sub", "1:3", shards=1)
    alice, bob = tokens.mint("alice"), tokens.mint("bob")
    ws1, ws2 = ws_with(server, alice), ws_with(server, alice)
    assert request(ws1, "subscribe", "a")["type"] == "subscribed"
    assert request(ws2, "subscribe", "b")["type"] == "subscribed"
    assert request(ws1, "subscribe", "c")["type"] == "subscribed"
    for ws in (ws2, ws1):
        err = request(ws, "subscribe", "d")
        assert err["code"] == "rate_limited" and "--subscribe-rate-per-sub" in err["message"], err
        alive(ws)
    bob_ws = ws_with(server, bob)
    assert request(bob_ws, "subscribe", "d")["type"] == "subscribed"
    assert limited(MetricsClient(server).scrape(), "subscribe_rate_per_sub") == 2
    time.sleep(REFILL)
    assert request(ws2, "subscribe", "d")["type"] == "subscribed"
    for ws in (ws1, ws2, bob_ws):
        ws.close()


# ---- publishes ------------------------------------------------------------------------------

def test_publish_rate_per_connection(start_server):
    """--publish-rate-per-conn 1:5: five pipelined PUBLISHes are
    acknowledged, the sixth gets NACK rate_limited (no seq used, the
    connection stays); on an HTTP keep-alive connection the sixth gets 429
    with Retry-After and the connection stays; a second later both publish
    again."""
    server = start_server("--publish-rate-per-conn", "1:5", shards=1)
    pub, _ = rp.connect_ready(server)
    pub.send(b"".join(rp.publish(10 + i, "rate", b"{}", content_type=b"application/json")
                      for i in range(6)))
    assert [pub.expect_ack(10 + i).seq for i in range(5)] == [1, 2, 3, 4, 5]
    err = pub.expect_nack(rp.RATE_LIMITED, corr=15)
    assert "--publish-rate-per-conn" in err.message
    pub.ping_roundtrip(16)

    conn = http.client.HTTPConnection(server.host, server.port, timeout=STEP)

    def post():
        conn.request("POST", "/v1/publish?topic=rate", body=b'{"n":1}',
                     headers={"Content-Type": "application/json"})
        resp = conn.getresponse()
        return resp.status, {k.lower(): v for k, v in resp.getheaders()}, resp.read()

    seqs = [json.loads(body)["seq"] for status, _, body in (post() for _ in range(5))
            if status == 200]
    assert seqs == [6, 7, 8, 9, 10]
    err, headers = assert_json_error(post(), 429, "rate_limited")
    assert "--publish-rate-per-conn" in err["message"]
    assert int(headers["retry-after"]) >= 1 and "connection" not in headers, headers
    m = MetricsClient(server).scrape()
    assert limited(m, "publish_rate_per_conn") == 2
    assert m.value("ringcast_publish_errors_total") == 2

    time.sleep(REFILL)
    pub.send(rp.publish(17, "rate", b"{}", content_type=b"application/json"))
    assert pub.expect_ack(17).seq == 11
    status, _, body = post()  # the same keep-alive connection
    assert status == 200 and json.loads(body)["seq"] == 12, body
    conn.close()
    pub.close()


def test_publish_rate_per_sub(start_server, tokens):
    """--publish-rate-per-sub 1:3: alice's publishes, over one-shot HTTP
    requests (each its own connection) and a publisher connection, share
    three at once; the fourth gets 429 and the publisher's NACK
    rate_limited; bob has his own; a second later alice publishes again."""
    server = start_server(*tokens.flags(), "--publish-rate-per-sub", "1:3", shards=1)
    alice, bob = tokens.mint("alice"), tokens.mint("bob")
    for _ in range(3):
        assert curl_publish(server, "jobs", alice)[0] == 200
    err, headers = assert_json_error(curl_publish(server, "jobs", alice), 429, "rate_limited")
    assert "--publish-rate-per-sub" in err["message"] and int(headers["retry-after"]) >= 1
    pub = rp.PubConn(server)
    pub.hello(token=alice.encode())
    pub.send(rp.publish(2, "jobs", b"{}", content_type=b"application/json"))
    pub.expect_nack(rp.RATE_LIMITED, corr=2)
    assert curl_publish(server, "jobs", bob)[0] == 200
    assert limited(MetricsClient(server).scrape(), "publish_rate_per_sub") == 2
    time.sleep(REFILL)
    pub.send(rp.publish(3, "jobs", b"{}", content_type=b"application/json"))
    assert pub.expect_ack(3).seq == 5
    pub.close()


def test_subjects_kept_per_shard_are_bounded(start_server, tokens):
    """A sub whose rate bucket is still refilling is remembered, at most the
    shard's connection share of them (here --max-connections 3): a fourth
    sub within that second is refused with 503 overloaded; once the
    buckets are full again they are forgotten and it is served."""
    server = start_server(*tokens.flags(), "--max-connections", "3", "--publish-rate-per-sub",
                          "1:1", shards=1)
    subs = [tokens.mint("u%d" % i) for i in range(4)]
    for t in subs[:3]:
        assert curl_publish(server, "x", t)[0] == 200
    err, headers = assert_json_error(curl_publish(server, "x", subs[3]), 503, "overloaded")
    assert "subjects" in err["message"] and int(headers["retry-after"]) >= 1, err
    assert limited(MetricsClient(server).scrape(), "subjects") == 1
    time.sleep(REFILL)
    eventually(lambda: curl_publish(server, "x", subs[3])[0] == 200, "the fourth sub served")


# ---- request bodies ---------------------------------------------------------------------------

BODY = 50000  # bytes of each body: three fit in --max-body-buffer-bytes 150000


def start_body(server):
    """A raw connection that sends a publish's head and the first byte of
    its BODY-byte body, which the server must keep until the rest comes."""
    s = socket.create_connection((server.host, server.port), timeout=STEP)
    s.sendall(b"POST /v1/publish?topic=big HTTP/1.1\r\nHost: x\r\n"
              b"Content-Type: application/json\r\nContent-Length: %d\r\n\r\n\"" % BODY)
    return s


def finish_body(s):
    s.sendall(b"x" * (BODY - 2) + b'"')
    s.settimeout(STEP)
    data = b""
    while b"\r\n\r\n" not in data or not data.endswith(b"}\n"):
        chunk = s.recv(65536)
        assert chunk, "closed after %r" % data
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200 "), data
    return json.loads(body)["seq"]


def test_buffered_request_bodies_per_shard(start_server):
    """--max-body-buffer-bytes 150000: three bodies of 50000 bytes being
    received fit exactly; a fourth request gets 503 at once (Retry-After,
    closed); once one body is received a new one fits again."""
    server = start_server("--max-publish-bytes", "64K", "--max-body-buffer-bytes", "150000",
                          *SILENT, shards=1)
    client = MetricsClient(server)
    bodies = [start_body(server) for _ in range(3)]
    client.wait_for({"ringcast_body_buffer_bytes": 3 * BODY})

    over = start_body(server)
    data = read_to_eof(over)
    head, _, body = data.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 503 ") and b"\r\nRetry-After: 1\r\n" in head + b"\r\n", data
    assert json.loads(body)["error"] == "unavailable"
    assert "--max-body-buffer-bytes" in json.loads(body)["message"]

    assert finish_body(bodies[0]) == 1
    client.wait_for({"ringcast_body_buffer_bytes": 2 * BODY})
    bodies.append(start_body(server))
    client.wait_for({"ringcast_body_buffer_bytes": 3 * BODY})
    assert [finish_body(s) for s in bodies[1:]] == [2, 3, 4]
    m = client.wait_for({"ringcast_body_buffer_bytes": 0})
    assert limited(m, "body_buffer") == 1
    for s in bodies + [over]:
        s.close()
