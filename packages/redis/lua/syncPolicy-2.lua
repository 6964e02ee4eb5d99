--[[
  Writes a policy's issuing rules into Redis after PostgreSQL committed them.
  A new policy starts with no admissions. An update changes the rules only where Redis
  still holds the policy: where it lost it, the caller rebuilds the counts from PostgreSQL
  first, since starting again from zero would oversell.

  KEYS[1] meta      hash
  KEYS[2] admitted  int

  ARGV[1] mode: 'create' or 'update'
  ARGV[2] type   ARGV[3] status   ARGV[4] start ms   ARGV[5] end ms
  ARGV[6] total (-1 = unlimited)   ARGV[7] per-user limit

  Output:
    1  written
    0  update refused: the policy is not in Redis (rebuild it)
]]
local metaKey, admittedKey = KEYS[1], KEYS[2]
local exists = redis.call('EXISTS', metaKey) == 1
if ARGV[1] == 'update' and not exists then return 0 end
if ARGV[1] == 'create' and not exists then redis.call('SET', admittedKey, 0) end
redis.call('HSET', metaKey, 'type', ARGV[2], 'status', ARGV[3], 'start', ARGV[4], 'end', ARGV[5],
  'total', ARGV[6], 'limit', ARGV[7])
return 1
