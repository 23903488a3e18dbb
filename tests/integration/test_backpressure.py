"""Full cross-shard rings pause publishers; nothing is dropped."""

import json

import websocket

from conftest import publish_many

TOPICS = ["bp:%d" % i for i in range(20)]  # spread over both shards' homes
EVENTS = 4000


def test_full_rings_pause_publishers_and_lose_nothing(start_server):
    server = start_server("--ring-size", "16", shards=2)
    ws = websocket.create_connection(server.ws_url, timeout=30)
    ws.send(json.dumps({"type": "subscribe", "topics": TOPICS}))
    assert json.loads(ws.recv())["type"] == "subscribed"

    events = [{"topic": TOPICS[i % len(TOPICS)], "data": {"n": i}} for i in range(EVENTS)]
    proc, results = publish_many(server, events, window=1000)
    assert proc.returncode == 0, proc.stderr
    assert [r.get("seq") for r in results] == [i // len(TOPICS) + 1 for i in range(EVENTS)]

    received = {t: [] for t in TOPICS}
    for _ in range(EVENTS):
        event = json.loads(ws.recv())
        received[event["topic"]].append((event["seq"], event["data"]["n"]))
    for k, topic in enumerate(TOPICS):
        expected = [(i // len(TOPICS) + 1, i) for i in range(k, EVENTS, len(TOPICS))]
        assert received[topic] == expected
    ws.close()
    # The rings really were full: publishers were paused, not refused.
    server.wait_for_log(r"paused: a ring to another shard is full")
