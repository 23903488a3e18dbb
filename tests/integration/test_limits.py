"""--max-connections: connections past each shard's share are refused with a
clear answer (503 on the client port, NACK overloaded on the publish port)."""

import os
import socket

import rcproto as rp
from conftest import publish
from test_fanout_node import NodeSubscribers


def http_status(sock):
    sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
    data = b""
    while b"\r\n" not in data:
        chunk = sock.recv(4096)
        if not chunk:
            break
        data += chunk
    return int(data.split(b" ")[1]) if data.startswith(b"HTTP/1.1 ") else None


def test_connections_over_the_limit_get_503(start_server):
    server = start_server("--max-connections", "4", shards=2)  # two per shard
    socks = [socket.create_connection((server.host, server.port), timeout=10)
             for _ in range(12)]
    statuses = [http_status(s) for s in socks]
    assert set(statuses) <= {200, 503}, statuses
    assert statuses.count(200) <= 4
    assert statuses.count(503) >= 8
    server.wait_for_log(r"refusing connections")
    for s in socks:
        s.close()
    # Once they are gone, new connections are served again.
    server.wait_for_log(r"connection \d+ closed")
    fresh = socket.create_connection((server.host, server.port), timeout=10)
    for _ in range(50):
        if http_status(fresh) == 200:
            break
        fresh.close()
        fresh = socket.create_connection((server.host, server.port), timeout=10)
    else:
        raise AssertionError("no connection was served after the others closed")
    fresh.close()


def test_publishers_over_the_limit_get_overloaded(start_server):
    server = start_server("--max-connections", "2", shards=2)  # one per shard
    socks = [socket.create_connection((server.host, server.publish_port), timeout=10)
             for _ in range(6)]
    refused = 0
    for s in socks:
        s.settimeout(0.5)
        try:
            data = s.recv(64)
        except socket.timeout:
            continue  # an accepted publisher: the server waits for its HELLO
        assert len(data) >= rp.HEADER_LEN, data
        length, ftype, _flags, _corr = rp.HEADER.unpack(data[:rp.HEADER_LEN])
        assert ftype == rp.NACK, data
        assert rp.decode_error(data[rp.HEADER_LEN:4 + length]).code == rp.OVERLOADED, data
        refused += 1
    assert refused >= 4
    for s in socks:
        s.close()


def open_descriptors(pid):
    return len(os.listdir("/proc/%d/fd" % pid))


def test_connections_beyond_the_open_file_limit(start_server):
    """Connections are io_uring direct descriptors, one table per shard: a
    server whose RLIMIT_NOFILE is 256 still serves 600 WebSocket subscribers
    (4 shards of 192), delivers every event to each, and holds no process
    descriptor for any of them."""
    server = start_server(shards=4, nofile=256)
    server.wait_for_log(r"each shard can hold 192 connections \(the open file limit is 256")
    assert "serving at most 768 connections" in server.log()
    topics = ["nofile.a", "nofile.b"]
    with NodeSubscribers(server.ws_url, connections=600, topics=topics, expect=50,
                         timeout_ms=90000, connect_timeout_ms=60000, hold=True) as subs:
        ready = subs.wait_ready(timeout=90)
        assert ready["ready"] == 600 and ready["failed"] == 0, ready
        assert open_descriptors(server.proc.pid) < 100
        for j in range(50):
            for topic in topics:
                publish(server, topic, {"j": j})
        summary, _ = subs.wait_summary(timeout=90)
        problems = summary.pop("problems")
        assert summary["complete"] == 600 and summary["events"] == 600 * 50, (summary, problems)
        for counter in ("duplicates", "gaps", "out_of_order", "errors", "closed_early"):
            assert summary[counter] == 0, (counter, summary, problems)
        closed = subs.finish(timeout=60)
        assert closed == {"closed": 600, "close_codes": {"1000": 600}}, closed
