// browser_page.mjs: pages loaded in a real browser (the Debian package
// chromium, headless, driven by the npm package playwright-core), for
// ringcast's integration tests (tests/integration/test_browsers.py). No
// browser is downloaded: the installed /usr/bin/chromium is used.
//
//   node browser_page.mjs --url http://127.0.0.1:4001/page.html#... \
//       --url http://127.0.0.1:4002/page.html#...
//
// Each page is loaded in turn, in one browser, and runs its own script; it
// says it is finished by setting window.pageResult, which is printed. What
// the page observed is for the caller to judge: this side only carries it.
//
// Options:
//   --url URL          a page to load (repeatable, in order; required)
//   --timeout-ms MS    the most each page may take (default 30000)
//   --chromium PATH    the browser (default /usr/bin/chromium)
//
// Standard output, one JSON object per line:
//   {"browser":"<version>"}            the browser is up
//   {"url":URL,"result":<pageResult>}  a page finished
//   {"url":URL,"timeout":true}         a page did not finish in time
//   {"console":TEXT}                   a line of a page's console (errors)
//   {"failure":TEXT}                   the browser failed
// Exit status: 0 when every page finished, 1 otherwise, 2 for bad arguments.

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
                url: { type: "string", multiple: true, default: [] },
                "timeout-ms": { type: "string", default: "30000" },
                chromium: { type: "string", default: DEFAULT_CHROMIUM },
            },
        });
        if (values.url.length === 0) throw new Error("--url is required");
        return { urls: values.url, timeoutMs: Number(values["timeout-ms"]),
                 chromium: values.chromium };
    } catch (e) {
        process.stderr.write(`browser_page.mjs: ${e.message}\n`);
        process.exit(2);
    }
}

function print(object) {
    process.stdout.write(JSON.stringify(object) + "\n");
}

async function runPage(context, url, timeoutMs) {
    const deadline = Date.now() + timeoutMs;
    const page = await context.newPage();
    page.on("console", (message) => {
        if (message.type() === "error") print({ console: message.text() });
    });
    try {
        await page.goto(url, { timeout: timeoutMs });
        while (Date.now() < deadline) {
            const result = await page.evaluate(() => window.pageResult);
            if (result !== undefined) {
                print({ url, result });
                return true;
            }
            await new Promise((resolve) => setTimeout(resolve, POLL_MS));
        }
        print({ url, timeout: true });
        return false;
    } finally {
        await page.close().catch(() => {});
    }
}

async function main() {
    const options = parseOptions();
    // Whatever happens in the browser, this process ends.
    setTimeout(() => process.exit(1),
               options.timeoutMs * options.urls.length + 30000).unref();
    const profile = mkdtempSync(join(tmpdir(), "ringcast-chromium-"));
    let context;
    try {
        context = await launchChromium(options.chromium, profile, options.timeoutMs);
        print({ browser: context.browser()?.version() ?? "unknown" });
        let ok = true;
        for (const url of options.urls) ok = (await runPage(context, url, options.timeoutMs)) && ok;
        process.exitCode = ok ? 0 : 1;
    } catch (e) {
        print({ failure: String(e.stack ?? e) });
        process.exitCode = 1;
    } finally {
        if (context) await context.close().catch(() => {});
        rmSync(profile, { recursive: true, force: true });
    }
}

await main();
