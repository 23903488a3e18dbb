// common.mjs: what the Node clients of ringcast's integration tests share.
//
//   - the command line: parseCommandLine(), and for the scripts that take a
//     list of named connections (audience_clients.mjs, auth_clients.mjs)
//     parseSpec();
//   - output: emit() writes one JSON object per line;
//   - many WebSocket subscribers in one process (subscribers.mjs,
//     pattern_subscribers.mjs): Report (counters, close codes, problems),
//     WsSubscriber (one connection: subscribe, messages, close) and
//     runSubscribers() (connect in batches, receive, summary, hold, close);
//   - named connections relayed line by line until standard input closes
//     (audience_clients.mjs, auth_clients.mjs): NamedClients.
//
// The scripts document their own options and output; this module prints
// nothing of its own except through them.

import { parseArgs } from "node:util";
import WebSocket from "ws";

const CLOSE_WAIT_MS = 10000;
const MAX_PROBLEMS = 20;

// ---- command line and output ------------------------------------------------------

// Parses process.argv with |options| (node:util parseArgs). Returns
// {values, usage, number}: usage(message) prints "SCRIPT: message" and exits
// 2; number(name) is option |name| as a non-negative integer (or usage()).
export function parseCommandLine(script, options) {
    const usage = (message) => {
        process.stderr.write(`${script}: ${message}\n`);
        process.exit(2);
    };
    let values;
    try {
        ({ values } = parseArgs({ options }));
    } catch (err) {
        usage(err.message);
    }
    const number = (name) => {
        const n = Number(values[name]);
        if (!Number.isInteger(n) || n < 0)
            usage(`--${name} must be a non-negative integer`);
        return n;
    };
    return { values, usage, number };
}

export function emit(object) {
    process.stdout.write(JSON.stringify(object) + "\n");
}

export const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

// Runs the async |main|; an exception is printed and the exit status is 1.
export function runMain(script, main) {
    main().catch((err) => {
        process.stderr.write(`${script}: ${err.stack}\n`);
        process.exit(1);
    });
}

// ---- many WebSocket subscribers ---------------------------------------------------

// Options every subscriber script takes (see subscribers.mjs for their meaning).
export const SUBSCRIBER_OPTIONS = {
    url: { type: "string" },
    connections: { type: "string", default: "1" },
    "timeout-ms": { type: "string", default: "60000" },
    "connect-timeout-ms": { type: "string", default: "30000" },
    batch: { type: "string", default: "100" },
    hold: { type: "boolean", default: false },
};

// Parses SUBSCRIBER_OPTIONS plus |extra|. Returns {values, usage, number,
// options}, options holding url, connections, timeoutMs, connectTimeoutMs,
// batch and hold.
export function parseSubscriberOptions(script, extra) {
    const parsed = parseCommandLine(script, { ...SUBSCRIBER_OPTIONS, ...extra });
    const { values, usage, number } = parsed;
    if (!values.url)
        usage("--url is required");
    const options = {
        url: values.url,
        connections: number("connections"),
        timeoutMs: number("timeout-ms"),
        connectTimeoutMs: number("connect-timeout-ms"),
        batch: Math.max(1, number("batch")),
        hold: values.hold,
    };
    if (options.connections < 1)
        usage("--connections must be at least 1");
    return { ...parsed, options };
}

// What the subscribers of one process count: "events", the script's own
// |counters| (name -> 0, in the order the summary lists them), and the
// counters every script has; the close codes seen; the first few problems,
// in words, for the test's message.
export class Report {
    constructor(counters) {
        this.totals = {
            events: 0,          // event messages received
            ...counters,
            bad_messages: 0,    // binary, not JSON, or neither an event nor a known reply
            errors: 0,          // {"type":"error",...} replies
            closed_early: 0,    // connections closed before they were complete
            connect_failed: 0,  // connections that never got their "subscribed" reply
        };
        this.closeCodes = {};   // close code -> connections
        this.problems = [];
    }

    problem(text) {
        if (this.problems.length < MAX_PROBLEMS)
            this.problems.push(text);
    }

    // The summary line's common part; counts the connections closed early.
    summary(subscribers, ms, outcome) {
        let complete = 0;
        for (const s of subscribers) {
            if (s.complete)
                complete++;
            if (s.closed && !s.complete)
                this.totals.closed_early++;
        }
        return { connections: subscribers.length, complete, ...this.totals, outcome, ms,
                 close_codes: this.closeCodes, problems: this.problems };
    }
}

// {key(s) -> {value(s) -> connections}} over |subscribers|.
export function tally(subscribers, key, value) {
    const groups = {};
    for (const s of subscribers) {
        const group = (groups[key(s)] = groups[key(s)] || {});
        const v = value(s);
        group[v] = (group[v] || 0) + 1;
    }
    return groups;
}

// One WebSocket connection that subscribes to |topics| in one message. A
// subclass defines "complete", onEvent(event) (a message with a numeric seq
// and a string topic) and may call this.onComplete(this) when it becomes
// complete.
export class WsSubscriber {
    constructor(index, topics, options, report) {
        this.index = index;
        this.topics = topics;
        this.options = options;
        this.report = report;
        this.ws = null;
        this.subscribed = false;
        this.closed = false;
        this.onComplete = null;
        this.onClose = null;
    }

    problem(text) {
        this.report.problem(`connection ${this.index}${text}`);
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
            ws.on("open", () => ws.send(JSON.stringify({ type: "subscribe", topics: this.topics })));
            ws.on("message", (data, isBinary) => this.onMessage(data, isBinary));
            ws.on("error", (err) => {
                this.problem(`: ${err.message}`);
                settle(false);
            });
            ws.on("close", (code) => {
                this.closed = true;
                const codes = this.report.closeCodes;
                codes[code] = (codes[code] || 0) + 1;
                settle(false);
                if (this.onClose)
                    this.onClose(this, code);
            });
        });
    }

    onMessage(data, isBinary) {
        const totals = this.report.totals;
        let message;
        try {
            if (isBinary)
                throw new Error("binary frame");
            message = JSON.parse(data.toString("utf8"));
        } catch (err) {
            totals.bad_messages++;
            this.problem(`: bad message (${err.message}): ${String(data).slice(0, 200)}`);
            return;
        }
        if (message.type === "subscribed")
            return this.onSubscribed(message);
        if (message.type === "error") {
            totals.errors++;
            this.problem(`: error reply ${JSON.stringify(message)}`);
            return;
        }
        if (typeof message.seq !== "number" || typeof message.topic !== "string") {
            totals.bad_messages++;
            this.problem(`: unknown message ${JSON.stringify(message).slice(0, 200)}`);
            return;
        }
        this.onEvent(message);
    }

    // The reply must list exactly the topics subscribed to, and come once.
    onSubscribed(message) {
        const want = JSON.stringify(this.topics);
        if (this.subscribed || JSON.stringify(message.topics) !== want) {
            this.report.totals.bad_messages++;
            this.problem(`: unexpected reply ${JSON.stringify(message)} to ${want}`);
            return;
        }
        this.subscribed = true;
        this.settleSubscribe(true);
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
async function openAll(subscribers, options, report) {
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
                    batch[i].problem(`: not subscribed within ${options.connectTimeoutMs} ms`);
            }
        }
        if (failed > 0) {
            failed += subscribers.length - start - batch.length;  // never opened
            break;
        }
    }
    report.totals.connect_failed = failed;
    return failed;
}

// Resolves "done" when every connection is complete or closed, or "timeout".
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

// After the summary: with --hold, waits until standard input closes; then
// closes the connections and prints {"closed":N,"close_codes":{...}}.
async function closeAll(subscribers, options, report) {
    if (options.hold) {
        process.stdin.resume();
        await new Promise((resolve) => process.stdin.once("end", resolve).once("close", resolve));
    }
    for (const code of Object.keys(report.closeCodes))
        delete report.closeCodes[code];
    const open = subscribers.filter((s) => !s.closed).length;
    await Promise.all(subscribers.map((s) => s.close()));
    emit({ closed: open, close_codes: report.closeCodes });
}

// The whole run of a subscriber script: connects (prints the "ready" line),
// receives until every connection is complete (then, when options.settleMs
// is set, listens that much longer), prints summarize(ms, outcome), closes
// and exits 0.
export async function runSubscribers(subscribers, options, report, summarize) {
    const connectStart = Date.now();
    const failed = await openAll(subscribers, options, report);
    emit({ ready: subscribers.length - failed, failed, ms: Date.now() - connectStart });

    const receiveStart = Date.now();
    const outcome = failed > 0 ? "connect_failed" : await receiveAll(subscribers, options);
    if (outcome === "done" && options.settleMs !== undefined)
        await sleep(options.settleMs);  // late (extra) events are counted meanwhile
    for (const s of subscribers)
        s.onClose = s.onComplete = null;
    emit(summarize(Date.now() - receiveStart, outcome));

    await closeAll(subscribers, options, report);
    process.exit(0);
}

// ---- named connections ------------------------------------------------------------

// Parses --spec JSON (a non-empty array of connections, each with a string
// name and url and kind "sse" or "ws"; check(c, usage) adds the script's own
// rules) and --timeout-ms (default |defaultTimeoutMs|, a string).
export function parseSpec(script, defaultTimeoutMs, check = () => {}) {
    const { values, usage } = parseCommandLine(script, {
        spec: { type: "string" },
        "timeout-ms": { type: "string", default: defaultTimeoutMs },
    });
    if (!values.spec) usage("--spec is required");
    let spec;
    try {
        spec = JSON.parse(values.spec);
    } catch (e) {
        usage(`--spec is not JSON: ${e.message}`);
    }
    if (!Array.isArray(spec) || spec.length === 0) usage("--spec must be a non-empty array");
    for (const c of spec) {
        if (typeof c.name !== "string" || typeof c.url !== "string" ||
            (c.kind !== "sse" && c.kind !== "ws"))
            usage(`bad connection in --spec: ${JSON.stringify(c)}`);
        check(c, usage);
    }
    return { spec, timeoutMs: Number(values["timeout-ms"]) };
}

// Connections that print what happens to them, {"conn":NAME,...} lines,
// until standard input closes or the timeout: then they are closed, the
// line {"end":"stdin"|"timeout"} is printed and the process exits.
export class NamedClients {
    constructor() {
        this.closers = [];
        this.ended = false;
        this.timer = null;
    }

    problem(c, text) {
        emit({ conn: c.name, problem: text });
    }

    // Relays an EventSource: {"ready"} when it opens, the problem |reopened|
    // when it opens again, {"raw"} per event (every event of these tests has
    // the default type, "message"), and its error events as problems unless
    // onError(event) handled them (returned true).
    relayEventSource(c, source, { reopened, onError = () => false }) {
        let opened = false;
        source.onopen = () => {
            if (opened) {
                this.problem(c, reopened);
                return;
            }
            opened = true;
            emit({ ready: c.name });
        };
        source.onerror = (event) => {
            if (this.ended || onError(event)) return;
            this.problem(c, `error event: ${String(event.message ?? event.type)}` +
                         ` (readyState ${source.readyState})`);
        };
        source.onmessage = (event) => emit({ conn: c.name, raw: event.data });
        this.closers.push(() => source.close());
    }

    // Relays a WebSocket's messages: binary ones are problems; the first
    // "subscribed" reply makes it ready (the line ready(text)); any other
    // text before it goes to early(text); after it, each is {"raw"}. Its
    // errors are problems.
    relayWebSocket(c, ws, { ready, early }) {
        let subscribed = false;
        ws.on("message", (data, isBinary) => {
            const text = data.toString("utf8");
            if (isBinary) {
                this.problem(c, `binary message: ${text.slice(0, 200)}`);
                return;
            }
            if (!subscribed) {
                if (isSubscribedReply(text)) {
                    subscribed = true;
                    emit(ready(text));
                } else {
                    early(text);
                }
                return;
            }
            emit({ conn: c.name, raw: text });
        });
        ws.on("error", (err) => {
            if (!this.ended) this.problem(c, `error: ${err.message}`);
        });
    }

    // Runs until standard input closes or |timeoutMs| passed.
    runUntilEnd(timeoutMs) {
        this.timer = setTimeout(() => this.end("timeout"), timeoutMs);
        process.stdin.on("end", () => this.end("stdin"));
        process.stdin.on("close", () => this.end("stdin"));
        process.stdin.resume();
    }

    end(why) {
        if (this.ended) return;
        this.ended = true;
        clearTimeout(this.timer);
        for (const close of this.closers) close();
        emit({ end: why });
        // Let the close frames go, then leave whatever is still open.
        setTimeout(() => process.exit(0), 200);
    }
}

function isSubscribedReply(text) {
    try {
        const reply = JSON.parse(text);
        return Boolean(reply) && reply.type === "subscribed";
    } catch (e) {
        return false;
    }
}
