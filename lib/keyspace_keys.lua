-- keyspace_keys.lua - key names a script must build itself
--
-- A script receives its keys as KEYS, built in C by lib/keyspace.c,
-- except where a part of a name is known only inside the script (logd's
-- stats hash is named by the tenant and category of the msg:<queue id>
-- record the same script reads). Then C passes the kind's template,
-- prefix included (sl_key_template_full()), and the script fills it here:
-- the templates stay in lib/keyspace.c alone.

-- sl_key_fill(template, part1, ...): the template with $1, $2, $3 replaced
local function sl_key_fill(t, ...)
  local p = {...}
  return (string.gsub(t, '%$(%d)', function(i) return p[tonumber(i)] end))
end
