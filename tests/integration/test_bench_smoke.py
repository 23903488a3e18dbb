"""Smoke tests of the load generator, ringcast-bench (bench/README.md): short
runs against a real server whose JSON line must show deliveries, no lost,
duplicated or reordered event, and exactly as many deliveries as publishes
times subscribers per topic. No throughput is asserted (performance belongs
to the benchmarks, not to the tests); the tool itself runs under ASan+UBSan
in CI, so its stderr is checked for sanitizer reports too."""

import json
import os
import re
import resource
import shutil
import signal
import socket
import subprocess
import time

import pytest

from conftest import SANITIZER, binary, free_port

# Every flag --help must document.
FLAGS = [
    "--addr", "--publish-addr", "--server-pid", "--token-file", "--protocol", "--connections",
    "--topics", "--topic-prefix", "--pattern-share", "--pattern", "--source-addrs", "--threads",
    "--connect-concurrency", "--connect-timeout", "--close-timeout", "--recv-buffers",
    "--recv-buffer-size", "--no-multishot", "--publishers", "--http-publish", "--rate",
    "--window", "--size", "--warmup", "--duration", "--drain", "--json", "--help", "--version",
    "--target", "--fixed-files",
]

NCHAN_MODULE = "/usr/lib/nginx/modules/ngx_nchan_module.so"
NCHAN_TEMPLATE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "bench",
                              "nchan", "nchan.conf.in")
NATS_TEMPLATE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "bench",
                             "nats", "nats.conf.in")


def bench(server, *args, timeout=90, nofile=None):
    """Runs ringcast-bench --json against |server|, with |nofile| as its
    (soft, hard) RLIMIT_NOFILE if given; returns (exit status, the parsed
    JSON line, stderr)."""
    cmd = [binary("ringcast-bench"), "--addr", "%s:%d" % (server.host, server.port),
           "--publish-addr", server.publish_addr, "--server-pid", str(server.proc.pid),
           "--json"] + [str(a) for a in args]
    limit = (lambda: resource.setrlimit(resource.RLIMIT_NOFILE, nofile)) if nofile else None
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, preexec_fn=limit)
    assert not SANITIZER.search(p.stderr), "sanitizer report from ringcast-bench:\n" + p.stderr
    lines = p.stdout.strip().splitlines()
    assert len(lines) == 1, "--json printed more than one line:\n%s\n%s" % (p.stdout, p.stderr)
    return p.returncode, json.loads(lines[0]), p.stderr


def check_clean(code, r, stderr, connections, server_cpu_seen=True):
    """|server_cpu_seen|: the server's CPU time must have moved (false for
    nchan, whose workers may stay under one 10 ms clock tick in a 1 s run on
    a loaded machine)."""
    detail = "exit %d\n%s\n%s" % (code, json.dumps(r, indent=1), stderr)
    assert code == 0 and r["ok"] is True and r["failures"] == [], detail
    assert r["connected"] == connections and r["connect_failures"] == 0, detail
    assert r["deliveries"] > 0 and r["deliveries_per_s"] > 0, detail
    assert r["publishes"] > 0 and r["publishes_per_s"] > 0, detail
    assert r["lost"] == 0 and r["duplicated"] == 0 and r["reordered"] == 0, detail
    assert r["slow_consumer_closes"] == 0 and r["other_closes"] == 0, detail
    assert r["publish_errors"] == 0 and r["drained"] is True, detail
    assert r["deliveries_total"] == r["expected_deliveries"], detail
    lat = r["latency_us"]
    assert lat["samples"] == r["deliveries"], detail
    assert 0 < lat["p50"] <= lat["p90"] <= lat["p99"] <= lat["p999"] <= lat["max"], detail
    assert r["receives"] > 0 and r["connects_per_s"] > 0, detail
    assert r["server_cpu"] is not None, detail
    assert r["server_cpu"]["rss_kib"] > 0, detail
    assert r["server_cpu"]["seconds"] > 0 or not server_cpu_seen, detail
    assert r["client_cpu"]["seconds"] > 0, detail
    late = r["open_loop_late_us"]
    if r["mode"] == "open":
        # How late each send of the window was against its schedule.
        assert 0 < late["samples"] <= r["publishes_total"], detail
        assert 0 <= late["p50"] <= late["p99"] <= late["max"], detail
        assert abs(r["open_loop_behind_max_ms"] * 1000 - late["max"]) < 1, detail
    else:
        assert late is None and r["open_loop_behind_max_ms"] is None, detail
    return detail


def test_help_documents_every_flag():
    p = subprocess.run([binary("ringcast-bench"), "--help"], capture_output=True, text=True,
                       timeout=10)
    assert p.returncode == 0, p.stderr
    missing = [f for f in FLAGS if not re.search(re.escape(f) + r"\b", p.stdout)]
    assert not missing, "--help does not mention %s:\n%s" % (missing, p.stdout)
    assert "Exit status" in p.stdout


def test_usage_errors_exit_2():
    for args in (["--bogus"], ["--connections", "0"], ["--protocol", "ftp"],
                 ["--duration", "soon"], ["--pattern-share", "0.5", "--pattern", "nomatch:*"],
                 ["stray-argument"], ["--target", "redis"], ["--target", "nchan", "--size", "64"],
                 ["--target", "nchan", "--publishers", "2"], ["--server-pid", "1,x"],
                 ["--target", "nchan", "--pattern-share", "0.5"], ["--fixed-files", "maybe"],
                 ["--target", "nats", "--protocol", "sse"], ["--target", "nats", "--http-publish"],
                 ["--target", "nats", "--size", "64"], ["--target", "nats", "--publishers", "2"],
                 ["--target", "nats", "--publish-addr", "nowhere"]):
        p = subprocess.run([binary("ringcast-bench")] + args, capture_output=True, text=True,
                           timeout=10)
        assert p.returncode == 2, "%s: exit %d\n%s" % (args, p.returncode, p.stderr)
        assert "--help" in p.stderr and p.stdout == "", (args, p.stdout, p.stderr)


def test_websocket_closed_loop(start_server):
    server = start_server(shards=2)
    code, r, stderr = bench(server, "--connections", 200, "--topics", 4, "--warmup", "0.5s",
                            "--duration", "2s")
    detail = check_clean(code, r, stderr, 200)
    assert r["protocol"] == "ws" and r["mode"] == "closed", detail
    # 4 topics, 50 subscribers each: every acknowledged publish reached 50.
    assert r["deliveries_total"] == r["publishes_total"] * 50, detail


def test_websocket_fixed_files(start_server):
    """--fixed-files on: each subscribed socket moves into its thread's
    io_uring file table and is used only through it, up to the close."""
    server = start_server(shards=2)
    code, r, stderr = bench(server, "--connections", 300, "--topics", 3, "--threads", 2,
                            "--fixed-files", "on", "--rate", 500, "--warmup", "0.2s",
                            "--duration", "1s")
    detail = check_clean(code, r, stderr, 300)
    assert r["fixed_files"] is True and r["threads"] == 2, detail
    assert r["deliveries_total"] == r["publishes_total"] * 100, detail


def test_fixed_files_auto_under_a_low_limit(start_server):
    """--fixed-files auto (the default) turns them on when the connections
    do not fit in the hard RLIMIT_NOFILE as descriptors: 300 SSE
    subscribers under a limit of 256, 150 per thread in the file tables,
    at most 2 x 32 setups holding descriptors."""
    server = start_server(shards=2)
    code, r, stderr = bench(server, "--protocol", "sse", "--connections", 300, "--topics", 3,
                            "--threads", 2, "--connect-concurrency", 32, "--rate", 500,
                            "--warmup", "0.2s", "--duration", "1s", nofile=(256, 256))
    detail = check_clean(code, r, stderr, 300)
    assert r["fixed_files"] is True, detail
    assert r["deliveries_total"] == r["publishes_total"] * 100, detail


def test_sse_with_patterns(start_server):
    server = start_server(shards=2)
    code, r, stderr = bench(server, "--protocol", "sse", "--connections", 50, "--topics", 2,
                            "--pattern-share", "0.1", "--warmup", "0.2s", "--duration", "1s")
    detail = check_clean(code, r, stderr, 50)
    assert r["protocol"] == "sse" and r["pattern_connections"] == 5, detail
    # 5 connections on "*" get both topics; the 45 others alternate: 23 on
    # bench-0, 22 on bench-1. The one publisher alternates topics from
    # bench-0, so bench-0 got the odd publish if there was one.
    total = r["publishes_total"]
    on_0, on_1 = (total + 1) // 2, total // 2
    assert r["deliveries_total"] == on_0 * (23 + 5) + on_1 * (22 + 5), detail


def test_http_publish_plain_receives(start_server):
    server = start_server(shards=2)
    code, r, stderr = bench(server, "--connections", 20, "--topics", 2, "--http-publish",
                            "--no-multishot", "--threads", 2, "--warmup", "0.2s",
                            "--duration", "1s")
    detail = check_clean(code, r, stderr, 20)
    assert r["publish_via"] == "http" and r["recv_mode"] == "plain", detail
    assert r["deliveries_total"] == r["publishes_total"] * 10, detail


def test_unreachable_server_fails(start_server):
    server = start_server(shards=1)
    cmd = [binary("ringcast-bench"), "--addr", "127.0.0.1:%d" % free_port(), "--publish-addr",
           server.publish_addr, "--connections", 5, "--connect-timeout", "2s", "--json"]
    p = subprocess.run([str(a) for a in cmd], capture_output=True, text=True, timeout=30)
    assert not SANITIZER.search(p.stderr), p.stderr
    assert p.returncode == 1, "exit %d\n%s\n%s" % (p.returncode, p.stdout, p.stderr)
    r = json.loads(p.stdout.strip().splitlines()[-1])
    assert r["ok"] is False and r["connect_failures"] == 5 and r["connected"] == 0, r
    assert any("connection" in f for f in r["failures"]), r


def fill_template(template, values, out):
    """Writes |template| with every @KEY@ of |values| replaced to |out|;
    fails when a setting (not a comment) keeps a field."""
    with open(template) as f:
        text = f.read()
    for key, value in values.items():
        text = text.replace("@%s@" % key, value)
    settings = "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("#"))
    unfilled = re.findall(r"@[A-Z_]+@", settings)
    assert not unfilled, "template fields not filled: %s" % unfilled
    out.write_text(text)


def wait_listening(proc, ports, name, log):
    """Waits (10 s at most) until every port of |ports| accepts."""
    deadline = time.monotonic() + 10
    for port in ports:
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                break
            except OSError:
                assert proc.poll() is None and time.monotonic() < deadline, \
                    "%s did not start: %s" % (name, log.read_text())
                time.sleep(0.05)


def stop(proc):
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


@pytest.fixture
def nchan(tmp_path):
    """nginx with nchan from bench/nchan/nchan.conf.in on a free loopback
    port, one worker; yields (port, [master, worker PIDs]). Both come with
    the test packages (./configure.py --install-deps): missing, it fails."""
    assert shutil.which("nginx") and os.path.exists(NCHAN_MODULE), \
        "nginx with libnginx-mod-nchan is not installed (./configure.py --install-deps)"
    port = free_port()
    conf = tmp_path / "nginx.conf"
    fill_template(NCHAN_TEMPLATE, {"MODULE": NCHAN_MODULE, "WORKERS": "1", "NOFILE": "4096",
                                   "WORKER_CONNECTIONS": "2048", "PREFIX": str(tmp_path),
                                   "PORT": str(port), "BODY_BUFFER": "64k", "SHM": "64M",
                                   "BUFFER_LENGTH": "10", "LISTEN_OPTIONS": ""}, conf)
    proc = subprocess.Popen(["nginx", "-c", str(conf), "-p", str(tmp_path) + "/", "-e",
                             str(tmp_path / "error.log"), "-g", "daemon off;"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_listening(proc, [port], "nginx", tmp_path / "error.log")
        workers = []
        for name in os.listdir("/proc"):
            try:
                stat = open("/proc/%s/stat" % name).read() if name.isdigit() else ""
            except OSError:
                continue
            if stat and int(stat[stat.rindex(")") + 2:].split()[1]) == proc.pid:
                workers.append(int(name))
        yield port, [proc.pid] + workers
    finally:
        stop(proc)


@pytest.mark.parametrize("protocol", ["ws", "sse"])
def test_nchan_target(nchan, protocol):
    """--target nchan: subscribers on /sub/TOPIC, publishers POST /pub/TOPIC;
    the payload's own per-topic seq ("s") drives the stream check."""
    port, pids = nchan
    cmd = [binary("ringcast-bench"), "--target", "nchan", "--addr", "127.0.0.1:%d" % port,
           "--server-pid", ",".join(str(p) for p in pids), "--protocol", protocol,
           "--connections", "40", "--topics", "4", "--publishers", "2", "--warmup", "0.2s",
           "--duration", "1s", "--json"]
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
    assert not SANITIZER.search(p.stderr), p.stderr
    r = json.loads(p.stdout.strip().splitlines()[-1])
    detail = check_clean(p.returncode, r, p.stderr, 40, server_cpu_seen=False)
    assert r["target"] == "nchan" and r["publish_via"] == "http", detail
    assert r["server_cpu"]["pids"] == len(pids), detail
    # 4 topics, 10 subscribers each: every acknowledged publish reached 10.
    assert r["deliveries_total"] == r["publishes_total"] * 10, detail


@pytest.fixture
def nats(tmp_path):
    """nats-server from bench/nats/nats.conf.in, WebSocket (no TLS) and its
    client port on free loopback ports; yields (ws port, client port, PID).
    It comes with --bench-deps only: missing, the test is skipped."""
    if shutil.which("nats-server") is None:
        pytest.skip("nats-server is not installed (./configure.py --install-deps --bench-deps)")
    ws_port, port = free_port(), free_port()
    conf = tmp_path / "nats.conf"
    fill_template(NATS_TEMPLATE, {"PORT": str(port), "WS_PORT": str(ws_port),
                                  "PREFIX": str(tmp_path), "MAX_PAYLOAD": "1MB",
                                  "MAX_PENDING": "64MB"}, conf)
    log = open(tmp_path / "nats.log", "w")
    proc = subprocess.Popen(["nats-server", "-c", str(conf)], stdout=log, stderr=log)
    try:
        wait_listening(proc, [port, ws_port], "nats-server", tmp_path / "nats.log")
        yield ws_port, port, proc.pid
    finally:
        stop(proc)
        log.close()


@pytest.mark.parametrize("size,extra", [("128", []), ("16K", ["--recv-buffer-size", "4K"])])
def test_nats_target(nats, size, extra):
    """--target nats: WebSocket subscribers speak NATS (INFO, CONNECT, SUB,
    PING/PONG, MSG) and publishers PUB on the client port, each batch done at
    its PONG; the payload's own per-topic seq drives the stream check. 16 KiB
    payloads in 4 KiB receive buffers cut frames and messages everywhere."""
    ws_port, port, pid = nats
    cmd = [binary("ringcast-bench"), "--target", "nats", "--addr", "127.0.0.1:%d" % ws_port,
           "--publish-addr", "127.0.0.1:%d" % port, "--server-pid", str(pid),
           "--connections", "40", "--topics", "4", "--publishers", "2", "--size", size,
           "--warmup", "0.2s", "--duration", "1s", "--json"] + extra
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
    assert not SANITIZER.search(p.stderr), p.stderr
    r = json.loads(p.stdout.strip().splitlines()[-1])
    detail = check_clean(p.returncode, r, p.stderr, 40)
    assert r["target"] == "nats" and r["publish_via"] == "nats", detail
    # 4 topics, 10 subscribers each: every acknowledged publish reached 10.
    assert r["deliveries_total"] == r["publishes_total"] * 10, detail
    assert r["unparsed"] == 0 and r["misrouted"] == 0, detail


def run_json_lines(*cmd):
    p = subprocess.run(list(cmd), capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p.stderr
    return [json.loads(line) for line in p.stdout.splitlines()]


def test_loopback_floor_reports_round_trips():
    """loopback-probe floor: the loopback latency floor (docs/BENCHMARKS.md, B)."""
    [r] = run_json_lines(binary("loopback-probe"), "floor", "--count", "500", "--gap", "0")
    rtt = r["rtt_us"]
    assert r["count"] == 500
    assert 0 < rtt["p50"] <= rtt["p90"] <= rtt["p99"] <= rtt["p999"] <= rtt["max"], rtt
    for args, message in ((["floor", "--gap", "-1"], "--gap"), (["sideways"], "unknown probe"),
                          ([], "which probe")):
        p = subprocess.run([binary("loopback-probe")] + args, capture_output=True, text=True)
        assert p.returncode == 2 and message in p.stderr, (args, p.stderr)


def test_loopback_stall_reports_both_cpus():
    """loopback-probe stall: per CPU, the gaps in a thread that never
    sleeps, and how much of the time work would have waited longer than
    each threshold (docs/BENCHMARKS.md, B)."""
    lines = run_json_lines(binary("loopback-probe"), "stall", "--seconds", "1")
    assert sorted(r["cpu"] for r in lines) == [0, 1], lines
    thresholds = ["over_%dus" % t for t in (50, 100, 250, 500, 1000)]
    for r in lines:
        assert r["probe"] == "stall" and r["seconds"] == 1, r
        gaps = [r[t]["gaps"] for t in thresholds]
        waits = [r[t]["waits_longer_pct"] for t in thresholds]
        assert gaps == sorted(gaps, reverse=True) and waits == sorted(waits, reverse=True), r
        assert 0 <= waits[0] <= 100, r
        # The longest gap decides which thresholds saw any.
        for t, count in zip((50, 100, 250, 500, 1000), gaps):
            assert r["max_us"] >= t if count > 0 else r["max_us"] <= t, r
    p = subprocess.run([binary("loopback-probe"), "stall", "--seconds", "0"],
                       capture_output=True, text=True)
    assert p.returncode == 2 and "--seconds" in p.stderr, p.stderr


@pytest.mark.parametrize("extra", [[], ["--protocol", "sse", "--server-arg=--sse-named-events"]],
                         ids=["ws", "sse-named"])
def test_callgrind_counts_instructions_per_delivery(extra):
    """bench/callgrind: the release server under callgrind, a small open-loop
    load, WebSocket or SSE subscribers (a server flag passed through); the
    JSON line holds the count and the functions that took it
    (docs/BENCHMARKS.md, instructions per delivery). The release build,
    not the sanitized one: valgrind and ASan do not mix."""
    top = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
    release = os.path.join(top, "build")
    p = subprocess.run([os.path.join(top, "bench", "callgrind"),
                        "--server", os.path.join(release, "ringcast"),
                        "--bench", os.path.join(release, "ringcast-bench"),
                        "--connections", "100", "--topics", "10", "--rate", "50",
                        "--settle", "6", "--span", "2", "--top", "5", *extra],
                       capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, p.stdout + p.stderr
    r = json.loads(p.stdout.strip().splitlines()[-1])
    assert r["generator_ok"] is True and r["lost"] == 0, r
    assert r["protocol"] == ("sse" if extra else "ws"), r
    # 50 events/s to 10 subscribers each, for about 2 s.
    assert 1.9 <= r["span_s"] <= 4 and r["instructions"] > 0, r
    assert r["per_delivery"] * 10 <= r["per_event"] + 10, r
    assert len(r["top"]) == 5 and all(n > 0 for _, n in r["top"]), r
    assert r["instructions"] >= sum(n for _, n in r["top"]), r


def test_loopback_zerocopy_reports_both_modes():
    """loopback-probe zerocopy: SEND, then SEND_ZC with one notification per
    send, each saying whether the kernel copied (docs/BENCHMARKS.md, C)."""
    send, zc = run_json_lines(binary("loopback-probe"), "zerocopy", "--count", "300", "--size",
                              "4096", "--depth", "4")
    assert (send["mode"], zc["mode"]) == ("send", "send_zc")
    for r in (send, zc):
        assert r["error"] == "" and r["count"] == 300 and r["mib_per_s"] > 0, r
    assert send["notifications"] == 0
    assert zc["notifications"] == 300 and 0 <= zc["copied"] <= 300, zc


ABUSE_CASES = ["http-pipelined-get", "ws-subscribe-over-limit", "pub-acked-publish", "slowloris",
               "garbage-websocket", "ws-nul-in-json", "subscribe-burst"]


def test_abuse_runs_each_group_small(small_asan_quarantine):
    """bench/abuse (issue 13) at tiny sizes against the build under test: a
    case of each group (unread replies, slow readers, the subscribe burst)
    each on a fresh server; the JSON line has one row per case, with the
    watcher's delays and nothing lost. (The contract at CI sizes is
    test_hardening.py's; the full sizes are the benchmark's.)"""
    top = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
    tool = os.path.join(top, "bench", "abuse")
    p = subprocess.run([tool, "--help"], capture_output=True, text=True, timeout=30)
    assert p.returncode == 0 and "--unread-bytes" in p.stdout and "Exit" in p.stdout, p.stderr
    p = subprocess.run([tool, "--cases", "no-such-case"], capture_output=True, text=True,
                       timeout=30)
    assert p.returncode == 2 and "no-such-case" in p.stderr, (p.returncode, p.stderr)

    p = subprocess.run([tool, "--server", binary("ringcast"), "--cases", ",".join(ABUSE_CASES),
                        "--unread-bytes", "64K", "--burst", "500", "--slow-size", "ci",
                        "--hold", "0.5", "--warm-up", "1M", "--rate", "100"],
                       capture_output=True, text=True, timeout=240)
    assert not SANITIZER.search(p.stderr), p.stderr
    lines = p.stdout.strip().splitlines()
    r = json.loads(lines[-1])
    assert p.returncode == 0 and r["ok"] is True, p.stdout + p.stderr
    assert [c["case"] for c in r["cases"]] == ABUSE_CASES, r
    table = "\n".join(lines[:-1])
    for c in r["cases"]:
        assert c["case"] in table and c["server_exit"] == 0 and c["healthz"] == 200, c
        assert c["written"] > 0 and c["outcome"], c
        w = c["watch"]
        assert w["lost"] == 0 and w["received"] == w["published"] > 0, c
        assert w["samples"] > 0 and 0 < w["p50_ms"] <= w["p99_ms"] <= w["max_ms"], c
        if c["group"] == "unread":
            assert c["within_bound"] is True and c["outcome"].startswith("all, "), c
    assert r["cases"][-1]["outcome"].startswith("500 subscribed"), r
