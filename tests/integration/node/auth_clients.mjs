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

import { EventSource } from "eventsource";
import WebSocket from "ws";
import { NamedClients, emit, parseSpec } from "./common.mjs";

const options = parseSpec("auth_clients.mjs", "25000");
const clients = new NamedClients();

function openSSE(c) {
    const extra = c.headers ?? {};
    const source = new EventSource(c.url, {
        fetch: (input, init) => fetch(input, { ...init, headers: { ...init.headers, ...extra } }),
    });
    clients.relayEventSource(c, source, {
        reopened: "the stream reopened",
        onError: (event) => {
            if (typeof event.code !== "number") return false;
            emit({ conn: c.name, status: event.code });
            source.close();  // do not retry: the test looks at one attempt
            return true;
        },
    });
}

function openWS(c) {
    const ws = new WebSocket(c.url, c.protocols ?? [], { headers: c.headers ?? {} });
    ws.on("unexpected-response", (req, res) => {
        emit({ conn: c.name, status: res.statusCode });
        req.destroy();
    });
    ws.on("open", () => {
        emit({ open: c.name, protocol: ws.protocol });
        if (c.topics) ws.send(JSON.stringify({ type: "subscribe", topics: c.topics }));
    });
    clients.relayWebSocket(c, ws, {
        ready: (text) => ({ ready: c.name, reply: text }),
        early: (text) => emit({ conn: c.name, raw: text }),
    });
    ws.on("close", (code) => {
        if (!clients.ended) emit({ conn: c.name, closed: code });
    });
    clients.closers.push(() => {
        if (ws.readyState === WebSocket.OPEN) ws.close(1000);
        else ws.terminate();
    });
}

for (const c of options.spec) {
    if (c.kind === "sse") openSSE(c);
    else openWS(c);
}
clients.runUntilEnd(options.timeoutMs);
