"""The Node clients of the integration tests (tests/integration/node/*.mjs)
run as child processes: NodeScript starts one and reads its standard output,
one JSON object per line, in a thread; every wait is bounded.

event_digest() is what subscribers.mjs and pattern_subscribers.mjs hash for
the events a connection received, computed here from what was published."""

import hashlib
import json
import os
import queue
import subprocess
import threading

from conftest import NODE_DIR


def require_packages(*packages):
    """Fails unless the npm |packages| are installed in NODE_DIR."""
    for package in packages:
        assert os.path.isdir(os.path.join(NODE_DIR, "node_modules", package)), \
            "the npm package %s is missing: run `npm ci` in %s (configure.py --install-deps)" % (
                package, NODE_DIR)


class NodeScript:
    """node NODE_DIR/|script| |args| in a child process. Its output lines go
    through on_line(), which by default queues them for next_line(); its
    standard error is collected. Use it as a context manager: the process is
    killed if the test fails before it ended."""

    def __init__(self, script, args, packages=("ws",)):
        require_packages(*packages)
        self.name = script
        self.proc = subprocess.Popen(["node", os.path.join(NODE_DIR, script)] + list(args),
                                     cwd=NODE_DIR, stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.out = queue.Queue()
        self.stderr = []
        self._threads = [threading.Thread(target=self._read_stdout, daemon=True),
                         threading.Thread(target=lambda: self.stderr.extend(self.proc.stderr),
                                          daemon=True)]
        for thread in self._threads:
            thread.start()

    def _read_stdout(self):
        for line in self.proc.stdout:
            self.on_line(json.loads(line))
        self.out.put(None)  # end of output

    def on_line(self, line):
        """One parsed output line; subclasses may handle it themselves."""
        self.out.put(line)

    def stderr_tail(self, size=4000):
        return "".join(self.stderr)[-size:]

    def next_line(self, timeout):
        """The next output line, within |timeout| seconds; fails when the
        script is silent that long or ended."""
        try:
            line = self.out.get(timeout=timeout)
        except queue.Empty:
            raise AssertionError("%s printed nothing for %ss; stderr:\n%s" %
                                 (self.name, timeout, self.stderr_tail()))
        assert line is not None, "%s ended early (exit %s); stderr:\n%s" % (
            self.name, self.proc.wait(5), self.stderr_tail())
        return line

    def finish(self, timeout=30):
        """Lets a script that holds its connections close them (by closing
        its standard input) and waits for it; returns the final "closed"
        line."""
        self.proc.stdin.close()
        line = self.next_line(timeout)
        assert "closed" in line, line
        assert self.proc.wait(timeout) == 0, self.stderr_tail()
        return line

    def close(self, timeout=10):
        """Closes its standard input (the scripts that run until then end),
        waits |timeout| seconds for it to exit, kills it after that; returns
        its standard error."""
        if self.proc.poll() is None:
            try:
                self.proc.stdin.close()
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.kill()
        for thread in self._threads:
            thread.join(5)
        return "".join(self.stderr)

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.kill()


def event_digest(events):
    """The sha256 a subscriber script computes over the events it received:
    "seq event_type data\\n" per (seq, event_type, data) of |events|, in
    order, data serialized compactly as JSON.stringify does."""
    h = hashlib.sha256()
    for seq, event_type, data in events:
        h.update(("%d %s %s\n" % (seq, event_type, json.dumps(data, separators=(",", ":"),
                                                                ensure_ascii=False))).encode())
    return h.hexdigest()
