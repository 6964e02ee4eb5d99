--[[
  Takes the stock and the per-user places one chunk of a DIRECT batch needs, before the worker
  inserts its coupons, so that the FCFS/CODE admission path (admitRequest-6.lua) can never hand
  out a unit the batch is about to use. Idempotent per chunk: the outcome is kept in KEYS[5], and
  a chunk redone after a crash gets the same outcome back without taking anything again.

  KEYS[1] meta       hash  total (-1 = unlimited), limit
  KEYS[2] admitted   int   units holding stock
  KEYS[3] counts     hash  userId -> coupons held or admitted
  KEYS[4] first      hash  userId -> first requestId (here: the batch's tag)
  KEYS[5] chunk      string the chunk's outcome, as returned

  ARGV[1] tag written to `first` for a user's first coupon ("direct-<batchId>")
  ARGV[2] seconds the chunk's outcome is kept
  ARGV[3..] user ids, in list order

  Output:
    -1                        the policy is not in Redis (rebuild it, then call again)
    "r1,r2,..."               one entry per user: the slot taken (>= 1), -4 per-user limit
                              reached (ALREADY_ISSUED), -5 no stock left (SOLD_OUT)
]]
local metaKey, admittedKey, countsKey, firstKey, chunkKey = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5]

local kept = redis.call('GET', chunkKey)
if kept then return kept end

local meta = redis.call('HMGET', metaKey, 'total', 'limit')
if not meta[1] then return -1 end
local total, limit = tonumber(meta[1]), tonumber(meta[2])
local admitted = tonumber(redis.call('GET', admittedKey) or '0')

local out = {}
for i = 3, #ARGV do
  local userId = ARGV[i]
  local held = tonumber(redis.call('HGET', countsKey, userId) or '0')
  if held >= limit then
    out[#out + 1] = '-4'
  elseif total >= 0 and admitted >= total then
    out[#out + 1] = '-5'
  else
    admitted = admitted + 1
    local slot = redis.call('HINCRBY', countsKey, userId, 1)
    if slot == 1 then redis.call('HSET', firstKey, userId, ARGV[1]) end
    out[#out + 1] = tostring(slot)
  end
end
redis.call('SET', admittedKey, admitted)
local result = table.concat(out, ',')
redis.call('SET', chunkKey, result, 'EX', tonumber(ARGV[2]))
return result
