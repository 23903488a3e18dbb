"""A subscriber in the style of VoIPBIN's published websocket-client example:
subscribes to call, message and activeflow patterns of one customer and
prints a line per event. Used by test_voipbin_example.py when the reference
document with the original example is not available on the machine.

Usage: call_events_client.py WS_URL CUSTOMER_ID
"""

import json
import sys

import websocket


def describe(event):
    kind = event.get("event_type")
    data = event.get("data")
    lines = ["Received event: %s" % kind]
    if kind == "call.status":
        lines.append("Call %s status: %s" % (data["id"], data["status"]))
    elif kind == "message.received":
        lines.append("Message from %s: %s" % (data["source"]["target"], data["text"]))
    elif kind == "activeflow.updated":
        lines.append("Activeflow %s executing: %s" % (data["id"], data["current_action"]["type"]))
    return lines


def main():
    url, customer = sys.argv[1], sys.argv[2]

    def opened(ws):
        print("WebSocket connection established", flush=True)
        topics = ["customer_id:%s:%s:*" % (customer, kind)
                  for kind in ("call", "message", "activeflow")]
        ws.send(json.dumps({"type": "subscribe", "topics": topics}))
        print("Subscribed to events", flush=True)

    def received(ws, text):
        for line in describe(json.loads(text)):
            print(line, flush=True)

    def closed(ws, code, reason):
        print("Connection closed: %s - %s" % (code, reason), flush=True)

    app = websocket.WebSocketApp(url, on_open=opened, on_message=received, on_close=closed,
                                 on_error=lambda ws, e: print("Error: %s" % e, flush=True))
    app.run_forever()


if __name__ == "__main__":
    main()
