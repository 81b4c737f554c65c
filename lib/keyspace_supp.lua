-- keyspace_supp.lua - the one suppression read and the one suppression write
--
-- Embedded at build time (lib/Makefile.am makes keyspace_lua.h from this
-- file) and put in front of every script that reads or writes suppression
-- entries: the milter's and sluicectl's lookup, policyd's decision script,
-- the writers of sluicectl, policyd's one-click handler, sluice-feedback's
-- effects script, and the Redis 7 function library of the compact layout
-- (keyspace_supp_fn.lua): the value's encoding is written here only.
-- Key names come from lib/keyspace.c, as KEYS; nothing here builds one.
--
-- An entry is found at a key and a field (doc/redis-keys.md):
--   field ''  the hash layout: the hash supp:<scope>:<address> with the
--             fields reason, source, added, detail, expires (also its
--             TTL), bounce_reason;
--   field f   the compact layout: field f of the bucket hash
--             suppb:{<bucket>}:<scope>, whose value is
--             "<reason code><added>:<expires>:<source>" (times in base
--             36, expires empty for ever, source cut to 24 bytes); the
--             code in upper case stands for a source "import:<source>"
--             (sluicectl suppress import's), 7 bytes less per entry.

local sl_supp_codes = {['hard-bounce'] = 'h', ['soft-bounce-threshold'] = 's', complaint = 'c',
                       unsubscribe = 'u', manual = 'm', import = 'i'}
local sl_supp_names = {h = 'hard-bounce', s = 'soft-bounce-threshold', c = 'complaint',
                       u = 'unsubscribe', m = 'manual', i = 'import'}

-- sl_supp_b36(n): n (a non-negative integer) in base 36
local function sl_supp_b36(n)
  local digits, s = '0123456789abcdefghijklmnopqrstuvwxyz', ''
  n = math.floor(tonumber(n) or 0)
  if n < 0 then n = 0 end
  repeat
    local d = n % 36
    s = string.sub(digits, d + 1, d + 1) .. s
    n = (n - d) / 36
  until n == 0
  return s
end

-- sl_supp_encode(reason, added, expires, source): the value of a compact
-- entry, or nil for a reason that has no code
local function sl_supp_encode(reason, added, expires, source)
  local code = sl_supp_codes[reason]
  if not code then return nil end
  expires, source = tonumber(expires) or 0, source or ''
  if string.sub(source, 1, 7) == 'import:' then
    code, source = string.upper(code), string.sub(source, 8)
  end
  return code .. sl_supp_b36(added) .. ':' .. (expires > 0 and sl_supp_b36(expires) or '')
      .. ':' .. string.sub(source, 1, 24)
end

-- sl_supp_decode(v): reason, added, expires (0: for ever), source of a
-- compact value; nil when v is not one
local function sl_supp_decode(v)
  local code, added, expires, source = string.match(v, '^(%a)(%w*):(%w*):(.*)$')
  if not code then return nil end
  if not sl_supp_names[code] then
    code, source = string.lower(code), 'import:' .. source
    if not sl_supp_names[code] then return nil end
  end
  return sl_supp_names[code], tonumber(added, 36) or 0, tonumber(expires, 36) or 0, source
end

-- sl_supp_entry(key, field, now): the live entry at key and field as a
-- table (reason, source, added, expires, detail, bounce_reason; numbers
-- as strings, '' for none), or nil; nil and the error text when Redis
-- refused the read (WRONGTYPE ...). An entry whose expires (> 0) is not
-- after now has expired.
local function sl_supp_entry(key, field, now)
  if field == '' then
    local h = redis.pcall('HGETALL', key)
    if type(h) == 'table' and h.err then return nil, h.err end
    local e = {}
    for i = 1, #h, 2 do e[h[i]] = h[i + 1] end
    local x = tonumber(e.expires)
    if not e.reason or (x and x > 0 and x <= now) then return nil end
    return e
  end
  local v = redis.pcall('HGET', key, field)
  if type(v) == 'table' and v.err then return nil, v.err end
  if not v then return nil end
  local r, added, x, source = sl_supp_decode(v)
  if not r or (x > 0 and x <= now) then return nil end
  return {reason = r, source = source, added = string.format('%d', added),
          expires = x > 0 and string.format('%d', x) or '', detail = '', bounce_reason = ''}
end

-- sl_supp_read(key, field, now): the reason of a live entry, or nil; nil
-- and the error text when Redis refused the read (WRONGTYPE ...)
local function sl_supp_read(key, field, now)
  if field == '' then
    local e = redis.pcall('HMGET', key, 'reason', 'expires')
    if type(e) == 'table' and e.err then return nil, e.err end
    local r, x = e[1], tonumber(e[2])
    if not r or (x and x > 0 and x <= now) then return nil end
    return r
  end
  local e, err = sl_supp_entry(key, field, now)
  return e and e.reason, err
end

-- sl_supp_write(key, field, reason, source, added, detail, bounce_reason,
-- expires): the commands that write one entry, replacing what was there;
-- expires is a Unix time, 0 for an entry kept for ever (in the hash
-- layout also the key's expiry). Empty detail and bounce_reason are left
-- out; the compact layout keeps neither. A reason without a code is an
-- error (the writers pass documented reasons only).
local function sl_supp_write(key, field, reason, source, added, detail, bclass, expires)
  if field ~= '' then
    local v = sl_supp_encode(reason, added, expires, source)
    if not v then error('ERR suppression reason ' .. tostring(reason) .. ' has no compact code') end
    return {{'HSET', key, field, v}}
  end
  local h = {'HSET', key, 'reason', reason, 'source', source, 'added', tostring(added)}
  if detail ~= '' then h[#h + 1] = 'detail'; h[#h + 1] = detail end
  if bclass ~= '' then h[#h + 1] = 'bounce_reason'; h[#h + 1] = bclass end
  if expires > 0 then h[#h + 1] = 'expires'; h[#h + 1] = string.format('%d', expires) end
  local c = {{'DEL', key}, h}
  if expires > 0 then c[3] = {'EXPIREAT', key, string.format('%d', expires)} end
  return c
end

-- sl_supp_drop(key, field): the command that removes an entry
local function sl_supp_drop(key, field)
  if field == '' then return {'DEL', key} end
  return {'HDEL', key, field}
end
