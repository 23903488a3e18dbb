"""RFC 6455 conformance of /v1/ws and the native control messages.

Well-behaved traffic goes through the `websockets` library (Debian 10.4);
malformed frames are built with its frame serializer (rawws.frame) and written
to a raw socket after a real handshake. Every protocol error must be answered
with the exact close code, followed by the server closing TCP, and must leave
the server healthy for the next client.

Every test runs twice: with no extension, and with permessage-deflate
(RFC 7692) agreed by every client (raw and websockets alike), since a
negotiated extension changes what RSV1 means and nothing else may change."""

import asyncio
import json
import os
import socket
import struct
import time

import pytest
import websockets
from websockets.frames import Close, Opcode

import tlscerts
from conftest import publish
from rawws import RawWS, close_payload, frame
from rcproto import without_positions

TEXT, CONT, BINARY = Opcode.TEXT, Opcode.CONT, Opcode.BINARY
CLOSE, PING, PONG = Opcode.CLOSE, Opcode.PING, Opcode.PONG
PING_MSG = b'{"type":"ping"}'
LIMIT_FLAGS = ("--max-frame", "1024", "--max-message", "4096")


# How this run's clients connect (the negotiation fixture sets it).
CONNECT = {"compression": None}


@pytest.fixture(autouse=True, params=["plain", "deflate"])
def negotiation(request, monkeypatch):
    deflate = request.param == "deflate"
    monkeypatch.setattr(RawWS, "default_extensions",
                        "permessage-deflate; client_max_window_bits" if deflate else None)
    monkeypatch.setitem(CONNECT, "compression", "deflate" if deflate else None)
    return request.param


def connect(url, **kwargs):
    """websockets.connect, offering permessage-deflate in the deflate run."""
    return websockets.connect(url, **CONNECT, **kwargs)


@pytest.fixture(scope="module")
def ca():
    return tlscerts.CertAuthority()


@pytest.fixture(params=["plain", "tls"])
def start_server(request, start_server, ca, monkeypatch):
    """Every test runs twice: over ws:// and over wss:// (a --tls-listen
    port, the clients trusting the test CA through SSL_CERT_FILE)."""
    if request.param == "plain":
        return start_server
    monkeypatch.setenv("SSL_CERT_FILE", ca.ca_pem)

    def start(*flags, **kwargs):
        return tlscerts.TlsView(start_server(*flags, *tlscerts.server_flags(ca), **kwargs), ca)
    return start


@pytest.fixture
def server(start_server):
    return start_server()


def run(coro, timeout=20):
    """Runs a test coroutine with an overall deadline."""
    return asyncio.run(asyncio.wait_for(coro, timeout))


def sub_msg(*topics, kind="subscribe"):
    return json.dumps({"type": kind, "topics": list(topics)}, ensure_ascii=False)


async def recv_json(ws, timeout=5):
    return json.loads(await asyncio.wait_for(ws.recv(), timeout))


async def subscribe(ws, *topics):
    await ws.send(sub_msg(*topics))
    assert without_positions(await recv_json(ws)) == {"type": "subscribed", "topics": list(topics)}


async def publish_async(server, topic, data):
    return await asyncio.to_thread(publish, server, topic, data)


async def expect_event(ws, topic, data):
    event = await recv_json(ws)
    assert (event["topic"], event["data"]) == (topic, data), event


async def expect_nothing(ws, timeout=0.3):
    with pytest.raises(asyncio.TimeoutError):
        await asyncio.wait_for(ws.recv(), timeout)


def assert_server_healthy(server):
    """A new, well-behaved client can still subscribe and receive an event."""
    async def check():
        async with connect(server.ws_url) as ws:
            await subscribe(ws, "health:check")
            await publish_async(server, "health:check", {"ok": 1})
            await expect_event(ws, "health:check", {"ok": 1})
    run(check())


def assert_fails_with(server, data, code):
    """Sends raw |data| after the handshake; the server answers with a close
    frame carrying |code|, closes TCP, and serves the next client."""
    with RawWS.to(server) as raw:
        assert raw.deflate == (RawWS.default_extensions is not None), raw.headers
        raw.send(data)
        got, reason = raw.read_close()
        assert got == code, "close code %s (reason %r), expected %d" % (got, reason, code)
        reason.decode("utf-8")  # the server's reason must be valid UTF-8
        # Failing the connection does not wait for our close frame, so TCP is
        # closed well before the default --close-timeout of 2 s.
        raw.assert_tcp_closed(timeout=1)
    assert_server_healthy(server)


def fragments(payload, *sizes, opcode=TEXT):
    """|payload| as a fragmented message: pieces of |sizes| bytes, then the
    rest in the final fragment."""
    out, pos = [], 0
    for size in sizes:
        out.append(frame(opcode if pos == 0 else CONT, payload[pos:pos + size], fin=False))
        pos += size
    out.append(frame(CONT if sizes else opcode, payload[pos:]))
    return b"".join(out)


# --- 1002 protocol errors ----------------------------------------------------

PROTOCOL_ERRORS = {
    "unmasked": frame(TEXT, PING_MSG, mask=False),
    "rsv1": frame(TEXT, PING_MSG, rsv1=True),
    "rsv2": frame(TEXT, PING_MSG, rsv2=True),
    "rsv3": frame(TEXT, PING_MSG, rsv3=True),
    "rsv1-ping": frame(PING, b"p", rsv1=True),
    "rsv1-continuation": frame(TEXT, b'{"type":', fin=False) + frame(CONT, b'"ping"}', rsv1=True),
    "continuation-without-message": frame(CONT, PING_MSG),
    "text-inside-fragmented-message": frame(TEXT, b'{"type":', fin=False) + frame(TEXT, PING_MSG),
    "ping-126-bytes": frame(PING, b"p" * 126),
    "fragmented-ping": frame(PING, b"p", fin=False) + frame(CONT, b"q"),
    "close-1-byte": frame(CLOSE, b"\x03"),
}
PROTOCOL_ERRORS.update({"opcode-0x%X" % op: frame(op, b"x")
                        for op in (3, 4, 5, 6, 7, 0xB, 0xC, 0xD, 0xE, 0xF)})
PROTOCOL_ERRORS.update({"close-code-%d" % code: frame(CLOSE, close_payload(code))
                        for code in (0, 999, 1004, 1005, 1006, 1015, 1016, 2000, 2999, 5000)})


@pytest.mark.parametrize("data", PROTOCOL_ERRORS.values(), ids=PROTOCOL_ERRORS.keys())
def test_protocol_error_closes_with_1002(server, data, negotiation):
    if negotiation == "deflate" and data == PROTOCOL_ERRORS["rsv1"]:
        # RSV1 now says "compressed": this payload is no deflate stream.
        assert_fails_with(server, data, 1007)
        return
    assert_fails_with(server, data, 1002)


# --- 1007 invalid UTF-8 -------------------------------------------------------

def test_invalid_utf8_in_single_frame_closes_with_1007(server):
    assert_fails_with(server, frame(TEXT, b'{"type":"p\xffing"}'), 1007)


def test_invalid_utf8_in_first_fragment_fails_before_the_message_ends(server):
    # Only the first fragment is sent: the server must not wait for the rest.
    assert_fails_with(server, frame(TEXT, b'{"type":"\xc3\x28', fin=False), 1007)


def test_truncated_utf8_sequence_at_end_of_final_fragment_closes_with_1007(server):
    data = frame(TEXT, b'{"type":"ping","x":"', fin=False) + frame(CONT, b'"}\xe2\x82')
    assert_fails_with(server, data, 1007)


def test_close_reason_with_invalid_utf8_closes_with_1007(server):
    assert_fails_with(server, frame(CLOSE, close_payload(1000, b"bye \xff")), 1007)


# --- 1009 size limits and 1003 binary -----------------------------------------

@pytest.mark.parametrize("sent", [None, 14], ids=["whole-frame", "header-only"])
def test_frame_over_max_frame_closes_with_1009(start_server, sent):
    server = start_server(*LIMIT_FLAGS)
    # header-only: the length in the header is enough to refuse the frame.
    assert_fails_with(server, frame(TEXT, b" " * 1025)[:sent], 1009)


def test_message_over_max_message_closes_with_1009(start_server):
    server = start_server(*LIMIT_FLAGS)
    # Fragments of 1024, 1024, 1024, 1024 and 1 bytes: each within --max-frame,
    # 4097 in all > --max-message.
    assert_fails_with(server, fragments(b" " * 4097, 1024, 1024, 1024, 1024), 1009)


def padded_subscribe(size, topic):
    msg = sub_msg(topic).encode()
    return msg[:-1] + b" " * (size - len(msg)) + b"}"


@pytest.mark.parametrize("split", [(), (1024, 1024, 1024)], ids=["one-frame", "four-fragments"])
def test_message_exactly_at_the_limits_is_accepted(start_server, split):
    server = start_server(*LIMIT_FLAGS)
    size = 1024 if not split else 4096
    with RawWS.to(server) as raw:
        raw.send(fragments(padded_subscribe(size, "at:limit"), *split))
        reply = raw.read_frame()
        assert reply.opcode == TEXT
        assert without_positions(json.loads(reply.data)) == {"type": "subscribed", "topics": ["at:limit"]}
    assert_server_healthy(server)


def test_binary_message_closes_with_1003(server):
    assert_fails_with(server, frame(BINARY, b"\x00\x01\x02"), 1003)


# --- close handshake -------------------------------------------------------------

@pytest.mark.parametrize("code", [1000, 3000, 4999])
def test_close_code_is_echoed_and_tcp_closed_promptly(start_server, code):
    server = start_server("--close-timeout", "5s")

    async def go():
        ws = await connect(server.ws_url, close_timeout=10)
        start = time.monotonic()
        await ws.close(code=code, reason="bye")  # returns once TCP is closed
        elapsed = time.monotonic() - start
        assert (ws.close_code, ws.close_reason) == (code, "")
        assert elapsed < 1.0, "TCP closed %.2fs after the close handshake" % elapsed
    run(go())
    assert_server_healthy(server)


def test_empty_close_gets_empty_close(start_server):
    server = start_server("--close-timeout", "5s")

    async def go():
        ws = await connect(server.ws_url, close_timeout=10)
        start = time.monotonic()
        await ws.write_close_frame(Close(1005, ""), data=b"")  # a close frame without a code
        await asyncio.wait_for(ws.wait_closed(), 5)
        elapsed = time.monotonic() - start
        assert ws.close_code == 1005  # websockets' way of saying "no code in the reply"
        assert elapsed < 1.0, "TCP closed %.2fs after the close handshake" % elapsed
    run(go())
    # The same on the wire: the reply's payload is empty.
    with RawWS.to(server) as raw:
        raw.send(frame(CLOSE, b""))
        assert raw.read_close() == (None, b"")
        raw.assert_tcp_closed(timeout=1)


# --- ping / pong and interleaving ------------------------------------------------

def test_ping_with_125_byte_payload_gets_identical_pong(server):
    payload = os.urandom(125)

    async def go():
        async with connect(server.ws_url) as ws:
            pong = await ws.ping(payload)  # resolves only on a pong carrying |payload|
            await asyncio.wait_for(pong, 5)
    run(go())
    with RawWS.to(server) as raw:
        raw.send(frame(PING, payload))
        reply = raw.read_frame()
        assert (reply.opcode, reply.data) == (PONG, payload)


def test_ping_between_fragments_is_answered_before_the_message_completes(server):
    async def go():
        async with connect(server.ws_url) as ws:
            async def parts():
                yield '{"type":"subscribe",'
                pong = await ws.ping(b"between fragments")
                await asyncio.wait_for(pong, 5)  # the message is still incomplete
                yield '"topics":["frag:ping"]}'
            await ws.send(parts())
            assert without_positions(await recv_json(ws)) == {"type": "subscribed", "topics": ["frag:ping"]}
            await publish_async(server, "frag:ping", {"n": 1})
            await expect_event(ws, "frag:ping", {"n": 1})
    run(go())


def test_fragment_boundary_inside_a_utf8_character(server):
    msg = sub_msg("ok:topic", "bad\u00e9topic").encode()
    cut = msg.index(b"\xc3\xa9") + 1  # between the two bytes of "é"
    with RawWS.to(server) as raw:
        raw.send(fragments(msg, cut))
        error = json.loads(raw.read_frame().data)
        assert (error["type"], error["code"], error["topic"]) == ("error", "bad_topic",
                                                                 "bad\u00e9topic")
        assert without_positions(json.loads(raw.read_frame().data)) == {"type": "subscribed", "topics": ["ok:topic"]}


# --- control messages --------------------------------------------------------------

@pytest.mark.parametrize("message,code", [
    ('{"type":"subscribe","topics":["a"', "bad_json"),
    ('{"type":"shout","topics":["a"]}', "unknown_type"),
    ('{"type":"subscribe","topics":"a"}', "bad_request"),
], ids=["bad-json", "unknown-type", "topics-not-array"])
def test_bad_control_message_gets_error_and_connection_stays_open(server, message, code):
    async def go():
        async with connect(server.ws_url) as ws:
            await ws.send(message)
            reply = await recv_json(ws)
            assert (reply["type"], reply["code"]) == ("error", code), reply
            assert isinstance(reply["message"], str) and reply["message"]
            await ws.send(PING_MSG.decode())
            assert await recv_json(ws) == {"type": "pong"}
    run(go())


def test_json_ping_gets_json_pong(server):
    async def go():
        async with connect(server.ws_url) as ws:
            await ws.send(PING_MSG.decode())
            assert await recv_json(ws) == {"type": "pong"}
    run(go())


def test_non_string_topic_is_rejected_and_the_others_subscribed(server):
    async def go():
        async with connect(server.ws_url) as ws:
            await ws.send(json.dumps({"type": "subscribe", "topics": ["s:a", 5, "s:b"]}))
            error = await recv_json(ws)
            assert (error["type"], error["code"]) == ("error", "bad_topic"), error
            assert without_positions(await recv_json(ws)) == {"type": "subscribed", "topics": ["s:a", "s:b"]}
            await publish_async(server, "s:b", {"n": 2})
            await expect_event(ws, "s:b", {"n": 2})
    run(go())


def test_too_many_topics(start_server):
    server = start_server("--max-topics-per-conn", "3")

    async def go():
        async with connect(server.ws_url) as ws:
            await ws.send(sub_msg("m:1", "m:2", "m:3", "m:4"))
            error = await recv_json(ws)
            assert (error["type"], error["code"], error["topic"]) == ("error", "too_many_topics",
                                                                     "m:4")
            assert without_positions(await recv_json(ws)) == {"type": "subscribed", "topics": ["m:1", "m:2", "m:3"]}
    run(go())


def test_unsubscribed_topic_is_no_longer_delivered(server):
    async def go():
        async with connect(server.ws_url) as ws:
            await subscribe(ws, "u:gone", "u:kept")
            await ws.send(sub_msg("u:gone", kind="unsubscribe"))
            assert await recv_json(ws) == {"type": "unsubscribed", "topics": ["u:gone"]}
            await publish_async(server, "u:gone", {"n": 1})
            await expect_nothing(ws)
            await publish_async(server, "u:kept", {"n": 2})
            await expect_event(ws, "u:kept", {"n": 2})
    run(go())


def test_subscribing_twice_delivers_once(server):
    async def go():
        async with connect(server.ws_url) as ws:
            await subscribe(ws, "d:twice")
            await subscribe(ws, "d:twice")
            await subscribe(ws, "d:other")
            await publish_async(server, "d:twice", {"n": 1})
            await expect_event(ws, "d:twice", {"n": 1})
            await publish_async(server, "d:other", {"n": 2})
            await expect_event(ws, "d:other", {"n": 2})  # not a second copy of d:twice
    run(go())


# --- disconnect -----------------------------------------------------------------------

@pytest.mark.parametrize("how", ["reset", "fin"])
def test_abrupt_disconnect_removes_every_subscription(server, how):
    topics = ["x:1", "x:2", "x:3"]

    async def go():
        async with connect(server.ws_url) as watcher:
            await subscribe(watcher, *topics)
            raw = RawWS.to(server)
            raw.send(frame(TEXT, sub_msg(*topics)))
            assert without_positions(json.loads(raw.read_frame().data)) == {"type": "subscribed", "topics": topics}
            # No close frame: a TCP FIN, or a reset (SO_LINGER 0).
            if how == "reset":
                raw.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            raw.close()
            await asyncio.to_thread(server.wait_for_log, r"connection \d+ closed", 5)
            for i, topic in enumerate(topics):
                await publish_async(server, topic, {"n": i})
            got = sorted([(e["topic"], e["data"]["n"]) for e in
                          [await recv_json(watcher) for _ in topics]])
            assert got == [(t, i) for i, t in enumerate(topics)]
    run(go())
    # A stale subscription would touch the freed connection: ASan reports it
    # and the fixture fails the test when it stops the server.
