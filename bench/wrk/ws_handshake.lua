-- ws_handshake.lua: WebSocket handshake rate for wrk, on ringcast or nchan.
--
-- Usage:
--   wrk -t1 -c50 -d10s -s bench/wrk/ws_handshake.lua http://127.0.0.1:8080/v1/ws
--   wrk -t1 -c50 -d10s -s bench/wrk/ws_handshake.lua http://127.0.0.1:PORT/sub/bench-0
--
-- Every request is an upgrade (GET with Upgrade: websocket, a fixed
-- Sec-WebSocket-Key, version 13). wrk's HTTP parser takes the 101 as a
-- complete response without a body; as the response is not keep-alive
-- (Connection: Upgrade), wrk then closes the connection and opens a new one.
-- So Requests/sec is the rate of full cycles: TCP connect, upgrade request,
-- 101 response, close (the server sees the close as an abrupt end of a
-- WebSocket). Nothing is subscribed and no frame is sent.
--
-- A 101 counts as success; done() prints the responses with a status of
-- 400 or more (wrk's "non-2xx" counter only counts those) and the socket
-- errors. SSE has no equivalent: an event stream's response never ends, so
-- wrk never counts it; ringcast-bench's connects_per_s measures the SSE (and
-- WebSocket) setup rate instead (bench/README.md).

function init(args)
   wrk.method = "GET"
   wrk.headers["Upgrade"] = "websocket"
   wrk.headers["Connection"] = "Upgrade"
   wrk.headers["Sec-WebSocket-Key"] = "dGhlIHNhbXBsZSBub25jZQ=="
   wrk.headers["Sec-WebSocket-Version"] = "13"
end

function done(summary, latency, requests)
   local e = summary.errors
   io.write(string.format("handshakes: %d\n", summary.requests))
   io.write(string.format("status >= 400: %d\n", e.status))
   io.write(string.format("socket errors: connect %d read %d write %d timeout %d\n",
                          e.connect, e.read, e.write, e.timeout))
end
