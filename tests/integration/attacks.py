"""attacks.py: the attacks of issue 13, each a function of a running
ringcast (a target, see abuse.py) and a size that returns at least
{"written": bytes, "outcome": words}. abuse.run_case() runs one between a
watcher's start and stop; tests/integration/test_hardening.py and
bench/abuse pick the sizes.

- UNREAD and run_unread(): one client writes requests that each get a
  reply, and reads none of them;
- SLOW: slow readers and malformed input, each with the outcome a server
  that follows its docs gives;
- subscribe_burst(): one client sends N subscribes in one write.
"""

import collections
import json
import os
import random
import re
import select
import socket
import struct
import threading
import time

import websocket
from websockets.frames import Opcode

import rcproto as rp
from abuse import (exchange, healthz, http_status, last_reply, read_all, wait_idle, ws_close_code,
                   ws_frames)
from rawws import RawWS, connect, frame
from rcproto import without_positions

SMALL_RCVBUF = 4096  # an attacker's receive buffer: replies stay in the server

# ---- unread replies ----------------------------------------------------------

UnreadKind = collections.namedtuple("UnreadKind", "open unit replies flags")


def _http_conn(target):
    return connect(target.host, target.port, 10, SMALL_RCVBUF)


def _ws_conn(target):
    return RawWS(target.host, target.port, timeout=10, rcvbuf=SMALL_RCVBUF).sock


def _pub_conn(target):
    conn = rp.PubConn(sock=connect(target.host, target.publish_port, 10, SMALL_RCVBUF))
    conn.hello()
    return conn.sock


OVER_LIMIT = 16  # --max-topics-per-conn of the subscribe case


def _ws_conn_at_limit(target):
    raw = RawWS(target.host, target.port, timeout=10, rcvbuf=SMALL_RCVBUF)
    held = ["held:%d" % i for i in range(OVER_LIMIT)]
    raw.send_frame(Opcode.TEXT, json.dumps({"type": "subscribe", "topics": held}))
    reply = json.loads(raw.read_frame().data)
    assert without_positions(reply) == {"type": "subscribed", "topics": held}, reply
    return raw.sock


def _subscribe_over_limit():
    topics = ["over:%d" % i for i in range(OVER_LIMIT)]
    return frame(Opcode.TEXT, json.dumps({"type": "subscribe", "topics": topics}))


# name: (connect and do the handshake, reading its reply; one request; the
# replies' format; server flags)
UNREAD = {
    "http-pipelined-get": UnreadKind(_http_conn,
                                     lambda: b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n", "http",
                                     ()),
    "ws-subscribe-over-limit": UnreadKind(_ws_conn_at_limit, _subscribe_over_limit, "ws",
                                          ("--max-topics-per-conn", str(OVER_LIMIT))),
    "pub-ping": UnreadKind(_pub_conn, lambda: rp.ping(7, b"p" * 64), "pub", ()),
    "ws-ping-frame": UnreadKind(_ws_conn, lambda: frame(Opcode.PING, b"p" * 125), "ws", ()),
    "pub-nacked-publish": UnreadKind(_pub_conn, lambda: rp.publish(7, "bad topic", b"{}"),
                                     "pub", ()),
    "ws-control-ping": UnreadKind(_ws_conn, lambda: frame(Opcode.TEXT, b'{"type":"ping"}'),
                                  "ws", ()),
    "pub-acked-publish": UnreadKind(_pub_conn, lambda: rp.publish(7, "flood", b"x"), "pub", ()),
}


def write_unread(sock, unit, nbytes, stall_s):
    """Writes |unit| over and over, |nbytes| in all (whole units), never
    reading. Returns (bytes written, "all" | "paused" | "closed"): paused
    when the server took no byte for |stall_s| seconds."""
    total = -(-nbytes // len(unit)) * len(unit)
    chunk = memoryview(unit * max(1, (1 << 18) // len(unit)))
    sock.setblocking(False)
    poller = select.poll()
    poller.register(sock, select.POLLOUT)
    written = 0
    while written < total:
        if not poller.poll(int(stall_s * 1000)):
            return written, "paused"
        at = written % len(chunk)
        try:
            written += sock.send(chunk[at:at + min(len(chunk) - at, total - written)])
        except BlockingIOError:
            continue
        except (BrokenPipeError, ConnectionResetError):
            return written, "closed"
    return written, "all"


def peer_closed(sock, wait_s):
    """Waits up to |wait_s| for the server to close or reset |sock|, without
    reading what it sent; returns whether it did."""
    poller = select.poll()
    poller.register(sock, select.POLLRDHUP | select.POLLHUP | select.POLLERR)
    return bool(poller.poll(int(wait_s * 1000)))


def reset(sock):
    """Closes |sock| with a TCP reset (SO_LINGER 0)."""
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    except OSError:
        pass
    sock.close()


def run_unread(target, kind, nbytes, stall_s=3, hold_s=3, drain_s=10, drain_limit=1 << 30):
    """One client of |kind| (a key of UNREAD) writes |nbytes| of requests and
    reads nothing; then the server has up to |hold_s| seconds, once it is
    idle, to close it; then the client reads what is there (at most
    |drain_limit| bytes, |drain_s| seconds) to see how it ended."""
    k = UNREAD[kind]
    sock = k.open(target)
    try:
        written, writes = write_unread(sock, k.unit(), nbytes, stall_s)
        wait_idle(target.proc.pid, 60)
        started = time.monotonic()
        closed = peer_closed(sock, hold_s)
        held = time.monotonic() - started
        data, end = read_all(sock, time.monotonic() + drain_s, drain_limit,
                             quiet_s=None if closed else 1.0)
    finally:
        reset(sock)
    outcome = "%s, %s" % (writes, ("closed after %.1fs" % held) if closed else "open")
    last = last_reply(k.replies, data[-(1 << 20):] if k.replies == "http" else data)
    return {"written": written, "outcome": outcome + (" (%s, %s)" % (end, last)),
            "writes": writes, "closed": closed, "end": end, "last": last,
            "drained": len(data)}


# ---- slow readers and malformed input ---------------------------------------

def _counts(outcomes):
    return ", ".join("%s x%d" % kv for kv in collections.Counter(outcomes).most_common())


def _tally(outcomes):
    """One outcome for many connections: the common one, else all kinds."""
    if len(set(outcomes)) == 1:
        return outcomes[0]
    return "mixed: " + _counts(outcomes)


def _judge(outcomes, documented):
    """For random input, whose answers differ: "as documented (...)" when
    every outcome fully matches the regular expression |documented|, else
    the ones that do not."""
    bad = [o for o in outcomes if not re.fullmatch(documented, o)]
    return "undocumented: " + _counts(bad) if bad else "as documented (%s)" % _counts(outcomes)


def _http_answer(received, end):
    status = http_status(received)
    return ("HTTP %d" % status if status else "no answer") + (", " + end if end != "eof" else "")


def slowloris(target, n):
    """|n| connections dribble one byte of a request head each every 0.1 s
    and never finish it: each must get 408 (--handshake-timeout), then EOF."""
    socks = [connect(target.host, target.port, 10) for _ in range(n)]
    head = b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: "
    written = 0
    for s in socks:
        s.sendall(head)
        s.setblocking(False)
        written += len(head)
    got = {s: b"" for s in socks}
    ends = {}
    deadline = time.monotonic() + 30
    while len(ends) < n and time.monotonic() < deadline:
        for s in socks:
            if s in ends:
                continue
            try:
                s.send(b"a")
                written += 1
            except (BlockingIOError, BrokenPipeError, ConnectionResetError):
                pass
            try:
                while True:
                    chunk = s.recv(4096)
                    if not chunk:
                        ends[s] = "eof"
                        break
                    got[s] += chunk
            except BlockingIOError:
                pass
            except ConnectionResetError:
                ends[s] = "reset"
        time.sleep(0.1)
    outcomes = [_http_answer(got[s], ends.get(s, "open")) for s in socks]
    for s in socks:
        s.close()
    return {"written": written, "outcome": _tally(outcomes)}


def _one_http(target, data):
    with connect(target.host, target.port, 10) as sock:
        written, received, end = exchange(sock, data, timeout=20)
    return written, _http_answer(received, end)


def huge_head(target, nbytes):
    """One request head of |nbytes| (a single header line): 431, EOF."""
    written, outcome = _one_http(target, b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Pad: " +
                                 b"p" * nbytes + b"\r\n\r\n")
    return {"written": written, "outcome": outcome}


def many_header_lines(target, n):
    """A head of |n| short header lines: 431, EOF."""
    written, outcome = _one_http(target, b"GET /healthz HTTP/1.1\r\nHost: x\r\n" +
                                 b"".join(b"X-L%d: v\r\n" % i for i in range(n)) + b"\r\n")
    return {"written": written, "outcome": outcome}


def _ws_answer(raw, data, timeout=10):
    """How the server answered |data| on an upgraded connection: its
    frames' opcodes and close code, and how TCP ended."""
    written, received, end = exchange(raw.sock, data, timeout)
    frames, cut = ws_frames(raw.reader.buffer + received)
    words = ["close %s" % ws_close_code(p) if op == Opcode.CLOSE else Opcode(op).name.lower()
             for op, p in frames]
    return written, ", ".join(words + (["mid-frame"] if cut else []) + [end])


def _each_ws(target, n, data, judge=_tally):
    """Sends |data| (or |data|(i)) on each of |n| new WebSocket connections;
    the outcome is |judge| of theirs."""
    written, outcomes = 0, []
    for i in range(n):
        with RawWS(target.host, target.port, timeout=10) as raw:
            w, outcome = _ws_answer(raw, data(i) if callable(data) else data)
            written += w
            outcomes.append(outcome)
    return {"written": written, "outcome": judge(outcomes)}


def ws_huge_frame_header(target, n):
    """|n| connections each announce a text frame of 2^63 - 1 bytes: 1009."""
    head = b"\x81\xff" + struct.pack("!Q", (1 << 63) - 1) + os.urandom(4)
    return _each_ws(target, n, head + b"x" * 1024)


def pub_huge_frame_header(target, n):
    """|n| publishers each send a frame header of length 2^32 - 1 after
    WELCOME: fatal NACK bad_frame, EOF."""
    written, outcomes = 0, []
    for _ in range(n):
        conn = rp.PubConn(sock=connect(target.host, target.publish_port, 10))
        conn.hello()
        w, received, end = exchange(conn.sock, rp.frame(rp.PUBLISH, b"x" * 1024,
                                                        corr=3, length=0xFFFFFFFF))
        conn.close()
        written += w
        outcomes.append("%s, %s" % (last_reply("pub", received), end))
    return {"written": written, "outcome": _tally(outcomes)}


def ws_unfinished_fragments(target, n, size=60000):
    """|n| connections each send a first text fragment of |size| bytes (the
    server holds it, below --max-message) and never finish the message: a
    ping between fragments is still answered; a further fragment that takes
    the message past --max-message gets 1009."""
    raws = [RawWS(target.host, target.port, timeout=10) for _ in range(n)]
    written, outcomes = 0, []
    try:
        for raw in raws:
            raw.send_frame(Opcode.TEXT, b"x" * size, fin=False)
            raw.send_frame(Opcode.PING, b"still there?")
            pong = raw.read_frame()
            assert (pong.opcode, pong.data) == (Opcode.PONG, b"still there?"), pong
            written += size
        for raw in raws:
            w, outcome = _ws_answer(raw, frame(Opcode.CONT, b"x" * 8192, fin=False))
            written += w
            outcomes.append("pong, " + outcome)
    finally:
        for raw in raws:
            raw.close()
    return {"written": written, "outcome": _tally(outcomes)}


def _garbage(seed, nbytes):
    return random.Random(seed).randbytes(nbytes)


def garbage_client_port(target, n, nbytes=65536):
    """|n| connections of random bytes to the client port: an HTTP error
    that bytes alone can cause (docs/close-codes.md), then EOF."""
    outcomes, written = [], 0
    for i in range(n):
        w, outcome = _one_http(target, _garbage(i, nbytes))
        written += w
        outcomes.append(outcome)
    return {"written": written, "outcome": _judge(outcomes, r"HTTP (400|408|414|431|501|505)")}


def garbage_websocket(target, n, nbytes=65536):
    """|n| upgraded connections then random bytes: whatever the bytes
    happened to ask for (a pong, an error), then a close code that bytes
    alone can cause (docs/close-codes.md), then EOF."""
    return _each_ws(target, n, lambda i: _garbage(1000 + i, nbytes),
                    lambda outcomes: _judge(outcomes, r"(.*, )?close (1002|1003|1007|1009), eof"))


def garbage_publish_port(target, n, nbytes=65536):
    """|n| connections of random bytes to the publish port: a fatal NACK
    (docs/protocol/publish.md; not_ready after --handshake-timeout for a
    first frame that never ends), then EOF."""
    outcomes, written = [], 0
    for i in range(n):
        with connect(target.host, target.publish_port, 10) as sock:
            w, received, end = exchange(sock, _garbage(2000 + i, nbytes), timeout=20)
        written += w
        outcomes.append("%s, %s" % (last_reply("pub", received), end))
    return {"written": written,
            "outcome": _judge(outcomes, r"NACK (bad_frame|not_ready|unsupported_version), eof")}


def ws_invalid_utf8(target, n):
    """|n| connections each send a text message that is not UTF-8: 1007."""
    return _each_ws(target, n, frame(Opcode.TEXT, b'{"type":"ping","x":"\xff\xfe"}'))


# What ws_nul_in_json sends, and the reply each gets (docs/protocol/websocket.md).
NUL_MESSAGES = [
    ('{"type":"subscribe\\u0000","topics":["a"]}', ["unknown_type"]),
    ('{"type":"subscribe","topics":["a\\u0000b","nul:ok"]}', ["bad_topic", "subscribed"]),
    ('{"type":"unsubscribe","topics":["\\u0000"]}', ["bad_topic", "unsubscribed"]),
    ('{"type":"ping"}\u0000', ["bad_json"]),
    ('{"type":"pi\u0000ng"}', ["bad_json"]),
    ('{"type":"ping","id":"\\u0000"}', ["pong"]),
]


def ws_nul_in_json(target, n):
    """|n| websocket-client connections each send NUL_MESSAGES: NUL bytes
    escaped in strings (a type: unknown_type, a topic: bad_topic) and raw
    (bad_json). Each message is followed by an unsubscribe of a topic of
    its own, so its replies are what comes before that one's reply; the
    connection stays open."""
    outcomes, written = [], 0
    for _ in range(n):
        ws = websocket.create_connection(target.ws_url, timeout=10)
        got = []
        for i, (message, want) in enumerate(NUL_MESSAGES):
            marker = {"type": "unsubscribed", "topics": ["marker:%d" % i]}
            unsubscribe = json.dumps({"type": "unsubscribe", "topics": marker["topics"]})
            ws.send(message)
            ws.send(unsubscribe)
            written += len(message) + len(unsubscribe)
            replies = [json.loads(ws.recv())]
            while replies[-1] != marker:
                replies.append(json.loads(ws.recv()))
            got.append([r.get("code", r["type"]) for r in replies[:-1]])
            if replies[0].get("code") == "bad_topic":
                assert "\u0000" in replies[0]["topic"], replies
        ws.close()
        outcomes.append("as documented" if got == [w for _, w in NUL_MESSAGES] else repr(got))
    return {"written": written, "outcome": _tally(outcomes)}


def http_nul_in_head(target, n):
    """|n| request heads with a NUL byte in a header value: 400, EOF."""
    outcomes, written = [], 0
    for _ in range(n):
        w, outcome = _one_http(target, b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-N: a\x00b\r\n\r\n")
        written += w
        outcomes.append(outcome)
    return {"written": written, "outcome": _tally(outcomes)}


def resets(target, n, topic="watch:events"):
    """|n| connections, cycling through four kinds, reset (SO_LINGER 0) in
    the middle of something: a request head, a WebSocket frame, a PUBLISH,
    and a subscriber of the watcher's |topic| with events queued. The
    server must stay healthy."""
    written = 0
    for i in range(n):
        how = i % 4
        if how == 0:
            sock = connect(target.host, target.port, 10)
            sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Half: ")
        elif how == 1:
            sock = RawWS(target.host, target.port, timeout=10).sock
            sock.sendall(frame(Opcode.TEXT, b'{"type":"ping"}' * 100)[:700])
        elif how == 2:
            conn = rp.PubConn(sock=connect(target.host, target.publish_port, 10))
            conn.hello()
            sock = conn.sock
            sock.sendall(rp.publish(9, "resets", b"y" * 4000)[:2000])
        else:
            raw = RawWS(target.host, target.port, timeout=10, rcvbuf=SMALL_RCVBUF)
            raw.send_frame(Opcode.TEXT, json.dumps({"type": "subscribe", "topics": [topic]}))
            sock = raw.sock
            time.sleep(0.05)  # a few of the watcher's events queue, unread
        written += 1
        reset(sock)
    status = healthz(target)
    return {"written": written, "outcome": "healthy" if status == 200 else "HTTP %d" % status}


Case = collections.namedtuple("Case", "name run ci full flags expect")
AS_DOCUMENTED = r"as documented \(.*\)"

# The slow-reader and malformed-input cases: (name, function(target, size),
# size in CI, size in the bench, server flags, a regular expression that
# the outcome of a server that follows its docs matches in full).
SLOW = [
    Case("slowloris", slowloris, 20, 1000, ("--handshake-timeout", "1s"), "HTTP 408"),
    Case("head-1mib", huge_head, 1 << 20, 1 << 20, (), "HTTP 431"),
    Case("header-lines-10000", many_header_lines, 10000, 10000, (), "HTTP 431"),
    Case("ws-huge-frame-header", ws_huge_frame_header, 5, 200, (), "close 1009, eof"),
    Case("pub-huge-frame-header", pub_huge_frame_header, 5, 200, (), "NACK bad_frame, eof"),
    Case("ws-unfinished-fragments", ws_unfinished_fragments, 20, 1000, (),
         "pong, close 1009, eof"),
    Case("garbage-client-port", garbage_client_port, 5, 200, (), AS_DOCUMENTED),
    Case("garbage-websocket", garbage_websocket, 5, 200, (), AS_DOCUMENTED),
    Case("garbage-publish-port", garbage_publish_port, 5, 200, ("--handshake-timeout", "2s"),
         AS_DOCUMENTED),
    Case("ws-invalid-utf8", ws_invalid_utf8, 5, 200, (), "close 1007, eof"),
    Case("ws-nul-in-json", ws_nul_in_json, 2, 50, (), "as documented"),
    Case("http-nul-in-head", http_nul_in_head, 5, 200, (), "HTTP 400"),
    Case("resets", resets, 40, 2000, (), "healthy"),
]


# ---- a burst of subscribes ---------------------------------------------------

def subscribe_burst(target, n, timeout=300):
    """One WebSocket client sends |n| subscribe messages (one topic each) in
    one write and reads the |n| replies, which must be the "subscribed" of
    each in order. Server flags: burst_flags(n)."""
    raw = RawWS(target.host, target.port, timeout=timeout)
    data = b"".join(frame(Opcode.TEXT, b'{"type":"subscribe","topics":["burst:%d"]}' % i)
                    for i in range(n))
    writer = threading.Thread(target=raw.sock.sendall, args=(data,), daemon=True)
    start = time.monotonic()
    writer.start()
    buf, replies, wrong = raw.reader.buffer, 0, []
    deadline = start + timeout
    raw.sock.settimeout(timeout)
    while replies < n and time.monotonic() < deadline:
        chunk = raw.sock.recv(1 << 18)
        if not chunk:
            break
        buf += chunk
        frames, _ = ws_frames(buf)
        buf = buf[sum(len(p) + (2 if len(p) < 126 else 4) for _, p in frames):]
        for _, payload in frames:
            # The reply with the topic's position (docs/protocol/websocket.md):
            # a new topic starts its sequence, seq 0.
            want = (rb'\{"type":"subscribed","topics":\["burst:%d"\],'
                    rb'"positions":\{"burst:%d":\{"epoch":"[0-9a-f]{16}","seq":0\}\}\}'
                    % (replies, replies))
            if not re.fullmatch(want, bytes(payload)) and len(wrong) < 3:
                wrong.append(payload[:200])
            replies += 1
    took = time.monotonic() - start
    writer.join(10)
    raw.close()
    outcome = "%d subscribed in %.2fs" % (replies, took) + (
        "; wrong replies: %r" % wrong if wrong else "")
    return {"written": len(data), "outcome": outcome, "replies": replies, "wrong": wrong,
            "seconds": took}


def burst_flags(n):
    """The burst measures fairness, not the rate limit, which would refuse
    most of it (--subscribe-rate-per-conn, tested in test_public_limits.py)."""
    return ("--max-topics-per-conn", str(max(1024, n)), "--subscribe-rate-per-conn", "0",
            "--subscribe-rate-per-sub", "0")
