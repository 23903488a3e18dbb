"""Keeping connections alive, and closing the dead ones (docs/operations.md,
docs/close-codes.md, docs/protocol/sse.md):

- WebSocket: a ping frame every --ping-interval; a client that sent nothing,
  not even a pong, for --idle-timeout is closed with 4002 (and counted in
  ringcast_idle_closes_total); anything it sends keeps it alive;
- SSE: a `: heartbeat` comment line every --sse-heartbeat, between records;
- HTTP: a keep-alive connection idle between requests gets 408 after
  --handshake-timeout;
- the flags are validated at start.

Timing checks are deliberately loose: the server is an ASan build on a
shared machine."""

import asyncio
import concurrent.futures
import json
import socket
import subprocess
import time

import websockets
from websockets.frames import Opcode

import rcproto as rp
from conftest import binary, publish, publish_many
from rawws import RawWS, read_until_eof
from test_metrics import MetricsClient, SseClient, connections, key, sse_records
from rcproto import without_positions

CLOSE_IDLE = 4002
FAST_PINGS = ("--ping-interval", "200ms")


def ws_json(obj):
    return json.dumps(obj).encode()


def read_pings(ws, seconds):
    """Reads a RawWS for |seconds| without answering; returns the pings.
    Any other frame fails the test."""
    pings = []
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        f = ws.read_frame(5)
        assert f.opcode == Opcode.PING, "expected only pings, got %r after %d pings" % (f, len(pings))
        pings.append(f)
    return pings


def wait_idle_close(ws, timeout):
    """Reads a silent RawWS until the server's close frame (skipping pings);
    returns (code, seconds it took)."""
    start = time.monotonic()
    while True:
        left = timeout - (time.monotonic() - start)
        assert left > 0, "no close frame within %ss" % timeout
        f = ws.read_frame(left)
        if f.opcode == Opcode.CLOSE:
            code = int.from_bytes(f.data[:2], "big") if len(f.data) >= 2 else None
            return code, time.monotonic() - start
        assert f.opcode == Opcode.PING, "unexpected frame while idle: %r" % (f,)


def keep_busy(ws, seconds, behaviour):
    """Runs a RawWS client for |seconds|, sending only what |behaviour| says:
    - "pong": answers each server ping with a pong (same data);
    - "ping": sends its own ping frame every 300 ms;
    - "unsolicited-pong": sends a pong frame every 300 ms (a heartbeat);
    - "app-ping": sends {"type":"ping"} every 300 ms.
    The server pings every 200 ms, so a frame is always due: every read is
    bounded. Fails if the server closes the connection."""
    every = 0.3
    next_send = time.monotonic() + every
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        f = ws.read_frame(5)
        assert f.opcode != Opcode.CLOSE, "%s client closed with %r" % (behaviour, f.data)
        if f.opcode == Opcode.PING and behaviour == "pong":
            ws.send_frame(Opcode.PONG, f.data)
        if behaviour != "pong" and time.monotonic() >= next_send:
            next_send += every
            if behaviour == "ping":
                ws.send_frame(Opcode.PING, b"hb")
            elif behaviour == "unsolicited-pong":
                ws.send_frame(Opcode.PONG, b"")
            else:
                ws.send_frame(Opcode.TEXT, ws_json({"type": "ping"}))
    # Still served: an application ping gets its answer.
    ws.send_frame(Opcode.TEXT, ws_json({"type": "ping"}))
    deadline = time.monotonic() + 5
    while True:
        f = ws.read_frame(max(deadline - time.monotonic(), 0.01))
        if f.opcode == Opcode.TEXT and json.loads(f.data) == {"type": "pong"}:
            return
        assert f.opcode in (Opcode.PING, Opcode.PONG, Opcode.TEXT), \
            "%s client got %r" % (behaviour, f)


BEHAVIOURS = ("pong", "ping", "unsolicited-pong", "app-ping")


# ---- WebSocket pings -----------------------------------------------------------------------

def test_websockets_client_answering_pings_stays_connected(start_server):
    server = start_server(*FAST_PINGS, "--idle-timeout", "2s")

    async def client():
        # ping_interval=None: the client sends no pings of its own; it only
        # answers the server's (which websockets does by itself).
        async with websockets.connect(server.ws_url, ping_interval=None, open_timeout=10,
                                      close_timeout=5) as ws:
            await ws.send(json.dumps({"type": "subscribe", "topics": ["hb.1"]}))
            reply = json.loads(await asyncio.wait_for(ws.recv(), 10))
            assert without_positions(reply) == {"type": "subscribed", "topics": ["hb.1"]}
            await asyncio.sleep(3)  # 1.5 times --idle-timeout
            assert ws.open, "closed after %s: %s" % (ws.close_code, ws.close_reason)
            seq = await asyncio.to_thread(publish, server, "hb.1", {"after": "3s"})
            event = json.loads(await asyncio.wait_for(ws.recv(), 10))
            assert (event["seq"], event["data"]) == (seq, {"after": "3s"}), event

    asyncio.run(asyncio.wait_for(client(), 40))
    assert MetricsClient(server).scrape().value("ringcast_idle_closes_total") == 0


def test_server_pings_a_raw_client_every_interval(start_server):
    server = start_server(*FAST_PINGS, "--idle-timeout", "10s")
    with RawWS.to(server) as ws:
        pings = read_pings(ws, 1.5)
    # About 7 at 200 ms; generous bounds both ways.
    assert 4 <= len(pings) <= 30, "%d pings in 1.5 s" % len(pings)
    for f in pings:
        assert f.fin and f.data == b"", f


# ---- idle timeout --------------------------------------------------------------------------

def test_silent_client_is_closed_with_4002_after_the_idle_timeout(start_server):
    server = start_server(*FAST_PINGS, "--idle-timeout", "1s", "--close-timeout", "1s")
    metrics = MetricsClient(server)
    before = metrics.scrape()
    with RawWS.to(server) as ws:
        code, took = wait_idle_close(ws, 5)
        assert code == CLOSE_IDLE, "closed with %r, not 4002" % code
        assert took >= 0.8, "closed after %.2f s, --idle-timeout is 1s" % took
        ws.assert_tcp_closed(timeout=5)  # then the server closes TCP
    metrics.wait_for_deltas(before, {"ringcast_idle_closes_total": 1,
                                     key("ringcast_connections", protocol="websocket"): 0})


def test_idle_time_counts_from_the_last_frame_received(start_server):
    server = start_server(*FAST_PINGS, "--idle-timeout", "1s")
    with RawWS.to(server) as ws:
        keep_busy(ws, 1.5, "pong")  # active for longer than --idle-timeout
        code, took = wait_idle_close(ws, 5)  # then silent
    assert code == CLOSE_IDLE
    assert took >= 0.7, "closed %.2f s after its last frame; --idle-timeout is 1s" % took


def test_clients_that_send_anything_are_not_idle(start_server):
    server = start_server(*FAST_PINGS, "--idle-timeout", "1s")
    metrics = MetricsClient(server)
    before = metrics.scrape()
    clients = {b: RawWS.to(server) for b in BEHAVIOURS}
    silent = RawWS.to(server)  # the control: closed meanwhile
    try:
        with concurrent.futures.ThreadPoolExecutor(len(clients)) as pool:
            running = {b: pool.submit(keep_busy, ws, 3, b) for b, ws in clients.items()}
            code, _ = wait_idle_close(silent, 5)
            assert code == CLOSE_IDLE
            for b, future in running.items():
                future.result(timeout=30)  # raises the client's failure
    finally:
        for ws in (*clients.values(), silent):
            ws.close()
    metrics.wait_for_deltas(before, {"ringcast_idle_closes_total": 1})


def test_idle_timeout_spares_sse_streams_and_publishers(start_server):
    """--idle-timeout is about WebSocket clients: an SSE client never sends
    anything, and a publisher has its own PING."""
    server = start_server(*FAST_PINGS, "--idle-timeout", "1s")
    metrics = MetricsClient(server)
    publisher, _ = rp.connect_ready(server)
    try:
        with SseClient(server, "spared.1") as sse:
            time.sleep(3)
            publisher.send(rp.publish(2, "spared.1", b"still here", content_type=b"text/plain"))
            assert publisher.expect_ack(2).seq == 1
            (event,) = sse.wait_events(1)
            assert event["data"] == "still here"
            m = metrics.scrape()
            assert m.value("ringcast_connections", protocol="sse") == 1
            assert m.value("ringcast_connections", protocol="publisher") == 1
            assert m.value("ringcast_idle_closes_total") == 0
    finally:
        publisher.close()


# ---- SSE heartbeats -------------------------------------------------------------------------

def count_heartbeats(lines):
    return lines.count(": heartbeat")


def test_sse_heartbeats_come_between_records(start_server):
    server = start_server("--sse-heartbeat", "200ms")
    with SseClient(server, "sse.hb") as sse, SseClient(server, "sse.quiet") as quiet:
        sse.wait_until(lambda lines: count_heartbeats(lines) >= 3, "3 heartbeats")
        quiet.wait_until(lambda lines: count_heartbeats(lines) >= 3, "3 heartbeats")  # every stream
        # Events published between heartbeats, pretty-printed JSON text
        # among them (several data: lines), all under --max-payload.
        sent = []
        for i in range(8):
            data = {"i": i, "text": "line\nbreak", "pad": "z" * (500 * i)}
            sent.append(data)
            publish(server, "sse.hb", json.dumps(data, indent=2) if i % 2 else data)
            time.sleep(0.1)
        events = sse.wait_events(len(sent))
        seen = count_heartbeats(sse.received())
        lines = sse.wait_until(lambda lines: count_heartbeats(lines) >= seen + 3,
                               "3 more heartbeats after the events")
    assert [(e["seq"], e["data"]) for e in events] == list(zip(range(1, 9), sent))
    assert_whole_lines(lines)


def test_sse_heartbeats_wait_for_the_record_being_sent(start_server):
    """A stream that cannot take its records at once (a small receive buffer,
    read slowly) gets its heartbeats between records, never inside one."""
    server = start_server("--sse-heartbeat", "100ms", "--max-payload", "1M")
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.settimeout(10)
    sock.connect((server.host, server.port))
    sock.sendall(b"GET /v1/sse?topic=sse.big HTTP/1.1\r\nHost: x\r\n\r\n")
    count = 40
    try:
        data = sock.recv(4096)  # the head, at least
        assert data.startswith(b"HTTP/1.1 200 "), data
        # 4 MB: more than the sockets hold, less than --max-queued-bytes (8M).
        sent = [{"i": i, "pad": "p" * 100000} for i in range(count)]
        publish_many(server, [{"topic": "sse.big", "data": d} for d in sent])
        time.sleep(0.5)  # heartbeats fall due while the records wait
        deadline = time.monotonic() + 30
        while True:
            time.sleep(0.002)  # a slow reader
            chunk = sock.recv(8192)
            assert chunk, "the stream ended: %r" % data[-200:]
            data += chunk
            text = data.decode("utf-8", "replace")
            if text.count("\ndata:") >= count and text.rfind(": heartbeat") > text.rfind("\ndata:"):
                break
            assert time.monotonic() < deadline, "got %d records" % text.count("\ndata:")
    finally:
        sock.close()
    _head, body = data.split(b"\r\n\r\n", 1)
    lines = body.decode("utf-8").split("\n")
    assert_whole_lines(lines)
    events = [json.loads("\n".join(r["data"])) for r in sse_records(lines) if "data" in r]
    assert [e["data"] for e in events] == sent
    assert count_heartbeats(lines) >= 2


def assert_whole_lines(lines):
    """Every line of an SSE stream is a whole field or a heartbeat: a
    heartbeat never lands inside a record's line."""
    for line in lines:
        if line is None or line in ("", ": heartbeat"):
            continue
        assert line.split(":", 1)[0] in ("retry", "id", "event", "data"), repr(line[:200])
        assert ": heartbeat" not in line, repr(line[:200])


# ---- HTTP keep-alive idle timeout ----------------------------------------------------------

class HttpConn:
    """A keep-alive HTTP/1.1 connection on a raw socket."""

    def __init__(self, server, timeout=10):
        self.sock = socket.create_connection((server.host, server.port), timeout=timeout)
        self.buf = b""

    def get(self, path="/healthz"):
        self.sock.sendall(("GET %s HTTP/1.1\r\nHost: x\r\n\r\n" % path).encode())
        return self.read_response()

    def read_response(self, timeout=10):
        """(status, headers, body) of the next response."""
        deadline = time.monotonic() + timeout
        while b"\r\n\r\n" not in self.buf:
            self._recv(deadline)
        head, self.buf = self.buf.split(b"\r\n\r\n", 1)
        lines = head.decode("latin-1").split("\r\n")
        headers = {k.strip().lower(): v.strip() for k, v in (l.split(":", 1) for l in lines[1:])}
        length = int(headers.get("content-length", 0))
        while len(self.buf) < length:
            self._recv(deadline)
        body, self.buf = self.buf[:length], self.buf[length:]
        return int(lines[0].split()[1]), headers, body

    def _recv(self, deadline):
        left = deadline - time.monotonic()
        assert left > 0, "no complete response; have %r" % self.buf
        self.sock.settimeout(left)
        chunk = self.sock.recv(65536)
        assert chunk, "connection closed; have %r" % self.buf
        self.buf += chunk

    def close(self):
        self.sock.close()


def test_keep_alive_connection_idle_between_requests_gets_408(start_server):
    server = start_server("--handshake-timeout", "300ms")
    conn = HttpConn(server)
    try:
        # Requests every 100 ms for 1.5 s (five times the timeout): all served.
        for _ in range(15):
            status, _, _ = conn.get()
            assert status == 200
            time.sleep(0.1)
        # Then idle: 408, and the connection closes.
        idle_since = time.monotonic()
        status, headers, body = conn.read_response(timeout=5)
        took = time.monotonic() - idle_since
        assert status == 408, (status, body)
        assert json.loads(body)["error"] == "request_timeout", body
        assert headers["connection"] == "close", headers
        assert took >= 0.2, "408 after %.2f s, --handshake-timeout is 300ms" % took
        assert conn.buf + read_until_eof(conn.sock, 5) == b""
    finally:
        conn.close()
    MetricsClient(server).wait_for(connections(http=1))  # only the scrape's own


# ---- flag validation -------------------------------------------------------------------------

def run_server_expecting_exit(*flags):
    """Runs ringcast with bad |flags|; it must exit at once. Returns the
    CompletedProcess."""
    cmd = [binary("ringcast"), "--listen", "127.0.0.1:0", "--publish-listen", "127.0.0.1:0",
           *flags]
    try:
        return subprocess.run(cmd, capture_output=True, text=True, timeout=20)
    except subprocess.TimeoutExpired:
        raise AssertionError("ringcast %s did not exit (it should refuse the flags)" % " ".join(flags))


def test_idle_timeout_must_be_longer_than_ping_interval():
    for flags in (("--ping-interval", "1s", "--idle-timeout", "500ms"),
                  ("--idle-timeout", "20s"),  # the default --ping-interval is 30s
                  ("--ping-interval", "2s", "--idle-timeout", "2s"),
                  ("--idle-timeout=1s", "--ping-interval=1000ms")):
        p = run_server_expecting_exit(*flags)
        assert p.returncode == 2, (flags, p.returncode, p.stderr)
        assert "--idle-timeout" in p.stderr and "--ping-interval" in p.stderr, (flags, p.stderr)


def test_unknown_truncate_mode_is_refused():
    p = run_server_expecting_exit("--truncate=bogus")
    assert p.returncode == 2, (p.returncode, p.stderr)
    assert "--truncate" in p.stderr, p.stderr
