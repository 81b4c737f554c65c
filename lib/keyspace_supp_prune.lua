-- keyspace_supp_prune.lua - drop expired compact entries (after
-- keyspace_supp.lua; sluicectl suppress prune)
-- KEYS: buckets. Fields whose value has expired (or is not an entry)
-- are deleted; a key of another type is skipped. Returns how many.
local now, n = tonumber(redis.call('TIME')[1]), 0
for i = 1, #KEYS do
  local h = redis.pcall('HGETALL', KEYS[i])
  if not h.err then
    local dead = {}
    for j = 1, #h, 2 do
      local r, _, x = sl_supp_decode(h[j + 1])
      if not r or (x > 0 and x <= now) then dead[#dead + 1] = h[j] end
    end
    if #dead > 0 then n = n + redis.call('HDEL', KEYS[i], unpack(dead)) end
  end
end
return n
