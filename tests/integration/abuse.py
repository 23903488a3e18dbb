"""abuse.py: the harness for the attacks of issue 13 (attacks.py): a
well-behaved subscriber that watches the server meanwhile (Watcher), the
server's RSS and CPU, a launcher for bench/abuse, and run_case() that puts
them together. Shared by tests/integration/test_hardening.py (the ASan
server, CI sizes, the contract asserted) and bench/abuse (the release
server, full sizes, a table); nothing here depends on pytest.

A target is anything with host, port, publish_port, ws_url and proc (a
Popen; its pid is sampled): conftest.Server, or ServerProcess here.
Every load is bounded in bytes or count, and every wait in time.
"""

import json
import os
import re
import select
import signal
import socket
import struct
import subprocess
import threading
import time

import websocket
from websockets.frames import Opcode

import rcproto as rp
from rawws import RawWS, connect, frame

MIB = 1 << 20
# The server's RSS may grow by the bound on queued output plus this much
# (its receive buffers in use, allocator slack, ASan's 4 MiB quarantine).
RSS_SLACK_KIB = 16 * 1024
CLK_TCK = os.sysconf("SC_CLK_TCK")
LISTENING = re.compile(r"ringcast listening: client=(\S+):(\d+) publish=(\S+):(\d+)")


# ---- the server process ----------------------------------------------------

def rss_kib(pid):
    """VmRSS of process |pid| in KiB."""
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise OSError("no VmRSS for %d" % pid)


def cpu_seconds(pid):
    """User plus system CPU time of process |pid| so far."""
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def wait_idle(pid, limit_s, window_s=0.25, busy=0.15):
    """Waits until process |pid| used less than |busy| of one CPU over
    |window_s| (it has worked through what it had read), at most |limit_s|
    seconds; returns whether it went idle."""
    deadline = time.monotonic() + limit_s
    last = cpu_seconds(pid)
    while time.monotonic() < deadline:
        time.sleep(window_s)
        now = cpu_seconds(pid)
        if now - last < busy * window_s:
            return True
        last = now
    return False


class RssSampler:
    """Samples the RSS of process |pid| every |interval| seconds in a thread."""

    def __init__(self, pid, interval=0.02):
        self.pid, self.interval = pid, interval
        self.peak = rss_kib(pid)
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        while not self.stopping.is_set():
            try:
                self.peak = max(self.peak, rss_kib(self.pid))
            except OSError:
                return
            self.stopping.wait(self.interval)

    def stop(self):
        """Stops sampling; returns the peak in KiB."""
        self.stopping.set()
        self.thread.join(5)
        return self.peak


def http_get(target, path, timeout=10):
    """The whole answer to GET |path| on a new connection, b"" when there is
    none."""
    try:
        with connect(target.host, target.port, timeout) as sock:
            sock.sendall(b"GET %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n" % path)
            data, _ = read_all(sock, time.monotonic() + timeout)
    except OSError:
        return b""
    return data


def healthz(target, timeout=10):
    """The status of GET /healthz on a new connection (0: no answer)."""
    return http_status(http_get(target, b"/healthz", timeout)) or 0


TURN_BUCKET = re.compile(
    r'^ringcast_shard_loop_turn_seconds_bucket\{shard="(\d+)",le="([^"]+)"\} (\d+)$', re.M)


def loop_turns(target, timeout=10):
    """The server's loop turns by duration (ringcast_shard_loop_turn_seconds,
    summed over the shards): {upper bound in s (inf last): turns at or under
    it}, cumulative; {} when /metrics does not answer."""
    out = {}
    text = http_get(target, b"/metrics", timeout).decode("latin-1")
    for _, le, n in TURN_BUCKET.findall(text):
        out[float(le)] = out.get(float(le), 0) + int(n)
    return out


def turn_stats(before, after):
    """What the loop turns between two loop_turns() were: how many, how many
    took over 1 ms and over 5 ms, and the bucket bound of the longest (ms;
    None when the histogram was not read)."""
    if not before or not after:
        return {"turns": None, "over_1ms": None, "over_5ms": None, "longest_ms": None}
    bounds = sorted(after)
    diff = {b: after[b] - before.get(b, 0) for b in bounds}
    total = diff[bounds[-1]]
    under = lambda limit: max((diff[b] for b in bounds if b <= limit), default=0)
    longest = next((b for b in bounds if diff[b] == total), bounds[-1])
    return {"turns": total, "over_1ms": total - under(0.001), "over_5ms": total - under(0.005),
            "longest_ms": longest * 1000}


class ServerProcess:
    """For bench/abuse: a ringcast |binary| with |flags| on free loopback
    ports, its log kept; stopped by its PID (SIGTERM, then SIGKILL)."""

    def __init__(self, binary, flags, ready_timeout=20):
        self.proc = subprocess.Popen(
            [binary, "--listen", "127.0.0.1:0", "--publish-listen", "127.0.0.1:0"] + list(flags),
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, errors="replace")
        self.lines = []
        threading.Thread(target=self._read_log, daemon=True).start()
        deadline = time.monotonic() + ready_timeout
        match = None
        while match is None and time.monotonic() < deadline and self.proc.poll() is None:
            match = next(filter(None, map(LISTENING.search, list(self.lines))), None)
            time.sleep(0.02)
        if match is None:
            self.stop()
            raise RuntimeError("ringcast did not start:\n" + "".join(self.lines)[-4000:])
        self.host, self.port, self.publish_port = match.group(1), int(match.group(2)), \
            int(match.group(4))
        self.ws_url = "ws://%s:%d/v1/ws" % (self.host, self.port)

    def _read_log(self):
        for line in self.proc.stderr:
            self.lines.append(line)

    def stop(self, timeout=30):
        """Returns the exit status (SIGKILL after |timeout| s: negative)."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        return self.proc.returncode


# ---- reading without a protocol library -------------------------------------

def read_all(sock, deadline, limit=1 << 62, quiet_s=None):
    """Reads until EOF, a reset, |deadline|, |limit| bytes, or (with
    |quiet_s|) that long without a byte. Returns (data, end) with end one of
    "eof", "reset", "open"."""
    chunks, total = [], 0
    while total < limit:
        wait = deadline - time.monotonic()
        if quiet_s is not None:
            wait = min(wait, quiet_s)
        if wait <= 0:
            break
        sock.settimeout(wait)
        try:
            chunk = sock.recv(min(1 << 18, limit - total))
        except socket.timeout:
            if quiet_s is not None:
                break
            continue
        except ConnectionResetError:
            return b"".join(chunks), "reset"
        if not chunk:
            return b"".join(chunks), "eof"
        chunks.append(chunk)
        total += len(chunk)
    return b"".join(chunks), "open"


def exchange(sock, data, timeout=10, limit=1 << 24):
    """Writes |data| while reading whatever comes, until the server closes
    (or |timeout|). Returns (bytes written, bytes received, end) with end
    "eof", "reset" or "open"; a server that closes before taking all of
    |data| is not an error."""
    sock.setblocking(False)
    deadline = time.monotonic() + timeout
    view, written, received = memoryview(data), 0, []
    poller = select.poll()
    poller.register(sock, select.POLLIN | (select.POLLOUT if data else 0))
    while time.monotonic() < deadline:
        for _, events in poller.poll(max(1, int((deadline - time.monotonic()) * 1000))):
            if events & (select.POLLIN | select.POLLHUP | select.POLLERR):
                try:
                    chunk = sock.recv(1 << 16)
                except BlockingIOError:
                    chunk = None
                except ConnectionResetError:
                    return written, b"".join(received), "reset"
                if chunk == b"":
                    return written, b"".join(received), "eof"
                if chunk:
                    received.append(chunk)
                    if sum(map(len, received)) > limit:
                        return written, b"".join(received), "open"
            if events & select.POLLOUT and written < len(data):
                try:
                    written += sock.send(view[written:written + (1 << 18)])
                except BlockingIOError:
                    pass
                except (BrokenPipeError, ConnectionResetError):
                    poller.modify(sock, select.POLLIN)
                    data = data[:written]
                if written == len(data):
                    poller.modify(sock, select.POLLIN)
    return written, b"".join(received), "open"


def http_status(data):
    """The status of the first HTTP response in |data|, or None."""
    m = re.match(rb"HTTP/1\.[01] (\d{3}) ", data)
    return int(m.group(1)) if m else None


def ws_frames(data):
    """The server frames (unmasked, unfragmented) in |data|: a list of
    (opcode, payload), and whether |data| ends inside a frame."""
    frames, pos = [], 0
    while pos + 2 <= len(data):
        b0, b1 = data[pos], data[pos + 1]
        n, head = b1 & 0x7F, 2
        if n == 126:
            if pos + 4 > len(data):
                break
            n, head = struct.unpack_from("!H", data, pos + 2)[0], 4
        elif n == 127:
            if pos + 10 > len(data):
                break
            n, head = struct.unpack_from("!Q", data, pos + 2)[0], 10
        if pos + head + n > len(data):
            break
        frames.append((b0 & 0x0F, data[pos + head:pos + head + n]))
        pos += head + n
    return frames, pos != len(data)


def ws_close_code(payload):
    return struct.unpack("!H", payload[:2])[0] if len(payload) >= 2 else None


def pub_frames(data):
    """The publish-protocol frames in |data| (rcproto.Frame), and whether
    |data| ends inside a frame."""
    frames, pos = [], 0
    while pos + 4 <= len(data):
        (length,) = struct.unpack_from(">I", data, pos)
        if length < rp.MIN_LENGTH or pos + 4 + length > len(data):
            break
        _, ftype, flags, corr = rp.HEADER.unpack_from(data, pos)
        frames.append(rp.Frame(ftype, flags, corr, data[pos + rp.HEADER_LEN:pos + 4 + length]))
        pos += 4 + length
    return frames, pos != len(data)


ERROR_NAMES = {getattr(rp, name): name.lower() for name in (
    "BAD_FRAME", "UNSUPPORTED_VERSION", "UNAUTHORIZED", "FORBIDDEN", "TOO_LARGE", "BAD_TOPIC",
    "BAD_PAYLOAD", "OVERLOADED", "SHUTTING_DOWN", "BAD_REQUEST", "INTERNAL", "NOT_READY")}


def last_reply(replies, data):
    """What the last complete reply in |data| was, in words: "close 4001",
    "NACK bad_frame", "HTTP 408", "mid-frame" (the data stops inside a
    reply) or "" (nothing came)."""
    if not data:
        return ""
    if replies == "http":
        statuses = re.findall(rb"HTTP/1\.1 (\d{3}) ", data[-(1 << 16):])
        return "HTTP %s" % statuses[-1].decode() if statuses else "?"
    if replies == "ws":
        frames, cut = ws_frames(data)
        if cut:
            return "mid-frame"
        opcode, payload = frames[-1]
        return "close %s" % ws_close_code(payload) if opcode == Opcode.CLOSE else "op %d" % opcode
    frames, cut = pub_frames(data)
    if cut:
        return "mid-frame"
    f = frames[-1]
    if f.type in (rp.NACK, rp.GOAWAY):
        code = rp.decode_error(f.body).code
        return "%s %s" % ("NACK" if f.type == rp.NACK else "GOAWAY", ERROR_NAMES.get(code, code))
    return "type 0x%02x" % f.type


# ---- a well-behaved subscriber ----------------------------------------------

def percentile(values, q):
    """The |q| quantile (0..1) of sorted |values|, nearest rank."""
    if not values:
        return None
    return values[min(len(values) - 1, max(0, int(round(q * len(values) + 0.5)) - 1))]


class Watcher:
    """A subscriber that keeps up, and a publisher feeding it.

    One WebSocket subscriber (websocket-client) of |topic|, and one binary
    publisher that publishes to it |rate| times a second, open loop: each
    payload carries its scheduled send time (time.monotonic_ns(); publisher
    and subscriber are this process, one clock), so an event's delay is its
    receive time minus the time it was due, publisher lateness included.
    A thread reads every ACK. stop() stops publishing, waits (bounded) for
    the rest, and returns what was lost, duplicated or reordered, and the
    delays."""

    def __init__(self, target, topic="watch:events", rate=200, timeout=10):
        self.target, self.topic, self.rate, self.timeout = target, topic, rate, timeout
        self.sent = 0
        self.acked = []  # seqs
        self.nacks = []
        self.received = []  # (seq, due ns, received ns)
        self.errors = []
        self.stopping = threading.Event()
        self.closing = threading.Event()

    def start(self):
        self.ws = rp.subscribe(self.target, self.topic, timeout=self.timeout)
        self.pub, _ = rp.connect_ready(self.target, timeout=self.timeout)
        self.threads = [threading.Thread(target=f, daemon=True)
                        for f in (self._publish, self._read_acks, self._receive)]
        for t in self.threads:
            t.start()
        return self

    def _publish(self):
        period = 10 ** 9 // self.rate
        due = time.monotonic_ns()
        while not self.stopping.is_set():
            now = time.monotonic_ns()
            if now < due:
                self.stopping.wait((due - now) / 1e9)
                continue
            payload = b'{"t":%d,"i":%d}' % (due, self.sent + 1)
            try:
                self.pub.send(rp.publish(self.sent + 1, self.topic, payload,
                                         content_type="application/json"))
            except OSError as e:
                self.errors.append("publisher: %r" % e)
                return
            self.sent += 1
            due += period

    def _read_acks(self):
        sock, buf = self.pub.sock, b""
        sock.settimeout(0.2)
        while not self.closing.is_set():
            try:
                chunk = sock.recv(65536)
            except socket.timeout:
                continue
            except OSError as e:
                self.errors.append("publisher: %r" % e)
                return
            if not chunk:
                self.errors.append("publisher: the server closed the connection")
                return
            buf += chunk
            frames, _ = pub_frames(buf)
            buf = buf[sum(4 + rp.MIN_LENGTH + len(f.body) for f in frames):]
            for f in frames:
                if f.type == rp.ACK:
                    self.acked.append(rp.decode_ack(f.body).seq)
                else:
                    self.nacks.append(rp.describe(f))

    def _receive(self):
        self.ws.settimeout(0.2)
        while not self.closing.is_set():
            try:
                text = self.ws.recv()
            except websocket.WebSocketTimeoutException:
                continue
            except (websocket.WebSocketException, OSError) as e:
                self.errors.append("subscriber: %r" % e)
                return
            now = time.monotonic_ns()
            event = json.loads(text)
            self.received.append((event["seq"], event["data"]["t"], now))

    def stop(self, drain_s=30):
        """Stops publishing; waits up to |drain_s| for the ACKs and the
        events still due; closes both connections."""
        self.stopping.set()
        self.threads[0].join(5)
        deadline = time.monotonic() + drain_s
        while time.monotonic() < deadline and not self.errors and (
                len(self.acked) + len(self.nacks) < self.sent or
                len(self.received) < len(self.acked)):
            time.sleep(0.02)
        self.closing.set()
        for t in self.threads[1:]:
            t.join(5)
        self.ws.close()
        self.pub.close()

    def stats(self, since_ns=0, until_ns=1 << 63):
        """What the subscriber got: the whole run's losses, and the delays
        (ms) of the events due in [since_ns, until_ns]."""
        seqs = [s for s, _, _ in self.received]
        acked = set(self.acked)
        delays = sorted((r - d) / 1e6 for _, d, r in self.received if since_ns <= d <= until_ns)
        return {
            "published": self.sent, "acked": len(self.acked), "nacks": self.nacks[:5],
            "received": len(seqs), "lost": len(acked - set(seqs)),
            "duplicated": len(seqs) - len(set(seqs)),
            "reordered": sum(1 for a, b in zip(seqs, seqs[1:]) if b < a),
            "errors": self.errors, "samples": len(delays),
            "p50_ms": percentile(delays, 0.5), "p99_ms": percentile(delays, 0.99),
            "max_ms": delays[-1] if delays else None,
        }


def watch_problems(w, delay_bound_ms=None):
    """What went wrong for the watcher, given its stats() |w|, as a list of
    sentences: errors, events lost, duplicated or reordered, no event due
    during the case, and with |delay_bound_ms| an event later than that."""
    problems = []
    if w["errors"] or w["nacks"]:
        problems.append("errors %s, NACKs %s" % (w["errors"], w["nacks"]))
    if w["lost"] or w["duplicated"] or w["reordered"] or w["received"] != w["published"]:
        problems.append("published %(published)d, received %(received)d: lost %(lost)d, "
                        "duplicated %(duplicated)d, reordered %(reordered)d" % w)
    if not w["samples"]:
        problems.append("no event was due during the case")
    elif delay_bound_ms is not None and w["max_ms"] > delay_bound_ms:
        problems.append("an event took %.0f ms (bound %d ms)" % (w["max_ms"], delay_bound_ms))
    return problems


def warm_up(target, nbytes=40 * MIB, size=60000):
    """Runs |nbytes| through the server's receive path with next to no
    output ({"type":"ping"} messages padded to |size| bytes, each answered
    by a pong that is read), so that its receive buffers (--recv-buffers x
    --recv-buffer-size, touched only as they are used) and allocator are in
    the baseline RSS rather than in the growth a case is charged with."""
    if nbytes <= 0:
        return
    pad = b'{"type":"ping","pad":"' + b"w" * (size - 24) + b'"}'
    with RawWS(target.host, target.port, timeout=30) as raw:
        message = frame(Opcode.TEXT, pad)
        for _ in range(max(1, nbytes // size // 16)):
            raw.send(message * 16)
            for _ in range(16):
                assert raw.read_frame().data == b'{"type":"pong"}'


# ---- one case, watched ---------------------------------------------------------

class AttackerProcess:
    """Runs |run|(target) in a child process forked before the watcher's
    threads start, so that the attacker's own work (parsing 100,000 replies,
    say) never holds the watcher's interpreter lock: the watcher's delays are
    then the server's, not Python's. go() starts the attack; result() waits
    for its dict (or re-raises its error as a RuntimeError)."""

    def __init__(self, target, run):
        import multiprocessing
        ctx = multiprocessing.get_context("fork")
        self.parent, child = ctx.Pipe()
        self.proc = ctx.Process(target=self._child, args=(child, target, run), daemon=True)
        self.proc.start()
        child.close()

    @staticmethod
    def _child(conn, target, run):
        conn.recv()
        try:
            conn.send(("ok", run(target)))
        except Exception as e:  # handed to the parent, which raises it
            conn.send(("error", repr(e)))

    def go(self):
        self.parent.send("go")

    def result(self, timeout_s=600):
        if not self.parent.poll(timeout_s):
            self.proc.kill()
            raise RuntimeError("the attacker gave no result within %d s" % timeout_s)
        status, value = self.parent.recv()
        self.proc.join(10)
        if status != "ok":
            raise RuntimeError("the attacker failed: %s" % value)
        return value

    def cancel(self):
        if self.proc.is_alive():
            self.proc.kill()
        self.proc.join(10)


def run_case(target, run, rate=200, warm_bytes=40 * MIB, separate=False):
    """Runs |run|(target) -> {"written", "outcome", ...} between a Watcher's
    start and stop, after warm_up(), under an RssSampler. Returns that dict
    plus "rss_growth_kib" (peak during the case minus the RSS before it),
    "turns" (turn_stats() of the server's loop turns during the case),
    "watch" (Watcher.stats() of the events due during the case) and
    "healthz" (the status of a new GET /healthz afterwards). With
    |separate|, |run| runs in an AttackerProcess, so the watcher's delays
    measure the server only (bench/abuse's fairness figures)."""
    pid = target.proc.pid
    warm_up(target, warm_bytes)
    attacker = AttackerProcess(target, run) if separate else None
    watcher = Watcher(target, rate=rate).start()
    try:
        time.sleep(0.3)
        wait_idle(pid, 10)
        baseline = rss_kib(pid)
        turns_before = loop_turns(target)
        sampler = RssSampler(pid)
        since = time.monotonic_ns()
        try:
            if attacker:
                attacker.go()
                result = attacker.result()
            else:
                result = run(target)
            # A quick case still spans a few of the watcher's events.
            time.sleep(max(0, since / 1e9 + 0.25 - time.monotonic()))
        finally:
            until = time.monotonic_ns()
            peak = sampler.stop()
            turns = turn_stats(turns_before, loop_turns(target))
    finally:
        watcher.stop()
        if attacker:
            attacker.cancel()
    result.update(rss_growth_kib=peak - baseline, rss_baseline_kib=baseline,
                  watch=watcher.stats(since, until), healthz=healthz(target), turns=turns)
    return result


def format_row(name, r):
    w, t = r["watch"], r.get("turns") or {}
    ms = lambda v: "-" if v is None else "%.1f" % v
    turns = "-" if t.get("turns") is None else "%d/%d/%d" % (t["turns"], t["over_1ms"],
                                                             t["over_5ms"])
    return "%-26s %10s %10s %8s %8s %8s %16s %8s  %s" % (
        name, human(r["written"]) if r["written"] >= 1024 else r["written"],
        "%+.1fM" % (r["rss_growth_kib"] / 1024), ms(w["p50_ms"]), ms(w["p99_ms"]),
        ms(w["max_ms"]), turns, ms(t.get("longest_ms")),
        r["outcome"] + ("" if w["lost"] == 0 else "; watcher lost %d" % w["lost"]))


TABLE_HEAD = "%-26s %10s %10s %8s %8s %8s %16s %8s  %s" % (
    "case", "written", "RSS grew", "p50 ms", "p99 ms", "max ms", "turns/>1ms/>5ms",
    "turn<=ms", "outcome")


def human(n):
    for unit, size in (("G", 1 << 30), ("M", 1 << 20), ("K", 1 << 10)):
        if n >= size:
            return "%.1f%s" % (n / size, unit)
    return str(n)
