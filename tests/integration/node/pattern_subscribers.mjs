// pattern_subscribers.mjs: many WebSocket subscribers holding mixes of exact
// topics and patterns, written with the npm package "ws" (a client we did not
// write), for ringcast's integration tests (test_shards_patterns.py).
//
//   node pattern_subscribers.mjs --url ws://127.0.0.1:8080/v1/ws \
//       --spec spec.json --connections 1000
//
// The spec file is JSON: {"profiles": [{"topics": ["t0:*", "t1:e1"],
// "expect": 800}, ...]}. Connection i takes profile i % P: it subscribes to
// the profile's topics in one subscribe message (the "subscribed" reply must
// list exactly them) and then receives events until it has "expect" of them.
// It does not know which topics its patterns match (the test computes that):
// it records, per topic received, how many events came, in what order (each
// event's seq must be the previous one of its topic + 1, the first 1) and a
// sha256 over "seq event_type data\n" in arrival order.
//
// Options:
//   --url URL                the server's /v1/ws URL (required)
//   --spec FILE              the profiles (required)
//   --connections N          connections to open (default 1)
//   --timeout-ms MS          time allowed for the events, from "ready" on
//                            (default 60000)
//   --connect-timeout-ms MS  time allowed to connect and subscribe them all
//                            (default 30000)
//   --settle-ms MS           once every connection has its "expect" events,
//                            keep listening this long: whatever arrives then
//                            is counted as late (default 500)
//   --batch B                connections opened at once (default 100)
//   --hold                   after the summary, keep the connections open
//                            until standard input closes
//
// Standard output, one JSON object per line:
//   {"ready":N,"failed":F,"ms":T}        all connections are subscribed (or failed)
//   {"connections":N,"complete":C,...}   the summary, see summary() below
//   {"closed":N,"close_codes":{...}}     after the connections were closed
// The summary's "states" maps each profile index to {state: connections},
// where a state is the JSON text of [[topic, count, sha256], ...] sorted by
// topic: what one connection received. The exit status is 0 whatever was
// received (the test judges it); 2 means bad arguments.

import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { parseArgs } from "node:util";
import WebSocket from "ws";

const CLOSE_WAIT_MS = 10000;

const OPTIONS = {
    url: { type: "string" },
    spec: { type: "string" },
    connections: { type: "string", default: "1" },
    "timeout-ms": { type: "string", default: "60000" },
    "connect-timeout-ms": { type: "string", default: "30000" },
    "settle-ms": { type: "string", default: "500" },
    batch: { type: "string", default: "100" },
    hold: { type: "boolean", default: false },
};

function usage(message) {
    process.stderr.write(`pattern_subscribers.mjs: ${message}\n`);
    process.exit(2);
}

function parseOptions() {
    let values;
    try {
        ({ values } = parseArgs({ options: OPTIONS }));
    } catch (err) {
        usage(err.message);
    }
    const number = (name) => {
        const n = Number(values[name]);
        if (!Number.isInteger(n) || n < 0)
            usage(`--${name} must be a non-negative integer`);
        return n;
    };
    if (!values.url)
        usage("--url is required");
    if (!values.spec)
        usage("--spec is required");
    let profiles;
    try {
        profiles = JSON.parse(readFileSync(values.spec, "utf8")).profiles;
    } catch (err) {
        usage(`cannot read ${values.spec}: ${err.message}`);
    }
    if (!Array.isArray(profiles) || profiles.length === 0)
        usage("the spec has no profiles");
    for (const p of profiles)
        if (!Array.isArray(p.topics) || p.topics.length === 0 || !Number.isInteger(p.expect) || p.expect < 0)
            usage(`bad profile ${JSON.stringify(p)}`);
    const options = {
        url: values.url,
        profiles,
        connections: number("connections"),
        timeoutMs: number("timeout-ms"),
        connectTimeoutMs: number("connect-timeout-ms"),
        settleMs: number("settle-ms"),
        batch: Math.max(1, number("batch")),
        hold: values.hold,
    };
    if (options.connections < 1)
        usage("--connections must be at least 1");
    return options;
}

function emit(object) {
    process.stdout.write(JSON.stringify(object) + "\n");
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

// Totals over all connections; summary() prints them.
const totals = {
    events: 0,          // event messages received
    late: 0,            // events received after the connection had its "expect"
    duplicates: 0,      // an event whose seq is not above the last one of its topic
    out_of_order: 0,    // an event whose seq is not the last one of its topic + 1 (or 1)
    bad_messages: 0,    // binary, not JSON, or neither an event nor a known reply
    errors: 0,          // {"type":"error",...} replies
    closed_early: 0,    // connections closed before they were complete
    connect_failed: 0,  // connections that never got their "subscribed" reply
};
const closeCodes = {};
const problems = [];

function problem(text) {
    if (problems.length < 20)
        problems.push(text);
}

class Subscriber {
    constructor(index, profileIndex, options) {
        this.index = index;
        this.profileIndex = profileIndex;
        this.profile = options.profiles[profileIndex];
        this.options = options;
        this.ws = null;
        this.subscribed = false;
        this.closed = false;
        this.received = 0;
        this.perTopic = new Map();  // topic -> {count, lastSeq, hash}
        this.onComplete = null;
        this.onClose = null;
    }

    open() {
        return new Promise((resolve) => {
            let settled = false;
            const settle = (ok) => {
                if (!settled) {
                    settled = true;
                    resolve(ok);
                }
            };
            this.settleSubscribe = settle;
            const ws = new WebSocket(this.options.url, { handshakeTimeout: this.options.connectTimeoutMs });
            this.ws = ws;
            ws.on("open", () => ws.send(JSON.stringify({ type: "subscribe", topics: this.profile.topics })));
            ws.on("message", (data, isBinary) => this.onMessage(data, isBinary));
            ws.on("error", (err) => {
                problem(`connection ${this.index}: ${err.message}`);
                settle(false);
            });
            ws.on("close", (code) => {
                this.closed = true;
                closeCodes[code] = (closeCodes[code] || 0) + 1;
                settle(false);
                if (this.onClose)
                    this.onClose(this, code);
            });
        });
    }

    get complete() {
        return this.received >= this.profile.expect;
    }

    onMessage(data, isBinary) {
        let message;
        try {
            if (isBinary)
                throw new Error("binary frame");
            message = JSON.parse(data.toString("utf8"));
        } catch (err) {
            totals.bad_messages++;
            problem(`connection ${this.index}: bad message (${err.message}): ${String(data).slice(0, 200)}`);
            return;
        }
        if (message.type === "subscribed")
            return this.onSubscribed(message);
        if (message.type === "error") {
            totals.errors++;
            problem(`connection ${this.index}: error reply ${JSON.stringify(message)}`);
            return;
        }
        if (typeof message.seq !== "number" || typeof message.topic !== "string") {
            totals.bad_messages++;
            problem(`connection ${this.index}: unknown message ${JSON.stringify(message).slice(0, 200)}`);
            return;
        }
        this.onEvent(message);
    }

    onSubscribed(message) {
        const want = JSON.stringify(this.profile.topics);
        if (this.subscribed || JSON.stringify(message.topics) !== want) {
            totals.bad_messages++;
            problem(`connection ${this.index}: unexpected reply ${JSON.stringify(message)} to ${want}`);
            return;
        }
        this.subscribed = true;
        this.settleSubscribe(true);
    }

    onEvent(event) {
        totals.events++;
        const wasComplete = this.complete;
        if (wasComplete) {
            totals.late++;
            problem(`connection ${this.index} (profile ${this.profileIndex}): event after its ${this.profile.expect}: ${event.topic} seq ${event.seq}`);
        }
        let state = this.perTopic.get(event.topic);
        if (!state) {
            state = { count: 0, lastSeq: 0, hash: createHash("sha256") };
            this.perTopic.set(event.topic, state);
        }
        if (event.seq <= state.lastSeq) {
            totals.duplicates++;
            problem(`connection ${this.index} (profile ${this.profileIndex}): ${event.topic} seq ${event.seq} after ${state.lastSeq}`);
        } else if (event.seq !== state.lastSeq + 1) {
            totals.out_of_order++;
            problem(`connection ${this.index} (profile ${this.profileIndex}): ${event.topic} seq ${event.seq} after ${state.lastSeq}`);
        }
        state.lastSeq = Math.max(state.lastSeq, event.seq);
        state.count++;
        state.hash.update(`${event.seq} ${event.event_type} ${JSON.stringify(event.data)}\n`);
        this.received++;
        if (!wasComplete && this.complete && this.onComplete)
            this.onComplete(this);
    }

    // What this connection received, as a comparable text.
    state() {
        const rows = [...this.perTopic.entries()]
            .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
            .map(([topic, s]) => [topic, s.count, s.hash.copy().digest("hex")]);
        return JSON.stringify(rows);
    }

    close() {
        if (this.closed || !this.ws)
            return Promise.resolve();
        return new Promise((resolve) => {
            const timer = setTimeout(resolve, CLOSE_WAIT_MS);
            this.ws.once("close", () => {
                clearTimeout(timer);
                resolve();
            });
            this.ws.close(1000, "done");
        });
    }
}

async function openAll(subscribers, options) {
    let failed = 0;
    const deadline = Date.now() + options.connectTimeoutMs;
    for (let start = 0; start < subscribers.length; start += options.batch) {
        const batch = subscribers.slice(start, start + options.batch);
        const remaining = deadline - Date.now();
        const timeout = sleep(Math.max(0, remaining)).then(() => "timeout");
        const results = await Promise.all(batch.map((s) => Promise.race([s.open(), timeout])));
        for (const [i, ok] of results.entries()) {
            if (ok !== true) {
                failed++;
                if (ok === "timeout")
                    problem(`connection ${batch[i].index}: not subscribed within ${options.connectTimeoutMs} ms`);
            }
        }
        if (failed > 0) {
            failed += subscribers.length - start - batch.length;
            break;
        }
    }
    totals.connect_failed = failed;
    return failed;
}

function receiveAll(subscribers, options) {
    return new Promise((resolve) => {
        const timer = setTimeout(() => resolve("timeout"), options.timeoutMs);
        const check = () => {
            if (!subscribers.some((s) => !s.complete && !s.closed)) {
                clearTimeout(timer);
                resolve("done");
            }
        };
        for (const s of subscribers) {
            s.onComplete = check;
            s.onClose = check;
        }
        check();
    });
}

function summary(subscribers, ms, outcome) {
    let complete = 0;
    const states = {};  // profile index -> {state -> connections}
    for (const s of subscribers) {
        if (s.complete)
            complete++;
        if (s.closed && !s.complete)
            totals.closed_early++;
        const byProfile = (states[s.profileIndex] = states[s.profileIndex] || {});
        const state = s.state();
        byProfile[state] = (byProfile[state] || 0) + 1;
    }
    return { connections: subscribers.length, complete, ...totals, outcome, ms,
             close_codes: closeCodes, states, problems };
}

async function main() {
    const options = parseOptions();
    const subscribers = [];
    for (let i = 0; i < options.connections; i++)
        subscribers.push(new Subscriber(i, i % options.profiles.length, options));

    const connectStart = Date.now();
    const failed = await openAll(subscribers, options);
    emit({ ready: subscribers.length - failed, failed, ms: Date.now() - connectStart });

    const receiveStart = Date.now();
    let outcome = failed > 0 ? "connect_failed" : await receiveAll(subscribers, options);
    if (outcome === "done")
        await sleep(options.settleMs);  // late (extra) events are counted meanwhile
    for (const s of subscribers)
        s.onClose = s.onComplete = null;
    emit(summary(subscribers, Date.now() - receiveStart, outcome));

    if (options.hold) {
        process.stdin.resume();
        await new Promise((resolve) => process.stdin.once("end", resolve).once("close", resolve));
    }
    for (const code of Object.keys(closeCodes))
        delete closeCodes[code];
    const open = subscribers.filter((s) => !s.closed).length;
    await Promise.all(subscribers.map((s) => s.close()));
    emit({ closed: open, close_codes: closeCodes });
    process.exit(0);
}

main().catch((err) => {
    process.stderr.write(`pattern_subscribers.mjs: ${err.stack}\n`);
    process.exit(1);
});
