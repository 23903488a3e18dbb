// pusher_client.mjs: one pusher-js 8 client (its own Node transports)
// against ringcast's Pusher dialect, driven line by line.
//
//   node pusher_client.mjs --port P --key KEY [--host H] [--secret S]
//                          [--auth-endpoint URL --auth-token T]
//
// --secret signs private- channel subscriptions in the process, as the
// app's auth endpoint would (HMAC-SHA256 of "socket_id:channel");
// --auth-endpoint has pusher-js ask the app's endpoint instead (its own
// ajax transport, with "Authorization: Bearer T"); with neither it gets
// no authorization at all.
//
// Standard input: one JSON command per line:
//   {"op":"subscribe","channel":"c"}     {"op":"unsubscribe","channel":"c"}
//   {"op":"trigger","channel":"c","event":"client-e","data":…}  (a client event)
//   {"op":"disconnect"}
// Standard output: one JSON object per line:
//   {"state":"connected","socket_id":"1.2"} (and every other state change)
//   {"subscribed":"c"}
//   {"subscription_error":"c","status":401,"type":"AuthError"}
//   {"event":"e","channel":"c","data":…}   (data as pusher-js hands it)
//   {"triggered":true|false}               (pusher-js's answer to a trigger)
//   {"error":{…}}                          (pusher:error and transport errors)
//   {"closed":true}                        at the end (standard input closed)
import { createHmac } from "node:crypto";
import { createInterface } from "node:readline";
import Pusher from "pusher-js";
import { emit, parseCommandLine } from "./common.mjs";

const { values, usage } = parseCommandLine("pusher_client.mjs", {
    host: { type: "string", default: "127.0.0.1" },
    port: { type: "string" },
    key: { type: "string" },
    secret: { type: "string" },
    "auth-endpoint": { type: "string" },
    "auth-token": { type: "string", default: "" },
});
if (!values.port || !values.key)
    usage("--port and --key are required");

const authorize = (params, callback) => {
    if (!values.secret) {
        callback(new Error("no secret: not authorized"), null);
        return;
    }
    const signature = createHmac("sha256", values.secret)
        .update(`${params.socketId}:${params.channelName}`)
        .digest("hex");
    callback(null, { auth: `${values.key}:${signature}` });
};

const pusher = new Pusher(values.key, {
    cluster: "ringcast",
    wsHost: values.host,
    wsPort: Number(values.port),
    forceTLS: false,
    enabledTransports: ["ws"],
    disableStats: true,
    channelAuthorization: values["auth-endpoint"]
        ? { endpoint: values["auth-endpoint"], transport: "ajax",
            headers: { Authorization: `Bearer ${values["auth-token"]}` } }
        : { customHandler: authorize },
});

pusher.connection.bind("state_change", ({ current }) => {
    const line = { state: current };
    if (current === "connected")
        line.socket_id = pusher.connection.socket_id;
    emit(line);
});
pusher.connection.bind("error", (err) => emit({ error: err?.data ?? { type: err?.type } }));

function subscribe(name) {
    const channel = pusher.subscribe(name);
    channel.bind("pusher:subscription_succeeded", () => emit({ subscribed: name }));
    channel.bind("pusher:subscription_error", (e) =>
        emit({ subscription_error: name, status: e.status, type: e.type, message: e.error }));
    channel.bind_global((event, data) => {
        if (!event.startsWith("pusher:"))
            emit({ event, channel: name, data });
    });
}

const input = createInterface({ input: process.stdin });
input.on("line", (line) => {
    const cmd = JSON.parse(line);
    if (cmd.op === "subscribe")
        subscribe(cmd.channel);
    else if (cmd.op === "unsubscribe")
        pusher.unsubscribe(cmd.channel);
    else if (cmd.op === "trigger")
        emit({ triggered: pusher.channel(cmd.channel).trigger(cmd.event, cmd.data) });
    else if (cmd.op === "disconnect")
        pusher.disconnect();
});
input.on("close", () => {
    pusher.disconnect();
    emit({ closed: true });
    setTimeout(() => process.exit(0), 100);
});
