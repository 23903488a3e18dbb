#!/bin/sh
# Publish one event with HTTP POST; prints {"topic":...,"seq":N}.
# The server's client port is $RINGCAST_HTTP (default http://127.0.0.1:8080).
set -e
curl -sS -X POST "${RINGCAST_HTTP:-http://127.0.0.1:8080}/v1/publish" \
    -H 'Content-Type: application/json' \
    -d '{"topic":"customer_id:42:call:7","event_type":"call.status","data":{"status":"ringing"}}'
echo
