--[[
  Takes one request from a rate limit, GCRA style (a token bucket kept as one timestamp): the
  "theoretical arrival time" TAT moves one emission interval forward per allowed request; a
  request is allowed while TAT stays within burst intervals of now. A refused request changes
  nothing, so hammering a limit never pushes it further back. The clock is Redis' own (TIME), so
  every gateway shares it (TIME before a write needs effects replication: the default since Redis 5).

  KEYS[1] tat   string  microseconds since the epoch at which the bucket is full again

  ARGV[1] emission interval in microseconds (1e6 / requests per second)
  ARGV[2] burst: requests allowed at once from a full bucket (>= 1)

  Output:
    { 1, 0 }             allowed (and counted)
    { 0, retryAfterMs }  refused; the next request is allowed in retryAfterMs (>= 1)
]]
local tatKey = KEYS[1]
local interval = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])

local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local tat = tonumber(redis.call('GET', tatKey) or now)
if tat < now then tat = now end

local newTat = tat + interval
local allowAt = newTat - burst * interval
if allowAt > now then
  return { 0, math.max(1, math.ceil((allowAt - now) / 1000)) }
end
-- The key is worth nothing once the bucket is full again: let it go then.
redis.call('SET', tatKey, string.format('%d', newTat), 'PX', math.max(1, math.ceil((newTat - now) / 1000)))
return { 1, 0 }
