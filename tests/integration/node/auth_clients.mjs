// auth_clients.mjs: WebSocket and Server-Sent Events clients that carry a
// token the ways a browser or a Node service would, for ringcast's
// authentication tests (tests/integration/test_auth.py). The clients are the
// npm packages "ws" (which itself checks that the server answers one of the
// subprotocols it offered) and "eventsource" (with a custom fetch that adds
// an Authorization header).
//
//   node auth_clients.mjs --spec '[
//       {"name":"a","kind":"ws","url":"ws://127.0.0.1:8080/v1/ws",
//        "protocols":["bearer.<jwt>"],"topics":["jobs:*"]},
//       {"name":"b","kind":"sse","url":"http://127.0.0.1:8080/v1/sse?topic=jobs:*",
//        "headers":{"Authorization":"Bearer <jwt>"}}]'
//
// Connection fields: name, kind ("ws" or "sse"), url; optional "protocols"
// (ws: the subprotocols offered), "headers" (extra request headers), and
// "topics" (ws: subscribed to once open; may be empty).
//
// Options:
//   --spec JSON        the connections (required)
//   --timeout-ms MS    give up this long after starting (default 25000)
//
// Standard output, one JSON object per line:
//   {"open":NAME,"protocol":P}          ws: the handshake succeeded; P is the
//                                       subprotocol the server chose ("" none)
//   {"ready":NAME}                      ws: "subscribed" came back (its text
//                                       in "reply"); sse: the stream is open
//   {"conn":NAME,"raw":TEXT}            a message (ws) or record data (sse)
//   {"conn":NAME,"status":N}            the server refused the request with
//                                       HTTP status N (ws: unexpected-response;
//                                       sse: the error event's code)
//   {"conn":NAME,"problem":TEXT}        anything else unexpected
//   {"conn":NAME,"closed":CODE}         ws: the server closed the connection
//   {"end":"stdin"|"timeout"}           the end, after which the process exits
// The process runs until its standard input closes (or the timeout).
// Exit status: 0, or 2 for bad arguments.

import { parseArgs } from "node:util";
import { EventSource } from "eventsource";
import WebSocket from "ws";

function usage(message) {
    process.stderr.write(`auth_clients.mjs: ${message}\n`);
    process.exit(2);
}

function parseOptions() {
    let values;
    try {
        ({ values } = parseArgs({
            options: {
                spec: { type: "string" },
                "timeout-ms": { type: "string", default: "25000" },
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
    const extra = c.headers ?? {};
    const source = new EventSource(c.url, {
        fetch: (input, init) => fetch(input, { ...init, headers: { ...init.headers, ...extra } }),
    });
    let opened = false;
    source.onopen = () => {
        if (opened) {
            print({ conn: c.name, problem: "the stream reopened" });
            return;
        }
        opened = true;
        print({ ready: c.name });
    };
    source.onerror = (event) => {
        if (ended) return;
        if (typeof event.code === "number") {
            print({ conn: c.name, status: event.code });
            source.close();  // do not retry: the test looks at one attempt
            return;
        }
        print({ conn: c.name, problem: `error event: ${String(event.message ?? event.type)}` +
                ` (readyState ${source.readyState})` });
    };
    source.onmessage = (event) => print({ conn: c.name, raw: event.data });
    closers.push(() => source.close());
}

function openWS(c) {
    const ws = new WebSocket(c.url, c.protocols ?? [], { headers: c.headers ?? {} });
    let subscribed = false;
    ws.on("unexpected-response", (req, res) => {
        print({ conn: c.name, status: res.statusCode });
        req.destroy();
    });
    ws.on("open", () => {
        print({ open: c.name, protocol: ws.protocol });
        if (c.topics) ws.send(JSON.stringify({ type: "subscribe", topics: c.topics }));
    });
    ws.on("message", (data, isBinary) => {
        const text = data.toString("utf8");
        if (isBinary) {
            print({ conn: c.name, problem: `binary message: ${text.slice(0, 200)}` });
            return;
        }
        if (!subscribed) {
            let reply = null;
            try {
                reply = JSON.parse(text);
            } catch (e) {
                reply = null;
            }
            if (reply && reply.type === "subscribed") {
                subscribed = true;
                print({ ready: c.name, reply: text });
                return;
            }
        }
        print({ conn: c.name, raw: text });
    });
    ws.on("error", (err) => {
        if (!ended) print({ conn: c.name, problem: `error: ${err.message}` });
    });
    ws.on("close", (code) => {
        if (!ended) print({ conn: c.name, closed: code });
    });
    closers.push(() => {
        if (ws.readyState === WebSocket.OPEN) ws.close(1000);
        else ws.terminate();
    });
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
