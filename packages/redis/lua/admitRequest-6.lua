--[[
  Admits one issue request: the whole FCFS/CODE decision in one atomic step.
  Checks, in order: the policy is known, is issued this way, is ACTIVE and inside its window,
  the user is under the per-user limit, stock is left. On success it takes the stock and
  records the admission as pending, so that a gateway killed before the enqueue loses nobody.

  KEYS[1] meta       hash  type, status, start, end (ms), total (-1 = unlimited), limit
  KEYS[2] admitted   int   admissions holding stock
  KEYS[3] counts     hash  userId -> admissions of that user
  KEYS[4] first      hash  userId -> first requestId
  KEYS[5] pending    hash  requestId -> "userId|slot|admittedAtMs|clientIp"
  KEYS[6] pendingAt  zset  requestId by admittedAtMs

  ARGV[1] userId
  ARGV[2] requestId
  ARGV[3] expected issue type (FCFS or CODE)
  ARGV[4] client IP

  Output:
    { 1, slot, admittedAtMs }  admitted; slot is the user's n-th coupon of this policy
    { -1 }                     policy not known to Redis
    { -2 }                     wrong issue type
    { -3 }                     not open (paused, ended or outside the window)
    { -4, firstRequestId }     the user reached the per-user limit
    { -5 }                     sold out
]]
local metaKey, admittedKey, countsKey, firstKey, pendingKey, pendingAtKey =
  KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6]
local userId, requestId = ARGV[1], ARGV[2]

local meta = redis.call('HMGET', metaKey, 'type', 'status', 'start', 'end', 'total', 'limit')
if not meta[1] then return { -1 } end
if meta[1] ~= ARGV[3] then return { -2 } end

local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
if meta[2] ~= 'ACTIVE' or now < tonumber(meta[3]) or now >= tonumber(meta[4]) then return { -3 } end

local held = tonumber(redis.call('HGET', countsKey, userId) or '0')
if held >= tonumber(meta[6]) then
  return { -4, redis.call('HGET', firstKey, userId) or '' }
end

local total = tonumber(meta[5])
if total >= 0 and tonumber(redis.call('GET', admittedKey) or '0') >= total then return { -5 } end

redis.call('INCR', admittedKey)
local slot = redis.call('HINCRBY', countsKey, userId, 1)
if slot == 1 then redis.call('HSET', firstKey, userId, requestId) end
redis.call('HSET', pendingKey, requestId, userId .. '|' .. slot .. '|' .. now .. '|' .. ARGV[4])
redis.call('ZADD', pendingAtKey, now, requestId)
return { 1, slot, now }
