-- keyspace_supp_relayout.lua - move entries to the other layout (after
-- keyspace_supp.lua; sluicectl suppress migrate)
-- KEYS: pairs (where an entry is, where it goes); ARGV: the two fields of
-- each pair ('' for the hash layout). For each pair, atomically: an entry
-- gone, expired or of another type is left alone (expiry or sluicectl
-- suppress prune reclaims it);
-- with no live entry at the destination the entry is written there
-- (what the destination layout keeps of it); with one, the entry that
-- lasts longer stays there (never is a suppression shortened). The
-- source is removed. An entry whose reason has no compact code (written
-- by hand) stays where it is, counted as skipped. Returns {moved, merged,
-- skipped}.
local now, moved, merged, skipped = tonumber(redis.call('TIME')[1]), 0, 0, 0
local function exp(e) local x = tonumber(e.expires) or 0; return x > 0 and x or math.huge end
for i = 1, #KEYS - 1, 2 do
  local from, to, ff, tf = KEYS[i], KEYS[i + 1], ARGV[i] or '', ARGV[i + 1] or ''
  local e = sl_supp_entry(from, ff, now)
  if e and tf ~= '' and not sl_supp_encode(e.reason, 0, 0, '') then
    skipped, e = skipped + 1, nil
  elseif e then
    local d = sl_supp_entry(to, tf, now)
    if d and exp(d) >= exp(e) then
      merged = merged + 1
    else
      if d then merged = merged + 1 else moved = moved + 1 end
      for _, c in ipairs(sl_supp_write(to, tf, e.reason, e.source or '', tonumber(e.added) or 0,
                                       e.detail or '', e.bounce_reason or '', tonumber(e.expires) or 0)) do
        redis.call(unpack(c))
      end
    end
  end
  if e then redis.call(unpack(sl_supp_drop(from, ff))) end
end
return {moved, merged, skipped}
