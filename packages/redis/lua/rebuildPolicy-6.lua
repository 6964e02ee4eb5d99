--[[
  Swaps in a policy's Redis state rebuilt from PostgreSQL, unless Redis already holds the
  policy (another process rebuilt it first, or it was never lost): overwriting live counts
  with an older reading would oversell.

  KEYS[1] meta           KEYS[2] admitted       KEYS[3] counts
  KEYS[4] first          KEYS[5] stagingCounts  KEYS[6] stagingFirst

  ARGV[1] type   ARGV[2] status   ARGV[3] start ms   ARGV[4] end ms
  ARGV[5] total (-1 = unlimited)   ARGV[6] per-user limit
  ARGV[7] admitted count (coupons in PostgreSQL)

  Output:
    1  rebuilt
    0  Redis already held the policy; staging discarded
]]
if redis.call('EXISTS', KEYS[1]) == 1 then
  redis.call('DEL', KEYS[5], KEYS[6])
  return 0
end
redis.call('DEL', KEYS[3], KEYS[4])
if redis.call('EXISTS', KEYS[5]) == 1 then redis.call('RENAME', KEYS[5], KEYS[3]) end
if redis.call('EXISTS', KEYS[6]) == 1 then redis.call('RENAME', KEYS[6], KEYS[4]) end
redis.call('SET', KEYS[2], ARGV[7])
redis.call('HSET', KEYS[1], 'type', ARGV[1], 'status', ARGV[2], 'start', ARGV[3], 'end', ARGV[4],
  'total', ARGV[5], 'limit', ARGV[6])
return 1
