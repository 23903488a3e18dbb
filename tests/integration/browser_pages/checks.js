// checks.js: a web app on another origin using ringcast, as browsers allow
// it (test_browsers.py judges what this page saw; it judges nothing).
//
// Parameters, JSON in the fragment (page.html#{...}):
//   http     ringcast's http://HOST:PORT     ws    its ws://HOST:PORT
//   topic    the topic to subscribe and publish to
//   token    a bearer token (subscribe and publish on topic), or ""
//   fetch    a path /v1/messages/TOPIC/SEQ to fetch with the token
//   events   the SSE query's events= value, or ""
// Result (window.pageResult): for each check, what happened:
//   sse, sseCredentials  EventSource without and with withCredentials:
//                        {opened, errors, readyState, received:[{type, data}]}
//   publish              fetch POST /v1/publish with the bearer token:
//                        {status, body} or {failed: message}
//   fetched              fetch GET of |fetch| with the bearer token: the same
//   ws                   WebSocket /v1/ws: {opened, closeCode}
// With "mode": "wsEvent" in the parameters, only this check runs instead:
//   wsEvent              a WebSocket subscribes to |topic|, the page publishes
//                        an event of |pad| bytes of padding with fetch, and the
//                        socket reports {extensions, subscribed, event}

const params = JSON.parse(decodeURIComponent(location.hash.slice(1)));
const WAIT_MS = 5000;

function sleep(ms) {
    return new Promise((resolve) => setTimeout(resolve, ms));
}

async function until(predicate, ms) {
    const end = Date.now() + ms;
    while (!predicate() && Date.now() < end) await sleep(20);
}

function stream(withCredentials) {
    const query = new URLSearchParams({ topic: params.topic });
    if (params.token) query.set("token", params.token);
    if (params.events) query.set("events", params.events);
    const seen = { opened: false, errors: 0, readyState: null, received: [] };
    const source = new EventSource(`${params.http}/v1/sse?${query}`, { withCredentials });
    source.onopen = () => { seen.opened = true; };
    source.onerror = () => {
        seen.errors++;
        // A refused stream is closed by the browser (readyState 2): it does
        // not reconnect. Stop any retry all the same.
        if (!seen.opened) source.close();
    };
    source.onmessage = (e) => seen.received.push({ type: e.type, data: JSON.parse(e.data) });
    source.addEventListener("browser.test",
                            (e) => seen.received.push({ type: e.type, data: JSON.parse(e.data) }));
    return { seen, source };
}

async function request(path, init) {
    try {
        const response = await fetch(`${params.http}${path}`, init);
        return { status: response.status, body: await response.json() };
    } catch (e) {
        return { failed: String(e.message ?? e) };
    }
}

function bearer(extra) {
    return params.token ? { Authorization: `Bearer ${params.token}`, ...extra } : { ...extra };
}

function socket() {
    const seen = { opened: false, closeCode: null };
    const query = params.token ? `?token=${encodeURIComponent(params.token)}` : "";
    const ws = new WebSocket(`${params.ws}/v1/ws${query}`);
    ws.onopen = () => { seen.opened = true; ws.close(1000); };
    ws.onclose = (e) => { seen.closeCode = e.code; };
    return seen;
}

async function wsEvent() {
    const seen = { extensions: null, subscribed: null, event: null };
    const ws = new WebSocket(`${params.ws}/v1/ws`);
    ws.onopen = () => {
        seen.extensions = ws.extensions;
        ws.send(JSON.stringify({ type: "subscribe", topics: [params.topic] }));
    };
    ws.onmessage = (e) => {
        const message = JSON.parse(e.data);
        if (message.type === "subscribed") seen.subscribed = message;
        else seen.event = message;
    };
    await until(() => seen.subscribed !== null, WAIT_MS);
    const publish = await request("/v1/publish", {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ topic: params.topic, event_type: "browser.test",
                               data: { from: location.origin, pad: "ab".repeat(params.pad / 2) } }),
    });
    await until(() => seen.event !== null, WAIT_MS);
    ws.close(1000);
    window.pageResult = { origin: location.origin, publish, wsEvent: seen };
}

async function run() {
    if (params.mode === "wsEvent")
        return wsEvent();
    const plain = stream(false), credentials = stream(true);
    const ws = socket();
    const settled = (s) => s.opened || s.source.readyState === EventSource.CLOSED;
    await until(() => settled(plain) && settled(credentials), WAIT_MS);
    const publish = await request("/v1/publish", {
        method: "POST",
        headers: bearer({ "Content-Type": "application/json" }),
        body: JSON.stringify({ topic: params.topic, event_type: "browser.test",
                               data: { from: location.origin } }),
    });
    const expected = (s) => s.seen.opened ? 1 : 0;
    await until(() => plain.seen.received.length >= expected(plain) &&
                      credentials.seen.received.length >= expected(credentials), WAIT_MS);
    const fetched = await request(params.fetch, { headers: bearer({}) });
    await until(() => ws.closeCode !== null, WAIT_MS);
    for (const s of [plain, credentials]) {
        s.seen.readyState = s.source.readyState;
        s.source.close();
    }
    window.pageResult = { origin: location.origin, sse: plain.seen,
                          sseCredentials: credentials.seen, publish, fetched, ws };
}

run().catch((e) => { window.pageResult = { failure: String(e.stack ?? e) }; });
