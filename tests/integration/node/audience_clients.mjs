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

import { EventSource } from "eventsource";
import WebSocket from "ws";
import { NamedClients, parseSpec } from "./common.mjs";

const options = parseSpec("audience_clients.mjs", "90000", (c, usage) => {
    if (c.kind === "ws" && !Array.isArray(c.topics)) usage(`${c.name}: ws needs topics`);
});
const clients = new NamedClients();

function openSSE(c) {
    clients.relayEventSource(c, new EventSource(c.url),
                             { reopened: "the stream reopened (events may be lost)" });
}

function openWS(c) {
    const ws = new WebSocket(c.url);
    ws.on("open", () => ws.send(JSON.stringify({ type: "subscribe", topics: c.topics })));
    clients.relayWebSocket(c, ws, {
        ready: () => ({ ready: c.name }),
        early: (text) => clients.problem(c, `before "subscribed": ${text.slice(0, 300)}`),
    });
    ws.on("close", (code, reason) => {
        if (!clients.ended) clients.problem(c, `closed early: ${code} ${reason}`);
    });
    clients.closers.push(() => ws.close(1000));
}

for (const c of options.spec) {
    if (c.kind === "sse") openSSE(c);
    else openWS(c);
}
clients.runUntilEnd(options.timeoutMs);
