// sse_client.mjs: one Server-Sent Events subscriber written with the npm
// package "eventsource" (a client we did not write), for ringcast's
// integration tests (tests/integration/test_sse.py).
//
//   node sse_client.mjs --url 'http://127.0.0.1:8080/v1/sse?topic=orders.42' \
//       --event call.status --event message.received --count 3
//
// Options:
//   --url URL          the stream to open (required)
//   --event TYPE       an event type to listen to with addEventListener
//                      (repeatable); "message" events are always received,
//                      through onmessage
//   --count N          exit after N events (default 1)
//   --timeout-ms MS    give up this long after starting (default 20000)
//
// Standard output, one JSON object per line:
//   {"open":true}                                      the stream is open
//   {"type":T,"lastEventId":ID,"data":<parsed JSON>}   an event, as received
//   {"error":"...","readyState":N}                     an error event (the
//                                                      client then reconnects)
//   {"done":N}  or  {"timeout":N}                      the end: N events seen
// Exit status: 0 after N events, 1 on timeout, 2 for bad arguments.

import { EventSource } from "eventsource";
import { emit, parseCommandLine } from "./common.mjs";

function parseOptions() {
    const { values, usage } = parseCommandLine("sse_client.mjs", {
        url: { type: "string" },
        event: { type: "string", multiple: true, default: [] },
        count: { type: "string", default: "1" },
        "timeout-ms": { type: "string", default: "20000" },
    });
    if (!values.url) usage("--url is required");
    return {
        url: values.url,
        events: values.event,
        count: Number(values.count),
        timeoutMs: Number(values["timeout-ms"]),
    };
}

const options = parseOptions();
const source = new EventSource(options.url);
let received = 0;
let finished = false;

function finish(summary, code) {
    if (finished) return;
    finished = true;
    source.close();
    emit(summary);
    process.exitCode = code;
    clearTimeout(timer);
}

function onEvent(event) {
    if (finished) return;
    let data;
    try {
        data = JSON.parse(event.data);
    } catch (e) {
        data = { unparsable: event.data, error: e.message };
    }
    emit({ type: event.type, lastEventId: event.lastEventId, data });
    received += 1;
    if (received === options.count) finish({ done: received }, 0);
}

const timer = setTimeout(() => finish({ timeout: received }, 1), options.timeoutMs);
source.onopen = () => emit({ open: true });
source.onerror = (event) => emit({ error: String(event.message ?? event.type),
                                    readyState: source.readyState });
source.onmessage = onEvent;
for (const type of options.events) {
    if (type !== "message") source.addEventListener(type, onEvent);
}
