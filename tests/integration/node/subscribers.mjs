// subscribers.mjs: many WebSocket subscribers, written with the npm package
// "ws" (a client we did not write), for ringcast's integration tests.
//
//   node subscribers.mjs --url ws://127.0.0.1:8080/v1/ws --connections 1000 \
//       --topic-count 10 --expect 1000
//
// Connection i subscribes to topic i % K and checks what it receives: every
// event's seq must be exactly the previous seq + 1 (the first one is
// --first-seq), on the connection's own topic, never twice.
//
// Options:
//   --url URL                the server's /v1/ws URL (required)
//   --connections N          connections to open (default 1)
//   --topics a,b,c           topic names (K = their number)
//   --topic-count K          instead of --topics: K topics named by the pattern
//   --topic-pattern P        name of topic k: P with "{k}" replaced by k
//                            (default "topic-{k}")
//   --expect N               events each connection must receive (default 0:
//                            receive until the timeout; then only out_of_order
//                            and wrong_topic are checked)
//   --first-seq S            seq of the first expected event (default 1)
//   --timeout-ms MS          time allowed for the events, from "ready" on
//                            (default 60000)
//   --connect-timeout-ms MS  time allowed to connect and subscribe them all
//                            (default 30000)
//   --batch B                connections opened at once (default 100)
//   --print-events           print every event: {"conn":i,"event":{...}}
//   --hold                   after the summary, keep the connections open
//                            until standard input closes
//
// Standard output, one JSON object per line:
//   {"ready":N,"failed":F,"ms":T}        all connections are subscribed (or failed)
//   {"conn":i,"event":{...}}             with --print-events, as they arrive
//   {"connections":N,"complete":C,...}   the summary, see summary() below
//   {"closed":N,"close_codes":{...}}     after the connections were closed
// The exit status is 0 whatever was received (the test judges the numbers);
// 2 means bad arguments.

import { createHash } from "node:crypto";
import { Report, WsSubscriber, parseSubscriberOptions, runMain, runSubscribers, emit, tally } from "./common.mjs";

const SCRIPT = "subscribers.mjs";

function parseOptions() {
    const { values, usage, number, options } = parseSubscriberOptions(SCRIPT, {
        topics: { type: "string" },
        "topic-count": { type: "string" },
        "topic-pattern": { type: "string", default: "topic-{k}" },
        expect: { type: "string", default: "0" },
        "first-seq": { type: "string", default: "1" },
        "print-events": { type: "boolean", default: false },
    });
    let topics;
    if (values.topics !== undefined)
        topics = values.topics.split(",").filter((t) => t.length > 0);
    else {
        const count = values["topic-count"] === undefined ? 1 : number("topic-count");
        topics = [];
        for (let k = 0; k < count; k++)
            topics.push(values["topic-pattern"].replaceAll("{k}", String(k)));
    }
    if (topics.length === 0)
        usage("no topics");
    return {
        ...options,
        topics,
        expect: number("expect"),
        firstSeq: number("first-seq"),
        printEvents: values["print-events"],
    };
}

// Totals over all connections; summary() prints them.
const report = new Report({
    duplicates: 0,      // an event whose seq this connection had already received
    out_of_order: 0,    // a new seq that is not the previous seq + 1
    wrong_topic: 0,     // an event for a topic this connection did not subscribe to
    unexpected_seq: 0,  // a seq outside first-seq .. first-seq + expect - 1
});
const totals = report.totals;

class Subscriber extends WsSubscriber {
    constructor(index, topic, options) {
        super(index, [topic], options, report);
        this.topic = topic;
        this.lastSeq = null;         // seq of the previous event
        this.distinct = 0;           // distinct expected seqs received
        this.maxSeq = options.firstSeq - 1;
        this.seen = new Uint8Array(options.expect);  // seen[seq - firstSeq]
        this.hash = createHash("sha256");  // over seq, event_type and data, in arrival order
    }

    get complete() {
        return this.options.expect > 0 && this.distinct === this.options.expect;
    }

    onEvent(event) {
        totals.events++;
        if (this.options.printEvents)
            emit({ conn: this.index, event });
        if (event.topic !== this.topic) {
            totals.wrong_topic++;
            this.problem(` (${this.topic}): event of topic ${event.topic} seq ${event.seq}`);
            return;
        }
        const { seq } = event;
        const slot = seq - this.options.firstSeq;
        const inRange = this.options.expect === 0 ||
            (Number.isInteger(slot) && slot >= 0 && slot < this.options.expect);
        if (inRange && this.options.expect > 0 && this.seen[slot]) {
            totals.duplicates++;
            this.problem(` (${this.topic}): duplicate seq ${seq}`);
            return;
        }
        const expected = this.lastSeq === null ? this.options.firstSeq : this.lastSeq + 1;
        if (seq !== expected) {
            totals.out_of_order++;
            this.problem(` (${this.topic}): seq ${seq} after ${this.lastSeq}`);
        }
        this.lastSeq = seq;
        this.hash.update(`${seq} ${event.event_type} ${JSON.stringify(event.data)}\n`);
        if (!inRange) {
            totals.unexpected_seq++;
            this.problem(` (${this.topic}): unexpected seq ${seq}`);
            return;
        }
        if (this.options.expect > 0)
            this.seen[slot] = 1;
        this.distinct++;
        this.maxSeq = Math.max(this.maxSeq, seq);
        if (this.complete && this.onComplete)
            this.onComplete(this);
    }

    // Seqs missing below the highest one received: holes that will not be filled.
    gaps() {
        if (this.options.expect === 0)
            return 0;  // nothing to compare with: out_of_order tells
        let gaps = 0;
        for (let seq = this.options.firstSeq; seq < this.maxSeq; seq++)
            if (!this.seen[seq - this.options.firstSeq])
                gaps++;
        return gaps;
    }
}

// The summary line: the counters, "gaps", and per topic {sha256 of what a
// connection received -> connections}.
function summary(subscribers, ms, outcome) {
    const gaps = subscribers.reduce((sum, s) => sum + s.gaps(), 0);
    const digests = tally(subscribers, (s) => s.topic, (s) => s.hash.digest("hex"));
    return { ...report.summary(subscribers, ms, outcome), gaps, digests };
}

async function main() {
    const options = parseOptions();
    const subscribers = [];
    for (let i = 0; i < options.connections; i++)
        subscribers.push(new Subscriber(i, options.topics[i % options.topics.length], options));
    await runSubscribers(subscribers, options, report,
                         (ms, outcome) => summary(subscribers, ms, outcome));
}

runMain(SCRIPT, main);
