// lambda_client.mjs: a client that speaks exactly as the app of
// lambda-websocket-pubsub does (its reference page, /work/shared/reference/):
// over WebSocket it sends {"action":"SUBSCRIBE","topicId":…} and
// {"action":"UNSUBSCRIBE","topicId":…}; its backend's publishToTopic call
// posts {"topicId":…,"data":…}.
//
//   node lambda_client.mjs --url ws://HOST:PORT/v1/ws --http http://HOST:PORT
//
// Standard input, one JSON object per line:
//   {"send": OBJECT}                 ws.send(JSON.stringify(OBJECT))
//   {"publish": BODY}                POST BODY as JSON to /v1/publish
// Standard output, one JSON object per line:
//   {"open": true}                   connected
//   {"message": OBJECT}              a message from the server, parsed
//   {"published": STATUS, "body": OBJECT}
//   {"closed": CODE}                 the connection closed (then exits 0)

import readline from "node:readline";
import WebSocket from "ws";

import { emit, parseCommandLine, runMain } from "./common.mjs";

const SCRIPT = "lambda_client.mjs";

async function publish(httpBase, body) {
    const response = await fetch(`${httpBase}/v1/publish`, {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify(body),
    });
    emit({ published: response.status, body: await response.json() });
}

runMain(SCRIPT, async () => {
    const { values, usage } = parseCommandLine(SCRIPT, {
        url: { type: "string" },
        http: { type: "string" },
    });
    if (!values.url || !values.http)
        usage("--url and --http are required");
    const ws = new WebSocket(values.url);
    ws.on("open", () => emit({ open: true }));
    ws.on("message", (data) => emit({ message: JSON.parse(data.toString()) }));
    ws.on("error", (err) => process.stderr.write(`${SCRIPT}: ${err.message}\n`));
    const closed = new Promise((resolve) => ws.on("close", (code) => resolve(code)));
    const lines = readline.createInterface({ input: process.stdin });
    lines.on("line", (line) => {
        const command = JSON.parse(line);
        if (command.send !== undefined)
            ws.send(JSON.stringify(command.send));
        else if (command.publish !== undefined)
            publish(values.http, command.publish).catch((err) => {
                process.stderr.write(`${SCRIPT}: ${err.stack}\n`);
                process.exit(1);
            });
    });
    lines.on("close", () => ws.close(1000));
    emit({ closed: await closed });
    process.exit(0);
});
