"""Tokens, topic permissions, expiry and refresh, and open mode (docs/auth.md,
docs/protocol/*.md, docs/close-codes.md), checked against a real server with
clients we did not write: websocket-client and websockets (Python), curl, and
the npm packages ws and eventsource (node/auth_clients.mjs).

Tokens come from build/ringcast-token, or from PyJWT (Debian's python3-jwt)
for the ones ringcast-token will not make: other algorithms, alg "none", a
foreign secret, an exp in the past, an nbf in the future, broken base64url.

What is asserted, in short:
- a missing or refused token on /v1/ws and /v1/sse: 401 before any upgrade,
  {"error":"unauthorized","message":...}, WWW-Authenticate: Bearer
  error="invalid_token"; tokens signed with the current or the previous
  secret are accepted;
- the token travels as ?token=, Authorization: Bearer, or a bearer.<jwt>
  subprotocol entry; the subprotocol answered is "ringcast" when offered,
  else the bearer entry exactly, else none;
- subscriptions must be contained in the token's subscribe patterns; refused
  ones get a forbidden error, the rest apply; events follow the accepted
  subscriptions only (checked with real publishes and a witness connection
  that sees every event, so "nothing arrived" means something);
- SSE: any forbidden topic makes the request 403; streams end at exp;
- WebSocket: close 4003 at exp; refresh moves exp, removes the subscriptions
  the new token no longer allows; refused refreshes keep the old token;
- publishers: HELLO without a valid token is refused (unauthorized), a
  PUBLISH outside the publish claim gets NACK forbidden and nothing else;
  HTTP publish 401/403/200; fetch needs the subscribe claim;
- open mode: a warning in the log, refusal (exit 2) on non-loopback addresses
  without --insecure-open.

Every wait is bounded: a missing answer fails the test, it does not hang.
Servers listen on loopback (or 0.0.0.0 for the --insecure-open checks); every
connection goes to 127.0.0.1."""

import asyncio
import base64
import http.client
import json
import os
import re
import struct
import subprocess
import threading
import time
import urllib.parse

import jwt
import pytest
import websocket
import websockets
import websockets.exceptions

import rcproto
from conftest import binary
from nodehelpers import NodeScript
from ssehelpers import SSEClient, sse_query, wait_until
from rcproto import without_positions

HOST = "127.0.0.1"   # every connection goes here, whatever the server binds
STEP = 10            # seconds allowed for any single step (connect, reply, event)
QUIET = 0.3          # seconds a connection is watched for events it must not get
EXP_SLACK = 2.5      # seconds after exp within which the server must act on it
EARLY = 0.25         # the server may act this much before exp (ms timers, rounding)
WWW_AUTHENTICATE = 'Bearer error="invalid_token"'
WS_UPGRADE = {"Connection": "Upgrade", "Upgrade": "websocket", "Sec-WebSocket-Version": "13",
              "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ=="}
EVENT_KEYS = {"event_type", "timestamp", "topic", "seq", "data"}


# --- secrets and tokens ---------------------------------------------------------

def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


class Auth:
    """Three secrets (the current one, the previous one, and one the server
    never sees) in files, and tokens made from them."""

    def __init__(self, tmp_path):
        self.dir = tmp_path
        self.secret = os.urandom(24).hex().encode()      # 48 bytes
        self.previous = os.urandom(24).hex().encode()
        self.foreign = os.urandom(24).hex().encode()     # configured nowhere
        self.secret_file = self._write("secret", self.secret + b"\n")
        self.previous_file = self._write("previous", self.previous + b"\n")
        self.foreign_file = self._write("foreign", self.foreign + b"\n")
        self.publisher = self.mint(sub="backend", publish=["*"])
        self.publisher_file = self.token_file(self.publisher, "publisher.token")
        self.watcher = self.mint(sub="watcher", subscribe=["*"])

    def _write(self, name, data):
        path = str(self.dir / name)
        with open(path, "wb") as f:
            f.write(data)
        return path

    def flags(self, previous=False):
        flags = ["--auth-secret-file", self.secret_file]
        if previous:
            flags += ["--auth-previous-secret-file", self.previous_file]
        return flags

    def mint(self, sub=None, subscribe=(), publish=(), ttl="1h", secret_file=None, extra=()):
        """A token from ringcast-token."""
        cmd = [binary("ringcast-token"), "--secret-file", secret_file or self.secret_file,
               "--ttl", ttl]
        if sub is not None:
            cmd += ["--sub", sub]
        for p in subscribe:
            cmd += ["--subscribe", p]
        for p in publish:
            cmd += ["--publish", p]
        p = subprocess.run(cmd + list(extra), capture_output=True, text=True, timeout=STEP)
        assert p.returncode == 0, "ringcast-token %s: exit %d: %s" % (cmd, p.returncode, p.stderr)
        return p.stdout.strip()

    def sign(self, claims, key=None, alg="HS256"):
        """A token from PyJWT: any algorithm, any key."""
        return jwt.encode(claims, self.secret if key is None else key, algorithm=alg)

    def token_file(self, token, name):
        return self._write(name, token.encode() + b"\n")


def claims_of(token):
    return jwt.decode(token, options={"verify_signature": False})


@pytest.fixture
def auth(tmp_path):
    return Auth(tmp_path)


def good_claims(**extra):
    claims = {"sub": "u1", "subscribe": ["*"], "publish": ["*"], "exp": int(time.time()) + 3600}
    claims.update(extra)
    return claims


# The refused tokens of docs/auth.md, each with the rule its message must name.
def _bad_signature(a):
    head, body, sig = a.sign(good_claims()).split(".")
    other = b64url(json.dumps(good_claims(sub="u2"), separators=(",", ":")).encode())
    return "%s.%s.%s" % (head, other, sig)  # a payload swapped under a valid signature


BAD_TOKENS = {
    "alg-none": (lambda a: jwt.encode(good_claims(), None, algorithm="none"), r"alg|algorithm"),
    "alg-none-empty-signature": (
        lambda a: "%s.%s." % (b64url(b'{"alg":"none","typ":"JWT"}'),
                              b64url(json.dumps(good_claims()).encode())), r"alg|algorithm"),
    "alg-HS384": (lambda a: a.sign(good_claims(), alg="HS384"), r"alg|algorithm"),
    "alg-HS512": (lambda a: a.sign(good_claims(), alg="HS512"), r"alg|algorithm"),
    "foreign-secret": (lambda a: a.sign(good_claims(), key=a.foreign), r"signature"),
    "foreign-secret-ringcast-token": (lambda a: a.mint(sub="u1", subscribe=["*"],
                                                       secret_file=a.foreign_file), r"signature"),
    "tampered-payload": (_bad_signature, r"signature"),
    "expired": (lambda a: a.sign(good_claims(exp=int(time.time()) - 10)), r"expired|exp"),
    "not-yet-valid": (lambda a: a.sign(good_claims(nbf=int(time.time()) + 3600)),
                      r"not yet valid|nbf"),
    "two-parts": (lambda a: ".".join(a.sign(good_claims()).split(".")[:2]), r"malformed"),
    "bad-base64url": (lambda a: a.sign(good_claims())[:-2] + "!!", r"malformed|base64"),
    "padded-base64url": (lambda a: a.sign(good_claims()) + "==", r"malformed|base64"),
    "header-not-json": (lambda a: "%s.%s.%s" % (b64url(b"not json"),
                                                 *a.sign(good_claims()).split(".")[1:]),
                        r"malformed|json"),
    "garbage": (lambda a: "garbage", r"malformed"),
}


# --- HTTP ----------------------------------------------------------------------

def http_request(server, method, path, headers=None, body=None, timeout=STEP):
    """One request on its own connection: (status, headers with lower-case
    names, body bytes). A 101 or an event stream is returned without a body."""
    conn = http.client.HTTPConnection(HOST, server.port, timeout=timeout)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        resp = conn.getresponse()
        head = {k.lower(): v for k, v in resp.getheaders()}
        if resp.status == 101 or head.get("content-type", "").startswith("text/event-stream"):
            return resp.status, head, b""
        return resp.status, head, resp.read()
    finally:
        conn.close()


def json_body(status, head, body, what):
    assert head.get("content-type") == "application/json", \
        "%s: status %d, Content-Type %r, body %r" % (what, status, head.get("content-type"), body)
    try:
        return json.loads(body)
    except ValueError:
        raise AssertionError("%s: status %d, body is not JSON: %r" % (what, status, body))


def assert_unauthorized(result, what, reason=None, www_authenticate=True):
    """|result| (of http_request) is the documented 401."""
    status, head, body = result
    assert status == 401, "%s: expected 401, got %d %r" % (what, status, body[:300])
    if www_authenticate:
        assert head.get("www-authenticate") == WWW_AUTHENTICATE, \
            "%s: WWW-Authenticate is %r, not %r" % (what, head.get("www-authenticate"),
                                                    WWW_AUTHENTICATE)
    doc = json_body(status, head, body, what)
    assert set(doc) == {"error", "message"} and doc["error"] == "unauthorized", \
        "%s: 401 body %r" % (what, doc)
    assert isinstance(doc["message"], str) and doc["message"], "%s: empty message" % what
    if reason:
        assert re.search(reason, doc["message"], re.I), \
            "%s: the message %r does not name the rule (%s)" % (what, doc["message"], reason)
    return doc


def assert_forbidden(result, what, topic):
    status, head, body = result
    assert status == 403, "%s: expected 403, got %d %r" % (what, status, body[:300])
    doc = json_body(status, head, body, what)
    assert doc.get("error") == "forbidden" and doc.get("topic") == topic, \
        "%s: 403 body %r (expected error forbidden, topic %r)" % (what, doc, topic)
    assert set(doc) == {"error", "topic", "message"} and isinstance(doc["message"], str), \
        "%s: 403 body %r" % (what, doc)
    return doc


def sse_path(topics, token=None):
    return "/v1/sse?" + sse_query(topics, token)


def ws_upgrade(server, token=None, via="query"):
    """A raw upgrade request for /v1/ws, the token passed |via| query, header
    or subprotocol: (status, headers, body)."""
    path, headers = "/v1/ws", dict(WS_UPGRADE)
    if token is not None:
        if via == "query":
            path += "?token=" + urllib.parse.quote(token, safe="")
        elif via == "header":
            headers["Authorization"] = "Bearer " + token
        else:
            headers["Sec-WebSocket-Protocol"] = "bearer." + token
    return http_request(server, "GET", path, headers)


def sse_request(server, topics, token=None, via="query"):
    headers = {"Accept": "text/event-stream"}
    if token is not None and via == "header":
        headers["Authorization"] = "Bearer " + token
    return http_request(server, "GET", sse_path(topics, token if via == "query" else None),
                        headers)


def http_publish(server, token, topic, data, via="header", event_type=None):
    """POST /v1/publish (JSON form): (status, parsed body)."""
    path, headers = "/v1/publish", {"Content-Type": "application/json"}
    if token is not None:
        if via == "header":
            headers["Authorization"] = "Bearer " + token
        else:
            path += "?token=" + token
    doc = {"topic": topic, "data": data}
    if event_type:
        doc["event_type"] = event_type
    status, head, body = http_request(server, "POST", path, headers, json.dumps(doc))
    return status, head, json_body(status, head, body, "POST /v1/publish %s" % topic)


def publish_ok(server, token, topic, data, **kwargs):
    """Publishes over HTTP and returns the seq."""
    status, _, doc = http_publish(server, token, topic, data, **kwargs)
    assert status == 200, "publish to %s: %d %r" % (topic, status, doc)
    assert set(doc) == {"topic", "seq"} and doc["topic"] == topic, doc
    return doc["seq"]


def pub_cli(server, token_file, *args, stdin=None):
    """build/ringcast-pub against |server|, with --token-file when given."""
    cmd = [binary("ringcast-pub"), "--server", "%s:%d" % (HOST, server.publish_port),
           "--timeout", str(STEP * 1000)]
    if token_file:
        cmd += ["--token-file", token_file]
    return subprocess.run(cmd + list(args), input=stdin, capture_output=True, text=True,
                          timeout=3 * STEP)


# --- WebSocket (websocket-client) ---------------------------------------------

class Closed(Exception):
    def __init__(self, code):
        super().__init__("the server closed the connection with code %r" % (code,))
        self.code = code


def ws_url(server, token=None):
    url = "ws://%s:%d/v1/ws" % (HOST, server.port)
    return url if token is None else url + "?token=" + token


def ws_connect(server, token=None, via="query", subprotocols=None):
    """A websocket-client connection; the token passed |via| query, header or
    subprotocol."""
    url, header, protos = ws_url(server), [], list(subprotocols or [])
    if token is not None:
        if via == "query":
            url = ws_url(server, token)
        elif via == "header":
            header.append("Authorization: Bearer " + token)
        else:
            protos.append("bearer." + token)
    return websocket.create_connection(url, timeout=STEP, header=header,
                                       subprotocols=protos or None)


def recv_msg(ws, timeout=STEP):
    """The next message as JSON; raises Closed on a close frame."""
    ws.settimeout(timeout)
    opcode, frame = ws.recv_data_frame()
    if opcode == websocket.ABNF.OPCODE_CLOSE:
        raise Closed(struct.unpack("!H", frame.data[:2])[0] if len(frame.data) >= 2 else None)
    assert opcode == websocket.ABNF.OPCODE_TEXT, "opcode %d: %r" % (opcode, frame.data[:200])
    return json.loads(frame.data.decode("utf-8"))


def send(ws, **msg):
    ws.send(json.dumps(msg))


def ws_subscribe(ws, topics):
    """Sends one subscribe message: (errors before the reply, reply topics)."""
    send(ws, type="subscribe", topics=list(topics))
    errors, deadline = [], time.monotonic() + STEP
    while True:
        msg = recv_msg(ws, max(0.01, deadline - time.monotonic()))
        if msg.get("type") == "subscribed":
            return errors, msg["topics"]
        assert msg.get("type") == "error", "expected an error or subscribed, got %r" % msg
        errors.append(msg)


def subscribe_all(ws, topics):
    errors, held = ws_subscribe(ws, topics)
    assert not errors and held == list(topics), \
        "subscribe %r: errors %r, subscribed %r" % (topics, errors, held)


def request(ws, **msg):
    """Sends |msg| and returns the next message (a reply)."""
    send(ws, **msg)
    return recv_msg(ws)


def assert_ping(ws, what):
    reply = request(ws, type="ping")
    assert reply == {"type": "pong"}, "%s: ping answered %r" % (what, reply)


def events_until(ws, topic, seq, timeout=STEP):
    """Events up to and including |topic|'s event |seq| (the fence)."""
    events, deadline = [], time.monotonic() + timeout
    while True:
        left = deadline - time.monotonic()
        assert left > 0, "no event %s/%d within %ss; got %r" % (topic, seq, timeout, events)
        msg = recv_msg(ws, left)
        assert set(msg) == EVENT_KEYS, "expected an event, got %r" % msg
        events.append(msg)
        if msg["topic"] == topic and msg["seq"] == seq:
            return events


def assert_quiet(ws, what, wait=QUIET):
    """Nothing arrives on |ws| within |wait| seconds."""
    ws.settimeout(wait)
    try:
        opcode, frame = ws.recv_data_frame()
    except websocket.WebSocketTimeoutException:
        return
    raise AssertionError("%s: unexpected message (opcode %d): %r" % (what, opcode,
                                                                    frame.data[:300]))


def wait_close(ws, deadline):
    """Reads until the server's close frame: (code, time it came, messages before)."""
    messages = []
    while True:
        left = deadline - time.time()
        assert left > 0, "no close frame by the deadline; messages %r" % messages
        try:
            messages.append(recv_msg(ws, left))
        except Closed as c:
            return c.code, time.time(), messages
        except websocket.WebSocketTimeoutException:
            continue


def assert_closed_at_exp(ws, exp, what="exp"):
    """The server closes |ws| with 4003 (token expired) within EXP_SLACK of
    |exp| (not before it, but for EARLY), and sends nothing before."""
    code, when, before = wait_close(ws, exp + EXP_SLACK)
    assert code == 4003, "closed with %r, not 4003 (token expired)" % code
    assert when >= exp - EARLY, "closed %.2fs before %s" % (exp - when, what)
    assert before == [], "messages before the close: %r" % before


def topics_of(events):
    return sorted(e["topic"] for e in events)


class Witness:
    """A connection whose token may subscribe to everything, subscribed to
    "*": proof that events the test expects others not to get did go out."""

    def __init__(self, server, auth):
        self.ws = ws_connect(server, auth.watcher)
        subscribe_all(self.ws, ["*"])

    def expect(self, published):
        """Every (topic, seq) of |published| arrives, each once."""
        want, got, deadline = set(published), [], time.monotonic() + STEP
        while not want <= {(e["topic"], e["seq"]) for e in got}:
            left = deadline - time.monotonic()
            assert left > 0, "witness: missing %r; got %r" % (
                want - {(e["topic"], e["seq"]) for e in got}, got)
            got.append(recv_msg(self.ws, left))
        assert len(got) == len(want), "witness: %r" % got

    def close(self):
        self.ws.close()


# --- SSE (curl) ------------------------------------------------------------------

class TokenSSE(SSEClient):
    """ssehelpers.SSEClient on HOST with a token |via| the query or an
    Authorization: Bearer header."""

    def __init__(self, server, topics, token=None, via="query", max_time=30):
        header = token is not None and via == "header"
        super().__init__(server, *topics, max_time=max_time, connect_timeout=STEP,
                         token=token if via == "query" else None,
                         headers={"Authorization": "Bearer " + token} if header else None,
                         base_url="http://%s:%d" % (HOST, server.port))

    def event(self):
        rec = self.record(STEP)
        return json.loads(rec["data"])


# --- Node clients ------------------------------------------------------------------

class NodeClients(NodeScript):
    """node/auth_clients.mjs running |spec|; its output lines as dicts, in
    self.lines (see nodehelpers.NodeScript)."""

    def __init__(self, spec):
        self.lines = []
        self.lock = threading.Lock()
        super().__init__("auth_clients.mjs", ["--spec", json.dumps(spec), "--timeout-ms", "25000"],
                         packages=["ws", "eventsource"])

    def on_line(self, line):
        with self.lock:
            self.lines.append(line)

    def wait_for(self, predicate, what, timeout=STEP):
        found = wait_until(lambda: [m for m in list(self.lines) if predicate(m)], timeout)
        assert found, "node: %s not seen within %ss; output %r" % (what, timeout, self.lines)
        return found[0]

    def of(self, name):
        return [m for m in list(self.lines) if m.get("conn") == name or m.get("open") == name
                or m.get("ready") == name]

    def assert_refused(self, name, status, what):
        """Connection |name| was refused with HTTP |status|."""
        got = self.wait_for(lambda m: m.get("conn") == name, "%s refused" % name)
        assert got == {"conn": name, "status": status}, "%s %s: %r" % (what, name, self.of(name))

    def assert_event(self, names, topic, seq, data, what):
        """Each connection of |names| receives the event (topic, seq, data)."""
        for name in names:
            msg = self.wait_for(lambda m, n=name: m.get("conn") == n and "raw" in m,
                                "%s event" % name)
            event = json.loads(msg["raw"])
            assert (event["topic"], event["seq"], event["data"]) == (topic, seq, data), \
                "%s %s: %r" % (what, name, event)

    def close(self):
        """Ends the clients; returns their standard error."""
        return super().close(STEP)


# ===================================================================================
# Tokens on /v1/ws and /v1/sse
# ===================================================================================

@pytest.mark.parametrize("kind", sorted(BAD_TOKENS))
def test_bad_token_gets_401_before_upgrade(start_server, auth, kind):
    server = start_server(*auth.flags(previous=True))
    make, reason = BAD_TOKENS[kind]
    token = make(auth)
    for via in ("query", "header", "subprotocol"):
        assert_unauthorized(ws_upgrade(server, token, via), "/v1/ws, %s token via %s" % (kind, via),
                            reason)
    for via in ("query", "header"):
        assert_unauthorized(sse_request(server, ["a"], token, via),
                            "/v1/sse, %s token via %s" % (kind, via), reason)


def test_missing_token_gets_401(start_server, auth):
    server = start_server(*auth.flags())
    assert_unauthorized(ws_upgrade(server), "/v1/ws without a token")
    assert_unauthorized(sse_request(server, ["a"]), "/v1/sse without a token")
    assert_unauthorized(ws_upgrade(server, "", "query"), "/v1/ws with ?token= empty")
    # The clients we did not write see the 401 as a refused handshake.
    with pytest.raises(websocket.WebSocketBadStatusException) as e:
        websocket.create_connection(ws_url(server), timeout=STEP)
    assert e.value.status_code == 401, "websocket-client saw %r" % e.value

    async def websockets_refused():
        with pytest.raises(websockets.exceptions.InvalidStatusCode) as e:
            await websockets.connect(ws_url(server), open_timeout=STEP)
        return e.value.status_code

    assert asyncio.run(websockets_refused()) == 401


def test_current_and_previous_secret_both_accepted(start_server, auth):
    server = start_server(*auth.flags(previous=True))
    for name, secret_file in (("current", auth.secret_file), ("previous", auth.previous_file)):
        token = auth.mint(sub="u-" + name, subscribe=["rot:>"], publish=["rot:*"],
                          secret_file=secret_file)
        ws = ws_connect(server, token)
        subscribe_all(ws, ["rot:" + name])
        sse = TokenSSE(server, ["rot:" + name], token)
        try:
            # HTTP publish and the binary protocol accept the token too.
            seq = publish_ok(server, token, "rot:" + name, {"by": name})
            p = pub_cli(server, auth.token_file(token, name + ".token"), "rot:" + name,
                        '{"by":"cli"}')
            assert p.returncode == 0, "ringcast-pub with the %s secret: %s" % (name, p.stderr)
            assert int(p.stdout) == seq + 1
            for got in ([recv_msg(ws), recv_msg(ws)], [sse.event(), sse.event()]):
                assert [(e["topic"], e["seq"], e["data"]) for e in got] == \
                    [("rot:" + name, seq, {"by": name}), ("rot:" + name, seq + 1, {"by": "cli"})]
        finally:
            sse.close()
            ws.close()
    # Without --auth-previous-secret-file the old secret is just a foreign one.
    server2 = start_server(*auth.flags())
    old = auth.mint(sub="u", subscribe=["*"], secret_file=auth.previous_file)
    assert_unauthorized(ws_upgrade(server2, old), "/v1/ws, previous secret not configured",
                        r"signature")


def test_secret_file_loses_exactly_one_trailing_newline(start_server, auth, tmp_path):
    key = b"k" * 40
    cases = [("one-newline", key + b"\n", key, key + b"\n"),
             ("no-newline", key, key, key + b"\n"),
             ("two-newlines", key + b"\n\n", key + b"\n", key)]
    for name, content, accepted, refused in cases:
        path = tmp_path / ("secret-" + name)
        path.write_bytes(content)
        server = start_server("--auth-secret-file", str(path), shards=1)
        good = auth.sign(good_claims(), key=accepted)
        bad = auth.sign(good_claims(), key=refused)
        status, _, body = ws_upgrade(server, good)
        assert status == 101, "secret file %s: token signed with %r refused: %d %r" % (
            name, accepted, status, body)
        assert_unauthorized(ws_upgrade(server, bad), "secret file %s, token signed with %r" % (
            name, refused), r"signature")
        server.stop()


def test_short_secret_refused_at_start(auth, tmp_path):
    path = tmp_path / "short"
    path.write_bytes(b"s" * 31 + b"\n")  # 31 bytes once the newline is gone
    p = subprocess.run([binary("ringcast"), "--shards", "1", "--listen", "127.0.0.1:0",
                        "--publish-listen", "127.0.0.1:0", "--auth-secret-file", str(path)],
                       capture_output=True, text=True, timeout=20)
    assert p.returncode != 0 and "listening" not in p.stderr, \
        "a 31-byte secret was accepted (exit %d):\n%s" % (p.returncode, p.stderr)
    assert "32" in p.stderr, "the refusal does not say what is needed:\n%s" % p.stderr


# ===================================================================================
# Passing the token on /v1/ws, and the subprotocol answered
# ===================================================================================

# (how the token travels, subprotocols offered besides a bearer entry, the
# Sec-WebSocket-Protocol the server must answer: "bearer" for the entry itself)
WS_FORMS = [
    ("query", [], None),
    ("header", [], None),
    ("subprotocol", [], "bearer"),
    ("subprotocol", ["ringcast"], "ringcast"),
    ("query", ["ringcast"], "ringcast"),
    ("header", ["ringcast"], "ringcast"),
]


@pytest.mark.parametrize("via,offered,answer", WS_FORMS,
                         ids=["%s+%s" % (v, "+".join(o) or "none") for v, o, _ in WS_FORMS])
def test_token_forms_websocket_client(start_server, auth, via, offered, answer):
    server = start_server(*auth.flags())
    token = auth.mint(sub="u1", subscribe=["forms:*"])
    ws = ws_connect(server, token, via, offered)
    try:
        assert ws.getstatus() == 101
        want = "bearer." + token if answer == "bearer" else answer
        got = ws.getheaders().get("sec-websocket-protocol")
        assert got == want, "Sec-WebSocket-Protocol answered %r, expected %r" % (got, want)
        subscribe_all(ws, ["forms:a"])
        seq = publish_ok(server, auth.publisher, "forms:a", {"via": via})
        event = recv_msg(ws)
        assert (event["topic"], event["seq"], event["data"]) == ("forms:a", seq, {"via": via})
    finally:
        ws.close()


def test_token_forms_websockets_asyncio(start_server, auth):
    server = start_server(*auth.flags())
    token = auth.mint(sub="u1", subscribe=["forms:*"])

    async def run(kwargs, url):
        async with websockets.connect(url, open_timeout=STEP, **kwargs) as ws:
            header = ws.response_headers.get("Sec-WebSocket-Protocol")
            await ws.send(json.dumps({"type": "subscribe", "topics": ["forms:b"]}))
            reply = json.loads(await asyncio.wait_for(ws.recv(), STEP))
            seq = publish_ok(server, auth.publisher, "forms:b", {"lib": "websockets"})
            event = json.loads(await asyncio.wait_for(ws.recv(), STEP))
            return ws.subprotocol, header, reply, event, seq

    cases = [("query", {}, ws_url(server, token), None),
             ("header", {"extra_headers": {"Authorization": "Bearer " + token}}, ws_url(server),
              None),
             ("subprotocol", {"subprotocols": ["bearer." + token]}, ws_url(server),
              "bearer." + token),
             ("subprotocol+ringcast", {"subprotocols": ["ringcast", "bearer." + token]},
              ws_url(server), "ringcast")]
    for name, kwargs, url, want in cases:
        chosen, header, reply, event, seq = asyncio.run(run(kwargs, url))
        assert chosen == want and header == want, \
            "websockets, token via %s: subprotocol %r, header %r, expected %r" % (
                name, chosen, header, want)
        assert without_positions(reply) == {"type": "subscribed", "topics": ["forms:b"]}, reply
        assert (event["topic"], event["seq"], event["data"]) == \
            ("forms:b", seq, {"lib": "websockets"}), "websockets via %s: %r" % (name, event)


def test_token_forms_node_ws(start_server, auth):
    server = start_server(*auth.flags())
    token = auth.mint(sub="u1", subscribe=["forms:*"])
    bad = auth.sign(good_claims(), key=auth.foreign)
    url = ws_url(server)
    spec = [
        {"name": "bearer", "kind": "ws", "url": url, "protocols": ["bearer." + token],
         "topics": ["forms:c"]},
        {"name": "ringcast", "kind": "ws", "url": url, "protocols": ["ringcast", "bearer." + token],
         "topics": ["forms:c"]},
        {"name": "query", "kind": "ws", "url": ws_url(server, token), "topics": ["forms:c"]},
        {"name": "header", "kind": "ws", "url": url, "topics": ["forms:c"],
         "headers": {"Authorization": "Bearer " + token}},
        {"name": "none", "kind": "ws", "url": url, "topics": ["forms:c"]},
        {"name": "foreign", "kind": "ws", "url": url, "protocols": ["bearer." + bad],
         "topics": ["forms:c"]},
    ]
    node = NodeClients(spec)
    try:
        answers = {"bearer": "bearer." + token, "ringcast": "ringcast", "query": "",
                   "header": ""}
        for name, want in answers.items():
            opened = node.wait_for(lambda m, n=name: m.get("open") == n or
                                   (m.get("conn") == n and "open" not in m), "%s open" % name)
            assert opened.get("protocol") == want, \
                "node ws %s: %r (expected protocol %r); all: %r" % (name, opened, want,
                                                                     node.of(name))
            node.wait_for(lambda m, n=name: m.get("ready") == n, "%s subscribed" % name)
        for name in ("none", "foreign"):
            node.assert_refused(name, 401, "node ws")
        seq = publish_ok(server, auth.publisher, "forms:c", {"lib": "ws"})
        node.assert_event(answers, "forms:c", seq, {"lib": "ws"}, "node ws")
    finally:
        err = node.close()
    problems = [m for m in node.lines if "problem" in m or "closed" in m]
    assert not problems, "node: %r\n%s" % (problems, err)


def test_query_token_wins_over_header_wins_over_subprotocol(start_server, auth):
    server = start_server(*auth.flags())
    good = auth.mint(sub="u1", subscribe=["*"])
    bad = auth.sign(good_claims(), key=auth.foreign)
    cases = [  # (query, Authorization, subprotocol entry, accepted?)
        (good, bad, None, True), (bad, good, None, False),
        (None, good, bad, True), (None, bad, good, False),
        (good, None, bad, True), (bad, None, good, False),
    ]
    for query, header, proto, ok in cases:
        path, headers = "/v1/ws", dict(WS_UPGRADE)
        if query:
            path += "?token=" + query
        if header:
            headers["Authorization"] = "Bearer " + header
        if proto:
            headers["Sec-WebSocket-Protocol"] = "bearer." + proto
        what = "query=%s header=%s subprotocol=%s" % (
            *[{good: "good", bad: "bad", None: "-"}[t] for t in (query, header, proto)],)
        result = http_request(server, "GET", path, headers)
        if ok:
            assert result[0] == 101, "%s: expected 101, got %d %r" % (what, result[0], result[2])
        else:
            assert_unauthorized(result, what, r"signature")


# ===================================================================================
# Subscribe permissions
# ===================================================================================

def test_ws_subscribe_permissions_and_delivery(start_server, auth):
    server = start_server(*auth.flags())
    witness = Witness(server, auth)
    ws = ws_connect(server, auth.mint(sub="agent", subscribe=["customer_id:42:>"]))
    try:
        asked = ["customer_id:42:call:*", "customer_id:*:call:*", "customer_id:42:call:7",
                 "customer_id:43:x", "customer_id:42"]
        forbidden = ["customer_id:*:call:*", "customer_id:43:x", "customer_id:42"]
        errors, held = ws_subscribe(ws, asked)
        assert held == ["customer_id:42:call:*", "customer_id:42:call:7"], \
            "subscribed reply %r (errors %r)" % (held, errors)
        assert [e.get("topic") for e in errors] == forbidden, "errors %r" % errors
        for e in errors:
            assert e["type"] == "error" and e["code"] == "forbidden", e
            assert set(e) == {"type", "code", "topic", "message"} and e["message"], e
        # Real events: the forbidden subscriptions get nothing, the accepted
        # ones everything (once, though 42:call:7 matches two subscriptions).
        published = []
        for topic in ("customer_id:43:x", "customer_id:42", "customer_id:9:call:1",
                      "customer_id:43:call:7", "customer_id:42:call:7", "customer_id:42:call:8",
                      "customer_id:42:call:fence"):
            published.append((topic, publish_ok(server, auth.publisher, topic, {"t": topic})))
        witness.expect(published)
        got = events_until(ws, *published[-1])
        assert topics_of(got) == ["customer_id:42:call:7", "customer_id:42:call:8",
                                  "customer_id:42:call:fence"], "received %r" % got
        assert_quiet(ws, "after the fence")
    finally:
        ws.close()
        witness.close()


# (the token's subscribe claim, or None for no claim; the subscription; allowed?)
CONTAINMENT = [
    (["customer_id:42:>"], "customer_id:42:call:7", True),
    (["customer_id:42:>"], "customer_id:42:call:*", True),
    (["customer_id:42:>"], "customer_id:42:>", True),
    (["customer_id:42:>"], "customer_id:42:call:>", True),
    (["customer_id:42:>"], "customer_id:*:call:*", False),
    (["customer_id:42:>"], "customer_id:42", False),
    (["customer_id:42:>"], "customer_id:43:x", False),
    (["customer_id:42:>"], "*", False),
    (["customer_id:42:*"], "customer_id:42:call", True),
    (["customer_id:42:*"], "customer_id:42:*", True),
    (["customer_id:42:*"], "customer_id:42:>", False),
    (["customer_id:42:*"], "customer_id:42:call:7", False),
    (["*"], "anything:at.all", True),
    (["*"], "a.>", True),
    (["*"], "*", True),
    (["jobs.*"], "jobs.7", True),
    (["jobs.*"], "jobs:7", False),
    (["a:*:c"], "a:*:c", True),
    (["a:*:c"], "a:b:c", True),
    (["a:*:c"], "a:b:*", False),
    (["a:b", "c:>"], "a:b", True),
    (["a:b", "c:>"], "c:d:e", True),
    (["a:b", "c:>"], "a:c", False),
    (["a:b", "c:>"], "c", False),
    ([], "a", False),
    (None, "a", False),
]


def test_subscribe_containment_rules(start_server, auth):
    server = start_server(*auth.flags())
    conns, wrong = {}, []
    try:
        for claim, topic, allowed in CONTAINMENT:
            key = json.dumps(claim)
            if key not in conns:
                extra = ["--claims", json.dumps({"subscribe": claim})] if claim is not None else []
                conns[key] = ws_connect(server, auth.mint(sub="c", extra=extra))
            errors, held = ws_subscribe(conns[key], [topic])
            if allowed:
                ok = not errors and held == [topic]
            else:
                ok = (held == [] and len(errors) == 1 and errors[0].get("code") == "forbidden"
                      and errors[0].get("topic") == topic)
            if not ok:
                wrong.append("claim %s, subscribe %r: expected %s, got errors %r, subscribed %r"
                             % (key, topic, "allowed" if allowed else "forbidden", errors, held))
    finally:
        for ws in conns.values():
            ws.close()
    assert not wrong, "\n".join(wrong)


def test_voipbin_token_in_query(start_server, auth):
    """The VoIPBIN shape of docs/auth.md: ?token=, a per-customer claim, a
    call pattern; the backend publishes with ringcast-pub and its own token."""
    server = start_server(*auth.flags())
    agent = auth.mint(sub="agent-7", subscribe=["customer_id:42:>"], ttl="12h")
    backend = auth.token_file(auth.mint(sub="billing-backend", publish=["customer_id:*:call:*"],
                                        ttl="0"), "backend.token")
    ws = websocket.create_connection(ws_url(server, agent), timeout=STEP)
    try:
        reply = request(ws, type="subscribe", topics=["customer_id:42:call:*"])
        assert without_positions(reply) == {"type": "subscribed", "topics": ["customer_id:42:call:*"]}, reply
        for topic in ("customer_id:43:call:*", "customer_id:*:call:*"):
            errors, held = ws_subscribe(ws, [topic])
            assert held == [] and \
                [(e["code"], e["topic"]) for e in errors] == [("forbidden", topic)], \
                "subscribe %s: errors %r, subscribed %r" % (topic, errors, held)
        sent = []
        for topic, status in (("customer_id:43:call:7", "ringing"),
                              ("customer_id:42:call:7", "ringing"),
                              ("customer_id:43:call:8", "answered"),
                              ("customer_id:42:call:7", "answered")):
            p = pub_cli(server, backend, "--type", "call.status", topic,
                        json.dumps({"status": status}))
            assert p.returncode == 0, "ringcast-pub %s: %s" % (topic, p.stderr)
            sent.append((topic, int(p.stdout), status))
        got = events_until(ws, "customer_id:42:call:7", sent[-1][1])
        assert [(e["topic"], e["seq"], e["event_type"], e["data"]) for e in got] == \
            [(t, s, "call.status", {"status": st}) for t, s, st in sent if ":42:" in t], got
        assert_quiet(ws, "customer 42's agent")
    finally:
        ws.close()


# ===================================================================================
# SSE
# ===================================================================================

def test_sse_allowed_topics_stream_with_query_or_header_token(start_server, auth):
    server = start_server(*auth.flags())
    token = auth.mint(sub="u1", subscribe=["customer_id:42:>"])
    topics = ["customer_id:42:call:*", "customer_id:42:message:1"]
    streams = [TokenSSE(server, topics, token, "query"), TokenSSE(server, topics, token, "header")]
    try:
        for s in streams:
            assert s.headers.get("content-type") == "text/event-stream", s.headers
        published = [("customer_id:43:call:1", publish_ok(server, auth.publisher,
                                                          "customer_id:43:call:1", {"n": 0}))]
        for topic in ("customer_id:42:call:1", "customer_id:42:message:1"):
            published.append((topic, publish_ok(server, auth.publisher, topic, {"t": topic})))
        for s in streams:
            got = [s.event(), s.event()]
            assert sorted((e["topic"], e["seq"], e["data"]) for e in got) == \
                sorted((t, q, {"t": t}) for t, q in published[1:]), "%s: %r" % (s.url, got)
            assert s.nothing_pending(QUIET), "%s: an extra record" % s.url
    finally:
        for s in streams:
            s.close()


def test_sse_any_forbidden_topic_is_403(start_server, auth):
    server = start_server(*auth.flags())
    token = auth.mint(sub="u1", subscribe=["customer_id:42:>"])
    cases = [(["customer_id:43:call:*"], "customer_id:43:call:*"),
             (["customer_id:42:call:*", "customer_id:*:call:*"], "customer_id:*:call:*"),
             (["customer_id:42"], "customer_id:42"),
             (["*"], "*"),
             (["customer_id:42:x", "customer_id:43:x", "customer_id:42:y"], "customer_id:43:x")]
    for topics, refused in cases:
        for via in ("query", "header"):
            assert_forbidden(sse_request(server, topics, token, via),
                             "SSE %r, token via %s" % (topics, via), refused)


def test_sse_node_eventsource(start_server, auth):
    server = start_server(*auth.flags())
    token = auth.mint(sub="u1", subscribe=["feed.>"])
    base = "http://%s:%d" % (HOST, server.port)
    spec = [
        {"name": "header", "kind": "sse", "url": base + sse_path(["feed.*"]),
         "headers": {"Authorization": "Bearer " + token}},
        {"name": "query", "kind": "sse", "url": base + sse_path(["feed.*"], token)},
        {"name": "none", "kind": "sse", "url": base + sse_path(["feed.*"])},
        {"name": "forbidden", "kind": "sse", "url": base + sse_path(["other.*"], token)},
    ]
    node = NodeClients(spec)
    try:
        for name in ("header", "query"):
            node.wait_for(lambda m, n=name: m.get("ready") == n, "%s open" % name)
        for name, status in (("none", 401), ("forbidden", 403)):
            node.assert_refused(name, status, "eventsource")
        seq = publish_ok(server, auth.publisher, "feed.x", {"lib": "eventsource"})
        node.assert_event(["header", "query"], "feed.x", seq, {"lib": "eventsource"}, "eventsource")
    finally:
        err = node.close()
    problems = [m for m in node.lines if "problem" in m]
    assert not problems, "node: %r\n%s" % (problems, err)


def test_sse_stream_ends_at_exp(start_server, auth):
    server = start_server(*auth.flags())
    token = auth.mint(sub="u1", subscribe=["tick:*"], ttl="3s")
    exp = claims_of(token)["exp"]
    stream = TokenSSE(server, ["tick:*"], token)
    try:
        seq = publish_ok(server, auth.publisher, "tick:1", {"before": "exp"})
        event = stream.event()
        assert (event["topic"], event["seq"]) == ("tick:1", seq), event
        assert stream.ended(exp + EXP_SLACK - time.time()), \
            "the SSE stream was still open %.1fs after exp" % EXP_SLACK
        ended = time.time()
        assert ended >= exp - EARLY, "the stream ended %.2fs before exp" % (exp - ended)
        assert stream.proc.wait(STEP) == 0, "curl: the response did not finish cleanly"
    finally:
        stream.close()
    # The browser's reconnection with the same token is refused. The stream
    # may end a moment before exp by the wall clock (EARLY): the token is
    # valid until then, so reconnect once exp has passed.
    time.sleep(max(0.0, exp + 0.05 - time.time()))
    assert_unauthorized(sse_request(server, ["tick:*"], token), "SSE with the expired token",
                        r"expired|exp")


# ===================================================================================
# Expiry and refresh on /v1/ws
# ===================================================================================

def test_ws_closed_4003_at_exp(start_server, auth):
    server = start_server(*auth.flags())
    token = auth.mint(sub="u1", subscribe=["tick:*"], ttl="2s")
    exp = claims_of(token)["exp"]
    ws = ws_connect(server, token)
    try:
        subscribe_all(ws, ["tick:*"])
        assert_closed_at_exp(ws, exp)
    finally:
        ws.close()


def test_refresh_moves_exp(start_server, auth):
    server = start_server(*auth.flags())
    first = auth.mint(sub="u1", subscribe=["tick:*"], ttl="2s")
    second = auth.mint(sub="u1", subscribe=["tick:*"], ttl="5s")
    old_exp, new_exp = claims_of(first)["exp"], claims_of(second)["exp"]
    assert new_exp >= old_exp + 3
    ws = ws_connect(server, first)
    try:
        subscribe_all(ws, ["tick:*"])
        reply = request(ws, type="refresh", token=second)
        assert reply == {"type": "refreshed", "exp": new_exp, "removed": []}, reply
        time.sleep(max(0.0, old_exp + 0.7 - time.time()))
        assert_ping(ws, "past the old exp")
        seq = publish_ok(server, auth.publisher, "tick:1", {"after": "old exp"})
        event = recv_msg(ws)
        assert (event["topic"], event["seq"]) == ("tick:1", seq), event
        assert_closed_at_exp(ws, new_exp, "the new exp")
    finally:
        ws.close()


def test_refresh_removes_what_the_new_token_no_longer_allows(start_server, auth):
    server = start_server(*auth.flags())
    first = auth.mint(sub="u1", subscribe=["r:>"])
    narrower = auth.mint(sub="u1", subscribe=["r:a", "r:c:*"], ttl="0")  # and no exp
    ws = ws_connect(server, first)
    try:
        subscribe_all(ws, ["r:a", "r:b", "r:*", "r:c:*"])
        reply = request(ws, type="refresh", token=narrower)
        assert reply.get("type") == "refreshed" and set(reply) == {"type", "exp", "removed"}, reply
        assert reply["exp"] is None, "a token without exp: exp %r, not null" % reply["exp"]
        assert sorted(reply["removed"]) == ["r:*", "r:b"], "removed %r" % reply["removed"]
        published = [(t, publish_ok(server, auth.publisher, t, {"t": t}))
                     for t in ("r:b", "r:z", "r:a", "r:c:1", "r:a")]
        got = events_until(ws, *published[-1])
        assert [(e["topic"], e["seq"]) for e in got if e["topic"] == "r:a"] == \
            [p for p in published if p[0] == "r:a"], got
        assert topics_of(got) == ["r:a", "r:a", "r:c:1"], "received %r" % got
        assert_quiet(ws, "after the refresh")
        # Re-subscribing to a removed topic is now forbidden.
        errors, held = ws_subscribe(ws, ["r:b"])
        assert [(e["code"], e["topic"]) for e in errors] == [("forbidden", "r:b")], errors
        assert held == [], "the subscribed reply lists only accepted topics: %r" % held
    finally:
        ws.close()


def test_refused_refresh_keeps_the_old_token(start_server, auth):
    server = start_server(*auth.flags())
    refusals = [
        ("another sub", auth.mint(sub="u2", subscribe=["k:>"]), "forbidden"),
        ("another sub, fewer rights", auth.mint(sub="u2", subscribe=["k:a"]), "forbidden"),
        ("no sub", auth.mint(subscribe=["k:>"]), "forbidden"),
        ("foreign secret", auth.sign({"sub": "u1", "subscribe": ["k:>"]}, key=auth.foreign),
         "unauthorized"),
        ("expired", auth.sign({"sub": "u1", "subscribe": ["k:a"],
                               "exp": int(time.time()) - 5}), "unauthorized"),
        ("alg none", jwt.encode({"sub": "u1", "subscribe": ["k:a"]}, None, algorithm="none"),
         "unauthorized"),
        ("garbage", "not-a-token", "unauthorized"),
    ]
    token = auth.mint(sub="u1", subscribe=["k:>"], ttl="4s")  # minted last: the most time left
    exp = claims_of(token)["exp"]
    ws = ws_connect(server, token)
    try:
        subscribe_all(ws, ["k:a", "k:b"])
        for what, new, code in refusals:
            reply = request(ws, type="refresh", token=new)
            assert reply.get("type") == "error" and reply.get("code") == code, \
                "refresh with %s: %r (expected error %s)" % (what, reply, code)
            assert isinstance(reply.get("message"), str) and reply["message"], reply
        # Nothing changed: both subscriptions still deliver...
        published = [(t, publish_ok(server, auth.publisher, t, {"t": t})) for t in ("k:a", "k:b")]
        got = [recv_msg(ws), recv_msg(ws)]
        assert sorted((e["topic"], e["seq"]) for e in got) == sorted(published), got
        # ...and the old exp still holds.
        assert_closed_at_exp(ws, exp)
    finally:
        ws.close()


def test_refresh_in_open_mode_is_bad_request(start_server, auth):
    server = start_server()
    ws = ws_connect(server)
    try:
        reply = request(ws, type="refresh", token=auth.mint(sub="u1", subscribe=["*"]))
        assert reply.get("type") == "error" and reply.get("code") == "bad_request", reply
        assert_ping(ws, "after the refused refresh")
    finally:
        ws.close()


# ===================================================================================
# Publishers
# ===================================================================================

def test_binary_hello_without_valid_token_is_unauthorized(start_server, auth):
    server = start_server(*auth.flags(previous=True))
    tokens = {"none": b"", "garbage": b"garbage",
              "foreign secret": auth.sign(good_claims(), key=auth.foreign).encode(),
              "expired": auth.sign(good_claims(exp=int(time.time()) - 5)).encode(),
              "alg none": jwt.encode(good_claims(), None, algorithm="none").encode()}
    for what, token in tokens.items():
        with rcproto.PubConn(server) as conn:
            # A PUBLISH pipelined behind the HELLO is not processed.
            conn.send(rcproto.hello(1, token=token) +
                      rcproto.publish(2, "p:1", b"{}", content_type=b"application/json"))
            f = conn.recv_frame(STEP)
            assert f is not None and f.type == rcproto.NACK and f.corr == 1, \
                "HELLO with token %s: %s" % (what, rcproto.describe(f))
            err = rcproto.decode_error(f.body)
            assert err.code == rcproto.UNAUTHORIZED, "HELLO with token %s: %r" % (what, err)
            f = conn.recv_frame(STEP)
            assert f is None, "after the refused HELLO (%s): %s" % (what, rcproto.describe(f))
    # ringcast-pub reports it and fails.
    bad_file = auth.token_file("garbage", "garbage.token")
    for what, token_file in (("no --token-file", None), ("a bad token", bad_file)):
        p = pub_cli(server, token_file, "p:1", '{"n":1}')
        assert p.returncode != 0 and p.stdout == "", \
            "ringcast-pub with %s: exit %d, stdout %r" % (what, p.returncode, p.stdout)
        assert "unauthorized" in p.stderr, "ringcast-pub with %s: stderr %r" % (what, p.stderr)
    # Nothing reached p:1: its first event is seq 1.
    assert publish_ok(server, auth.publisher, "p:1", {"n": 2}) == 1


def test_binary_publish_outside_claim_is_forbidden(start_server, auth):
    server = start_server(*auth.flags())
    witness = Witness(server, auth)
    token = auth.mint(sub="svc", publish=["x:*"])
    try:
        with rcproto.PubConn(server) as conn:
            conn.hello(token=token)
            json_type = {"content_type": b"application/json"}
            conn.send(rcproto.publish(2, "x:1", b'{"n":1}', **json_type) +
                      rcproto.publish(3, "y:1", b'{"n":2}', **json_type) +
                      rcproto.publish(4, "x:1:deeper", b'{"n":3}', **json_type) +
                      rcproto.publish(5, "x:2", b'{"n":4}', **json_type))
            replies = {}
            for _ in range(4):
                f = conn.recv_frame(STEP)
                assert f is not None, "the connection closed; replies so far %r" % replies
                replies[f.corr] = f
            assert replies[2].type == rcproto.ACK and replies[5].type == rcproto.ACK, \
                {c: rcproto.describe(f) for c, f in replies.items()}
            for corr in (3, 4):
                assert replies[corr].type == rcproto.NACK, rcproto.describe(replies[corr])
                assert rcproto.decode_error(replies[corr].body).code == rcproto.FORBIDDEN, \
                    rcproto.describe(replies[corr])
            conn.ping_roundtrip(6, b"alive")
            acked = [("x:1", rcproto.decode_ack(replies[2].body).seq),
                     ("x:2", rcproto.decode_ack(replies[5].body).seq)]
        # ringcast-pub, one event and the standard-input form.
        token_file = auth.token_file(token, "svc.token")
        p = pub_cli(server, token_file, "y:2", '{"n":5}')
        assert p.returncode == 1 and p.stdout == "" and "forbidden" in p.stderr, \
            "ringcast-pub y:2: exit %d, %r %r" % (p.returncode, p.stdout, p.stderr)
        lines = [{"topic": "x:3", "data": {"n": 6}}, {"topic": "y:3", "data": {"n": 7}},
                 {"topic": "x:3", "data": {"n": 8}}]
        p = pub_cli(server, token_file, stdin="".join(json.dumps(l) + "\n" for l in lines))
        results = [json.loads(l) for l in p.stdout.splitlines()]
        assert p.returncode == 1, "exit %d: %s" % (p.returncode, p.stderr)
        assert results[0] == {"line": 1, "topic": "x:3", "seq": 1}, results
        assert results[1].get("error") == "forbidden" and results[1]["line"] == 2 and \
            results[1]["topic"] == "y:3", results
        assert results[2] == {"line": 3, "topic": "x:3", "seq": 2}, results
        acked += [("x:3", 1), ("x:3", 2)]
        witness.expect(acked)
        assert_quiet(witness.ws, "the witness (forbidden publishes must not be delivered)")
    finally:
        witness.close()


def test_binary_publisher_token_expiry(start_server, auth):
    server = start_server(*auth.flags())
    token = auth.mint(sub="svc", publish=["e:*"], ttl="2s")
    exp = claims_of(token)["exp"]
    with rcproto.PubConn(server) as conn:
        conn.hello(token=token)
        conn.send(rcproto.publish(2, "e:1", b"before"))
        assert conn.expect_ack(2).seq == 1
        time.sleep(max(0.0, exp + 0.5 - time.time()))
        conn.send(rcproto.publish(3, "e:1", b"after"))
        conn.expect_fatal(rcproto.UNAUTHORIZED, 3, timeout=STEP)


def test_http_publish_auth(start_server, auth):
    server = start_server(*auth.flags())
    token = auth.mint(sub="svc", publish=["orders.*"])
    ws = ws_connect(server, auth.watcher)
    try:
        subscribe_all(ws, ["*"])
        status, head, doc = http_publish(server, None, "orders.1", {"n": 0})
        assert status == 401 and doc.get("error") == "unauthorized", (status, doc)
        for what, bad in (("garbage", "garbage"),
                          ("foreign", auth.sign(good_claims(), key=auth.foreign)),
                          ("expired", auth.sign(good_claims(exp=int(time.time()) - 5)))):
            for via in ("header", "query"):
                status, head, doc = http_publish(server, bad, "orders.1", {"n": 0}, via=via)
                assert status == 401 and doc.get("error") == "unauthorized", \
                    "%s token via %s: %d %r" % (what, via, status, doc)
        for via in ("header", "query"):
            status, head, doc = http_publish(server, token, "jobs.1", {"n": 0}, via=via)
            assert status == 403 and doc.get("error") == "forbidden", \
                "outside the claim, token via %s: %d %r" % (via, status, doc)
        seqs = [publish_ok(server, token, "orders.1", {"n": 1}, via="header"),
                publish_ok(server, token, "orders.1", {"n": 2}, via="query")]
        assert seqs == [1, 2], seqs
        got = [recv_msg(ws), recv_msg(ws)]
        assert [(e["topic"], e["seq"], e["data"]) for e in got] == \
            [("orders.1", 1, {"n": 1}), ("orders.1", 2, {"n": 2})], got
        assert_quiet(ws, "the watcher (refused publishes must not be delivered)")
    finally:
        ws.close()


def test_fetch_needs_subscribe_claim(start_server, auth):
    server = start_server(*auth.flags(), "--max-payload", "64")
    reader = auth.mint(sub="r", subscribe=["jobs:*"])
    ws = ws_connect(server, reader)
    try:
        subscribe_all(ws, ["jobs:*"])
        payload = {"id": "job-1", "blob": "z" * 200}
        seq = publish_ok(server, auth.publisher, "jobs:1", payload)
        stub = recv_msg(ws)
        assert stub.get("truncated") is True and stub.get("seq") == seq, stub
        path = stub["fetch"]
        status, head, body = http_request(server, "GET", path,
                                          {"Authorization": "Bearer " + reader})
        assert status == 200, "fetch %s: %d %r" % (path, status, body[:200])
        assert json.loads(body)["data"] == payload
        status, head, body = http_request(server, "GET", path + "?token=" + reader)
        assert status == 200, "fetch %s?token=: %d %r" % (path, status, body[:200])
        other = auth.mint(sub="o", subscribe=["other:*"])
        assert_forbidden(http_request(server, "GET", path, {"Authorization": "Bearer " + other}),
                         "fetch with a token for other:*", "jobs:1")
        status, head, body = http_request(server, "GET", path)
        assert status == 401, "fetch without a token: %d %r" % (status, body)
    finally:
        ws.close()


# ===================================================================================
# Open mode
# ===================================================================================

def test_open_mode_serves_without_tokens_and_says_so(start_server, auth):
    server = start_server()
    server.wait_for_log(r"\bwarn\b.*open mode")
    ws = ws_connect(server)
    sse = TokenSSE(server, ["open:*"])
    try:
        subscribe_all(ws, ["open:*"])
        p = pub_cli(server, None, "open:1", '{"n":1}')
        assert p.returncode == 0 and p.stdout.strip() == "1", (p.returncode, p.stdout, p.stderr)
        # A token is ignored on the binary protocol in open mode.
        p = pub_cli(server, auth.token_file("garbage", "g.token"), "open:1", '{"n":2}')
        assert p.returncode == 0 and p.stdout.strip() == "2", (p.returncode, p.stdout, p.stderr)
        assert publish_ok(server, None, "open:1", {"n": 3}) == 3
        for got in ([recv_msg(ws) for _ in range(3)], [sse.event() for _ in range(3)]):
            assert [(e["seq"], e["data"]) for e in got] == [(1, {"n": 1}), (2, {"n": 2}),
                                                            (3, {"n": 3})], got
    finally:
        sse.close()
        ws.close()


@pytest.mark.parametrize("flag", ["--listen", "--publish-listen"])
def test_open_mode_refuses_non_loopback(flag):
    cmd = [binary("ringcast"), "--shards", "1", "--listen", "127.0.0.1:0", "--publish-listen",
           "127.0.0.1:0", flag, "0.0.0.0:0"]
    try:
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=20)
    except subprocess.TimeoutExpired as e:
        raise AssertionError("ringcast %s 0.0.0.0:0 without a secret kept running:\n%s" % (
            flag, e.stderr))
    assert p.returncode == 2, "exit %d, not 2:\n%s" % (p.returncode, p.stderr)
    assert "--insecure-open" in p.stderr, "the refusal does not name --insecure-open:\n" + p.stderr
    assert "listening" not in p.stderr, p.stderr


def test_insecure_open_serves_non_loopback(start_server):
    server = start_server("--listen", "0.0.0.0:0", "--publish-listen", "0.0.0.0:0",
                          "--insecure-open", shards=1)
    assert server.host == "0.0.0.0", server.host
    server.wait_for_log(r"\bwarn\b.*open mode")
    ws = ws_connect(server)  # through 127.0.0.1
    try:
        subscribe_all(ws, ["io:1"])
        p = pub_cli(server, None, "io:1", '"hi"')
        assert p.returncode == 0, p.stderr
        event = recv_msg(ws)
        assert (event["topic"], event["seq"], event["data"]) == ("io:1", 1, "hi"), event
    finally:
        ws.close()


def test_non_loopback_with_secret_needs_no_insecure_open(start_server, auth):
    server = start_server(*auth.flags(), "--listen", "0.0.0.0:0", shards=1)
    assert server.host == "0.0.0.0"
    assert_unauthorized(ws_upgrade(server), "/v1/ws without a token on 0.0.0.0")
    status, _, _ = ws_upgrade(server, auth.watcher)
    assert status == 101, status
