-- keyspace_supp_get.lua - look entries up (after keyspace_supp.lua)
-- KEYS: entries; ARGV: the field of each ('' in the hash layout).
-- Returns index and reason of each live one; a key of another type is
-- skipped.
local t = redis.call('TIME')
local now, out = tonumber(t[1]), {}
for i = 1, #KEYS do
  local r = sl_supp_read(KEYS[i], ARGV[i] or '', now)
  if r then out[#out + 1] = i; out[#out + 1] = r end
end
return out
