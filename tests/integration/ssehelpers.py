"""A real Server-Sent Events subscriber for the integration tests: `curl -N`
in a subprocess, whose output a thread splits into records the way
EventSource does (lines end at CRLF, LF or CR; fields up to a blank line;
several data: lines joined with "\\n"; comment lines ignored)."""

import os
import queue
import subprocess
import threading
import time
import urllib.parse


def sse_query(topics, token=None, safe=None, events=None):
    """The query of /v1/sse: a topic= parameter per item of |topics| (each a
    subscription or a comma-separated list of them), then token= when
    |token| is given, and events= (named, unnamed) when |events| is. By default the values are form-encoded; with |safe|,
    percent-encoded the way a browser writes them, the characters of |safe|
    as they are."""
    query = [("topic", t) for t in topics]
    if token is not None:
        query.append(("token", token))
    if events is not None:
        query.append(("events", events))
    if safe is None:
        return urllib.parse.urlencode(query)
    return urllib.parse.urlencode(query, safe=safe, quote_via=urllib.parse.quote)


class SSEClient:
    """curl -sN -i on /v1/sse?topic=...; records() come out of a queue.

    Optional: |token| (sent as ?token=), |headers| (extra request headers,
    {name: value}), |base_url| (instead of server.http_url), |safe| and
    |events| (see sse_query()), |curl_args| (more curl options: --cacert)."""

    def __init__(self, server, *topics, max_time=120, connect_timeout=10, token=None,
                 headers=None, base_url=None, safe=None, events=None, curl_args=()):
        self.url = "%s/v1/sse?%s" % (base_url or server.http_url,
                                     sse_query(topics, token, safe, events))
        cmd = ["curl", "-sN", "-i", "--max-time", str(max_time), "-H", "Accept: text/event-stream"]
        cmd += list(curl_args)
        for name, value in (headers or {}).items():
            cmd += ["-H", "%s: %s" % (name, value)]
        self.proc = subprocess.Popen(cmd + [self.url], stdout=subprocess.PIPE,
                                     stderr=subprocess.DEVNULL)
        self.status = None
        self.headers = {}
        self.retry = None
        self.comments = []
        self._records = queue.Queue()
        self._ready = threading.Event()
        self._ended = threading.Event()
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()
        if not self._ready.wait(connect_timeout):
            self.close()
            raise AssertionError("SSE stream %s: no retry: line within %ss" %
                                 (self.url, connect_timeout))
        assert self.status == 200, "SSE stream %s answered %r" % (self.url, self.status)

    def _lines(self):
        """The stream's lines, split as the SSE spec says: at CRLF, LF or a
        lone CR (which the server uses for payloads with CR line breaks)."""
        fd = self.proc.stdout.fileno()
        buf = b""
        eof = False
        while not eof:
            chunk = os.read(fd, 65536)
            eof = not chunk
            buf += chunk
            while True:
                cr, lf = buf.find(b"\r"), buf.find(b"\n")
                ends = [i for i in (cr, lf) if i >= 0]
                if not ends:
                    break
                end = min(ends)
                if end == cr and end + 1 == len(buf) and not eof:
                    break  # a CR at the end: is it a CRLF? wait for the next byte
                size = 2 if buf[end:end + 2] == b"\r\n" else 1
                yield buf[:end]
                buf = buf[end + size:]
        if buf:
            yield buf  # an unterminated last line (the stream was cut)

    def _read(self):
        lines = self._lines()
        try:
            # The response head (curl -i): the status line and headers.
            line = next(lines, None)
            if line is not None:
                self.status = int(line.split()[1])
            for line in lines:
                if line == b"":
                    break
                name, _, value = line.decode("latin-1").partition(":")
                self.headers[name.strip().lower()] = value.strip()
            if self.status != 200:
                return
            fields = {}
            data = []
            for line in lines:
                text = line.decode("utf-8")
                if text == "":
                    if data:
                        fields["data"] = "\n".join(data)
                        self._records.put(fields)
                    fields, data = {}, []
                    continue
                if text.startswith(":"):
                    self.comments.append(text)
                    continue
                name, sep, value = text.partition(":")
                if sep and value.startswith(" "):
                    value = value[1:]
                if name == "data":
                    data.append(value)
                elif name == "retry":
                    self.retry = int(value)
                    self._ready.set()  # the head and retry: line are out: subscribed
                else:
                    fields[name] = value
        finally:
            self._ready.set()
            self._ended.set()

    def record(self, timeout=15):
        """The next record (a dict of id, event, data), within |timeout|."""
        try:
            return self._records.get(timeout=timeout)
        except queue.Empty:
            raise AssertionError("SSE stream %s: no record within %ss" % (self.url, timeout))

    def nothing_pending(self, wait=0.0):
        """True when no record arrives within |wait| seconds."""
        try:
            rec = self._records.get(timeout=wait) if wait else self._records.get_nowait()
        except queue.Empty:
            return True
        self._records.queue.appendleft(rec)
        return False

    def ended(self, timeout):
        """True once the stream has ended (within |timeout| seconds)."""
        return self._ended.wait(timeout)

    def close(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._thread.join(5)
        self.proc.stdout.close()


def wait_until(predicate, timeout=10, interval=0.02):
    """Polls |predicate| until it is true or |timeout| passes; returns its last value."""
    deadline = time.time() + timeout
    while True:
        value = predicate()
        if value or time.time() >= deadline:
            return value
        time.sleep(interval)
