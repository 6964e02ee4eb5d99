-- wrk script: every request carries `Authorization: Bearer <token>`, one token per request,
-- taken in order from this thread's token file and cycled when the file is exhausted.
--   wrk ... -s wrk-tokens.lua <url> -- <token file prefix> <method> <path>
-- Thread t reads "<prefix>.<t>" (see lib/tokens.mjs: the threads' files are disjoint).
-- Each thread counts the answers by status; done() prints one line "BENCH_JSON {...}".

local threads = {}
local next_tid = 0

function setup(thread)
  thread:set("tid", next_tid)
  next_tid = next_tid + 1
  table.insert(threads, thread)
end

local requests, n, i = {}, 0, 0
statuses = {}
wraps = 0
tokens = 0

function init(args)
  local prefix, method, path = args[1], args[2], args[3]
  local file = assert(io.open(prefix .. "." .. tid, "r"))
  for line in file:lines() do
    if #line > 0 then
      n = n + 1
      requests[n] = wrk.format(method, path, { ["Authorization"] = "Bearer " .. line })
    end
  end
  file:close()
  assert(n > 0, "no tokens in " .. prefix .. "." .. tid)
  tokens = n
end

function request()
  i = i + 1
  if i > n then
    i = 1
    wraps = wraps + 1
  end
  return requests[i]
end

function response(status, headers, body)
  statuses[status] = (statuses[status] or 0) + 1
end

function done(summary, latency, requests)
  local counts, total_wraps, total_tokens = {}, 0, 0
  for _, thread in ipairs(threads) do
    for status, count in pairs(thread:get("statuses") or {}) do
      counts[status] = (counts[status] or 0) + count
    end
    total_wraps = total_wraps + (thread:get("wraps") or 0)
    total_tokens = total_tokens + (thread:get("tokens") or 0)
  end
  local parts = {}
  for status, count in pairs(counts) do
    table.insert(parts, string.format('"%d":%d', status, count))
  end
  local e = summary.errors
  io.write(string.format(
    'BENCH_JSON {"requests":%d,"duration_us":%d,"bytes":%d,' ..
    '"errors":{"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d},' ..
    '"latency_us":{"mean":%.1f,"stdev":%.1f,"max":%d,"p50":%d,"p90":%d,"p99":%d,"p999":%d},' ..
    '"statuses":{%s},"wraps":%d,"tokens":%d}\n',
    summary.requests, summary.duration, summary.bytes,
    e.connect, e.read, e.write, e.status, e.timeout,
    latency.mean, latency.stdev, latency.max,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency:percentile(99.9),
    table.concat(parts, ","), total_wraps, total_tokens))
end
