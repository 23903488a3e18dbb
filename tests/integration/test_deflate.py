"""permessage-deflate (RFC 7692): a client that offers it gets each event as
one compressed frame shared by every such subscriber (server_no_context_
takeover), events below --deflate-min-size plain, and its own compressed
messages inflated within --max-message. Clients: websockets (Python, which
offers the extension by default), Node ws (compressing what it sends), and
raw frames for what no real client sends (bombs, bad data, RSV1 where it
may not be)."""

import asyncio
import json
import zlib

import pytest
import websockets
from websockets.frames import Opcode

from conftest import publish
from nodehelpers import NodeScript
from rawws import RawWS

OFFER = "permessage-deflate; client_max_window_bits"
WAIT = 20


def big_data(n=2000):
    return {"text": "the quick brown fox " * (n // 20)}


def inflate(payload, window_bits=15):
    return zlib.decompressobj(-window_bits).decompress(payload + b"\x00\x00\xff\xff")


def client_deflate(text, window_bits=10, stream=None):
    z = stream or zlib.compressobj(6, zlib.DEFLATED, -window_bits)
    data = z.compress(text.encode()) + z.flush(zlib.Z_SYNC_FLUSH)
    assert data.endswith(b"\x00\x00\xff\xff")
    return data[:-4]


def subscribe_raw(raw, topic, compressed=False):
    text = json.dumps({"type": "subscribe", "topics": [topic]})
    if compressed:
        raw.send_frame(Opcode.TEXT, client_deflate(text), rsv1=True)
    else:
        raw.send_frame(Opcode.TEXT, text)
    f = raw.read_frame()
    reply = json.loads(f.data)
    assert (reply["type"], reply["topics"]) == ("subscribed", [topic]), f


def test_agreement_answers_the_offer(server):
    with RawWS.to(server, extensions=OFFER) as raw:
        assert raw.headers["sec-websocket-extensions"] == (
            "permessage-deflate; server_no_context_takeover; client_max_window_bits=10")
    with RawWS.to(server, extensions="permessage-deflate; server_max_window_bits=9") as raw:
        assert "sec-websocket-extensions" not in raw.headers  # declined: plain
    with RawWS.to(server) as raw:
        assert "sec-websocket-extensions" not in raw.headers


def test_event_is_one_shared_compressed_frame(server):
    """Two deflate subscribers get the very same compressed bytes, a plain
    one the plain frame; both inflate to the same event."""
    with RawWS.to(server, extensions=OFFER) as a, RawWS.to(server, extensions=OFFER) as b, \
            RawWS.to(server) as plain:
        for raw in (a, b, plain):
            subscribe_raw(raw, "z")
        data = big_data()
        publish(server, "z", data)
        fa, fb, fp = a.read_frame(), b.read_frame(), plain.read_frame()
        assert fa.rsv1 and fb.rsv1 and not fp.rsv1
        assert fa.data == fb.data
        assert len(fa.data) < len(fp.data) / 4, (len(fa.data), len(fp.data))
        assert inflate(fa.data) == fp.data
        event = json.loads(fp.data)
        assert event["data"] == data and event["seq"] == 1


def test_small_events_go_plain(start_server):
    server = start_server("--deflate-min-size", "300")
    with RawWS.to(server, extensions=OFFER) as raw:
        subscribe_raw(raw, "s")
        publish(server, "s", {"text": "x" * 100})  # JSON under 300 bytes
        f = raw.read_frame()
        assert not f.rsv1 and json.loads(f.data)["data"] == {"text": "x" * 100}
        publish(server, "s", {"text": "x" * 400})
        f = raw.read_frame()
        assert f.rsv1 and json.loads(inflate(f.data))["data"] == {"text": "x" * 400}


def test_level_zero_turns_it_off(start_server):
    server = start_server("--deflate-level", "0")
    with RawWS.to(server, extensions=OFFER) as raw:
        assert "sec-websocket-extensions" not in raw.headers
        subscribe_raw(raw, "o")
        publish(server, "o", big_data())
        assert not raw.read_frame().rsv1


def test_compressed_client_messages_keep_their_context(server):
    """The client's compressor keeps its window across messages (no
    client_no_context_takeover): the second subscribe refers back to the
    first."""
    with RawWS.to(server, extensions=OFFER) as raw:
        stream = zlib.compressobj(6, zlib.DEFLATED, -10)
        for topic in ("ctx:a", "ctx:b"):
            text = json.dumps({"type": "subscribe", "topics": [topic]})
            raw.send_frame(Opcode.TEXT, client_deflate(text, stream=stream), rsv1=True)
            assert json.loads(raw.read_frame().data)["topics"] == [topic]
        # Fragmented: RSV1 on the first frame only.
        text = client_deflate(json.dumps({"type": "ping"}), stream=stream)
        raw.send_frame(Opcode.TEXT, text[:3], rsv1=True, fin=False)
        raw.send_frame(Opcode.CONT, text[3:])
        assert json.loads(raw.read_frame().data) == {"type": "pong"}


@pytest.mark.parametrize("what,code", [
    ("bomb", 1009),          # inflates past --max-message
    ("garbage", 1007),       # not a deflate stream
    ("bad-utf8", 1007),      # inflates to invalid UTF-8
    ("rsv1-ping", 1002),     # RSV1 on a control frame
    ("rsv1-continuation", 1002),
])
def test_bad_compressed_input_closes(server, what, code):
    with RawWS.to(server, extensions=OFFER) as raw:
        if what == "bomb":
            raw.send_frame(Opcode.TEXT, client_deflate(" " * (1 << 20)), rsv1=True)
        elif what == "garbage":
            raw.send_frame(Opcode.TEXT, b"\xff\xff\xff\xff\x00\x12", rsv1=True)
        elif what == "bad-utf8":
            z = zlib.compressobj(6, zlib.DEFLATED, -10)
            data = z.compress(b'{"type":"\xff"}') + z.flush(zlib.Z_SYNC_FLUSH)
            raw.send_frame(Opcode.TEXT, data[:-4], rsv1=True)
        elif what == "rsv1-ping":
            raw.send_frame(Opcode.PING, b"p", rsv1=True)
        else:
            raw.send_frame(Opcode.TEXT, b'{"type":', fin=False)
            raw.send_frame(Opcode.CONT, b'"ping"}', rsv1=True)
        got, _reason = raw.read_close()
        assert got == code
    # The server is fine, and a compressed bomb cost it at most --max-message.
    with RawWS.to(server, extensions=OFFER) as raw:
        subscribe_raw(raw, "after", compressed=True)


def test_python_websockets_receives_compressed_events(start_server):
    server = start_server("--max-payload", "100K")

    async def run():
        async with websockets.connect(server.ws_url) as ws:
            assert "permessage-deflate" in ws.response_headers["Sec-WebSocket-Extensions"]
            await ws.send(json.dumps({"type": "subscribe", "topics": ["py"]}))
            assert json.loads(await ws.recv())["type"] == "subscribed"
            sizes = (10, 300, 5000, 60000)
            for n in sizes:
                await asyncio.get_running_loop().run_in_executor(
                    None, publish, server, "py", big_data(n))
            for i, n in enumerate(sizes):
                event = json.loads(await asyncio.wait_for(ws.recv(), WAIT))
                assert event["seq"] == i + 1 and event["data"] == big_data(n)
    asyncio.run(run())


class DeflateClient(NodeScript):
    def __init__(self, server):
        super().__init__("deflate_client.mjs", ["--url", server.ws_url])
        line = self.next_line(WAIT)
        assert line.get("open") is True, line
        self.extensions = line["extensions"]

    def send(self, obj):
        self.proc.stdin.write(json.dumps({"send": obj}) + "\n")
        self.proc.stdin.flush()

    def message(self):
        line = self.next_line(WAIT)
        assert "message" in line, line
        return line["message"]


def test_node_ws_compresses_both_ways(start_server):
    server = start_server("--max-payload", "100K")
    with DeflateClient(server) as client:
        assert client.extensions.startswith("permessage-deflate"), client.extensions
        client.send({"type": "subscribe", "topics": ["node"]})  # sent compressed
        reply = client.message()
        assert (reply["type"], reply["topics"]) == ("subscribed", ["node"]), reply
        for n in (50, 3000, 50000):
            publish(server, "node", big_data(n))
            assert client.message()["data"] == big_data(n)
        client.send({"type": "ping"})
        assert client.message() == {"type": "pong"}
        assert client.finish()["closed"] == 1000
