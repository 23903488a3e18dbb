"""Fan-out at scale, received by a WebSocket client we did not write: the npm
package ws, driven by node/subscribers.mjs (see its header for its options
and output).

NodeSubscribers, below, is also used by test_slow_consumer.py."""

import collections
import re
import shutil
import time

import pytest

import tlscerts
from conftest import acked_by_topic, publish, publish_concurrently
from nodehelpers import NodeScript, event_digest

CLOSED = re.compile(r"\[shard (\d+)\] connection \d+ closed$")
TIMESTAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$")


class NodeSubscribers(NodeScript):
    """node subscribers.mjs in a child process (see nodehelpers.NodeScript)."""

    def __init__(self, url, connections=1, topics=None, topic_count=None, topic_pattern=None,
                 expect=0, timeout_ms=60000, connect_timeout_ms=60000, print_events=False,
                 hold=False):
        args = ["--url", url, "--connections", str(connections),
                "--expect", str(expect), "--timeout-ms", str(timeout_ms),
                "--connect-timeout-ms", str(connect_timeout_ms)]
        if topics is not None:
            args += ["--topics", ",".join(topics)]
        if topic_count is not None:
            args += ["--topic-count", str(topic_count)]
        if topic_pattern is not None:
            args += ["--topic-pattern", topic_pattern]
        if print_events:
            args.append("--print-events")
        if hold:
            args.append("--hold")
        super().__init__("subscribers.mjs", args)

    def wait_ready(self, timeout):
        """Waits until every connection is subscribed; returns the ready line."""
        line = self.next_line(timeout)
        assert "ready" in line, line
        return line

    def wait_summary(self, timeout):
        """Returns (summary, events): the summary line, and the events printed
        before it (with print_events) as (connection, event) pairs."""
        events = []
        deadline = time.time() + timeout
        while True:
            line = self.next_line(max(0.1, deadline - time.time()))
            if "connections" in line:
                return line, events
            events.append((line["conn"], line["event"]))


def wait_until(predicate, timeout, what):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if predicate():
            return
        time.sleep(0.05)
    raise AssertionError("timed out after %ss waiting for %s" % (timeout, what))


def closed_lines(server):
    """The shard id of every "connection N closed" log line, in log order."""
    return [int(m.group(1)) for m in map(CLOSED.search, server.log().splitlines()) if m]


SHARDS = 4
SUBSCRIBERS = 1000
TOPICS = ["fanout.%d" % k for k in range(10)]
PUBLISHERS = 4
EVENTS_PER_PUBLISHER = 2500
PER_TOPIC = PUBLISHERS * EVENTS_PER_PUBLISHER // len(TOPICS)  # 1,000


def publisher_events(p):
    """Publisher p's events: spread round-robin over the topics."""
    return [{"topic": TOPICS[j % len(TOPICS)], "event_type": "fanout.test", "data": {"p": p, "j": j}}
            for j in range(EVENTS_PER_PUBLISHER)]


@pytest.fixture(scope="module")
def ca():
    authority = tlscerts.CertAuthority()
    yield authority
    shutil.rmtree(authority.dir, ignore_errors=True)


@pytest.mark.parametrize("transport", ["plain", "tls"])
def test_fanout_4_shards_1000_subscribers(start_server, transport, ca, monkeypatch):
    """Over ws:// and over wss:// (each connection's frames sealed by its
    own TLS session)."""
    start = time.time()
    if transport == "tls":
        monkeypatch.setenv("NODE_EXTRA_CA_CERTS", ca.ca_pem)
        server = tlscerts.TlsView(start_server(*tlscerts.server_flags(ca), shards=SHARDS), ca)
    else:
        server = start_server(shards=SHARDS)
    with NodeSubscribers(server.ws_url, connections=SUBSCRIBERS, topics=TOPICS,
                         expect=PER_TOPIC, timeout_ms=150000, connect_timeout_ms=90000,
                         hold=True) as subs:
        ready = subs.wait_ready(timeout=120)
        assert ready["ready"] == SUBSCRIBERS and ready["failed"] == 0, ready
        t_ready = time.time()

        batches = [publisher_events(p) for p in range(PUBLISHERS)]
        outputs = publish_concurrently(server, batches)
        t_published = time.time()
        published = acked_by_topic(batches, outputs, TOPICS, PER_TOPIC)

        summary, _ = subs.wait_summary(timeout=180)
        t_received = time.time()
        problems = summary.pop("problems")
        digests = summary.pop("digests")
        assert summary["outcome"] == "done", (summary, problems)
        assert summary["connections"] == SUBSCRIBERS
        assert summary["complete"] == SUBSCRIBERS, (summary, problems)
        assert summary["events"] == SUBSCRIBERS * PER_TOPIC, (summary, problems)
        for counter in ("duplicates", "gaps", "out_of_order", "wrong_topic", "unexpected_seq",
                        "bad_messages", "errors", "closed_early"):
            assert summary[counter] == 0, (counter, summary, problems)
        # Every subscriber of a topic got the same events (seq, type, data),
        # in seq order, and they are the ones the publishers were ACKed for.
        per_topic = SUBSCRIBERS // len(TOPICS)
        for topic in TOPICS:
            assert digests[topic] == {event_digest(published[topic]): per_topic}, topic

        # The connections were spread over all shards: each shard logs
        # "[shard N] connection M closed" (debug) when it releases one. The
        # publishers' connections are the only ones closed before the
        # subscribers disconnect; wait for their lines, then count the lines
        # the subscribers' closes add.
        wait_until(lambda: len(closed_lines(server)) >= PUBLISHERS, 30, "the publishers' closes")
        before = len(closed_lines(server))
        assert before == PUBLISHERS, "connections closed before the subscribers left: %d" % before
        closed = subs.finish(timeout=60)
        assert closed == {"closed": SUBSCRIBERS, "close_codes": {"1000": SUBSCRIBERS}}, closed
        wait_until(lambda: len(closed_lines(server)) >= before + SUBSCRIBERS, 60,
                   "the subscribers' closes in the log")
        per_shard = collections.Counter(closed_lines(server)[before:])
        assert sum(per_shard.values()) == SUBSCRIBERS, per_shard
        assert sorted(per_shard) == list(range(SHARDS)), "subscribers per shard: %s" % per_shard
    t_closed = time.time()
    print("\nfan-out (%s): connect+subscribe %.1fs, publish %.1fs (10,000 events), "
          "all 1,000,000 received %.1fs after ready, close %.1fs; total %.1fs; per shard %s" % (
              transport, t_ready - start, t_published - t_ready, t_received - t_ready,
              t_closed - t_received, t_closed - start, dict(sorted(per_shard.items()))))


def test_node_ws_basic(start_server):
    server = start_server()
    with NodeSubscribers(server.ws_url, topics=["basic:1"], expect=3, timeout_ms=20000,
                         print_events=True) as subs:
        ready = subs.wait_ready(timeout=20)
        assert ready["ready"] == 1 and ready["failed"] == 0, ready
        seqs = [publish(server, "basic:1", {"n": 1, "s": "é\"x"}, event_type="job.done"),
                publish(server, "basic:1", "plain text", content_type="text/plain"),
                publish(server, "basic:1", [1, 2.5, None, True], msg_id="m3")]
        assert seqs == [1, 2, 3]
        summary, events = subs.wait_summary(timeout=30)
        assert summary["complete"] == 1 and summary["events"] == 3, summary
        got = [(conn, {k: v for k, v in event.items() if k != "timestamp"})
               for conn, event in events]
        assert got == [
            (0, {"event_type": "job.done", "topic": "basic:1", "seq": 1, "data": {"n": 1, "s": "é\"x"}}),
            (0, {"event_type": "message", "topic": "basic:1", "seq": 2, "data": "plain text"}),
            (0, {"event_type": "message", "topic": "basic:1", "seq": 3, "data": [1, 2.5, None, True]}),
        ]
        for _, event in events:
            assert list(event) == ["event_type", "timestamp", "topic", "seq", "data"], event
            assert TIMESTAMP.match(event["timestamp"]), event["timestamp"]
        assert subs.finish() == {"closed": 1, "close_codes": {"1000": 1}}
