-- keyspace_supp_fn.lua - the Redis 7 function library of the compact layout
--
-- FUNCTION LOAD REPLACE'd by sluicectl suppress functions (and by
-- sluicectl before it writes compact entries) as sl_supp_library() builds
-- it: "#!lua name=sluice_supp", then BUCKETS, SUPPB (the bucket key's
-- template from lib/keyspace.c) and PREFIX from the configuration, then
-- keyspace_keys.lua, keyspace_supp.lua and this file. It is how an
-- operator reads and writes the compact layout without Sluice's code
-- (doc/redis-keys.md, "Compact suppression layout"):
--   FCALL sluice_supp_get 0 <address> [<scope> [<prefix>]]
--       reason, added, expires, source of a live entry, or nil
--   FCALL sluice_supp_put 0 <address> <reason> <added> <expires|0> <source> [<scope> [<prefix>]]
--       1 when written (an existing entry is replaced)
--   FCALL sluice_supp_del 0 <address> [<scope> [<prefix>]]
--       1 when there was an entry
--   FCALL sluice_supp_key 0 <address> [<scope> [<prefix>]]
--       the bucket key and the field of the address
-- With one key (FCALL sluice_supp_get 1 <bucket key> <address>), the key
-- given is the bucket: the form for Redis Cluster (redis-cli -c).
-- <address> is the canonical address (as sluicectl writes it: domain
-- lowercased; local part lowercased and +tag removed by default).

-- field_of(address): the field of an address; over 48 bytes, '#' and the
-- first 32 hex digits of its SHA-1 (no field over hash-max-listpack-value)
local function field_of(addr)
  if #addr > 48 then return '#' .. string.sub(redis.sha1hex(addr), 1, 32) end
  return addr
end

-- locate(keys, address, scope, prefix): the bucket key and field
local function locate(keys, addr, scope, prefix)
  local f = field_of(addr)
  if #keys > 0 then return keys[1], f end
  local b = tonumber(string.sub(redis.sha1hex(f), 1, 8), 16) % BUCKETS
  return sl_key_fill((prefix or PREFIX) .. SUPPB, string.format('%d', b), scope or 'global'), f
end

local function supp_get(keys, args)
  local k, f = locate(keys, args[1], args[2], args[3])
  local e, err = sl_supp_entry(k, f, tonumber(redis.call('TIME')[1]))
  if err then return redis.error_reply(err) end
  if not e then return nil end
  return {e.reason, e.added, e.expires, e.source}
end

local function supp_put(keys, args)
  local k, f = locate(keys, args[1], args[6], args[7])
  if not sl_supp_encode(args[2], 0, 0, '') then
    return redis.error_reply('ERR unknown reason ' .. tostring(args[2]))
  end
  for _, c in ipairs(sl_supp_write(k, f, args[2], args[5] or '', tonumber(args[3]) or 0, '', '',
                                   tonumber(args[4]) or 0)) do
    redis.call(unpack(c))
  end
  return 1
end

local function supp_del(keys, args)
  local k, f = locate(keys, args[1], args[2], args[3])
  return redis.call(unpack(sl_supp_drop(k, f)))
end

local function supp_key(keys, args)
  local k, f = locate(keys, args[1], args[2], args[3])
  return {k, f}
end

redis.register_function{function_name = 'sluice_supp_get', callback = supp_get,
                        flags = {'no-writes'}}
redis.register_function{function_name = 'sluice_supp_key', callback = supp_key,
                        flags = {'no-writes'}}
redis.register_function('sluice_supp_put', supp_put)
redis.register_function('sluice_supp_del', supp_del)
