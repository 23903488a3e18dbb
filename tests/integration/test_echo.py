"""--echo-endpoint: /v1/echo sends every WebSocket message back, for
conformance suites that expect an echo server. Uses Python websockets."""

import asyncio
import subprocess

import websockets


def run(coro):
    return asyncio.run(asyncio.wait_for(coro, 30))


async def echo_round_trips(url):
    async with websockets.connect(url, max_size=None) as ws:
        await ws.send("héllo")
        assert await ws.recv() == "héllo"
        await ws.send(b"\x00\x01\xff")
        assert await ws.recv() == b"\x00\x01\xff"
        await ws.send(["frag", "mented ", "é"])  # one message in three frames
        assert await ws.recv() == "fragmented é"
        big = bytes(range(256)) * 4096  # 1 MiB
        await ws.send(big)
        assert await ws.recv() == big
        await ws.close(1000)
        assert ws.close_code == 1000


def test_echo_endpoint_echoes_text_binary_fragmented_and_large(start_server):
    server = start_server("--echo-endpoint", "--max-frame", "2M", "--max-message", "2M")
    run(echo_round_trips("ws://127.0.0.1:%d/v1/echo" % server.port))


def test_echo_endpoint_is_off_by_default(server):
    out = subprocess.run(["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}",
                          server.http_url + "/v1/echo"], capture_output=True, text=True,
                         timeout=10).stdout
    assert out == "404"
