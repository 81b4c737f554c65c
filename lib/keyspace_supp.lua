-- keyspace_supp.lua - the one suppression read and the one suppression write
--
-- Embedded at build time (lib/Makefile.am makes keyspace_lua.h from this
-- file) and put in front of every script that reads or writes suppression
-- entries: the milter's and sluicectl's lookup, policyd's decision script,
-- the writers of sluicectl, policyd's one-click handler and
-- sluice-feedback's effects script. Key names come from lib/keyspace.c,
-- as KEYS; nothing here builds one. An entry is the hash
-- supp:<scope>:<address> (doc/redis-keys.md): reason, source, added,
-- detail, expires (also its TTL), bounce_reason.

-- sl_supp_read(key, now): the reason of a live entry at key, or nil;
-- nil and the error text when Redis refused the read (WRONGTYPE ...).
-- An entry whose expires field (> 0) is not after now has expired.
local function sl_supp_read(key, now)
  local e = redis.pcall('HMGET', key, 'reason', 'expires')
  if type(e) == 'table' and e.err then return nil, e.err end
  local r, x = e[1], tonumber(e[2])
  if not r or (x and x > 0 and x <= now) then return nil end
  return r
end

-- sl_supp_write(key, reason, source, added, detail, bounce_reason, expires):
-- the commands that write one entry, replacing whatever key held; expires
-- is a Unix time, 0 for an entry kept for ever (it is also the key's
-- expiry). Empty detail and bounce_reason are left out.
local function sl_supp_write(key, reason, source, added, detail, bclass, expires)
  local h = {'HSET', key, 'reason', reason, 'source', source, 'added', tostring(added)}
  if detail ~= '' then h[#h + 1] = 'detail'; h[#h + 1] = detail end
  if bclass ~= '' then h[#h + 1] = 'bounce_reason'; h[#h + 1] = bclass end
  if expires > 0 then h[#h + 1] = 'expires'; h[#h + 1] = string.format('%d', expires) end
  local c = {{'DEL', key}, h}
  if expires > 0 then c[3] = {'EXPIREAT', key, string.format('%d', expires)} end
  return c
end
