-- publish.lua: HTTP publish load for wrk (docs/protocol/http.md, JSON form).
--
-- Usage:
--   wrk -t2 -c16 -d10s -s bench/wrk/publish.lua http://127.0.0.1:8080/v1/publish -- 100 [DEPTH]
--
-- Every request is a POST /v1/publish with Content-Type application/json:
--   {"topic":"bench:<i>","data":{"thread":<t>,"n":<counter>}}
-- The topics cycle over bench:0 .. bench:<N-1>, N being the script argument
-- after "--" (default 100). DEPTH (default 1) requests go out in one write
-- and wrk waits for all their answers before the next write: pipelining.
-- Each thread starts at its own topic and counts
-- its own requests in "n". At the end, done() prints:
--   requests: <completed requests>
--   non-2xx: <responses with a status other than 2xx/3xx>
--   socket errors: connect <c> read <r> write <w> timeout <t>

local next_thread_id = 0

-- setup runs once per thread, in the main Lua state, before it starts.
function setup(thread)
   thread:set("id", next_thread_id)
   next_thread_id = next_thread_id + 1
end

local topics = 100
local depth = 1 -- requests per write: pipelined when more than 1
local counter = 0

-- init runs in each thread's own Lua state; |id| was set by setup.
function init(args)
   local n = tonumber(args[1] or "")
   if args[1] ~= nil and (n == nil or n < 1 or n ~= math.floor(n)) then
      error("publish.lua: the topic count must be a positive integer, got " .. tostring(args[1]))
   end
   topics = n or topics
   local d = tonumber(args[2] or "")
   if args[2] ~= nil and (d == nil or d < 1 or d ~= math.floor(d)) then
      error("publish.lua: the pipeline depth must be a positive integer, got " .. tostring(args[2]))
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
   local body = string.format('{"topic":"bench:%d","data":{"thread":%d,"n":%d}}',
                              topic, id, counter)
   return wrk.format(nil, nil, nil, body)
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
