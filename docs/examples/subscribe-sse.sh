#!/bin/sh
# Subscribe with Server-Sent Events and print the stream (Ctrl-C stops).
# The server's client port is $RINGCAST_HTTP (default http://127.0.0.1:8080).
set -e
curl -sS -N "${RINGCAST_HTTP:-http://127.0.0.1:8080}/v1/sse?topic=customer_id:42:call:*"
