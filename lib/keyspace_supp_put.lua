-- keyspace_supp_put.lua - write entries (after keyspace_supp.lua)
-- KEYS: n entries, then the stats hash when ARGV[4] names a counter.
-- ARGV: mode ("replace", or "keep": a live entry stays as it is),
-- expires (Unix time, 0: none), source, counter field ("": none), then
-- reason, added, detail and field ('' in the hash layout) per entry.
-- Returns how many it wrote; the counter goes up by as many.
local mode, expires, src, field = ARGV[1], tonumber(ARGV[2]), ARGV[3], ARGV[4]
local n, wrote = (#ARGV - 4) / 4, 0
local now = tonumber(redis.call('TIME')[1])
for i = 1, n do
  local key, b = KEYS[i], 4 + 4 * (i - 1)
  local f, live = ARGV[b + 4], false
  local cmds = sl_supp_write(key, f, ARGV[b + 1], src, ARGV[b + 2], ARGV[b + 3], '', expires)
  if mode ~= 'replace' and f == '' then
    live = redis.call('EXISTS', key) == 1
  elseif mode ~= 'replace' then
    -- one pass over the bucket for a new entry; an expired one is replaced
    if redis.call('HSETNX', key, f, cmds[1][4]) == 1 then
      cmds, wrote = {}, wrote + 1
    else
      local e, err = sl_supp_entry(key, f, now)
      if err then return redis.error_reply(err) end
      live = e ~= nil
    end
  end
  if not live and #cmds > 0 then
    for _, c in ipairs(cmds) do redis.call(unpack(c)) end
    wrote = wrote + 1
  end
end
if field ~= '' and wrote > 0 then redis.call('HINCRBY', KEYS[n + 1], field, wrote) end
return wrote
