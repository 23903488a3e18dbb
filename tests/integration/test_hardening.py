"""Hardening (issue 13): attacks on one shard (--shards 1) of the ASan
server, with a well-behaved subscriber of the same server watching
(abuse.Watcher: events published at a steady rate, each carrying its send
time). The cases, and bench/abuse that runs them in full size, share
tests/integration/abuse.py (the harness) and attacks.py.

- Unread replies: for every kind of request that gets a reply, one client
  writes UNREAD_BYTES of them and reads nothing. Output for one connection
  counts against one bound (--max-queued-bytes), past it the server stops
  reading from it, and after a timeout closes it: so the server's RSS may
  grow by that bound plus abuse.RSS_SLACK_KIB at most, and the watcher
  keeps getting every event.
- Slow readers and malformed input: answered as documented
  (docs/close-codes.md, docs/protocol/*.md), the server stays healthy.
- A burst of subscribes in one write: every one answered, in order, and
  the watcher loses nothing meanwhile.

Delays are printed, and bounded only loosely (DELAY_BOUND_MS: the watcher
keeps receiving); the p99 goal (5 ms, release build) belongs to bench/abuse.
Sizes: RINGCAST_HARDENING_UNREAD_MIB (default 12) and
RINGCAST_HARDENING_BURST (default 20000)."""

import json
import os
import re
import time

import pytest

import abuse
import attacks
import rcproto as rp

# 12 MiB: enough for the kinds with the smallest replies (an ACK of 19
# bytes for a PUBLISH of 23) to pass the bound clearly when nothing bounds
# them (8 MiB of ACKed publishes grew the ASan server by 17 MiB, the bound).
UNREAD_BYTES = int(float(os.environ.get("RINGCAST_HARDENING_UNREAD_MIB", "12")) * abuse.MIB)
BURST = int(os.environ.get("RINGCAST_HARDENING_BURST", "20000"))
QUEUE_KIB = 1024  # --max-queued-bytes
# The ASan server's own growth while it serves up to the pause: the slack of
# abuse.RSS_SLACK_KIB (16 MiB) plus 4 MiB since every exact subscribe asks
# its topic's home for its position (history): subscribes up to the limit
# then grew it by up to 17,424 KiB (1 run in 4 over 16 MiB + 1 MiB). Without
# the output bound, 32 MiB of unread subscribes grew it by 203 MiB (issue
# 13): about 75 MiB for these 12, far past this.
RSS_BOUND_KIB = QUEUE_KIB + abuse.RSS_SLACK_KIB + 4 * 1024
DELAY_BOUND_MS = 5000


def start(start_server, *flags):
    return start_server("--max-queued-bytes", "%dK" % QUEUE_KIB, *flags, shards=1)


def watcher_problems(r):
    return abuse.watch_problems(r["watch"], DELAY_BOUND_MS)


def report(name, r):
    print("\n" + abuse.TABLE_HEAD + "\n" + abuse.format_row(name, r))


@pytest.mark.parametrize("kind", list(attacks.UNREAD))
def test_unread_replies_keep_memory_bounded(start_server, small_asan_quarantine, kind):
    server = start(start_server, *attacks.UNREAD[kind].flags)
    r = abuse.run_case(server, lambda t: attacks.run_unread(t, kind, UNREAD_BYTES))
    report(kind, r)
    problems = watcher_problems(r)
    if r["rss_growth_kib"] > RSS_BOUND_KIB:
        problems.insert(0, "RSS grew by %d KiB for %d bytes written and left unread (bound "
                        "%d KiB: --max-queued-bytes + %d KiB)" % (
                            r["rss_growth_kib"], r["written"], RSS_BOUND_KIB,
                            RSS_BOUND_KIB - QUEUE_KIB))
    if r["healthz"] != 200:
        problems.append("GET /healthz afterwards: %s" % r["healthz"])
    assert not problems, "%s (%s):\n  %s" % (kind, r["outcome"], "\n  ".join(problems))


@pytest.mark.parametrize("case", attacks.SLOW, ids=[c.name for c in attacks.SLOW])
def test_slow_readers_are_answered_as_documented(start_server, case):
    server = start(start_server, *case.flags)
    r = abuse.run_case(server, lambda t: case.run(t, case.ci), warm_bytes=0)
    report(case.name, r)
    assert re.fullmatch(case.expect, r["outcome"]), "%s, documented: %s" % (r, case.expect)
    assert r["healthz"] == 200, r
    assert not watcher_problems(r), watcher_problems(r)


def test_subscribe_burst_starves_nobody(start_server):
    """BURST subscribes in one write, each answered; the watcher, on the same
    shard, meanwhile gets every event (the delays are printed)."""
    server = start(start_server, *attacks.burst_flags(BURST))
    r = abuse.run_case(server, lambda t: attacks.subscribe_burst(t, BURST), warm_bytes=0)
    report("subscribe-burst-%d" % BURST, r)
    assert r["replies"] == BURST and not r["wrong"], r["outcome"]
    assert r["healthz"] == 200, r
    assert not watcher_problems(r), watcher_problems(r)


def subscriptions_gauge(server):
    text = abuse.http_get(server, b"/metrics").decode("latin-1")
    return int(re.search(r"^ringcast_subscriptions (\d+)$", text, re.M).group(1))


def test_close_with_many_subscriptions_leaves_the_index(start_server):
    """A connection holding 10,000 subscriptions closes: it leaves the index
    a batch per loop turn (conn.c, LEAVE_BATCH), all of it in the end (the
    gauge returns to 0, ASan sees nothing leak), receives nothing meanwhile,
    and the topics it held work for a new subscriber afterwards."""
    n = 10000
    server = start(start_server, *attacks.burst_flags(n))
    r = attacks.subscribe_burst(server, n)  # subscribes, reads every reply, closes
    assert r["replies"] == n and not r["wrong"], r["outcome"]
    deadline = time.monotonic() + 10
    while subscriptions_gauge(server) != 0:
        assert time.monotonic() < deadline, "subscriptions left: %d" % subscriptions_gauge(server)
        time.sleep(0.05)
    ws = rp.subscribe(server, "burst:%d" % (n - 1))
    try:
        pub, _ = rp.connect_ready(server)
        pub.send(rp.publish(1, "burst:%d" % (n - 1), b'{"after":"close"}',
                            content_type="application/json"))
        event = json.loads(ws.recv())
        assert event["topic"] == "burst:%d" % (n - 1) and event["data"] == {"after": "close"}
        pub.close()
    finally:
        ws.close()
