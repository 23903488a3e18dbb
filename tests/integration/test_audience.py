"""Audience filtering: an event published with an audience reaches only the
connections whose token matches it.

The rules, as this file models them (allows() below; docs/protocol/publish.md
extension 0x01, src/pubsub/audience.h):

- an event without an audience goes to every subscriber the token permits;
- an audience {"tenant":T,"orgs":[…],"users":[…],"roles":[…]} reaches a
  connection only when T equals the token's "tenant"; when orgs are given,
  the token's "org" (or one of its "orgs") is among them; when users are
  given, its "sub" is among them; when roles are given, one of its "roles"
  is among them. An audience without a tenant (absent, null or "") reaches
  no one, and neither does any audience reach a connection without a token
  (open mode). A list that is null or empty ([]) counts as not given (the
  server's reading: src/pubsub/audience.c restricts only on a non-empty list);
- with --audience-from-payload and no explicit audience, the audience is the
  payload's top-level tenantId, organizationId/organizationIds,
  recipientUserId(s), recipientRoleId(s): strings only, trimmed of spaces,
  tabs, CR and LF, blank ones ignored, the singular and the plural form
  together (payload_audience() below). A payload that is not an object, or
  has no usable tenantId, reaches no one. An explicit audience wins over the
  payload.

Every test computes, from those rules, exactly which connections are entitled
to every event and asserts that each connection received exactly that set,
each event once, with the seq its publisher was given, in seq order per
topic, and with its `data` byte-identical to what was published. Clients:
websocket-client (Python), curl -N (ssehelpers.SSEClient with a token), and
in node/audience_clients.mjs the npm packages eventsource (SSE) and ws.

Completion without sleeping: after the events, "fence" events are published
on every topic; events of a topic arrive in seq order, so a connection that
has its fences has everything published before them. Connections entitled to
no fence at all get a WebSocket ping (or a short quiet period) instead.

Randomized tests print their seed on failure; AUDIENCE_SEED=N replays one."""

import http.client
import json
import os
import queue
import random
import re
import struct
import subprocess
import threading
import time
import urllib.parse
import zlib
from collections import Counter
from dataclasses import dataclass

import pytest
import websocket
from prometheus_client.parser import text_string_to_metric_families

import rcproto
from conftest import binary
from nodehelpers import NodeScript
from ssehelpers import SSEClient, sse_query
from rcproto import without_positions

WAIT = 60          # seconds allowed for a whole delivery to complete
STEP = 15          # seconds allowed for any single step (connect, reply, publish)
QUIET = 0.3        # seconds a connection entitled to nothing is watched
TOPICS = ["aud.0", "aud.1", "aud.2", "aud.3", "tenant:feed:a", "tenant:feed:b"]
WS_KEYS = {"event_type", "timestamp", "topic", "seq", "data"}
TRIM = " \t\r\n"   # what the payload form trims around ids (src/pubsub/audience.c)


def new_seed():
    """A fresh seed for a randomized test, or AUDIENCE_SEED to replay one."""
    env = os.environ.get("AUDIENCE_SEED")
    return int(env) if env else random.SystemRandom().randrange(1 << 31)


# --- topics -------------------------------------------------------------------

def matches(subscription, topic):
    """Whether |topic| is one of |subscription|'s (docs/protocol/websocket.md)."""
    if subscription == "*":
        return True
    regex = "".join({"*": r"[^:.]+", ">": r".+"}.get(piece, re.escape(piece))
                    for piece in re.split(r"([:.])", subscription))
    return re.fullmatch(regex, topic) is not None


# --- who holds which token ------------------------------------------------------

@dataclass(frozen=True)
class Who:
    """A subscriber: its client kind, its token's claims, its subscriptions.
    kind: py-ws, py-ws-bearer (token in Authorization), curl-sse,
    curl-sse-bearer, node-sse, node-ws."""
    name: str
    kind: str
    tenant: str = None
    orgs: tuple = ()
    sub: str = None
    roles: tuple = ()
    topics: tuple = ("*",)
    subscribe: tuple = ("*",)   # the token's subscribe claim
    orgs_array: bool = False    # a one-element "orgs" array instead of "org"

    def describe(self):
        return "%s[%s tenant=%s orgs=%s sub=%s roles=%s topics=%s]" % (
            self.name, self.kind, self.tenant, list(self.orgs), self.sub, list(self.roles),
            list(self.topics))


# The claim combinations of the randomized tests: 2 tenants (and a tenantless
# token), orgs o1/o2 as "org", as "orgs" and absent, users u1-u3 and no sub,
# roles r1-r3 and none; overlapping subscriptions; one token whose subscribe
# claim is a single topic.
MIXED = [
    Who("a", "py-ws", "t1", ("o1",), "u1", ("r1",)),
    Who("b", "node-sse", "t1", ("o2",), "u2", ("r2", "r3")),
    Who("c", "curl-sse", "t1", ("o1", "o2"), "u3", ("r1", "r3"),
        topics=("aud.>", "tenant:feed:*", "aud.3")),
    Who("d", "py-ws-bearer", "t1", (), "u1", ("r2",), topics=("*", "aud.*", "aud.2")),
    Who("e", "node-ws", "t1", ("o1",), "u2", ()),
    Who("f", "py-ws", "t2", ("o1",), "u1", ("r1",)),
    Who("g", "node-sse", "t2", ("o1", "o2"), "u2", ("r1", "r2", "r3")),
    Who("h", "curl-sse-bearer", "t2", ("o2",), "u3", ("r3",)),
    Who("i", "py-ws", "t2", (), None, ()),
    Who("j", "node-sse", None, ("o1",), "u1", ("r1",)),
    Who("k", "py-ws", "t1", ("o1",), None, ("r1",)),
    Who("l", "node-ws", "t2", ("o2",), "u1", ("r2",), topics=("aud.*", "tenant:>")),
    Who("m", "curl-sse", "t1", ("o2",), "u3", ("r1",)),
    Who("n", "py-ws", "t1", ("o2",), "u1", ("r3",), orgs_array=True),
    Who("o", "py-ws", "t1", ("o1",), "u2", ("r2",), topics=("aud.1",), subscribe=("aud.1",)),
    Who("p", "node-sse", "t2", ("o1",), "u3", ("r1", "r2"), topics=("tenant:>",)),
    Who("q", "py-ws", None, (), None, ()),
]


class Auth:
    """A secret file, and tokens minted from it with ringcast-token."""

    def __init__(self, tmp_path):
        self.dir = tmp_path
        self.secret_file = str(tmp_path / "secret")
        with open(self.secret_file, "w") as f:
            f.write(os.urandom(48).hex())
        self.publisher = self.mint(sub="publisher", subscribe=(), publish=("*",))
        self.publisher_file = str(tmp_path / "publisher.token")
        with open(self.publisher_file, "w") as f:
            f.write(self.publisher + "\n")

    def mint(self, sub=None, tenant=None, orgs=(), roles=(), subscribe=("*",), publish=(),
             orgs_array=False):
        cmd = [binary("ringcast-token"), "--secret-file", self.secret_file, "--ttl", "1h"]
        if sub is not None:
            cmd += ["--sub", sub]
        if tenant is not None:
            cmd += ["--tenant", tenant]
        if orgs_array:
            cmd += ["--claims", json.dumps({"orgs": list(orgs)})]
        else:
            for o in orgs:
                cmd += ["--org", o]
        for r in roles:
            cmd += ["--role", r]
        for s in subscribe:
            cmd += ["--subscribe", s]
        for s in publish:
            cmd += ["--publish", s]
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=STEP)
        assert p.returncode == 0, "ringcast-token %s: %s" % (cmd, p.stderr)
        return p.stdout.strip()

    def token_for(self, who):
        return self.mint(sub=who.sub, tenant=who.tenant, orgs=who.orgs, roles=who.roles,
                         subscribe=who.subscribe, orgs_array=who.orgs_array)

    def flags(self):
        return ("--auth-secret-file", self.secret_file)


# --- the model ------------------------------------------------------------------

def norm_explicit(aud):
    """The explicit audience object |aud| (as published) in the model's form."""
    tenant = aud.get("tenant")
    return {"tenant": tenant if isinstance(tenant, str) else None,
            "orgs": list(aud.get("orgs") or []),
            "users": list(aud.get("users") or []),
            "roles": list(aud.get("roles") or [])}


def payload_audience(payload):
    """The audience --audience-from-payload takes from the JSON value |payload|."""
    aud = {"tenant": None, "orgs": [], "users": [], "roles": []}
    if not isinstance(payload, dict):
        return aud

    def ids(value):
        if isinstance(value, str):
            value = [value]
        elif not isinstance(value, list):
            return []
        return [v.strip(TRIM) for v in value if isinstance(v, str) and v.strip(TRIM)]

    tenant = payload.get("tenantId")
    if isinstance(tenant, str) and tenant.strip(TRIM):
        aud["tenant"] = tenant.strip(TRIM)
    for key, one, many in (("orgs", "organizationId", "organizationIds"),
                           ("users", "recipientUserId", "recipientUserIds"),
                           ("roles", "recipientRoleId", "recipientRoleIds")):
        if isinstance(payload.get(one), str):
            aud[key] += ids(payload[one])
        if isinstance(payload.get(many), list):
            aud[key] += ids(payload[many])
    return aud


def allows(aud, who, open_mode):
    """Whether a connection of |who| is entitled to an event of audience |aud|
    (model form; None: the event has no audience)."""
    if aud is None:
        return True
    if open_mode:
        return False
    if not aud["tenant"] or who.tenant != aud["tenant"]:
        return False
    if aud["orgs"] and not set(aud["orgs"]) & set(who.orgs):
        return False
    if aud["users"] and not (who.sub and who.sub in aud["users"]):
        return False
    if aud["roles"] and not set(aud["roles"]) & set(who.roles):
        return False
    return True


# --- events ---------------------------------------------------------------------

@dataclass
class Pub:
    uid: str
    topic: str
    data: str                # the payload, exactly as published
    audience: str = None     # the explicit audience's JSON text, None: none sent
    model: dict = None       # the audience the model applies, None: everyone
    route: str = "ndjson"    # ndjson, http, cli, http-raw
    content_type: str = "application/json"
    seq: int = None
    fence: bool = False


def uid_of(data):
    """The id embedded in a received event's data."""
    if isinstance(data, dict):
        return data.get("id")
    if isinstance(data, list) and data:
        return data[0]
    if isinstance(data, str) and data.startswith("{"):  # a text payload that looks like JSON
        try:
            return json.loads(data).get("id")
        except ValueError:
            pass
    return data


def json_object_text(items):
    """{items} with each member written by json.dumps, in the given order."""
    return "{" + ",".join(json.dumps(k) + ":" + json.dumps(v) for k, v in items) + "}"


def random_explicit_audience(rng):
    """(audience JSON text or None, model form or None)."""
    if rng.random() < 0.12:
        return None, None
    items = []
    r = rng.random()
    if r < 0.40:
        items.append(("tenant", "t1"))
    elif r < 0.80:
        items.append(("tenant", "t2"))
    elif r < 0.84:
        items.append(("tenant", "t3"))      # nobody's tenant
    elif r < 0.87:
        items.append(("tenant", "T1"))      # ids compare exactly
    elif r < 0.91:
        items.append(("tenant", ""))
    elif r < 0.95:
        items.append(("tenant", None))
    for key, pool in (("orgs", ["o1", "o2", "o3", ""]),
                      ("users", ["u1", "u2", "u3", "u4", ""]),
                      ("roles", ["r1", "r2", "r3", "r9"])):
        c = rng.random()
        if c < 0.35:
            continue
        if c < 0.45:
            items.append((key, []))
        elif c < 0.50:
            items.append((key, None))
        else:
            items.append((key, rng.sample(pool, rng.randint(1, len(pool)))))
    if rng.random() < 0.05:
        items.append(("note", {"tenant": "t1", "users": ["u1"]}))  # unknown: ignored
    rng.shuffle(items)
    return json_object_text(items), norm_explicit(dict(items))


def random_data(rng, uid, n, pretty=False):
    """A JSON payload text carrying |uid|, with varied spacing, escapes and
    numbers written in ways a re-serialization would change."""
    obj = {"id": uid, "n": n}
    r = rng.random()
    if r < 0.3:
        obj["msg"] = rng.choice(["h\u00e9llo \u2603", "tab\there \"quoted\"", "", "a\\b/c"])
    if r > 0.7:
        obj["nested"] = {"tenantId": "t1", "roles": ["r1"], "list": [1, 2, {"x": None}]}
    if pretty:
        text = json.dumps(obj, indent=1, ensure_ascii=False)
    else:
        text = json.dumps(obj, separators=rng.choice([(",", ":"), (", ", ": ")]),
                          ensure_ascii=rng.random() < 0.5)
    if rng.random() < 0.2:
        text = text[:-1] + ',"amount":12.50,"big":1e3}'
    return text


def random_explicit_events(rng, count, prefix, http_share=0.15):
    events = []
    for i in range(count):
        uid = "%s%05d" % (prefix, i)
        aud_text, model = random_explicit_audience(rng)
        route = "http" if rng.random() < http_share else "ndjson"
        data = random_data(rng, uid, i, pretty=route == "http" and rng.random() < 0.3)
        events.append(Pub(uid, rng.choice(TOPICS), data, aud_text, model, route))
    return events


# --- subscribers ----------------------------------------------------------------

class Sub:
    def __init__(self, who, open_mode):
        self.who = who
        self.open_mode = open_mode
        self.raws = []          # event JSON texts, in arrival order
        self.problems = []
        self.lock = threading.Lock()
        self.fences_seen = set()
        self.fences_needed = set()

    def permits(self, topic):
        return any(matches(t, topic) for t in self.who.topics)

    def entitled(self, pub):
        return self.permits(pub.topic) and allows(pub.model, self.who, self.open_mode)

    def take(self, raw):
        with self.lock:
            self.raws.append(raw)
            try:
                uid = uid_of(json.loads(raw).get("data"))
            except (ValueError, AttributeError):
                return
            if isinstance(uid, str) and uid.startswith("fence:"):
                self.fences_seen.add(uid)

    def done(self):
        with self.lock:
            return self.fences_needed <= self.fences_seen

    def close(self):
        pass


class PyWSSub(Sub):
    def start(self, server, token):
        url, header = server.ws_url, []
        if token and self.who.kind == "py-ws-bearer":
            header = ["Authorization: Bearer " + token]
        elif token:
            url += "?token=" + token
        self.ws = websocket.create_connection(url, timeout=STEP, header=header)
        topics = list(self.who.topics)
        self.ws.send(json.dumps({"type": "subscribe", "topics": topics}))
        reply = json.loads(self.ws.recv())
        assert without_positions(reply) == {"type": "subscribed", "topics": topics}, (self.who.describe(), reply)

    def _recv(self, timeout):
        self.ws.settimeout(max(timeout, 0.01))
        return self.ws.recv()

    def wait(self, deadline):
        while not self.done():
            left = deadline - time.monotonic()
            if left <= 0:
                return
            try:
                raw = self._recv(left)
            except websocket.WebSocketTimeoutException:
                return
            except (websocket.WebSocketException, OSError) as e:
                self.problems.append("connection ended: %r" % e)
                return
            self._dispatch(raw)

    def _dispatch(self, raw):
        msg = json.loads(raw)
        if "type" in msg:
            if msg != {"type": "pong"}:
                self.problems.append("unexpected reply: %s" % raw[:300])
            return msg
        self.take(raw)
        return None

    def settle(self):
        """Ping: every event queued for this connection before arrives first."""
        self.ws.send(json.dumps({"type": "ping"}))
        deadline = time.monotonic() + STEP
        while True:
            left = deadline - time.monotonic()
            assert left > 0, "%s: no pong within %ss" % (self.who.describe(), STEP)
            if self._dispatch(self._recv(left)) == {"type": "pong"}:
                return

    def close(self):
        try:
            self.ws.close()
        except Exception:
            pass


class CurlSub(Sub):
    def start(self, server, token):
        # The token, if any, as Authorization: Bearer (curl-sse-bearer) or ?token=.
        header = bool(token) and self.who.kind == "curl-sse-bearer"
        self.sse = SSEClient(server, ",".join(self.who.topics), connect_timeout=STEP,
                             token=None if header else token or None,
                             headers={"Authorization": "Bearer " + token} if header else None)

    def _pull(self, timeout):
        try:
            rec = self.sse._records.get(timeout=max(timeout, 0.01))
        except queue.Empty:
            return False
        self.take(rec["data"])
        return True

    def wait(self, deadline):
        while not self.done() and time.monotonic() < deadline:
            if not self._pull(deadline - time.monotonic()):
                break
        if self.sse._ended.is_set() and not self.done():
            self.problems.append("the curl stream ended")

    def settle(self):
        end = time.monotonic() + QUIET
        while time.monotonic() < end:
            self._pull(end - time.monotonic())

    def close(self):
        self.sse.close()


class NodeSub(Sub):
    def wait(self, deadline):
        while not self.done() and time.monotonic() < deadline:
            time.sleep(0.02)

    def settle(self):
        time.sleep(QUIET)


class NodeClients(NodeScript):
    """node audience_clients.mjs for the node-sse and node-ws subscribers
    (see nodehelpers.NodeScript): their output lines go to their Subs."""

    def __init__(self, server, subs, tokens):
        spec = []
        for s in subs:
            token = tokens.get(s.who.name)
            if s.who.kind == "node-sse":
                spec.append({"name": s.who.name, "kind": "sse",
                             "url": "%s/v1/sse?%s" % (server.http_url, sse_query(
                                 [",".join(s.who.topics)], token or None))})
            else:
                spec.append({"name": s.who.name, "kind": "ws", "topics": list(s.who.topics),
                             "url": server.ws_url + ("?token=" + token if token else "")})
        self.subs = {s.who.name: s for s in subs}
        self.ready = set()
        self.other = []
        self.lock = threading.Lock()
        super().__init__("audience_clients.mjs", ["--spec", json.dumps(spec),
                                                  "--timeout-ms", str((WAIT + 60) * 1000)],
                         packages=["ws", "eventsource"])
        deadline = time.monotonic() + STEP
        while time.monotonic() < deadline:
            with self.lock:
                if len(self.ready) == len(subs):
                    return
            if self.proc.poll() is not None:
                break
            time.sleep(0.02)
        stderr = self.close()
        raise AssertionError("node clients not ready within %ss: ready %s; output %s; "
                             "stderr %s" % (STEP, sorted(self.ready), self.other[:10],
                                            stderr[-2000:]))

    def on_line(self, msg):
        if "ready" in msg:
            with self.lock:
                self.ready.add(msg["ready"])
        elif "raw" in msg:
            self.subs[msg["conn"]].take(msg["raw"])
        elif "problem" in msg:
            self.subs[msg["conn"]].problems.append("node: " + msg["problem"])
        else:
            with self.lock:
                self.other.append(msg)


def _http_request(conn, method, target, body=None, headers=None):
    conn.request(method, target, body=body, headers=headers or {})
    resp = conn.getresponse()
    return resp.status, resp.read()


class Scenario:
    def __init__(self, server, auth=None, seed=None):
        self.server = server
        self.auth = auth
        self.open_mode = auth is None
        self.seed = seed
        self.subs = []
        self.node = None
        self.published = {}     # uid -> Pub
        self.topic_fences = 0

    # subscribers

    def open(self, whos):
        tokens = {}
        if self.auth:
            for w in whos:
                tokens[w.name] = self.auth.token_for(w)
        node_subs = []
        for w in whos:
            if w.kind.startswith("py-ws"):
                s = PyWSSub(w, self.open_mode)
                s.start(self.server, tokens.get(w.name))
            elif w.kind.startswith("curl-sse"):
                s = CurlSub(w, self.open_mode)
                s.start(self.server, tokens.get(w.name))
            else:
                s = NodeSub(w, self.open_mode)
                node_subs.append(s)
            self.subs.append(s)
        if node_subs:
            self.node = NodeClients(self.server, node_subs, tokens)

    def close(self):
        for s in self.subs:
            s.close()
        if self.node:
            self.node.close()

    # publishing

    def _record(self, pub, seq):
        assert pub.uid not in self.published, pub.uid
        pub.seq = seq
        self.published[pub.uid] = pub

    def ndjson_line(self, pub):
        members = ['"topic":' + json.dumps(pub.topic), '"data":' + pub.data]
        if pub.audience is not None:  # before or after "data", as the uid says
            members.insert(1 + zlib.crc32(pub.uid.encode()) % 2, '"audience":' + pub.audience)
        return "{" + ",".join(members) + "}"

    def publish_ndjson(self, pubs, expect_ok=True):
        """Publishes |pubs| through one pipelined ringcast-pub; returns its
        result lines. Acknowledged ones are recorded."""
        if not pubs:
            return []
        cmd = [binary("ringcast-pub"), "--server", self.server.publish_addr]
        if self.auth:
            cmd += ["--token-file", self.auth.publisher_file]
        text = "".join(self.ndjson_line(p) + "\n" for p in pubs)
        p = subprocess.run(cmd, input=text.encode(), capture_output=True, timeout=WAIT)
        results = [json.loads(line) for line in p.stdout.decode().splitlines() if line.strip()]
        assert len(results) == len(pubs), (p.returncode, p.stderr.decode()[-2000:])
        for pub, res in zip(pubs, results):
            if "seq" in res:
                assert res["topic"] == pub.topic and not res.get("duplicate"), res
                self._record(pub, res["seq"])
        if expect_ok:
            errors = [(pub.uid, pub.audience, r) for pub, r in zip(pubs, results) if "seq" not in r]
            assert p.returncode == 0 and not errors, \
                "ringcast-pub exit %d, refused: %s\n%s" % (p.returncode, errors[:5],
                                                           p.stderr.decode()[-2000:])
        return results

    def publish_cli(self, pub):
        """One event with ringcast-pub TOPIC DATA (--audience when it has one)."""
        cmd = [binary("ringcast-pub"), "--server", self.server.publish_addr,
               "--content-type", pub.content_type]
        if self.auth:
            cmd += ["--token-file", self.auth.publisher_file]
        if pub.audience is not None:
            cmd += ["--audience", pub.audience]
        p = subprocess.run(cmd + [pub.topic, pub.data], capture_output=True, text=True,
                           timeout=STEP)
        assert p.returncode == 0, "ringcast-pub %s: %d %s" % (pub.uid, p.returncode, p.stderr)
        self._record(pub, int(p.stdout.strip()))

    def http_conn(self):
        return http.client.HTTPConnection(self.server.host, self.server.port, timeout=STEP)

    def http_headers(self, content_type="application/json"):
        h = {"Content-Type": content_type}
        if self.auth:
            h["Authorization"] = "Bearer " + self.auth.publisher
        return h

    def publish_http(self, pubs):
        """POST /v1/publish, one keep-alive connection: the JSON form, or the
        raw form (route http-raw: topic in the query, the payload as body)."""
        conn = self.http_conn()
        try:
            for pub in pubs:
                if pub.route == "http-raw":
                    assert pub.audience is None
                    target = "/v1/publish?" + urllib.parse.urlencode({"topic": pub.topic})
                    body = pub.data
                    headers = self.http_headers(pub.content_type)
                else:
                    target, headers = "/v1/publish", self.http_headers()
                    body = '{"topic":%s,"data":%s%s}' % (
                        json.dumps(pub.topic), pub.data,
                        "" if pub.audience is None else ',"audience":' + pub.audience)
                status, answer = _http_request(conn, "POST", target, body.encode(), headers)
                assert status == 200, "HTTP publish of %s: %d %s" % (pub.uid, status, answer)
                res = json.loads(answer)
                assert res["topic"] == pub.topic and "duplicate" not in res, res
                self._record(pub, res["seq"])
        finally:
            conn.close()

    def publish_mixed(self, pubs):
        """The ndjson ones through ringcast-pub while, at the same time, the
        http ones go over HTTP."""
        http_pubs = [p for p in pubs if p.route.startswith("http")]
        errors = []

        def run_http():
            try:
                self.publish_http(http_pubs)
            except BaseException as e:  # reported below
                errors.append(e)

        t = threading.Thread(target=run_http)
        t.start()
        try:
            self.publish_ndjson([p for p in pubs if p.route == "ndjson"])
        finally:
            t.join(WAIT)
        assert not t.is_alive(), "HTTP publishing did not finish within %ss" % WAIT
        if errors:
            raise errors[0]

    def publish_fences(self, audiences=(None,), topics=TOPICS):
        """One fence per topic and audience (explicit audience JSON or None)."""
        pubs = []
        for topic in topics:
            for aud in audiences:
                self.topic_fences += 1
                uid = "fence:%s:%d" % (topic, self.topic_fences)
                model = None if aud is None else norm_explicit(json.loads(aud))
                pubs.append(Pub(uid, topic, json.dumps({"id": uid}), aud, model, fence=True))
        self.publish_ndjson(pubs)

    # the check

    def collect(self):
        """Waits until every connection has its fences (or WAIT passes);
        connections entitled to no fence are watched for QUIET instead."""
        fences = [p for p in self.published.values() if p.fence]
        for s in self.subs:
            s.fences_needed = {p.uid for p in fences if s.entitled(p)}
        deadline = time.monotonic() + WAIT
        for s in self.subs:
            if s.fences_needed:
                s.wait(deadline)
        for s in self.subs:
            if not s.fences_needed:
                s.settle()

    def expected(self, sub):
        return {uid for uid, p in self.published.items() if sub.entitled(p)}

    def verify(self, require_each_sub_gets_something=True):
        """Each connection received exactly its entitled events, once each,
        as published."""
        report = []
        for s in self.subs:
            expected = self.expected(s)
            got = Counter()
            last_seq = {}
            bad = []
            with s.lock:
                raws = list(s.raws)
            for raw in raws:
                try:
                    ev = json.loads(raw)
                except ValueError:
                    bad.append("not JSON: %r" % raw[:200])
                    continue
                uid = uid_of(ev.get("data"))
                pub = self.published.get(uid) if isinstance(uid, str) else None
                if pub is None:
                    bad.append("an event nobody published (or unidentifiable): %s" % raw[:200])
                    continue
                got[uid] += 1
                if set(ev) != WS_KEYS or ev["event_type"] != "message":
                    bad.append("%s: members %s" % (uid, sorted(ev)))
                if ev["topic"] != pub.topic or ev["seq"] != pub.seq:
                    bad.append("%s: arrived as %s/%s, published as %s/%s" %
                               (uid, ev["topic"], ev["seq"], pub.topic, pub.seq))
                if ev["seq"] <= last_seq.get(ev["topic"], 0):
                    bad.append("%s: seq %s on %s after seq %s" %
                               (uid, ev["seq"], ev["topic"], last_seq[ev["topic"]]))
                last_seq[ev["topic"]] = ev["seq"]
                if pub.content_type == "application/json":
                    want = ',"data":' + pub.data + "}"
                else:
                    want = ',"data":' + json.dumps(pub.data) + "}"
                if not raw.endswith(want):
                    bad.append("%s: data not as published: got %r, published %r" %
                               (uid, raw[-min(len(want) + 40, 240):], pub.data[:200]))
            missing = sorted(expected - set(got))
            extra = sorted(set(got) - expected)
            dups = sorted(u for u, n in got.items() if n > 1)
            leaks = [u for u in extra if self.published[u].model is not None and
                     (self.open_mode or self.published[u].model["tenant"] != s.who.tenant)]
            if missing or extra or dups or bad or s.problems:
                def show(uids):
                    return ["%s %s aud=%s" % (u, self.published[u].topic,
                                              self.published[u].audience) for u in uids[:4]]
                report.append(
                    "%s: expected %d, received %d distinct; missing %d %s; extra %d %s "
                    "(other tenant's / claimless: %d); duplicates %d %s; bad %s; problems %s" %
                    (s.who.describe(), len(expected), len(got), len(missing), show(missing),
                     len(extra), show(extra), len(leaks), len(dups), dups[:4], bad[:4],
                     s.problems[:4]))
            if require_each_sub_gets_something and not self.open_mode:
                assert expected, "test design: %s is entitled to nothing" % s.who.describe()
        assert not report, "seed %s; %d of %d connections wrong:\n%s" % (
            self.seed, len(report), len(self.subs), "\n".join(report))

    def counts(self):
        return {s.who.name: len(self.expected(s)) for s in self.subs}


@pytest.fixture
def scenarios():
    made = []

    def make(*args, **kwargs):
        sc = Scenario(*args, **kwargs)
        made.append(sc)
        return sc

    yield make
    for sc in made:
        sc.close()


@pytest.fixture
def auth(tmp_path):
    return Auth(tmp_path)


def shard_spread(server):
    """{shard: subscriber connections} from /metrics."""
    conn = http.client.HTTPConnection(server.host, server.port, timeout=STEP)
    try:
        status, body = _http_request(conn, "GET", "/metrics")
    finally:
        conn.close()
    assert status == 200, body
    spread = Counter()
    for fam in text_string_to_metric_families(body.decode()):
        if fam.name == "ringcast_shard_connections":
            for s in fam.samples:
                if s.labels["protocol"] in ("websocket", "sse"):
                    spread[s.labels["shard"]] += int(s.value)
    return spread


# --- randomized isolation ------------------------------------------------------

def test_isolation_thousands_of_random_audiences(start_server, auth, scenarios):
    """3,000 events with random audiences (random tenant or none, random
    subsets of orgs, users and roles, empty lists, ids nobody has, no
    audience at all), through pipelined ringcast-pub and, at the same time,
    HTTP publish, to 17 connections of every client kind: each receives
    exactly the events it is entitled to."""
    seed = new_seed()
    rng = random.Random(seed)
    server = start_server(*auth.flags(), shards=2)
    sc = scenarios(server, auth, seed)
    sc.open(MIXED)
    pubs = random_explicit_events(rng, 3000, "e")
    sc.publish_mixed(pubs)
    sc.publish_fences()
    sc.collect()
    sc.verify()
    # The mix reached its corners: tenant-wide, narrowed and no-audience
    # events, and events nobody may have.
    models = [p.model for p in pubs]
    assert sum(m is None for m in models) > 200
    assert sum(m is not None and not m["tenant"] for m in models) > 200
    assert sum(m is not None and m["tenant"] in ("t1", "t2") and
               bool(m["orgs"] and m["users"] and m["roles"]) for m in models) > 100
    assert sum(p.route == "http" for p in pubs) > 300
    counts = sc.counts()
    assert counts["q"] < counts["a"] and counts["j"] == counts["q"], counts


def test_isolation_on_four_shards(start_server, auth, scenarios):
    """The same with --shards 4, 24 connections spread over the shards and
    topics homed on several of them."""
    seed = new_seed()
    rng = random.Random(seed)
    server = start_server(*auth.flags(), shards=4)
    kinds = ["py-ws"] * 4 + ["node-sse", "node-ws", "curl-sse", "py-ws-bearer"]
    whos = []
    for i in range(24):
        base = MIXED[i % len(MIXED)]
        whos.append(Who("%s%d" % (base.name, i), kinds[i % len(kinds)], base.tenant, base.orgs,
                        base.sub, base.roles, base.topics, base.subscribe, base.orgs_array))
    sc = scenarios(server, auth, seed)
    sc.open(whos)
    spread = shard_spread(server)
    assert sum(spread.values()) == 24, spread
    assert len([n for n in spread.values() if n > 0]) >= 3, \
        "subscribers on fewer than 3 of 4 shards: %s" % dict(spread)
    sc.publish_mixed(random_explicit_events(rng, 1500, "s"))
    sc.publish_fences()
    sc.collect()
    sc.verify()


def test_open_mode_audiences_reach_no_one(start_server, scenarios):
    """Without a secret no connection has claims: an event with an audience
    (any audience) reaches no one; events without one reach everybody."""
    seed = new_seed()
    rng = random.Random(seed)
    server = start_server(shards=2)
    sc = scenarios(server, None, seed)
    sc.open([Who("w1", "py-ws"), Who("w2", "py-ws", topics=("aud.*", "tenant:>")),
             Who("c1", "curl-sse"), Who("n1", "node-sse"), Who("n2", "node-ws")])
    pubs = random_explicit_events(rng, 400, "o")
    # An audience that would match anything a token could say still reaches no one.
    pubs.append(Pub("o-wide", "aud.0", json.dumps({"id": "o-wide"}),
                    '{"tenant":"t1","orgs":[],"users":[],"roles":[]}',
                    norm_explicit({"tenant": "t1"}), "ndjson"))
    sc.publish_mixed(pubs)
    sc.publish_cli(Pub("o-cli", "aud.1", json.dumps({"id": "o-cli"}), '{"tenant":"t1"}',
                       norm_explicit({"tenant": "t1"}), "cli"))
    sc.publish_fences()
    sc.collect()
    sc.verify()
    delivered = [p for p in pubs if p.model is None]
    assert 20 < len(delivered) < len(pubs)
    assert all(len(sc.expected(s)) == len(delivered) + len(TOPICS) for s in sc.subs)


def test_open_mode_payload_audiences_reach_no_one(start_server, scenarios):
    """Open mode with --audience-from-payload: payloads naming a tenant reach
    no one either. One shard: when ringcast-pub has its ACKs, every delivery
    is queued, so the ping that follows proves nothing else is coming."""
    server = start_server("--audience-from-payload", shards=1)
    sc = scenarios(server, None, None)
    sc.open([Who("w1", "py-ws"), Who("w2", "py-ws-bearer", topics=("aud.0",))])
    pubs = []
    for i, extra in enumerate([{"tenantId": "t1"}, {"tenantId": "t1", "organizationId": "o1"},
                               {"tenantId": "t2", "recipientUserIds": ["u1"]}, {}]):
        uid = "op%d" % i
        data = json.dumps(dict({"id": uid}, **extra))
        pubs.append(Pub(uid, "aud.0", data, None, payload_audience(json.loads(data))))
    sc.publish_ndjson(pubs)
    sc.collect()   # no fences: every subscriber is settled by a ping
    sc.verify()
    assert all(not sc.expected(s) for s in sc.subs)


# --- focused rules --------------------------------------------------------------

FOCUS = [
    Who("a", "py-ws", "t1", ("o1",), "u1", ("r1",)),
    Who("b", "curl-sse", "t2", ("o1",), "u1", ("r1",)),
    Who("c", "node-sse", "t1", ("o1", "o2"), "u2", ("r2",)),
    Who("d", "node-ws", "t2", (), None, ()),
    Who("j", "py-ws-bearer", None, ("o1",), "u1", ("r1",)),      # tenantless token
    Who("q", "curl-sse-bearer", None, (), None, ()),              # claimless token
    Who("o", "py-ws", "t1", ("o1",), "u1", ("r1",), topics=("aud.1",), subscribe=("aud.1",)),
    Who("p", "node-sse", "t1", ("o1",), "u1", ("r1",), topics=("tenant:feed:*",),
        subscribe=("tenant:feed:*",)),
]


def explicit(uid, topic, aud, route="ndjson"):
    """A Pub with the explicit audience object |aud| (None: no audience)."""
    text = None if aud is None else json.dumps(aud)
    model = None if aud is None else norm_explicit(aud)
    return Pub(uid, topic, json.dumps({"id": uid}), text, model, route)


def test_no_audience_reaches_all_permitted_and_tenantless_audience_no_one(
        start_server, auth, scenarios):
    """Events without an audience go to every connection whose token permits
    the topic, whatever its claims (no tenant, no claims at all); an audience
    without a tenant (absent, null, "", only orgs/users/roles) reaches no
    one, over ringcast-pub stdin, ringcast-pub --audience and HTTP."""
    server = start_server(*auth.flags(), shards=2)
    sc = scenarios(server, auth, None)
    sc.open(FOCUS)
    tenantless = [{}, {"orgs": ["o1"]}, {"users": ["u1"]}, {"roles": ["r1"]},
                  {"tenant": None, "orgs": ["o1"], "users": ["u1"], "roles": ["r1"]},
                  {"tenant": ""}, {"tenant": "", "orgs": [""], "users": [""], "roles": [""]},
                  {"tenant": "T1"}, {"tenant": " t1"}, {"tenant": "t1 "}, {"note": "t1"}]
    ndjson, http_pubs, cli = [], [], []
    for ti, topic in enumerate(TOPICS):
        ndjson.append(explicit("none-nd-%d" % ti, topic, None))
        http_pubs.append(explicit("none-http-%d" % ti, topic, None, "http"))
        raw = Pub("none-raw-%d" % ti, topic, json.dumps({"id": "none-raw-%d" % ti}),
                  route="http-raw")
        http_pubs.append(raw)
        for ai, aud in enumerate(tenantless):
            ndjson.append(explicit("tl-nd-%d-%d" % (ti, ai), topic, aud))
            http_pubs.append(explicit("tl-http-%d-%d" % (ti, ai), topic, aud, "http"))
    cli.append(explicit("none-cli", "aud.1", None, "cli"))
    cli.append(explicit("tl-cli-0", "aud.1", {"orgs": ["o1"], "users": ["u1"]}, "cli"))
    cli.append(explicit("tl-cli-1", "tenant:feed:a", {"tenant": None}, "cli"))
    sc.publish_ndjson(ndjson)
    sc.publish_http(http_pubs)
    for p in cli:
        sc.publish_cli(p)
    sc.publish_fences()
    sc.collect()
    sc.verify()
    assert not any(sc.published[u].model for s in sc.subs for u in sc.expected(s))
    counts = sc.counts()
    per_topic = 3 + 1  # nd, http, raw; and the fence
    assert counts["a"] == counts["q"] == len(TOPICS) * per_topic + 1, counts
    assert counts["o"] == per_topic + 1 and counts["p"] == 2 * per_topic, counts


def test_null_audience_and_empty_lists_do_not_restrict(start_server, auth, scenarios):
    """Pinned readings of the server (src/pubsub/audience.c, src/pubsub/httppub.c): an
    "audience": null member is no audience (the event goes to everyone
    permitted), and a null or empty orgs/users/roles list restricts nothing
    (like an absent one). A list [""] does restrict: to nobody, as no token
    has an empty org, sub or role."""
    server = start_server(*auth.flags(), shards=2)
    sc = scenarios(server, auth, None)
    sc.open(FOCUS)
    pubs = []
    cases = [{"tenant": "t1", "orgs": []}, {"tenant": "t1", "users": [], "roles": []},
             {"tenant": "t2", "orgs": None, "users": None, "roles": None},
             {"tenant": "t1", "orgs": [], "users": ["u2"], "roles": []},
             {"tenant": "t1", "orgs": [""]}, {"tenant": "t1", "users": [""]},
             {"tenant": "t1", "roles": [""]}, {"tenant": "t2", "users": ["u1", ""]}]
    for ti, topic in enumerate(["aud.1", "tenant:feed:b"]):
        for ci, aud in enumerate(cases):
            pubs.append(explicit("ne-%d-%d" % (ti, ci), topic, aud,
                                 "http" if ci % 2 else "ndjson"))
        for route in ("ndjson", "http"):
            p = Pub("null-%s-%d" % (route, ti), topic,
                    json.dumps({"id": "null-%s-%d" % (route, ti)}), "null", None, route)
            pubs.append(p)
    sc.publish_mixed(pubs)
    sc.publish_fences()
    sc.collect()
    sc.verify()
    counts = sc.counts()
    assert counts["o"] == 2 + 2 + 1, counts     # null x2, cases 0 and 1, the fence
    assert counts["b"] == 2 * (2 + 2) + len(TOPICS), counts  # null x2 and case 2, case 7


# --- open-mercato's payload shape ---------------------------------------------

OM_TENANTS = ["t1", "t2", "t3", " t1 ", "\tt2\n", "", "   ", None, 5, ["t1"]]
OM_IDS = {"organization": ["o1", "o2", "o3", " o2 ", "", "\t"],
          "recipientUser": ["u1", "u2", "u3", "u4", " u3", ""],
          "recipientRole": ["r1", "r2", "r3", "r9", "r1 ", ""]}


def random_om_payload(rng, uid):
    """An open-mercato-like event payload: (text, value)."""
    items = [("id", uid)]
    r = rng.random()
    if r < 0.85:
        items.append(("tenantId", rng.choices(OM_TENANTS, weights=[30, 30, 4, 4, 4, 3, 2, 3, 2,
                                                                   2])[0]))
    for key, pool in OM_IDS.items():
        prefix = "organization" if key == "organization" else key
        one, many = prefix + "Id", prefix + "Ids"
        c = rng.random()
        if c < 0.3:
            pass
        elif c < 0.55:
            items.append((one, rng.choice(pool + [None, 7])))
        elif c < 0.85:
            items.append((many, rng.sample(pool, rng.randint(0, 3)) +
                          ([None, 3] if rng.random() < 0.1 else [])))
        elif c < 0.92:
            items.append((one, rng.choice(pool)))
            items.append((many, rng.sample(pool, rng.randint(1, 2))))
        else:
            items.append((many, rng.choice([None, "o1", {"x": "o1"}])))  # not a list: ignored
    if rng.random() < 0.3:
        items.append(("payload", {"tenantId": "t2", "organizationId": "o2",
                                  "recipientUserIds": ["u1"]}))  # nested: ignored
    if rng.random() < 0.2:
        items.append(("entityType", "sales.order"))
    rest = items[1:]
    rng.shuffle(rest)
    items = items[:1] + rest
    sep = rng.choice([(",", ":"), (", ", ": "), (" ,", " : ")])
    text = "{" + sep[0].join(json.dumps(k) + sep[1] + json.dumps(v, ensure_ascii=False)
                             for k, v in items) + "}"
    return text, dict(items)


def test_open_mercato_payload_audiences(start_server, auth, scenarios):
    """--audience-from-payload: open-mercato events (tenantId,
    organizationId(s), recipientUserId(s), recipientRoleId(s)) published
    unchanged over ringcast-pub stdin and HTTP reach exactly their audience;
    no tenantId (or a blank, null or non-string one) reaches no one; a
    payload that is not an object reaches no one; an explicit audience wins
    over the payload; and `data` arrives byte-identical to the payload."""
    seed = new_seed()
    rng = random.Random(seed)
    server = start_server(*auth.flags(), "--audience-from-payload", shards=2)
    sc = scenarios(server, auth, seed)
    sc.open(MIXED)
    pubs = []
    for i in range(800):
        uid = "om%04d" % i
        text, value = random_om_payload(rng, uid)
        route = "http" if rng.random() < 0.2 else "ndjson"
        if route == "http" and rng.random() < 0.3:
            text = json.dumps(value, indent=2, ensure_ascii=False)
        if rng.random() < 0.1:
            aud_text, model = random_explicit_audience(rng)
            if aud_text is None:
                model = payload_audience(value)
        else:
            aud_text, model = None, payload_audience(value)
        pubs.append(Pub(uid, rng.choice(TOPICS), text, aud_text, model, route))
    # Fixed cases, besides the random ones.
    fixed = [
        ('{"id":"omf-1","tenantId":"t1","organizationId":"o1","recipientRoleIds":["r1"]}', None),
        ('{"id":"omf-2","organizationId":"o1","recipientUserId":"u1"}', None),     # no tenant
        ('{"id":"omf-3","tenantId":null,"organizationId":"o1"}', None),
        ('{"id":"omf-4","tenantId":"  ","recipientUserIds":["u1"]}', None),
        ('{"id":"omf-5","tenantId":" t2\\t","recipientUserIds":["",null,"u2"]}', None),
        ('{"id":"omf-6","tenantId":"t1","organizationIds":[],"recipientUserIds":[""]}', None),
        ('{"id":"omf-7","tenantId":"t1"}', '{"tenant":"t2","users":["u1"]}'),     # explicit wins
        ('{"id":"omf-8"}', '{"tenant":"t1","roles":["r3"]}'),
        ('{"id":"omf-9","tenantId":"t2"}', '{"tenant":null}'),
        ('["omf-10",{"tenantId":"t1"}]', None),                                    # not an object
        ('"omf-11"', None),
        ('{"id":"omf-12","tenantId":"t1","organizationId":"o2",'
         '"organizationIds":["o9"],"recipientRoleId":"r2","recipientRoleIds":["r9"]}', None),
        ('{"id":"omf-13","tenantId":"t1","tenantid":"t2","TenantId":"t2","orgId":"o9"}', None),
        ('{"id":"omf-14","tenant":"t1","organizationId":"o1"}', None),             # not tenantId
    ]
    for i, (text, aud) in enumerate(fixed):
        value = json.loads(text)
        model = norm_explicit(json.loads(aud)) if aud else payload_audience(value)
        pubs.append(Pub(uid_of(value), TOPICS[i % len(TOPICS)], text, aud, model,
                        "http" if i % 3 == 0 else "ndjson"))
    sc.publish_mixed(pubs)
    # No event reaches everybody here: fence each tenant (explicit audiences).
    sc.publish_fences(audiences=('{"tenant":"t1"}', '{"tenant":"t2"}'))
    sc.collect()
    sc.verify(require_each_sub_gets_something=False)  # j and q can get nothing here
    by_uid = sc.published
    entitled = {u: {s.who.name for s in sc.subs if s.entitled(by_uid[u])} for u in by_uid}
    assert entitled["omf-1"] == {"a", "c", "k"}, entitled["omf-1"]
    assert entitled["omf-5"] == {"g"}, entitled["omf-5"]              # " t2\t", users u2
    assert entitled["omf-7"] == {"f", "l"}, entitled["omf-7"]         # explicit t2/u1 wins
    for u in ("omf-2", "omf-3", "omf-4", "omf-9", "omf-10", "omf-11", "omf-14"):
        assert entitled[u] == set(), (u, entitled[u])
    reached = [p for p in pubs if any(s.entitled(p) for s in sc.subs)]
    nobody = [p for p in pubs if not p.model or not p.model["tenant"]]
    assert len(reached) > 300 and len(nobody) > 80, (len(reached), len(nobody))


def test_open_mercato_text_payload_reaches_no_one(start_server, auth, scenarios):
    """With --audience-from-payload a payload without a tenantId reaches no
    one: that holds for a text payload (it has no tenantId) as much as for a
    JSON one, through ringcast-pub and HTTP's raw form."""
    server = start_server(*auth.flags(), "--audience-from-payload", shards=1)
    sc = scenarios(server, auth, None)
    sc.open([Who("a", "py-ws", "t1", ("o1",), "u1", ("r1",)),
             Who("f", "py-ws", "t2", ("o1",), "u1", ("r1",)),
             Who("i", "py-ws", "t2", (), None, ())])
    sc.publish_cli(Pub("txt-1", "aud.0", "txt-1", route="cli", content_type="text/plain",
                       model=payload_audience("txt-1")))
    sc.publish_cli(Pub("txt-2", "aud.0", '{"id":"txt-2","tenantId":"t1"}', route="cli",
                       content_type="text/plain", model=payload_audience(None)))
    sc.publish_http([Pub("txt-3", "aud.1", "txt-3", route="http-raw",
                         content_type="text/plain", model=payload_audience("txt-3"))])
    sc.collect()   # one shard: a ping after the ACKs settles every subscriber
    sc.verify(require_each_sub_gets_something=False)


# --- refusals -------------------------------------------------------------------

BAD_AUDIENCES = [
    ('"t1"', "the audience must be a JSON object"),
    ("[]", "the audience must be a JSON object"),
    ("5", "the audience must be a JSON object"),
    ("null", "the audience must be a JSON object"),
    ('{"tenant":5}', '"tenant" must be a string'),
    ('{"tenant":["t1"]}', '"tenant" must be a string'),
    ('{"tenant":true}', '"tenant" must be a string'),
    ('{"tenant":"t1","orgs":"o1"}', "must be arrays of strings"),
    ('{"tenant":"t1","users":{"u1":true}}', "must be arrays of strings"),
    ('{"tenant":"t1","roles":7}', "must be arrays of strings"),
    ('{"tenant":"t1","users":[1]}', "audience lists hold strings"),
    ('{"tenant":"t1","orgs":["o1",null]}', "audience lists hold strings"),
    ('{"tenant":"t1","roles":[["r1"]]}', "audience lists hold strings"),
]


def test_malformed_audience_binary_is_refused_bad_request(start_server, auth, scenarios):
    """Over the binary protocol an audience that is not an object of the
    documented shape is NACKed bad_request with a clear message, the
    connection stays usable, and nothing is delivered: ringcast-pub
    --audience, ringcast-pub stdin, and raw PUBLISH frames."""
    server = start_server(*auth.flags(), shards=2)
    sc = scenarios(server, auth, None)
    sc.open([Who("a", "py-ws", "t1", ("o1",), "u1", ("r1",), topics=("aud.0",)),
             Who("b", "curl-sse", "t1", ("o1",), "u1", ("r1",), topics=("aud.0",))])
    # ringcast-pub TOPIC DATA --audience
    for text, reason in BAD_AUDIENCES:
        p = subprocess.run([binary("ringcast-pub"), "--server", server.publish_addr,
                            "--token-file", auth.publisher_file, "--audience", text,
                            "aud.0", '{"id":"refused"}'],
                           capture_output=True, text=True, timeout=STEP)
        assert p.returncode == 1 and p.stdout == "", (text, p.returncode, p.stdout, p.stderr)
        assert "bad_request" in p.stderr and reason in p.stderr, (text, p.stderr)
    # ringcast-pub standard input: good and bad lines interleaved ("audience":
    # null on a line is no audience, see test_null_audience_and_empty_lists...).
    bad_lines = [(t, r) for t, r in BAD_AUDIENCES if t != "null"]
    pubs = []
    for i, (text, reason) in enumerate(bad_lines):
        pubs.append(Pub("bad-%d" % i, "aud.0", '{"id":"bad-%d"}' % i, text,
                        norm_explicit({"tenant": "t1"})))
        pubs.append(explicit("good-%d" % i, "aud.0", {"tenant": "t1", "users": ["u1"]}))
    results = sc.publish_ndjson(pubs, expect_ok=False)
    for i, (text, reason) in enumerate(bad_lines):
        res = results[2 * i]
        assert "seq" not in res, (text, res)
        if text.startswith("{"):
            assert res.get("error") == "bad_request" and reason in res.get("message", ""), \
                (text, res)
        else:  # ringcast-pub reads the line like HTTP's JSON form: not an object
            assert res.get("error") == "bad_input" and "audience" in res.get("message", ""), \
                (text, res)
        assert "seq" in results[2 * i + 1], results[2 * i + 1]
    # Raw frames, including audiences that are not JSON at all.
    conn = rcproto.PubConn(server)
    with conn:
        conn.hello(token=auth.publisher)
        raw_bad = [t.encode() for t, _ in BAD_AUDIENCES] + [
            b'{"tenant":"t1"', b"{tenant:t1}", b'{"tenant":"\xff"}', b"\x00", b" "]
        corr = 10
        for value in raw_bad:
            corr += 1
            conn.send(rcproto.frame(rcproto.PUBLISH, rcproto.publish_body(
                "aud.0", b'{"id":"raw-bad"}', content_type=b"application/json") +
                struct.pack(">BI", 1, len(value)) + value, corr))
            err = conn.expect_nack(rcproto.BAD_REQUEST, corr)
            assert err.message, value
        corr += 1
        good = b'{"tenant":"t1","orgs":["o1"]}'
        conn.send(rcproto.frame(rcproto.PUBLISH, rcproto.publish_body(
            "aud.0", b'{"id":"raw-good"}', content_type=b"application/json") +
            struct.pack(">BI", 1, len(good)) + good, corr))
        ack = conn.expect_ack(corr)
        sc._record(Pub("raw-good", "aud.0", '{"id":"raw-good"}', good.decode(),
                       norm_explicit(json.loads(good))), ack.seq)
    sc.publish_fences(topics=["aud.0"])
    sc.collect()
    sc.verify()
    assert sc.counts() == {"a": len(bad_lines) + 2, "b": len(bad_lines) + 2}


def test_audience_extension_framing_errors_are_fatal(start_server, auth):
    """docs/protocol/publish.md 4.3: an empty audience value, a repeated
    audience, an unknown extension tag, or an audience over 65536 bytes is
    a malformed PUBLISH: fatal bad_frame."""
    server = start_server(*auth.flags(), shards=2)
    body = rcproto.publish_body("aud.0", b"{}", content_type=b"application/json")
    aud = b'{"tenant":"t1"}'
    over = b'{"tenant":"t1","pad":"' + b"x" * 65536 + b'"}'
    cases = [struct.pack(">BI", 1, 0),
             struct.pack(">BI", 1, len(aud)) + aud + struct.pack(">BI", 1, len(aud)) + aud,
             struct.pack(">BI", 2, len(aud)) + aud,
             struct.pack(">BI", 1, len(over)) + over,
             struct.pack(">BI", 1, len(aud) + 5) + aud]
    for ext in cases:
        conn = rcproto.PubConn(server)
        with conn:
            conn.hello(token=auth.publisher)
            conn.send(rcproto.frame(rcproto.PUBLISH, body + ext, 7))
            err = conn.expect_fatal(rcproto.BAD_FRAME, 7)
            assert err.message, ext[:20]


def test_maximal_publish_with_maximal_audience_fits_max_frame(start_server, auth):
    """WELCOME's max_frame is "large enough for a PUBLISH that uses every
    limit at once" (publish.md 4.2): that includes an audience of the
    documented maximum, 65536 bytes, which must then be accepted."""
    server = start_server(*auth.flags(), "--max-publish-bytes", "1K", "--max-payload", "1K",
                          shards=1)
    conn = rcproto.PubConn(server)
    with conn:
        w = conn.hello(token=auth.publisher)
        topic = "aud." + "x" * (w.max_topic_len - 4)
        head = b'{"tenant":"t1","pad":"'

        def publish(corr, audience_len, msg_id):
            audience = head + b"y" * (audience_len - len(head) - 2) + b'"}'
            body = rcproto.publish_body(topic, b"z" * w.max_payload, event_type=b"e" * 255,
                                        content_type=b"text/plain" + b" " * 245,
                                        msg_id=msg_id + b"m" * (255 - len(msg_id)))
            body += struct.pack(">BI", 1, len(audience)) + audience
            frame = rcproto.frame(rcproto.PUBLISH, body, corr)
            conn.send(frame)
            return len(frame) - 4

        # The same PUBLISH with an audience that fits max_frame is accepted...
        length = publish(3, 65536 - 1024, b"fits")
        assert length <= w.max_frame
        conn.expect_ack(3)
        # ...and so must be the one with the largest audience allowed.
        length = publish(4, 65536, b"max")
        f = conn.recv_frame()
        assert f is not None and f.type == rcproto.ACK, \
            "max_frame %d, PUBLISH length %d: %s" % (w.max_frame, length, rcproto.describe(f))


HTTP_BAD = [('"t1"', '"audience" must be an object'), ("[]", '"audience" must be an object'),
            ("5", '"audience" must be an object'), ("true", '"audience" must be an object')] + \
           [(t, r) for t, r in BAD_AUDIENCES if t.startswith("{")]


def test_malformed_audience_http_is_refused_422(start_server, auth, scenarios):
    """POST /v1/publish with an ill-typed audience: 422 bad_request with a
    message saying what is wrong; nothing is delivered; the keep-alive
    connection goes on."""
    server = start_server(*auth.flags(), shards=2)
    sc = scenarios(server, auth, None)
    sc.open([Who("a", "node-sse", "t1", ("o1",), "u1", ("r1",), topics=("aud.2",)),
             Who("b", "py-ws", "t1", ("o1",), "u1", ("r1",), topics=("aud.2",))])
    conn = sc.http_conn()
    try:
        for i, (text, reason) in enumerate(HTTP_BAD):
            body = '{"topic":"aud.2","data":{"id":"h-bad-%d"},"audience":%s}' % (i, text)
            status, answer = _http_request(conn, "POST", "/v1/publish", body.encode(),
                                           sc.http_headers())
            assert status == 422, (text, status, answer)
            err = json.loads(answer)
            assert err["error"] == "bad_request" and reason in err["message"], (text, err)
        pub = explicit("h-good", "aud.2", {"tenant": "t1", "roles": ["r1", "r2"]}, "http")
        body = '{"topic":"aud.2","data":%s,"audience":%s}' % (pub.data, pub.audience)
        status, answer = _http_request(conn, "POST", "/v1/publish", body.encode(),
                                       sc.http_headers())
        assert status == 200, answer
        sc._record(pub, json.loads(answer)["seq"])
    finally:
        conn.close()
    sc.publish_fences(topics=["aud.2"])
    sc.collect()
    sc.verify()
    assert sc.counts() == {"a": 2, "b": 2}


# --- fetching a truncated event ---------------------------------------------------

def test_fetch_of_truncated_event_honours_its_audience(start_server, auth, scenarios):
    """GET /v1/messages/<topic>/<seq> of a truncated event: the full event for
    a token its audience includes; 403 forbidden for one it excludes (other
    user, other tenant, claimless); 401 without a token. Subscribers outside
    the audience do not get the stub either."""
    server = start_server(*auth.flags(), "--max-payload", "64", shards=2)
    sc = scenarios(server, auth, None)
    sc.open([Who("u1", "py-ws", "t1", ("o1",), "u1", ("r1",), topics=("big.>",)),
             Who("u2", "py-ws", "t1", ("o1",), "u2", ("r1",), topics=("big.>",)),
             Who("x1", "curl-sse", "t2", ("o1",), "u1", ("r1",), topics=("big.>",))])
    big = json.dumps({"id": "big-1", "entityType": "report", "pad": "p" * 300})
    sc.publish_cli(Pub("big-1", "big.a", big, '{"tenant":"t1","users":["u1"]}',
                       norm_explicit({"tenant": "t1", "users": ["u1"]}), "cli"))
    open_big = json.dumps({"id": "big-2", "pad": "q" * 300})
    sc.publish_cli(Pub("big-2", "big.a", open_big, None, None, "cli"))
    seq1, seq2 = sc.published["big-1"].seq, sc.published["big-2"].seq
    fence = Pub("fence:big", "big.a", '{"id":"fence:big"}', None, None, fence=True)
    sc.publish_ndjson([fence])
    # The stubs: u1 gets both, u2 and x1 only the one without an audience.
    stubs = {}
    for s in sc.subs:
        s.fences_needed = {"fence:big"}
        s.wait(time.monotonic() + WAIT)
        assert s.done() and not s.problems, (s.who.describe(), s.problems)
        got = [json.loads(r) for r in s.raws]
        stubs[s.who.name] = [(e["seq"], e.get("truncated"), e.get("fetch")) for e in got]
    path1, path2 = "/v1/messages/big.a/%d" % seq1, "/v1/messages/big.a/%d" % seq2
    last = sc.published["fence:big"].seq
    assert stubs["u1"] == [(seq1, True, path1), (seq2, True, path2), (last, None, None)], stubs
    for name in ("u2", "x1"):
        assert stubs[name] == [(seq2, True, path2), (last, None, None)], (name, stubs)

    def fetch(path, token=None, bearer=True):
        conn = http.client.HTTPConnection(server.host, server.port, timeout=STEP)
        try:
            headers = {}
            if token and bearer:
                headers["Authorization"] = "Bearer " + token
            elif token:
                path += "?token=" + token
            return _http_request(conn, "GET", path, None, headers)
        finally:
            conn.close()

    tok = {n: auth.mint(sub=s, tenant=t, orgs=("o1",), roles=("r1",))
           for n, s, t in (("u1", "u1", "t1"), ("u2", "u2", "t1"), ("x1", "u1", "t2"))}
    tok["none"] = auth.mint()
    for bearer in (True, False):
        status, body = fetch(path1, tok["u1"], bearer)
        assert status == 200, (status, body)
        ev = json.loads(body)
        assert ev["seq"] == seq1 and ev["topic"] == "big.a", ev
        assert body.decode().endswith(',"data":' + big + "}"), body[-120:]
        for who in ("u2", "x1", "none"):
            status, body = fetch(path1, tok[who], bearer)
            assert status == 403, (who, status, body)
            assert json.loads(body)["error"] == "forbidden", body
        for who in ("u1", "u2", "x1", "none"):
            status, body = fetch(path2, tok[who], bearer)
            assert status == 200 and json.loads(body)["seq"] == seq2, (who, status, body)
    status, body = fetch(path1)
    assert status == 401 and json.loads(body)["error"] == "unauthorized", (status, body)


def test_fetch_of_truncated_payload_audience_event(start_server, auth, scenarios):
    """The same with --audience-from-payload: the audience taken from the
    payload guards the fetch."""
    server = start_server(*auth.flags(), "--audience-from-payload", "--max-payload", "64",
                          shards=2)
    sc = scenarios(server, auth, None)
    big = json.dumps({"id": "om-big", "tenantId": "t2", "organizationId": "o2",
                      "recipientRoleIds": ["r3"], "pad": "p" * 300})
    sc.publish_cli(Pub("om-big", "big.b", big, route="cli",
                       model=payload_audience(json.loads(big))))
    path = "/v1/messages/big.b/%d" % sc.published["om-big"].seq
    cases = [(auth.mint(sub="u9", tenant="t2", orgs=("o2",), roles=("r3",)), 200),
             (auth.mint(sub="u9", tenant="t2", orgs=("o1", "o2"), roles=("r1", "r3")), 200),
             (auth.mint(sub="u9", tenant="t1", orgs=("o2",), roles=("r3",)), 403),
             (auth.mint(sub="u9", tenant="t2", orgs=("o1",), roles=("r3",)), 403),
             (auth.mint(sub="u9", tenant="t2", orgs=("o2",), roles=("r1",)), 403),
             (auth.mint(sub="u9", tenant="t2", roles=("r3",)), 403)]
    conn = sc.http_conn()
    try:
        for token, want in cases:
            status, body = _http_request(conn, "GET", path, None,
                                         {"Authorization": "Bearer " + token})
            assert status == want, (token, status, body)
            if want == 200:
                assert body.decode().endswith(',"data":' + big + "}"), body[-120:]
            conn.close()
            conn = sc.http_conn()
    finally:
        conn.close()
