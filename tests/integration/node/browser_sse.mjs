// browser_sse.mjs: a browser's own EventSource (the Debian package chromium,
// headless, driven by the npm package playwright-core) subscribed to
// ringcast, for ringcast's integration tests (tests/integration/test_sse.py).
// No browser is downloaded: the installed /usr/bin/chromium is used.
//
//   node browser_sse.mjs --origin http://127.0.0.1:8080 \
//       --path '/v1/sse?topic=orders.42' --event call.status --count 3
//
// The page is first navigated to ORIGIN/healthz, so that the EventSource,
// opened on PATH by a script evaluated in the page, is same-origin. The page
// collects what it receives into window variables; this side polls them.
//
// Options:
//   --origin URL       the server's http://HOST:PORT (required)
//   --path PATH        the stream, relative to the origin (required)
//   --event TYPE       an event type to listen to with addEventListener
//                      (repeatable); "message" events are always received,
//                      through onmessage
//   --count N          exit after N events (default 1)
//   --timeout-ms MS    give up this long after the browser started (default 30000)
//   --chromium PATH    the browser (default /usr/bin/chromium)
//   --user-data-dir D  the browser profile: a new, empty folder, left for the
//                      caller to remove (default: a new temporary folder,
//                      removed at the end)
//
// Standard output, one JSON object per line:
//   {"browser":"<version>"}                            the browser is up
//   {"open":true}                                      the stream is open
//   {"type":T,"lastEventId":ID,"data":<parsed JSON>}   an event, as received
//   {"error":"...","readyState":N}                     an error event
//   {"done":N}  or  {"timeout":N}                      the end: N events seen
// Exit status: 0 after N events, 1 on timeout or a browser failure, 2 for
// bad arguments.

import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { DEFAULT_CHROMIUM, launchChromium } from "./chromium.mjs";

const POLL_MS = 50;

function parseOptions() {
    try {
        const { values } = parseArgs({
            options: {
                origin: { type: "string" },
                path: { type: "string" },
                event: { type: "string", multiple: true, default: [] },
                count: { type: "string", default: "1" },
                "timeout-ms": { type: "string", default: "30000" },
                chromium: { type: "string", default: DEFAULT_CHROMIUM },
                "user-data-dir": { type: "string" },
            },
        });
        if (!values.origin || !values.path) throw new Error("--origin and --path are required");
        return {
            origin: values.origin,
            path: values.path,
            events: values.event,
            count: Number(values.count),
            timeoutMs: Number(values["timeout-ms"]),
            chromium: values.chromium,
            userDataDir: values["user-data-dir"],
        };
    } catch (e) {
        process.stderr.write(`browser_sse.mjs: ${e.message}\n`);
        process.exit(2);
    }
}

function print(object) {
    process.stdout.write(JSON.stringify(object) + "\n");
}

// Runs in the page: opens the EventSource and records what it delivers in
// window.sseOpen and window.sseRecords (drained by the Node side).
function openEventSource({ path, events }) {
    window.sseOpen = false;
    window.sseRecords = [];
    const record = (event) => window.sseRecords.push(
        { type: event.type, lastEventId: event.lastEventId, data: event.data });
    const source = new EventSource(path);
    source.onopen = () => { window.sseOpen = true; };
    source.onerror = () => window.sseRecords.push(
        { error: "error event", readyState: source.readyState });
    source.onmessage = record;
    for (const type of events) {
        if (type !== "message") source.addEventListener(type, record);
    }
    window.sseSource = source;
}

function parsed(record) {
    if (!("data" in record)) return record;
    try {
        return { ...record, data: JSON.parse(record.data) };
    } catch (e) {
        return { ...record, data: { unparsable: record.data, error: e.message } };
    }
}

async function receive(page, options, deadline) {
    let open = false;
    let received = 0;
    while (Date.now() < deadline) {
        const state = await page.evaluate(
            () => ({ open: window.sseOpen, records: window.sseRecords.splice(0) }));
        if (state.open && !open) {
            open = true;
            print({ open: true });
        }
        for (const record of state.records) {
            print(parsed(record));
            if ("type" in record && ++received === options.count) {
                await page.evaluate(() => window.sseSource.close());
                return { summary: { done: received }, code: 0 };
            }
        }
        await new Promise((resolve) => setTimeout(resolve, POLL_MS));
    }
    return { summary: { timeout: received }, code: 1 };
}

async function main() {
    const options = parseOptions();
    // Whatever happens in the browser, this process ends.
    setTimeout(() => process.exit(1), options.timeoutMs + 15000).unref();
    const deadline = Date.now() + options.timeoutMs;
    const profile = options.userDataDir ?? mkdtempSync(join(tmpdir(), "ringcast-chromium-"));
    let context;
    try {
        context = await launchChromium(options.chromium, profile, options.timeoutMs);
        print({ browser: context.browser()?.version() ?? "unknown" });
        const page = context.pages()[0] ?? await context.newPage();
        await page.goto(options.origin + "/healthz", { timeout: Math.max(1, deadline - Date.now()) });
        await page.evaluate(openEventSource, { path: options.path, events: options.events });
        const { summary, code } = await receive(page, options, deadline);
        print(summary);
        process.exitCode = code;
    } catch (e) {
        print({ failure: String(e.stack ?? e) });
        process.exitCode = 1;
    } finally {
        if (context) await context.close().catch(() => {});
        if (!options.userDataDir) rmSync(profile, { recursive: true, force: true });
    }
}

await main();
