-- keyspace_supp_move.lua - move entries to their canonical address
-- (after keyspace_supp.lua; sluicectl migrate)
-- KEYS: pairs of an entry under another form of the address and the
-- entry of its canonical form (lib/keyspace.c). For each pair, atomically:
-- an entry gone meanwhile or not a hash is left alone; with no canonical
-- entry, the old one is renamed to it (fields and expiry kept); with
-- one, the entry that lasts longer stays under the canonical name (never
-- is a suppression shortened) and the other goes. Returns {moved, merged}.
local moved, merged = 0, 0
for i = 1, #KEYS - 1, 2 do
  local old, new = KEYS[i], KEYS[i + 1]
  if old ~= new and redis.call('TYPE', old).ok == 'hash' then
    if redis.call('EXISTS', new) == 0 then
      redis.call('RENAME', old, new)
      moved = moved + 1
    else
      local po, pn = redis.call('PTTL', old), redis.call('PTTL', new)
      if pn ~= -1 and (po == -1 or po > pn) then
        redis.call('RENAME', old, new)
      else
        redis.call('DEL', old)
      end
      merged = merged + 1
    end
  end
end
return {moved, merged}
