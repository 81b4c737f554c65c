-- keyspace_supp_put.lua - write entries (after keyspace_supp.lua)
-- KEYS: n entries, then the stats hash when ARGV[4] names a counter.
-- ARGV: mode ("replace", or "keep": an existing entry stays as it is),
-- expires (Unix time, 0: none), source, counter field ("": none), then
-- reason, added and detail per entry. Returns how many it wrote; the
-- counter goes up by as many.
local mode, expires, src, field = ARGV[1], tonumber(ARGV[2]), ARGV[3], ARGV[4]
local n, wrote = (#ARGV - 4) / 3, 0
for i = 1, n do
  local key, b = KEYS[i], 4 + 3 * (i - 1)
  if mode == 'replace' or redis.call('EXISTS', key) == 0 then
    for _, c in ipairs(sl_supp_write(key, ARGV[b + 1], src, ARGV[b + 2], ARGV[b + 3], '', expires)) do
      redis.call(unpack(c))
    end
    wrote = wrote + 1
  end
end
if field ~= '' and wrote > 0 then redis.call('HINCRBY', KEYS[n + 1], field, wrote) end
return wrote
