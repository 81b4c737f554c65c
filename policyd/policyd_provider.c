/*
 * NAME
 *	policyd_provider 3 - reactions to a provider block at RCPT
 * SYNOPSIS
 *	#include "policyd.h"
 *
 *	pd_react_conf *pd_provider_config(sl_conf *c, cfg_t *sec)
 *	void pd_provider_config_free(pd_react_conf *rc)
 *	void pd_provider_start(pd_server *srv)
 *	enum pd_rx pd_provider_react(const pd_config *cfg, const pd_facts *f,
 *				     char *action, size_t len, char *why, size_t whylen)
 * DESCRIPTION
 *	sluice-logd declares a block as the hash block:<provider>:<source>
 *	(with an expiry) and adds "<provider>:<source>" to the set blocks
 *	(doc/redis-keys.md). Every poll_interval one script (refresh_script)
 *	reads that set: a member whose hash is gone (expired, or deleted by
 *	logd at the block's end, by sluicectl or with redis-cli DEL) moves to
 *	the sorted set ramps (score: the time it was noticed, the same for
 *	every node). A ramp lasts block_ramp seconds. For the providers
 *	named by a block or a ramp, the domains sluice-logd learnt from MX
 *	host names (pdomains:<provider>) are read too, every tenth poll.
 *	No request waits for any of this: the answer is decided from memory.
 *
 *	At RCPT the recipient's domain gives the provider (lib/provider.c
 *	rules, then the learnt domains). The source is what the milter will
 *	make the envelope sender's domain later (at RCPT the message is not
 *	there yet): the SASL user's tenant subdomain (a tenant's label wins
 *	over its category's, so this is exact for a tenant) or its category's
 *	subdomain, under the longest configured domain at or above the
 *	envelope sender's domain; also the sender's own domain, and "*" (a
 *	block of the whole provider). A block on the first of these that has
 *	one applies, with the reaction configured for the provider
 *	(block_reaction "name", else "default", else monitor):
 *	  defer		DEFER_IF_PERMIT 4.7.1 ..., try again in N seconds
 *			(N: the block's TTL, at most retry)
 *	  filter	FILTER <transport>: the whole message leaves through
 *			that transport (a slower one to back off, or one with
 *			another smtp_bind_address to switch)
 *	  monitor	DUNNO, logged and counted as would_defer/would_filter
 *	During a ramp, recipients pass at a rate that starts at ramp_start
 *	a minute and doubles every ramp_step seconds; the rest get the
 *	reaction (deferred, or still routed through the filter transport).
 *	The ramp's bucket is per sluice-policyd process.
 * BUGS
 *	FILTER is one per message: a message with recipients at several
 *	providers leaves, for all of them, through the transport of the
 *	first blocked one. A category chosen by a header the milter reads
 *	later is not known here: the SASL user's category is assumed.
 *	The refresh script reads keys it is not given (block:*, pdomains:*),
 *	like the limits dump: not for Redis Cluster yet.
 */
#include "config.h"

#include <event2/event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "keyspace.h"
#include "lib/keyspace_lua.h"
#include "live.h"
#include "log.h"
#include "policyd.h"
#include "provider.h"
#include "site.h"

#define MEMBER_MAX 300   /* "<provider>:<source>" */
#define ACTIVE_MAX 10000 /* blocks and ramps kept in memory */
#define LEARNT_MAX 10000 /* learnt domains per provider read */
#define LEARN_EVERY 10   /* polls between two reads of the learnt domains */
#define RELABEL_MAX 256  /* subdomain overrides (relabel) kept */

enum rx_mode { RX_MONITOR = 0, RX_DEFER, RX_FILTER, RX_OFF };

typedef struct reaction {
	char name[SL_PROVIDER_NAME_MAX]; /* a provider, or "default" */
	enum rx_mode mode;
	char transport[256]; /* "name:" or "name:nexthop" */
	long retry;
} reaction;

struct pd_react_conf {
	sl_providers *providers;
	reaction *rx;
	int nrx;
	long ramp, ramp_start, ramp_step;
	const sl_site *site; /* domains, categories, tenants (the sl_conf's, lib/site.h) */
};

typedef struct active {
	char member[MEMBER_MAX];
	int ramp;         /* 0: a block in force, 1: ramping up */
	long long value;  /* block: TTL in s; ramp: ms since it started */
	long long seen;   /* local ms of the refresh that gave value */
	double tokens;    /* ramp bucket */
	long long filled; /* local ms of the last refill */
} active;

typedef struct learnt {
	char *domain;
	char provider[SL_PROVIDER_NAME_MAX];
} learnt;

static active *act;
static int nact;
static learnt *lrn;
static int nlrn;
static struct {
	char field[40]; /* "category:<name>", "tenant:<name>" */
	char label[64];
} relabels[RELABEL_MAX];
static int nrelabels;
typedef struct hold {
	char *source; /* a sending domain */
	char *days;   /* "yyyymmdd,yyyymmdd,...": days a block was in force */
} hold;
static hold *holds;
static int nholds;
static struct event *timer;
static int busy, polls;

static sl_script refresh_script = {
    .source = SL_LUA_KEYS
    "local now = tonumber(redis.call('TIME')[1])\n"
    "local out, provs = {}, {}\n"
    "for _, m in ipairs(redis.call('SMEMBERS', KEYS[1])) do\n"
    "  local mp, ms = string.match(m, '^([^:]*):(.*)$')\n"
    "  local ttl = mp and redis.call('TTL', sl_key_fill(ARGV[1], mp, ms)) or -2\n"
    "  if ttl == -2 then\n"
    "    redis.call('SREM', KEYS[1], m)\n"
    "    redis.call('ZADD', KEYS[2], 'NX', now, m)\n"
    "  else\n"
    "    if redis.call('ZSCORE', KEYS[2], m) then redis.call('ZREM', KEYS[2], m) end\n"
    "    out[#out + 1] = 'b'; out[#out + 1] = m; out[#out + 1] = tostring(ttl)\n"
    "    provs[string.match(m, '^[^:]*')] = 1\n"
    "    local src = string.match(m, ':(.*)$')\n"
    "    if src and src ~= '*' then -- warm-up schedules hold on a day with a block\n"
    "      local h = redis.call('HGET', KEYS[3], src) or ''\n"
    "      if not string.find(',' .. h .. ',', ',' .. ARGV[6] .. ',', 1, true) then\n"
    "        h = h == '' and ARGV[6] or h .. ',' .. ARGV[6]\n"
    "        if #h > 365 * 9 then h = string.sub(h, #h - 365 * 9 + 2) end\n"
    "        redis.call('HSET', KEYS[3], src, h)\n"
    "      end\n"
    "    end\n"
    "  end\n"
    "end\n"
    "if redis.call('ZCARD', KEYS[2]) > 0 then -- no write at all when idle (maxmemory)\n"
    "  redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', '(' .. (now - tonumber(ARGV[2])))\n"
    "end\n"
    "local r = redis.call('ZRANGE', KEYS[2], 0, -1, 'WITHSCORES')\n"
    "for i = 1, #r, 2 do\n"
    "  out[#out + 1] = 'r'; out[#out + 1] = r[i]\n"
    "  out[#out + 1] = tostring(now - tonumber(r[i + 1]))\n"
    "  provs[string.match(r[i], '^[^:]*')] = 1\n"
    "end\n"
    "if ARGV[3] == '1' then\n"
    "  local hd = redis.call('HGETALL', KEYS[3])\n"
    "  for i = 1, #hd, 2 do\n"
    "    out[#out + 1] = 'h'; out[#out + 1] = hd[i]; out[#out + 1] = hd[i + 1]\n"
    "  end\n"
    "  for p in pairs(provs) do\n"
    "    local k = sl_key_fill(ARGV[7], p)\n"
    "    if redis.call('SCARD', k) <= tonumber(ARGV[4]) then\n"
    "      for _, d in ipairs(redis.call('SMEMBERS', k)) do\n"
    "        out[#out + 1] = 'd'; out[#out + 1] = d; out[#out + 1] = p\n"
    "      end\n"
    "    end\n"
    "  end\n"
    "end\n"
    "local rl = redis.call('HGETALL', ARGV[5])\n"
    "for i = 1, #rl, 2 do\n"
    "  out[#out + 1] = 'l'; out[#out + 1] = rl[i]; out[#out + 1] = rl[i + 1]\n"
    "end\n"
    "return out\n",
};

/* ---------- configuration ---------- */

/* mode_parse - a reaction mode by name; -1 when unknown */
static int
mode_parse(const char *s, enum rx_mode *m)
{
	static const char *const names[] = {[RX_MONITOR] = "monitor",
	                                    [RX_DEFER] = "defer",
	                                    [RX_FILTER] = "filter",
	                                    [RX_OFF] = "off"};

	for (int i = 0; i < 4; i++)
		if (strcmp(s, names[i]) == 0) {
			*m = (enum rx_mode)i;
			return 0;
		}
	return -1;
}

/* transport_ok - "name:" or "name:nexthop", a master.cf name without blanks */
static int
transport_ok(const char *t)
{
	const char *colon = strchr(t, ':');

	if (colon == NULL || colon == t || strlen(t) >= 256)
		return 0;
	for (; *t; t++)
		if (*t <= ' ' || *t == 127)
			return 0;
	return 1;
}

/* conf_long - a bounded integer option, reported when out of range */
static long
conf_long(sl_conf *c, cfg_t *sec, const char *name, long min, long max)
{
	long v = cfg_getint(sec, name);

	if (v < min || v > max)
		sl_conf_error(c, sec, "policyd: %s = %ld: use %ld to %ld", name, v, min, max);
	return v;
}

/* pd_provider_config - provider rules and reactions; errors go to sl_conf_error */
pd_react_conf *
pd_provider_config(sl_conf *c, cfg_t *sec)
{
	pd_react_conf *rc = sl_calloc(1, sizeof(*rc));
	char err[256];

	rc->site = c->site;
	rc->providers = sl_providers_new();
	if (sl_providers_conf(rc->providers, cfg_getsec(c->cfg, "logd"), err, sizeof(err)) < 0)
		sl_conf_error(c, cfg_getsec(c->cfg, "logd"), "logd: %s", err);
	rc->ramp = conf_long(c, sec, "block_ramp", 0, 7 * 86400);
	rc->ramp_start = conf_long(c, sec, "block_ramp_start", 1, 1000000);
	rc->ramp_step = conf_long(c, sec, "block_ramp_step", 1, 86400);
	rc->nrx = (int)cfg_size(sec, "block_reaction");
	if (rc->nrx > 0) /* without reactions, the refresh is skipped on Cluster */
		sl_conf_refuse_cluster(c, "sluice-policyd with block_reaction",
		                       "its provider refresh reads blocks, ramps, holds and every "
		                       "block in one script");
	rc->rx = sl_calloc((size_t)rc->nrx + 1, sizeof(*rc->rx));
	for (int i = 0; i < rc->nrx; i++) {
		cfg_t *s = cfg_getnsec(sec, "block_reaction", (unsigned)i);
		reaction *r = &rc->rx[i];
		const char *t = cfg_getstr(s, "transport");

		if (!sl_provider_name_ok(cfg_title(s)))
			sl_conf_error(c, s,
			              "block_reaction \"%s\": a provider name (a-z 0-9 - _) "
			              "or default",
			              cfg_title(s));
		snprintf(r->name, sizeof(r->name), "%s", cfg_title(s));
		if (mode_parse(cfg_getstr(s, "mode"), &r->mode) < 0)
			sl_conf_error(c, s,
			              "block_reaction %s: mode \"%s\": use defer, filter, "
			              "monitor or off",
			              r->name, cfg_getstr(s, "mode"));
		if (r->mode == RX_FILTER && !transport_ok(t))
			sl_conf_error(c, s,
			              "block_reaction %s: mode filter needs transport = "
			              "\"name:\" or \"name:nexthop\" (a master.cf service)",
			              r->name);
		snprintf(r->transport, sizeof(r->transport), "%s", t);
		r->retry = conf_long(c, s, "retry", 1, 86400);
	}
	return rc;
}

/* pd_provider_config_free - NULL is a no-op */
void
pd_provider_config_free(pd_react_conf *rc)
{
	if (rc == NULL)
		return;
	sl_providers_free(rc->providers);
	free(rc->rx);
	free(rc);
}

/* reaction_for - the provider's reaction, else "default", else monitor */
static const reaction *
reaction_for(const pd_react_conf *rc, const char *provider)
{
	static const reaction monitor = {"default", RX_MONITOR, "", 900};
	const reaction *def = &monitor;

	for (int i = 0; i < rc->nrx; i++) {
		if (strcmp(rc->rx[i].name, provider) == 0)
			return &rc->rx[i];
		if (strcmp(rc->rx[i].name, "default") == 0)
			def = &rc->rx[i];
	}
	return def;
}

/* ---------- the state, refreshed from Redis ---------- */

/* find_active - the entry of a member, or NULL */
static active *
find_active(active *a, int n, const char *member)
{
	for (int i = 0; i < n; i++)
		if (strcmp(a[i].member, member) == 0)
			return &a[i];
	return NULL;
}

/* learnt_cmp - qsort/bsearch order of learnt domains */
static int
learnt_cmp(const void *a, const void *b)
{
	return strcmp(((const learnt *)a)->domain, ((const learnt *)b)->domain);
}

/* learnt_free - forget the learnt domains */
static void
learnt_free(void)
{
	for (int i = 0; i < nlrn; i++)
		free(lrn[i].domain);
	free(lrn);
	lrn = NULL, nlrn = 0;
}

/* holds_free - forget the days with blocks */
static void
holds_free(void)
{
	for (int i = 0; i < nholds; i++)
		free(holds[i].source), free(holds[i].days);
	free(holds);
	holds = NULL, nholds = 0;
}

/* held_days - days in [day0, today) on which a block of source was in force */
static long long
held_days(const char *source, long long day0, long long today)
{
	long long n = 0, d;

	for (int i = 0; source && *source && i < nholds; i++) {
		const char *s = holds[i].days;
		char one[9];

		if (strcmp(holds[i].source, source) != 0)
			continue;
		while (strlen(s) >= 8) {
			memcpy(one, s, 8), one[8] = '\0';
			if (sl_live_day(one, &d) == 0 && d >= day0 && d < today)
				n++;
			s += 8;
			s += *s == ',';
		}
	}
	return n;
}

/* load_entry - one triple of the refresh answer into the new tables */
static void
load_entry(const char *kind, const char *a, const char *b, active *next, int *nnext, learnt *nl,
           int *nnl, long long now)
{
	if (*kind == 'l') {
		if (nrelabels < RELABEL_MAX && strlen(a) < sizeof(relabels[0].field) &&
		    sl_live_dns_label_ok(b)) {
			snprintf(relabels[nrelabels].field, sizeof(relabels[0].field), "%s", a);
			snprintf(relabels[nrelabels].label, sizeof(relabels[0].label), "%s", b);
			nrelabels++;
		}
		return;
	}
	if (*kind == 'h') {
		if (nl && nholds < LEARNT_MAX) { /* read with the learnt domains */
			holds = sl_realloc(holds, (size_t)(nholds + 1) * sizeof(*holds));
			holds[nholds].source = sl_strdup(a), holds[nholds].days = sl_strdup(b);
			nholds++;
		}
		return;
	}
	if (*kind == 'd') {
		if (*nnl < LEARNT_MAX && sl_provider_name_ok(b)) {
			nl[*nnl].domain = sl_strdup(a);
			snprintf(nl[*nnl].provider, sizeof(nl[0].provider), "%s", b);
			(*nnl)++;
		}
		return;
	}
	if (*nnext >= ACTIVE_MAX || strlen(a) >= MEMBER_MAX || strchr(a, ':') == NULL)
		return;
	active *e = &next[(*nnext)++], *old = find_active(act, nact, a);

	memset(e, 0, sizeof(*e));
	snprintf(e->member, sizeof(e->member), "%s", a);
	e->ramp = *kind == 'r';
	e->value = strtoll(b, NULL, 10) * (e->ramp ? 1000 : 1);
	e->seen = now;
	e->tokens = 1, e->filled = now; /* the first recipient of a ramp passes */
	if (old && old->ramp == e->ramp)
		e->tokens = old->tokens, e->filled = old->filled;
	else if (!e->ramp)
		sl_warn("provider block in force: %s (%lld s left)", a, e->value);
	else
		sl_info("provider block over, ramping up: %s", a);
}

/* refresh_cb - the new blocks, ramps and learnt domains */
static void
refresh_cb(const sl_reply *r, const char *err, void *arg)
{
	int learn = arg != NULL, nnext = 0, nnl = 0;
	long long now = pd_now_ms();
	active *next;
	learnt *nl = NULL;

	busy = 0;
	if (r != NULL && r->type == SL_REPLY_ERROR) {
		pd_redis_error("provider blocks refresh", r->str);
		return;
	}
	if (r == NULL || r->type != SL_REPLY_ARRAY || r->elements % 3 != 0) {
		sl_debug("provider blocks refresh failed: %s", err ? err : "bad reply");
		return;
	}
	for (size_t i = 0; i < r->elements; i++)
		if (r->element[i]->type != SL_REPLY_STRING)
			return;
	next = sl_calloc(r->elements / 3 + 1, sizeof(*next));
	if (learn) {
		nl = sl_calloc(r->elements / 3 + 1, sizeof(*nl));
		holds_free(); /* read again below */
	}
	nrelabels = 0; /* reloaded below */
	for (size_t i = 0; i < r->elements; i += 3)
		load_entry(r->element[i]->str, r->element[i + 1]->str, r->element[i + 2]->str, next,
		           &nnext, nl, &nnl, now);
	for (int i = 0; i < nact; i++)
		if (find_active(next, nnext, act[i].member) == NULL)
			sl_info("provider block and ramp over: %s", act[i].member);
	free(act);
	act = next, nact = nnext;
	if (learn) {
		learnt_free();
		lrn = nl, nlrn = nnl;
		qsort(lrn, (size_t)nlrn, sizeof(*lrn), learnt_cmp);
	}
}

/* react_poll - timer: one refresh at a time */
static void
react_poll(evutil_socket_t fd, short what, void *arg)
{
	pd_server *srv = arg;
	const pd_react_conf *rc = srv->cfg->react;
	struct timeval tv = {.tv_sec = srv->cfg->poll_ms / 1000,
	                     .tv_usec = (srv->cfg->poll_ms % 1000) * 1000};
	char keys[3][SL_KEY_MAX], block[SL_KEY_MAX], pdom[SL_KEY_MAX], relabel[SL_KEY_MAX];
	char ramp[32], most[32], today[32];
	const char *p = srv->cfg->redis.prefix, *argv[10];
	time_t end;
	int learn = polls++ % LEARN_EVERY == 0;

	(void)fd, (void)what;
	evtimer_add(timer, &tv);
	/* Cluster (no block_reaction: config refuses it): the script spans slots */
	if (busy || !sl_aredis_connected(srv->redis) || sl_aredis_cluster(srv->redis))
		return;
	if (sl_key(keys[0], sizeof(keys[0]), p, SL_KEY_BLOCKS) < 0 ||
	    sl_key(keys[1], sizeof(keys[1]), p, SL_KEY_RAMPS) < 0 ||
	    sl_key(keys[2], sizeof(keys[2]), p, SL_KEY_HOLDS) < 0 ||
	    sl_key(relabel, sizeof(relabel), p, SL_KEY_RELABEL) <
	        0 || /* sluicectl subdomain move */
	    sl_key_template_full(block, sizeof(block), p, SL_KEY_BLOCK) < 0 ||
	    sl_key_template_full(pdom, sizeof(pdom), p, SL_KEY_PDOMAINS) < 0 ||
	    pd_window_id(PD_WIN_DAY, time(NULL), today, sizeof(today), &end) < 0)
		return;
	snprintf(ramp, sizeof(ramp), "%ld", rc->ramp);
	snprintf(most, sizeof(most), "%d", LEARNT_MAX);
	argv[0] = keys[0], argv[1] = keys[1], argv[2] = keys[2], argv[3] = block, argv[4] = ramp;
	argv[5] = learn ? "1" : "0", argv[6] = most, argv[7] = relabel, argv[8] = today;
	argv[9] = pdom;
	busy = sl_aredis_eval(srv->redis, &refresh_script, 0, refresh_cb, learn ? srv : NULL, 3, 10,
	                      argv, NULL) == 0;
}

/* pd_provider_start - first refresh now, then every poll_interval */
void
pd_provider_start(pd_server *srv)
{
	struct timeval now = {0, 0};

	timer = evtimer_new(srv->base, react_poll, srv);
	evtimer_add(timer, &now);
}

/* ---------- the decision ---------- */

/* provider_of - the recipient domain's provider: rules, then learnt domains */
static const char *
provider_of(const pd_react_conf *rc, const char *domain)
{
	const char *p = sl_provider_of(rc->providers, domain, NULL);
	learnt key = {.domain = (char *)domain}, *hit;

	if (strcmp(p, "other") != 0 || nlrn == 0)
		return p;
	hit = bsearch(&key, lrn, (size_t)nlrn, sizeof(*lrn), learnt_cmp);
	return hit ? hit->provider : "other";
}

/* label_of - a category's or tenant's label: sluicectl subdomain move's, else the config's */
static const char *
label_of(const sl_site *site, const char *section, const char *name)
{
	const struct sl_site_tenant *t = NULL;
	const struct sl_site_category *c = NULL;
	char field[40];

	if (*name && strcmp(section, "tenant") == 0)
		t = sl_site_tenant(site, name);
	else if (*name)
		c = sl_site_category(site, name);
	snprintf(field, sizeof(field), "%s:%s", section, name);
	for (int i = 0; *name && i < nrelabels; i++)
		if (strcmp(relabels[i].field, field) == 0)
			return relabels[i].label;
	return t ? t->subdomain : c ? c->subdomain : "";
}

/*
 * predict_source - the sending domain the milter will most likely give the
 * message: <tenant or category label>.<longest configured domain at or
 * above the sender's domain>, else the sender's domain
 */
static void
predict_source(const pd_react_conf *rc, const pd_facts *f, char *out, size_t outlen)
{
	const char *label = label_of(rc->site, "tenant", f->tenant), *base = NULL;
	size_t best = 0;

	if (*label == '\0')
		label = label_of(rc->site, "category", f->category);
	for (size_t i = 0; i < rc->site->ndomains; i++) {
		const char *d = rc->site->domains[i].name;

		if (strlen(d) > best && sl_domain_is_under(f->sender_domain, d))
			base = d, best = strlen(d);
	}
	if (*label && base)
		snprintf(out, outlen, "%s.%s", label, base);
	else
		snprintf(out, outlen, "%s", f->sender_domain);
}

/* pd_ramp_rate - recipients a minute age_s seconds into a ramp: start, doubling every step */
double
pd_ramp_rate(long start, long step, double age_s)
{
	double steps = age_s > 0 ? age_s / (double)step : 0, per_min = (double)start;

	for (; steps >= 1.0 && per_min < 1e9; steps -= 1.0)
		per_min *= 2.0;                             /* doubles every step seconds ... */
	return per_min * (1.0 + (steps < 1.0 ? steps : 0)); /* ... and grows in between */
}

/* ramp_take - one recipient through a ramp's bucket; 1 when it passes */
static int
ramp_take(const pd_react_conf *rc, active *e, long long now)
{
	double age_s = (double)(e->value + (now - e->seen)) / 1000.0;
	double per_min = pd_ramp_rate(rc->ramp_start, rc->ramp_step, age_s);
	double burst = per_min / 6.0 < 1.0 ? 1.0 : per_min / 6.0; /* ten seconds' worth */

	e->tokens += (double)(now - e->filled) / 60000.0 * per_min;
	if (e->tokens > burst)
		e->tokens = burst;
	e->filled = now;
	if (e->tokens < 1.0)
		return 0;
	e->tokens -= 1.0;
	return 1;
}

/* pd_provider_facts - the recipient's provider and the likely sending domain, for templates too */
void
pd_provider_facts(const pd_config *cfg, pd_facts *f)
{
	if (cfg->react == NULL)
		return;
	snprintf(f->recipient_provider, sizeof(f->recipient_provider), "%s",
	         *f->recipient_domain ? provider_of(cfg->react, f->recipient_domain) : "");
	predict_source(cfg->react, f, f->sending_domain, sizeof(f->sending_domain));
}

/*
 * pd_limit_max - a window limit's maximum in the period day_id: with a
 * warm-up schedule, the figure of the day (days since schedule_start, less
 * the days on which a block of source was in force: the schedule holds;
 * the first figure before it, the last one after the schedule's end)
 */
long long
pd_limit_max(const pd_limit *l, const char *day_id, const char *source)
{
	long long today, i;
	char day[9];

	if (l->nschedule == 0)
		return l->max;
	snprintf(day, sizeof(day), "%s", day_id); /* YYYYMMDD of the period */
	if (sl_live_day(day, &today) < 0)
		return l->schedule[0];
	i = today - l->schedule_day0 - held_days(source, l->schedule_day0, today);
	return l->schedule[i < 0 ? 0 : i >= l->nschedule ? l->nschedule - 1 : i];
}

/* pd_provider_react - the reaction to a block (or ramp) for this recipient, if any */
enum pd_rx
pd_provider_react(const pd_config *cfg, const pd_facts *f, char *action, size_t len, char *why,
                  size_t whylen)
{
	const pd_react_conf *rc = cfg->react;
	char cand[3][256], member[MEMBER_MAX];
	const char *provider;
	const reaction *rx;
	active *e = NULL;
	long long now = pd_now_ms(), left;
	char rule[64];

	if (nact == 0 || rc == NULL || *f->recipient_domain == '\0')
		return PD_RX_NONE;
	provider = f->recipient_provider;
	if (*provider == '\0' || strcmp(provider, "other") == 0)
		return PD_RX_NONE;
	snprintf(cand[0], sizeof(cand[0]), "%s", f->sending_domain);
	snprintf(cand[1], sizeof(cand[1]), "%s", f->sender_domain);
	snprintf(cand[2], sizeof(cand[2]), "*");
	for (int i = 0; i < 3 && e == NULL; i++) {
		snprintf(member, sizeof(member), "%s:%s", provider, cand[i]);
		e = find_active(act, nact, member);
	}
	if (e == NULL || (rx = reaction_for(rc, provider))->mode == RX_OFF)
		return PD_RX_NONE;
	if (e->ramp && ramp_take(rc, e, now))
		return PD_RX_NONE;
	left = e->ramp ? 60 : e->value - (now - e->seen) / 1000;
	if (left < 1)
		left = 1;
	if (left > rx->retry || (!e->ramp && e->value < 0)) /* TTL -1: set by hand, no expiry */
		left = rx->retry;
	snprintf(rule, sizeof(rule), "provider-block:%s", provider);
	snprintf(why, whylen, "%s %s", e->ramp ? "ramp after the block of" : "block of", member);
	if (rx->mode == RX_FILTER) {
		snprintf(action, len, "FILTER %s", rx->transport);
		pd_metrics_rule(rule, e->ramp ? "ramp_filtered" : "filtered");
		return PD_RX_FILTER;
	}
	if (rx->mode == RX_MONITOR) {
		pd_metrics_rule(rule, "would_defer");
		return PD_RX_MONITOR;
	}
	snprintf(action, len,
	         "DEFER_IF_PERMIT 4.7.1 Mail to %s is held back %s, try again in %lld seconds",
	         provider,
	         e->ramp ? "while delivery resumes after a block" : "while the provider refuses it",
	         left);
	pd_metrics_rule(rule, e->ramp ? "ramp_deferred" : "deferred");
	return PD_RX_DEFER;
}
