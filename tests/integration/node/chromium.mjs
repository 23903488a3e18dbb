// chromium.mjs: the installed Debian chromium (/usr/bin/chromium), headless,
// driven by playwright-core, as the browser-based test clients start it
// (browser_sse.mjs, browser_page.mjs). No browser is downloaded.

import { chromium } from "playwright-core";

export const DEFAULT_CHROMIUM = "/usr/bin/chromium";

const CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                       "--no-first-run", "--disable-background-networking",
                       "--disable-component-update", "--disable-sync"];

// launchChromium starts the browser |executablePath| with the profile folder
// |profile|, giving up after |timeoutMs|; returns its persistent context.
export function launchChromium(executablePath, profile, timeoutMs) {
    return chromium.launchPersistentContext(profile, {
        executablePath,
        headless: true,
        args: CHROMIUM_ARGS,
        timeout: timeoutMs,
    });
}
