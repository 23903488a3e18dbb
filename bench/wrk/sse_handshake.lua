-- sse_handshake.lua: an SSE subscription request for wrk, to show that wrk
-- cannot measure it.
--
-- Usage:
--   wrk -t1 -c10 -d5s --timeout 2s -s bench/wrk/sse_handshake.lua \
--       'http://127.0.0.1:8080/v1/sse?topic=bench-0'
--   wrk -t1 -c10 -d5s --timeout 2s -s bench/wrk/sse_handshake.lua \
--       http://127.0.0.1:PORT/sub/bench-0
--
-- The GET carries Accept: text/event-stream. Both servers answer 200 with
-- Content-Type: text/event-stream and no Content-Length and no chunked
-- encoding: the body lasts as long as the connection. wrk counts a request
-- only when its response is complete, so it reports 0 requests and one
-- timeout per connection (docs/BENCHMARKS.md). The SSE setup rate is
-- measured by ringcast-bench --protocol sse instead (connects_per_s).

function init(args)
   wrk.method = "GET"
   wrk.headers["Accept"] = "text/event-stream"
end

function done(summary, latency, requests)
   local e = summary.errors
   io.write(string.format("completed responses: %d\n", summary.requests))
   io.write(string.format("socket errors: connect %d read %d write %d timeout %d\n",
                          e.connect, e.read, e.write, e.timeout))
end
