"""The Python subscriber from VoIPBIN's WebSocket tutorial
(reference/voipbin-websocket-tutorial.rst), run with websocket-client against
ringcast, changed only in its URL: once against an open server, once against a
server with tokens (docs/auth.md), where the URL carries a real token allowed
`customer_id:<id>:>`, the way the tutorial passes its token.

The example is not copied into this repository: the test reads it from the
reference document at run time (RINGCAST_REFERENCE_DIR, or ../shared/reference
next to the checkout, or /work/shared/reference). Where the document is not
on the machine, clients/call_events_client.py, our own client written to the
same message shapes, takes its place, and the test says so in its output.
"""

import json
import os
import re
import subprocess
import sys
import threading
import time
import uuid

import pytest

from conftest import TOP, binary, publish

CUSTOMER = "12345678-1234-1234-1234-123456789012"
EXAMPLE_URL = re.compile(r'f"wss://api\.voipbin\.net/v1\.0/ws\?token=\{token\}"')


def reference_doc():
    candidates = [os.environ.get("RINGCAST_REFERENCE_DIR", ""),
                  os.path.join(os.path.dirname(TOP), "shared", "reference"),
                  "/work/shared/reference"]
    for folder in candidates:
        path = os.path.join(folder, "voipbin-websocket-tutorial.rst")
        if folder and os.path.exists(path):
            return path
    return None


def extract_example(doc_path, ws_url, token=None):
    """The first Python code block after 'Using the websocket-client library',
    with only its URL replaced (its token too when |token| is given: the
    token is part of the tutorial's URL)."""
    text = open(doc_path, encoding="utf-8").read()
    start = text.index("Using the ``websocket-client`` library")
    block = text[text.index(".. code::", start):].split("\n")[1:]
    lines = []
    for line in block:
        if line.strip() and not line.startswith("    "):
            break
        lines.append(line[4:])
    code = "\n".join(lines)
    assert EXAMPLE_URL.search(code), "the example's URL line was not found"
    url = '"%s?token=%s"' % (ws_url, token) if token else 'f"%s?token={token}"' % ws_url
    return EXAMPLE_URL.sub(url, code)


class Output:
    """Collects a process's stdout lines in a thread."""

    def __init__(self, proc):
        self.lines = []
        self.proc = proc
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        for line in self.proc.stdout:
            self.lines.append(line.rstrip("\n"))

    def wait_for(self, line, timeout=15):
        deadline = time.time() + timeout
        while time.time() < deadline:
            if line in self.lines:
                return
            time.sleep(0.02)
        raise AssertionError("no line %r; output so far:\n%s" % (line, "\n".join(self.lines)))


def start_example(server, tmp_path, token=None):
    doc = reference_doc()
    if doc:
        script = tmp_path / "voipbin_example.py"
        script.write_text(extract_example(doc, server.ws_url, token))
        cmd = [sys.executable, "-u", str(script)]
        print("running the example from", doc)
    else:
        cmd = [sys.executable, "-u", os.path.join(TOP, "tests", "integration", "clients",
                                                   "call_events_client.py"),
               server.ws_url + ("?token=" + token if token else ""), CUSTOMER]
        print("reference document not found: running clients/call_events_client.py")
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    return proc, Output(proc)


class Tokens:
    """A secret for the server, a subscriber token for CUSTOMER and a
    publisher token, minted with ringcast-token."""

    def __init__(self, tmp_path):
        self.secret = tmp_path / "secret"
        self.secret.write_bytes(os.urandom(48).hex().encode())
        self.subscriber = self.mint("--sub", "agent-7", "--subscribe", "customer_id:%s:>" % CUSTOMER)
        self.publisher_file = tmp_path / "publisher.token"
        self.publisher_file.write_text(self.mint("--sub", "backend", "--publish", "customer_id:>"))

    def mint(self, *claims):
        p = subprocess.run([binary("ringcast-token"), "--secret-file", str(self.secret), "--ttl",
                            "1h"] + list(claims), capture_output=True, text=True, timeout=30)
        assert p.returncode == 0, p.stderr
        return p.stdout.strip()


def publisher_with_token(tokens):
    """publish(), with the publisher's token."""
    def send(server, topic, data, event_type=None):
        cmd = [binary("ringcast-pub"), "--server", server.publish_addr, "--token-file",
               str(tokens.publisher_file), "--type", event_type, topic, json.dumps(data)]
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
        assert p.returncode == 0, "ringcast-pub failed (%d): %s" % (p.returncode, p.stderr)
    return send


@pytest.mark.parametrize("with_tokens", [False, True], ids=["open", "token"])
def test_voipbin_example_receives_its_events(start_server, tmp_path, with_tokens):
    tokens = Tokens(tmp_path) if with_tokens else None
    server = start_server("--auth-secret-file", str(tokens.secret)) if tokens else start_server()
    send = publisher_with_token(tokens) if tokens else publish
    proc, out = start_example(server, tmp_path, tokens.subscriber if tokens else None)
    try:
        out.wait_for("WebSocket connection established")
        out.wait_for("Subscribed to events")
        out.wait_for("Received event: None")  # the server's {"type":"subscribed"} reply
        call_id, flow_id = str(uuid.uuid4()), str(uuid.uuid4())
        prefix = "customer_id:%s:" % CUSTOMER
        send(server, prefix + "call:" + call_id, {"id": call_id, "status": "ringing"},
                event_type="call.status")
        send(server, prefix + "message:" + str(uuid.uuid4()),
                {"text": "hello there", "source": {"target": "+15551234567"}},
                event_type="message.received")
        send(server, prefix + "activeflow:" + flow_id,
                {"id": flow_id, "current_action": {"type": "talk"}},
                event_type="activeflow.updated")
        # Another customer's call, and a topic below the patterns' depth.
        send(server, "customer_id:99999999-0000-0000-0000-000000000000:call:" + call_id,
                {"id": "other", "status": "ringing"}, event_type="call.status")
        send(server, prefix + "call:" + call_id + ":leg:1", {"id": "leg", "status": "x"},
                event_type="call.status")
        send(server, prefix + "call:" + call_id, {"id": call_id, "status": "answered"},
                event_type="call.status")

        out.wait_for("Call %s status: answered" % call_id)
        assert out.lines.count("Call %s status: ringing" % call_id) == 1
        assert "Message from +15551234567: hello there" in out.lines
        assert "Activeflow %s executing: talk" % flow_id in out.lines
        assert "Call other status: ringing" not in out.lines
        assert "Call leg status: x" not in out.lines
        events = [l for l in out.lines if l.startswith("Received event: ") and "None" not in l]
        assert events == ["Received event: call.status", "Received event: message.received",
                          "Received event: activeflow.updated", "Received event: call.status"]

        # Shutting the server down closes the example's connection with 1001.
        server.stop()
        proc.wait(15)
        assert any(l.startswith("Connection closed: 1001") for l in out.lines), out.lines
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
