"""Test helpers shared by the integration tests:

- a tiny, deliberately permissive encoder/decoder for the binary publish
  protocol (docs/protocol/publish.md), written with struct so that tests can
  build malformed and edge-case frames the real client refuses to send;
- PubConn, a raw publisher connection with bounded waits;
- WebSocket subscriber helpers (websocket-client).

Every wait is bounded: a test that gets no answer fails, it does not hang.
"""

import json
import re
import socket
import struct
import time
from collections import namedtuple

import websocket

MAGIC = 0x52435031  # "RCP1"
VERSION = 1

# Frame types (section 4).
HELLO = 0x01
WELCOME = 0x02
PUBLISH = 0x10
ACK = 0x11
NACK = 0x12
PING = 0x20
PONG = 0x21
GOAWAY = 0x30

# Error codes (section 6).
BAD_FRAME = 1
UNSUPPORTED_VERSION = 2
UNAUTHORIZED = 3
FORBIDDEN = 4
TOO_LARGE = 5
BAD_TOPIC = 6
BAD_PAYLOAD = 7
OVERLOADED = 8
SHUTTING_DOWN = 9
BAD_REQUEST = 10
INTERNAL = 11
NOT_READY = 12
RATE_LIMITED = 13

ACK_DUPLICATE = 0x01

HEADER = struct.Struct(">IBBI")  # length, type, flags, corr
HEADER_LEN = HEADER.size  # 10
MIN_LENGTH = 6

Frame = namedtuple("Frame", "type flags corr body")
Welcome = namedtuple("Welcome", "version max_frame max_payload max_topic_len max_inflight")
Ack = namedtuple("Ack", "seq flags")
Error = namedtuple("Error", "code message")


def _b(value):
    return value.encode() if isinstance(value, str) else bytes(value)


# ---- encoding ----------------------------------------------------------------

def frame(ftype, body=b"", corr=0, flags=0, length=None):
    """One frame; |length| overrides the length field (for malformed frames)."""
    body = _b(body)
    return HEADER.pack(MIN_LENGTH + len(body) if length is None else length, ftype, flags,
                       corr) + body


def hello_body(version=VERSION, token=b"", name=b"pytest-raw", magic=MAGIC):
    token, name = _b(token), _b(name)
    return (struct.pack(">IHH", magic, version, len(token)) + token +
            struct.pack(">B", len(name)) + name)


def hello(corr=1, **kwargs):
    return frame(HELLO, hello_body(**kwargs), corr)


def publish_body(topic, payload=b"", event_type=b"", content_type=b"", msg_id=b"",
                 payload_len=None):
    """A PUBLISH body; |payload_len| overrides the payload length field."""
    topic, payload = _b(topic), _b(payload)
    event_type, content_type, msg_id = _b(event_type), _b(content_type), _b(msg_id)
    return (struct.pack(">H", len(topic)) + topic +
            struct.pack(">B", len(event_type)) + event_type +
            struct.pack(">B", len(content_type)) + content_type +
            struct.pack(">B", len(msg_id)) + msg_id +
            struct.pack(">I", len(payload) if payload_len is None else payload_len) + payload)


def publish(corr, topic, payload=b"", **kwargs):
    return frame(PUBLISH, publish_body(topic, payload, **kwargs), corr)


def ping(corr, data=b"", ftype=PING):
    return frame(ftype, data, corr)


def welcome_body(version=VERSION, max_frame=1 << 20, max_payload=65536, max_topic_len=256,
                 max_inflight=1024):
    return struct.pack(">HIIHI", version, max_frame, max_payload, max_topic_len, max_inflight)


def ack(corr, seq, flags=0):
    return frame(ACK, struct.pack(">QB", seq, flags), corr)


def error(ftype, corr, code, message=b""):
    """A NACK or GOAWAY frame."""
    message = _b(message)
    return frame(ftype, struct.pack(">HH", code, len(message)) + message, corr)


# ---- decoding ----------------------------------------------------------------

def decode_welcome(body):
    assert len(body) == 16, "WELCOME body is %d bytes, not 16: %r" % (len(body), body)
    return Welcome(*struct.unpack(">HIIHI", body))


def decode_ack(body):
    assert len(body) == 9, "ACK body is %d bytes, not 9: %r" % (len(body), body)
    return Ack(*struct.unpack(">QB", body))


def decode_error(body):
    """Body of NACK or GOAWAY."""
    assert len(body) >= 4, "NACK/GOAWAY body too short: %r" % (body,)
    code, mlen = struct.unpack(">HH", body[:4])
    assert len(body) == 4 + mlen, "NACK/GOAWAY message length %d, body %r" % (mlen, body)
    assert mlen <= 1024
    return Error(code, body[4:].decode("utf-8"))


def describe(f):
    """A readable form of a frame for assertion messages."""
    if f is None:
        return "EOF"
    if f.type in (NACK, GOAWAY):
        try:
            e = decode_error(f.body)
            return "%s(corr=%d, code=%d, %r)" % ("NACK" if f.type == NACK else "GOAWAY",
                                                 f.corr, e.code, e.message)
        except AssertionError:
            pass
    return "Frame(type=0x%02x, flags=%d, corr=%d, body=%r)" % (f.type, f.flags, f.corr,
                                                              f.body[:80])


# ---- a raw publisher connection ----------------------------------------------

class PubConn:
    """A raw TCP connection to a server's publish port."""

    def __init__(self, server=None, timeout=10, sock=None):
        """Connects to |server|'s publish port, or wraps a connected |sock|
        (the server side of a scripted peer)."""
        if sock is None:
            sock = socket.create_connection((server.host, server.publish_port), timeout)
        self.sock = sock
        self.buf = b""
        self.eof = False

    def send(self, data):
        self.sock.sendall(_b(data))

    def _fill(self, n, deadline):
        """Reads until |n| bytes are buffered; False on EOF (or reset)."""
        while len(self.buf) < n:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError("timed out waiting for data from the server "
                                     "(have %d bytes: %r)" % (len(self.buf), self.buf[:40]))
            self.sock.settimeout(left)
            try:
                chunk = self.sock.recv(65536)
            except socket.timeout:
                continue
            except ConnectionResetError:
                chunk = b""
            if not chunk:
                self.eof = True
                return False
            self.buf += chunk
        return True

    def recv_frame(self, timeout=10):
        """The next frame, or None on EOF. Fails after |timeout| seconds."""
        deadline = time.monotonic() + timeout
        if not self._fill(4, deadline):
            assert not self.buf, "connection closed inside a frame: %r" % (self.buf,)
            return None
        (length,) = struct.unpack(">I", self.buf[:4])
        assert length >= MIN_LENGTH, "server sent length %d" % length
        if not self._fill(4 + length, deadline):
            raise AssertionError("connection closed inside a frame: %r" % (self.buf[:60],))
        length, ftype, flags, corr = HEADER.unpack(self.buf[:HEADER_LEN])
        body = self.buf[HEADER_LEN:4 + length]
        self.buf = self.buf[4 + length:]
        return Frame(ftype, flags, corr, body)

    def expect(self, ftype, corr=None, timeout=10):
        f = self.recv_frame(timeout)
        assert f is not None and f.type == ftype and f.flags == 0, \
            "expected frame type 0x%02x, got %s" % (ftype, describe(f))
        if corr is not None:
            assert f.corr == corr, "expected corr %d, got %s" % (corr, describe(f))
        return f

    def hello(self, corr=1, **kwargs):
        """Sends HELLO and returns the decoded WELCOME."""
        self.send(hello(corr, **kwargs))
        return decode_welcome(self.expect(WELCOME, corr).body)

    def expect_ack(self, corr):
        return decode_ack(self.expect(ACK, corr).body)

    def expect_nack(self, code, corr=None):
        err = decode_error(self.expect(NACK, corr).body)
        assert err.code == code, "expected NACK code %d, got %r" % (code, err)
        return err

    def expect_eof(self, timeout=5):
        """Nothing more arrives, and the server closes within |timeout|."""
        f = self.recv_frame(timeout)
        assert f is None, "expected the server to close, got %s" % describe(f)

    def expect_fatal(self, code, corr=None, timeout=5):
        """A fatal NACK with |code|, then the connection closes (not a hang)."""
        err = decode_error(self.expect(NACK, corr, timeout).body)
        assert err.code == code, "expected fatal NACK code %d, got %r" % (code, err)
        self.expect_eof(timeout)
        return err

    def ping_roundtrip(self, corr, data=b""):
        """PING -> PONG with the same corr and data: proves the connection lives."""
        self.send(ping(corr, data))
        f = self.expect(PONG, corr)
        assert f.body == _b(data)

    def abort(self):
        """Closes with a TCP reset (SO_LINGER 0), like a crashed publisher."""
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.sock.close()

    def close(self):
        self.sock.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def connect_ready(server, **kwargs):
    """A PubConn that has completed HELLO/WELCOME; returns (conn, welcome)."""
    conn = PubConn(server, **kwargs)
    return conn, conn.hello()


# ---- WebSocket subscribers -----------------------------------------------------

EPOCH_RE = re.compile(r"^[0-9a-f]{16}$")


def without_positions(reply):
    """|reply| without the "positions" of a subscribed reply, after checking
    them (docs/protocol/websocket.md): one per exact topic listed, each
    {"epoch": 16 lowercase hex digits, "seq": an integer >= 0}, and none for
    patterns; absent when no exact topic is listed."""
    if not isinstance(reply, dict) or reply.get("type") != "subscribed":
        return reply
    exact = {t for t in reply.get("topics", []) if "*" not in t and ">" not in t.split(":")[-1]
             and ">" not in t.split(".")[-1]}
    rest = dict(reply)
    positions = rest.pop("positions", {})
    assert set(positions) == exact, (positions, exact)
    for p in positions.values():
        assert set(p) == {"epoch", "seq"} and EPOCH_RE.match(p["epoch"]), p
        assert isinstance(p["seq"], int) and p["seq"] >= 0, p
    if not exact:
        assert "positions" not in reply, reply
    return rest


def subscribe(server, *topics, timeout=10, sockopt=None):
    """A websocket-client connection subscribed to |topics|."""
    ws = websocket.create_connection(server.ws_url, timeout=timeout, sockopt=sockopt)
    ws.send(json.dumps({"type": "subscribe", "topics": list(topics)}))
    reply = json.loads(ws.recv())
    assert without_positions(reply) == {"type": "subscribed", "topics": list(topics)}, reply
    return ws


def recv_event(ws, timeout=10):
    """The next text message of |ws| as JSON."""
    ws.settimeout(timeout)
    return json.loads(ws.recv())


def recv_events(ws, count, timeout=30):
    """|count| events, with an overall deadline."""
    deadline = time.monotonic() + timeout
    events = []
    while len(events) < count:
        left = deadline - time.monotonic()
        assert left > 0, "received %d of %d events within %ss" % (len(events), count, timeout)
        events.append(recv_event(ws, left))
    return events
