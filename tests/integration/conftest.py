"""Shared fixtures for the integration tests: a real ringcast process on
loopback, and the project's own tools.

RINGCAST_BUILD names the build folder whose binaries are used (default
build/asan, the ASan+UBSan build; tests/run --integration-build can name
another).

Every process a test starts, directly or not, runs with the sanitizer options
of sanitizers.py: reports go to files in RINGCAST_SANITIZER_LOGS (default: a
new temporary folder) and a process that reports exits sanitizers.EXIT_CODE
(86). A report written while a test runs fails that test, whatever the
process and its exit status; one written between tests (module fixtures,
stragglers) fails the session.
"""

import collections
import json
import os
import re
import resource
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time

import pytest

import abuse
import sanitizers

TOP = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BUILD = os.environ.get("RINGCAST_BUILD") or os.path.join(TOP, "build", "asan")
NODE_DIR = os.path.join(TOP, "tests", "integration", "node")
SANITIZER = re.compile(r"ERROR: AddressSanitizer|ERROR: LeakSanitizer|runtime error:|"
                       r"ThreadSanitizer|SUMMARY: UndefinedBehaviorSanitizer")

SAN_LOGS = os.environ.get("RINGCAST_SANITIZER_LOGS") or tempfile.mkdtemp(prefix="ringcast-san-")
SAN_LOGS_TEMPORARY = "RINGCAST_SANITIZER_LOGS" not in os.environ
os.makedirs(os.path.join(SAN_LOGS, "seen"), exist_ok=True)
os.environ.update(sanitizers.environ(os.environ, SAN_LOGS))
OUTSIDE_TESTS = []  # (report file, text) written while no test ran


def pytest_configure(config):
    if not os.access(os.path.join(BUILD, "ringcast"), os.X_OK):
        raise pytest.UsageError("%s/ringcast is not built: run tests/run --suite build, or set "
                                "RINGCAST_BUILD to a build folder" % BUILD)


def pytest_report_header():
    return "ringcast binaries: %s; sanitizer reports: %s" % (BUILD, SAN_LOGS)


def collect_sanitizer_reports(owner):
    """Moves the new report files into SAN_LOGS/seen/ (named after |owner|,
    a test id, or "outside-tests") and returns [(kept path, text)]."""
    found = []
    label = re.sub(r"[^A-Za-z0-9_.-]+", "_", owner or "outside-tests")[-120:]
    for path in sanitizers.reports(SAN_LOGS):
        kept = os.path.join(SAN_LOGS, "seen", "%s.%s" % (label, os.path.basename(path)))
        os.replace(path, kept)
        with open(kept, errors="replace") as f:
            found.append((kept, f.read()))
    return found


def format_reports(found):
    return "\n".join("---- %s\n%s" % (path, text[-8000:]) for path, text in found)


@pytest.fixture(autouse=True)
def no_sanitizer_reports(request):
    """Fails the test if any process it started (a server, a tool, anything
    sanitized, however started and whatever its exit status) wrote a
    sanitizer report. Set up before and torn down after every other fixture
    of the test, so the servers it started have been stopped."""
    OUTSIDE_TESTS.extend(collect_sanitizer_reports(None))
    yield
    found = collect_sanitizer_reports(request.node.nodeid)
    if found:
        pytest.fail("sanitizer report from a process this test started:\n" +
                    format_reports(found), pytrace=False)


def pytest_sessionfinish(session):
    OUTSIDE_TESTS.extend(collect_sanitizer_reports(None))
    if OUTSIDE_TESTS:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
    elif SAN_LOGS_TEMPORARY and not os.listdir(os.path.join(SAN_LOGS, "seen")):
        shutil.rmtree(SAN_LOGS, ignore_errors=True)


def pytest_terminal_summary(terminalreporter):
    if OUTSIDE_TESTS:
        terminalreporter.section("sanitizer reports written outside any test", red=True)
        terminalreporter.write_line(format_reports(OUTSIDE_TESTS))
    if os.path.isdir(SAN_LOGS) and os.listdir(os.path.join(SAN_LOGS, "seen")):
        terminalreporter.write_line("sanitizer reports kept in %s/seen" % SAN_LOGS)


def binary(name):
    path = os.path.join(BUILD, name)
    assert os.access(path, os.X_OK), "%s is not built (RINGCAST_BUILD=%s)" % (name, BUILD)
    return path


class Server:
    """A ringcast process started with |flags| on free loopback ports; with
    |nofile|, under that RLIMIT_NOFILE (soft and hard)."""

    def __init__(self, *flags, shards=2, ready_timeout=20, nofile=None):
        self.flags = ["--shards", str(shards), "--listen", "127.0.0.1:0",
                      "--publish-listen", "127.0.0.1:0", "--log-level", "debug"] + list(flags)
        self.lines = []
        self.lock = threading.Lock()
        limit = (lambda: resource.setrlimit(resource.RLIMIT_NOFILE, (nofile, nofile))
                 if nofile else None)
        self.proc = subprocess.Popen([binary("ringcast")] + self.flags, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.PIPE, text=True, errors="replace",
                                     preexec_fn=limit)
        self.reader = threading.Thread(target=self._read_log, daemon=True)
        self.reader.start()
        deadline = time.time() + ready_timeout
        match = None
        while time.time() < deadline and match is None:
            with self.lock:
                for line in self.lines:
                    match = abuse.LISTENING.search(line)
                    if match:
                        break
            if self.proc.poll() is not None:
                break
            time.sleep(0.02)
        if match is None:
            self.kill()
            raise RuntimeError("ringcast did not start:\n" + self.log())
        self.host = match.group(1)
        self.port = int(match.group(2))
        self.publish_port = int(match.group(4))
        self.stopped = False

    def _read_log(self):
        for line in self.proc.stderr:
            with self.lock:
                self.lines.append(line)

    def log(self):
        with self.lock:
            return "".join(self.lines)

    def wait_for_log(self, pattern, timeout=10):
        """Waits until a log line matches |pattern|; returns the match."""
        regex = re.compile(pattern)
        deadline = time.time() + timeout
        while time.time() < deadline:
            with self.lock:
                for line in self.lines:
                    m = regex.search(line)
                    if m:
                        return m
            time.sleep(0.02)
        raise AssertionError("no log line matching %r within %ss:\n%s" %
                             (pattern, timeout, self.log()[-4000:]))

    @property
    def ws_url(self):
        return "ws://%s:%d/v1/ws" % (self.host, self.port)

    @property
    def http_url(self):
        return "http://%s:%d" % (self.host, self.port)

    @property
    def publish_addr(self):
        return "%s:%d" % (self.host, self.publish_port)

    def rss_kib(self):
        return abuse.rss_kib(self.proc.pid)

    def stop(self, timeout=30):
        """SIGTERM; the server must exit 0 within |timeout| without sanitizer
        reports. Returns the seconds it took."""
        if self.stopped:
            return 0.0
        self.stopped = True
        start = time.time()
        self.proc.send_signal(signal.SIGTERM)
        try:
            code = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise AssertionError("ringcast did not exit within %ss of SIGTERM:\n%s" %
                                 (timeout, self.log()[-4000:]))
        self.reader.join(5)
        took = time.time() - start
        log = self.log()
        assert not SANITIZER.search(log), "sanitizer report:\n" + log[-8000:]
        assert code == 0, "ringcast exited %d%s after SIGTERM:\n%s" % (
            code, " (the sanitizer status)" if code == sanitizers.EXIT_CODE else "", log[-4000:])
        return took

    def kill(self):
        self.stopped = True
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


@pytest.fixture
def start_server():
    """Factory: start_server(*flags, shards=N) -> Server; each is stopped (and
    checked: exit status 0, no sanitizer report) when the test ends."""
    servers = []

    def start(*flags, **kwargs):
        s = Server(*flags, **kwargs)
        servers.append(s)
        return s

    yield start
    errors = []
    for s in servers:
        try:
            s.stop()
        except AssertionError as e:
            errors.append(str(e))
    if errors:
        pytest.fail("\n".join(errors))


@pytest.fixture
def small_asan_quarantine(monkeypatch):
    """ASan keeps freed memory in a quarantine of up to 256 MiB by default, so
    under ASan the RSS of a server that frees everything still grows with the
    bytes that pass through it. A small quarantine makes RSS track live
    memory; other builds ignore the variable."""
    options = os.environ.get("ASAN_OPTIONS", "")
    monkeypatch.setenv("ASAN_OPTIONS", (options + ":" if options else "") + "quarantine_size_mb=4")


@pytest.fixture
def server(start_server):
    """A server with default settings and two shards."""
    return start_server()


def publish(server, topic, data, event_type=None, msg_id=None, content_type=None, check=True):
    """Publishes one event with build/ringcast-pub; returns its seq (int), or
    the CompletedProcess when check is False."""
    cmd = [binary("ringcast-pub"), "--server", server.publish_addr]
    if event_type:
        cmd += ["--type", event_type]
    if msg_id:
        cmd += ["--id", msg_id]
    if content_type:
        cmd += ["--content-type", content_type]
    if not isinstance(data, str):
        data = json.dumps(data)
    p = subprocess.run(cmd + [topic, data], capture_output=True, text=True, timeout=60)
    if not check:
        return p
    assert p.returncode == 0, "ringcast-pub failed (%d): %s" % (p.returncode, p.stderr)
    return int(p.stdout.strip())


def publish_many(server, events, window=None, timeout=300):
    """Publishes NDJSON |events| (dicts with topic, data, event_type, id)
    through one pipelined ringcast-pub; returns the parsed result lines."""
    cmd = [binary("ringcast-pub"), "--server", server.publish_addr]
    if window:
        cmd += ["--window", str(window)]
    # Compact lines: ringcast-pub sends "data" exactly as written on the line.
    text = "".join(json.dumps(e, separators=(",", ":")) + "\n" for e in events)
    p = subprocess.run(cmd, input=text, capture_output=True, text=True, timeout=timeout)
    results = [json.loads(line) for line in p.stdout.splitlines() if line.strip()]
    return p, results


def publish_concurrently(server, batches, timeout=300, separators=None):
    """Starts one ringcast-pub (NDJSON on standard input, each line written
    by json.dumps with |separators|) per batch of events, all at once, and
    feeds them in parallel. Returns, per batch, (exit status, parsed result
    lines, stderr)."""
    inputs = ["".join(json.dumps(e, separators=separators) + "\n" for e in batch)
              for batch in batches]
    procs = [subprocess.Popen([binary("ringcast-pub"), "--server", server.publish_addr],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for _ in batches]
    outputs = [None] * len(procs)

    def feed(i):
        try:
            out, err = procs[i].communicate(inputs[i], timeout=timeout)
        except subprocess.TimeoutExpired:
            procs[i].kill()
            out, err = procs[i].communicate()
            err += "\n(killed after %ss)" % timeout
        lines = [json.loads(line) for line in out.splitlines() if line.strip()]
        outputs[i] = (procs[i].returncode, lines, err)

    threads = [threading.Thread(target=feed, args=(i,)) for i in range(len(procs))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout + 30)
    assert all(o is not None for o in outputs), "a publisher thread hung"
    return outputs


def acked_by_topic(batches, outputs, topics, per_topic, exact_results=True):
    """Checks what publish_concurrently() returned: every publisher exited 0
    with one result line per event, {"line": n, "topic": t, "seq": s} (with
    |exact_results|, nothing else; otherwise other members are allowed); per
    topic the seqs increase along each publisher and are, over all of them,
    exactly 1..|per_topic|. Returns {topic: [(seq, event_type, data)] sorted
    by seq}."""
    by_topic = collections.defaultdict(list)
    for p, (batch, (code, results, err)) in enumerate(zip(batches, outputs)):
        assert code == 0, "publisher %d exited %d: %s" % (p, code, err[-2000:])
        assert len(results) == len(batch), "publisher %d: %d results for %d events" % (
            p, len(results), len(batch))
        last_seq = {}
        for n, (event, result) in enumerate(zip(batch, results), start=1):
            if exact_results:
                assert result == {"line": n, "topic": event["topic"], "seq": result.get("seq")}, result
            else:
                assert result.get("line") == n and result.get("topic") == event["topic"], result
            assert result["seq"] > last_seq.get(event["topic"], 0), \
                "publisher %d: seqs of %s not increasing: %s" % (p, event["topic"], result)
            last_seq[event["topic"]] = result["seq"]
            by_topic[event["topic"]].append((result["seq"], event["event_type"], event["data"]))
    for topic in topics:
        by_topic[topic].sort(key=lambda e: e[0])
        assert [e[0] for e in by_topic[topic]] == list(range(1, per_topic + 1)), \
            "ACK seqs of %s are not 1..%d" % (topic, per_topic)
    return by_topic


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
