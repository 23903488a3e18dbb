"""Browsers on other origins (docs/protocol/http.md#cors,
docs/protocol/websocket.md#origin): --cors-origins and --ws-origins.

Raw sockets check the headers exactly: preflight answers, Vary: Origin,
"*" never with credentials, errors and streams carrying the same headers,
403 for a foreign WebSocket Origin and its metric. Then a real browser
(the Debian chromium, headless, driven by playwright-core through
node/browser_page.mjs) loads browser_pages/page.html from a tiny Python
http.server on other loopback ports, so the page's origin is not
ringcast's, and uses EventSource (with and without withCredentials),
fetch() with a bearer token and WebSocket; what the browser allows or
blocks is what the page observed."""

import functools
import http.server
import json
import os
import re
import socket
import ssl
import subprocess
import threading
import urllib.parse
import urllib.request

import pytest

from conftest import binary
from nodehelpers import NodeScript
from test_auth import Auth

STEP = 10  # seconds allowed for one request
PAGES = os.path.join(os.path.dirname(os.path.abspath(__file__)), "browser_pages")
APP = "https://app.example.com"
ALLOWED_HEADERS = {"authorization", "content-type", "last-event-id"}
WS_HEAD = ("Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n"
           "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n")


# --- raw HTTP -------------------------------------------------------------------

class Response:
    def __init__(self, status, headers, body):
        self.status, self.headers, self.body = status, headers, body

    def header(self, name):
        values = self.headers.get(name.lower(), [])
        assert len(values) <= 1, "%s appears %d times" % (name, len(values))
        return values[0] if values else None

    def cors(self):
        """The response's Access-Control-* headers and Vary, {name: value}."""
        return {k: v[0] for k, v in self.headers.items() if k.startswith("access-control-") or
                k == "vary"}

    def __repr__(self):
        return "Response(%d, %r, %r)" % (self.status, self.headers, self.body[:200])


def read_response(sock, buf=b"", stream=False):
    """One response from |sock| (after |buf|, bytes already read); returns
    (Response, the bytes after it). |stream|: the body has no length (SSE):
    only what came with the head is in it."""
    while b"\r\n\r\n" not in buf:
        chunk = sock.recv(65536)
        assert chunk, "connection closed before a complete head: %r" % buf
        buf += chunk
    head, _, rest = buf.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers.setdefault(name.strip().lower(), []).append(value.strip())
    status = int(lines[0].split()[1])
    if stream or status in (101, 204):
        return Response(status, headers, rest), b""
    length = int(headers["content-length"][0])
    while len(rest) < length:
        chunk = sock.recv(65536)
        assert chunk, "connection closed inside the body"
        rest += chunk
    return Response(status, headers, rest[:length]), rest[length:]


def exchange(server, *requests, stream=False):
    """Sends the raw |requests| on one connection, in turn; returns their
    responses."""
    responses = []
    with socket.create_connection((server.host, server.port), timeout=STEP) as sock:
        rest = b""
        for request in requests:
            sock.sendall(request.encode())
            response, rest = read_response(sock, rest, stream)
            responses.append(response)
    return responses


def request(method, path, origin=None, extra=""):
    return "%s %s HTTP/1.1\r\nHost: ringcast\r\n%s%s\r\n" % (
        method, path, "Origin: %s\r\n" % origin if origin else "", extra)


def preflight(path, origin, method="GET", headers="authorization"):
    return request("OPTIONS", path, origin,
                   "Access-Control-Request-Method: %s\r\n"
                   "Access-Control-Request-Headers: %s\r\n" % (method, headers))


def assert_granted(response, origin, methods, credentials=True):
    """A preflight answer that lets |origin| go on with |methods|."""
    assert response.status == 204, response
    assert response.header("content-length") is None, response  # RFC 9110 8.6
    assert response.header("access-control-allow-origin") == origin, response
    assert response.header("access-control-allow-credentials") == (
        "true" if credentials else None), response
    listed = {m.strip() for m in response.header("access-control-allow-methods").split(",")}
    assert listed == set(methods) | {"OPTIONS"}, response
    allowed = {h.strip().lower() for h in response.header("access-control-allow-headers").split(",")}
    assert allowed == ALLOWED_HEADERS, response
    assert int(response.header("access-control-max-age")) > 0, response
    assert {m.strip() for m in response.header("allow").split(",")} == set(methods) | {"OPTIONS"}


# --- CORS with raw sockets --------------------------------------------------------

@pytest.mark.parametrize("path, methods", [
    ("/v1/messages/orders.42/1", ["GET"]), ("/v1/sse?topic=a", ["GET"]),
    ("/v1/publish", ["POST"]), ("/healthz", ["GET", "HEAD"]), ("/metrics", ["GET", "HEAD"]),
    ("/v1/ws", ["GET"])])
def test_preflight_of_every_route_for_a_listed_origin(start_server, path, methods):
    server = start_server("--cors-origins", "http://localhost:3000, %s" % APP.upper())
    # Pipelined on one connection: a preflight keeps it open.
    first, second = exchange(server, preflight(path, APP, methods[-1]),
                             preflight(path, "http://localhost:3000", methods[0]))
    assert_granted(first, APP, methods)
    assert first.header("vary") == "Origin"
    assert_granted(second, "http://localhost:3000", methods)


def test_preflight_of_an_unknown_path_is_404(start_server):
    server = start_server("--cors-origins", APP)
    (response,) = exchange(server, preflight("/v2/nothing", APP))
    assert response.status == 404, response
    assert json.loads(response.body)["error"] == "not_found"


@pytest.mark.parametrize("origin", ["https://evil.example", "http://app.example.com",
                                    "https://app.example.com:8443", "null", APP + ".evil.example"])
def test_preflight_for_another_origin_grants_nothing(start_server, origin):
    server = start_server("--cors-origins", APP)
    (response,) = exchange(server, preflight("/v1/messages/a/1", origin))
    assert response.status == 204, response
    # The answer depends on Origin, and grants nothing to this one.
    assert response.cors() == {"vary": "Origin"}, response
    assert response.header("allow") == "GET, OPTIONS"


def test_without_origin_only_vary(start_server):
    """curl, servers: no Origin, nothing granted, but Vary: Origin, since a
    browser's request to the same URL gets another answer."""
    server = start_server("--cors-origins", APP)
    health, options = exchange(server, request("GET", "/healthz"),
                               request("OPTIONS", "/v1/publish"))
    assert health.status == 200 and health.cors() == {"vary": "Origin"}, health
    assert options.status == 204 and options.cors() == {"vary": "Origin"}, options
    assert options.header("allow") == "POST, OPTIONS"


def test_without_the_flag_no_cors_headers_and_options_is_answered(server):
    health, options, fetch = exchange(
        server, request("GET", "/healthz", APP), preflight("/v1/publish", APP, "POST"),
        request("GET", "/v1/messages/a/1", APP))
    assert health.status == 200 and health.cors() == {}, health
    assert options.status == 204 and options.cors() == {}, options
    assert options.header("allow") == "POST, OPTIONS"
    assert fetch.status == 404 and fetch.cors() == {}, fetch
    (sse,) = exchange(server, request("GET", "/v1/sse?topic=a", APP), stream=True)
    assert sse.status == 200 and sse.cors() == {}, sse


def test_star_allows_any_origin_without_credentials(start_server):
    server = start_server("--cors-origins", "*")
    health, pre = exchange(server, request("GET", "/healthz", "https://anyone.example"),
                           preflight("/v1/publish", "https://anyone.example", "POST",
                                     "content-type"))
    assert health.cors() == {"access-control-allow-origin": "*",
                             "access-control-expose-headers": "Retry-After"}, health
    assert_granted(pre, "*", ["POST"], credentials=False)
    # Only "*" listed: the answer is the same for every origin, no Vary.
    assert pre.header("vary") is None
    # A request without Origin (not a browser's cross-origin one) gets the
    # same: a cache may hand that answer to a browser.
    (plain,) = exchange(server, request("GET", "/healthz"))
    assert plain.cors() == health.cors(), plain


def test_listed_origins_with_star_for_the_rest(start_server):
    server = start_server("--cors-origins", "%s,*" % APP)
    listed, other = exchange(server, request("GET", "/healthz", APP),
                             request("GET", "/healthz", "https://other.example"))
    assert listed.cors() == {"access-control-allow-origin": APP,
                             "access-control-allow-credentials": "true",
                             "access-control-expose-headers": "Retry-After", "vary": "Origin"}
    assert other.cors() == {"access-control-allow-origin": "*",
                            "access-control-expose-headers": "Retry-After", "vary": "Origin"}
    # Without Origin: as an unlisted origin.
    (plain,) = exchange(server, request("GET", "/healthz"))
    assert plain.cors() == other.cors(), plain


def test_every_kind_of_answer_carries_the_headers(start_server, tmp_path):
    """Errors, the SSE head, a publish's answer, a fetched event: a page
    reads them all (a refusal's reason too)."""
    auth = Auth(tmp_path)
    server = start_server("--cors-origins", APP, "--max-payload", "16", *auth.flags())
    granted = {"access-control-allow-origin": APP, "access-control-allow-credentials": "true",
               "access-control-expose-headers": "Retry-After", "vary": "Origin"}
    token = auth.mint(sub="page", subscribe=["orders.*"], publish=["orders.*"])
    body = json.dumps({"topic": "orders.42", "data": {"text": "x" * 64}})
    publish = request("POST", "/v1/publish", APP,
                      "Authorization: Bearer %s\r\nContent-Type: application/json\r\n"
                      "Content-Length: %d\r\n" % (token, len(body))) + body
    published, unauthorized = exchange(server, publish, request("GET", "/v1/messages/a/1", APP))
    assert published.status == 200 and published.cors() == granted, published
    seq = json.loads(published.body)["seq"]
    assert unauthorized.status == 401 and unauthorized.cors() == granted, unauthorized
    fetch = request("GET", "/v1/messages/orders.42/%d" % seq, APP,
                    "Authorization: Bearer %s\r\n" % token)
    forbidden = request("GET", "/v1/messages/other/1", APP, "Authorization: Bearer %s\r\n" % token)
    fetched, refused = exchange(server, fetch, forbidden)
    assert fetched.status == 200 and fetched.cors() == granted, fetched
    assert json.loads(fetched.body)["data"] == {"text": "x" * 64}
    assert refused.status == 403 and refused.cors() == granted, refused
    (sse,) = exchange(server, request("GET", "/v1/sse?topic=orders.42&token=" + token, APP),
                      stream=True)
    assert sse.status == 200 and sse.cors() == granted, sse
    (sse_error,) = exchange(server, request("GET", "/v1/sse?topic=other&token=" + token, APP))
    assert sse_error.status == 403 and sse_error.cors() == granted, sse_error


@pytest.mark.parametrize("flag, value, says", [
    ("--cors-origins", "https://app.example.com/", "no path"),
    ("--cors-origins", "app.example.com", "http:// or https://"),
    ("--cors-origins", "null", "http:// or https://"),
    ("--cors-origins", "https://a,,https://b", "empty"),
    ("--ws-origins", "https://a:99999", "port"),
])
def test_bad_origin_lists_are_refused(flag, value, says):
    p = subprocess.run([binary("ringcast"), flag, value], capture_output=True, text=True,
                       timeout=STEP)
    assert p.returncode == 2, p
    assert flag in p.stderr and says in p.stderr, p.stderr


# --- WebSocket Origin with raw sockets --------------------------------------------------

def origin_refusals(server):
    with urllib.request.urlopen(server.http_url + "/metrics", timeout=STEP) as r:
        text = r.read().decode()
    return int(re.search(r"^ringcast_origin_refusals_total (\d+)$", text, re.M).group(1))


def test_ws_origins_refuse_foreign_pages_with_403(start_server):
    server = start_server("--ws-origins", "http://127.0.0.1:3000,%s" % APP)
    assert origin_refusals(server) == 0
    for origin in ("https://evil.example", "http://127.0.0.1:3001", "null"):
        (response,) = exchange(server, request("GET", "/v1/ws", origin, WS_HEAD))
        assert response.status == 403, response
        assert json.loads(response.body)["error"] == "forbidden"
        assert "--ws-origins" in json.loads(response.body)["message"]
        assert response.header("connection") == "close"
    assert origin_refusals(server) == 3
    for origin in (APP, "http://127.0.0.1:3000", None):  # None: no Origin (not a browser)
        (response,) = exchange(server, request("GET", "/v1/ws", origin, WS_HEAD))
        assert response.status == 101, (origin, response)
    assert origin_refusals(server) == 3


def test_without_ws_origins_any_origin_connects(start_server):
    for flags in ((), ("--ws-origins", "*")):
        server = start_server(*flags)
        (response,) = exchange(server, request("GET", "/v1/ws", "https://anyone.example", WS_HEAD))
        assert response.status == 101, response
        assert origin_refusals(server) == 0


# --- Chromium: pages on other origins ----------------------------------------------------

class PageServer:
    """A tiny http.server on a free loopback port serving browser_pages/;
    with |tls|, a (certificate, key) pair for localhost, over
    https://localhost:PORT."""

    def __init__(self, tls=None):
        handler = functools.partial(QuietHandler, directory=PAGES)
        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.origin = "http://127.0.0.1:%d" % self.httpd.server_address[1]
        if tls:
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            ctx.load_cert_chain(*tls)
            self.httpd.socket = ctx.wrap_socket(self.httpd.socket, server_side=True)
            self.origin = "https://localhost:%d" % self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def page(self, **params):
        return "%s/page.html#%s" % (self.origin, urllib.parse.quote(json.dumps(params)))

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@pytest.fixture
def pages():
    """Two page servers: two origins, neither ringcast's."""
    servers = [PageServer(), PageServer()]
    yield servers
    for s in servers:
        s.close()


def load_pages(*urls, timeout_s=30):
    """Loads |urls| in turn in one Chromium; returns {origin: pageResult}."""
    args = ["--timeout-ms", str(timeout_s * 1000)]
    for url in urls:
        args += ["--url", url]
    with NodeScript("browser_page.mjs", args, packages=["playwright-core"]) as node:
        results = {}
        while len(results) < len(urls):
            line = node.next_line(timeout_s * 2)
            assert "failure" not in line and "timeout" not in line, (line, node.stderr_tail())
            if "result" in line:
                assert "failure" not in line["result"], line
                results[line["result"]["origin"]] = line["result"]
    return results


def page_params(server, topic, token="", fetch="", events=""):
    return dict(http=server.http_url, ws="ws://%s:%d" % (server.host, server.port), topic=topic,
                token=token, fetch=fetch, events=events)


def publish_oversized(server, topic, token=None):
    """An event over --max-payload (kept for GET /v1/messages); returns the
    fetch path and its data."""
    data = {"text": "y" * 100}
    req = urllib.request.Request(server.http_url + "/v1/publish",
                                 data=json.dumps({"topic": topic, "data": data}).encode(),
                                 headers={"Content-Type": "application/json"})
    if token:
        req.add_header("Authorization", "Bearer " + token)
    with urllib.request.urlopen(req, timeout=STEP) as r:
        seq = json.load(r)["seq"]
    return "/v1/messages/%s/%d" % (topic, seq), data


def assert_stream_works(seen, origin, event_type):
    assert seen["opened"] and seen["readyState"] != 2, seen
    (event,) = seen["received"]
    assert event["type"] == event_type, seen
    assert event["data"]["event_type"] == "browser.test"
    assert event["data"]["data"] == {"from": origin}


def assert_stream_blocked(seen):
    assert not seen["opened"] and seen["errors"] >= 1 and seen["readyState"] == 2, seen
    assert seen["received"] == [], seen


def test_chromium_listed_origin_works_and_another_is_blocked(start_server, pages, tmp_path):
    allowed, foreign = pages
    auth = Auth(tmp_path)
    server = start_server("--cors-origins", allowed.origin, "--ws-origins", allowed.origin,
                          "--max-payload", "64", *auth.flags())
    token = auth.mint(sub="page", subscribe=["browser.*"], publish=["browser.*"])
    fetch_path, data = publish_oversized(server, "browser.kept", token)
    results = load_pages(*(p.page(**page_params(server, "browser.room", token, fetch_path))
                           for p in (allowed, foreign)))

    ok = results[allowed.origin]
    # EventSource, with and without credentials; the default records reach
    # onmessage ("message"), the event's type in its data.
    assert_stream_works(ok["sse"], allowed.origin, "message")
    assert_stream_works(ok["sseCredentials"], allowed.origin, "message")
    # fetch() with a bearer token (a preflight first): publish and GET.
    assert ok["publish"]["status"] == 200, ok
    assert ok["fetched"]["status"] == 200, ok
    assert ok["fetched"]["body"]["data"] == data
    assert ok["ws"] == {"opened": True, "closeCode": 1000}, ok

    blocked = results[foreign.origin]
    assert_stream_blocked(blocked["sse"])
    assert_stream_blocked(blocked["sseCredentials"])
    # The browser refuses the preflight's answer: fetch() rejects.
    assert "failed" in blocked["publish"], blocked
    assert "failed" in blocked["fetched"], blocked
    # WebSocket: refused with 403, which the page sees as a failed connection.
    assert blocked["ws"] == {"opened": False, "closeCode": 1006}, blocked
    assert origin_refusals(server) == 1


def test_chromium_star_without_credentials_and_named_events(start_server, pages):
    page = pages[1]
    server = start_server("--cors-origins", "*", "--max-payload", "64")
    fetch_path, data = publish_oversized(server, "browser.kept")
    (result,) = load_pages(page.page(**page_params(server, "browser.room", fetch=fetch_path,
                                                   events="named"))).values()
    # Named records (?events=named) go to addEventListener("browser.test").
    assert_stream_works(result["sse"], page.origin, "browser.test")
    # "*" never grants credentials: the browser refuses withCredentials.
    assert_stream_blocked(result["sseCredentials"])
    assert result["publish"]["status"] == 200, result
    assert result["fetched"]["status"] == 200 and result["fetched"]["body"]["data"] == data
    assert result["ws"]["opened"], result


def test_chromium_websocket_gets_compressed_events(start_server, pages):
    """Chromium offers permessage-deflate by default: the agreement holds and
    a large event, sent as the shared compressed frame, arrives whole."""
    page = pages[0]
    server = start_server("--cors-origins", page.origin, "--max-payload", "100K")
    url = page.page(mode="wsEvent", pad=20000, **page_params(server, "browser.big"))
    (result,) = load_pages(url).values()
    seen = result["wsEvent"]
    assert seen["extensions"].startswith("permessage-deflate"), seen["extensions"]
    assert "server_no_context_takeover" in seen["extensions"], seen["extensions"]
    assert result["publish"]["status"] == 200, result
    event = seen["event"]
    assert event["topic"] == "browser.big" and event["event_type"] == "browser.test", event
    assert event["data"] == {"from": page.origin, "pad": "ab" * 10000}
