"""History at the topic's home (docs/history.md): GET /v1/history/<topic>
and GET /v1/messages/<topic>/<seq> for any held event, the bounds
--history-size, --history-ttl, --history-bytes (and its alias
--retain-bytes), epochs, and the metrics. Readers are curl and
http.client; events are published with POST /v1/publish."""

import http.client
import json
import os
import re
import subprocess
import time
import urllib.parse

import pytest

from conftest import binary

STEP = 15
EPOCH = re.compile(r"^[0-9a-f]{16}$")
NULL_EPOCH = "0" * 16


def request(server, method, path, body=None, headers=None):
    conn = http.client.HTTPConnection(server.host, server.port, timeout=STEP)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        r = conn.getresponse()
        return r.status, r.read()
    finally:
        conn.close()


def post(server, topic, data, audience=None, token=None):
    event = {"topic": topic, "data": data}
    if audience is not None:
        event["audience"] = audience
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = "Bearer " + token
    status, body = request(server, "POST", "/v1/publish", json.dumps(event), headers)
    assert status == 200, body
    return json.loads(body)["seq"]


def curl_json(server, path, token=None):
    """(status, parsed JSON body) of a GET with curl."""
    cmd = ["curl", "-sS", "--max-time", str(STEP), "-w", "\n%{http_code}"]
    if token:
        cmd += ["-H", "Authorization: Bearer " + token]
    p = subprocess.run(cmd + [server.http_url + path], capture_output=True, text=True,
                       timeout=STEP + 5)
    assert p.returncode == 0, p.stderr
    body, _, status = p.stdout.rpartition("\n")
    return int(status), json.loads(body)


def history(server, topic, query="", token=None):
    path = "/v1/history/" + urllib.parse.quote(topic, safe="")
    status, body = curl_json(server, path + ("?" + query if query else ""), token)
    assert status == 200, body
    assert set(body) == {"topic", "epoch", "first_seq", "last_seq", "events"}, body
    assert body["topic"] == topic
    return body


def seqs(answer):
    return [e["seq"] for e in answer["events"]]


def fetch(server, topic, seq, token=None):
    return curl_json(server, "/v1/messages/%s/%d" % (topic, seq), token)


def metric(server, name):
    status, body = request(server, "GET", "/metrics")
    assert status == 200
    m = re.search(r"^%s (\d+)$" % re.escape(name), body.decode(), re.M)
    assert m, name
    return int(m.group(1))


TOPICS = ["orders.%d" % i for i in range(8)]  # spread over the 4 homes


def test_history_and_fetch_serve_every_held_event(start_server):
    server = start_server(shards=4)
    for topic in TOPICS:
        for i in range(1, 6):
            assert post(server, topic, {"n": i, "topic": topic}) == i
    epochs = set()
    for topic in TOPICS:
        h = history(server, topic)
        assert EPOCH.match(h["epoch"]) and h["epoch"] != NULL_EPOCH, h
        epochs.add(h["epoch"])
        assert (h["first_seq"], h["last_seq"]) == (1, 5), h
        assert seqs(h) == [1, 2, 3, 4, 5]
        for i, e in enumerate(h["events"], 1):
            assert e["topic"] == topic and e["event_type"] == "message"
            assert e["data"] == {"n": i, "topic": topic}
        assert seqs(history(server, topic, "since=3")) == [4, 5]
        assert seqs(history(server, topic, "since=3&limit=1")) == [4]
        assert seqs(history(server, topic, "limit=0")) == []
        assert seqs(history(server, topic, "since=5")) == []
        assert seqs(history(server, topic, "since=99")) == []
        # Small events are held too: GET /v1/messages serves any of them.
        status, event = fetch(server, topic, 3)
        assert status == 200 and event == h["events"][2], event
        status, err = fetch(server, topic, 6)
        assert status == 404 and err["error"] == "not_found", err
    assert len(epochs) == len(TOPICS)  # one random epoch per topic
    assert metric(server, "ringcast_history_messages") == 5 * len(TOPICS)
    assert metric(server, "ringcast_history_replays_total") >= 6 * len(TOPICS)


def test_unknown_topic_has_the_null_epoch(start_server):
    server = start_server(shards=2)
    h = history(server, "never.published")
    assert h == {"topic": "never.published", "epoch": NULL_EPOCH, "first_seq": 1, "last_seq": 0,
                 "events": []}


def test_history_size_keeps_the_newest(start_server):
    server = start_server("--history-size", "3", shards=2)
    for i in range(1, 8):
        post(server, "jobs.1", {"n": i})
    h = history(server, "jobs.1")
    assert (h["first_seq"], h["last_seq"], seqs(h)) == (5, 7, [5, 6, 7]), h
    assert seqs(history(server, "jobs.1", "since=1")) == [5, 6, 7]
    assert seqs(history(server, "jobs.1", "limit=99")) == [5, 6, 7]  # capped at --history-size
    assert fetch(server, "jobs.1", 4)[0] == 404
    assert fetch(server, "jobs.1", 5)[0] == 200
    assert metric(server, 'ringcast_history_evictions_total{cause="size"}') == 4


def test_history_ttl_lets_events_go(start_server):
    server = start_server("--history-ttl", "1s", shards=2)
    post(server, "jobs.2", {"n": 1})
    post(server, "jobs.2", {"n": 2})
    assert seqs(history(server, "jobs.2")) == [1, 2]
    deadline = time.time() + 10
    while time.time() < deadline and metric(server, "ringcast_history_messages") > 0:
        time.sleep(0.2)
    h = history(server, "jobs.2")
    assert (h["first_seq"], h["last_seq"], seqs(h)) == (3, 2, []), h
    assert fetch(server, "jobs.2", 1)[0] == 404
    assert metric(server, 'ringcast_history_evictions_total{cause="ttl"}') == 2
    post(server, "jobs.2", {"n": 3})
    h = history(server, "jobs.2")
    assert (h["first_seq"], h["last_seq"], seqs(h)) == (3, 3, [3]), h


@pytest.mark.parametrize("flag", ["--history-bytes", "--retain-bytes"])
def test_history_bytes_bounds_the_shard(start_server, flag):
    """Each event of a 20 KiB payload (under --max-payload: not truncated)
    counts about 60 KiB (frame, SSE record, full JSON): 200K holds three of
    them, the shard's newest, whatever their topic (one shard: its bound is
    the whole server's here)."""
    server = start_server(flag, "200K", "--max-payload", "64K", shards=1)
    pad = "x" * 20000
    for i in range(1, 6):
        post(server, "big.a", {"n": i, "pad": pad})
        post(server, "big.b", {"n": i, "pad": pad})
    a, b = history(server, "big.a"), history(server, "big.b")
    assert seqs(a) == [5] and seqs(b) == [4, 5], (seqs(a), seqs(b))
    assert a["first_seq"] == 5 and b["first_seq"] == 4
    assert metric(server, "ringcast_history_bytes") <= 200 * 1024
    assert metric(server, 'ringcast_history_evictions_total{cause="bytes"}') == 7


def test_history_size_zero_holds_nothing(start_server):
    server = start_server("--history-size", "0", shards=2)
    post(server, "off.1", {"n": 1})
    h = history(server, "off.1")
    assert (h["first_seq"], h["last_seq"], seqs(h)) == (2, 1, []), h
    assert fetch(server, "off.1", 1)[0] == 404
    assert metric(server, "ringcast_history_messages") == 0


def test_epoch_changes_when_the_server_restarts(start_server):
    first = start_server(shards=2)
    post(first, "restart.me", {"n": 1})
    before = history(first, "restart.me")
    first.stop()
    second = start_server(shards=2)
    assert history(second, "restart.me")["epoch"] == NULL_EPOCH
    post(second, "restart.me", {"n": 1})
    after = history(second, "restart.me")
    assert EPOCH.match(after["epoch"]) and after["epoch"] != before["epoch"]
    assert after["last_seq"] == 1


@pytest.mark.parametrize("path,status", [
    ("/v1/history/a.b?since=x", 400), ("/v1/history/a.b?since=-1", 400),
    ("/v1/history/a.b?limit=1.5", 400), ("/v1/history/a.b?since=", 400),
    ("/v1/history/a.b?since=99999999999999999999", 400), ("/v1/history/a*b", 400),
    ("/v1/history/a:*", 400), ("/v1/history/a..b", 400), ("/v1/history/a%zz", 400),
])
def test_bad_history_requests(start_server, path, status):
    server = start_server(shards=1)
    got, body = request(server, "GET", path)
    assert got == status, (path, got, body)
    assert json.loads(body)["error"] == "bad_request"


def test_history_takes_get_only(start_server):
    server = start_server(shards=1)
    got, body = request(server, "POST", "/v1/history/a.b", b"", {"Content-Length": "0"})
    assert got == 405 and json.loads(body)["error"] == "method_not_allowed", body


def test_percent_encoded_topic_and_unknown_parameters(start_server):
    server = start_server(shards=2)
    post(server, "jobs:17", {"n": 1})
    status, body = curl_json(server, "/v1/history/jobs%3A17?since=0&foo=bar")
    assert status == 200 and seqs(body) == [1], body


# --- tokens and audiences --------------------------------------------------------


def mint(secret_file, **claims):
    cmd = [binary("ringcast-token"), "--secret-file", secret_file, "--ttl", "1h"]
    for flag in ("sub", "tenant"):
        if claims.get(flag):
            cmd += ["--" + flag, claims[flag]]
    for s in claims.get("subscribe", ("*",)):
        cmd += ["--subscribe", s]
    for s in claims.get("publish", ()):
        cmd += ["--publish", s]
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=STEP)
    assert p.returncode == 0, p.stderr
    return p.stdout.strip()


def test_history_filters_like_live_delivery(start_server, tmp_path):
    secret = str(tmp_path / "secret")
    with open(secret, "w") as f:
        f.write(os.urandom(48).hex())
    server = start_server("--auth-secret-file", secret, shards=2)
    publisher = mint(secret, sub="pub", subscribe=(), publish=("*",))
    post(server, "t.1", {"n": 1}, token=publisher)
    post(server, "t.1", {"n": 2}, audience={"tenant": "acme"}, token=publisher)
    post(server, "t.1", {"n": 3}, audience={"tenant": "other"}, token=publisher)
    acme = mint(secret, sub="u1", tenant="acme", subscribe=("t.>",))
    h = history(server, "t.1", token=acme)
    assert seqs(h) == [1, 2] and h["last_seq"] == 3, h
    other = mint(secret, sub="u2", tenant="other", subscribe=("t.1",))
    assert seqs(history(server, "t.1", token=other)) == [1, 3]
    assert fetch(server, "t.1", 3, token=acme)[0] == 403
    assert fetch(server, "t.1", 2, token=acme)[0] == 200
    outsider = mint(secret, sub="u3", tenant="acme", subscribe=("u.>",))
    status, body = curl_json(server, "/v1/history/t.1", outsider)
    assert status == 403 and body["error"] == "forbidden", body
    status, body = curl_json(server, "/v1/history/t.1")
    assert status == 401 and body["error"] == "unauthorized", body
