// pusher_trigger.mjs: the `pusher` npm server library (5.x) against
// ringcast's Pusher HTTP API.
//
//   node pusher_trigger.mjs --port P --app-id ID --key KEY --secret S
//                           [--encryption-key BASE64] CALL
//
// CALL is a JSON array: ["trigger", channels, event, data] or
// ["triggerBatch", [{channel, name, data}, …]]. Prints one line:
// {"status":200,"body":"{}"} or, when the request failed,
// {"status":401,"body":"…"}.
import Pusher from "pusher";
import { parseArgs } from "node:util";
import { emit } from "./common.mjs";

const { values, positionals } = parseArgs({
    options: {
        host: { type: "string", default: "127.0.0.1" },
        port: { type: "string" },
        "app-id": { type: "string" },
        key: { type: "string" },
        secret: { type: "string" },
        "encryption-key": { type: "string" },
    },
    allowPositionals: true,
});
const pusher = new Pusher({
    appId: values["app-id"],
    key: values.key,
    secret: values.secret,
    host: values.host,
    port: values.port,
    useTLS: false,
    encryptionMasterKeyBase64: values["encryption-key"],
});
const [method, ...args] = JSON.parse(positionals[0]);
try {
    const response = await pusher[method](...args);
    emit({ status: response.status, body: await response.text() });
} catch (err) {
    emit({ status: err.status ?? -1, body: err.body ?? String(err) });
}
