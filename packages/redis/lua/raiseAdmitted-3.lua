--[[
  Reconciliation: raises a policy's admitted counter to what PostgreSQL and the pending
  admissions prove it must at least be. Never lowers it: a lower reading may be a stale one,
  and lowering on it would oversell.

  The caller read the pending requestIds (HKEYS), then, in ONE PostgreSQL statement, the
  policy's issued_count and which of those requests PostgreSQL already recorded. It passes the
  ones not recorded. Of those, the ones still pending here are admissions PostgreSQL's count
  cannot include, so issued + that number never exceeds the true count of admissions holding
  stock (an admission is counted at most once, by whichever side saw it).

  KEYS[1] meta      hash (its absence means Redis lost the policy: rebuild instead)
  KEYS[2] admitted  int
  KEYS[3] pending   hash requestId -> admission

  ARGV[1] issued_count read from PostgreSQL
  ARGV[2..] requestIds that were pending and not yet recorded in PostgreSQL

  Output:
    {-1, 0}                  the policy is not in Redis
    {admittedBefore, target} admitted is now max(admittedBefore, target)
]]
local metaKey, admittedKey, pendingKey = KEYS[1], KEYS[2], KEYS[3]
if redis.call('EXISTS', metaKey) == 0 then return {-1, 0} end
local target = tonumber(ARGV[1])
for i = 2, #ARGV do
  target = target + redis.call('HEXISTS', pendingKey, ARGV[i])
end
local before = tonumber(redis.call('GET', admittedKey) or '0')
if before < target then redis.call('SET', admittedKey, target) end
return {before, target}
