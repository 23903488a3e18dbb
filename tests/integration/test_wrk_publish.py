"""Smoke test of bench/wrk/publish.lua: wrk publishes over HTTP for two seconds
without errors, and the events really were published. No throughput is
asserted (performance belongs to the benchmarks, bench/README.md)."""

import json
import os
import re
import shutil
import subprocess
import time

import pytest
import websocket

from conftest import TOP
from rcproto import without_positions

SCRIPT = os.path.join(TOP, "bench", "wrk", "publish.lua")
TOPICS = 10

pytestmark = pytest.mark.skipif(shutil.which("wrk") is None, reason="wrk is not installed")


def run_wrk(server, *script_args):
    """Runs wrk -t1 -c4 -d2s with the script; returns its stdout."""
    cmd = ["wrk", "-t1", "-c4", "-d2s", "--timeout", "5s", "-s", SCRIPT,
           server.http_url + "/v1/publish", "--"] + [str(a) for a in script_args]
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=30)
    assert p.returncode == 0, "wrk failed (%d):\n%s\n%s" % (p.returncode, p.stdout, p.stderr)
    return p.stdout


def parse_wrk(out):
    """The counts wrk and the script's done() print."""
    def number(pattern):
        m = re.search(pattern, out, re.M)
        assert m, "no %r in the wrk output:\n%s" % (pattern, out)
        return int(m.group(1))

    return {
        "wrk_requests": number(r"^\s*(\d+) requests in "),
        "requests": number(r"^requests: (\d+)$"),
        "non_2xx": number(r"^non-2xx: (\d+)$"),
        "socket_errors": [int(n) for n in re.search(
            r"^socket errors: connect (\d+) read (\d+) write (\d+) timeout (\d+)$", out,
            re.M).groups()],
    }


def metric(server, name):
    out = subprocess.run(["curl", "-s", "--max-time", "10", server.http_url + "/metrics"],
                         capture_output=True, text=True, timeout=15).stdout
    m = re.search(r"^%s (\S+)$" % re.escape(name), out, re.M)
    assert m, "no %s in /metrics:\n%s" % (name, out)
    return float(m.group(1))


def wait_for_metric(server, name, value, timeout=5):
    """Gauges are refreshed once per shard loop: poll, bounded."""
    deadline = time.monotonic() + timeout
    while True:
        got = metric(server, name)
        if got == value or time.monotonic() > deadline:
            return got
        time.sleep(0.1)


def http_publish(server, topic, data):
    """One JSON-form publish with curl; returns its seq."""
    p = subprocess.run(["curl", "-s", "--max-time", "10", "-H", "Content-Type: application/json",
                        "-d", json.dumps({"topic": topic, "data": data}),
                        server.http_url + "/v1/publish"], capture_output=True, text=True,
                       timeout=15)
    answer = json.loads(p.stdout)
    assert answer["topic"] == topic, answer
    return answer["seq"]


def test_wrk_publish_script_publishes_without_errors(server):
    ws = websocket.create_connection(server.ws_url, timeout=10)
    ws.send(json.dumps({"type": "subscribe", "topics": ["bench:0"]}))
    assert without_positions(json.loads(ws.recv())) == {"type": "subscribed", "topics": ["bench:0"]}

    out = run_wrk(server, TOPICS)
    counts = parse_wrk(out)
    assert counts["requests"] > 0, out
    assert counts["requests"] == counts["wrk_requests"], out
    assert counts["non_2xx"] == 0, out
    assert counts["socket_errors"] == [0, 0, 0, 0], out
    assert "Non-2xx" not in out and "Socket errors" not in out, out

    # Every answered request was sequenced (requests in flight when wrk
    # stopped may have been too), none was refused, over exactly TOPICS topics.
    assert metric(server, "ringcast_publishes_total") >= counts["requests"]
    assert metric(server, "ringcast_publish_errors_total") == 0
    assert wait_for_metric(server, "ringcast_topics_sequenced", TOPICS) == TOPICS

    # The subscriber got bench:0's events, seqs 1, 2, 3... up to a marker
    # published after wrk.
    marker_seq = http_publish(server, "bench:0", "marker")
    assert marker_seq > 1
    events = [json.loads(ws.recv()) for _ in range(marker_seq)]
    assert [e["seq"] for e in events] == list(range(1, marker_seq + 1))
    assert events[-1]["data"] == "marker"
    # The script's data: thread 0 (-t1) and its counter, which visits
    # bench:0 every TOPICS requests.
    counters = []
    for e in events[:-1]:
        assert e["topic"] == "bench:0" and set(e["data"]) == {"thread", "n"}, e
        assert e["data"]["thread"] == 0 and e["data"]["n"] % TOPICS == 1, e
        counters.append(e["data"]["n"])
    assert len(set(counters)) == len(counters)
    ws.close()
