--[[
  Forgets admissions that PostgreSQL has recorded (issued, or failed with their stock kept).

  KEYS[1] pending    hash  requestId -> details
  KEYS[2] pendingAt  zset  requestId by admittedAtMs

  ARGV[1..n] requestIds

  Output: the number of admissions that were still pending
]]
local n = redis.call('HDEL', KEYS[1], unpack(ARGV))
redis.call('ZREM', KEYS[2], unpack(ARGV))
return n
