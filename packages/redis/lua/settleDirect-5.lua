--[[
  Gives back what a DIRECT chunk took in reserveDirect-5.lua but did not use (PostgreSQL already
  held the user's coupon, or its own count said the policy was full), once the chunk committed.
  Runs once per chunk however often it is called: the chunk's key is marked settled.

  KEYS[1] admitted  int    KEYS[2] counts  hash    KEYS[3] first  hash
  KEYS[4] chunk     string the chunk's outcome (reserveDirect-5.lua)
  KEYS[5] meta      hash   (only checked for existence: a rebuilt policy has exact counts)

  ARGV[1] the batch's tag in `first`
  ARGV[2] seconds the settled mark is kept
  ARGV[3..] user ids whose unit goes back

  Output:
    n  units given back
    0  already settled, or nothing kept for this chunk
]]
local admittedKey, countsKey, firstKey, chunkKey = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local kept = redis.call('GET', chunkKey)
if not kept or kept == 'settled' then return 0 end
redis.call('SET', chunkKey, 'settled', 'EX', tonumber(ARGV[2]))
if redis.call('EXISTS', KEYS[5]) == 0 then return 0 end
local n = 0
for i = 3, #ARGV do
  local userId = ARGV[i]
  if redis.call('HINCRBY', countsKey, userId, -1) <= 0 then redis.call('HDEL', countsKey, userId) end
  if redis.call('HGET', firstKey, userId) == ARGV[1] then redis.call('HDEL', firstKey, userId) end
  n = n + 1
end
if n > 0 then redis.call('DECRBY', admittedKey, n) end
return n
