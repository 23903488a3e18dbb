// pattern_subscribers.mjs: many WebSocket subscribers holding mixes of exact
// topics and patterns, written with the npm package "ws" (a client we did not
// write), for ringcast's integration tests (test_shards_patterns.py).
//
//   node pattern_subscribers.mjs --url ws://127.0.0.1:8080/v1/ws \
//       --spec spec.json --connections 1000
//
// The spec file is JSON: {"profiles": [{"topics": ["t0:*", "t1:e1"],
// "expect": 800}, ...]}. Connection i takes profile i % P: it subscribes to
// the profile's topics in one subscribe message (the "subscribed" reply must
// list exactly them) and then receives events until it has "expect" of them.
// It does not know which topics its patterns match (the test computes that):
// it records, per topic received, how many events came, in what order (each
// event's seq must be the previous one of its topic + 1, the first 1) and a
// sha256 over "seq event_type data\n" in arrival order.
//
// Options:
//   --url URL                the server's /v1/ws URL (required)
//   --spec FILE              the profiles (required)
//   --connections N          connections to open (default 1)
//   --timeout-ms MS          time allowed for the events, from "ready" on
//                            (default 60000)
//   --connect-timeout-ms MS  time allowed to connect and subscribe them all
//                            (default 30000)
//   --settle-ms MS           once every connection has its "expect" events,
//                            keep listening this long: whatever arrives then
//                            is counted as late (default 500)
//   --batch B                connections opened at once (default 100)
//   --hold                   after the summary, keep the connections open
//                            until standard input closes
//
// Standard output, one JSON object per line:
//   {"ready":N,"failed":F,"ms":T}        all connections are subscribed (or failed)
//   {"connections":N,"complete":C,...}   the summary, see summary() below
//   {"closed":N,"close_codes":{...}}     after the connections were closed
// The summary's "states" maps each profile index to {state: connections},
// where a state is the JSON text of [[topic, count, sha256], ...] sorted by
// topic: what one connection received. The exit status is 0 whatever was
// received (the test judges it); 2 means bad arguments.

import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { Report, WsSubscriber, parseSubscriberOptions, runMain, runSubscribers, tally } from "./common.mjs";

const SCRIPT = "pattern_subscribers.mjs";

function parseOptions() {
    const { values, usage, number, options } = parseSubscriberOptions(SCRIPT, {
        spec: { type: "string" },
        "settle-ms": { type: "string", default: "500" },
    });
    if (!values.spec)
        usage("--spec is required");
    let profiles;
    try {
        profiles = JSON.parse(readFileSync(values.spec, "utf8")).profiles;
    } catch (err) {
        usage(`cannot read ${values.spec}: ${err.message}`);
    }
    if (!Array.isArray(profiles) || profiles.length === 0)
        usage("the spec has no profiles");
    for (const p of profiles)
        if (!Array.isArray(p.topics) || p.topics.length === 0 || !Number.isInteger(p.expect) || p.expect < 0)
            usage(`bad profile ${JSON.stringify(p)}`);
    return { ...options, profiles, settleMs: number("settle-ms") };
}

// Totals over all connections; summary() prints them.
const report = new Report({
    late: 0,            // events received after the connection had its "expect"
    duplicates: 0,      // an event whose seq is not above the last one of its topic
    out_of_order: 0,    // an event whose seq is not the last one of its topic + 1 (or 1)
});
const totals = report.totals;

class Subscriber extends WsSubscriber {
    constructor(index, profileIndex, options) {
        super(index, options.profiles[profileIndex].topics, options, report);
        this.profileIndex = profileIndex;
        this.profile = options.profiles[profileIndex];
        this.received = 0;
        this.perTopic = new Map();  // topic -> {count, lastSeq, hash}
    }

    get complete() {
        return this.received >= this.profile.expect;
    }

    onEvent(event) {
        totals.events++;
        const where = ` (profile ${this.profileIndex}): `;
        const wasComplete = this.complete;
        if (wasComplete) {
            totals.late++;
            this.problem(`${where}event after its ${this.profile.expect}: ${event.topic} seq ${event.seq}`);
        }
        let state = this.perTopic.get(event.topic);
        if (!state) {
            state = { count: 0, lastSeq: 0, hash: createHash("sha256") };
            this.perTopic.set(event.topic, state);
        }
        if (event.seq <= state.lastSeq) {
            totals.duplicates++;
            this.problem(`${where}${event.topic} seq ${event.seq} after ${state.lastSeq}`);
        } else if (event.seq !== state.lastSeq + 1) {
            totals.out_of_order++;
            this.problem(`${where}${event.topic} seq ${event.seq} after ${state.lastSeq}`);
        }
        state.lastSeq = Math.max(state.lastSeq, event.seq);
        state.count++;
        state.hash.update(`${event.seq} ${event.event_type} ${JSON.stringify(event.data)}\n`);
        this.received++;
        if (!wasComplete && this.complete && this.onComplete)
            this.onComplete(this);
    }

    // What this connection received, as a comparable text.
    state() {
        const rows = [...this.perTopic.entries()]
            .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
            .map(([topic, s]) => [topic, s.count, s.hash.copy().digest("hex")]);
        return JSON.stringify(rows);
    }
}

// The summary line: the counters, and per profile index {state -> connections}.
function summary(subscribers, ms, outcome) {
    const states = tally(subscribers, (s) => s.profileIndex, (s) => s.state());
    return { ...report.summary(subscribers, ms, outcome), states };
}

async function main() {
    const options = parseOptions();
    const subscribers = [];
    for (let i = 0; i < options.connections; i++)
        subscribers.push(new Subscriber(i, i % options.profiles.length, options));
    await runSubscribers(subscribers, options, report,
                         (ms, outcome) => summary(subscribers, ms, outcome));
}

runMain(SCRIPT, main);
