/*
 * NAME
 *	feedback_effects_lua 3h - the Lua script that applies one feedback message
 * DESCRIPTION
 *	Included once, by feedback_effects.c, the way policyd_limits.c keeps
 *	its scripts: a C string in an sl_script, sent by EVALSHA, after the
 *	keyspace's suppression functions (SL_LUA_SUPP, lib/keyspace_supp.lua):
 *	an entry is written by sl_supp_write(), as by every other writer. It applies
 *	every effect of one feedback message in one call, in three phases:
 *
 *	  1. plan: reads only (the done marker, soft-bounce sets, the seen
 *	     set, counters for the rates, the tenant status); every write is
 *	     queued in a table;
 *	  2. check: every queued write is allowed for this ACL user
 *	     (redis.acl_check_cmd), every key it writes has the right type,
 *	     every counter it increments holds an integer; otherwise an error
 *	     reply and nothing written;
 *	  3. apply: the writes, the done marker last. Only a message that
 *	     counted something (a verified, bound record) or a DMARC report
 *	     gets a marker: mail that moved nothing (junk, forged and
 *	     unbound records: events and the capped unverified counter)
 *	     leaves none, so a flood of it cannot fill Redis with markers.
 *	The "#!lua" line makes Redis 7 refuse the script before it runs when
 *	it is over maxmemory (noeviction) or a read-only replica; Redis runs
 *	a script atomically, so no other client sees half of it, and a
 *	persisted or replicated script is all or nothing.
 *
 *	KEYS (lib/keyspace.c, every one built in C; "" where a record has
 *	none): 1 the done marker fbdone:{<msgid>}:<id>, 2 the day's stats hash, 3 the
 *	events stream, 4 the seen set fbseen:{<msgid>}, 5 the tenant hash,
 *	then the n stats hashes summed for the rates, then 3 per record:
 *	its suppression entry (canonical address, scope of the record), its
 *	soft-bounce set, its provider hash; then, for a DMARC report, the
 *	report hash and its unauth set.
 *
 *	ARGV (every value a string; "" for none):
 *	  1 "" (was the key prefix)  2 id (message identity)  3 now  4 day (yyyymmdd)
 *	  5 kind name  6 token (verified, or why not)  7 tenant  8 category
 *	  9 msgid  10 the provider hash's field of this tenant and category
 *	     (sl_key_provider_field(): "tenant:<tenant|->:<category|->")
 *	  11 soft_threshold  12 soft_window  13 pause mode (e, m, o)
 *	  14 pause_bounce_rate  15 pause_complaint_rate  16 pause_min_sent
 *	  17 events_maxlen  18 done marker TTL  19 unverified cap
 *	  20 seen set TTL  21 pause window (days)
 *	  22 n: stats keys summed for the rates (they are KEYS 6 to 5+n)
 *	  then m: records, then 8 values per record:
 *	     class  H hard, R soft recipient-side, N soft neutral,
 *	            S sender-side, C complaint, U unsubscribe,
 *	            E event only, X no usable recipient
 *	     bound (1 or 0), address, reason, detail, provider (the
 *	     recipient's organizational domain), scope (of a suppression),
 *	     ttl (of a suppression, seconds, 0 forever); for class E the
 *	     scope slot holds the event type (delivered, delayed, unknown,
 *	     autoreply)
 *	  then, for kind dmarc-aggregate: domain, report day, org_name,
 *	     report_id, k, then 3 values per <record>: source IP, count,
 *	     1 (DKIM or SPF pass) or 0.
 *	Records are walked with index arithmetic, never unpack(): a message
 *	may carry any number of them.
 * RESULT
 *	{"dup"} when the marker says the message was applied already;
 *	{"ok", counted, unverified, pause} otherwise (unverified: records
 *	not counted for want of a verified token and a bound recipient), where pause is "" or
 *	the reason the tenant was (or, in monitor mode, would be) paused.
 *	An error reply ("NOPERM ...", "WRONGTYPE ...", "OOM ...",
 *	"READONLY ...") means nothing was written.
 */
#ifndef FEEDBACK_EFFECTS_LUA_H
#define FEEDBACK_EFFECTS_LUA_H

static sl_script fx_script = {.source =
	"#!lua\n"
	SL_LUA_SUPP
	"local id, now, day = ARGV[2], tonumber(ARGV[3]), ARGV[4]\n"
	"local done, events, tk = KEYS[1], KEYS[3], KEYS[5]\n"
	/* rd: a read; an error reply (a key of the wrong type) names the command and key */
	"local function rd(cmd, key, ...)\n"
	"  local v = redis.pcall(cmd, key, ...)\n"
	"  if type(v) == 'table' and v.err then\n"
	"    error({err = v.err .. ' (' .. cmd .. ' ' .. key .. '): nothing written'})\n"
	"  end\n"
	"  return v\n"
	"end\n"
	"if rd('EXISTS', done) == 1 then return {'dup'} end\n"
	"local kind, token, tenant, cat, msgid = ARGV[5], ARGV[6], ARGV[7], ARGV[8], ARGV[9]\n"
	"local stats = KEYS[2]\n"
	"local thr, win, pmode = tonumber(ARGV[11]), tonumber(ARGV[12]), ARGV[13]\n"
	"local brate, crate, minsent = tonumber(ARGV[14]), tonumber(ARGV[15]), tonumber(ARGV[16])\n"
	"local maxlen, donettl, cap, seenttl = ARGV[17], ARGV[18], tonumber(ARGV[19]), ARGV[20]\n"
	"local pwin = ARGV[21]\n"
	"local verified = token == 'verified'\n"
	"local plan, inc, incn = {}, {}, {}\n"
	"local function w(...) plan[#plan + 1] = {...} end\n"
	"local function count(f, n)\n"
	"  if inc[f] == nil then incn[#incn + 1] = f; inc[f] = 0 end\n"
	"  inc[f] = inc[f] + n\n"
	"end\n"
	"local function event(typ, rcpt, reason, detail)\n"
	"  w('XADD', events, 'MAXLEN', '~', maxlen, '*', 'type', typ, 'kind', kind,\n"
	"    'recipient', rcpt, 'reason', reason, 'category', verified and cat or '',\n"
	"    'tenant', verified and tenant or '', 'msgid', verified and msgid or '',\n"
	"    'detail', detail, 'token', token)\n"
	"end\n"
	/* suppress: the keyspace's one writer (lib/keyspace_supp.lua), queued */
	"local function suppress(key, scope, addr, reason, bclass, source, ttl, detail)\n"
	"  ttl = tonumber(ttl)\n"
	"  for _, c in ipairs(sl_supp_write(key, reason, source, now, detail, bclass,\n"
	"                                   ttl > 0 and now + ttl or 0)) do\n"
	"    plan[#plan + 1] = c\n"
	"  end\n"
	"  event('suppressed', addr, reason, scope)\n"
	"end\n"
	/* soft: the distinct original messages (token msgid) that soft-bounced in the window */
	"local function soft(skey, key, addr, reason, detail, scope, ttl)\n"
	"  local lo = now - win\n"
	"  local n = rd('ZCOUNT', key, '(' .. lo, '+inf')\n"
	"  local old = rd('ZSCORE', key, msgid)\n"
	"  if not (old and tonumber(old) > lo) then n = n + 1 end\n"
	"  w('ZADD', key, tostring(now), msgid)\n"
	"  w('ZREMRANGEBYSCORE', key, '-inf', tostring(lo))\n"
	"  w('EXPIRE', key, tostring(win))\n"
	"  event('soft-bounce', addr, reason, detail)\n"
	"  if n >= thr then suppress(skey, scope, addr, 'soft-bounce-threshold', reason, 'bounce', ttl, detail) end\n"
	"end\n"
	"local function senderfault(pk, addr, reason, detail)\n"
	"  count('sender_fault', 1)\n"
	"  count('sender_fault:' .. reason, 1)\n"
	"  w('HINCRBY', pk, 'sender_fault', '1')\n"
	"  w('HINCRBY', pk, 'sender_fault:' .. reason, '1')\n"
	"  w('HINCRBY', pk, ARGV[10], '1')\n"
	"  event('sender-fault', addr, reason, detail)\n"
	"end\n"
	"local seenkey, seen, seenadd = KEYS[4], {}, {}\n"
	/* first: counted already, by an earlier message about the same original, or in this one */
	"local function first(member)\n"
	"  if seen[member] ~= nil then return false end\n"
	"  seen[member] = true\n"
	"  if rd('SISMEMBER', seenkey, member) == 1 then return false end\n"
	"  seenadd[#seenadd + 1] = member\n"
	"  return true\n"
	"end\n"
	"local counted, unverified, shown = 0, 0, 0\n"
	"local function unbound(cls, addr, reason)\n"
	"  unverified = unverified + 1\n"
	"  if unverified > cap then return end\n"
	"  local why = verified and 'not a recipient of the message' or token\n"
	"  if cls == 'X' and verified then why = 'no recipient' end\n"
	"  event('unverified', addr, reason, why)\n"
	"end\n"
	"local a = 22\n"
	"local nrate = tonumber(ARGV[a]); a = a + 1\n"
	"local nrec = tonumber(ARGV[a]); a = a + 1\n"
	"local k = 5 + nrate\n"
	"for i = 1, nrec do\n"
	"  local cls, bound, addr, reason = ARGV[a], ARGV[a + 1] == '1', ARGV[a + 2], ARGV[a + 3]\n"
	"  local detail, scope, ttl = ARGV[a + 4], ARGV[a + 6], ARGV[a + 7]\n"
	"  local skey, softkey, pk = KEYS[k + 1], KEYS[k + 2], KEYS[k + 3]\n"
	"  a, k = a + 8, k + 3\n"
	"  if cls == 'E' then\n"
	"    event(scope, addr, reason, detail)\n"
	"  elseif cls == 'X' and (kind == 'bounce' and verified) then\n"
	"    event('bounce-no-recipient', addr, reason, detail)\n"
	"  elseif cls == 'X' or not (verified and bound) then\n"
	"    unbound(cls, addr, reason)\n"
	"  elseif not first(string.lower(kind) .. ':' .. addr) then\n"
	"    event('duplicate', addr, reason, 'counted already for this message')\n"
	"  else\n"
	"    counted = counted + 1\n"
	"    if cls == 'H' then\n"
	"      count('hard', 1)\n"
	"      suppress(skey, scope, addr, 'hard-bounce', reason, 'bounce', ttl, detail)\n"
	"    elseif cls == 'R' then\n"
	"      count('soft', 1)\n"
	"      soft(skey, softkey, addr, reason, detail, scope, ttl)\n"
	"    elseif cls == 'N' then\n"
	"      count('soft', 1)\n"
	"      event('soft-bounce', addr, reason, detail)\n"
	"    elseif cls == 'S' then\n"
	"      senderfault(pk, addr, reason, detail)\n"
	"    elseif cls == 'C' then\n"
	"      count('complaint', 1)\n"
	"      suppress(skey, scope, addr, 'complaint', '', 'complaint', ttl, detail)\n"
	"    elseif cls == 'U' then\n"
	"      count('unsub', 1)\n"
	"      suppress(skey, scope, addr, 'unsubscribe', '', 'unsubscribe', ttl, detail)\n"
	"    end\n"
	"  end\n"
	"end\n"
	"if unverified > 0 then count('unverified', math.min(unverified, cap)) end\n"
	"if unverified > cap then\n"
	"  event('unverified-capped', '', '', (unverified - cap) .. ' more not shown')\n"
	"end\n"
	"if kind == 'dmarc-aggregate' then\n"
	"  local key, unauthkey = KEYS[k + 1], KEYS[k + 2]\n"
	"  local org, rid, k = ARGV[a + 2], ARGV[a + 3], tonumber(ARGV[a + 4])\n"
	"  local sums, order, unauth = {}, {}, {}\n"
	"  local function add(f, n)\n"
	"    if sums[f] == nil then order[#order + 1] = f; sums[f] = 0 end\n"
	"    sums[f] = sums[f] + n\n"
	"  end\n"
	"  a = a + 5\n"
	"  add('reports', 1)\n"
	"  for i = 1, k do\n"
	"    local ip, n, pass = ARGV[a], tonumber(ARGV[a + 1]), ARGV[a + 2] == '1'\n"
	"    a = a + 3\n"
	"    add('messages', n)\n"
	"    add(pass and 'pass' or 'fail', n)\n"
	"    add('src:' .. ip .. ':' .. (pass and 'pass' or 'fail'), n)\n"
	"    if not pass and unauth[ip] == nil then unauth[ip] = true; w('SADD', unauthkey, ip) end\n"
	"  end\n"
	"  for _, f in ipairs(order) do w('HINCRBY', key, f, string.format('%d', sums[f])) end\n"
	"  event('dmarc-report', '', org, rid)\n"
	"end\n"
	"for _, f in ipairs(incn) do w('HINCRBY', stats, f, tostring(inc[f])) end\n"
	"for _, m in ipairs(seenadd) do w('SADD', seenkey, m) end\n"
	"if #seenadd > 0 then w('EXPIRE', seenkey, seenttl) end\n"
	/* the tenant's rates, this message's counts included */
	"local pause = ''\n"
	"if counted > 0 and pmode ~= 'o' and tenant ~= '' then\n"
	"  local sent, bounced, complained = 0, 0, 0\n"
	"  for i = 0, nrate - 1 do\n"
	"    local v = rd('HMGET', KEYS[6 + i], 'sent', 'hard', 'soft', 'complaint')\n"
	"    sent = sent + (tonumber(v[1]) or 0)\n"
	"    bounced = bounced + (tonumber(v[2]) or 0) + (tonumber(v[3]) or 0)\n"
	"    complained = complained + (tonumber(v[4]) or 0)\n"
	"  end\n"
	"  bounced = bounced + (inc['hard'] or 0) + (inc['soft'] or 0)\n"
	"  complained = complained + (inc['complaint'] or 0)\n"
	"  if sent >= minsent and sent > 0 then\n"
	"    if 100.0 * bounced / sent >= brate then\n"
	"      pause = string.format('bounce rate %.2f%% (%d of %d) over %s day(s)', 100.0 * bounced / sent, bounced, sent, pwin)\n"
	"    elseif 100.0 * complained / sent >= crate then\n"
	"      pause = string.format('complaint rate %.3f%% (%d of %d) over %s day(s)', 100.0 * complained / sent, complained, sent, pwin)\n"
	"    end\n"
	"  end\n"
	"  if pause ~= '' and pmode == 'm' then\n"
	"    event('would-pause', '', pause, tenant)\n"
	"  elseif pause ~= '' then\n"
	
	"    local st = rd('HGET', tk, 'status')\n"
	"    if st and st ~= 'active' then\n"
	"      pause = ''\n"
	"    else\n"
	"      w('HSET', tk, 'status', 'paused', 'status_reason', pause, 'status_changed', tostring(now))\n"
	"      event('tenant-paused', '', pause, tenant)\n"
	"    end\n"
	"  end\n"
	"end\n"
	/* no marker for a message that moved nothing: junk must not fill Redis with markers */
	"if counted > 0 or kind == 'dmarc-aggregate' then\n"
	"  w('SET', done, tostring(now), 'EX', donettl)\n"
	"end\n"
	/* check every write before the first one */
	"local want = {HSET = 'hash', HDEL = 'hash', HINCRBY = 'hash', ZADD = 'zset',\n"
	"  ZREMRANGEBYSCORE = 'zset', SADD = 'set', XADD = 'stream'}\n"
	"local typed = {}\n"
	"for _, c in ipairs(plan) do\n"
	"  if not redis.acl_check_cmd(unpack(c)) then\n"
	"    return redis.error_reply('NOPERM this user may not run ' .. c[1] .. ' on ' .. c[2] .. ': nothing written')\n"
	"  end\n"
	"  local t = want[c[1]]\n"
	"  if t and typed[c[2]] == nil then\n"
	"    local have = rd('TYPE', c[2])['ok']\n"
	"    if have ~= 'none' and have ~= t then\n"
	"      return redis.error_reply('WRONGTYPE ' .. c[2] .. ' is a ' .. have .. ', not a ' .. t .. ': nothing written')\n"
	"    end\n"
	"    typed[c[2]] = true\n"
	"  end\n"
	"  if c[1] == 'HINCRBY' then\n"
	"    local v = rd('HGET', c[2], c[3])\n"
	"    if v and not string.match(v, '^%-?%d+$') then\n"
	"      return redis.error_reply('ERR ' .. c[2] .. ' field ' .. c[3] .. ' is not an integer: nothing written')\n"
	"    end\n"
	"    if math.abs((tonumber(v) or 0) + tonumber(c[4])) >= 2^53 then\n"
	"      return redis.error_reply('ERR ' .. c[2] .. ' field ' .. c[3] .. ' would overflow: nothing written')\n"
	"    end\n"
	"  end\n"
	"end\n"
	"for _, c in ipairs(plan) do redis.call(unpack(c)) end\n"
	"return {'ok', tostring(counted), tostring(unverified), pause}\n"
};

#endif
