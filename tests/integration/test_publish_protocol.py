"""The binary publish protocol (docs/protocol/publish.md), end to end:
through ringcast-pub (the real client) and through raw frames built with
tests/integration/rcproto.py for malformed and edge-case input."""

import json
import os
import subprocess
import threading
import time

import pytest

import rcproto as rp
from conftest import binary, free_port, publish, publish_many
from rcproto import PubConn, connect_ready, recv_event, recv_events, subscribe


# ---- ringcast-pub helpers ------------------------------------------------------

def run_pub(server_addr, *args, stdin=None, timeout=60):
    """Runs ringcast-pub against |server_addr| (HOST:PORT); returns the
    CompletedProcess."""
    cmd = [binary("ringcast-pub"), "--server", server_addr] + list(args)
    return subprocess.run(cmd, input=stdin, capture_output=True, text=True, timeout=timeout)


def run_ndjson(server, lines, *args):
    """Feeds raw NDJSON |lines| (strings) to ringcast-pub; returns
    (CompletedProcess, parsed result lines)."""
    p = run_pub(server.publish_addr, *args, stdin="".join(line + "\n" for line in lines))
    return p, [json.loads(line) for line in p.stdout.splitlines()]


def assert_refused(p, error_name):
    """ringcast-pub refused an event: exit 1, nothing on stdout, the error's
    name on stderr."""
    assert p.returncode == 1, (p.returncode, p.stdout, p.stderr)
    assert p.stdout == ""
    assert error_name in p.stderr, p.stderr


def seqs_by_topic(results):
    by_topic = {}
    for r in results:
        by_topic.setdefault(r["topic"], []).append(r["seq"])
    return by_topic


def events(topics, rounds):
    """NDJSON events: |rounds| per topic, interleaved across topics."""
    return [{"topic": t, "data": {"topic": t, "i": i}} for i in range(1, rounds + 1)
            for t in topics]


# ---- through the CLI -----------------------------------------------------------

def test_single_publish_prints_the_seq_alone(server):
    p = publish(server, "cli.first", {"a": 1}, check=False)
    assert (p.returncode, p.stdout, p.stderr) == (0, "1\n", "")


def test_seqs_start_at_1_and_are_independent_per_topic(server):
    seqs = [(t, publish(server, t, {"n": n}))
            for n, t in enumerate(["s.a", "s.a", "s.b", "s.a", "s.b", "s.c"])]
    assert seqs == [("s.a", 1), ("s.a", 2), ("s.b", 1), ("s.a", 3), ("s.b", 2), ("s.c", 1)]


def test_many_topics_on_four_shards_are_sequenced_per_topic(start_server):
    server = start_server(shards=4)
    topics = ["shard.t%d" % i for i in range(40)]  # homes spread over the 4 shards
    p, results = publish_many(server, events(topics, 3))
    assert p.returncode == 0, p.stderr
    assert [r["line"] for r in results] == list(range(1, 121))
    assert all("error" not in r for r in results), results
    assert seqs_by_topic(results) == {t: [1, 2, 3] for t in topics}
    for t in topics[:4]:  # a fresh connection continues each topic's sequence
        assert publish(server, t, "next") == 4


def test_ndjson_results_in_input_order_with_bad_lines(server):
    p, results = run_ndjson(server, [
        '{"topic":"nd.a","data":{"i":1}}',
        'this is not json',
        '',
        '{"data":2}',
        '{"topic":"nd.b","data":"x","event_type":"e.t"}',
        '   ',
        '{"topic":"nd.a","data":3}',
        '[1,2]',
    ])
    assert p.returncode == 1, p.stderr
    assert [r["line"] for r in results] == [1, 2, 4, 5, 7, 8]
    assert results[0] == {"line": 1, "topic": "nd.a", "seq": 1}
    assert results[2]["error"] == "bad_input" and "topic" in results[2]["message"]
    assert results[3] == {"line": 5, "topic": "nd.b", "seq": 1}
    assert results[4] == {"line": 7, "topic": "nd.a", "seq": 2}
    for bad in (results[1], results[2], results[5]):
        assert set(bad) == {"line", "error", "message"} and bad["error"] == "bad_input", bad
    assert "line 2" in p.stderr and "line 4" in p.stderr


def test_ndjson_all_acked_exits_0_with_exact_result_lines(server):
    topics = ["ok.a", "ok.b", "ok.c"]
    p, results = publish_many(server, events(topics, 20))
    assert p.returncode == 0, p.stderr
    expected_seq = {t: 0 for t in topics}
    for n, r in enumerate(results, start=1):
        expected_seq[r["topic"]] += 1
        assert r == {"line": n, "topic": topics[(n - 1) % 3], "seq": expected_seq[r["topic"]]}
    assert len(results) == 60


@pytest.mark.parametrize("topic", ["has space", "a..b", "a.*", "a.>", ".a", "x" * 17])
def test_bad_topic_is_refused(start_server, topic):
    server = start_server("--max-topic-length", "16")
    assert_refused(publish(server, topic, "1", check=False), "bad_topic")
    assert publish(server, "x" * 16, "1") == 1  # exactly the limit is fine


def test_payload_above_max_publish_bytes_is_too_large(start_server):
    server = start_server("--max-publish-bytes", "64")
    assert_refused(publish(server, "big", "y" * 65, content_type="text/plain", check=False),
                   "too_large")
    assert publish(server, "big", "y" * 64, content_type="text/plain") == 1


def test_invalid_json_payload_is_bad_payload_and_consumes_no_seq(server):
    assert publish(server, "bp", {"ok": 1}) == 1
    assert_refused(publish(server, "bp", "{bad", content_type="application/json", check=False),
                   "bad_payload")
    assert publish(server, "bp", {"ok": 2}) == 2


def test_invalid_event_type_is_bad_request(server):
    assert_refused(publish(server, "et", "1", event_type="has space", check=False),
                   "bad_request")
    assert publish(server, "et", "1", event_type="ok.type:v1/x_y-z") == 1


def test_nothing_listening_exits_3():
    p = run_pub("127.0.0.1:%d" % free_port(), "t", "1", "--timeout", "3000")
    assert p.returncode == 3, (p.returncode, p.stderr)
    assert p.stdout == "" and p.stderr.strip()


def test_same_id_same_topic_is_delivered_once(server):
    ws = subscribe(server, "idem")
    assert publish(server, "idem", {"n": 1}, msg_id="k1") == 1
    assert publish(server, "idem", {"n": 1}, msg_id="k1") == 1
    # The payload of a repeat is ignored: only (topic, id) count.
    p, results = publish_many(server, [{"topic": "idem", "data": {"n": "other"}, "id": "k1"},
                                       {"topic": "idem", "data": "marker", "id": "k2"}])
    assert p.returncode == 0, p.stderr
    assert results == [{"line": 1, "topic": "idem", "seq": 1, "duplicate": True},
                       {"line": 2, "topic": "idem", "seq": 2}]
    first, marker = recv_event(ws), recv_event(ws)
    assert (first["seq"], first["data"]) == (1, {"n": 1})
    assert (marker["seq"], marker["data"]) == (2, "marker")  # no second copy in between
    ws.close()


def test_same_id_on_another_topic_is_a_new_event(server):
    ws = subscribe(server, "idem.x", "idem.y")
    assert publish(server, "idem.x", "1", msg_id="shared") == 1
    assert publish(server, "idem.y", "1", msg_id="shared") == 1
    p, results = publish_many(server, [{"topic": "idem.y", "data": 2, "id": "shared"}])
    assert results == [{"line": 1, "topic": "idem.y", "seq": 1, "duplicate": True}]
    got = {(e["topic"], e["seq"]) for e in recv_events(ws, 2)}
    assert got == {("idem.x", 1), ("idem.y", 1)}
    ws.close()


def test_small_server_inflight_limit_is_backpressure_not_errors(start_server):
    server = start_server("--max-inflight", "4")
    topics = ["bp.a", "bp.b", "bp.c", "bp.d"]
    p, results = publish_many(server, events(topics, 500), window=256)
    assert p.returncode == 0, p.stderr
    assert len(results) == 2000
    assert seqs_by_topic(results) == {t: list(range(1, 501)) for t in topics}


def test_subscriber_gets_every_topic_in_order_across_shards(start_server):
    server = start_server(shards=4)
    topics = ["xs.%d" % i for i in range(8)]
    ws = subscribe(server, *topics)
    p, results = publish_many(server, events(topics, 500))
    assert p.returncode == 0, p.stderr
    assert seqs_by_topic(results) == {t: list(range(1, 501)) for t in topics}
    received = {t: [] for t in topics}
    for e in recv_events(ws, 4000, timeout=60):
        assert e["data"] == {"topic": e["topic"], "i": e["seq"]}
        received[e["topic"]].append(e["seq"])
    assert received == {t: list(range(1, 501)) for t in topics}
    ws.close()


# ---- raw protocol: handshake ---------------------------------------------------

def test_welcome_announces_version_1_and_the_flag_limits(start_server):
    server = start_server("--max-publish-bytes", "1000", "--max-topic-length", "16",
                          "--max-inflight", "7")
    with PubConn(server) as conn:
        w = conn.hello(corr=77)
        assert (w.version, w.max_payload, w.max_topic_len, w.max_inflight) == (1, 1000, 16, 7)
        assert w.max_frame >= 6 + 2 + 16 + 3 * 256 + 4 + 1000


def test_welcome_announces_the_default_limits(server):
    with PubConn(server) as conn:
        w = conn.hello()
        assert (w.version, w.max_payload, w.max_topic_len, w.max_inflight) == \
            (1, 16 << 20, 256, 1024)
        assert w.max_frame >= 6 + 2 + 256 + 3 * 256 + 4 + (16 << 20)


def test_ping_gets_pong_with_the_same_bytes_and_corr(server):
    conn, _ = connect_ready(server)
    datas = [os.urandom(n) for n in range(65)]
    # All 65 pipelined in one write, then each answered in turn.
    conn.send(b"".join(rp.ping(1000 + n, d) for n, d in enumerate(datas)))
    for n, d in enumerate(datas):
        assert conn.expect(rp.PONG, 1000 + n).body == d
    conn.ping_roundtrip(0xFFFFFFFF, b"max corr")
    conn.close()


@pytest.mark.parametrize("body, why", [
    (rp.hello_body(magic=0x52435032), "bad magic"),
    (b"GET ", "not even a HELLO"),
    (b"RCP", "body shorter than the magic"),
    (rp.hello_body(version=2), "version 2"),
    (rp.hello_body(version=0), "version 0"),
    (rp.hello_body(version=2)[:6], "version 2 with a body laid out differently"),
])
def test_hello_with_unknown_magic_or_version_is_unsupported(server, body, why):
    with PubConn(server) as conn:
        conn.send(rp.frame(rp.HELLO, body, corr=5))
        conn.expect_fatal(rp.UNSUPPORTED_VERSION, corr=5)


@pytest.mark.parametrize("body", [
    rp.hello_body() + b"\0",                      # trailing byte
    rp.hello_body()[:6],                          # magic and version only
    rp.hello_body(token=b"abc")[:-5],             # token length beyond the body
    rp.hello_body(token=b"t" * 8193),             # token above 8192
], ids=["trailing-byte", "truncated", "token-past-end", "token-too-long"])
def test_malformed_hello_with_right_magic_is_bad_frame(server, body):
    with PubConn(server) as conn:
        conn.send(rp.frame(rp.HELLO, body, corr=6))
        conn.expect_fatal(rp.BAD_FRAME, corr=6)


def test_requests_pipelined_behind_a_refused_hello_are_not_processed(server):
    with PubConn(server) as conn:
        conn.send(rp.hello(1, version=2) + rp.publish(2, "behind", b"1") + rp.ping(3))
        conn.expect_fatal(rp.UNSUPPORTED_VERSION, corr=1)
    assert publish(server, "behind", "1") == 1


@pytest.mark.parametrize("first", [
    rp.publish(9, "early", b"1"),
    rp.ping(9, b"x"),
    rp.ping(9, b"x", ftype=rp.PONG),
], ids=["PUBLISH", "PING", "PONG"])
def test_request_before_hello_is_not_ready(server, first):
    with PubConn(server) as conn:
        conn.send(first)
        conn.expect_fatal(rp.NOT_READY, corr=9)
    assert publish(server, "early", "1") == 1  # the early PUBLISH was not delivered


def test_second_hello_is_not_ready(server):
    conn, _ = connect_ready(server)
    conn.send(rp.hello(corr=2))
    conn.expect_fatal(rp.NOT_READY, corr=2)


def test_no_hello_within_the_handshake_timeout_is_not_ready(start_server):
    server = start_server("--handshake-timeout", "300ms")
    idle, partial = PubConn(server), PubConn(server)
    partial.send(rp.hello()[:7])  # an incomplete HELLO does not count
    for conn in (idle, partial):
        conn.expect_fatal(rp.NOT_READY, corr=0, timeout=5)
        conn.close()
    # A publisher that said HELLO in time is not affected by the timer.
    conn, _ = connect_ready(server)
    time.sleep(0.6)
    conn.ping_roundtrip(2)
    conn.close()


# ---- raw protocol: malformed frames --------------------------------------------

def test_non_zero_flags_is_bad_frame(server):
    conn, _ = connect_ready(server)
    conn.send(rp.frame(rp.PING, b"", corr=4, flags=1))
    conn.expect_fatal(rp.BAD_FRAME, corr=4)


def test_non_zero_flags_on_hello_is_bad_frame(server):
    with PubConn(server) as conn:
        conn.send(rp.frame(rp.HELLO, rp.hello_body(), corr=1, flags=0x80))
        conn.expect_fatal(rp.BAD_FRAME, corr=1)


@pytest.mark.parametrize("ftype", [0x00, 0x03, 0x13, 0x7F, 0xFF,
                                   rp.WELCOME, rp.ACK, rp.NACK, rp.GOAWAY])
def test_unknown_or_server_only_frame_type_is_bad_frame(server, ftype):
    conn, _ = connect_ready(server)
    conn.send(rp.frame(ftype, b"\0" * 16, corr=3))
    conn.expect_fatal(rp.BAD_FRAME, corr=3)


@pytest.mark.parametrize("length", [0, 1, 5])
def test_length_below_6_is_bad_frame(server, length):
    conn, _ = connect_ready(server)
    conn.send(rp.frame(rp.PING, b"", corr=3, length=length))
    conn.expect_fatal(rp.BAD_FRAME)


def test_length_above_max_frame_is_bad_frame_without_the_body(start_server):
    server = start_server("--max-publish-bytes", "1K")
    conn, welcome = connect_ready(server)
    # Only the header: the server must judge the length without waiting.
    conn.send(rp.frame(rp.PUBLISH, b"", corr=3, length=welcome.max_frame + 1))
    conn.expect_fatal(rp.BAD_FRAME)


def test_huge_length_is_bad_frame(server):
    conn, _ = connect_ready(server)
    conn.send(rp.frame(rp.PUBLISH, b"", corr=3, length=0xFFFFFFFF))
    conn.expect_fatal(rp.BAD_FRAME)


def test_frame_of_exactly_max_frame_is_accepted(start_server):
    """length == max_frame is legal framing: the publish inside gets a
    non-fatal NACK (its topic is above the limit), and the connection goes
    on. The bytes arrive so that the server holds all but the last 3 bytes of
    the frame when a full receive buffer (16K) arrives."""
    server = start_server("--max-publish-bytes", "1K")
    conn, welcome = connect_ready(server)

    def max_frame_publish(corr):
        topic = b"t" * 65535
        fixed = rp.MIN_LENGTH + len(rp.publish_body(topic, b""))
        f = rp.publish(corr, topic, b"p" * (welcome.max_frame - fixed))
        assert len(f) == 4 + welcome.max_frame
        return f

    first, second = max_frame_publish(2), max_frame_publish(3)
    conn.send(first[:-3])
    time.sleep(0.5)  # let the server buffer it
    conn.send(first[-3:] + second)
    conn.expect_nack(rp.BAD_TOPIC, corr=2)
    conn.expect_nack(rp.BAD_TOPIC, corr=3)
    conn.ping_roundtrip(4)
    conn.close()


@pytest.mark.parametrize("body", [
    b"",                                                          # nothing at all
    b"\x00",                                                      # half a topic length
    rp.publish_body("t", b"12345", payload_len=6),                # payload past the end
    rp.publish_body("t", b"12345", payload_len=0xFFFFFFFF),       # payload far past the end
    rp.publish_body("t", b"12345")[:-6],                          # cut inside payload_len
    rp.publish_body("t", b"1") + b"\0",                           # trailing byte
    rp.publish_body("t", b"12345", payload_len=4),                # payload_len short: trailing
    b"\xff\xff" + b"t" * 20,                                      # topic past the end
    rp.publish_body("", b"1"),                                    # topic_len 0
], ids=["empty", "half-topic-len", "payload-1-past", "payload-far-past", "cut-in-len",
        "trailing-byte", "payload-len-short", "topic-past-end", "empty-topic"])
def test_publish_body_inconsistent_with_the_frame_is_bad_frame(server, body):
    conn, _ = connect_ready(server)
    conn.send(rp.frame(rp.PUBLISH, body, corr=8))
    conn.expect_fatal(rp.BAD_FRAME, corr=8)
    assert publish(server, "t", "1") == 1  # nothing was delivered


def test_ping_data_above_64_bytes_is_bad_frame(server):
    conn, _ = connect_ready(server)
    conn.send(rp.ping(5, b"x" * 65))
    conn.expect_fatal(rp.BAD_FRAME, corr=5)


@pytest.mark.parametrize("text", [b"GET / HTTP/1.1\r\n\r\n",
                                  b"GET /v1/ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n\r\n"])
def test_http_on_the_publish_port_gets_an_error_and_close(server, text):
    with PubConn(server) as conn:
        conn.send(text)
        conn.expect_fatal(rp.BAD_FRAME, timeout=5)


# ---- raw protocol: publish semantics -------------------------------------------

def test_raw_publish_is_acked_with_its_corr_and_delivered(server):
    ws = subscribe(server, "jobs:42")
    conn, _ = connect_ready(server)
    conn.send(rp.publish(0xFFFFFFFF, "jobs:42", b'{"ok":true}', event_type="job.done",
                         content_type="application/json", msg_id="a1"))
    assert conn.expect_ack(0xFFFFFFFF) == rp.Ack(1, 0)
    e = recv_event(ws)
    assert (e["event_type"], e["topic"], e["seq"], e["data"]) == \
        ("job.done", "jobs:42", 1, {"ok": True})
    conn.close()
    ws.close()


@pytest.mark.parametrize("fields, code", [
    (dict(topic="x" * 17, payload=b"1"), rp.BAD_TOPIC),
    (dict(topic="a.*", payload=b"1"), rp.BAD_TOPIC),
    (dict(topic=b"caf\xc3", payload=b"1"), rp.BAD_TOPIC),
    (dict(topic="v", payload=b"y" * 65), rp.TOO_LARGE),
    (dict(topic="v", payload=b"{bad", content_type="application/json"), rp.BAD_PAYLOAD),
    (dict(topic="v", payload=b"", content_type="application/json"), rp.BAD_PAYLOAD),
    (dict(topic="v", payload=b"{bad", content_type="application/vnd.a+json"), rp.BAD_PAYLOAD),
    (dict(topic="v", payload=b"{bad", content_type="Application/JSON; charset=utf-8"),
     rp.BAD_PAYLOAD),
    (dict(topic="v", payload=b"{bad", content_type="application/json "), rp.BAD_PAYLOAD),
    (dict(topic="v", payload=b"{bad", content_type=" application/json"), rp.BAD_PAYLOAD),
    (dict(topic="v", payload=b"\xff\xfe", content_type="text/plain"), rp.BAD_PAYLOAD),
    (dict(topic="v", payload=b"1", event_type="a b"), rp.BAD_REQUEST),
    (dict(topic="v", payload=b"1", msg_id=b"\xc3\x28"), rp.BAD_REQUEST),
], ids=["topic-too-long", "wildcard", "topic-not-utf8", "too-large", "bad-json", "empty-json",
        "bad-plus-json", "bad-json-params",
        "bad-json-trailing-space", "bad-json-leading-space", "text-not-utf8",
        "event-type", "msg-id-not-utf8"])
def test_invalid_publish_gets_a_non_fatal_nack_and_no_seq(start_server, fields, code):
    server = start_server("--max-topic-length", "16", "--max-publish-bytes", "64")
    conn, _ = connect_ready(server)
    conn.send(rp.publish(2, **fields))
    conn.expect_nack(code, corr=2)
    conn.send(rp.publish(3, "v", b"ok", content_type="text/plain"))
    assert conn.expect_ack(3) == rp.Ack(1, 0)  # still usable; nothing consumed a seq
    conn.close()


def test_topic_limit_is_a_non_fatal_overloaded(start_server):
    server = start_server("--max-topics", "1", shards=1)
    conn, _ = connect_ready(server)
    conn.send(rp.publish(2, "first", b"1") + rp.publish(3, "second", b"1") +
              rp.publish(4, "first", b"2"))
    assert conn.expect_ack(2).seq == 1
    conn.expect_nack(rp.OVERLOADED, corr=3)
    assert conn.expect_ack(4).seq == 2
    conn.close()


def test_empty_text_payload_and_empty_event_type(server):
    ws = subscribe(server, "empty")
    conn, _ = connect_ready(server)
    conn.send(rp.publish(2, "empty", b""))
    assert conn.expect_ack(2).seq == 1
    e = recv_event(ws)
    assert (e["event_type"], e["data"]) == ("message", "")
    conn.close()
    ws.close()


def test_raw_duplicate_ack_has_the_flag_and_the_first_seq(server):
    conn, _ = connect_ready(server)
    conn.send(rp.publish(2, "dup", b"a", msg_id="m") + rp.publish(3, "dup", b"b") +
              rp.publish(4, "dup", b"c", msg_id="m"))
    assert [conn.expect_ack(c) for c in (2, 3, 4)] == \
        [rp.Ack(1, 0), rp.Ack(2, 0), rp.Ack(1, rp.ACK_DUPLICATE)]
    conn.close()


def pipeline(conn, frames, replies, timeout=60):
    """Writes |frames| from a thread while reading |replies| frames here, so
    that neither side's socket buffer can deadlock the test. Returns the
    replies."""
    errors = []

    def writer():
        try:
            conn.send(b"".join(frames))
        except OSError as e:
            errors.append(e)

    t = threading.Thread(target=writer, daemon=True)
    t.start()
    deadline = time.monotonic() + timeout
    got = [conn.recv_frame(max(0.1, deadline - time.monotonic())) for _ in range(replies)]
    t.join(timeout)
    assert not errors, errors
    return got


def test_raw_pipelining_far_beyond_max_inflight_is_backpressure(start_server):
    server = start_server("--max-inflight", "4", shards=4)
    conn, welcome = connect_ready(server)
    assert welcome.max_inflight == 4
    topics = ["pipe.%d" % i for i in range(4)]
    frames = [rp.publish(10 + n, topics[n % 4], b"x" * 200) for n in range(2000)]
    replies = pipeline(conn, frames, 2000)
    seqs = {t: [] for t in topics}
    for f in replies:
        assert f is not None and f.type == rp.ACK, rp.describe(f)
        n = f.corr - 10
        seqs[topics[n % 4]].append((n, rp.decode_ack(f.body).seq))
    for t in topics:  # replies per topic in request order, seqs 1..500
        assert [s for _, s in seqs[t]] == list(range(1, 501))
        assert [n for n, _ in seqs[t]] == sorted(n for n, _ in seqs[t])
    conn.ping_roundtrip(1)
    conn.close()


def test_abrupt_publisher_disconnect_does_not_disturb_the_server(start_server):
    server = start_server("--max-inflight", "64", shards=4)
    topics = ["abort.%d" % i for i in range(4)]
    ws = subscribe(server, *topics)
    for round_ in range(5):
        conn, _ = connect_ready(server)
        conn.send(b"".join(rp.publish(2 + n, topics[n % 4], b'"%d"' % n,
                                      content_type="application/json")
                           for n in range(400)))
        conn.abort()  # reset with publishes in flight and replies unread
    # Other publishers keep working, and the subscriber saw every sequenced
    # event of each topic exactly once, in order.
    p, results = publish_many(server, [{"topic": t, "data": "last"} for t in topics])
    assert p.returncode == 0, p.stderr
    last = {r["topic"]: r["seq"] for r in results}
    received = {t: [] for t in topics}
    for e in recv_events(ws, sum(last.values()), timeout=60):
        received[e["topic"]].append(e["seq"])
    assert received == {t: list(range(1, last[t] + 1)) for t in topics}
    conn, _ = connect_ready(server)
    conn.ping_roundtrip(9)
    conn.close()
    ws.close()
