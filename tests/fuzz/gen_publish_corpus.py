#!/usr/bin/python3
"""gen_publish_corpus.py: writes the seed corpus of fuzz_publish.

Each seed is a short byte stream of publish-protocol frames
(docs/protocol/publish.md), as a server or a client would read it.

  /usr/bin/python3 tests/fuzz/gen_publish_corpus.py [OUTDIR]

OUTDIR defaults to tests/fuzz/corpus/publish next to this script.
"""

import os
import struct
import sys

MAGIC = 0x52435031
HELLO, WELCOME, PUBLISH, ACK, NACK, PING, PONG, GOAWAY = 0x01, 0x02, 0x10, 0x11, 0x12, 0x20, 0x21, 0x30


def frame(ftype, corr, body, flags=0):
    return struct.pack(">IBBI", 6 + len(body), ftype, flags, corr) + body


def hello(token=b"", name=b"", version=1):
    return struct.pack(">IHH", MAGIC, version, len(token)) + token + bytes([len(name)]) + name


def welcome(max_frame=1 << 20, max_payload=65536, max_topic=256, max_inflight=1024):
    return struct.pack(">HIIHI", 1, max_frame, max_payload, max_topic, max_inflight)


def publish(topic, payload, event_type=b"", content_type=b"", msg_id=b""):
    return (struct.pack(">H", len(topic)) + topic
            + bytes([len(event_type)]) + event_type
            + bytes([len(content_type)]) + content_type
            + bytes([len(msg_id)]) + msg_id
            + struct.pack(">I", len(payload)) + payload)


def ack(seq, flags=0):
    return struct.pack(">QB", seq, flags)


def error(code, message):
    return struct.pack(">HH", code, len(message)) + message


SEEDS = {
    # the worked example of the spec, section 7
    "doc-hello": frame(HELLO, 1, hello(b"s3cret", b"pub")),
    "doc-welcome": frame(WELCOME, 1, welcome()),
    "doc-publish-ack": (frame(PUBLISH, 2, publish(b"jobs:42", b'{"ok":true}', b"job.done",
                                                  b"application/json", b"a1"))
                        + frame(ACK, 2, ack(17))),
    # a publisher session: hello, a batch of three, a ping
    "session": (frame(HELLO, 1, hello(b"", b"ringcast-pub/0.1.0"))
                + frame(PUBLISH, 2, publish(b"a", b""))
                + frame(PUBLISH, 3, publish(b"customer_id:42:call:7", b"ringing", b"call.status",
                                            b"text/plain; charset=utf-8"))
                + frame(PUBLISH, 4, publish(b"billing.invoice.paid", b"[1,2,3]", b"",
                                            b"application/vnd.acme+json", b"inv-0001"))
                + frame(PING, 5, b"\x00\x01\x02\x03")),
    # server replies: duplicate ack, nacks, pong, goaway
    "replies": (frame(ACK, 3, ack(2**64 - 1, 1))
                + frame(NACK, 4, error(5, b"payload is 70000 bytes, the limit is 65536"))
                + frame(PONG, 5, b"\x00\x01\x02\x03")
                + frame(GOAWAY, 0, error(9, b"server shutting down"))),
    "fatal-nack": frame(NACK, 0, error(1, b"frame above max_frame")) + frame(NACK, 7, error(999, b"")),
    # malformed: topic_len 0, non-zero flags, trailing byte, length 5
    "malformed": (frame(PUBLISH, 9, publish(b"", b"x"))
                  + frame(PING, 10, b"", flags=0x80)
                  + frame(ACK, 11, ack(1) + b"\x00")
                  + struct.pack(">IBB", 5, PING, 0)),
    "hello-v2": frame(HELLO, 1, hello(b"t" * 40, b"", version=2) + b"\x01\x00\x00"),
}


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(here, "corpus", "publish")
    os.makedirs(out, exist_ok=True)
    for name, data in sorted(SEEDS.items()):
        with open(os.path.join(out, name), "wb") as f:
            f.write(data)
    print("wrote %d seeds to %s" % (len(SEEDS), out))


if __name__ == "__main__":
    main()
