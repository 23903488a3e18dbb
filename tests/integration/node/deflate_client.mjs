// deflate_client.mjs: a Node ws client with permessage-deflate on both ways:
// it offers the extension (as ws does by default) and compresses every
// message it sends (threshold 0), so the server must inflate them.
//
//   node deflate_client.mjs --url ws://HOST:PORT/v1/ws
//
// Standard input, one JSON object per line:
//   {"send": OBJECT}                 ws.send(JSON.stringify(OBJECT))
// Standard output, one JSON object per line:
//   {"open": true, "extensions": S}  connected; S: the agreed extensions
//   {"message": OBJECT}              a message from the server, parsed
//   {"closed": CODE}                 the connection closed (then exits 0)

import readline from "node:readline";
import WebSocket from "ws";

import { emit, parseCommandLine, runMain } from "./common.mjs";

const SCRIPT = "deflate_client.mjs";

runMain(SCRIPT, async () => {
    const { values, usage } = parseCommandLine(SCRIPT, { url: { type: "string" } });
    if (!values.url)
        usage("--url is required");
    const ws = new WebSocket(values.url, { perMessageDeflate: { threshold: 0 } });
    ws.on("open", () => emit({ open: true, extensions: ws.extensions }));
    ws.on("message", (data) => emit({ message: JSON.parse(data.toString()) }));
    ws.on("error", (err) => process.stderr.write(`${SCRIPT}: ${err.message}\n`));
    const closed = new Promise((resolve) => ws.on("close", (code) => resolve(code)));
    const lines = readline.createInterface({ input: process.stdin });
    lines.on("line", (line) => {
        const command = JSON.parse(line);
        if (command.send !== undefined)
            ws.send(JSON.stringify(command.send));
    });
    lines.on("close", () => ws.close(1000));
    emit({ closed: await closed });
    process.exit(0);
});
