#!/usr/bin/python3
"""Subscribe to ringcast over WebSocket and print what arrives.

    /usr/bin/python3 docs/examples/subscribe.py [PATTERN] [COUNT]

PATTERN defaults to customer_id:42:call:*, COUNT (events to print before
exiting; 0: forever) to 0. The server is $RINGCAST_WS, by default
ws://127.0.0.1:8080/v1/ws (append ?token=... when the server wants tokens).

Needs websocket-client: Debian's /usr/bin/python3 has it once
`apt-get install python3-websocket` ran (./configure.py --install-deps does);
another python3 on PATH (pyenv, a venv) does not see Debian's packages:
there, `pip install websocket-client`.
"""

import json
import os
import sys

import websocket

url = os.environ.get("RINGCAST_WS", "ws://127.0.0.1:8080/v1/ws")
pattern = sys.argv[1] if len(sys.argv) > 1 else "customer_id:42:call:*"
count = int(sys.argv[2]) if len(sys.argv) > 2 else 0

ws = websocket.create_connection(url)
ws.send(json.dumps({"type": "subscribe", "topics": [pattern]}))
print(ws.recv(), flush=True)  # {"type":"subscribed","topics":[...]}
received = 0
while count == 0 or received < count:
    print(ws.recv(), flush=True)  # one event per message
    received += 1
ws.close()
