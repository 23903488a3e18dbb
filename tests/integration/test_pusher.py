"""The Pusher dialect (docs/protocol/pusher.md) driven by Pusher's own
libraries: pusher-js 8 in Node (node/pusher_client.mjs) on /app/<key>, and
the `pusher` npm server library (node/pusher_trigger.mjs) on the HTTP API;
raw WebSocket and HTTP clients for what those libraries never send (bad
signatures, old timestamps, bad channel names, unknown keys)."""

import base64
import hashlib
import hmac
import http.client
import http.server
import json
import os
import re
import subprocess
import threading
import time
import urllib.parse

import pytest
import websocket

from conftest import NODE_DIR, binary, publish
from nodehelpers import NodeScript
from test_browsers import load_pages

APP = {"id": "7", "key": "app-key-7", "secret": "s3cret-of-app-7", "client_events": False}
OTHER = {"id": "8", "key": "app-key-8", "secret": "s3cret-of-app-8"}
CHAT = {"id": "9", "key": "app-key-9", "secret": "s3cret-of-app-9", "client_events": True}
SMALL = {"id": "10", "key": "app-key-10", "secret": "s3cret-of-app-10", "max_payload": 100}
PACKAGES = ("pusher-js", "pusher")
SOCKET_ID = re.compile(r"^\d+\.\d+$")


@pytest.fixture
def apps_file(tmp_path):
    path = tmp_path / "apps.json"
    path.write_text(json.dumps([APP, OTHER, CHAT, SMALL]))
    os.chmod(path, 0o600)
    return str(path)


@pytest.fixture
def pusher_server(start_server, apps_file):
    return start_server("--pusher-apps", apps_file)


class PusherClient(NodeScript):
    """pusher-js in a child process (node/pusher_client.mjs)."""

    def __init__(self, server, key=APP["key"], secret=APP["secret"], auth_endpoint=None,
                 auth_token=""):
        args = ["--port", str(server.port), "--key", key]
        if secret:
            args += ["--secret", secret]
        if auth_endpoint:
            args += ["--auth-endpoint", auth_endpoint, "--auth-token", auth_token]
        super().__init__("pusher_client.mjs", args, packages=PACKAGES)

    def send(self, **cmd):
        self.proc.stdin.write(json.dumps(cmd) + "\n")
        self.proc.stdin.flush()

    def wait_for(self, key, timeout=20, value=None):
        """Skips lines until one has |key| (equal to |value| when given)."""
        deadline = time.time() + timeout
        while True:
            line = self.next_line(max(0.1, deadline - time.time()))
            if key in line and (value is None or line[key] == value):
                return line

    def connected(self):
        return self.wait_for("state", value="connected")["socket_id"]

    def subscribe(self, channel):
        self.send(op="subscribe", channel=channel)
        return self.wait_for("subscribed", value=channel)


def trigger(server, call, app=APP, secret=None, encryption_key=None):
    """Runs one call of the `pusher` library; returns {"status", "body"}."""
    args = ["--port", str(server.port), "--app-id", app["id"], "--key", app["key"],
            "--secret", secret or app["secret"]]
    if encryption_key:
        args += ["--encryption-key", encryption_key]
    args.append(json.dumps(call))
    with NodeScript("pusher_trigger.mjs", args, packages=PACKAGES) as script:
        return script.next_line(30)


def signed_post(server, path, body, app=APP, timestamp=None, secret=None):
    """POSTs |body| signed as Pusher specifies, by hand; returns (status, body)."""
    body_bytes = json.dumps(body).encode()
    params = {"auth_key": app["key"], "auth_timestamp": str(timestamp or int(time.time())),
              "auth_version": "1.0", "body_md5": hashlib.md5(body_bytes).hexdigest()}
    query = "&".join("%s=%s" % kv for kv in sorted(params.items()))
    to_sign = "POST\n%s\n%s" % (path, query)
    signature = hmac.new((secret or app["secret"]).encode(), to_sign.encode(),
                         hashlib.sha256).hexdigest()
    conn = http.client.HTTPConnection(server.host, server.port, timeout=10)
    conn.request("POST", "%s?%s&auth_signature=%s" % (path, query, signature), body_bytes,
                 {"Content-Type": "application/json"})
    response = conn.getresponse()
    result = (response.status, response.read().decode())
    conn.close()
    return result


def raw_pusher(server, key=APP["key"], query="?protocol=7&client=py&version=1"):
    """A raw WebSocket on /app/<key>; returns (ws, the first message)."""
    ws = websocket.create_connection("ws://%s:%d/app/%s%s" % (server.host, server.port, key,
                                                              query), timeout=10)
    return ws, json.loads(ws.recv())


def test_connection_established_and_ping(pusher_server):
    ws, hello = raw_pusher(pusher_server)
    assert hello["event"] == "pusher:connection_established"
    data = json.loads(hello["data"])  # a JSON string, as Pusher sends it
    assert SOCKET_ID.match(data["socket_id"]), data
    assert data["activity_timeout"] > 0
    ws.send(json.dumps({"event": "pusher:ping", "data": {}}))
    assert json.loads(ws.recv())["event"] == "pusher:pong"
    ws.close()


def test_pusher_js_public_channel_trigger(pusher_server):
    with PusherClient(pusher_server) as client:
        assert SOCKET_ID.match(client.connected())
        client.subscribe("my-channel")
        client.subscribe("other.channel;x")
        result = trigger(pusher_server, ["trigger", ["my-channel", "other.channel;x"], "my-event",
                                         {"message": "hello"}])
        assert result == {"status": 200, "body": "{}"}, result
        got = {client.wait_for("event")["channel"] for _ in range(2)}
        assert got == {"my-channel", "other.channel;x"}
        result = trigger(pusher_server, ["trigger", "my-channel", "plain", "just text"])
        assert result["status"] == 200, result
        line = client.wait_for("event", value="plain")
        assert line["data"] == "just text" and line["channel"] == "my-channel"


def test_trigger_batch(pusher_server):
    with PusherClient(pusher_server) as client:
        client.connected()
        client.subscribe("batch-a")
        client.subscribe("batch-b")
        batch = [{"channel": "batch-a", "name": "one", "data": json.dumps({"n": 1})},
                 {"channel": "batch-b", "name": "two", "data": json.dumps({"n": 2})}]
        assert trigger(pusher_server, ["triggerBatch", batch])["status"] == 200
        seen = {}
        for _ in range(2):
            line = client.wait_for("event")
            seen[line["event"]] = (line["channel"], line["data"])
        assert seen == {"one": ("batch-a", {"n": 1}), "two": ("batch-b", {"n": 2})}


def test_private_channel_signed_and_refused(pusher_server):
    with PusherClient(pusher_server) as client, \
            PusherClient(pusher_server, secret="not-the-secret") as intruder:
        client.connected()
        intruder.connected()
        client.subscribe("private-v3-channel-42")
        intruder.send(op="subscribe", channel="private-v3-channel-42")
        refused = intruder.wait_for("subscription_error")
        assert refused["status"] == 401 and refused["type"] == "AuthError", refused
        assert trigger(pusher_server, ["trigger", "private-v3-channel-42", "job-result",
                                       {"job": 1}])["status"] == 200
        line = client.wait_for("event", value="job-result")
        assert line["data"] == {"job": 1}
        intruder.send(op="subscribe", channel="public-probe")
        intruder.wait_for("subscribed", value="public-probe")
        assert all("event" not in line or line["event"] != "job-result"
                   for line in list(intruder.out.queue)), "an unauthorized client got the event"


def test_native_publish_reaches_pusher_and_back(pusher_server):
    """One topic space: a binary publish to a channel's topic reaches
    pusher-js; a Pusher API publish reaches a native WebSocket subscriber."""
    topic = "pusher:7:App~2EUser~2E1"
    native = websocket.create_connection(pusher_server.ws_url, timeout=10)
    native.send(json.dumps({"type": "subscribe", "topics": [topic]}))
    assert json.loads(native.recv())["type"] == "subscribed"
    with PusherClient(pusher_server) as client:
        client.connected()
        client.subscribe("App.User.1")
        publish(pusher_server, topic, {"from": "native"}, event_type="status")
        line = client.wait_for("event", value="status")
        assert line == {"event": "status", "channel": "App.User.1", "data": {"from": "native"}}
        assert trigger(pusher_server, ["trigger", "App.User.1", "from-pusher",
                                       {"k": "v"}])["status"] == 200
    events = [json.loads(native.recv()) for _ in range(2)]
    native.close()
    assert [(e["event_type"], e["data"]) for e in events] == [
        ("status", {"from": "native"}), ("from-pusher", {"k": "v"})]


def test_apps_are_separate(pusher_server):
    with PusherClient(pusher_server, key=OTHER["key"], secret=OTHER["secret"]) as other, \
            PusherClient(pusher_server) as client:
        other.connected()
        client.connected()
        other.subscribe("shared-name")
        client.subscribe("shared-name")
        assert trigger(pusher_server, ["trigger", "shared-name", "for-7", "x"])["status"] == 200
        client.wait_for("event", value="for-7")
        assert trigger(pusher_server, ["trigger", "shared-name", "for-8", "y"],
                       app=OTHER)["status"] == 200
        assert other.wait_for("event")["event"] == "for-8", "app 8 got app 7's event"


def test_wrong_signature_and_old_timestamp_refused(pusher_server):
    body = {"name": "e", "channels": ["c"], "data": "{}"}
    assert signed_post(pusher_server, "/apps/7/events", body)[0] == 200
    status, text = signed_post(pusher_server, "/apps/7/events", body, secret="wrong-secret")
    assert status == 401 and "signature" in text.lower(), (status, text)
    status, text = signed_post(pusher_server, "/apps/7/events", body,
                               timestamp=int(time.time()) - 700)
    assert status == 401 and "timestamp" in text.lower(), (status, text)
    assert signed_post(pusher_server, "/apps/8/events", body)[0] == 401  # app 7's key for app 8
    assert signed_post(pusher_server, "/apps/99/events", body)[0] == 404
    result = trigger(pusher_server, ["trigger", "c", "e", "x"], secret="wrong-secret")
    assert result["status"] == 401, result


def test_bad_requests(pusher_server):
    assert signed_post(pusher_server, "/apps/7/events",
                       {"name": "e", "channels": ["bad channel!"], "data": "{}"})[0] == 400
    assert signed_post(pusher_server, "/apps/7/events",
                       {"name": "e", "channels": ["c"] * 101, "data": "{}"})[0] == 400
    assert signed_post(pusher_server, "/apps/7/batch_events",
                       {"batch": [{"name": "e", "channel": "c", "data": "1"}] * 11})[0] == 400
    assert signed_post(pusher_server, "/apps/7/events",
                       {"name": "e", "channels": ["c"], "data": {"not": "a string"}})[0] == 400


def test_bad_channel_and_unknown_key_and_protocol(pusher_server):
    ws, _ = raw_pusher(pusher_server)
    ws.send(json.dumps({"event": "pusher:subscribe", "data": {"channel": "bad channel"}}))
    reply = json.loads(ws.recv())
    assert reply["event"] == "pusher:subscription_error" and reply["data"]["status"] == 400
    ws.send(json.dumps({"event": "pusher:subscribe", "data": {"channel": "private-x"}}))
    reply = json.loads(ws.recv())
    assert reply["event"] == "pusher:subscription_error" and reply["data"]["status"] == 401
    ws.send(json.dumps({"event": "client-typing", "channel": "private-x", "data": {}}))
    reply = json.loads(ws.recv())
    assert reply["event"] == "pusher:error" and reply["data"]["code"] == 4301
    ws.send("not json")
    assert json.loads(ws.recv())["event"] == "pusher:error"
    ws.close()



@pytest.mark.parametrize("key,query,code", [("no-such-key", "?protocol=7", 4001),
                                            (APP["key"], "", 4006),
                                            (APP["key"], "?protocol=6", 4007)])
def test_refused_connections_close_codes(pusher_server, key, query, code):
    """Told with pusher:error, then closed with the code (4000-4099: pusher-js
    does not reconnect)."""
    ws, first = raw_pusher(pusher_server, key=key, query=query)
    assert first["event"] == "pusher:error" and first["data"]["code"] == code, first
    opcode, frame = ws.recv_data_frame(True)
    assert opcode == websocket.ABNF.OPCODE_CLOSE
    assert int.from_bytes(frame.data[:2], "big") == code
    ws.close()


def test_off_without_flag(server):
    conn = http.client.HTTPConnection(server.host, server.port, timeout=10)
    conn.request("GET", "/app/any-key?protocol=7")
    assert conn.getresponse().status == 404
    conn.close()


def test_apps_file_checked(tmp_path):
    path = tmp_path / "apps.json"
    path.write_text(json.dumps([APP]))
    os.chmod(path, 0o644)
    flags = ["--listen", "127.0.0.1:0", "--publish-listen", "127.0.0.1:0"]
    p = subprocess.run([binary("ringcast"), "--pusher-apps", str(path)] + flags,
                       capture_output=True, text=True, timeout=30)
    assert p.returncode == 2 and "other users may read" in p.stderr, p.stderr
    os.chmod(path, 0o600)
    path.write_text(json.dumps([{"id": "1", "key": "k"}]))
    p = subprocess.run([binary("ringcast"), "--pusher-apps", str(path)] + flags,
                       capture_output=True, text=True, timeout=30)
    assert p.returncode == 2 and "secret" in p.stderr, p.stderr


class AppBackend:
    """The app's own auth endpoint, as a DatoCMS-like backend runs it: it
    signs "socket_id:channel" for the project of the bearer token, and
    only for that project's private channel."""

    def __init__(self, tokens):
        self.tokens = tokens  # bearer token -> project id
        self.requests = []
        backend = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"])).decode()
                form = dict(urllib.parse.parse_qsl(body))
                token = self.headers.get("Authorization", "").removeprefix("Bearer ")
                backend.requests.append(form)
                project = backend.tokens.get(token)
                channel = form.get("channel_name", "")
                if project is None or channel != "private-v3-channel-%s" % project:
                    self.send_response(403)
                    self.end_headers()
                    return
                signature = hmac.new(APP["secret"].encode(),
                                     ("%s:%s" % (form["socket_id"], channel)).encode(),
                                     hashlib.sha256).hexdigest()
                reply = json.dumps({"auth": "%s:%s" % (APP["key"], signature)}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(reply)))
                self.end_headers()
                self.wfile.write(reply)

            def log_message(self, *args):
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = "http://127.0.0.1:%d/pusher/auth" % self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.httpd.shutdown()
        self.httpd.server_close()


def test_datocms_job_results(start_server, apps_file):
    """The DatoCMS flow end to end: pusher-js authorizes
    private-v3-channel-<project> through the app's endpoint, the backend
    triggers job-result events with the `pusher` library; a result under
    10 KB arrives whole, one over it as the truncation stub, whose fetch
    path serves the whole result over REST."""
    server = start_server("--pusher-apps", apps_file)  # the app's max_payload: 10240
    channel = "private-v3-channel-42"
    with AppBackend({"token-42": "42", "token-43": "43"}) as backend, \
            PusherClient(server, secret=None, auth_endpoint=backend.url,
                         auth_token="token-42") as client, \
            PusherClient(server, secret=None, auth_endpoint=backend.url,
                         auth_token="token-43") as other:
        socket_id = client.connected()
        other.connected()
        client.subscribe(channel)
        assert backend.requests[0] == {"socket_id": socket_id, "channel_name": channel}
        other.send(op="subscribe", channel=channel)  # another project's token
        assert other.wait_for("subscription_error")["status"] == 403
        small = {"job_id": "j1", "status": 200, "payload": {"data": {"id": "1", "type": "site"}}}
        assert trigger(server, ["trigger", channel, "job-result", small])["status"] == 200
        assert client.wait_for("event", value="job-result")["data"] == small
        large = {"job_id": "j2", "status": 200,
                 "payload": {"data": [{"id": str(i), "type": "item", "attributes": {
                     "title": "x" * 100}} for i in range(100)]}}
        large_size = len(json.dumps(large, separators=(",", ":")))  # as the library sends it
        assert large_size > 10240
        assert trigger(server, ["trigger", channel, "job-result", large])["status"] == 200
        stub = client.wait_for("event", value="job-result")["data"]
        assert stub["truncated"] is True and stub["size"] == large_size, stub
        assert stub["ref"] == {}, stub  # the payload has no top-level id: nothing to copy
        conn = http.client.HTTPConnection(server.host, server.port, timeout=10)
        conn.request("GET", stub["fetch"])
        response = conn.getresponse()
        assert response.status == 200
        full = json.loads(response.read())
        conn.close()
        assert full["data"] == large and full["event_type"] == "job-result"
        assert all("event" not in line for line in list(other.out.queue)), \
            "the other project's client got a job result"


def events_until(client, marker, timeout=20):
    """The event lines |client| printed before the event named |marker|."""
    seen = []
    while True:
        line = client.wait_for("event", timeout)
        if line["event"] == marker:
            return seen
        seen.append(line)


def test_client_events(pusher_server):
    """client-* events reach the channel's other subscribers, on every
    shard, and never their sender."""
    clients = [PusherClient(pusher_server, key=CHAT["key"], secret=CHAT["secret"])
               for _ in range(4)]
    try:
        for c in clients:
            c.connected()
            c.subscribe("private-chat")
        sender, others = clients[0], clients[1:]
        sender.send(op="trigger", channel="private-chat", event="client-typing",
                    data={"who": "sender"})
        assert sender.wait_for("triggered")["triggered"] is True
        for c in others:
            line = c.wait_for("event", value="client-typing")
            assert line == {"event": "client-typing", "channel": "private-chat",
                            "data": {"who": "sender"}}, line
        # The same topic keeps one order: had the sender got its own event,
        # it would come before this one.
        others[0].send(op="trigger", channel="private-chat", event="client-reply", data="ok")
        assert events_until(sender, "client-reply") == []
    finally:
        for c in clients:
            c.kill()


def test_client_events_refused(pusher_server):
    with PusherClient(pusher_server, key=CHAT["key"], secret=CHAT["secret"]) as client:
        client.connected()
        client.subscribe("public-room")
        client.subscribe("private-a")
        client.send(op="trigger", channel="public-room", event="client-x", data={})
        assert "private and presence" in client.wait_for("error")["error"]["message"]
        # pusher-js triggers only on channels it holds: a raw client tries others below
        client.send(op="trigger", channel="private-a", event="client-x", data={})
        for _ in range(12):
            client.send(op="trigger", channel="private-a", event="client-burst", data={})
        error = client.wait_for("error")["error"]
        assert error["code"] == 4301 and "10 per second" in error["message"], error
    ws, hello = raw_pusher(pusher_server, key=CHAT["key"])
    ws.send(json.dumps({"event": "client-x", "channel": "private-not-mine", "data": {}}))
    reply = json.loads(ws.recv())
    assert reply["data"]["code"] == 4301 and "not subscribed" in reply["data"]["message"]
    ws.close()


def test_socket_id_excluded(pusher_server):
    with PusherClient(pusher_server) as author, PusherClient(pusher_server) as reader:
        author_id = author.connected()
        reader.connected()
        author.subscribe("doc-1")
        reader.subscribe("doc-1")
        assert trigger(pusher_server, ["trigger", "doc-1", "edited", {"v": 1},
                                       {"socket_id": author_id}])["status"] == 200
        assert reader.wait_for("event", value="edited")["data"] == {"v": 1}
        assert trigger(pusher_server, ["trigger", "doc-1", "marker", "m"])["status"] == 200
        assert events_until(author, "marker") == [], "the excluded socket got the event"
    assert signed_post(pusher_server, "/apps/7/events", {"name": "e", "channels": ["c"],
                                                         "data": "{}", "socket_id": "x"})[0] == 400


def test_app_max_payload_follows_truncate(start_server, apps_file):
    """An event over its app's max_payload: 413 with --truncate=reject (as
    Pusher answers), a stub with --truncate=stub; the server's --max-payload
    does not apply to the app's events."""
    data = json.dumps({"text": "y" * 200})
    body = {"name": "e", "channels": ["c"], "data": data}
    rejecting = start_server("--pusher-apps", apps_file, "--truncate", "reject",
                             "--max-payload", "50")
    assert signed_post(rejecting, "/apps/10/events", body, app=SMALL)[0] == 413
    assert signed_post(rejecting, "/apps/7/events", body)[0] == 200  # under 10240
    stubbing = start_server("--pusher-apps", apps_file, "--truncate", "stub")
    with PusherClient(stubbing, key=SMALL["key"], secret=SMALL["secret"]) as client:
        client.connected()
        client.subscribe("c")
        assert signed_post(stubbing, "/apps/10/events", body, app=SMALL)[0] == 200
        stub = client.wait_for("event", value="e")["data"]
        assert stub["truncated"] is True and stub["size"] == len(data), stub


class PusherPages(http.server.ThreadingHTTPServer):
    """A web app on its own origin: the page (browser_pages/pusher.html),
    pusher-js's browser build, the app's auth endpoint and a /trigger that
    publishes through ringcast's HTTP API, as the app's backend would."""

    def __init__(self, server, channel):
        self.ringcast = server
        self.channel = channel
        self.triggered = []
        super().__init__(("127.0.0.1", 0), PusherPageHandler)
        self.origin = "http://127.0.0.1:%d" % self.server_address[1]
        threading.Thread(target=self.serve_forever, daemon=True).start()


class PusherPageHandler(http.server.BaseHTTPRequestHandler):
    FILES = {"/pusher.html": (os.path.join(os.path.dirname(__file__), "browser_pages",
                                           "pusher.html"), "text/html"),
             "/pusher.min.js": (os.path.join(NODE_DIR, "node_modules", "pusher-js", "dist",
                                             "web", "pusher.min.js"), "text/javascript")}

    def reply(self, status, body, content_type="application/json"):
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        path, content_type = self.FILES[self.path.split("#")[0]]
        with open(path, "rb") as f:
            self.reply(200, f.read(), content_type)

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0)).decode()
        if self.path == "/pusher/auth":
            form = dict(urllib.parse.parse_qsl(body))
            to_sign = "%s:%s" % (form["socket_id"], form["channel_name"])
            signature = hmac.new(APP["secret"].encode(), to_sign.encode(),
                                 hashlib.sha256).hexdigest()
            self.reply(200, json.dumps({"auth": "%s:%s" % (APP["key"], signature)}).encode())
            return
        status, _ = signed_post(self.server.ringcast, "/apps/7/events", {
            "name": "job-result", "channels": [self.server.channel],
            "data": json.dumps({"from": "browser test"})})
        self.server.triggered.append(status)
        self.reply(200 if status == 200 else 502, b"{}")

    def log_message(self, *args):
        pass


def test_chromium_pusher_js_private_channel(pusher_server):
    """pusher-js's own browser build in Chromium: connect, a private
    channel authorized through the page's endpoint, an event."""
    pages = PusherPages(pusher_server, "private-browser-1")
    try:
        params = {"key": APP["key"], "wsHost": pusher_server.host, "wsPort": pusher_server.port,
                  "channel": "private-browser-1", "timeoutMs": 20000}
        url = "%s/pusher.html#%s" % (pages.origin, urllib.parse.quote(json.dumps(params)))
        (result,) = load_pages(url).values()
    finally:
        pages.shutdown()
        pages.server_close()
    assert "timeout" not in result, result
    assert SOCKET_ID.match(result["socketId"]), result
    assert result["event"] == {"from": "browser test"}, result
    assert pages.triggered == [200]
    assert "connected" in result["states"], result


def test_close_code_ranges_as_pusher_js_takes_them(pusher_server):
    """4001 (unknown key, 4000-4099): pusher-js gives up; 4200 (the server
    shutting down, 4200-4299): it reconnects at once."""
    with PusherClient(pusher_server, key="no-such-key") as refused, \
            PusherClient(pusher_server) as client:
        client.connected()
        refused.wait_for("state", value="disconnected")
        pusher_server.stop()
        # Reconnecting after 4200: back to "connecting" on its own.
        client.wait_for("state", value="connecting")
        time.sleep(2)
        states = [line.get("state") for line in list(refused.out.queue)]
        assert "connecting" not in states, "pusher-js reconnected after 4001: %s" % states


def test_private_encrypted_relayed_as_is(pusher_server):
    """private-encrypted-: signed like private-, and the library's
    ciphertext reaches the subscriber untouched (the server cannot read it)."""
    ws, hello = raw_pusher(pusher_server)
    socket_id = json.loads(hello["data"])["socket_id"]
    channel = "private-encrypted-vault"
    signature = hmac.new(APP["secret"].encode(), ("%s:%s" % (socket_id, channel)).encode(),
                         hashlib.sha256).hexdigest()
    ws.send(json.dumps({"event": "pusher:subscribe",
                        "data": {"channel": channel, "auth": "%s:%s" % (APP["key"], signature)}}))
    assert json.loads(ws.recv())["event"] == "pusher_internal:subscription_succeeded"
    key = base64.b64encode(b"k" * 32).decode()
    result = trigger(pusher_server, ["trigger", channel, "secret-event", {"pin": 1234}],
                     encryption_key=key)
    assert result["status"] == 200, result
    event = json.loads(ws.recv())
    ws.close()
    assert event["event"] == "secret-event" and event["channel"] == channel
    sealed = json.loads(event["data"])
    assert set(sealed) == {"nonce", "ciphertext"}, sealed
    assert "1234" not in event["data"]
