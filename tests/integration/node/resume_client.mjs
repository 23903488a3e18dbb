// resume_client.mjs: a Node ws subscriber that resumes again and again
// (docs/protocol/websocket.md, "Positions and resuming").
//
//   node resume_client.mjs URL TOPICS_JSON ROUNDS SEED
//
// Each round connects, subscribes to TOPICS (with "since" from its last
// positions after the first round), receives a pseudo-random number of
// events (1 to 60), then drops the connection: terminate() (no close
// handshake) or close(), alternately at random. Output, one JSON object a
// line:
//   {"subscribed":REPLY}           each subscribed reply
//   {"event":{"topic":T,"seq":S}}  each event
//   {"gap":MESSAGE}                each gap message
//   {"done":true}                  after the last round
//   {"error":TEXT}                 and exit 1 on anything unexpected
import WebSocket from "ws";

const [url, topicsJson, roundsText, seedText] = process.argv.slice(2);
const topics = JSON.parse(topicsJson);
const rounds = Number(roundsText);
let seed = Number(seedText) || 1;
const random = () => {
    seed = (seed * 1103515245 + 12345) % 2147483648;
    return seed / 2147483648;
};
const say = (obj) => process.stdout.write(JSON.stringify(obj) + "\n");
const fail = (text) => {
    say({error: String(text)});
    process.exit(1);
};

let positions = null;

function round() {
    return new Promise((resolve) => {
        const ws = new WebSocket(url);
        let want = 1 + Math.floor(random() * 60);
        let subscribed = false;
        ws.on("error", (e) => fail(e.message));
        ws.on("open", () => {
            const msg = {type: "subscribe", topics};
            if (positions)
                msg.since = positions;
            ws.send(JSON.stringify(msg));
        });
        ws.on("message", (data) => {
            const m = JSON.parse(data.toString());
            if (!subscribed) {
                if (m.type !== "subscribed")
                    fail("expected subscribed first, got " + data);
                subscribed = true;
                say({subscribed: m});
                if (!positions)
                    positions = JSON.parse(JSON.stringify(m.positions));
                return;
            }
            if (m.type === "gap") {
                say({gap: m});
                return;
            }
            if (m.type !== undefined)
                fail("unexpected " + data);
            say({event: {topic: m.topic, seq: m.seq}});
            positions[m.topic].seq = m.seq;
            if (--want === 0) {
                ws.removeAllListeners("message");
                ws.removeAllListeners("error");
                ws.on("error", () => {});
                if (random() < 0.5)
                    ws.terminate();
                else
                    ws.close();
                resolve();
            }
        });
    });
}

for (let i = 0; i < rounds; i++)
    await round();
say({done: true});
process.exit(0);
