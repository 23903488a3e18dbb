"""The HTTP/1.1 side of the client port (RFC 9112): routes and error answers
with curl, malformed and pipelined requests on raw sockets."""

import json
import socket
import subprocess
import time

import pytest

from rawws import http_request, read_until_eof

WS_KEY = "dGhlIHNhbXBsZSBub25jZQ=="  # RFC 6455 section 1.3
UPGRADE = ["-H", "Connection: Upgrade", "-H", "Upgrade: websocket"]


def curl(*args):
    """Runs curl -s -i; returns (stdout bytes, stderr text)."""
    p = subprocess.run(["curl", "-s", "-i", "--max-time", "10"] + list(args),
                       capture_output=True, timeout=15)
    stderr = p.stderr.decode("latin-1")
    assert p.returncode == 0, "curl failed (%d): %s" % (p.returncode, stderr)
    return p.stdout, stderr


def parse_responses(data):
    """Splits raw bytes into [(status, headers with lower-case names, body)],
    using Content-Length; fails on anything left over."""
    responses = []
    while data:
        head, sep, rest = data.partition(b"\r\n\r\n")
        assert sep, "incomplete response head: %r" % data
        lines = head.decode("latin-1").split("\r\n")
        version, status, _ = lines[0].split(" ", 2)
        assert version == "HTTP/1.1", lines[0]
        headers = {}
        for line in lines[1:]:
            name, _, value = line.partition(":")
            name, value = name.strip().lower(), value.strip()
            # Repeated fields combine into one list (RFC 9110 section 5.3).
            headers[name] = headers[name] + ", " + value if name in headers else value
        length = int(headers["content-length"])
        assert len(rest) >= length, "short body: %r" % rest
        responses.append((int(status), headers, rest[:length]))
        data = rest[length:]
    return responses


def curl_response(*args):
    """curl -s -i |args|; returns (status, headers, body)."""
    (response,) = parse_responses(curl(*args)[0])
    return response


def raw_response(server, data):
    """Sends |data| on a fresh connection; returns the one response, which
    must be followed by the server closing the connection."""
    (response,) = parse_responses(http_request(server.host, server.port, data))
    return response


def assert_json_error(response, status, code):
    got_status, headers, body = response
    assert got_status == status, response
    assert headers["content-type"] == "application/json"
    error = json.loads(body)
    assert error["error"] == code
    assert isinstance(error["message"], str) and error["message"]
    return headers


def send_slowly(sock, pieces, delay):
    """Sends |pieces| with |delay| seconds between them; stops early when the
    server has closed the connection (its answer is read afterwards)."""
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    for i, piece in enumerate(pieces):
        if i:
            time.sleep(delay)
        try:
            sock.sendall(piece)
        except (BrokenPipeError, ConnectionResetError):
            return


def tokens(value):
    return [t.strip().lower() for t in value.split(",")]


def get(path="/healthz", version="HTTP/1.1", headers="Host: x\r\n", eol="\r\n"):
    return ("GET %s %s%s%s%s" % (path, version, eol, headers.replace("\r\n", eol), eol)).encode()


# --- routes with curl ------------------------------------------------------------------

def test_get_healthz(server):
    status, headers, body = curl_response(server.http_url + "/healthz")
    assert status == 200
    assert headers["content-type"] == "application/json"
    assert json.loads(body) == {"status": "ok"}
    assert "connection" not in headers  # HTTP/1.1 default: persistent


def test_head_healthz_has_headers_but_no_body(server):
    out = curl("-I", server.http_url + "/healthz")[0]
    assert out.startswith(b"HTTP/1.1 200 OK\r\n")
    assert b"\r\nContent-Length: 16\r\n" in out  # the length of the GET body
    # Raw: exactly the head, nothing after it.
    data = http_request(server.host, server.port,
                        b"HEAD /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    head, _, body = data.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200 OK\r\n")
    assert body == b""


def test_unknown_path_is_404_and_closes(server):
    headers = assert_json_error(curl_response(server.http_url + "/nope"), 404, "not_found")
    assert headers["connection"] == "close"


def test_post_healthz_is_405_with_allow(server):
    headers = assert_json_error(curl_response("-X", "POST", server.http_url + "/healthz"), 405,
                                "method_not_allowed")
    assert headers["allow"] == "GET, HEAD"


def test_ws_without_upgrade_headers_is_426(server):
    headers = assert_json_error(curl_response(server.http_url + "/v1/ws"), 426,
                                "upgrade_required")
    assert headers["upgrade"] == "websocket"
    assert "upgrade" in tokens(headers["connection"])  # RFC 9110 section 7.8


def test_ws_version_8_is_426_with_supported_version(server):
    headers = assert_json_error(
        curl_response(*UPGRADE, "-H", "Sec-WebSocket-Version: 8", "-H",
                      "Sec-WebSocket-Key: " + WS_KEY, server.http_url + "/v1/ws"),
        426, "upgrade_required")
    assert headers["sec-websocket-version"] == "13"


@pytest.mark.parametrize("key", ["abc", "dGhlIHNhbXBsZSBub25jZQ", "dGhlIHNhbXBsZSBub25jZXg="],
                         ids=["short", "no-padding", "17-bytes"])
def test_ws_bad_key_is_400(server, key):
    assert_json_error(
        curl_response(*UPGRADE, "-H", "Sec-WebSocket-Version: 13", "-H",
                      "Sec-WebSocket-Key: " + key, server.http_url + "/v1/ws"),
        400, "bad_request")


def test_keep_alive_reuses_the_connection(server):
    url = server.http_url + "/healthz"
    out, verbose = curl("-v", url, url)
    assert [r[0] for r in parse_responses(out)] == [200, 200]
    assert "Re-using existing connection" in verbose
    assert verbose.count("Connected to") == 1


# --- raw requests -------------------------------------------------------------------------

def test_pipelined_requests_are_answered_in_order(server):
    data = (get("/healthz") + get("/healthz", headers="Host: x\r\nConnection: close\r\n")
            + get("/never-read"))
    responses = parse_responses(http_request(server.host, server.port, data))
    assert [r[0] for r in responses] == [200, 200]  # nothing after Connection: close
    assert "connection" not in responses[0][1]
    assert responses[1][1]["connection"] == "close"
    assert [json.loads(r[2]) for r in responses] == [{"status": "ok"}] * 2


@pytest.mark.parametrize("request_bytes,status,code", [
    (get(headers=""), 400, "bad_request"),
    (get(eol="\n"), 400, "bad_request"),
    (get(version="HTTP/2.0"), 505, "http_version_not_supported"),
    (b"BREW / HTTP/1.1\r\nHost: x\r\n\r\n", 501, "not_implemented"),
    # RFC 9110 section 9.1 (SHOULD) and docs/close-codes.md: an unknown
    # method is 501 whatever the path; 405 is for known methods.
    (b"BREW /healthz HTTP/1.1\r\nHost: x\r\n\r\n", 501, "not_implemented"),
], ids=["http11-without-host", "bare-lf", "http-2.0", "unknown-method",
        "unknown-method-on-known-path"])
def test_malformed_request_gets_error_and_close(server, request_bytes, status, code):
    headers = assert_json_error(raw_response(server, request_bytes), status, code)
    assert headers["connection"] == "close"


@pytest.fixture
def small_head_server(start_server):
    return start_server("--max-header-bytes", "1024")


@pytest.mark.parametrize("chunk", [None, 100], ids=["one-send", "in-pieces"])
def test_head_over_max_header_bytes_is_431(small_head_server, chunk):
    data = get(headers="Host: x\r\nX-Pad: %s\r\n" % ("p" * 1100))
    chunk = chunk or len(data)
    with socket.create_connection((small_head_server.host, small_head_server.port),
                                  timeout=5) as sock:
        send_slowly(sock, [data[i:i + chunk] for i in range(0, len(data), chunk)], 0.005)
        (response,) = parse_responses(read_until_eof(sock))
    assert_json_error(response, 431, "headers_too_large")


def test_head_exactly_at_max_header_bytes_is_served(small_head_server):
    base = get(headers="Host: x\r\nX-Pad: \r\n")
    data = get(headers="Host: x\r\nX-Pad: %s\r\nConnection: close\r\n" %
               ("p" * (1024 - len(base) - len("Connection: close\r\n"))))
    assert len(data) == 1024
    status, _, body = raw_response(small_head_server, data)
    assert (status, json.loads(body)) == (200, {"status": "ok"})


def test_long_request_target_is_414(small_head_server):
    # RFC 9112 section 3: a request-target longer than the server wants to
    # parse MUST be answered with 414 (httpconn.h lists 414 too).
    response = raw_response(small_head_server, get("/" + "t" * 1100))
    assert_json_error(response, 414, "uri_too_long")


def test_absolute_form_target_is_accepted(server):
    # RFC 9112 section 3.2.2: "A server MUST accept the absolute-form in requests".
    data = get("http://%s:%d/healthz" % (server.host, server.port),
               headers="Host: x\r\nConnection: close\r\n")
    status, _, body = raw_response(server, data)
    assert (status, json.loads(body)) == (200, {"status": "ok"})


@pytest.fixture
def fast_timeout_server(start_server):
    return start_server("--handshake-timeout", "300ms")


@pytest.mark.parametrize("partial", [b"GET /healthz HTTP/1.1\r\nHost: x\r\n", b""],
                         ids=["incomplete-head", "nothing-sent"])
def test_handshake_timeout_answers_408_and_closes(fast_timeout_server, partial):
    server = fast_timeout_server
    with socket.create_connection((server.host, server.port), timeout=5) as sock:
        start = time.monotonic()
        sock.sendall(partial)
        data = read_until_eof(sock, timeout=3)
        elapsed = time.monotonic() - start
    assert 0.25 <= elapsed < 1.5, "closed after %.2fs with --handshake-timeout 300ms" % elapsed
    (response,) = parse_responses(data)
    headers = assert_json_error(response, 408, "request_timeout")
    assert headers["connection"] == "close"


def test_keep_alive_connection_in_use_is_not_timed_out(fast_timeout_server):
    """--handshake-timeout bounds the wait for each request head; a keep-alive
    client that sends a complete request every 150 ms never waits that long,
    so it must not get a 408 (RFC 9110 section 15.5.9: 408 means the request
    did not arrive in time)."""
    server = fast_timeout_server
    with socket.create_connection((server.host, server.port), timeout=5) as sock:
        requests = [get()] * 5 + [get(headers="Host: x\r\nConnection: close\r\n")]
        send_slowly(sock, requests, 0.15)
        responses = parse_responses(read_until_eof(sock))
    assert [r[0] for r in responses] == [200] * 6
