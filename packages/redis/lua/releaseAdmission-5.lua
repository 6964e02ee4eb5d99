--[[
  Gives back what a failed admission held: its stock (when asked) and the user's place under
  the per-user limit. Runs once per request however often it is called: only a request still
  pending is released.

  KEYS[1] pending    hash   KEYS[2] pendingAt  zset
  KEYS[3] admitted   int    KEYS[4] counts     hash   KEYS[5] first  hash

  ARGV[1] requestId   ARGV[2] userId   ARGV[3] '1' to return the stock, '0' to keep it taken

  Output:
    1  released
    0  the request was not pending (already released or recorded)
]]
local requestId, userId = ARGV[1], ARGV[2]
if redis.call('HDEL', KEYS[1], requestId) == 0 then return 0 end
redis.call('ZREM', KEYS[2], requestId)
if ARGV[3] == '1' then redis.call('DECR', KEYS[3]) end
if redis.call('HINCRBY', KEYS[4], userId, -1) <= 0 then redis.call('HDEL', KEYS[4], userId) end
if redis.call('HGET', KEYS[5], userId) == requestId then redis.call('HDEL', KEYS[5], userId) end
return 1
