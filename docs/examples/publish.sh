#!/bin/sh
# Publish one event over the binary publish protocol; prints its seq.
# Run from the source folder after ninja ($RINGCAST_BIN: another build
# folder); the server is $RINGCAST_PUBLISH
# (default 127.0.0.1:7070).
set -e
"${RINGCAST_BIN:-./build}/ringcast-pub" --server "${RINGCAST_PUBLISH:-127.0.0.1:7070}" \
    --type call.status customer_id:42:call:7 '{"status":"ringing"}'
