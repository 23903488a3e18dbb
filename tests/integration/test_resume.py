"""WebSocket positions, resume with "since", gaps and the history command
(docs/protocol/websocket.md, docs/history.md), with websocket-client
subscribers and HTTP publishers."""

import http.client
import json
import random
import socket
import struct
import threading
import time

import pytest
import websocket

from nodehelpers import NodeScript

STEP = 15
NULL_EPOCH = "0" * 16


class Publisher:
    """POST /v1/publish on one keep-alive connection."""

    def __init__(self, server):
        self.conn = http.client.HTTPConnection(server.host, server.port, timeout=STEP)

    def publish(self, topic, data):
        self.conn.request("POST", "/v1/publish", json.dumps({"topic": topic, "data": data}),
                          {"Content-Type": "application/json"})
        r = self.conn.getresponse()
        body = r.read()
        assert r.status == 200, body
        return json.loads(body)["seq"]

    def close(self):
        self.conn.close()


def connect(server):
    return websocket.create_connection(server.ws_url, timeout=STEP)


def recv(ws):
    return json.loads(ws.recv())


def subscribe(ws, topics, since=None):
    msg = {"type": "subscribe", "topics": topics}
    if since is not None:
        msg["since"] = since
    ws.send(json.dumps(msg))
    reply = recv(ws)
    assert reply["type"] == "subscribed" and reply["topics"] == topics, reply
    return reply


def events(ws, n):
    return [recv(ws) for _ in range(n)]


def rst(ws):
    """Drops the connection with a TCP reset."""
    ws.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    ws.sock.close()


def test_subscribed_gives_positions_of_exact_topics(start_server):
    server = start_server(shards=4)
    pub = Publisher(server)
    for i in range(3):
        pub.publish("pos.a", {"i": i})
    ws = connect(server)
    reply = subscribe(ws, ["pos.a", "pos.never", "pos.*"])
    assert set(reply["positions"]) == {"pos.a", "pos.never"}, reply
    assert reply["positions"]["pos.a"]["seq"] == 3
    assert reply["positions"]["pos.a"]["epoch"] != NULL_EPOCH
    # A topic never published starts its sequence (an epoch, seq 0) when it
    # is first subscribed to.
    never = reply["positions"]["pos.never"]
    assert never["seq"] == 0 and never["epoch"] not in (NULL_EPOCH, reply["positions"]["pos.a"]["epoch"])
    ws3 = connect(server)
    assert subscribe(ws3, ["pos.never"])["positions"]["pos.never"] == never
    # Patterns only: no positions.
    ws2 = connect(server)
    assert "positions" not in subscribe(ws2, ["pos.>"])
    # The next event is the one after the position, whichever path it takes.
    assert pub.publish("pos.a", {"i": 3}) == 4
    assert recv(ws)["seq"] == 4
    assert recv(ws2)["seq"] == 4


def test_since_replays_then_goes_live(start_server):
    server = start_server(shards=4)
    pub = Publisher(server)
    topics = ["resume.%d" % i for i in range(8)]
    for t in topics:
        for i in range(5):
            pub.publish(t, {"i": i + 1})
    ws = connect(server)
    positions = subscribe(ws, topics)["positions"]
    for t in topics:
        assert positions[t]["seq"] == 5
    ws.close()
    for t in topics:
        pub.publish(t, {"i": 6})
        pub.publish(t, {"i": 7})
    ws = connect(server)
    since = {t: {"epoch": positions[t]["epoch"], "seq": 5} for t in topics}
    reply = subscribe(ws, topics, since)
    got = {t: [] for t in topics}
    for e in events(ws, 2 * len(topics)):
        assert e.get("type") is None and e["data"] == {"i": e["seq"]}, e
        got[e["topic"]].append(e["seq"])
    assert got == {t: [6, 7] for t in topics}, got
    assert all(reply["positions"][t]["seq"] == 7 for t in topics)
    pub.publish(topics[0], {"i": 8})
    assert recv(ws)["seq"] == 8


def test_since_nothing_seen_replays_from_the_start(start_server):
    server = start_server(shards=2)
    pub = Publisher(server)
    pub.publish("fresh.a", {"i": 1})
    pub.publish("fresh.a", {"i": 2})
    ws = connect(server)
    subscribe(ws, ["fresh.a"], {"fresh.a": {"epoch": NULL_EPOCH, "seq": 0}})
    assert [e["seq"] for e in events(ws, 2)] == [1, 2]


def test_gap_too_old_when_history_let_go(start_server):
    server = start_server("--history-size", "2", shards=2)
    pub = Publisher(server)
    for i in range(5):
        pub.publish("old.a", {"i": i + 1})
    ws = connect(server)
    epoch = subscribe(ws, ["old.a"])["positions"]["old.a"]["epoch"]
    ws.close()
    ws = connect(server)
    subscribe(ws, ["old.a"], {"old.a": {"epoch": epoch, "seq": 1}})
    gap = recv(ws)
    assert gap == {"type": "gap", "topic": "old.a", "reason": "too_old", "epoch": epoch,
                   "first_seq": 4}, gap
    assert [e["seq"] for e in events(ws, 2)] == [4, 5]


def test_gap_too_old_after_ttl(start_server):
    server = start_server("--history-ttl", "1s", shards=2)
    pub = Publisher(server)
    pub.publish("ttl.a", {"i": 1})
    ws = connect(server)
    epoch = subscribe(ws, ["ttl.a"])["positions"]["ttl.a"]["epoch"]
    ws.close()
    pub.publish("ttl.a", {"i": 2})
    time.sleep(1.5)
    ws = connect(server)
    subscribe(ws, ["ttl.a"], {"ttl.a": {"epoch": epoch, "seq": 1}})
    assert recv(ws) == {"type": "gap", "topic": "ttl.a", "reason": "too_old", "epoch": epoch,
                        "first_seq": 3}
    pub.publish("ttl.a", {"i": 3})
    assert recv(ws)["seq"] == 3


def test_gap_epoch_changed_after_restart(start_server):
    first = start_server(shards=2)
    pub = Publisher(first)
    pub.publish("job.1", {"i": 1})
    ws = connect(first)
    old = subscribe(ws, ["job.1"])["positions"]["job.1"]
    ws.close()
    pub.close()
    first.stop()
    second = start_server(shards=2)
    ws = connect(second)
    new = subscribe(ws, ["job.1"], {"job.1": old})["positions"]["job.1"]
    assert new["seq"] == 0 and new["epoch"] not in (NULL_EPOCH, old["epoch"])
    assert recv(ws) == {"type": "gap", "topic": "job.1", "reason": "epoch_changed",
                        "epoch": new["epoch"], "first_seq": 1}
    pub = Publisher(second)
    pub.publish("job.1", {"i": 1})
    assert recv(ws)["seq"] == 1
    ws.close()
    # Resuming with the first server's position once the new epoch holds events.
    pub.publish("job.1", {"i": 2})
    ws = connect(second)
    subscribe(ws, ["job.1"], {"job.1": old})
    assert recv(ws) == {"type": "gap", "topic": "job.1", "reason": "epoch_changed",
                        "epoch": new["epoch"], "first_seq": 1}
    assert [e["seq"] for e in events(ws, 2)] == [1, 2]


def test_job_result_race(start_server):
    """The connection drops after the job started; the result is published
    while it is away; reconnecting with its position, the client gets the
    result once, then what comes next."""
    server = start_server(shards=4)
    pub = Publisher(server)
    topic = "jobs.42"
    ws = connect(server)
    position = subscribe(ws, [topic])["positions"][topic]
    pub.publish(topic, {"state": "started"})
    started = recv(ws)
    assert started["data"] == {"state": "started"}
    rst(ws)
    pub.publish(topic, {"state": "done", "result": 17})
    ws = connect(server)
    subscribe(ws, [topic], {topic: {"epoch": position["epoch"], "seq": started["seq"]}})
    result = recv(ws)
    assert result["data"] == {"state": "done", "result": 17}
    pub.publish(topic, {"state": "archived"})
    assert recv(ws)["data"] == {"state": "archived"}  # not the result again


def test_bad_since_is_refused(start_server):
    server = start_server(shards=1)
    ws = connect(server)
    for since in ({"a": {"epoch": "xyz", "seq": 1}}, {"a": {"epoch": NULL_EPOCH, "seq": -1}},
                  {"a": {"epoch": NULL_EPOCH}}, {"a": 5}, [1]):
        ws.send(json.dumps({"type": "subscribe", "topics": ["a"], "since": since}))
        reply = recv(ws)
        assert reply["type"] == "error" and reply["code"] == "bad_request", (since, reply)


def test_history_command(start_server):
    server = start_server(shards=4)
    pub = Publisher(server)
    for i in range(5):
        pub.publish("rew.a", {"i": i + 1})
    ws = connect(server)
    ws.send(json.dumps({"type": "history", "topic": "rew.a", "since": 2, "limit": 2}))
    reply = recv(ws)
    assert reply["type"] == "history" and reply["topic"] == "rew.a", reply
    assert (reply["first_seq"], reply["last_seq"]) == (1, 5)
    assert [e["seq"] for e in reply["events"]] == [3, 4]
    assert reply["events"][0] == {"event_type": "message", "timestamp": reply["events"][0]["timestamp"],
                                  "topic": "rew.a", "seq": 3, "data": {"i": 3}}
    ws.send(json.dumps({"type": "history", "topic": "rew.a"}))
    assert [e["seq"] for e in recv(ws)["events"]] == [1, 2, 3, 4, 5]
    ws.send(json.dumps({"type": "history", "topic": "rew.*"}))
    assert recv(ws)["code"] == "bad_topic"
    ws.send(json.dumps({"type": "history", "topic": "rew.a", "since": "x"}))
    assert recv(ws)["code"] == "bad_request"


# --- the seam under load ---------------------------------------------------------


class Publishers:
    """One thread per topic posting events continuously until stop()."""

    def __init__(self, server, topics):
        self.stop_event = threading.Event()
        self.published = {t: 0 for t in topics}
        self.errors = []
        self.threads = [threading.Thread(target=self._loop, args=(server, t)) for t in topics]
        for t in self.threads:
            t.start()

    def _loop(self, server, topic):
        pub = Publisher(server)
        try:
            # Paced (about 500/s a topic): a subscriber that resumes replays
            # what it missed in one go, which must stay under
            # --max-queued-bytes (a larger replay closes it as slow, 4001).
            while not self.stop_event.wait(0.002):
                self.published[topic] = pub.publish(topic, {"n": self.published[topic] + 1})
        except Exception as e:  # reported by stop()
            self.errors.append(e)
        finally:
            pub.close()

    def stop(self):
        self.stop_event.set()
        for t in self.threads:
            t.join(STEP)
        assert not self.errors, self.errors


def assert_exactly_once_in_order(got):
    for t, seqs in got.items():
        if seqs:
            assert seqs == list(range(seqs[0], seqs[0] + len(seqs))), (t, seqs[:50])


def test_seam_exactly_once_with_node_ws(start_server):
    """The same with the Node ws client, 30 rounds of resuming."""
    server = start_server("--history-size", "100000", shards=4)
    topics = ["nseam.%d" % i for i in range(6)]
    pubs = Publishers(server, topics)
    got = {t: [] for t in topics}
    try:
        with NodeScript("resume_client.mjs", [server.ws_url, json.dumps(topics), "30", "7"]) as node:
            while True:
                line = node.next_line(60)
                assert "error" not in line and "gap" not in line, line
                if line.get("done"):
                    break
                if "event" in line:
                    got[line["event"]["topic"]].append(line["event"]["seq"])
    finally:
        pubs.stop()
    assert_exactly_once_in_order(got)
    assert sum(len(s) for s in got.values()) >= 30


def test_seam_exactly_once_while_publishing(start_server):
    """4 shards; one publisher per topic posts continuously; subscribers
    resume again and again with their last position (closing cleanly or
    with a reset, after a random number of events): the union of each
    subscriber's deliveries is every event, once, in order."""
    server = start_server("--history-size", "100000", shards=4)
    topics = ["seam.%d" % i for i in range(6)]
    pubs = Publishers(server, topics)
    rng = random.Random(15)
    got = {t: [] for t in topics}
    positions = None
    try:
        for round_ in range(40):
            ws = connect(server)
            reply = subscribe(ws, topics, positions)
            if positions is None:
                positions = {t: dict(reply["positions"][t]) for t in topics}
            for _ in range(rng.randint(1, 60)):
                e = recv(ws)
                assert "type" not in e, e  # never a gap: history holds everything
                t = e["topic"]
                got[t].append(e["seq"])
                positions[t]["seq"] = e["seq"]
            if rng.random() < 0.5:
                rst(ws)
            else:
                ws.close()
    finally:
        pubs.stop()
    assert_exactly_once_in_order(got)
    assert sum(len(s) for s in got.values()) > 100


# --- tokens and audiences ----------------------------------------------------------


def test_replay_filters_like_live_delivery(start_server, tmp_path):
    import os
    import subprocess

    from conftest import binary

    secret = str(tmp_path / "secret")
    with open(secret, "w") as f:
        f.write(os.urandom(48).hex())

    def mint(sub, tenant=None, subscribe=("*",), publish=()):
        cmd = [binary("ringcast-token"), "--secret-file", secret, "--ttl", "1h", "--sub", sub]
        if tenant:
            cmd += ["--tenant", tenant]
        for s in subscribe:
            cmd += ["--subscribe", s]
        for s in publish:
            cmd += ["--publish", s]
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=STEP)
        assert p.returncode == 0, p.stderr
        return p.stdout.strip()

    server = start_server("--auth-secret-file", secret, shards=4)
    publisher = mint("pub", subscribe=(), publish=("*",))
    conn = http.client.HTTPConnection(server.host, server.port, timeout=STEP)

    def post(data, audience=None):
        event = {"topic": "aud.t", "data": data}
        if audience:
            event["audience"] = audience
        conn.request("POST", "/v1/publish", json.dumps(event),
                     {"Content-Type": "application/json", "Authorization": "Bearer " + publisher})
        r = conn.getresponse()
        assert r.status == 200, r.read()
        r.read()

    def ws_for(token):
        return websocket.create_connection(server.ws_url + "?token=" + token, timeout=STEP)

    acme = mint("u1", tenant="acme", subscribe=("aud.>",))
    ws = ws_for(acme)
    epoch = subscribe(ws, ["aud.t"])["positions"]["aud.t"]["epoch"]
    ws.close()
    post({"n": 1})
    post({"n": 2}, {"tenant": "acme"})
    post({"n": 3}, {"tenant": "other"})
    post({"n": 4})
    ws = ws_for(acme)
    subscribe(ws, ["aud.t"], {"aud.t": {"epoch": epoch, "seq": 0}})
    assert [e["seq"] for e in events(ws, 3)] == [1, 2, 4]
    post({"n": 5}, {"tenant": "other"})
    post({"n": 6}, {"tenant": "acme"})
    assert recv(ws)["seq"] == 6
    ws.send(json.dumps({"type": "history", "topic": "aud.t"}))
    assert [e["seq"] for e in recv(ws)["events"]] == [1, 2, 4, 6]
    outsider = ws_for(mint("u2", tenant="acme", subscribe=("other.>",)))
    outsider.send(json.dumps({"type": "history", "topic": "aud.t"}))
    reply = recv(outsider)
    assert reply["type"] == "error" and reply["code"] == "forbidden", reply
    conn.close()


# --- SSE: Last-Event-ID ---------------------------------------------------------


def sse_epoch(server, topic):
    conn = http.client.HTTPConnection(server.host, server.port, timeout=STEP)
    try:
        conn.request("GET", "/v1/history/" + topic)
        return json.loads(conn.getresponse().read())["epoch"]
    finally:
        conn.close()


def test_sse_last_event_id_resumes_exactly(start_server):
    """curl with the Last-Event-ID header (?lastEventId= is
    test_sse_resume_with_node_eventsource's)."""
    from ssehelpers import SSEClient

    server = start_server(shards=4)
    pub = Publisher(server)
    topic = "sse.r"
    for i in range(5):
        pub.publish(topic, {"i": i + 1})
    epoch = sse_epoch(server, topic)
    last = "%s-2" % epoch
    stream = SSEClient(server, topic, headers={"Last-Event-ID": last})
    try:
        records = [stream.record() for _ in range(3)]
        assert [r["id"] for r in records] == ["%s-%d" % (epoch, s) for s in (3, 4, 5)]
        assert [json.loads(r["data"])["seq"] for r in records] == [3, 4, 5]
        pub.publish(topic, {"i": 6})
        assert stream.record()["id"] == "%s-6" % epoch
        assert stream.nothing_pending(0.3)
    finally:
        stream.close()


def test_sse_gap_is_an_event(start_server):
    from ssehelpers import SSEClient

    server = start_server("--history-size", "2", shards=2)
    pub = Publisher(server)
    for i in range(5):
        pub.publish("sse.g", {"i": i + 1})
    epoch = sse_epoch(server, "sse.g")
    for last, reason in (("%s-1" % epoch, "too_old"), ("17", "epoch_changed"),
                         ("0123456789abcdef-3", "epoch_changed")):
        stream = SSEClient(server, "sse.g", headers={"Last-Event-ID": last})
        try:
            gap = stream.record()
            assert gap["event"] == "ringcast.gap" and "id" not in gap, gap
            assert json.loads(gap["data"]) == {"type": "gap", "topic": "sse.g", "reason": reason,
                                               "epoch": epoch, "first_seq": 4}
            assert [stream.record()["id"] for _ in range(2)] == ["%s-4" % epoch, "%s-5" % epoch]
        finally:
            stream.close()


def test_sse_resume_with_node_eventsource(start_server):
    """The npm eventsource client (through ?lastEventId=): the missed events,
    then the gap's own event type when history let some go."""
    from test_sse import NodeClient

    server = start_server("--history-size", "3", shards=4)
    pub = Publisher(server)
    for i in range(6):
        pub.publish("sse.n", {"i": i + 1})
    epoch = sse_epoch(server, "sse.n")
    url = server.http_url + "/v1/sse?topic=sse.n&lastEventId=%s-4" % epoch
    with NodeClient("sse_client.mjs", "--url", url, "--count", "2", "--timeout-ms", "20000") as c:
        c.wait_open(STEP)
        got = [c.next_line(STEP) for _ in range(2)]
    assert [(g["lastEventId"], g["data"]["seq"]) for g in got] == [
        ("%s-5" % epoch, 5), ("%s-6" % epoch, 6)]
    url = server.http_url + "/v1/sse?topic=sse.n&lastEventId=%s-1" % epoch
    with NodeClient("sse_client.mjs", "--url", url, "--event", "ringcast.gap", "--count", "4",
                    "--timeout-ms", "20000") as c:
        c.wait_open(STEP)
        got = [c.next_line(STEP) for _ in range(4)]
    assert got[0]["type"] == "ringcast.gap", got
    assert got[0]["data"] == {"type": "gap", "topic": "sse.n", "reason": "too_old", "epoch": epoch,
                              "first_seq": 4}
    assert [g["data"]["seq"] for g in got[1:]] == [4, 5, 6]
