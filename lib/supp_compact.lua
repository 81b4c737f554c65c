#!lua name=sluice_supp
-- supp_compact.lua - suppression entries bucketed into small hashes (Redis 7 functions)
--
-- The compact layout for suppression lists of 10^7..10^8 addresses
-- (doc/redis-keys.md, "Compact suppression layout"). An entry lives in the
-- hash <prefix>suppb:<scope>:<bucket> as one field:
--   field  the canonical address (domain lowercased, as sl_addr_normalize
--          writes it); an address longer than 48 bytes is stored as '#'
--          and the first 32 hex digits of its SHA-1, so that no field
--          is over hash-max-listpack-value (64)
--   value  "<reason code><added>:<expires>:<source>", reason code one of
--          h hard-bounce, s soft-bounce-threshold, c complaint,
--          u unsubscribe, m manual, i import; added and expires Unix
--          seconds in base 36 (expires empty: for ever); source cut to
--          24 bytes
-- <bucket> is the first 8 hex digits of SHA-1(field) as a number, modulo
-- BUCKETS (decimal). BUCKETS is chosen from the expected list size so
-- that a bucket holds 100-250 entries on average (4096 for 1 M
-- addresses, 524288 for 100 M): every bucket then stays well under
-- hash-max-listpack-entries (512 by default in Redis 7.0; keep it at 512
-- or more) and each field and value under hash-max-listpack-value (64),
-- so Redis keeps every bucket as a listpack: about 59 bytes per address
-- at a million (tests/bench/bench_capacity.py) instead of 185-233 for a
-- hash of its own. Fewer entries per bucket cost more: the key and its
-- overhead (about 100 bytes) are shared by fewer addresses. The loader
-- replaces the BUCKETS line with the configured value; changing it later
-- moves every entry (a migration).
--
-- No keys are declared (numkeys 0): the functions build the bucket name
-- from the address, so this layout is for a single Redis (or Sentinel),
-- not for Cluster routing.
--
--   FCALL sluice_supp_get 0 <address> [<scope> [<prefix>]]
--       reason, added, expires, source of a live entry, or nil
--   FCALL sluice_supp_put 0 <address> <reason> <added> <expires|0> <source> [<scope> [<prefix>]]
--       1 when written (an existing entry is replaced)
--   FCALL sluice_supp_del 0 <address> [<scope> [<prefix>]]
--       1 when there was an entry
-- <scope> is global (default), cat:<category> or tenant:<tenant>;
-- <prefix> defaults to sluice:.

local BUCKETS = 4096

local codes = {['hard-bounce'] = 'h', ['soft-bounce-threshold'] = 's', complaint = 'c',
               unsubscribe = 'u', manual = 'm', import = 'i'}
local names = {h = 'hard-bounce', s = 'soft-bounce-threshold', c = 'complaint',
               u = 'unsubscribe', m = 'manual', i = 'import'}

local digits = '0123456789abcdefghijklmnopqrstuvwxyz'

local function b36(n)
  local s = ''
  n = math.floor(n)
  repeat
    local d = n % 36
    s = string.sub(digits, d + 1, d + 1) .. s
    n = (n - d) / 36
  until n == 0
  return s
end

local function field_of(addr)
  if #addr > 48 then return '#' .. string.sub(redis.sha1hex(addr), 1, 32) end
  return addr
end

local function bucket_key(f, scope, prefix)
  return (prefix or 'sluice:') .. 'suppb:' .. (scope or 'global') .. ':'
      .. (tonumber(string.sub(redis.sha1hex(f), 1, 8), 16) % BUCKETS)
end

local function supp_get(keys, args)
  local f = field_of(args[1])
  local v = redis.call('HGET', bucket_key(f, args[2], args[3]), f)
  if not v then return nil end
  local code, added, expires, source = string.match(v, '^(%a)(%w*):(%w*):(.*)$')
  if not code then return nil end
  added, expires = tonumber(added, 36) or 0, tonumber(expires, 36)
  if expires then
    local t = redis.call('TIME')
    if expires <= tonumber(t[1]) then return nil end
  end
  return {names[code] or 'suppressed', tostring(added), expires and tostring(expires) or '', source}
end

local function supp_put(keys, args)
  local f = field_of(args[1])
  local code = codes[args[2]]
  if not code then return redis.error_reply('ERR unknown reason ' .. tostring(args[2])) end
  local expires = tonumber(args[4]) or 0
  local v = code .. b36(tonumber(args[3]) or 0) .. ':' .. (expires > 0 and b36(expires) or '')
      .. ':' .. string.sub(args[5] or '', 1, 24)
  redis.call('HSET', bucket_key(f, args[6], args[7]), f, v)
  return 1
end

local function supp_del(keys, args)
  local f = field_of(args[1])
  return redis.call('HDEL', bucket_key(f, args[2], args[3]), f)
end

redis.register_function{function_name = 'sluice_supp_get', callback = supp_get,
                        flags = {'no-writes'}}
redis.register_function('sluice_supp_put', supp_put)
redis.register_function('sluice_supp_del', supp_del)
