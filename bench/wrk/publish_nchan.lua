-- publish_nchan.lua: HTTP publish load on nginx+nchan for wrk, the peer of
-- publish.lua (bench/compare's config, bench/nchan/nchan.conf.in).
--
-- Usage:
--   wrk -t1 -c16 -d10s -s bench/wrk/publish_nchan.lua http://127.0.0.1:PORT -- 100 [DEPTH]
--
-- Every request is a POST /pub/bench-<i> (nchan's publisher location, the
-- channel in the path) with a 128-byte JSON body like the one publish.lua
-- and ringcast-bench send. The channels cycle over bench-0 .. bench-<N-1>,
-- N being the script argument after "--" (default 100); DEPTH (default 1)
-- requests are pipelined per write, as in publish.lua. nchan answers 201
-- (delivered) or 202 (queued, no subscriber). At the end, done() prints:
--   requests: <completed requests>
--   non-2xx: <responses with a status of 400 or more>
--   socket errors: connect <c> read <r> write <w> timeout <t>

local next_thread_id = 0

function setup(thread)
   thread:set("id", next_thread_id)
   next_thread_id = next_thread_id + 1
end

local topics = 100
local depth = 1 -- requests per write: pipelined when more than 1
local counter = 0
local pad = string.rep("x", 80)

function init(args)
   local n = tonumber(args[1] or "")
   if args[1] ~= nil and (n == nil or n < 1 or n ~= math.floor(n)) then
      error("publish_nchan.lua: the channel count must be a positive integer, got "
            .. tostring(args[1]))
   end
   topics = n or topics
   local d = tonumber(args[2] or "")
   if args[2] ~= nil and (d == nil or d < 1 or d ~= math.floor(d)) then
      error("publish_nchan.lua: the pipeline depth must be a positive integer, got " .. tostring(args[2]))
   end
   depth = d or depth
   id = id or 0
   counter = 0
   wrk.method = "POST"
   wrk.headers["Content-Type"] = "application/json"
end

local function one_request()
   local topic = (id + counter) % topics
   counter = counter + 1
   local body = string.format('{"thread":%d,"n":%d,"p":"%s"}', id, counter, pad)
   return wrk.format(nil, "/pub/bench-" .. topic, nil, body)
end

-- request returns |depth| requests at once: wrk counts them (it parses
-- what the first call returns) and waits for as many responses.
function request()
   if depth == 1 then
      return one_request()
   end
   local batch = {}
   for i = 1, depth do
      batch[i] = one_request()
   end
   return table.concat(batch)
end

function done(summary, latency, requests)
   local e = summary.errors
   io.write(string.format("requests: %d\n", summary.requests))
   io.write(string.format("non-2xx: %d\n", e.status))
   io.write(string.format("socket errors: connect %d read %d write %d timeout %d\n",
                          e.connect, e.read, e.write, e.timeout))
end
