#!/bin/sh
# Make a secret (once) and mint a token for a subscriber with it; prints
# the token. Start the server with the same secret:
#     ./build/ringcast --auth-secret-file secret
# then connect to ws://127.0.0.1:8080/v1/ws?token=<the token>.
# The secret file is $RINGCAST_SECRET (default ./secret).
set -e
secret="${RINGCAST_SECRET:-secret}"
[ -s "$secret" ] || head -c 48 /dev/urandom | base64 > "$secret"
"${RINGCAST_BIN:-./build}/ringcast-token" --secret-file "$secret" --sub agent-7 --subscribe 'customer_id:42:>' --ttl 1h
