"""TLS on the client port (--tls-listen) with real clients: Python's
websocket-client and websockets over wss://, Node's ws and eventsource with
NODE_EXTRA_CA_CERTS, curl https for SSE, publish and /metrics. The
certificates come from a test CA made by openssl (tlscerts.py); every client
verifies them, so the refusals of an expired or wrong-name certificate prove
that verification happens. Also: what a TLS port does with plaintext,
garbage and stalled handshakes, session resumption, SNI, ALPN and the
certificate reload on SIGHUP."""

import asyncio
import json
import os
import re
import shutil
import signal
import socket
import ssl
import subprocess
import threading
import time

import pytest
import websocket
import websockets

import tlscerts
from conftest import binary, publish
from nodehelpers import NodeScript
from ssehelpers import SSEClient, wait_until

TLS_PORT = re.compile(r"ringcast TLS listening: client=\S+:(\d+)")


@pytest.fixture(scope="module")
def ca():
    authority = tlscerts.CertAuthority()
    yield authority
    shutil.rmtree(authority.dir, ignore_errors=True)


class TlsServer:
    """A started server and the TLS port it logged."""

    def __init__(self, server, ca):
        self.server = server
        self.ca = ca
        self.port = int(server.wait_for_log(TLS_PORT.pattern).group(1))

    @property
    def wss_url(self):
        return "wss://localhost:%d/v1/ws" % self.port

    @property
    def https_url(self):
        return "https://localhost:%d" % self.port

    def context(self, **kwargs):
        ctx = ssl.create_default_context(cafile=self.ca.ca_pem)
        for name, value in kwargs.items():
            setattr(ctx, name, value)
        return ctx

    def curl(self, *args, timeout=20):
        return subprocess.run(["curl", "-sS", "--cacert", self.ca.ca_pem] + list(args),
                              capture_output=True, text=True, timeout=timeout)

    def metric(self, name, **labels):
        text = self.curl(self.https_url + "/metrics").stdout
        want = "%s{%s}" % (name, ",".join('%s="%s"' % kv for kv in labels.items())) if labels \
            else name
        for line in text.splitlines():
            if line.startswith(want + " "):
                return int(float(line.split()[1]))
        raise AssertionError("no %s in /metrics:\n%s" % (want, text[-2000:]))


def tls_flags(*pairs):
    flags = ["--tls-listen", "127.0.0.1:0"]
    for cert, key in pairs:
        flags += ["--tls-cert", cert, "--tls-key", key]
    return flags


@pytest.fixture
def tls_server(start_server, ca):
    return TlsServer(start_server(*tls_flags(ca.issue("server"))), ca)


def wss_subscribe(tls, *topics):
    ws = websocket.create_connection(tls.wss_url, timeout=10,
                                     sslopt={"cert_reqs": ssl.CERT_REQUIRED,
                                             "ca_certs": tls.ca.ca_pem})
    ws.send(json.dumps({"type": "subscribe", "topics": list(topics)}))
    reply = json.loads(ws.recv())
    assert (reply["type"], reply["topics"]) == ("subscribed", list(topics)), reply
    return ws


def test_websocket_client_over_wss_receives_events(tls_server):
    ws = wss_subscribe(tls_server, "orders.1")
    for i in range(1, 4):
        publish(tls_server.server, "orders.1", {"n": i})
    got = [json.loads(ws.recv()) for _ in range(3)]
    assert [e["seq"] for e in got] == [1, 2, 3]
    assert [e["data"] for e in got] == [{"n": 1}, {"n": 2}, {"n": 3}]
    ws.close()


def test_plaintext_subscriber_and_tls_subscriber_get_the_same_events(tls_server):
    secure = wss_subscribe(tls_server, "same")
    plain = websocket.create_connection(tls_server.server.ws_url, timeout=10)
    plain.send(json.dumps({"type": "subscribe", "topics": ["same"]}))
    json.loads(plain.recv())
    # Pipelined publishes: batches of many small frames, sealed together per
    # connection, must all arrive, in order, as the plaintext subscriber gets them.
    lines = "".join(json.dumps({"topic": "same", "data": {"i": i}}) + "\n" for i in range(304))
    out = subprocess.run([binary("ringcast-pub"), "--server", tls_server.server.publish_addr],
                         input=lines, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    want = [json.loads(plain.recv()) for _ in range(304)]
    got = [json.loads(secure.recv()) for _ in range(304)]
    assert got == want
    assert [e["seq"] for e in got] == list(range(1, 305))
    secure.close()
    plain.close()


def test_websockets_library_over_wss(tls_server):
    async def run():
        async with websockets.connect(tls_server.wss_url, ssl=tls_server.context()) as ws:
            await ws.send(json.dumps({"type": "subscribe", "topics": ["lib"]}))
            assert json.loads(await ws.recv())["type"] == "subscribed"
            await asyncio.get_running_loop().run_in_executor(
                None, publish, tls_server.server, "lib", {"big": "x" * 40000})
            event = json.loads(await asyncio.wait_for(ws.recv(), 10))
            return event
    event = asyncio.run(run())
    assert event["topic"] == "lib"
    assert "data" in event or "truncated" in json.dumps(event)


def test_node_ws_and_eventsource_over_tls(tls_server):
    env_ca = {"NODE_EXTRA_CA_CERTS": tls_server.ca.ca_pem}
    old = dict(os.environ)
    os.environ.update(env_ca)
    try:
        ws = NodeScript("subscribers.mjs", ["--url", tls_server.wss_url, "--connections", "20",
                                            "--topics", "node.tls", "--expect", "5"])
        sse = NodeScript("sse_client.mjs", ["--url", tls_server.https_url +
                                            "/v1/sse?topic=node.tls", "--count", "5"],
                         packages=("eventsource",))
    finally:
        os.environ.clear()
        os.environ.update(old)
    with ws, sse:
        ready = ws.next_line(60)
        assert ready["ready"] == 20 and ready["failed"] == 0, (ready, ws.stderr_tail())
        assert sse.next_line(30) == {"open": True}, sse.stderr_tail()
        for i in range(5):
            publish(tls_server.server, "node.tls", {"i": i})
        summary = ws.next_line(60)
        assert summary["complete"] == 20, summary
        events = [sse.next_line(30) for _ in range(5)]
        assert [e["data"]["data"] for e in events] == [{"i": i} for i in range(5)]
        assert sse.next_line(30) == {"done": 5}


def test_curl_https_sse_publish_and_metrics(tls_server):
    sse = SSEClient(tls_server.server, "curl.tls", base_url=tls_server.https_url,
                    curl_args=["--cacert", tls_server.ca.ca_pem])
    out = tls_server.curl("-i", "-X", "POST", "-H", "Content-Type: application/json",
                          "--data", json.dumps({"topic": "curl.tls", "data": {"ok": 1}}),
                          tls_server.https_url + "/v1/publish")
    assert out.returncode == 0 and out.stdout.startswith("HTTP/1.1 200"), out
    record = sse.record()
    assert json.loads(record["data"])["data"] == {"ok": 1}
    sse.close()
    health = tls_server.curl(tls_server.https_url + "/healthz")
    assert health.stdout == '{"status":"ok"}\n'
    assert tls_server.metric("ringcast_tls_handshakes_total", resumed="false") >= 3


def test_alpn_is_http11_and_versions_are_12_and_13(tls_server):
    for version in (ssl.TLSVersion.TLSv1_2, ssl.TLSVersion.TLSv1_3):
        ctx = tls_server.context(minimum_version=version, maximum_version=version)
        ctx.set_alpn_protocols(["h2", "http/1.1"])
        with socket.create_connection(("127.0.0.1", tls_server.port), timeout=10) as raw:
            with ctx.wrap_socket(raw, server_hostname="localhost") as s:
                assert s.version() == {ssl.TLSVersion.TLSv1_2: "TLSv1.2",
                                       ssl.TLSVersion.TLSv1_3: "TLSv1.3"}[version]
                assert s.selected_alpn_protocol() == "http/1.1"
                s.sendall(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
                reply = b""
                while b'{"status":"ok"}' not in reply:
                    chunk = s.recv(4096)
                    assert chunk, reply
                    reply += chunk


def test_session_tickets_resume(tls_server):
    ctx = tls_server.context(maximum_version=ssl.TLSVersion.TLSv1_2)
    with ctx.wrap_socket(socket.create_connection(("127.0.0.1", tls_server.port), timeout=10),
                         server_hostname="localhost") as first:
        session = first.session
        assert not first.session_reused
    with ctx.wrap_socket(socket.create_connection(("127.0.0.1", tls_server.port), timeout=10),
                         server_hostname="localhost", session=session) as second:
        assert second.session_reused
    assert wait_until(lambda: tls_server.metric("ringcast_tls_handshakes_total",
                                                resumed="true") >= 1)


def test_clients_refuse_expired_and_wrong_name_certificates(start_server, ca):
    for name, pair in (("expired", ca.issue("expired", expired=True)),
                       ("wrong-name", ca.issue("elsewhere", dns=("elsewhere.test",), ips=()))):
        tls = TlsServer(start_server(*tls_flags(pair)), ca)
        with pytest.raises(ssl.SSLCertVerificationError):
            wss_subscribe(tls, "x")
        out = tls.curl(tls.https_url + "/healthz")
        assert out.returncode == 60, (name, out)  # curl: peer certificate cannot be verified
        # The server itself is fine: a client that does not verify is served.
        insecure = subprocess.run(["curl", "-sk", tls.https_url + "/healthz"],
                                  capture_output=True, text=True, timeout=20)
        assert insecure.stdout == '{"status":"ok"}\n', (name, insecure)


def read_until_closed(sock, timeout=10):
    sock.settimeout(timeout)
    got = b""
    try:
        while True:
            chunk = sock.recv(4096)
            if not chunk:
                return got
            got += chunk
    except ConnectionResetError:
        return got


def test_plaintext_and_garbage_on_the_tls_port_are_closed_and_counted(tls_server):
    with socket.create_connection(("127.0.0.1", tls_server.port), timeout=10) as s:
        s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        assert b"HTTP/1.1" not in read_until_closed(s)
    with socket.create_connection(("127.0.0.1", tls_server.port), timeout=10) as s:
        s.sendall(b"\x16\x03\x01\x00\x30" + os.urandom(48))
        read_until_closed(s)
    assert wait_until(lambda: tls_server.metric("ringcast_tls_failures_total",
                                                reason="plaintext") == 1)
    assert wait_until(lambda: tls_server.metric("ringcast_tls_failures_total",
                                                reason="handshake") == 1)
    log = tls_server.server.log()
    assert "TLS plaintext failure" in log and " warn " not in log.split("TLS plaintext")[1][:2000]
    # The port still serves.
    assert tls_server.curl(tls_server.https_url + "/healthz").stdout == '{"status":"ok"}\n'


def test_a_stalled_handshake_is_closed_at_the_handshake_timeout(start_server, ca):
    tls = TlsServer(start_server("--handshake-timeout", "500ms", *tls_flags(ca.issue("stall"))),
                    ca)
    with socket.create_connection(("127.0.0.1", tls.port), timeout=10) as s:
        s.sendall(b"\x16\x03\x01")  # the first bytes of a ClientHello, then nothing
        start = time.time()
        assert read_until_closed(s) == b""
        assert time.time() - start < 8


def test_sni_chooses_the_certificate_and_refuses_unknown_names(start_server, ca):
    alpha = ca.issue("alpha", dns=("alpha.test",), ips=())
    beta = ca.issue("beta", dns=("beta.test", "*.beta.test"), ips=())
    tls = TlsServer(start_server(*tls_flags(alpha, beta)), ca)
    for host in ("alpha.test", "beta.test", "api.beta.test"):
        out = tls.curl("--resolve", "%s:%d:127.0.0.1" % (host, tls.port),
                       "https://%s:%d/healthz" % (host, tls.port))
        assert out.stdout == '{"status":"ok"}\n', (host, out)
    out = tls.curl("--resolve", "gamma.test:%d:127.0.0.1" % tls.port,
                   "https://gamma.test:%d/healthz" % tls.port)
    assert out.returncode != 0

    def unknown_names():
        text = tls.curl("--resolve", "alpha.test:%d:127.0.0.1" % tls.port,
                        "https://alpha.test:%d/metrics" % tls.port).stdout
        m = re.search(r'^ringcast_tls_failures_total\{reason="unknown_name"\} (\d+)$', text, re.M)
        return int(m.group(1)) if m else None
    assert wait_until(lambda: unknown_names() == 1)


def test_one_certificate_serves_any_or_no_name(start_server, ca):
    tls = TlsServer(start_server(*tls_flags(ca.issue("only", dns=("only.test",), ips=()))), ca)
    ctx = ssl.create_default_context(cafile=ca.ca_pem)
    ctx.check_hostname = False
    for name in (None, "unknown.test"):
        with ctx.wrap_socket(socket.create_connection(("127.0.0.1", tls.port), timeout=10),
                             server_hostname=name) as s:
            assert s.getpeercert()["subject"] == ((("commonName", "only.test"),),)


def peer_serial(tls):
    ctx = tls.context()
    with ctx.wrap_socket(socket.create_connection(("127.0.0.1", tls.port), timeout=10),
                         server_hostname="localhost") as s:
        return s.getpeercert()["serialNumber"]


def test_sighup_reloads_certificates_without_dropping_connections(start_server, ca):
    cert, key = ca.issue("reload-1")
    live_cert = os.path.join(ca.dir, "live.pem")
    live_key = os.path.join(ca.dir, "live.key")
    shutil.copy(cert, live_cert)
    shutil.copy(key, live_key)
    tls = TlsServer(start_server(*tls_flags((live_cert, live_key))), ca)
    first = peer_serial(tls)
    subscribers = [wss_subscribe(tls, "reload") for _ in range(10)]
    stop = threading.Event()
    published = []

    def publisher():
        while not stop.is_set():
            published.append(publish(tls.server, "reload", {"n": len(published)}))
            time.sleep(0.01)

    pub_thread = threading.Thread(target=publisher)
    pub_thread.start()
    try:
        # A bad file: logged, and the certificate in use stays.
        with open(live_cert, "w") as f:
            f.write("not a certificate\n")
        tls.server.proc.send_signal(signal.SIGHUP)
        tls.server.wait_for_log(r"certificates not reloaded, the previous ones stay in use")
        assert peer_serial(tls) == first
        new_cert, new_key = ca.issue("reload-2")
        shutil.copy(new_cert, live_cert)
        shutil.copy(new_key, live_key)
        tls.server.proc.send_signal(signal.SIGHUP)
        tls.server.wait_for_log(r"reloaded 1 TLS certificate")
        second = peer_serial(tls)
        assert second != first
        time.sleep(0.3)
    finally:
        stop.set()
        pub_thread.join(30)
    total = len(published)
    for ws in subscribers:
        seqs = [json.loads(ws.recv())["seq"] for _ in range(total)]
        assert seqs == list(range(1, total + 1))
        ws.close()


def test_tls_flags_are_checked(ca):
    cert, key = ca.issue("flags")
    cases = [["--tls-listen", "127.0.0.1:0"],
             ["--tls-listen", "127.0.0.1:0", "--tls-cert", cert],
             ["--tls-cert", cert, "--tls-key", key]]
    for flags in cases:
        out = subprocess.run([binary("ringcast"), "--listen", "127.0.0.1:0", "--publish-listen",
                              "127.0.0.1:0"] + flags, capture_output=True, text=True, timeout=20)
        assert out.returncode == 2 and "tls" in out.stderr.lower(), (flags, out)
    out = subprocess.run([binary("ringcast"), "--listen", "127.0.0.1:0", "--publish-listen",
                          "127.0.0.1:0", "--tls-listen", "127.0.0.1:0", "--tls-cert", cert,
                          "--tls-key", ca.issue("other-key")[1]],
                         capture_output=True, text=True, timeout=20)
    assert out.returncode == 2 and "is not the key of the certificate" in out.stderr, out


PUBLISH_TLS_PORT = re.compile(r"ringcast TLS listening: publish=\S+:(\d+)")


def pub(*args, input=None):
    return subprocess.run([binary("ringcast-pub")] + list(args), input=input, capture_output=True,
                          text=True, timeout=60)


def test_ringcast_pub_over_tls_verifies_the_server(start_server, ca):
    good = ca.issue("pub-good")
    server = start_server("--publish-tls-listen", "127.0.0.1:0", "--tls-cert", good[0],
                          "--tls-key", good[1])
    port = int(server.wait_for_log(PUBLISH_TLS_PORT.pattern).group(1))
    ws = websocket.create_connection(server.ws_url, timeout=10)
    ws.send(json.dumps({"type": "subscribe", "topics": ["pub.tls"]}))
    json.loads(ws.recv())
    for host in ("localhost", "127.0.0.1"):
        out = pub("--tls", "--ca-file", ca.ca_pem, "--server", "%s:%d" % (host, port), "pub.tls",
                  '{"via":"%s"}' % host)
        assert out.returncode == 0, out.stderr
        assert json.loads(ws.recv())["data"] == {"via": host}
    # Pipelined over TLS: every line acknowledged, in order.
    lines = "".join(json.dumps({"topic": "pub.tls", "data": {"i": i}}) + "\n" for i in range(500))
    out = pub("--tls", "--ca-file", ca.ca_pem, "--server", "localhost:%d" % port, input=lines)
    assert out.returncode == 0, out.stderr
    assert [json.loads(line)["seq"] for line in out.stdout.splitlines()] == list(range(3, 503))
    assert [json.loads(ws.recv())["data"]["i"] for _ in range(500)] == list(range(500))
    # Not trusted (the system's CAs do not know the test CA), or another name.
    out = pub("--tls", "--server", "localhost:%d" % port, "t", "1")
    assert out.returncode == 3 and "not trusted" in out.stderr, out
    other = ca.issue("pub-other", dns=("other.test",), ips=())
    server2 = start_server("--publish-tls-listen", "127.0.0.1:0", "--tls-cert", other[0],
                           "--tls-key", other[1])
    port2 = int(server2.wait_for_log(PUBLISH_TLS_PORT.pattern).group(1))
    out = pub("--tls", "--ca-file", ca.ca_pem, "--server", "localhost:%d" % port2, "t", "1")
    assert out.returncode == 3 and "not trusted" in out.stderr, out
    # Plaintext against the TLS port, TLS against the plaintext port: clean failures.
    out = pub("--server", "127.0.0.1:%d" % port, "--timeout", "3s", "t", "1")
    assert out.returncode == 3, out
    out = pub("--tls", "--ca-file", ca.ca_pem, "--server", server.publish_addr, "t", "1")
    assert out.returncode == 3, out
    ws.close()


def test_handshakes_in_progress_are_bounded_per_shard(start_server, ca):
    pair = ca.issue("bounded")
    tls = TlsServer(start_server("--max-handshakes", "2", *tls_flags(pair), shards=1), ca)
    stalled = [socket.create_connection(("127.0.0.1", tls.port), timeout=10) for _ in range(2)]
    for s in stalled:
        s.sendall(b"\x16\x03\x01")
    time.sleep(0.3)
    with socket.create_connection(("127.0.0.1", tls.port), timeout=10) as third:
        assert read_until_closed(third) == b""  # refused without a plaintext answer
    for s in stalled:
        s.close()
    assert wait_until(lambda: tls.curl(tls.https_url + "/healthz").stdout == '{"status":"ok"}\n')
    text = tls.curl(tls.https_url + "/metrics").stdout
    assert re.search(r'^ringcast_limited_total\{limit="handshakes"\} [1-9]', text, re.M), text


def trusting_home(ca, folder):
    """A HOME whose NSS database (what Chromium on Linux trusts besides its
    own roots) holds the test CA, made with certutil."""
    nssdb = os.path.join(folder, ".pki", "nssdb")
    os.makedirs(nssdb)
    subprocess.run(["certutil", "-d", "sql:" + nssdb, "-N", "--empty-password"], check=True,
                   capture_output=True, timeout=30)
    subprocess.run(["certutil", "-d", "sql:" + nssdb, "-A", "-t", "C,,", "-n", "ringcast test CA",
                    "-i", ca.ca_pem], check=True, capture_output=True, timeout=30)
    return folder


def test_chromium_on_an_https_page_uses_eventsource_fetch_and_websocket_over_tls(
        start_server, ca, tmp_path, monkeypatch):
    from test_browsers import PageServer, assert_stream_works, load_pages
    page_server = PageServer(tls=ca.issue("pages"))
    try:
        tls = TlsServer(start_server("--cors-origins", page_server.origin, "--max-payload", "64",
                                     *tls_flags(ca.issue("browser"))), ca)
        out = tls.curl("-X", "POST", "-H", "Content-Type: application/json", "--data",
                       json.dumps({"topic": "browser.kept", "data": {"text": "y" * 100}}),
                       tls.https_url + "/v1/publish")
        fetch_path = "/v1/messages/browser.kept/%d" % json.loads(out.stdout)["seq"]
        monkeypatch.setenv("HOME", trusting_home(ca, str(tmp_path / "home")))
        params = dict(http=tls.https_url, ws="wss://localhost:%d" % tls.port,
                      topic="browser.room", token="", fetch=fetch_path, events="")
        (result,) = load_pages(page_server.page(**params)).values()
    finally:
        page_server.close()
    assert result["origin"] == page_server.origin
    assert_stream_works(result["sse"], page_server.origin, "message")
    assert result["publish"]["status"] == 200, result
    assert result["fetched"]["status"] == 200, result
    assert result["fetched"]["body"]["data"] == {"text": "y" * 100}
    assert result["ws"] == {"opened": True, "closeCode": 1000}, result
    assert tls.metric("ringcast_tls_handshakes_total", resumed="false") >= 1


def test_ringcast_bench_over_tls_with_resumption(start_server, ca):
    from test_bench_smoke import bench, check_clean
    server = start_server(*tlscerts.server_flags(ca, "bench"), shards=2)
    tls = tlscerts.TlsView(server, ca)
    code, r, stderr = bench(tls, "--connections", 100, "--topics", 2, "--warmup", "0.5s",
                            "--duration", "2s", "--tls-resume", "--ca-file", ca.ca_pem,
                            "--connect-concurrency", 1)
    detail = check_clean(code, r, stderr, 100)
    assert r["tls"] is True and r["deliveries_total"] == r["publishes_total"] * 50, detail
    # One setup at a time: every connection after the first resumes the ticket.
    assert r["tls_resumed"] == 99, detail
    text = subprocess.run(["curl", "-sS", server.http_url + "/metrics"], capture_output=True,
                          text=True, timeout=20).stdout
    m = re.search(r'^ringcast_tls_handshakes_total\{resumed="true"\} (\d+)$', text, re.M)
    assert m and int(m.group(1)) == 99, text[-3000:]
