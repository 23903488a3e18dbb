"""--max-connections: connections past each shard's share are refused with a
clear answer (503 on the client port, NACK overloaded on the publish port).

A refused connection gets its answer at once and is closed; an accepted one
is silent until its client speaks. So the tests read what arrives unasked
(until at least as many have answered as must be refused, and then for a
quiet second more), then prove each silent one is served. With one shard the
counts are exact; with two, SO_REUSEPORT spreads the connections by hash,
unevenly, and the server's own counters (/metrics) must be exactly what the
clients saw."""

import os
import re
import selectors
import socket
import time

import pytest

import rcproto as rp
from conftest import publish
from test_fanout_node import NodeSubscribers
from test_metrics import MetricsClient

REFUSED_BODY = b'{"error":"unavailable","message":"too many connections"}\n'
REFUSED_HTTP = (b"HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\n"
                b"Content-Length: %d\r\nConnection: close\r\n\r\n" % len(REFUSED_BODY) +
                REFUSED_BODY)
REFUSED_PUBLISHER = rp.error(rp.NACK, 0, rp.OVERLOADED, "too many connections")
# An accepted connection stays silent for as long as the tests wait (the
# default handshake timeout, 10s, would end it with an answer of its own).
SILENT = ("--handshake-timeout", "60s")


def http_status(sock):
    sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
    data = b""
    while b"\r\n" not in data:
        chunk = sock.recv(4096)
        if not chunk:
            break
        data += chunk
    return int(data.split(b" ")[1]) if data.startswith(b"HTTP/1.1 ") else None


def connect(server, port, count):
    return [socket.create_connection((server.host, port), timeout=10) for _ in range(count)]


def unasked(socks, at_least, timeout=10, quiet=1.0):
    """Reads what the server sends on |socks| before the clients say
    anything, until at least |at_least| have answered and closed and then
    |quiet| seconds pass without another. Returns ({index: bytes received}
    of the ones that closed, [indexes of the silent ones])."""
    sel = selectors.DefaultSelector()
    for i, s in enumerate(socks):
        s.setblocking(False)
        sel.register(s, selectors.EVENT_READ, i)
    received = {i: b"" for i in range(len(socks))}
    closed = set()
    deadline = time.monotonic() + timeout
    last = time.monotonic()
    while sel.get_map():
        now = time.monotonic()
        if len(closed) >= at_least and now - last >= quiet:
            break
        assert now < deadline, "%d, not %d, connections answered and closed within %ss: %r" % (
            len(closed), at_least, timeout, received)
        for key, _ in sel.select(0.05):
            i = key.data
            try:
                chunk = socks[i].recv(4096)
            except ConnectionResetError:
                chunk = b""
            received[i] += chunk
            if not chunk:
                sel.unregister(socks[i])
                closed.add(i)
                last = time.monotonic()
    sel.close()
    for s in socks:
        s.setblocking(True)
        s.settimeout(10)
    return ({i: received[i] for i in sorted(closed)},
            [i for i in range(len(socks)) if i not in closed])


def check_counters(server, refused, accepted):
    """Once the |accepted| connections are closed: the server counted exactly
    |refused| refusals and |accepted| acceptances (besides the scrape), and
    serves a new connection (the scrape) at once."""
    deadline = time.monotonic() + 10
    while len(re.findall(r"connection \d+ closed", server.log())) < accepted:
        assert time.monotonic() < deadline, "the server did not close the accepted connections:\n" + \
            server.log()[-4000:]
        time.sleep(0.02)
    client = MetricsClient(server)
    m = client.scrape()
    assert client.refused == 0, "a new connection was refused after the others closed"
    assert m.value("ringcast_connections_refused_total") == refused
    assert m.value("ringcast_connections_accepted_total") == accepted + client.accepted


def over_the_limit(start_server, shards, port, limit, count, refusal, serve):
    """A server with --max-connections |limit| over |shards|; |count|
    connections to its |port| ("client" or "publish"): the refused ones got
    exactly |refusal|, each accepted one is served (|serve|(socket) checks
    it), and with one shard exactly |limit| are accepted; then all close and
    the server's counters are checked."""
    server = start_server("--max-connections", str(limit), *SILENT, shards=shards)
    socks = connect(server, server.port if port == "client" else server.publish_port, count)
    refused, silent = unasked(socks, at_least=count - limit)
    assert all(data == refusal for data in refused.values()), refused
    for i in silent:
        serve(socks[i])
    if shards == 1:
        assert (len(refused), len(silent)) == (count - limit, limit)
    else:  # each shard serves its share: together one share (all on one shard) to |limit|
        assert limit // shards <= len(silent) <= limit, (refused, silent)
    server.wait_for_log(r"refusing connections")
    for s in socks:
        s.close()
    check_counters(server, len(refused), len(silent))


def served_http(sock):
    assert http_status(sock) == 200


def served_publisher(sock):
    rp.PubConn(sock=sock).hello()  # HELLO, WELCOME


@pytest.mark.parametrize("shards", [1, 2])
def test_connections_over_the_limit_get_503(start_server, shards):
    over_the_limit(start_server, shards, "client", 4, 12, REFUSED_HTTP, served_http)


@pytest.mark.parametrize("shards", [1, 2])
def test_publishers_over_the_limit_get_overloaded(start_server, shards):
    over_the_limit(start_server, shards, "publish", 2, 6, REFUSED_PUBLISHER, served_publisher)


def open_descriptors(pid):
    return len(os.listdir("/proc/%d/fd" % pid))


def test_connections_beyond_the_open_file_limit(start_server):
    """Connections are io_uring direct descriptors, one table per shard: a
    server whose RLIMIT_NOFILE is 256 still serves 600 WebSocket subscribers
    (4 shards of 192), delivers every event to each, and holds no process
    descriptor for any of them."""
    server = start_server(shards=4, nofile=256)
    server.wait_for_log(r"serving at most 768 connections \(what the open file limit 256 allows")
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
