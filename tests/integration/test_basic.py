"""Basic subscribe / publish / receive through a real server, with Python's
websocket-client and curl."""

import json
import subprocess

import websocket

from conftest import publish
from rcproto import without_positions


def subscribe(server, *topics):
    ws = websocket.create_connection(server.ws_url, timeout=10)
    ws.send(json.dumps({"type": "subscribe", "topics": list(topics)}))
    reply = json.loads(ws.recv())
    assert without_positions(reply) == {"type": "subscribed", "topics": list(topics)}
    return ws


def test_event_reaches_subscriber_with_the_documented_shape(server):
    ws = subscribe(server, "customer_id:42:call:7")
    seq = publish(server, "customer_id:42:call:7", {"id": "7", "status": "ringing"},
                  event_type="call.status")
    assert seq == 1
    event = json.loads(ws.recv())
    assert set(event) == {"event_type", "timestamp", "topic", "seq", "data"}
    assert event["event_type"] == "call.status"
    assert event["topic"] == "customer_id:42:call:7"
    assert event["seq"] == 1
    assert event["data"] == {"id": "7", "status": "ringing"}
    assert len(event["timestamp"]) == 27 and event["timestamp"].endswith("Z")
    ws.close()


def test_text_payload_arrives_as_a_json_string(server):
    ws = subscribe(server, "t")
    publish(server, "t", 'he said "hi"\n\tbye', content_type="text/plain")
    assert json.loads(ws.recv())["data"] == 'he said "hi"\n\tbye'
    ws.close()


def test_healthz_with_curl(server):
    out = subprocess.run(["curl", "-s", "-i", server.http_url + "/healthz"], capture_output=True,
                         text=True, timeout=10).stdout
    assert out.startswith("HTTP/1.1 200 OK")
    assert out.endswith('{"status":"ok"}\n')
