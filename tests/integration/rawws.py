"""Raw-socket helpers for the protocol tests: a WebSocket client that can
send frames a real client never would (built with websockets' own frame
serializer, its validation switched off) and reads the server's frames with
websockets' frame parser; plus a raw HTTP exchange."""

import base64
import os
import socket
import struct
import time

from websockets.frames import Frame, Opcode
from websockets.streams import StreamReader
from websockets.utils import accept_key


class RawFrame(Frame):
    """A Frame whose check() lets anything through, so serialize() can write
    RSV bits, reserved opcodes (plain ints), fragmented or oversized control
    frames."""

    def check(self):
        pass


def frame(opcode, data=b"", fin=True, mask=True, rsv1=False, rsv2=False, rsv3=False):
    """The bytes of one client frame; |opcode| may be an Opcode or any int."""
    if isinstance(data, str):
        data = data.encode()
    return RawFrame(opcode, data, fin, rsv1, rsv2, rsv3).serialize(mask=mask)


def close_payload(code, reason=b""):
    return struct.pack("!H", code) + reason


def parse_close(data):
    """(code, reason bytes) of a close frame's payload; (None, b"") when it is
    empty."""
    if not data:
        return None, b""
    assert len(data) >= 2, "close payload of %d byte(s): %r" % (len(data), data)
    return struct.unpack("!H", data[:2])[0], data[2:]


def connect(host, port, timeout=5, rcvbuf=None):
    """A TCP connection to |host|:|port|; with |rcvbuf|, SO_RCVBUF is set
    before connecting, so the window the peer sees stays that small."""
    if rcvbuf is None:
        return socket.create_connection((host, port), timeout=timeout)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
    sock.settimeout(timeout)
    sock.connect((host, port))
    return sock


def http_request(host, port, data, timeout=5):
    """Sends |data| on a new connection and returns everything the server
    sends until it closes the connection."""
    with socket.create_connection((host, port), timeout=timeout) as sock:
        sock.sendall(data)
        return read_until_eof(sock, timeout)


def read_until_eof(sock, timeout=5):
    """Reads until EOF; fails when the peer keeps the connection open longer
    than |timeout| seconds."""
    deadline = time.monotonic() + timeout
    chunks = []
    while True:
        remaining = deadline - time.monotonic()
        assert remaining > 0, "connection still open after %ss; got %r" % (timeout, b"".join(chunks))
        sock.settimeout(remaining)
        try:
            chunk = sock.recv(65536)
        except socket.timeout:
            continue
        except ConnectionResetError:
            chunk = b""
        if not chunk:
            return b"".join(chunks)
        chunks.append(chunk)


class RawWS:
    """A WebSocket connection on a plain socket, after a real handshake."""

    # What every new RawWS offers in Sec-WebSocket-Extensions (None: no
    # header); test_websocket_rfc6455.py runs its suite both ways.
    default_extensions = None

    def __init__(self, host, port, path="/v1/ws", timeout=5, rcvbuf=None, extensions=None,
                 tls_context=None):
        """Connects and upgrades; with |rcvbuf|, the socket's receive buffer
        is that small from before the connect (so is the TCP window); with
        |tls_context|, over TLS (wss://). With |extensions|, the handshake
        offers them; self.headers holds the response's headers (names in
        lower case)."""
        if extensions is None:
            extensions = RawWS.default_extensions
        self.sock = connect(host, port, timeout, rcvbuf)
        if tls_context is not None:
            self.sock = tls_context.wrap_socket(self.sock, server_hostname=host)
        self.timeout = timeout
        self.reader = StreamReader()
        key = base64.b64encode(os.urandom(16)).decode()
        self.sock.sendall(("GET %s HTTP/1.1\r\nHost: %s:%d\r\nUpgrade: websocket\r\n"
                           "Connection: Upgrade\r\nSec-WebSocket-Key: %s\r\n"
                           "Sec-WebSocket-Version: 13\r\n%s\r\n"
                           % (path, host, port, key,
                              "Sec-WebSocket-Extensions: %s\r\n" % extensions
                              if extensions else "")).encode())
        head = b""
        while b"\r\n\r\n" not in head:
            chunk = self.sock.recv(4096)
            assert chunk, "connection closed during the handshake: %r" % head
            head += chunk
        head, rest = head.split(b"\r\n\r\n", 1)
        lines = head.decode().split("\r\n")
        assert lines[0] == "HTTP/1.1 101 Switching Protocols", lines[0]
        headers = {k.lower(): v.strip() for k, v in (l.split(":", 1) for l in lines[1:])}
        assert headers["sec-websocket-accept"] == accept_key(key)
        self.headers = headers
        self.deflate = "permessage-deflate" in headers.get("sec-websocket-extensions", "")
        self.reader.feed_data(rest)

    @classmethod
    def to(cls, server, **kwargs):
        tls_context = getattr(server, "tls_context", None)  # a tlscerts.TlsView
        return cls(server.host, server.port, tls_context=tls_context, **kwargs)

    def send(self, data):
        self.sock.sendall(data)

    def send_frame(self, opcode, data=b"", **kwargs):
        self.sock.sendall(frame(opcode, data, **kwargs))

    def read_frame(self, timeout=None):
        """The server's next frame (a websockets Frame); fails on EOF or after
        |timeout| seconds."""
        deadline = time.monotonic() + (timeout or self.timeout)
        # RawFrame: websockets' own check refuses RSV1, which a server
        # sends on compressed messages; check_rsv judges the bits instead.
        parser = RawFrame.parse(self.reader.read_exact, mask=False)
        try:
            next(parser)
            while True:
                remaining = deadline - time.monotonic()
                assert remaining > 0, "no complete frame from the server within the timeout"
                self.sock.settimeout(remaining)
                try:
                    chunk = self.sock.recv(65536)
                except socket.timeout:
                    continue
                assert chunk, "the server closed the connection instead of sending a frame"
                self.reader.feed_data(chunk)
                parser.send(None)
        except StopIteration as done:
            return self.check_rsv(done.value)

    def check_rsv(self, f):
        """RSV2 and RSV3 never; RSV1 only on a text frame of a connection
        that agreed permessage-deflate."""
        assert not f.rsv2 and not f.rsv3, f
        assert not f.rsv1 or (self.deflate and f.opcode == Opcode.TEXT), f
        return f

    def read_close(self, timeout=None):
        """Reads the next frame, which must be a close frame; returns (code,
        reason bytes), code None for an empty close frame."""
        f = self.read_frame(timeout)
        assert f.opcode == Opcode.CLOSE, "expected a close frame, got %r" % (f,)
        assert f.fin
        return parse_close(f.data)

    def assert_tcp_closed(self, timeout=3):
        """The server closes the TCP connection within |timeout| seconds
        without sending anything more."""
        rest = self.reader.buffer + read_until_eof(self.sock, timeout)
        assert rest == b"", "bytes after the close frame: %r" % rest

    def close(self):
        self.sock.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
