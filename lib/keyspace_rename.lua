-- keyspace_rename.lua - format-1 names moved to today's (sluicectl migrate)
-- KEYS: pairs (a name of format 1, its name today; lib/keyspace.c).
-- ARGV: two per pair, how to move it and the type its name holds:
--   longer  a suppression entry: renamed; with an entry under today's
--           name too, the longer-lasting one stays (never shortened)
--   zunion  soft bounces: members of both, the later score of each
--   sunion  a set (limits, rcpts:, fbseen:): members of both
--   sum     a quota counter: both added (every charge counted)
--   rate    a rate's state: levels added, the later ts (toward refusing)
--   keepnew a limit, the seeds marker: today's name wins as a whole
--   hmerge  the mode table: fields of both, today's winning
--   drop    deleted, not moved (fbdone: markers, charge: records)
-- Merges keep the longer expiry (none when either has none). A name gone
-- meanwhile is skipped; one of another type than its name holds (or a
-- today's name of another type) is left alone and returned.
-- Returns {moved, merged, dropped, left name, left type, ...}.
local function expiry(po, pn)
  if po == -1 or pn == -1 then return -1 end
  if po > pn then return po end
  return pn
end
local moved, merged, dropped, out = 0, 0, 0, {}
for i = 1, #KEYS - 1, 2 do
  local old, new, way, want = KEYS[i], KEYS[i + 1], ARGV[i], ARGV[i + 1]
  local t = redis.call('TYPE', old).ok
  if t == 'none' then
  elseif way == 'drop' then
    redis.call('DEL', old)
    dropped = dropped + 1
  elseif t ~= want then
    out[#out + 1] = old; out[#out + 1] = t
  elseif redis.call('EXISTS', new) == 0 then
    redis.call('RENAME', old, new)
    moved = moved + 1
  elseif redis.call('TYPE', new).ok ~= want then
    out[#out + 1] = old; out[#out + 1] = 'today: ' .. redis.call('TYPE', new).ok
  else
    local po, pn = redis.call('PTTL', old), redis.call('PTTL', new)
    local keep = expiry(po, pn)
    if way == 'longer' then
      if pn ~= -1 and (po == -1 or po > pn) then redis.call('RENAME', old, new) end
      keep = nil
    elseif way == 'zunion' then
      redis.call('ZUNIONSTORE', new, 2, new, old, 'AGGREGATE', 'MAX')
    elseif way == 'sunion' then
      redis.call('SUNIONSTORE', new, new, old)
    elseif way == 'sum' then
      redis.call('INCRBY', new, tonumber(redis.call('GET', old)) or 0)
    elseif way == 'rate' then
      local a = redis.call('HMGET', old, 'level', 'ts')
      local b = redis.call('HMGET', new, 'level', 'ts')
      local ts = math.max(tonumber(a[2]) or 0, tonumber(b[2]) or 0)
      redis.call('HSET', new, 'level', tostring((tonumber(a[1]) or 0) + (tonumber(b[1]) or 0)),
                 'ts', string.format('%d', ts))
    elseif way == 'hmerge' then
      local h = redis.call('HGETALL', old)
      for j = 1, #h, 2 do redis.call('HSETNX', new, h[j], h[j + 1]) end
    else
      keep = nil
    end
    if keep == -1 then redis.call('PERSIST', new)
    elseif keep then redis.call('PEXPIRE', new, keep) end
    redis.call('DEL', old)
    merged = merged + 1
  end
end
local r = {moved, merged, dropped}
for _, v in ipairs(out) do r[#r + 1] = v end
return r
