/*
 * NAME
 *	policyd_limits 3 - rate limits and quotas: definitions, keys, Lua
 * SYNOPSIS
 *	#include "policyd.h"
 *
 *	void pd_limits_start(pd_server *srv)
 *	int pd_limit_parse(pd_limit *l, const char *name, int nfields,
 *			   const char **field, char *err, size_t errlen)
 *	int pd_template_expand(const char *tmpl, const pd_facts *f,
 *			       char *out, size_t outlen)
 *	int pd_window_id(enum pd_window w, time_t now, char *id,
 *			 size_t idlen, time_t *end)
 *	void pd_limits_passed(const char *name)
 *	int pd_limits_flush(pd_server *srv)
 *	extern sl_script pd_decide_script;
 * DESCRIPTION
 *	Limits live in Redis as hashes sluice:limit:<name>, listed in the set
 *	sluice:limits (doc/redis-keys.md). Every poll_interval (500 ms) one
 *	EVALSHA reads the set, every limit hash and the sluice:mode hash;
 *	the result replaces the table, so a change made with redis-cli is in
 *	force within a second. A limit with an invalid field is logged once
 *	per distinct content and ignored; the others keep working.
 *
 *	Limits from the config file (limit "name" { ... }) are seeds: written
 *	when the hash does not exist yet (at start-up, after SIGHUP, and when
 *	the marker sluice:limits:seeded is gone: a restarted or flushed Redis);
 *	from then on Redis is the truth.
 *
 *	A limit is either a rolling rate with a burst ("rate = 50/hour",
 *	"burst = 50"), kept as a leaky bucket (GCRA in token units: a level
 *	that drains at the rate; raising the rate with HSET frees room at
 *	once), or a calendar window ("window = day", "max = 10000") in the
 *	configured time zone, kept as a counter whose key names the period
 *	and expires after it. Units are messages (charged at the first
 *	recipient of a message) or recipients.
 *
 *	pd_decide_script checks tenant status, suppression and every
 *	applicable limit of one request, and charges the limits only when
 *	no enforced limit refuses: all or nothing, in one round trip. The
 *	"passed" counter of rulestats:<name> is not written per request:
 *	passes are added up here and written every poll_interval and at the
 *	stop (pd_limits_flush()), so a crash loses at most one interval of
 *	them; every other counter is written by the script itself.
 * OWNERSHIP
 *	The table is reference counted: a query in flight keeps the table it
 *	started with, so indexes in the script's answer stay meaningful.
 */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <event2/event.h>

#include "live.h"
#include "keyspace_supp.h"
#include "log.h"
#include "policyd.h"

/*
 * The decision script. KEYS: tenant hash, suppression hashes, then per
 * limit its counter and its stats hash, then the connection's charge
 * record when ARGV names an instance. ARGV: tenant mode, number of
 * scopes, suppression mode, number of limits, then 7 values per limit:
 * kind (r|w), cost, p1, p2, mode (e|m), warn, action (d|r); for a rate
 * p1 is the interval in ms and p2 the burst, for a window p1 is the
 * maximum and p2 the end of the period (unix seconds). Then Postfix's
 * instance ('' for no charge record), the recipient, and per limit its
 * unit (m|r). Each charge is appended to the record (lib/charge.c has
 * its format), which sluice-milter settles when the transaction ends;
 * a record of another instance is a transaction that ended: dropped.
 * Modes: e enforce, m monitor, x skip. After the TTL, 's' marks one step
 * of a decision split by Cluster slot (policyd_check.c): the stats
 * positions then repeat the counter and are not written, the caller
 * writes the statistics from the events ("sr:<index>" for a refusal),
 * and there is no charge record (written once the decision passed).
 * A key of the wrong type or value (written by hand) is reported as
 * "bad:<key>" and skipped, never an error for the whole request: reads
 * go through redis.pcall. Any other error reply (a write refused with
 * OOM at maxmemory, a read failing for another reason) aborts the
 * script with an error naming the key: the charge did not happen, and
 * the caller must count Redis as failed and answer the fail action.
 * When a limit refuses, a failed statistics write is only reported
 * ("err:<command> <key>: <error>"): the refusal stands. A limit that
 * passed is reported as "p:<index>", not counted here: policyd adds the
 * passes up and writes them every poll interval (pd_limits_passed()),
 * one call per request less on the decision path.
 */
sl_script pd_decide_script = {.source = SL_LUA_SUPP
	"local tmode, ns, smode, nl = ARGV[1], tonumber(ARGV[2]), ARGV[3], tonumber(ARGV[4])\n"
	"local ev = {}\n"
	"local ra = 4 + 7 * nl\n"
	"local inst, rcpt = ARGV[ra + 1] or '', ARGV[ra + 2] or ''\n"
	"local rec = inst ~= '' and KEYS[2 + ns + 2 * nl] or nil\n"
	"local split = ARGV[ra + 4 + nl] == 's'\n"
	"local function get(cmd, key, ...)\n"
	"  local r = redis.pcall(cmd, key, ...)\n"
	"  if type(r) == 'table' and r.err then\n"
	"    if string.sub(r.err, 1, 9) == 'WRONGTYPE' then return nil end\n"
	"    error('SLUICE ' .. cmd .. ' ' .. key .. ': ' .. r.err)\n"
	"  end\n"
	"  return r\n"
	"end\n"
	"local function put(cmd, key, ...)\n"
	"  local r = redis.pcall(cmd, key, ...)\n"
	"  if type(r) == 'table' and r.err then\n"
	"    error('SLUICE ' .. cmd .. ' ' .. key .. ': ' .. r.err)\n"
	"  end\n"
	"end\n"
	"if rec then\n"
	"  local cur = get('HGET', rec, 'instance')\n"
	"  if cur ~= false and cur ~= inst then put('DEL', rec) end\n"
	"end\n"
	"if tmode ~= 'x' then\n"
	"  local st = get('HMGET', KEYS[1], 'status', 'status_reason')\n"
	"  if st == nil then\n"
	"    ev[#ev+1] = 'bad:' .. KEYS[1]\n"
	"  elseif st[1] == 'paused' or st[1] == 'suspended' then\n"
	"    if tmode == 'e' then return {'tenant', st[1], st[2] or ''} end\n"
	"    ev[#ev+1] = 'mt:' .. st[1]\n"
	"  elseif st[1] and st[1] ~= 'active' then\n"
	"    ev[#ev+1] = 'ts:' .. KEYS[1] .. '=' .. string.sub(st[1], 1, 80)\n"
	"  end\n"
	"end\n"
	"local t = redis.call('TIME')\n"
	"local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)\n"
	"if smode ~= 'x' then\n"
	"  for i = 1, ns do\n"
	"    local r, err = sl_supp_read(KEYS[1+i], now / 1000)\n"
	"    if err and string.sub(err, 1, 9) ~= 'WRONGTYPE' then\n"
	"      error('SLUICE HMGET ' .. KEYS[1+i] .. ': ' .. err)\n"
	"    elseif err then\n"
	"      ev[#ev+1] = 'bad:' .. KEYS[1+i]\n"
	"    elseif r then\n"
	"      if smode == 'e' then return {'supp', tostring(i), r} end\n"
	"      ev[#ev+1] = 'ms:' .. i .. ':' .. r\n"
	"    end\n"
	"  end\n"
	"end\n"
	"local res, refuse, retry = {}, nil, 0\n"
	"for i = 1, nl do\n"
	"  local a = 4 + (i - 1) * 7\n"
	"  local kind, cost = ARGV[a+1], tonumber(ARGV[a+2])\n"
	"  local p1, p2 = tonumber(ARGV[a+3]), tonumber(ARGV[a+4])\n"
	"  local key = KEYS[1 + ns + 2 * i - 1]\n"
	"  local new, wait, bad\n"
	"  if kind == 'r' then\n"
	"    local h = get('HMGET', key, 'level', 'ts')\n"
	"    if h == nil or (h[1] and not tonumber(h[1])) then\n"
	"      bad = true\n"
	"    else\n"
	"      local level = tonumber(h[1]) or 0\n"
	"      local ts = tonumber(h[2]) or now\n"
	"      if now > ts then level = level - (now - ts) / p1 end\n"
	"      if level < 0 then level = 0 end\n"
	"      new = level + cost\n"
	"      if new > p2 then wait = math.ceil((new - p2) * p1 / 1000) end\n"
	"    end\n"
	"  else\n"
	"    local v = get('GET', key)\n"
	"    if v == nil or (v and not tonumber(v)) then\n"
	"      bad = true\n"
	"    else\n"
	"      new = (tonumber(v) or 0) + cost\n"
	"      if new > p1 then wait = p2 - math.floor(now / 1000) end\n"
	"    end\n"
	"  end\n"
	"  res[i] = {new, wait, bad}\n"
	"  if bad then ev[#ev+1] = 'bad:' .. key end\n"
	"  if wait and ARGV[a+5] == 'e' and (refuse == nil or wait > retry) then\n"
	"    refuse, retry = i, wait\n"
	"  end\n"
	"end\n"
	"if refuse then\n"
	"  for i = 1, nl do\n"
	"    local a = 4 + (i - 1) * 7\n"
	"    if res[i][2] and ARGV[a+5] == 'e' and split then\n"
	"      ev[#ev+1] = 'sr:' .. i\n"
	"    elseif res[i][2] and ARGV[a+5] == 'e' then\n"
	"      local k = KEYS[1 + ns + 2 * i]\n"
	"      local r = redis.pcall('HINCRBY', k, ARGV[a+7] == 'r' and 'rejected' or 'deferred', 1)\n"
	"      if type(r) == 'table' and r.err then ev[#ev+1] = 'err:HINCRBY ' .. k .. ': ' .. r.err end\n"
	"    end\n"
	"  end\n"
	"  ev[#ev+1] = 'limit'\n"
	"  ev[#ev+1] = tostring(refuse)\n"
	"  ev[#ev+1] = tostring(retry)\n"
	"  return ev\n"
	"end\n"
	"for i = 1, nl do\n"
	"  local a = 4 + (i - 1) * 7\n"
	"  local key, stats = KEYS[1 + ns + 2 * i - 1], KEYS[1 + ns + 2 * i]\n"
	"  local cost, p1, p2 = tonumber(ARGV[a+2]), tonumber(ARGV[a+3]), tonumber(ARGV[a+4])\n"
	"  local new, warn = res[i][1], tonumber(ARGV[a+6])\n"
	"  if res[i][3] then\n"
	"  elseif res[i][2] then\n"
	"    if not split then put('HINCRBY', stats, ARGV[a+7] == 'r' and 'would_reject' or 'would_defer', 1) end\n"
	"    ev[#ev+1] = 'ml:' .. i\n"
	"  else\n"
	"    if ARGV[a+1] == 'r' then\n"
	"      put('HSET', key, 'level', tostring(new), 'ts', tostring(now))\n"
	"      put('PEXPIRE', key, math.ceil(new * p1) + 1000)\n"
	"    else\n"
	"      put('INCRBY', key, cost)\n"
	"      put('EXPIREAT', key, p2 + 3600)\n"
	"    end\n"
	"    ev[#ev+1] = 'p:' .. i\n"
	"    if rec then\n"
	"      local f = ARGV[ra + 2 + i] == 'm' and 'm' or 'r:' .. rcpt\n"
	"      local was = get('HGET', rec, f) or ''\n"
	"      put('HSET', rec, 'instance', inst, f, was .. ARGV[a+1] .. ' ' .. cost .. ' ' .. p1 .. ' '\n"
	"          .. stats .. ' ' .. key .. '\\n')\n"
	"      put('EXPIRE', rec, ARGV[ra + 3 + nl])\n"
	"    end\n"
	"    if warn > 0 and new >= warn and new - cost < warn then\n"
	"      if not split then put('HINCRBY', stats, 'warned', 1) end\n"
	"      ev[#ev+1] = 'w:' .. i .. ':' .. math.floor(new)\n"
	"    end\n"
	"  end\n"
	"end\n"
	"ev[#ev+1] = 'ok'\n"
	"return ev\n"
};

/*
 * KEYS[1] limits set, KEYS[2] mode hash, KEYS[3] the seeds marker; ARGV[1]
 * and ARGV[2] what comes before and after a name in a limit's key
 * (limit_affixes()): the names are read here, so the keys are built here,
 * from affixes that lib/keyspace.c makes. Returns mode fields, whether the marker exists,
 * then name and fields of each limit.
 */
static sl_script dump_script = {.source =
	"local function hash(k)\n"
	"  local t = redis.call('TYPE', k).ok\n"
	"  if t == 'hash' then return redis.call('HGETALL', k) end\n"
	"  if t == 'none' then return {} end\n"
	"  return {'__type__', t}\n"
	"end\n"
	"local names = {}\n"
	"if redis.call('TYPE', KEYS[1]).ok == 'set' then names = redis.call('SMEMBERS', KEYS[1]) end\n"
	"table.sort(names)\n"
	"local out = {hash(KEYS[2]), redis.call('EXISTS', KEYS[3])}\n"
	"for _, n in ipairs(names) do\n"
	"  out[#out+1] = n\n"
	"  out[#out+1] = hash(ARGV[1] .. n .. ARGV[2])\n"
	"end\n"
	"return out\n"
};

/*
 * KEYS[1] limits set, KEYS[2] the seeds marker; ARGV[1], ARGV[2] the
 * affixes of a limit's key (as in dump_script), then name, n, fields... The marker tells a later poll that this Redis
 * has the seeds; an emptied or restarted one lacks it and is seeded again.
 */
static sl_script seed_script = {.source =
	"local i = 3\n"
	"while i <= #ARGV do\n"
	"  local name, n = ARGV[i], tonumber(ARGV[i+1])\n"
	"  local key = ARGV[1] .. name .. ARGV[2]\n"
	"  if n > 0 and redis.call('EXISTS', key) == 0 then\n"
	"    local args = {}\n"
	"    for j = 1, n do args[j] = ARGV[i+1+j] end\n"
	"    redis.call('HSET', key, unpack(args))\n"
	"  end\n"
	"  redis.call('SADD', KEYS[1], name)\n"
	"  i = i + 2 + n\n"
	"end\n"
	"redis.call('SET', KEYS[2], '1')\n"
	"return 1\n"
};

static struct event *poll_timer;
static int poll_busy;
static int seeds_due = 1;
static long long seed_retry_ms;		/* after a failed seed: not before */
static char *mode_raw;			/* sluice:mode content last seen */

/* ---------- passes, counted off the decision path ---------- */

/* KEYS the rulestats hashes, ARGV the passes to add to each */
static sl_script passed_script = {
    .source = "for i = 1, #KEYS do\n"
              "  if KEYS[i] ~= '' then redis.call('HINCRBY', KEYS[i], 'passed', ARGV[i]) end\n"
              "end\n"
              "return 1\n"};

typedef struct passed_count {
	char *name;
	long long n;
} passed_count;

static passed_count *pending, *inflight; /* by limit name; inflight: being written */
static int npending, ninflight;
static void cluster_flush(pd_server *srv, const char *const *keys, const char *const *nums, int n);

/* passed_add - n more passes of a limit in the pending table */
static void
passed_add(const char *name, long long n)
{
	for (int i = 0; i < npending; i++)
		if (strcmp(pending[i].name, name) == 0) {
			pending[i].n += n;
			return;
		}
	pending = sl_realloc(pending, (size_t)(npending + 1) * sizeof(*pending));
	pending[npending].name = sl_strdup(name);
	pending[npending++].n = n;
}

/* pd_limits_passed - a request passed this limit (written at the next poll) */
void
pd_limits_passed(const char *name)
{
	passed_add(name, 1);
}

/* passed_free - release a table of counts */
static void
passed_free(passed_count *t, int n)
{
	for (int i = 0; i < n; i++)
		free(t[i].name);
	free(t);
}

/* passed_cb - written; or refused (counted again next time); or lost with the reply */
static void
passed_cb(const sl_reply *r, const char *err, void *arg)
{
	pd_server *srv = arg;

	if (r != NULL && r->type == SL_REPLY_ERROR) {
		pd_redis_error("limit pass counters", r->str);
		pd_breaker_result(srv->breaker, srv->cfg, 0, pd_now_ms());
		for (int i = 0; i < ninflight; i++)
			passed_add(inflight[i].name, inflight[i].n);
	} else if (r == NULL) {
		long long lost = 0;

		for (int i = 0; i < ninflight; i++)
			lost += inflight[i].n;
		sl_warn("limit pass counters: %s: %lld passes not counted", err ? err : "no reply",
		        lost);
	}
	passed_free(inflight, ninflight);
	inflight = NULL;
	ninflight = 0;
}

/* pd_limits_flush - write the pending passes; 1 when a write is in flight */
int
pd_limits_flush(pd_server *srv)
{
	char(*keys)[SL_KEY_MAX];
	char(*nums)[24];
	const char **argv;

	if (inflight != NULL)
		return 1;
	if (npending == 0 || !sl_aredis_connected(srv->redis))
		return 0;
	keys = sl_calloc((size_t)npending, sizeof(*keys));
	nums = sl_calloc((size_t)npending, sizeof(*nums));
	argv = sl_calloc(2 * (size_t)npending, sizeof(*argv));
	for (int i = 0; i < npending; i++) {
		if (sl_key(keys[i], sizeof(keys[i]), srv->cfg->redis.prefix, SL_KEY_RULESTATS,
			   pending[i].name) < 0)
			keys[i][0] = '\0'; /* cannot be a loaded limit's: skipped by the script */
		snprintf(nums[i], sizeof(nums[i]), "%lld", pending[i].n);
		argv[i] = keys[i];
		argv[npending + i] = nums[i];
	}
	inflight = pending, ninflight = npending;
	pending = NULL, npending = 0;
	if (sl_aredis_cluster(srv->redis))
		cluster_flush(srv, argv, argv + ninflight, ninflight);
	else if (sl_aredis_eval(srv->redis, &passed_script, 2000, passed_cb, srv, ninflight,
	                   2 * ninflight, argv, NULL) < 0) {
		for (int i = 0; i < ninflight; i++)
			passed_add(inflight[i].name, inflight[i].n);
		passed_free(inflight, ninflight);
		inflight = NULL, ninflight = 0;
	}
	free(keys);
	free(nums);
	free(argv);
	return inflight != NULL;
}

/* ---------- modes ---------- */

/* pd_mode_parse - "enforce", "monitor" or "off" (lib/live.c decides) */
int
pd_mode_parse(const char *s, enum pd_mode *mode)
{
	int	m = sl_live_mode(s);

	if (m < 0)
		return -1;
	*mode = (enum pd_mode) m;
	return 0;
}

/* pd_mode_name - the name of a mode, for logs and metrics */
const char *
pd_mode_name(enum pd_mode mode)
{
	static const char *names[] = {"inherit", "enforce", "monitor", "off"};

	return names[mode];
}

/* ---------- key templates and match rules ---------- */

/* template_var - length of the ${name} at s, with the name copied out */
static int
template_var(const char *s, char *name, size_t namelen)
{
	const char *end;

	if (s[0] != '$' || s[1] != '{' || (end = strchr(s + 2, '}')) == NULL
	    || (size_t) (end - s - 2) >= namelen || end == s + 2)
		return -1;
	memcpy(name, s + 2, (size_t) (end - s - 2));
	name[end - s - 2] = '\0';
	return (int) (end - s + 1);
}

/* pd_template_check - is every ${name} in a template a known attribute? */
int
pd_template_check(const char *tmpl, char *err, size_t errlen)
{
	static const pd_facts empty;
	char	name[64];
	int	n, vars = 0;

	if (*tmpl == '\0' || strlen(tmpl) > 200) {
		snprintf(err, errlen, "key template is empty or longer than 200 characters");
		return -1;
	}
	for (const char *p = tmpl; *p; p++) {
		if (*p != '$')
			continue;
		if ((n = template_var(p, name, sizeof(name))) < 0 || pd_facts_get(&empty, name) == NULL) {
			snprintf(err, errlen, "key template \"%s\": unknown or malformed ${...}", tmpl);
			return -1;
		}
		vars++;
		p += n - 1;
	}
	if (vars == 0) {
		snprintf(err, errlen, "key template \"%s\" names no attribute: use ${sasl_username} etc.", tmpl);
		return -1;
	}
	return 0;
}

/*
 * pd_template_expand - a limit's key for one request. Returns the length,
 * -1 when an attribute it names is empty (the limit does not apply), -2
 * when the result does not fit.
 */
int
pd_template_expand(const char *tmpl, const pd_facts *f, char *out, size_t outlen)
{
	size_t	o = 0, len;
	char	name[64];
	const char *v, *p = tmpl;
	int	n;

	while (*p) {
		if (*p == '$' && (n = template_var(p, name, sizeof(name))) > 0) {
			if ((v = pd_facts_get(f, name)) == NULL || *v == '\0')
				return -1;
			if (o + (len = strlen(v)) >= outlen)
				return -2;
			memcpy(out + o, v, len);
			o += len;
			p += n;
		} else {
			if (o + 1 >= outlen)
				return -2;
			out[o++] = *p++;
		}
	}
	out[o] = '\0';
	return (int) o;
}

/* match_list - does value equal one of the comma-separated items? */
static int
match_list(const char *list, size_t len, const char *value)
{
	const char *p = list, *end = list + len;

	while (p < end) {
		const char *comma = memchr(p, ',', (size_t) (end - p));
		const char *e = comma ? comma : end;
		const char *s = p;

		while (s < e && isspace((unsigned char) *s))
			s++;
		while (e > s && isspace((unsigned char) e[-1]))
			e--;
		if ((size_t) (e - s) == strlen(value) && strncasecmp(s, value, (size_t) (e - s)) == 0)
			return 1;
		p = comma ? comma + 1 : end;
	}
	return 0;
}

/*
 * match_walk - evaluate (f != NULL) or check (f == NULL) a match rule:
 * "attr=v1,v2; attr2!=v3". Returns 1 match, 0 no match, -1 malformed.
 */
static int
match_walk(const char *match, const pd_facts *f, char *err, size_t errlen)
{
	static const pd_facts empty;
	const char *p = match;

	while (*p) {
		const char *semi = strchr(p, ';'), *end = semi ? semi : p + strlen(p);
		const char *eq = memchr(p, '=', (size_t) (end - p));
		char	name[64];
		size_t	nl;
		int	neg, hit;

		while (p < end && isspace((unsigned char) *p))
			p++;
		if (p == end) {
			p = semi ? semi + 1 : end;
			continue;
		}
		neg = eq && eq > p && eq[-1] == '!';
		nl = eq ? (size_t) (eq - neg - p) : 0;
		while (nl > 0 && isspace((unsigned char) p[nl - 1]))
			nl--;
		if (eq == NULL || nl == 0 || nl >= sizeof(name)) {
			snprintf(err, errlen, "match \"%s\": use attribute=value,value; ...", match);
			return -1;
		}
		memcpy(name, p, nl);
		name[nl] = '\0';
		if (pd_facts_get(f ? f : &empty, name) == NULL) {
			snprintf(err, errlen, "match \"%s\": unknown attribute \"%s\"", match, name);
			return -1;
		}
		hit = f ? match_list(eq + 1, (size_t) (end - eq - 1), pd_facts_get(f, name)) : 1;
		if (f && hit == neg)
			return 0;
		p = semi ? semi + 1 : end;
	}
	return 1;
}

/* pd_match - does a request satisfy a limit's match rule? */
int
pd_match(const char *match, const pd_facts *f)
{
	char	err[8];

	return match == NULL || *match == '\0' || match_walk(match, f, err, sizeof(err)) == 1;
}

/* pd_match_check - is a match rule well formed? */
int
pd_match_check(const char *match, char *err, size_t errlen)
{
	return match_walk(match, NULL, err, errlen) < 0 ? -1 : 0;
}

/* ---------- rates and calendar windows ---------- */

/* pd_rate_parse - "50/hour", "100/10m", "5/s" into a count and a period */
int
pd_rate_parse(const char *s, long long *count, double *period_ms)
{
	return sl_live_rate(s, count, period_ms);
}

static const char *window_names[] = {"", "minute", "hour", "day", "month"};

/* pd_window_parse - "minute", "hour", "day" or "month" */
int
pd_window_parse(const char *s, enum pd_window *w)
{
	int	i = sl_live_window(s);

	if (i < 0)
		return -1;
	*w = (enum pd_window) i;
	return 0;
}

/* pd_window_name - the name of a calendar window */
const char *
pd_window_name(enum pd_window w)
{
	return window_names[w];
}

/*
 * pd_window_id - the period containing now in local time (TZ is the
 * configured zone), as a key part such as "20261125" or "2026112514",
 * and the time the period ends.
 */
int
pd_window_id(enum pd_window w, time_t now, char *id, size_t idlen, time_t *end)
{
	static const char *fmt[] = {"", "%Y%m%d%H%M", "%Y%m%d%H", "%Y%m%d", "%Y%m"};
	struct tm tm, next;

	if (localtime_r(&now, &tm) == NULL || strftime(id, idlen, fmt[w], &tm) == 0)
		return -1;
	next = tm;
	next.tm_sec = 0;
	next.tm_isdst = -1;
	switch (w) {
	case PD_WIN_MINUTE: next.tm_min++; break;
	case PD_WIN_HOUR: next.tm_min = 0; next.tm_hour++; break;
	case PD_WIN_DAY: next.tm_min = next.tm_hour = 0; next.tm_mday++; break;
	case PD_WIN_MONTH: next.tm_min = next.tm_hour = 0; next.tm_mday = 1; next.tm_mon++; break;
	}
	*end = mktime(&next);
	return *end == (time_t) -1 ? -1 : 0;
}

/* ---------- one limit from its hash fields ---------- */

/* limit_field - apply one name=value (checked by sl_live_limit_check()) */
static int
limit_field(pd_limit *l, const char *f, const char *v, long long *burst, char *err, size_t errlen)
{
	long long count;

	if (strcmp(f, "key") == 0) {
		if (pd_template_check(v, err, errlen) < 0)
			return -1;
		l->key = sl_strdup(v);
	} else if (strcmp(f, "match") == 0) {
		if (pd_match_check(v, err, errlen) < 0)
			return -1;
		l->match = sl_strdup(v);
	} else if (strcmp(f, "rate") == 0) {
		if (pd_rate_parse(v, &count, &l->interval_ms) < 0)
			goto bad;
		l->kind = PD_LIMIT_RATE;
		l->interval_ms /= (double) count;
		l->burst = count;
	} else if (strcmp(f, "burst") == 0) {
		if (sl_live_count(v, burst) < 0)
			goto bad;
	} else if (strcmp(f, "window") == 0) {
		if (pd_window_parse(v, &l->window) < 0)
			goto bad;
		l->kind = PD_LIMIT_WINDOW;
	} else if (strcmp(f, "max") == 0) {
		if (sl_live_count(v, &l->max) < 0)
			goto bad;
	} else if (strcmp(f, "unit") == 0) {
		if (strcmp(v, "messages") != 0 && strcmp(v, "recipients") != 0)
			goto bad;
		l->per_recipient = strcmp(v, "recipients") == 0;
	} else if (strcmp(f, "action") == 0) {
		if (strcmp(v, "defer") != 0 && strcmp(v, "reject") != 0)
			goto bad;
		l->reject = strcmp(v, "reject") == 0;
	} else if (strcmp(f, "mode") == 0) {
		if (*v && pd_mode_parse(v, &l->mode) < 0)
			goto bad;
	} else if (strcmp(f, "warn") == 0) {
		if (sl_live_count(v, &l->warn) < 0)
			goto bad;
	} else if (strcmp(f, "text") == 0) {
		if (!sl_live_text_ok(v))
			goto bad;
		l->text = sl_strdup(v);
	} else if (strcmp(f, "schedule") == 0) {	/* warm-up (policyd_provider.c) */
		l->nschedule = sl_live_schedule(v, NULL, 0);
		if (l->nschedule < 1)
			goto bad;
		free(l->schedule);
		l->schedule = sl_calloc((size_t) l->nschedule, sizeof(*l->schedule));
		sl_live_schedule(v, l->schedule, l->nschedule);
	} else if (strcmp(f, "schedule_start") == 0) {
		if (sl_live_day(v, &l->schedule_day0) < 0)
			goto bad;
	} else if (strcmp(f, "description") != 0 && strcmp(f, "note") != 0) {
		snprintf(err, errlen, "unknown field \"%s\"", f);
		return -1;
	}
	return 0;
bad:
	snprintf(err, errlen, "invalid %s \"%.80s\"", f, v);
	return -1;
}

/* pd_limit_parse - build a limit from its hash; -1 with err if invalid */
int
pd_limit_parse(pd_limit *l, const char *name, int nfields, const char **field,
	       char *err, size_t errlen)
{
	long long burst = 0;

	memset(l, 0, sizeof(*l));
	l->name = sl_strdup(name);
	if (*name == '\0' || strlen(name) > 64 || strpbrk(name, " \t\r\n:{}") != NULL) {
		snprintf(err, errlen, "name: 1-64 characters, no blanks, ':' or braces");
		return -1;
	}
	/* one validator for sluicectl and policyd; then the request attributes */
	if (sl_live_limit_check(nfields, field, err, errlen) < 0)
		return -1;
	for (int i = 0; i + 1 < nfields; i += 2)
		if (limit_field(l, field[i], field[i + 1], &burst, err, errlen) < 0)
			return -1;
	if (l->key == NULL) {
		snprintf(err, errlen, "no key template (field key)");
		return -1;
	}
	if (l->kind == PD_LIMIT_WINDOW && l->max == 0 && l->nschedule == 0) {
		snprintf(err, errlen, "window %s needs max", pd_window_name(l->window));
		return -1;
	}
	if (burst)
		l->burst = burst;
	/* what the decision script gets for this limit, formatted once per table (a
	 * window's max and end change: policyd_check.c formats them per request) */
	if (l->kind == PD_LIMIT_RATE) {
		snprintf(l->arg_p1, sizeof(l->arg_p1), "%.3f", l->interval_ms);
		snprintf(l->arg_p2, sizeof(l->arg_p2), "%lld", l->burst);
	}
	snprintf(l->arg_warn, sizeof(l->arg_warn), "%lld", l->warn);
	l->valid = 1;
	return 0;
}

/* pd_limit_clear - free what a limit holds */
void
pd_limit_clear(pd_limit *l)
{
	free(l->name);
	free(l->key);
	free(l->match);
	free(l->text);
	free(l->schedule);
	free(l->raw);
	memset(l, 0, sizeof(*l));
}

/* ---------- the table, refreshed from Redis ---------- */

/* pd_limits_ref - one more user of a table */
pd_limits *
pd_limits_ref(pd_limits *t)
{
	if (t)
		t->refs++;
	return t;
}

/* pd_limits_unref - free a table when its last user is done */
void
pd_limits_unref(pd_limits *t)
{
	if (t == NULL || --t->refs > 0)
		return;
	for (int i = 0; i < t->n; i++)
		pd_limit_clear(&t->limit[i]);
	for (int i = 0; i < t->nmode; i++)
		free(t->mode_name[i]);
	free(t->mode_name);
	free(t->mode_value);
	free(t->limit);
	free(t);
}

/* raw_fields - the fields of a hash as one string, to notice changes */
static char *
raw_fields(const sl_reply *h)
{
	size_t	len = 1;
	char   *s;

	for (size_t i = 0; i < h->elements; i++)
		len += h->element[i]->len + 1;
	s = sl_malloc(len);
	s[0] = '\0';
	for (size_t i = 0; i < h->elements; i++) {
		strcat(s, h->element[i]->str ? h->element[i]->str : "");
		strcat(s, i % 2 ? "\n" : "=");
	}
	return s;
}

/* old_raw - the raw content a limit had in the previous table */
static const char *
old_raw(const pd_limits *old, const char *name)
{
	for (int i = 0; old && i < old->n; i++)
		if (strcmp(old->limit[i].name, name) == 0)
			return old->limit[i].raw;
	return NULL;
}

/* reply_strings - is every element of an array a string? */
static int
reply_strings(const sl_reply *r)
{
	if (r == NULL || r->type != SL_REPLY_ARRAY)
		return 0;
	for (size_t i = 0; i < r->elements; i++)
		if (r->element[i]->type != SL_REPLY_STRING)
			return 0;
	return 1;
}

/* limits_load_one - parse one limit; log when its content changed */
static void
limits_load_one(pd_limit *l, const char *name, const sl_reply *h, const pd_limits *old)
{
	const char *fields[64];
	const char *prev = old_raw(old, name);
	char	err[300], *raw = raw_fields(h);
	int	n = h->elements < 64 ? (int) h->elements : 64, changed;

	for (int i = 0; i < n; i++)
		fields[i] = h->element[i]->str;
	changed = prev == NULL || strcmp(prev, raw) != 0;
	if (h->elements == 2 && strcmp(fields[0], "__type__") == 0) {
		memset(l, 0, sizeof(*l));
		l->name = sl_strdup(name);
		if (changed)
			sl_warn("limit %s: the key is a %s, not a hash: ignored", name, fields[1]);
	} else if (h->elements == 0) {
		memset(l, 0, sizeof(*l));
		l->name = sl_strdup(name);
		if (changed)
			sl_warn("limit %s: listed in limits but its hash is missing: ignored", name);
	} else if (pd_limit_parse(l, name, n, fields, err, sizeof(err)) < 0) {
		if (changed) {
			sl_warn("limit %s: %s: limit ignored until fixed (hash limit:%s)", name,
				err, name);
			pd_metrics_live_invalid("limit");
		}
	} else if (changed) {
		sl_info("limit %s: %s", name, prev ? "changed" : "loaded");
	}
	l->raw = raw;
}

/* limits_load_modes - the sluice:mode hash: global, domain:D, tenant:T */
static void
limits_load_modes(pd_limits *t, const sl_reply *h)
{
	char   *raw = raw_fields(h);
	int	log = mode_raw == NULL || strcmp(mode_raw, raw) != 0;

	t->mode_name = sl_calloc(h->elements / 2 + 1, sizeof(char *));
	if (h->elements == 2 && strcmp(h->element[0]->str, "__type__") == 0) {
		if (log)
			sl_warn("mode: the key is a %s, not a hash: ignored", h->element[1]->str);
		free(mode_raw);
		mode_raw = raw;
		return;
	}
	t->mode_value = sl_calloc(h->elements / 2 + 1, sizeof(enum pd_mode));
	for (size_t i = 0; i + 1 < h->elements; i += 2) {
		enum pd_mode m;
		const char *f = h->element[i]->str, *v = h->element[i + 1]->str;

		if ((strcmp(f, "global") != 0 && strncmp(f, "domain:", 7) != 0
		     && strncmp(f, "tenant:", 7) != 0) || pd_mode_parse(v, &m) < 0) {
			if (log) {
				sl_warn("mode %s=\"%.80s\": use global, domain:<d> or tenant:<t> = "
					"enforce, monitor or off: ignored", f, v);
				pd_metrics_live_invalid("mode");
			}
			continue;
		}
		t->mode_name[t->nmode] = sl_strdup(f);
		t->mode_value[t->nmode++] = m;
	}
	if (log && mode_raw != NULL)
		sl_info("modes changed");
	free(mode_raw);
	mode_raw = raw;
}

/* limits_dump_cb - a fresh table from the dump script */
static void
limits_dump_cb(const sl_reply *r, const char *err, void *arg)
{
	pd_server *srv = arg;
	pd_limits *t, *old = srv->limits;

	poll_busy = 0;
	if (r != NULL && r->type == SL_REPLY_ERROR) {
		pd_redis_error("limits refresh", r->str);
		pd_breaker_result(srv->breaker, srv->cfg, 0, pd_now_ms());
		return;
	}
	if (r == NULL || r->type != SL_REPLY_ARRAY || r->elements < 2 || r->elements % 2 != 0
	    || !reply_strings(r->element[0]) || r->element[1]->type != SL_REPLY_INTEGER) {
		sl_debug("limits refresh failed: %s", err ? err : r && r->str ? r->str : "bad reply");
		return;
	}
	if (r->element[1]->integer == 0 && srv->cfg->nseeds > 0 && !seeds_due) {
		sl_info("limit seeds missing in redis (restarted or flushed?): writing them again");
		seeds_due = 1;
	}
	t = sl_calloc(1, sizeof(*t));
	t->refs = 1;
	t->limit = sl_calloc(r->elements / 2 + 1, sizeof(pd_limit));
	limits_load_modes(t, r->element[0]);
	for (size_t i = 2; i + 1 < r->elements; i += 2) {
		if (r->element[i]->type != SL_REPLY_STRING || !reply_strings(r->element[i + 1]))
			continue;
		limits_load_one(&t->limit[t->n++], r->element[i]->str, r->element[i + 1], old);
	}
	for (int i = 0; old && i < old->n; i++) {
		int	found = 0;

		for (int k = 0; k < t->n; k++)
			found |= strcmp(t->limit[k].name, old->limit[i].name) == 0;
		if (!found)
			sl_info("limit %s: removed", old->limit[i].name);
	}
	srv->limits = t;
	pd_limits_unref(old);
}

/* limits_seed_cb - seeds written (or not: try again next poll) */
static void
limits_seed_cb(const sl_reply *r, const char *err, void *arg)
{
	pd_server *srv = arg;

	poll_busy = 0;
	if (r != NULL && r->type == SL_REPLY_INTEGER) {
		seeds_due = 0;
		return;
	}
	if (r != NULL && r->type == SL_REPLY_ERROR) {
		pd_redis_error("writing limit seeds", r->str);
		pd_breaker_result(srv->breaker, srv->cfg, 0, pd_now_ms());
	} else
		sl_warn("writing limit seeds failed: %s", err ? err : "bad reply");
	seed_retry_ms = pd_now_ms() + 5000;	/* meanwhile, keep refreshing the table */
}

/*
 * limit_affixes - what comes before and after a name in a limit's key,
 * from the keyspace's template (a marker name split off)
 */
static void
limit_affixes(const char *prefix, char *pre, char *post, size_t len)
{
	static const char marker[] = "\001";
	char	key[SL_KEY_MAX];
	const char *m;

	pre[0] = post[0] = '\0';
	if (sl_key(key, sizeof(key), prefix, SL_KEY_LIMIT, marker) < 0
	    || (m = strstr(key, marker)) == NULL)
		return;
	snprintf(pre, len, "%.*s", (int) (m - key), key);
	snprintf(post, len, "%s", m + 1);
}

/*
 * ---------- Redis Cluster: the same reads and writes, one key per call ----------
 * The dump, seed and pass scripts above take keys of several slots (and
 * build limit:<name> inside): on Cluster they become one command per key,
 * sent together (multi_send), and their replies are put back into the
 * shape the callbacks above read.
 */
typedef void multi_done_fn(pd_server *srv, sl_reply **rep, const char **err, int n);

typedef struct multi {
	pd_server *srv;
	int n, left;
	sl_reply **rep;            /* copies, NULL when err[i] says why */
	const char **err;
	multi_done_fn *done;
	struct multi_slot {
		struct multi *m;
		int i;
	} *slot;
} multi;

/* reply_dup - a deep copy of a borrowed reply */
static sl_reply *
reply_dup(const sl_reply *r)
{
	sl_reply *c = sl_calloc(1, sizeof(*c));

	*c = *r;
	c->str = NULL, c->element = NULL;
	if (r->str) {
		c->str = sl_malloc(r->len + 1);
		memcpy(c->str, r->str, r->len + 1);
	}
	if (r->elements) {
		c->element = sl_calloc(r->elements, sizeof(*c->element));
		for (size_t i = 0; i < r->elements; i++)
			c->element[i] = reply_dup(r->element[i]);
	}
	return c;
}

/* multi_free - release the replies and the record */
static void
multi_free(multi *m)
{
	for (int i = 0; i < m->n; i++)
		sl_reply_free(m->rep[i]);
	free(m->rep);
	free(m->err);
	free(m->slot);
	free(m);
}

/* multi_cb - one reply in; the last one calls done */
static void
multi_cb(const sl_reply *r, const char *err, void *arg)
{
	struct multi_slot *s = arg;
	multi *m = s->m;

	m->rep[s->i] = r ? reply_dup(r) : NULL;
	m->err[s->i] = r ? NULL : err ? err : "no reply"; /* static strings */
	if (--m->left == 0) {
		m->done(m->srv, m->rep, m->err, m->n);
		multi_free(m);
	}
}

/* multi_new - a batch of n calls answered together */
static multi *
multi_new(pd_server *srv, int n, multi_done_fn *done)
{
	multi *m = sl_calloc(1, sizeof(*m));

	m->srv = srv, m->n = m->left = n, m->done = done;
	m->rep = sl_calloc((size_t)n + 1, sizeof(*m->rep));
	m->err = sl_calloc((size_t)n + 1, sizeof(*m->err));
	m->slot = sl_calloc((size_t)n + 1, sizeof(*m->slot));
	for (int i = 0; i < n; i++)
		m->slot[i].m = m, m->slot[i].i = i;
	return m;
}

/* multi_cmd - call i of the batch (a command, or a script when script) */
static void
multi_cmd(multi *m, int i, sl_script *script, int nkeys, int argc, const char **argv)
{
	int rc = script ? sl_aredis_eval(m->srv->redis, script, 2000, multi_cb, &m->slot[i], nkeys,
	                                 argc, argv, NULL)
	                : sl_aredis_cmdv(m->srv->redis, 2000, multi_cb, &m->slot[i], argc, argv, NULL);

	if (rc < 0)
		multi_cb(NULL, "cannot send", &m->slot[i]);
}

/* multi_fail - the first failure of a batch: an error reply or why none came */
static int
multi_fail(sl_reply **rep, const char **err, int n, const sl_reply **bad, const char **why)
{
	for (int i = 0; i < n; i++)
		if (rep[i] == NULL || rep[i]->type == SL_REPLY_ERROR) {
			*bad = rep[i], *why = err[i];
			return 1;
		}
	return 0;
}

/* wrongtype - a reply that says the key has another type */
static int
wrongtype(const sl_reply *r)
{
	return r && r->type == SL_REPLY_ERROR && strncmp(r->str, "WRONGTYPE", 9) == 0;
}

/* not_hash - the dump script's {'__type__', t} for a key of another type */
static sl_reply *
not_hash(void)
{
	sl_reply *r = sl_calloc(1, sizeof(*r));

	r->type = SL_REPLY_ARRAY, r->elements = 2;
	r->element = sl_calloc(2, sizeof(*r->element));
	for (int i = 0; i < 2; i++) {
		r->element[i] = sl_calloc(1, sizeof(sl_reply));
		r->element[i]->type = SL_REPLY_STRING;
		r->element[i]->str = sl_strdup(i ? "key of another type" : "__type__");
		r->element[i]->len = strlen(r->element[i]->str);
	}
	return r;
}

static sl_reply *dump_head; /* stage 1 of a Cluster dump: mode hash, marker */

/* cluster_dump_limits_cb - every limit hash in: the dump script's answer */
static void
cluster_dump_limits_cb(pd_server *srv, sl_reply **rep, const char **err, int n)
{
	sl_reply out = {.type = SL_REPLY_ARRAY}, *head = dump_head;

	dump_head = NULL;
	out.elements = 2 + 2 * (size_t)n;
	out.element = sl_calloc(out.elements, sizeof(*out.element));
	out.element[0] = head->element[1], out.element[1] = head->element[2];
	for (int i = 0; i < n; i++) {
		if (rep[i] == NULL || (rep[i]->type == SL_REPLY_ERROR && !wrongtype(rep[i]))) {
			limits_dump_cb(rep[i], err[i], srv);
			goto done;
		}
		if (wrongtype(rep[i])) {
			sl_reply_free(rep[i]);
			rep[i] = not_hash();
		}
		out.element[2 + 2 * i] = head->element[0]->element[i];
		out.element[3 + 2 * i] = rep[i];
	}
	limits_dump_cb(&out, NULL, srv);
done:
	free(out.element);
	sl_reply_free(head);
}

/* name_cmp - qsort: limit names in order, as the dump script sorts them */
static int
name_cmp(const void *a, const void *b)
{
	return strcmp((*(sl_reply *const *)a)->str, (*(sl_reply *const *)b)->str);
}

/* cluster_dump_head_cb - the set, the mode hash, the marker: now each limit */
static void
cluster_dump_head_cb(pd_server *srv, sl_reply **rep, const char **err, int n)
{
	const sl_reply *bad = NULL;
	const char *why = NULL;
	char pre[SL_KEY_MAX], post[SL_KEY_MAX];
	sl_reply *names;
	multi *m;

	if (wrongtype(rep[0])) { /* not a set: no limits */
		sl_reply_free(rep[0]);
		rep[0] = sl_calloc(1, sizeof(sl_reply));
		rep[0]->type = SL_REPLY_ARRAY;
	}
	if (wrongtype(rep[1])) {
		sl_reply_free(rep[1]);
		rep[1] = not_hash();
	}
	if (multi_fail(rep, err, n, &bad, &why) || rep[0]->type != SL_REPLY_ARRAY) {
		limits_dump_cb(bad, why, srv);
		return;
	}
	/* keep the three replies: stage 2 answers with them */
	dump_head = sl_calloc(1, sizeof(*dump_head));
	dump_head->type = SL_REPLY_ARRAY, dump_head->elements = 3;
	dump_head->element = sl_calloc(3, sizeof(sl_reply *));
	for (int i = 0; i < 3; i++)
		dump_head->element[i] = rep[i], rep[i] = NULL;
	names = dump_head->element[0];
	for (size_t i = 0; i < names->elements; i++)
		if (names->element[i]->type != SL_REPLY_STRING) {
			sl_reply_free(dump_head);
			dump_head = NULL;
			limits_dump_cb(NULL, "bad reply to SMEMBERS", srv);
			return;
		}
	if (names->elements)
		qsort(names->element, names->elements, sizeof(*names->element), name_cmp);
	if (names->elements == 0) {
		cluster_dump_limits_cb(srv, NULL, NULL, 0);
		return;
	}
	limit_affixes(srv->cfg->redis.prefix, pre, post, sizeof(pre));
	m = multi_new(srv, (int)names->elements, cluster_dump_limits_cb);
	for (size_t i = 0; i < names->elements; i++) {
		char key[SL_KEY_MAX * 3];
		const char *argv[2] = {"HGETALL", key};

		snprintf(key, sizeof(key), "%s%s%s", pre, names->element[i]->str, post);
		multi_cmd(m, (int)i, NULL, 0, 2, argv);
	}
}

/* cluster_dump - limits_dump() on Cluster */
static int
cluster_dump(pd_server *srv, const char *set, const char *mode, const char *marker)
{
	const char *a0[] = {"SMEMBERS", set}, *a1[] = {"HGETALL", mode}, *a2[] = {"EXISTS", marker};
	multi *m = multi_new(srv, 3, cluster_dump_head_cb);

	multi_cmd(m, 0, NULL, 0, 2, a0);
	multi_cmd(m, 1, NULL, 0, 2, a1);
	multi_cmd(m, 2, NULL, 0, 2, a2);
	return 0;
}

/* KEYS[1] one limit's hash; ARGV its fields: written when the hash is new */
static sl_script seed_one_script = {
    .source = "if #ARGV > 0 and redis.call('EXISTS', KEYS[1]) == 0 then\n"
              "  redis.call('HSET', KEYS[1], unpack(ARGV))\n"
              "end\n"
              "return 1\n"};

/* cluster_seed_cb - every seed, the set and the marker written (or not) */
static void
cluster_seed_cb(pd_server *srv, sl_reply **rep, const char **err, int n)
{
	const sl_reply *bad = NULL;
	const char *why = NULL;
	sl_reply ok = {.type = SL_REPLY_INTEGER, .integer = 1};

	if (multi_fail(rep, err, n, &bad, &why))
		limits_seed_cb(bad, why, srv);
	else
		limits_seed_cb(&ok, NULL, srv);
}

/* cluster_seed - seed_script on Cluster: each hash, then SADD, then the marker */
static int
cluster_seed(pd_server *srv, const char *set, const char *marker, const char *pre,
             const char *post)
{
	const pd_config *pc = srv->cfg;
	int ns = pc->nseeds < 64 ? pc->nseeds : 64;
	multi *m = multi_new(srv, ns + 2, cluster_seed_cb);
	const char **sadd = sl_calloc((size_t)ns + 2, sizeof(char *));
	const char *setm[] = {"SET", marker, "1"};

	sadd[0] = "SADD", sadd[1] = set;
	for (int i = 0; i < ns; i++) {
		char key[SL_KEY_MAX * 3];
		const char **argv = sl_calloc((size_t)pc->seeds[i].nfields + 1, sizeof(char *));

		snprintf(key, sizeof(key), "%s%s%s", pre, pc->seeds[i].name, post);
		argv[0] = key;
		for (int k = 0; k < pc->seeds[i].nfields; k++)
			argv[1 + k] = pc->seeds[i].field[k];
		multi_cmd(m, i, &seed_one_script, 1, 1 + pc->seeds[i].nfields, argv);
		free(argv);
		sadd[2 + i] = pc->seeds[i].name;
	}
	multi_cmd(m, ns, NULL, 0, ns + 2, sadd);
	multi_cmd(m, ns + 1, NULL, 0, 3, setm); /* a failure above still retries: seeds_due */
	free(sadd);
	return 0;
}

/* cluster_passed_cb - each limit's passes written, refused (again later) or lost */
static void
cluster_passed_cb(pd_server *srv, sl_reply **rep, const char **err, int n)
{
	long long lost = 0;
	const char *why = "no reply";

	for (int i = 0; i < n && i < ninflight; i++) {
		if (err[i])
			why = err[i];
		if (rep[i] != NULL && rep[i]->type == SL_REPLY_ERROR) {
			pd_redis_error("limit pass counters", rep[i]->str);
			pd_breaker_result(srv->breaker, srv->cfg, 0, pd_now_ms());
			passed_add(inflight[i].name, inflight[i].n);
		} else if (rep[i] == NULL) {
			lost += inflight[i].n;
		}
	}
	if (lost)
		sl_warn("limit pass counters: %s: %lld passes not counted", why, lost);
	passed_free(inflight, ninflight);
	inflight = NULL;
	ninflight = 0;
}

/* cluster_flush - pd_limits_flush() on Cluster: one HINCRBY per limit */
static void
cluster_flush(pd_server *srv, const char *const *keys, const char *const *nums, int n)
{
	multi *m = multi_new(srv, n, cluster_passed_cb);

	for (int i = 0; i < n; i++) {
		const char *argv[] = {"HINCRBY", keys[i], "passed", nums[i]};

		if (*keys[i] == '\0')
			multi_cb(&(sl_reply){.type = SL_REPLY_INTEGER}, NULL, &m->slot[i]);
		else
			multi_cmd(m, i, NULL, 0, 4, argv);
	}
}

/* limits_seed - write the config's limits that Redis does not have */
static int
limits_seed(pd_server *srv)
{
	const pd_config *pc = srv->cfg;
	int	argc = 1, rc;
	const char **argv;
	char	set[SL_KEY_MAX], marker[SL_KEY_MAX], pre[SL_KEY_MAX], post[SL_KEY_MAX], nbuf[64][16];

	sl_key(set, sizeof(set), pc->redis.prefix, SL_KEY_LIMITS);
	sl_key(marker, sizeof(marker), pc->redis.prefix, SL_KEY_LIMITS_SEEDED);
	limit_affixes(pc->redis.prefix, pre, post, sizeof(pre));
	argv = sl_calloc(5 + (size_t) pc->nseeds * 30, sizeof(char *));
	argv[0] = set;
	argv[argc++] = marker;
	argv[argc++] = pre;
	argv[argc++] = post;
	for (int i = 0; i < pc->nseeds && i < 64; i++) {
		snprintf(nbuf[i], sizeof(nbuf[i]), "%d", pc->seeds[i].nfields);
		argv[argc++] = pc->seeds[i].name;
		argv[argc++] = nbuf[i];
		for (int k = 0; k < pc->seeds[i].nfields; k++)
			argv[argc++] = pc->seeds[i].field[k];
	}
	if (sl_aredis_cluster(srv->redis))
		rc = cluster_seed(srv, set, marker, pre, post);
	else
		rc = sl_aredis_eval(srv->redis, &seed_script, 2000, limits_seed_cb, srv, 2, argc, argv,
		                    NULL);
	free(argv);
	return rc;
}

/* limits_dump - ask for the current limits and modes */
static int
limits_dump(pd_server *srv)
{
	char	set[SL_KEY_MAX], mode[SL_KEY_MAX], marker[SL_KEY_MAX], pre[SL_KEY_MAX],
		post[SL_KEY_MAX];
	const char *argv[5] = {set, mode, marker, pre, post};
	const char *p = srv->cfg->redis.prefix;

	sl_key(set, sizeof(set), p, SL_KEY_LIMITS);
	sl_key(mode, sizeof(mode), p, SL_KEY_MODE);
	sl_key(marker, sizeof(marker), p, SL_KEY_LIMITS_SEEDED);
	limit_affixes(p, pre, post, sizeof(pre));
	if (sl_aredis_cluster(srv->redis))
		return cluster_dump(srv, set, mode, marker);
	return sl_aredis_eval(srv->redis, &dump_script, 2000, limits_dump_cb, srv, 3, 5, argv, NULL);
}

/* limits_poll - timer: seed when due, else refresh the table */
static void
limits_poll(evutil_socket_t fd, short what, void *arg)
{
	pd_server *srv = arg;
	struct timeval tv = {.tv_sec = srv->cfg->poll_ms / 1000,
			     .tv_usec = (srv->cfg->poll_ms % 1000) * 1000};
	int	rc;

	(void) fd, (void) what;
	evtimer_add(poll_timer, &tv);
	(void)pd_limits_flush(srv);
	if (poll_busy || !sl_aredis_connected(srv->redis))
		return;
	if (seeds_due && srv->cfg->nseeds > 0 && pd_now_ms() >= seed_retry_ms)
		rc = limits_seed(srv);
	else
		rc = limits_dump(srv);
	poll_busy = rc == 0;
}

/* pd_limits_start - first refresh now, then every poll_interval */
void
pd_limits_start(pd_server *srv)
{
	struct timeval now = {0, 0};

	poll_timer = evtimer_new(srv->base, limits_poll, srv);
	evtimer_add(poll_timer, &now);
}

/* pd_limits_seed_again - after a reload: write new seeds at the next poll */
void
pd_limits_seed_again(pd_server *srv)
{
	(void) srv;
	seeds_due = 1;
}

/* mode_lookup - a mode from the sluice:mode table, INHERIT when unset */
static enum pd_mode
mode_lookup(const pd_limits *t, const char *kind, const char *name)
{
	size_t klen = strlen(kind);

	if (t == NULL || t->nmode == 0 || name == NULL || *name == '\0')
		return PD_MODE_INHERIT;
	/* the field "<kind>:<name>" (or "<name>" for an empty kind), compared in place */
	for (int i = 0; i < t->nmode; i++) {
		const char *f = t->mode_name[i];

		if (klen > 0 && (strncasecmp(f, kind, klen) != 0 || f[klen] != ':'))
			continue;
		if (strcasecmp(f + (klen ? klen + 1 : 0), name) == 0)
			return t->mode_value[i];
	}
	return PD_MODE_INHERIT;
}

/*
 * pd_mode_for - the mode that applies: the rule's own, else the tenant's,
 * else the sender domain's (exact, then organizational), else the global
 * one from Redis, else the config file's.
 */
enum pd_mode
pd_mode_for(const pd_server *srv, const pd_limits *t, enum pd_mode rule, const pd_facts *f)
{
	enum pd_mode m;

	if (rule != PD_MODE_INHERIT)
		return rule;
	if ((m = mode_lookup(t, "tenant", f->tenant)) != PD_MODE_INHERIT
	    || (m = mode_lookup(t, "domain", f->sender_domain)) != PD_MODE_INHERIT
	    || (m = mode_lookup(t, "domain", f->sender_orgdomain)) != PD_MODE_INHERIT
	    || (m = mode_lookup(t, "", "global")) != PD_MODE_INHERIT)
		return m;
	return srv->cfg->mode;
}
