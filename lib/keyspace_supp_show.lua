-- keyspace_supp_show.lua - entries in full (after keyspace_supp.lua;
-- sluicectl check, list, export)
-- KEYS: entries or buckets; ARGV: per key the field, '' for a hash
-- entry, '*' for every field of a bucket. Returns, per live entry, key
-- index, field ('' for a hash entry), reason, source, added, expires,
-- detail; a key of another type is skipped.
local now, out = tonumber(redis.call('TIME')[1]), {}
local function put(i, f, e)
  for _, v in ipairs({i, f, e.reason, e.source or '', e.added or '', e.expires or '', e.detail or ''}) do
    out[#out + 1] = v
  end
end
for i = 1, #KEYS do
  local f = ARGV[i] or ''
  if f == '*' then
    local h = redis.pcall('HGETALL', KEYS[i])
    if not h.err then
      for j = 1, #h, 2 do
        local r, added, x, source = sl_supp_decode(h[j + 1])
        if r and not (x > 0 and x <= now) then
          put(i, h[j], {reason = r, source = source, added = string.format('%d', added),
                        expires = x > 0 and string.format('%d', x) or ''})
        end
      end
    end
  else
    local e = sl_supp_entry(KEYS[i], f, now)
    if e then put(i, f, e) end
  end
end
return out
