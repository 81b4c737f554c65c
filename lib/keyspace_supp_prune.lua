-- keyspace_supp_prune.lua - drop expired compact entries (after
-- keyspace_supp.lua; sluicectl suppress prune)
-- KEYS: buckets. Fields whose entry has expired are deleted; a field
-- that is not an entry (written by hand) and a key of another type are
-- left alone. Returns how many were deleted.
local now, n = tonumber(redis.call('TIME')[1]), 0
for i = 1, #KEYS do
  local h = redis.pcall('HGETALL', KEYS[i])
  if not h.err then
    local dead = {}
    for j = 1, #h, 2 do
      local r, _, x = sl_supp_decode(h[j + 1])
      if r and x > 0 and x <= now then dead[#dead + 1] = h[j] end
    end
    if #dead > 0 then n = n + redis.call('HDEL', KEYS[i], unpack(dead)) end
  end
end
return n
