"""Every refusal names the actual problem and, where there is one, the fix
for the tool at hand (issue 14): one table per tool or protocol, each row a
situation (missing token, expired, wrong secret, no permission, bad topic,
missing or mistyped "type"), its machine-readable code and the words its
message must hold. Codes are those of docs/protocol/*.md and
docs/close-codes.md; the texts are checked so that a message that says
"malformed token" for no token at all, or offers a fix for another tool,
fails here."""

import http.client
import json
import subprocess
import time

import jwt
import pytest
import websocket

from conftest import binary

SECRET = b"errors-test-secret-of-at-least-32-bytes!!"
OTHER_SECRET = b"another-secret-that-this-server-never-saw"
STEP = 20

MISSING = "missing"
EXPIRED = "expired"
WRONG_SECRET = "wrong-secret"
NO_PERMISSION = "no-permission"
BAD_TOPIC = "bad-topic"


def token_for(case):
    """The token a client presents in |case| (None: none at all)."""
    now = int(time.time())
    claims = {"sub": "u1", "subscribe": ["allowed.>"], "publish": ["allowed.>"],
              "exp": now + 3600}
    if case == MISSING:
        return None
    if case == EXPIRED:
        claims["exp"] = now - 60
    key = OTHER_SECRET if case == WRONG_SECRET else SECRET
    return jwt.encode(claims, key, algorithm="HS256")


def topic_for(case):
    return {NO_PERMISSION: "elsewhere.1", BAD_TOPIC: "has space"}.get(case, "allowed.1")


@pytest.fixture(scope="module")
def secret_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("errors") / "secret"
    path.write_bytes(SECRET)
    return str(path)


@pytest.fixture
def secured(start_server, secret_file):
    return start_server("--auth-secret-file", secret_file, shards=1)


def http_call(server, method, path, token=None, body=None, headers=None):
    conn = http.client.HTTPConnection(server.host, server.port, timeout=STEP)
    headers = dict(headers or {})
    if token:
        headers["Authorization"] = "Bearer " + token
    if body is not None:
        headers["Content-Type"] = "application/json"
        body = json.dumps(body)
    conn.request(method, path, body=body, headers=headers)
    response = conn.getresponse()
    status, text = response.status, response.read().decode()
    conn.close()
    return status, json.loads(text)


# (case, status, code, words the message holds) -------------------------------

TOKEN_ROWS = [
    (MISSING, 401, "unauthorized", ["missing token", "requires a token"]),
    (EXPIRED, 401, "unauthorized", ["token expired", "new token"]),
    (WRONG_SECRET, 401, "unauthorized", ["bad signature", "another secret", "--auth-secret-file"]),
]

# How each HTTP route is told to send a missing token.
HINTS = {
    "publish": ["Authorization: Bearer <token>", "?token=<token>"],
    "fetch": ["Authorization: Bearer <token>", "?token=<token>"],
    "sse": ["?token=<token>", "EventSource cannot set headers"],
    "ws": ["?token=<token>", "Sec-WebSocket-Protocol entry bearer.<token>"],
}
WS_UPGRADE = {"Upgrade": "websocket", "Connection": "Upgrade", "Sec-WebSocket-Version": "13",
              "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ=="}


def http_route(server, route, case):
    token, topic = token_for(case), topic_for(case)
    if route == "publish":
        return http_call(server, "POST", "/v1/publish", token, {"topic": topic, "data": 1})
    if route == "fetch":
        return http_call(server, "GET", "/v1/messages/%s/1" % topic.replace(" ", "%20"), token)
    if route == "sse":
        return http_call(server, "GET", "/v1/sse?topic=" + topic.replace(" ", "%20"), token)
    return http_call(server, "GET", "/v1/ws", token, headers=WS_UPGRADE)


@pytest.mark.parametrize("route", sorted(HINTS))
@pytest.mark.parametrize("case,status,code,words", TOKEN_ROWS)
def test_http_token_refusals(secured, route, case, status, code, words):
    got_status, body = http_route(secured, route, case)
    assert (got_status, body["error"]) == (status, code), body
    expected = words + (HINTS[route] if case == MISSING else [])
    for w in expected:
        assert w in body["message"], (route, case, w, body)
    assert "malformed" not in body["message"], body
    # Each route names its own fix, not another's.
    if case == MISSING and route in ("publish", "fetch"):
        assert "Sec-WebSocket-Protocol" not in body["message"], body


HTTP_TOPIC_ROWS = [
    ("publish", NO_PERMISSION, 403, "forbidden", ["publish claim", "--publish PATTERN"]),
    ("publish", BAD_TOPIC, 422, "bad_topic", ["character outside"]),
    ("fetch", NO_PERMISSION, 403, "forbidden", ["subscribe claim", "--subscribe PATTERN"]),
    ("fetch", BAD_TOPIC, 400, "bad_request", ["/v1/messages/<topic>/<seq>"]),
    ("sse", NO_PERMISSION, 403, "forbidden", ["subscribe claim", "--subscribe PATTERN"]),
    ("sse", BAD_TOPIC, 400, "bad_topic", ["character outside"]),
]


@pytest.mark.parametrize("route,case,status,code,words", HTTP_TOPIC_ROWS)
def test_http_topic_refusals(secured, route, case, status, code, words):
    got_status, body = http_route(secured, route, case)
    assert (got_status, body["error"]) == (status, code), body
    for w in words:
        assert w in body["message"], (route, case, w, body)


# ringcast-pub: the publish protocol's NACKs, printed with the tool's fix.

def run_pub(server, tmp_path, case):
    cmd = [binary("ringcast-pub"), "--server", server.publish_addr]
    token = token_for(case)
    if token:
        path = tmp_path / "token"
        path.write_text(token + "\n")
        cmd += ["--token-file", str(path)]
    return subprocess.run(cmd + [topic_for(case), "1"], capture_output=True, text=True,
                          timeout=STEP * 3)


PUB_ROWS = [
    (MISSING, 3, "unauthorized", ["missing token", "--token-file FILE"]),
    (EXPIRED, 3, "unauthorized", ["token expired", "new token"]),
    (WRONG_SECRET, 3, "unauthorized", ["bad signature", "--auth-secret-file"]),
    (NO_PERMISSION, 1, "forbidden", ["publish claim", "--publish PATTERN"]),
    (BAD_TOPIC, 1, "bad_topic", ["character outside"]),
]


@pytest.mark.parametrize("case,exit_status,code,words", PUB_ROWS)
def test_ringcast_pub_refusals(secured, tmp_path, case, exit_status, code, words):
    p = run_pub(secured, tmp_path, case)
    assert p.returncode == exit_status, (case, p.returncode, p.stderr)
    assert "server refused: %s: " % code in p.stderr, p.stderr
    for w in words:
        assert w in p.stderr, (case, w, p.stderr)
    assert "malformed" not in p.stderr and "Sec-WebSocket" not in p.stderr, p.stderr


# WebSocket control messages: error replies on an open connection.

WS_ROWS = [
    ({"topics": ["allowed.1"]}, "bad_request", ['missing "type"', "subscribe, unsubscribe"]),
    ({"type": 7, "topics": ["allowed.1"]}, "bad_request", ['"type" must be a string']),
    ({"type": "publish"}, "unknown_type", ['unknown "type"', "subscribe, unsubscribe"]),
    ({"type": "subscribe"}, "bad_request", ['missing "topics"']),
    ({"type": "subscribe", "topics": ["elsewhere.1"]}, "forbidden",
     ["subscribe claim", "--subscribe PATTERN"]),
    ({"type": "subscribe", "topics": ["has space"]}, "bad_topic", ["character outside"]),
    ({"type": "refresh", "token": token_for(EXPIRED)}, "unauthorized", ["token expired"]),
    ({"type": "refresh", "token": token_for(WRONG_SECRET)}, "unauthorized", ["bad signature"]),
    ({"type": "refresh", "token": "x.y"}, "unauthorized", ["malformed token"]),
]


@pytest.mark.parametrize("message,code,words", WS_ROWS)
def test_websocket_control_errors(secured, message, code, words):
    ws = websocket.create_connection(secured.ws_url + "?token=" + token_for("valid"),
                                     timeout=STEP)
    try:
        ws.send(json.dumps(message))
        reply = json.loads(ws.recv())
        if reply.get("type") != "error":  # a subscribe's reply follows its errors
            pytest.fail("no error for %s: %s" % (message, reply))
        assert reply["code"] == code, reply
        for w in words:
            assert w in reply["message"], (w, reply)
    finally:
        ws.close()


# ringcast-token: usage errors that say what to fix.

TOKEN_TOOL_ROWS = [
    ([], ["--secret-file FILE is required"]),
    (["--secret-file", "/nonexistent/secret"], ["cannot read /nonexistent/secret"]),
    (["--secret-file", "SHORT"], ["at least 32 are needed", "head -c 32 /dev/urandom"]),
    (["--secret-file", "SECRET", "--subscribe", "has space"],
     ['--subscribe "has space": not a topic or pattern', "character outside"]),
    (["--secret-file", "SECRET", "--publish", "a.>.b"], ['--publish "a.>.b": not a topic']),
    (["--secret-file", "SECRET", "--ttl", "soon"], ["--ttl", "ms, s, m, h or d"]),
]


@pytest.mark.parametrize("args,words", TOKEN_TOOL_ROWS)
def test_ringcast_token_refusals(tmp_path, secret_file, args, words):
    short = tmp_path / "short"
    short.write_bytes(b"too short")
    args = [{"SECRET": secret_file, "SHORT": str(short)}.get(a, a) for a in args]
    p = subprocess.run([binary("ringcast-token")] + args, capture_output=True, text=True,
                       timeout=STEP)
    assert p.returncode == 2 and p.stdout == "", (args, p.returncode, p.stdout, p.stderr)
    for w in words:
        assert w in p.stderr, (args, w, p.stderr)
