"""Stopping ringcast (SIGTERM, SIGINT, a second signal) with subscribers and
publishers connected, and refusing to start (port in use, bad flags)."""

import json
import os
import re
import signal
import socket
import struct
import subprocess
import time

import pytest
import websocket

import rcproto as rp
from conftest import TOP, binary, publish, publish_many
from rcproto import connect_ready, subscribe

SIGNALS = [signal.SIGTERM, signal.SIGINT]
SIGNAL_IDS = ["SIGTERM", "SIGINT"]


# ---- helpers -------------------------------------------------------------------

def send_signal(server, sig):
    """Sends |sig| and returns the monotonic time it was sent."""
    sent = time.monotonic()
    server.proc.send_signal(sig)
    return sent


def wait_exit(server, sent, within):
    """The server exits within |within| seconds of |sent|; then the usual
    checks (exit status 0, no sanitizer report) run."""
    try:
        server.proc.wait(max(0.1, sent + within - time.monotonic()))
    except subprocess.TimeoutExpired:
        raise AssertionError("ringcast still running %.1fs after the signal:\n%s" %
                             (within, server.log()[-4000:]))
    server.stop()


def read_until_close(ws, timeout=15):
    """Reads |ws| until the server's close frame. Returns (text messages as
    JSON, close code, reason); asserts the TCP connection then ends."""
    deadline = time.monotonic() + timeout
    messages = []
    while True:
        left = deadline - time.monotonic()
        assert left > 0, "no close frame within %ss (got %d messages)" % (timeout, len(messages))
        ws.settimeout(left)
        opcode, frame = ws.recv_data_frame(True)
        if opcode == websocket.ABNF.OPCODE_CLOSE:
            break
        if opcode == websocket.ABNF.OPCODE_TEXT:
            messages.append(json.loads(frame.data))
    assert len(frame.data) >= 2, "close frame without a code: %r" % (frame.data,)
    code = struct.unpack(">H", frame.data[:2])[0]
    assert_tcp_ends(ws.sock, deadline)
    return messages, code, frame.data[2:].decode()


def assert_tcp_ends(sock, deadline):
    while True:
        sock.settimeout(max(0.1, deadline - time.monotonic()))
        try:
            data = sock.recv(4096)
        except ConnectionResetError:
            return
        except socket.timeout:
            raise AssertionError("the TCP connection did not end after the close frame")
        assert not data, "data after the close frame: %r" % (data[:80],)
        return


def slow_subscriber(server, topic, backlog_bytes):
    """A subscriber with a tiny receive buffer that never reads, and about
    |backlog_bytes| of events queued for it in the server."""
    ws = subscribe(server, topic, sockopt=((socket.SOL_SOCKET, socket.SO_RCVBUF, 4096),))
    chunk = "z" * 60000
    count = backlog_bytes // len(chunk)
    p, results = publish_many(server, [{"topic": topic, "data": chunk}] * count)
    assert p.returncode == 0, p.stderr
    assert len(results) == count
    return ws


def run_ringcast(*args, timeout=20):
    """Runs ringcast to completion (startup errors); never hangs the test."""
    try:
        return subprocess.run([binary("ringcast")] + list(args), capture_output=True,
                              text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        raise AssertionError("ringcast %s did not exit within %ss" % (" ".join(args), timeout))


def config_flag_names():
    """Every flag of the table in src/util/config.c."""
    with open(os.path.join(TOP, "src", "util", "config.c")) as f:
        text = f.read()
    table = text[text.index("static const struct opt options[]"):]
    table = table[:table.index("};")]
    names = re.findall(r'\{"([a-z0-9-]+)",\s*(?:"[^"]*"|NULL),\s*OPT_', table)
    assert len(names) >= 20, names
    return names


# ---- signals -------------------------------------------------------------------

@pytest.mark.parametrize("sig", SIGNALS, ids=SIGNAL_IDS)
def test_subscribers_get_pending_events_then_close_1001(start_server, sig):
    server = start_server("--shutdown-timeout", "3s")
    topics = ["bye.a", "bye.b"]
    subscribers = [subscribe(server, *topics) for _ in range(3)]
    p, results = publish_many(server, [{"topic": t, "data": i} for i in range(50)
                                       for t in topics])
    assert p.returncode == 0, p.stderr  # every event was ACKed before the signal
    sent = send_signal(server, sig)
    for ws in subscribers:
        messages, code, _ = read_until_close(ws)
        assert code == 1001
        for t in topics:  # topics have their own order; all 50 of each came first
            assert [m["seq"] for m in messages if m["topic"] == t] == list(range(1, 51))
        assert len(messages) == len(results)
    wait_exit(server, sent, 3 + 1)
    name = "SIGTERM" if sig == signal.SIGTERM else "SIGINT"
    assert re.search(name + r": closing connections", server.log())


@pytest.mark.parametrize("sig", SIGNALS, ids=SIGNAL_IDS)
def test_publisher_gets_goaway_then_eof(start_server, sig):
    server = start_server("--shutdown-timeout", "3s")
    conn, _ = connect_ready(server)
    conn.send(rp.publish(2, "pub.bye", b"1"))
    assert conn.expect_ack(2).seq == 1
    sent = send_signal(server, sig)
    goaway = conn.expect(rp.GOAWAY, corr=0)
    assert rp.decode_error(goaway.body).code == rp.SHUTTING_DOWN
    conn.expect_eof(timeout=5)
    conn.close()
    wait_exit(server, sent, 3 + 1)


def test_publisher_with_requests_in_flight_gets_every_reply_before_eof(start_server):
    server = start_server("--shutdown-timeout", "5s", "--max-inflight", "8", shards=4)
    topics = ["inflight.%d" % i for i in range(4)]
    conn, _ = connect_ready(server)
    corrs = list(range(2, 2002))
    conn.send(b"".join(rp.publish(c, topics[c % 4], b"x" * 100) for c in corrs))
    sent = send_signal(server, signal.SIGTERM)
    goaways, replies = [], {}
    while True:
        f = conn.recv_frame(timeout=10)
        if f is None:
            break
        if f.type == rp.GOAWAY:
            goaways.append(f)
            continue
        assert f.corr in corrs and f.corr not in replies, rp.describe(f)
        if f.type == rp.NACK:
            assert rp.decode_error(f.body).code == rp.SHUTTING_DOWN, rp.describe(f)
        else:
            assert f.type == rp.ACK, rp.describe(f)
        replies[f.corr] = f
    assert len(goaways) == 1 and goaways[0].corr == 0, [rp.describe(g) for g in goaways]
    assert rp.decode_error(goaways[0].body).code == rp.SHUTTING_DOWN
    # What was sequenced is contiguous per topic (no seq lost or repeated).
    seqs = {t: [] for t in topics}
    for corr in sorted(replies):
        if replies[corr].type == rp.ACK:
            seqs[topics[corr % 4]].append(rp.decode_ack(replies[corr].body).seq)
    for t in topics:
        assert seqs[t] == list(range(1, len(seqs[t]) + 1)), (t, seqs[t][:20])
    conn.close()
    wait_exit(server, sent, 5 + 1)


def test_subscriber_that_never_reads_does_not_hold_up_shutdown(start_server):
    server = start_server("--shutdown-timeout", "2s", "--close-timeout", "60s",
                          "--max-queued-bytes", "64M", "--max-payload", "1M")
    ws = slow_subscriber(server, "stuck", 6 << 20)
    reader = subscribe(server, "stuck.other")  # a healthy one on the side
    sent = send_signal(server, signal.SIGTERM)
    messages, code, _ = read_until_close(reader)
    assert (messages, code) == ([], 1001)
    wait_exit(server, sent, 2 + 4)
    ws.sock.close()


def test_second_sigterm_during_a_slow_drain_stops_at_once(start_server):
    server = start_server("--shutdown-timeout", "60s", "--close-timeout", "60s",
                          "--max-queued-bytes", "64M", "--max-payload", "1M")
    ws = slow_subscriber(server, "stuck", 6 << 20)
    send_signal(server, signal.SIGTERM)
    server.wait_for_log(r"SIGTERM: closing connections")
    time.sleep(1)
    assert server.proc.poll() is None, "the drain was not slow: nothing to test"
    sent = send_signal(server, signal.SIGTERM)
    wait_exit(server, sent, 10)  # far below the 60 s the drain would take
    assert "second signal" in server.log()
    ws.sock.close()


def test_new_connections_are_not_served_while_draining(start_server):
    server = start_server("--shutdown-timeout", "60s", "--close-timeout", "60s",
                          "--max-queued-bytes", "64M", "--max-payload", "1M")
    ws = slow_subscriber(server, "stuck", 6 << 20)
    sent = send_signal(server, signal.SIGTERM)
    server.wait_for_log(r"SIGTERM: closing connections")
    p = publish(server, "late", "1", check=False)
    assert p.returncode == 3, (p.returncode, p.stdout, p.stderr)
    send_signal(server, signal.SIGTERM)
    wait_exit(server, sent, 15)
    ws.sock.close()


# ---- startup errors ------------------------------------------------------------

@pytest.mark.parametrize("which", ["--listen", "--publish-listen"])
def test_port_in_use_is_a_startup_error(which):
    with socket.socket() as other:
        other.bind(("127.0.0.1", 0))
        other.listen()
        port = other.getsockname()[1]
        endpoints = {"--listen": "127.0.0.1:0", "--publish-listen": "127.0.0.1:0"}
        endpoints[which] = "127.0.0.1:%d" % port
        args = ["--shards", "2"] + [x for kv in endpoints.items() for x in kv]
        p = run_ringcast(*args)
    assert p.returncode != 0, p.stderr
    assert re.search(r"address already in use", p.stderr, re.I), p.stderr
    assert str(port) in p.stderr
    assert "ringcast listening" not in p.stderr


def test_port_in_use_on_the_wildcard_address_is_a_startup_error():
    with socket.socket() as other:
        other.bind(("0.0.0.0", 0))
        other.listen()
        port = other.getsockname()[1]
        p = run_ringcast("--shards", "2", "--listen", "127.0.0.1:%d" % port,
                         "--publish-listen", "127.0.0.1:0")
    assert p.returncode != 0, p.stderr
    assert re.search(r"address already in use", p.stderr, re.I), p.stderr


@pytest.mark.parametrize("args, flag", [
    (["--shards", "0"], "--shards"),
    (["--shards=0"], "--shards"),
    (["--shards", "many"], "--shards"),
    (["--listen", "nonsense"], "--listen"),
    (["--publish-listen", "127.0.0.1:99999"], "--publish-listen"),
    (["--ring-size", "1000"], "--ring-size"),
    (["--handshake-timeout", "5 parsecs"], "--handshake-timeout"),
    (["--max-publish-bytes", "2G"], "--max-publish-bytes"),
    (["--log-level", "loud"], "--log-level"),
    (["--no-such-option"], "--no-such-option"),
    (["--shards"], "--shards"),
], ids=["shards-0", "shards=0", "shards-word", "listen-nonsense", "port-too-big",
        "ring-size-not-pow2", "bad-duration", "size-above-max", "log-level", "unknown",
        "missing-value"])
def test_bad_flag_exits_2_naming_the_flag(args, flag):
    base = ["--listen", "127.0.0.1:0", "--publish-listen", "127.0.0.1:0"]
    p = run_ringcast(*(base + args))
    assert p.returncode == 2, (p.returncode, p.stderr)
    assert flag in p.stderr, p.stderr
    assert "ringcast listening" not in p.stderr


def test_unexpected_argument_exits_2():
    p = run_ringcast("--listen", "127.0.0.1:0", "--publish-listen", "127.0.0.1:0", "extra")
    assert p.returncode == 2 and "extra" in p.stderr, (p.returncode, p.stderr)


def test_help_lists_every_flag_of_the_config_table():
    p = run_ringcast("--help")
    assert p.returncode == 0, p.stderr
    listed = set(re.findall(r"^\s+(?:-h, )?--([a-z0-9-]+)", p.stdout, re.M))
    missing = [n for n in config_flag_names() if n not in listed]
    assert not missing, "--help does not list %s:\n%s" % (missing, p.stdout)
    assert {"help", "version"} <= listed


def test_version_exits_0():
    p = run_ringcast("--version")
    assert p.returncode == 0 and re.match(r"ringcast \d+\.\d+\.\d+", p.stdout), p
