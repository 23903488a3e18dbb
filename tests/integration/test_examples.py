"""The README's examples work as copied: each is a file in docs/examples/,
run here as the README says (from the source folder) against a real server,
and every command block of the README that names one runs it (issue 14:
the README's Python one-liner failed with IndentationError)."""

import json
import os
import re
import subprocess
import time

import jwt
import websocket

from conftest import BUILD, TOP

EXAMPLES = os.path.join(TOP, "docs", "examples")
WAIT = 20


def example_env(server, **extra):
    env = dict(os.environ, RINGCAST_BIN=BUILD, RINGCAST_WS=server.ws_url,
               RINGCAST_HTTP=server.http_url, RINGCAST_PUBLISH=server.publish_addr)
    env.update(extra)
    return env


def start_subscriber(server, *args):
    p = subprocess.Popen(["/usr/bin/python3", "docs/examples/subscribe.py"] + list(args),
                         cwd=TOP, env=example_env(server), stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True)
    first = json.loads(p.stdout.readline())
    assert first["type"] == "subscribed", first
    return p


def run_example(server, name, **extra):
    p = subprocess.run([os.path.join("docs", "examples", name)], cwd=TOP,
                       env=example_env(server, **extra), capture_output=True, text=True,
                       timeout=WAIT)
    assert p.returncode == 0, (name, p.returncode, p.stderr)
    return p.stdout


def test_readme_subscribe_and_publish(server):
    sub = start_subscriber(server, "customer_id:42:call:*", "2")
    try:
        assert run_example(server, "publish.sh") == "1\n"
        http = json.loads(run_example(server, "publish-http.sh"))
        assert http == {"topic": "customer_id:42:call:7", "seq": 2}, http
        out, err = sub.communicate(timeout=WAIT)
    finally:
        sub.kill()
    assert sub.returncode == 0, err
    events = [json.loads(line) for line in out.splitlines()]
    assert [(e["seq"], e["event_type"], e["data"]) for e in events] == [
        (1, "call.status", {"status": "ringing"}), (2, "call.status", {"status": "ringing"})]


def test_sse_example_streams_events(server):
    p = subprocess.Popen([os.path.join("docs", "examples", "subscribe-sse.sh")], cwd=TOP,
                         env=example_env(server), stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.time() + WAIT
        seen = ""
        # Publish until the stream (which may still be subscribing) shows one.
        while "ringing" not in seen and time.time() < deadline:
            run_example(server, "publish.sh")
            os.set_blocking(p.stdout.fileno(), False)
            time.sleep(0.2)
            seen += p.stdout.read() or ""
        assert "data:" in seen and "ringing" in seen, seen
    finally:
        p.kill()
        p.wait()


def test_mint_token_example(tmp_path, start_server):
    secret = tmp_path / "secret"
    token = run_example(start_server(), "mint-token.sh", RINGCAST_SECRET=str(secret)).strip()
    assert secret.stat().st_size >= 32
    server = start_server("--auth-secret-file", str(secret))
    claims = jwt.decode(token, secret.read_bytes().rstrip(b"\n"), algorithms=["HS256"])
    assert claims["sub"] == "agent-7" and claims["subscribe"] == ["customer_id:42:>"]
    ws = websocket.create_connection(server.ws_url + "?token=" + token, timeout=WAIT)
    ws.send(json.dumps({"type": "subscribe", "topics": ["customer_id:42:call:*"]}))
    assert json.loads(ws.recv())["type"] == "subscribed"
    ws.close()


def test_readme_names_only_examples_that_exist():
    readme = open(os.path.join(TOP, "README.md")).read()
    named = set(re.findall(r"docs/examples/([\w.-]+)", readme))
    assert {"subscribe.py", "publish.sh", "publish-http.sh", "subscribe-sse.sh",
            "mint-token.sh"} <= named, named
    for name in named:
        path = os.path.join(EXAMPLES, name)
        assert os.access(path, os.X_OK), "%s is named in the README but not executable" % name
    # No multi-line shell commands to copy: the one that failed was such a
    # `python3 -c '...'` spread over several lines.
    assert "python3 -c" not in readme
