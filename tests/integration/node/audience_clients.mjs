// audience_clients.mjs: several named subscribers in one Node process, for
// ringcast's audience-filtering tests (tests/integration/test_audience.py):
// Server-Sent Events streams opened with the npm package "eventsource" and
// WebSocket connections opened with the npm package "ws" (clients we did not
// write). Each connection carries its own token in its URL (?token=...).
//
//   node audience_clients.mjs --spec '[{"name":"b","kind":"sse",
//       "url":"http://127.0.0.1:8080/v1/sse?topic=*&token=..."},
//       {"name":"e","kind":"ws","url":"ws://127.0.0.1:8080/v1/ws?token=...",
//        "topics":["*"]}]'
//
// Options:
//   --spec JSON        the connections: name, kind ("sse" or "ws"), url, and
//                      for "ws" the topics to subscribe to (required)
//   --timeout-ms MS    give up this long after starting (default 90000)
//
// Standard output, one JSON object per line:
//   {"ready":NAME}                      the stream is open / subscribed
//   {"conn":NAME,"raw":TEXT}            an event, its JSON text exactly as
//                                       received (SSE: the joined data lines)
//   {"conn":NAME,"problem":TEXT}        anything unexpected (an error event,
//                                       a reconnect, a close, a reply that is
//                                       not an event)
//   {"end":"stdin"|"timeout"}           the end, after which the process exits
// The process runs until its standard input closes (or the timeout).
// Exit status: 0, or 2 for bad arguments.

import { parseArgs } from "node:util";
import { EventSource } from "eventsource";
import WebSocket from "ws";

function usage(message) {
    process.stderr.write(`audience_clients.mjs: ${message}\n`);
    process.exit(2);
}

function parseOptions() {
    let values;
    try {
        ({ values } = parseArgs({
            options: {
                spec: { type: "string" },
                "timeout-ms": { type: "string", default: "90000" },
            },
        }));
    } catch (e) {
        usage(e.message);
    }
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
        if (c.kind === "ws" && !Array.isArray(c.topics)) usage(`${c.name}: ws needs topics`);
    }
    return { spec, timeoutMs: Number(values["timeout-ms"]) };
}

function print(object) {
    process.stdout.write(JSON.stringify(object) + "\n");
}

const options = parseOptions();
const closers = [];
let ended = false;

function openSSE(c) {
    const source = new EventSource(c.url);
    let opened = false;
    source.onopen = () => {
        if (opened) {
            print({ conn: c.name, problem: "the stream reopened (events may be lost)" });
            return;
        }
        opened = true;
        print({ ready: c.name });
    };
    source.onerror = (event) => {
        if (ended) return;
        print({ conn: c.name, problem: `error event: ${String(event.message ?? event.type)}` +
                ` (readyState ${source.readyState})` });
    };
    // Every event of these tests has the default type, "message".
    source.onmessage = (event) => print({ conn: c.name, raw: event.data });
    closers.push(() => source.close());
}

function openWS(c) {
    const ws = new WebSocket(c.url);
    let subscribed = false;
    ws.on("open", () => ws.send(JSON.stringify({ type: "subscribe", topics: c.topics })));
    ws.on("message", (data, isBinary) => {
        const text = data.toString("utf8");
        if (isBinary) {
            print({ conn: c.name, problem: `binary message: ${text.slice(0, 200)}` });
            return;
        }
        if (!subscribed) {
            let reply;
            try {
                reply = JSON.parse(text);
            } catch (e) {
                reply = null;
            }
            if (reply && reply.type === "subscribed") {
                subscribed = true;
                print({ ready: c.name });
            } else {
                print({ conn: c.name, problem: `before "subscribed": ${text.slice(0, 300)}` });
            }
            return;
        }
        print({ conn: c.name, raw: text });
    });
    ws.on("error", (err) => {
        if (!ended) print({ conn: c.name, problem: `error: ${err.message}` });
    });
    ws.on("close", (code, reason) => {
        if (!ended) print({ conn: c.name, problem: `closed early: ${code} ${reason}` });
    });
    closers.push(() => ws.close(1000));
}

for (const c of options.spec) {
    if (c.kind === "sse") openSSE(c);
    else openWS(c);
}

function end(why) {
    if (ended) return;
    ended = true;
    clearTimeout(timer);
    for (const close of closers) close();
    print({ end: why });
    // Let the close frames go, then leave whatever is still open.
    setTimeout(() => process.exit(0), 200);
}

const timer = setTimeout(() => end("timeout"), options.timeoutMs);
process.stdin.on("end", () => end("stdin"));
process.stdin.on("close", () => end("stdin"));
process.stdin.resume();
