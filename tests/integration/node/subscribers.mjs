// subscribers.mjs: many WebSocket subscribers, written with the npm package
// "ws" (a client we did not write), for ringcast's integration tests.
//
//   node subscribers.mjs --url ws://127.0.0.1:8080/v1/ws --connections 1000 \
//       --topic-count 10 --expect 1000
//
// Connection i subscribes to topic i % K and checks what it receives: every
// event's seq must be exactly the previous seq + 1 (the first one is
// --first-seq), on the connection's own topic, never twice.
//
// Options:
//   --url URL                the server's /v1/ws URL (required)
//   --connections N          connections to open (default 1)
//   --topics a,b,c           topic names (K = their number)
//   --topic-count K          instead of --topics: K topics named by the pattern
//   --topic-pattern P        name of topic k: P with "{k}" replaced by k
//                            (default "topic-{k}")
//   --expect N               events each connection must receive (default 0:
//                            receive until the timeout; then only out_of_order
//                            and wrong_topic are checked)
//   --first-seq S            seq of the first expected event (default 1)
//   --timeout-ms MS          time allowed for the events, from "ready" on
//                            (default 60000)
//   --connect-timeout-ms MS  time allowed to connect and subscribe them all
//                            (default 30000)
//   --batch B                connections opened at once (default 100)
//   --print-events           print every event: {"conn":i,"event":{...}}
//   --hold                   after the summary, keep the connections open
//                            until standard input closes
//
// Standard output, one JSON object per line:
//   {"ready":N,"failed":F,"ms":T}        all connections are subscribed (or failed)
//   {"conn":i,"event":{...}}             with --print-events, as they arrive
//   {"connections":N,"complete":C,...}   the summary, see summary() below
//   {"closed":N,"close_codes":{...}}     after the connections were closed
// The exit status is 0 whatever was received (the test judges the numbers);
// 2 means bad arguments.

import { createHash } from "node:crypto";
import { parseArgs } from "node:util";
import WebSocket from "ws";

const CLOSE_WAIT_MS = 10000;

const OPTIONS = {
    url: { type: "string" },
    connections: { type: "string", default: "1" },
    topics: { type: "string" },
    "topic-count": { type: "string" },
    "topic-pattern": { type: "string", default: "topic-{k}" },
    expect: { type: "string", default: "0" },
    "first-seq": { type: "string", default: "1" },
    "timeout-ms": { type: "string", default: "60000" },
    "connect-timeout-ms": { type: "string", default: "30000" },
    batch: { type: "string", default: "100" },
    "print-events": { type: "boolean", default: false },
    hold: { type: "boolean", default: false },
};

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
    let topics;
    if (values.topics !== undefined)
        topics = values.topics.split(",").filter((t) => t.length > 0);
    else {
        const count = values["topic-count"] === undefined ? 1 : number("topic-count");
        topics = [];
        for (let k = 0; k < count; k++)
            topics.push(values["topic-pattern"].replaceAll("{k}", String(k)));
    }
    if (topics.length === 0)
        usage("no topics");
    const options = {
        url: values.url,
        connections: number("connections"),
        topics,
        expect: number("expect"),
        firstSeq: number("first-seq"),
        timeoutMs: number("timeout-ms"),
        connectTimeoutMs: number("connect-timeout-ms"),
        batch: Math.max(1, number("batch")),
        printEvents: values["print-events"],
        hold: values.hold,
    };
    if (options.connections < 1)
        usage("--connections must be at least 1");
    return options;
}

function usage(message) {
    process.stderr.write(`subscribers.mjs: ${message}\n`);
    process.exit(2);
}

function emit(object) {
    process.stdout.write(JSON.stringify(object) + "\n");
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

// Totals over all connections; summary() prints them.
const totals = {
    events: 0,          // event messages received (all of them, even bad ones)
    duplicates: 0,      // an event whose seq this connection had already received
    out_of_order: 0,    // a new seq that is not the previous seq + 1
    wrong_topic: 0,     // an event for a topic this connection did not subscribe to
    unexpected_seq: 0,  // a seq outside first-seq .. first-seq + expect - 1
    bad_messages: 0,    // binary, not JSON, or neither an event nor a known reply
    errors: 0,          // {"type":"error",...} replies
    closed_early: 0,    // connections closed before they were complete
    connect_failed: 0,  // connections that never got their "subscribed" reply
};
const closeCodes = {};  // close code -> connections
const problems = [];    // the first few problems, in words, for the test's message

function problem(text) {
    if (problems.length < 20)
        problems.push(text);
}

class Subscriber {
    constructor(index, topic, options) {
        this.index = index;
        this.topic = topic;
        this.options = options;
        this.ws = null;
        this.subscribed = false;
        this.closed = false;
        this.lastSeq = null;         // seq of the previous event
        this.distinct = 0;           // distinct expected seqs received
        this.maxSeq = options.firstSeq - 1;
        this.seen = new Uint8Array(options.expect);  // seen[seq - firstSeq]
        this.hash = createHash("sha256");  // over seq, event_type and data, in arrival order
        this.onComplete = null;
    }

    // Opens the connection and subscribes; resolves true once the server
    // confirmed the subscription, false when it failed.
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
            ws.on("open", () => ws.send(JSON.stringify({ type: "subscribe", topics: [this.topic] })));
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
        return this.options.expect > 0 && this.distinct === this.options.expect;
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
        const topics = message.topics;
        if (this.subscribed || !Array.isArray(topics) || topics.length !== 1 || topics[0] !== this.topic) {
            totals.bad_messages++;
            problem(`connection ${this.index}: unexpected reply ${JSON.stringify(message)}`);
            return;
        }
        this.subscribed = true;
        this.settleSubscribe(true);
    }

    onEvent(event) {
        totals.events++;
        if (this.options.printEvents)
            emit({ conn: this.index, event });
        if (event.topic !== this.topic) {
            totals.wrong_topic++;
            problem(`connection ${this.index} (${this.topic}): event of topic ${event.topic} seq ${event.seq}`);
            return;
        }
        const { seq } = event;
        const slot = seq - this.options.firstSeq;
        const inRange = this.options.expect === 0 ||
            (Number.isInteger(slot) && slot >= 0 && slot < this.options.expect);
        if (inRange && this.options.expect > 0 && this.seen[slot]) {
            totals.duplicates++;
            problem(`connection ${this.index} (${this.topic}): duplicate seq ${seq}`);
            return;
        }
        const expected = this.lastSeq === null ? this.options.firstSeq : this.lastSeq + 1;
        if (seq !== expected) {
            totals.out_of_order++;
            problem(`connection ${this.index} (${this.topic}): seq ${seq} after ${this.lastSeq}`);
        }
        this.lastSeq = seq;
        this.hash.update(`${seq} ${event.event_type} ${JSON.stringify(event.data)}\n`);
        if (!inRange) {
            totals.unexpected_seq++;
            problem(`connection ${this.index} (${this.topic}): unexpected seq ${seq}`);
            return;
        }
        if (this.options.expect > 0)
            this.seen[slot] = 1;
        this.distinct++;
        this.maxSeq = Math.max(this.maxSeq, seq);
        if (this.complete && this.onComplete)
            this.onComplete(this);
    }

    // Seqs missing below the highest one received: holes that will not be filled.
    gaps() {
        if (this.options.expect === 0)
            return 0;  // nothing to compare with: out_of_order tells
        let gaps = 0;
        for (let seq = this.options.firstSeq; seq < this.maxSeq; seq++)
            if (!this.seen[seq - this.options.firstSeq])
                gaps++;
        return gaps;
    }

    // Closes the connection normally; resolves when it is closed (or after
    // CLOSE_WAIT_MS).
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

// Opens the connections |batch| at a time, so that a slow (sanitizer) server
// is not flooded with handshakes; returns how many failed.
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
            failed += subscribers.length - start - batch.length;  // never opened
            break;
        }
    }
    totals.connect_failed = failed;
    return failed;
}

// Resolves when every connection is complete or closed, or at the timeout.
function receiveAll(subscribers, options) {
    return new Promise((resolve) => {
        const timer = setTimeout(() => resolve("timeout"), options.timeoutMs);
        const check = () => {
            const waiting = subscribers.some((s) => !s.complete && !s.closed);
            if (!waiting) {
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

function summary(subscribers, options, ms, outcome) {
    let gaps = 0;
    let complete = 0;
    const digests = {};  // topic -> {sha256 of what a connection received -> connections}
    for (const s of subscribers) {
        gaps += s.gaps();
        if (s.complete)
            complete++;
        if (s.closed && !s.complete)
            totals.closed_early++;
        const digest = s.hash.digest("hex");
        digests[s.topic] = digests[s.topic] || {};
        digests[s.topic][digest] = (digests[s.topic][digest] || 0) + 1;
    }
    return {
        connections: subscribers.length,
        complete,
        ...totals,
        gaps,
        outcome,
        ms,
        close_codes: closeCodes,
        digests,
        problems,
    };
}

async function main() {
    const options = parseOptions();
    const subscribers = [];
    for (let i = 0; i < options.connections; i++)
        subscribers.push(new Subscriber(i, options.topics[i % options.topics.length], options));

    const connectStart = Date.now();
    const failed = await openAll(subscribers, options);
    emit({ ready: subscribers.length - failed, failed, ms: Date.now() - connectStart });

    const receiveStart = Date.now();
    const outcome = failed > 0 ? "connect_failed" : await receiveAll(subscribers, options);
    for (const s of subscribers)
        s.onClose = s.onComplete = null;
    emit(summary(subscribers, options, Date.now() - receiveStart, outcome));

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
    process.stderr.write(`subscribers.mjs: ${err.stack}\n`);
    process.exit(1);
});
