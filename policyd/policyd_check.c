/*
 * NAME
 *	policyd_check 3 - the decision for one policy request
 * SYNOPSIS
 *	#include "policyd.h"
 *
 *	void pd_check_start(pd_server *srv, const pd_request *req,
 *			    int first_rcpt, pd_done_fn *done, void *arg)
 *	const char *pd_facts_get(const pd_facts *f, const char *name)
 * DESCRIPTION
 *	At RCPT, a request goes through at most three Redis round trips, and
 *	usually one: the SASL user's tenant and category (cached for a
 *	second, policyd_tenant.c), the tenant's relay policy (cached for a
 *	second, policyd_relay.c), then one EVALSHA of pd_decide_script that
 *	checks the tenant's status, the recipient's suppression scopes and
 *	every applicable limit, charging the limits only when nothing
 *	enforced refuses. Other protocol states are answered DUNNO.
 *
 *	Each check has a mode (enforce, monitor, off; pd_mode_for()). In
 *	monitor mode the script still evaluates the check and reports what
 *	it would have done; the answer is DUNNO and the would-be action is
 *	counted per rule.
 *
 *	Every Redis request carries what is left of the per-request timeout;
 *	on timeout, error or an open circuit breaker the request gets the
 *	configured fail action. done() is called exactly once per request,
 *	possibly before pd_check_start() returns, and one log line is
 *	written per request.
 * OWNERSHIP
 *	A query pins the config snapshot and the limits table it started
 *	with, and owns copies of the request attributes it needs.
 */
#include "config.h"

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "charge.h"
#include "live.h"
#include "log.h"
#include "policyd.h"

#define QUERY_LIMITS	32		/* limits applied to one request, at most */
#define KEY_MAX		700

typedef struct pd_query {
	pd_server *srv;
	pd_config *cfg;
	pd_limits *limits;
	pd_facts f;
	int	first_rcpt;
	pd_done_fn *done;
	void   *arg;
	long long start_ms;
	struct timespec t0, r0; /* request start, Redis request start */
	int	nscope;
	int	lim[QUERY_LIMITS];	/* indexes into limits->limit */
	int	nlim;
	enum pd_mode tmode, smode;
	int	planned;		/* decide() knows which checks apply */
	char	note[300];		/* what monitor mode saw, warnings */
	int	charged;
	char	filter[PD_ANSWER_MAX];	/* a provider block's FILTER, else "" */
	char	charge[SL_CHARGE_KEY_MAX];	/* the connection's charge record, or "" */
	struct pd_split *split;	/* Cluster: the decision's steps, or NULL */
	pd_scope scope[PD_SCOPES]; /* last: not zeroed, only nscope are set */
} pd_query;

static void split_free(pd_query *q);
static int split_prepare(pd_query *q);
static void split_send(pd_query *q);
static void split_stat(pd_query *q, const pd_limit *l, const char *field);

/* elapsed - seconds since t0 */
static double
elapsed(const struct timespec *t0)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double) (t.tv_sec - t0->tv_sec) + (double) (t.tv_nsec - t0->tv_nsec) / 1e9;
}

/* pd_facts_get - a request attribute or derived value by name, NULL if unknown */
const char *
pd_facts_get(const pd_facts *f, const char *name)
{
	const struct {
		const char *name;
		const char *value;
	}	map[] = {
		{"sasl_username", f->sasl_username}, {"sender", f->sender},
		{"sender_domain", f->sender_domain}, {"sender_orgdomain", f->sender_orgdomain},
		{"recipient", f->recipient}, {"recipient_domain", f->recipient_domain},
		{"recipient_orgdomain", f->recipient_orgdomain},
		{"client_address", f->client_address}, {"client_name", f->client_name},
		{"helo_name", f->helo_name}, {"tenant", f->tenant}, {"category", f->category},
		{"recipient_provider", f->recipient_provider}, {"sending_domain", f->sending_domain},
	};

	for (size_t i = 0; i < sizeof(map) / sizeof(*map); i++)
		if (strcmp(map[i].name, name) == 0)
			return map[i].value ? map[i].value : "";
	return NULL;
}

/*
 * orgdomain - sl_orgdomain() through a small cache: the public suffix
 * list walk was a tenth of a request's instructions, and mail repeats
 * its domains (policyd is single-threaded)
 */
#define ORG_CACHE 64
static int
orgdomain(const char *dom, char *org, size_t orglen)
{
	static struct {
		char dom[256], org[256];
		int rc;
	} cache[ORG_CACHE];
	unsigned h = 5381;
	size_t len = strlen(dom);

	if (len >= sizeof(cache[0].dom))
		return sl_orgdomain(dom, org, orglen);
	for (const char *p = dom; *p; p++)
		h = h * 33 + (unsigned char)*p;
	h %= ORG_CACHE;
	if (strcmp(cache[h].dom, dom) != 0) {
		cache[h].rc = sl_orgdomain(dom, cache[h].org, sizeof(cache[h].org));
		memcpy(cache[h].dom, dom, len + 1);
	}
	if (cache[h].rc < 0 || strlen(cache[h].org) >= orglen)
		return -1;
	memcpy(org, cache[h].org, strlen(cache[h].org) + 1);
	return 0;
}

/* facts_addr - normalised address with its domain and organizational domain */
static void
facts_addr(const char *in, char *addr, size_t addrlen, char *dom, size_t domlen, char *org,
	   size_t orglen)
{
	addr[0] = dom[0] = org[0] = '\0';
	if (*in == '\0' || sl_addr_normalize(in, addr, addrlen, 0) < 0) {
		addr[0] = '\0';
		return;
	}
	snprintf(dom, domlen, "%s", sl_addr_domain(addr));
	if (orgdomain(dom, org, orglen) < 0)
		snprintf(org, orglen, "%s", dom);
}

/* facts_from_request - copy and derive what the checks use */
static void
facts_from_request(pd_facts *f, const pd_request *req)
{
	f->protocol_state = sl_strdup(pd_request_str(req, "protocol_state"));
	f->instance = sl_strdup(pd_request_str(req, "instance"));
	f->client_address = sl_strdup(pd_request_str(req, "client_address"));
	f->client_name = sl_strdup(pd_request_str(req, "client_name"));
	f->helo_name = sl_strdup(pd_request_str(req, "helo_name"));
	f->sasl_username = sl_strdup(pd_request_str(req, "sasl_username"));
	f->encryption_protocol = sl_strdup(pd_request_str(req, "encryption_protocol"));
	f->server_port = sl_strdup(pd_request_str(req, "server_port"));
	facts_addr(pd_request_str(req, "sender"), f->sender, sizeof(f->sender), f->sender_domain,
		   sizeof(f->sender_domain), f->sender_orgdomain, sizeof(f->sender_orgdomain));
	facts_addr(pd_request_str(req, "recipient"), f->recipient, sizeof(f->recipient),
		   f->recipient_domain, sizeof(f->recipient_domain), f->recipient_orgdomain,
		   sizeof(f->recipient_orgdomain));
}

/* query_free - release a finished query */
static void
query_free(pd_query *q)
{
	free(q->f.protocol_state);
	free(q->f.instance);
	free(q->f.client_address);
	free(q->f.client_name);
	free(q->f.helo_name);
	free(q->f.sasl_username);
	free(q->f.encryption_protocol);
	free(q->f.server_port);
	split_free(q);
	pd_limits_unref(q->limits);
	pd_config_unref(q->cfg);
	free(q);
}

/* finish - log one line, answer the connection, free the query */
static void
finish(pd_query *q, const char *action, const char *why)
{
	pd_metrics_action(action);
	sl_info("request: state=%s client=%s sasl=%s tenant=%s from=<%s> to=<%s> action=\"%s\"%s%s%s%s"
		" %.1fms", q->f.protocol_state, q->f.client_address,
		*q->f.sasl_username ? q->f.sasl_username : "-", *q->f.tenant ? q->f.tenant : "-",
		q->f.sender, q->f.recipient, action, why ? " (" : "", why ? why : "", why ? ")" : "",
		q->note, elapsed(&q->t0) * 1000);
	q->done(action, q->charged, q->arg);
	query_free(q);
}

/* fail - Redis could not help: the configured fail action */
static void
fail(pd_query *q, const char *why)
{
	char	action[PD_ANSWER_MAX], reason[200];

	/* Before the plan (SASL lookup failed) every check counts as applying. */
	pd_fail_action(q->cfg, !q->planned || q->nlim > 0 || q->tmode != PD_MODE_OFF,
		       !q->planned || q->smode != PD_MODE_OFF, action, sizeof(action));
	snprintf(reason, sizeof(reason), "redis: %s", why);
	finish(q, action, reason);
}

/* remaining_ms - what is left of the per-request timeout (at least 1) */
static int
remaining_ms(const pd_query *q)
{
	long long left = q->cfg->timeout_ms - (pd_now_ms() - q->start_ms);

	return left < 1 ? 1 : (int) left;
}

/* note_add - append to the query's log note */
static void
note_add(pd_query *q, const char *fmt, const char *a, const char *b)
{
	size_t	len = strlen(q->note);

	snprintf(q->note + len, sizeof(q->note) - len, fmt, a, b);
}

/* mode_flag - the script's letter for a mode: e, m or x (skip) */
static const char *
mode_flag(enum pd_mode m)
{
	return m == PD_MODE_ENFORCE ? "e" : m == PD_MODE_MONITOR ? "m" : "x";
}

/* plan_limits - the limits that apply to this request */
static void
plan_limits(pd_query *q)
{
	const pd_limits *t = q->limits;
	char	key[PD_TEMPLATE_MAX];

	for (int i = 0; t && i < t->n && q->nlim < QUERY_LIMITS; i++) {
		const pd_limit *l = &t->limit[i];

		if (!l->valid || (!l->per_recipient && !q->first_rcpt) || !pd_match(l->match, &q->f)
		    || pd_mode_for(q->srv, t, l->mode, &q->f) == PD_MODE_OFF)
			continue;
		if (pd_template_expand(l->key, &q->f, key, sizeof(key)) < 0)
			continue;
		q->lim[q->nlim++] = i;
	}
}

/*
 * limit_args - KEYS and ARGV of one limit (num[0..3]: cost, p1, p2, warn;
 * a rate's were formatted when the limit was loaded, a window's are
 * written to buf); -1 when it
 * cannot be keyed
 */
static int
limit_args(pd_query *q, int i, char *counter, char *stats, const char *num[4], char (*buf)[32],
           const char **mode)
{
	const pd_limit *l = &q->limits->limit[q->lim[i]];
	const char *p = q->cfg->redis.prefix;
	char	value[PD_TEMPLATE_MAX], period[32];
	time_t	end;

	pd_template_expand(l->key, &q->f, value, sizeof(value));
	if (sl_key(stats, KEY_MAX, p, SL_KEY_RULESTATS, l->name) < 0)
		return -1;
	num[0] = "1", num[1] = l->arg_p1, num[2] = l->arg_p2, num[3] = l->arg_warn;
	if (l->kind == PD_LIMIT_RATE) {
		if (sl_key(counter, KEY_MAX, p, SL_KEY_RATE, l->name, value) < 0)
			return -1;
	} else {
		if (pd_window_id(l->window, time(NULL), period, sizeof(period), &end) < 0)
			return -1;
		if (sl_key(counter, KEY_MAX, p, SL_KEY_QUOTA, l->name, period, value) < 0)
			return -1;
		/* a window's max may follow a warm-up schedule: formatted per request */
		snprintf(buf[0], 32, "%lld", pd_limit_max(l, period, q->f.sending_domain));
		snprintf(buf[1], 32, "%lld", (long long)end);
		num[1] = buf[0], num[2] = buf[1];
	}
	*mode = mode_flag(pd_mode_for(q->srv, q->limits, l->mode, &q->f));
	return 0;
}

/*
 * charge_args - the charge record (a KEY) and the script's tail of ARGV:
 * instance ("" for none), recipient, each limit's unit, the record's TTL.
 * Returns the new count of args.
 */
static int
charge_args(pd_query *q, char *key, const char **argv, int *nkeys, const char **args, int a,
	    char *ttl)
{
	int	rec = q->cfg->refunds && q->charge[0] && q->f.instance && *q->f.instance
	    && q->nlim > 0;

	if (rec) {
		snprintf(key, KEY_MAX, "%s", q->charge);
		argv[*nkeys] = key, (*nkeys)++;
	}
	args[a++] = rec ? q->f.instance : "";
	args[a++] = q->f.recipient;
	for (int i = 0; i < q->nlim; i++)
		args[a++] = q->limits->limit[q->lim[i]].per_recipient ? "r" : "m";
	snprintf(ttl, 16, "%d", SL_CHARGE_TTL_S);
	args[a++] = ttl;
	return a;
}

static void decide_cb(const sl_reply *r, const char *err, void *arg);

/* provider_block - a provider block's reaction: 1 when it answered (defer) */
static int
provider_block(pd_query *q)
{
	char	action[PD_ANSWER_MAX], why[400];

	switch (pd_provider_react(q->cfg, &q->f, action, sizeof(action), why, sizeof(why))) {
	case PD_RX_DEFER:
		finish(q, action, why);
		return 1;
	case PD_RX_FILTER:
		snprintf(q->filter, sizeof(q->filter), "%s", action);
		note_add(q, " %s: %s", why, action);
		return 0;
	case PD_RX_MONITOR:
		note_add(q, " monitor: %s would defer%s", why, "");
		return 0;
	default:
		return 0;
	}
}

/* permit - what a request that nothing refused gets: DUNNO, or a block's FILTER */
static const char *
permit(const pd_query *q)
{
	return *q->filter ? q->filter : "DUNNO";
}

/* decide - send the one EVALSHA for tenant, suppression and limits */
static void
decide(pd_query *q)
{
	static char keys[2 + PD_SCOPES + 2 * QUERY_LIMITS][KEY_MAX];
	static char nbuf[QUERY_LIMITS][2][32];
	const char *num[QUERY_LIMITS][4];
	const char *argv[2 + PD_SCOPES + 2 * QUERY_LIMITS + 7 + 8 * QUERY_LIMITS];
	char	ns[16], nl[16], ttl[16];
	int	nkeys = 0, n, a = 0;

	pd_provider_facts(q->cfg, &q->f);
	if (provider_block(q))
		return;
	q->nscope = pd_suppress_scopes(q->cfg, &q->f, q->scope);
	q->tmode = *q->f.tenant ? pd_mode_for(q->srv, q->limits, PD_MODE_INHERIT, &q->f) : PD_MODE_OFF;
	q->smode = q->nscope ? pd_mode_for(q->srv, q->limits, PD_MODE_INHERIT, &q->f) : PD_MODE_OFF;
	plan_limits(q);
	q->planned = 1;
	if (q->tmode == PD_MODE_OFF && q->smode == PD_MODE_OFF && q->nlim == 0) {
		q->charged = 1;
		finish(q, permit(q), "nothing to check");
		return;
	}
	if (split_prepare(q)) {	/* Cluster, keys in several slots */
		split_send(q);
		return;
	}
	/* without a tenant the key is not read (tmode x): any name does */
	(void) sl_key(keys[nkeys], KEY_MAX, q->cfg->redis.prefix, SL_KEY_TENANT,
		      *q->f.tenant ? q->f.tenant : "-");
	argv[nkeys] = keys[nkeys], nkeys++;
	for (int i = 0; i < q->nscope; i++)
		argv[nkeys++] = q->scope[i].key;
	snprintf(ns, sizeof(ns), "%d", q->nscope);
	const char *args[7 + 8 * QUERY_LIMITS];
	args[a++] = mode_flag(q->tmode), args[a++] = ns, args[a++] = mode_flag(q->smode);
	args[a++] = nl;
	for (int i = 0, k = 0; i < q->nlim; i++) {
		const char *mode;
		const pd_limit *l = &q->limits->limit[q->lim[i]];

		if (limit_args(q, i, keys[nkeys], keys[nkeys + 1], num[i], nbuf[i], &mode) < 0)
			continue;
		argv[nkeys] = keys[nkeys], argv[nkeys + 1] = keys[nkeys + 1], nkeys += 2;
		args[a++] = l->kind == PD_LIMIT_RATE ? "r" : "w";
		args[a++] = num[i][0], args[a++] = num[i][1], args[a++] = num[i][2];
		args[a++] = mode, args[a++] = num[i][3], args[a++] = l->reject ? "r" : "d";
		q->lim[k++] = q->lim[i];
	}
	n = (nkeys - 1 - q->nscope) / 2;
	q->nlim = n;
	snprintf(nl, sizeof(nl), "%d", n);
	a = charge_args(q, keys[nkeys], argv, &nkeys, args, a, ttl);
	memcpy(argv + nkeys, args, (size_t) a * sizeof(*args));
	if (!pd_breaker_allow(q->srv->breaker, q->cfg, pd_now_ms())) {
		fail(q, "circuit breaker open");
		return;
	}
	clock_gettime(CLOCK_MONOTONIC, &q->r0);
	if (sl_aredis_eval(q->srv->redis, &pd_decide_script, remaining_ms(q), decide_cb, q, nkeys,
			   nkeys + a, argv, NULL) < 0) {
		pd_breaker_result(q->srv->breaker, q->cfg, 0, pd_now_ms());
		fail(q, "cannot send");
	}
}

/* limit_name - the name of the i-th (1-based) limit in the script's answer */
static const pd_limit *
limit_at(const pd_query *q, const char *idx)
{
	int	i = atoi(idx);

	return i >= 1 && i <= q->nlim ? &q->limits->limit[q->lim[i - 1]] : NULL;
}

/* warn_bad_key - a hand-written key of the wrong type: say so, not too often */
static void
warn_bad_key(const char *key)
{
	static long long last_ms;
	long long now = pd_now_ms();

	if (now - last_ms < 10000)
		return;
	last_ms = now;
	sl_warn("redis key %s has the wrong type or value: ignored (this warning is "
		"repeated at most every 10 s)", key);
}

/*
 * bad_status - a tenant status written by hand that is none of active,
 * paused, suspended: ignored (the tenant sends), logged once per key and
 * value, counted on /metrics. The last TS_SEEN ones are remembered.
 */
#define TS_SEEN 256
static void
bad_status(const char *ev)
{
	static char *seen[TS_SEEN];
	static int nseen;
	const char *eq = strrchr(ev, '=');
	char	shown[100];

	if (eq == NULL || sl_live_tenant_status(eq + 1) >= 0)
		return;
	for (int i = 0; i < nseen; i++)
		if (strcmp(seen[i], ev) == 0)
			return;
	if (nseen == TS_SEEN) {
		for (int i = 0; i < nseen; i++)
			free(seen[i]);
		nseen = 0;
	}
	seen[nseen++] = sl_strdup(ev);
	sl_live_printable(eq + 1, shown, sizeof(shown));
	sl_warn("%.*s field status: invalid value \"%s\" (use active, paused or suspended): "
		"ignored, the tenant sends as active", (int) (eq - ev), ev, shown);
	pd_metrics_live_invalid("tenant");
}

/* apply_event - one monitor finding or warning from the script */
static void
apply_event(pd_query *q, const char *ev)
{
	const pd_limit *l;
	char	buf[64];

	if (strncmp(ev, "bad:", 4) == 0) {
		warn_bad_key(ev + 4);
	} else if (strncmp(ev, "err:", 4) == 0) {
		pd_metrics_redis_error_reply(); /* inside the script: not a reply of its own */
		pd_redis_error("decision script", ev + 4);
		pd_breaker_result(q->srv->breaker, q->cfg, 0, pd_now_ms());
	} else if (strncmp(ev, "ts:", 3) == 0) {
		bad_status(ev + 3);
	} else if (strncmp(ev, "mt:", 3) == 0) {
		pd_metrics_rule("tenant-status", strcmp(ev + 3, "suspended") == 0 ? "would_reject" : "would_defer");
		note_add(q, " monitor: tenant %s%s", ev + 3, "");
	} else if (strncmp(ev, "ms:", 3) == 0) {
		pd_metrics_rule("suppression", "would_reject");
		note_add(q, " monitor: suppressed%s%s", "", "");
	} else if (strncmp(ev, "ml:", 3) == 0 && (l = limit_at(q, ev + 3)) != NULL) {
		pd_metrics_rule(l->name, l->reject ? "would_reject" : "would_defer");
		note_add(q, " monitor: limit %s would %s", l->name, l->reject ? "reject" : "defer");
		if (q->split)	/* on one Redis the script counts it */
			split_stat(q, l, l->reject ? "would_reject" : "would_defer");
	} else if (strncmp(ev, "p:", 2) == 0 && (l = limit_at(q, ev + 2)) != NULL) {
		pd_limits_passed(l->name);
	} else if (strncmp(ev, "w:", 2) == 0 && (l = limit_at(q, ev + 2)) != NULL) {
		const char *count = strchr(ev + 2, ':');

		snprintf(buf, sizeof(buf), "%lld", l->warn);
		sl_warn("limit %s: warning threshold %s reached (count %s)", l->name, buf,
			count ? count + 1 : "?");
		pd_metrics_warn(l->name);
		if (q->split)
			split_stat(q, l, "warned");
	}
}

/* answer_limit - a limit refused: defer with a retry hint, or reject */
static void
answer_limit(pd_query *q, const char *idx, const char *retry)
{
	const pd_limit *l = limit_at(q, idx);
	char	action[PD_ANSWER_MAX], why[120];

	if (l == NULL) {
		fail(q, "bad limit index in answer");
		return;
	}
	pd_metrics_rule(l->name, l->reject ? "rejected" : "deferred");
	if (l->reject)
		snprintf(action, sizeof(action), "REJECT 5.7.1 %s%s%s", l->text ? l->text : "Quota exceeded (",
			 l->text ? "" : l->name, l->text ? "" : ")");
	else
		snprintf(action, sizeof(action), "DEFER_IF_PERMIT 4.7.1 %s%s%s, try again in %s seconds",
			 l->text ? l->text : "Rate limit exceeded (", l->text ? "" : l->name,
			 l->text ? "" : ")", retry);
	snprintf(why, sizeof(why), "limit %s", l->name);
	finish(q, action, why);
}

/* answer_verdict - turn the script's answer into the action */
static void
answer_verdict(pd_query *q, const sl_reply *r)
{
	const char *v0 = r->element[0]->str, *last = r->element[r->elements - 1]->str;
	char	action[PD_ANSWER_MAX];
	size_t	nev = r->elements;
	int	i;

	if (strcmp(v0, "tenant") == 0 && r->elements == 3) {
		pd_metrics_rule("tenant-status", strcmp(r->element[1]->str, "suspended") == 0 ? "rejected" : "deferred");
		pd_tenant_answer(r->element[1]->str, r->element[2]->str, action, sizeof(action));
		finish(q, action, "tenant status");
	} else if (strcmp(v0, "supp") == 0 && r->elements == 3
		   && (i = atoi(r->element[1]->str)) >= 1 && i <= q->nscope) {
		pd_metrics_rule("suppression", q->scope[i - 1].discard ? "discarded" : "rejected");
		pd_suppress_answer(&q->scope[i - 1], q->f.recipient, r->element[2]->str, action, sizeof(action));
		finish(q, action, q->scope[i - 1].kind);
	} else if (strcmp(last, "ok") == 0) {
		for (size_t k = 0; k + 1 < nev; k++)
			apply_event(q, r->element[k]->str);
		q->charged = 1;
		finish(q, permit(q), NULL);
	} else if (nev >= 3 && strcmp(r->element[nev - 3]->str, "limit") == 0) {
		for (size_t k = 0; k + 3 < nev; k++)
			apply_event(q, r->element[k]->str);
		answer_limit(q, r->element[nev - 2]->str, r->element[nev - 1]->str);
	} else {
		fail(q, "unexpected answer from the script");
	}
}

/*
 * Redis Cluster: a decision split by slot (doc/redis-keys.md, "Cluster
 * hash tags"). When the keys of a decision are not all in one slot, the
 * decision script runs once per slot group, in a fixed order: tenant
 * status, the suppression scopes (grouped by slot), then the limits
 * grouped by their counter's slot in the limits' order. Each step is
 * atomic in its slot. When a limit group refuses, the groups already
 * charged are given back (sl_charge_refund_script, counters only: the
 * decision counts as never charged, as on one Redis). The statistics
 * (rulestats) and the charge record are written by separate calls: the
 * statistics as the events say, the record once every step passed.
 */
#define SPLIT_STEPS (1 + PD_SCOPES + QUERY_LIMITS)
#define SPLIT_EVENTS 64

struct pd_split {
	char tenant[KEY_MAX];
	char counter[QUERY_LIMITS][KEY_MAX], stats[QUERY_LIMITS][KEY_MAX];
	const char *num[QUERY_LIMITS][4], *mode[QUERY_LIMITS];
	char nbuf[QUERY_LIMITS][2][32];
	int nstep, step;
	char kind[SPLIT_STEPS];      /* 't', 's', 'l' */
	int off[SPLIT_STEPS + 1];    /* step i: item[off[i] .. off[i+1]) */
	int item[SPLIT_STEPS];       /* scope or limit index (0-based) */
	unsigned slot[SPLIT_STEPS];
	char charged[QUERY_LIMITS];
	char *ev[SPLIT_EVENTS]; /* limit events kept until the decision passed */
	int nev;
};

static sl_script charge_note_script = {
    .source = "local cur = redis.pcall('HGET', KEYS[1], 'instance')\n"
              "if type(cur) == 'table' or (cur and cur ~= ARGV[1]) then redis.call('DEL', KEYS[1]) end\n"
              "for i = 3, #ARGV, 2 do\n"
              "  local was = redis.call('HGET', KEYS[1], ARGV[i]) or ''\n"
              "  redis.call('HSET', KEYS[1], 'instance', ARGV[1], ARGV[i], was .. ARGV[i + 1])\n"
              "end\n"
              "redis.call('EXPIRE', KEYS[1], ARGV[2])\n"
              "return 1\n"};

/* split_free - release the steps and the events kept */
static void
split_free(pd_query *q)
{
	if (q->split == NULL)
		return;
	for (int i = 0; i < q->split->nev; i++)
		free(q->split->ev[i]);
	free(q->split);
	q->split = NULL;
}

/* side_cb - the answer to a statistics write or a refund: only failures matter */
static void
side_cb(const sl_reply *r, const char *err, void *arg)
{
	const char *what = arg;

	if (r != NULL && r->type == SL_REPLY_ERROR)
		pd_redis_error(what, r->str);
	else if (r == NULL)
		sl_warn("redis: %s: %s", what, err ? err : "no reply");
}

/* split_stat - HINCRBY a limit's rulestats field (its own call on Cluster) */
static void
split_stat(pd_query *q, const pd_limit *l, const char *field)
{
	char key[KEY_MAX];
	const char *argv[4] = {"HINCRBY", key, field, "1"};

	if (sl_key(key, sizeof(key), q->cfg->redis.prefix, SL_KEY_RULESTATS, l->name) == 0)
		(void)sl_aredis_cmdv(q->srv->redis, 1000, side_cb, "limit statistics", 4, argv, NULL);
}

/* step_add - a step of kind k for item i at slot s (joins a step of that slot) */
static void
step_add(struct pd_split *sp, char k, int i, unsigned s)
{
	int at = sp->nstep;

	for (int j = 0; j < sp->nstep; j++)
		if (sp->kind[j] == k && sp->slot[j] == s)
			at = j;
	if (at == sp->nstep) {
		sp->kind[at] = k, sp->slot[at] = s;
		sp->off[at] = sp->off[at + 1] = sp->nstep ? sp->off[sp->nstep] : 0;
		sp->nstep++;
	}
	/* items of later steps move up by one */
	for (int j = sp->off[sp->nstep]; j > sp->off[at + 1]; j--)
		sp->item[j] = sp->item[j - 1];
	sp->item[sp->off[at + 1]] = i;
	for (int j = at + 1; j <= sp->nstep; j++)
		sp->off[j]++;
}

/* keyslot - the Cluster slot of a key */
static unsigned
keyslot(const char *key)
{
	return sl_redis_keyslot(key, strlen(key));
}

/*
 * split_prepare - on Cluster, the steps of a decision whose keys are in
 * several slots: 1 when split (q->split set), 0 for one script
 */
static int
split_prepare(pd_query *q)
{
	struct pd_split *sp;
	unsigned first;
	int k = 0, one = 1;

	if (!sl_aredis_cluster(q->srv->redis))
		return 0;
	sp = q->split = sl_calloc(1, sizeof(*sp));
	(void)sl_key(sp->tenant, KEY_MAX, q->cfg->redis.prefix, SL_KEY_TENANT,
	             *q->f.tenant ? q->f.tenant : "-");
	for (int i = 0; i < q->nlim; i++)
		if (limit_args(q, i, sp->counter[k], sp->stats[k], sp->num[k], sp->nbuf[k],
		               &sp->mode[k]) == 0)
			q->lim[k++] = q->lim[i];
	q->nlim = k;
	if (q->tmode != PD_MODE_OFF)
		step_add(sp, 't', 0, keyslot(sp->tenant));
	for (int i = 0; q->smode != PD_MODE_OFF && i < q->nscope; i++)
		step_add(sp, 's', i, keyslot(q->scope[i].key));
	for (int i = 0; i < q->nlim; i++)
		step_add(sp, 'l', i, keyslot(sp->counter[i]));
	first = sp->nstep ? sp->slot[0] : 0;
	for (int i = 0; i < sp->nstep; i++)
		one &= sp->slot[i] == first;
	for (int i = 0; i < q->nlim; i++)
		one &= keyslot(sp->stats[i]) == first;
	if (q->nlim > 0 && q->cfg->refunds && q->charge[0] && q->f.instance && *q->f.instance)
		one &= keyslot(q->charge) == first;
	if (one || sp->nstep == 0) {
		split_free(q); /* one slot after all: the one script */
		return 0;
	}
	return 1;
}

static void split_cb(const sl_reply *r, const char *err, void *arg);
static void split_refund(pd_query *q);

/* split_send - the decision script for the current step */
static void
split_send(pd_query *q)
{
	struct pd_split *sp = q->split;
	int s = sp->step, n = sp->off[s + 1] - sp->off[s], nkeys = 0, a = 0;
	const char *keys[1 + 2 * QUERY_LIMITS + PD_SCOPES], *args[12 + 8 * QUERY_LIMITS];
	const char *argv[1 + 2 * QUERY_LIMITS + PD_SCOPES + 12 + 8 * QUERY_LIMITS];
	char ns[16], nl[16], ttl[16];
	const int *it = sp->item + sp->off[s];

	snprintf(ns, sizeof(ns), "%d", sp->kind[s] == 's' ? n : 0);
	snprintf(nl, sizeof(nl), "%d", sp->kind[s] == 'l' ? n : 0);
	snprintf(ttl, sizeof(ttl), "%d", SL_CHARGE_TTL_S);
	/* KEYS[1] is the tenant's only in the tenant step (read when tmode is not x) */
	keys[nkeys++] = sp->kind[s] == 't' ? sp->tenant
	                : sp->kind[s] == 's' ? q->scope[it[0]].key : sp->counter[it[0]];
	args[a++] = sp->kind[s] == 't' ? mode_flag(q->tmode) : "x";
	args[a++] = ns;
	args[a++] = sp->kind[s] == 's' ? mode_flag(q->smode) : "x";
	args[a++] = nl;
	for (int i = 0; sp->kind[s] == 's' && i < n; i++)
		keys[nkeys++] = q->scope[it[i]].key;
	for (int i = 0; sp->kind[s] == 'l' && i < n; i++) {
		const pd_limit *l = &q->limits->limit[q->lim[it[i]]];
		const char *const *num = sp->num[it[i]];

		keys[nkeys++] = sp->counter[it[i]];
		keys[nkeys++] = sp->counter[it[i]]; /* the stats position: not written */
		args[a++] = l->kind == PD_LIMIT_RATE ? "r" : "w";
		args[a++] = num[0], args[a++] = num[1], args[a++] = num[2];
		args[a++] = sp->mode[it[i]], args[a++] = num[3], args[a++] = l->reject ? "r" : "d";
	}
	args[a++] = "", args[a++] = q->f.recipient;
	for (int i = 0; sp->kind[s] == 'l' && i < n; i++)
		args[a++] = q->limits->limit[q->lim[it[i]]].per_recipient ? "r" : "m";
	args[a++] = ttl, args[a++] = "s";
	memcpy(argv, keys, (size_t)nkeys * sizeof(*keys));
	memcpy(argv + nkeys, args, (size_t)a * sizeof(*args));
	if (!pd_breaker_allow(q->srv->breaker, q->cfg, pd_now_ms())) {
		split_refund(q);
		fail(q, "circuit breaker open");
		return;
	}
	clock_gettime(CLOCK_MONOTONIC, &q->r0);
	if (sl_aredis_eval(q->srv->redis, &pd_decide_script, remaining_ms(q), split_cb, q, nkeys,
	                   nkeys + a, argv, NULL) < 0) {
		pd_breaker_result(q->srv->breaker, q->cfg, 0, pd_now_ms());
		split_refund(q);
		fail(q, "cannot send");
	}
}

/* split_refund - give back every limit group charged so far (one call per slot) */
static void
split_refund(pd_query *q)
{
	struct pd_split *sp = q->split;

	for (int s = 0; sp && s < sp->nstep; s++) {
		const char *argv[4 * QUERY_LIMITS];
		int n = 0, a;

		if (sp->kind[s] != 'l')
			continue;
		for (int j = sp->off[s]; j < sp->off[s + 1]; j++)
			if (sp->charged[sp->item[j]])
				argv[n++] = sp->counter[sp->item[j]];
		a = n;
		for (int j = sp->off[s]; n > 0 && j < sp->off[s + 1]; j++) {
			int i = sp->item[j];

			if (!sp->charged[i])
				continue;
			argv[a++] = q->limits->limit[q->lim[i]].kind == PD_LIMIT_RATE ? "r" : "w";
			argv[a++] = sp->num[i][0], argv[a++] = sp->num[i][1];
			sp->charged[i] = 0;
		}
		if (n > 0 && sl_aredis_eval(q->srv->redis, &sl_charge_refund_script, 1000, side_cb,
		                            "giving back a split decision's charges", n, a, argv,
		                            NULL) < 0)
			sl_warn("redis: giving back a split decision's charges: cannot send");
	}
}

/* split_event - one event of step s: applied now, kept, or (refusal) dropped */
static void
split_event(pd_query *q, const char *ev, int refused)
{
	struct pd_split *sp = q->split;
	const int *it = sp->item + sp->off[sp->step];
	int n = sp->off[sp->step + 1] - sp->off[sp->step], i;
	const char *colon = strchr(ev, ':');
	char buf[64];

	if (sp->kind[sp->step] != 'l' || strncmp(ev, "bad:", 4) == 0 || strncmp(ev, "err:", 4) == 0) {
		apply_event(q, ev);
		return;
	}
	if (colon == NULL || (i = atoi(colon + 1)) < 1 || i > n)
		return;
	/* the step's limit i is the query's limit it[i - 1] + 1 */
	snprintf(buf, sizeof(buf), "%.*s:%d%s", (int)(colon - ev), ev, it[i - 1] + 1,
	         strchr(colon + 1, ':') ? strchr(colon + 1, ':') : "");
	if (strncmp(ev, "sr:", 3) == 0) {
		const pd_limit *l = limit_at(q, buf + 3);

		if (l)
			split_stat(q, l, l->reject ? "rejected" : "deferred");
	} else if (!refused && strncmp(ev, "p:", 2) == 0) {
		sp->charged[it[i - 1]] = 1;
		if (sp->nev < SPLIT_EVENTS)
			sp->ev[sp->nev++] = sl_strdup(buf);
	} else if (!refused && sp->nev < SPLIT_EVENTS) {
		sp->ev[sp->nev++] = sl_strdup(buf);
	}
}

/* note_cb - the charge record was written (or not: the charges stand) */
static void
note_cb(const sl_reply *r, const char *err, void *arg)
{
	pd_query *q = arg;

	if (r == NULL || r->type == SL_REPLY_ERROR)
		sl_warn("redis: charge record %s not written (%s): this message's charges cannot be "
		        "refunded", q->charge, r ? r->str : err ? err : "no reply");
	split_free(q);
	q->charged = 1;
	finish(q, permit(q), NULL);
}

/* split_note - every step passed: the charge record, then the answer */
static void
split_note(pd_query *q)
{
	struct pd_split *sp = q->split;
	const char *argv[3 + 2 * QUERY_LIMITS];
	char line[QUERY_LIMITS][2 * KEY_MAX + 64], field[SL_ADDR_MAX + 8], ttl[16];
	int a = 0;

	for (int i = 0; i < sp->nev; i++)
		apply_event(q, sp->ev[i]);
	if (!(q->cfg->refunds && q->charge[0] && q->f.instance && *q->f.instance)) {
		note_cb(&(sl_reply){.type = SL_REPLY_INTEGER}, NULL, q);
		return;
	}
	snprintf(field, sizeof(field), "r:%s", q->f.recipient);
	snprintf(ttl, sizeof(ttl), "%d", SL_CHARGE_TTL_S);
	argv[a++] = q->charge, argv[a++] = q->f.instance, argv[a++] = ttl;
	for (int i = 0; i < q->nlim; i++) {
		const pd_limit *l = &q->limits->limit[q->lim[i]];

		if (!sp->charged[i])
			continue;
		snprintf(line[i], sizeof(line[i]), "%s %s %s %s %s\n",
		         l->kind == PD_LIMIT_RATE ? "r" : "w", sp->num[i][0], sp->num[i][1],
		         sp->stats[i], sp->counter[i]);
		argv[a++] = l->per_recipient ? field : "m";
		argv[a++] = line[i];
	}
	if (a == 3 || sl_aredis_eval(q->srv->redis, &charge_note_script, remaining_ms(q), note_cb, q,
	                             1, a, argv, NULL) < 0)
		note_cb(&(sl_reply){.type = SL_REPLY_INTEGER}, NULL, q);
}

/* split_cb - one step answered: the verdict, the next step, or the end */
static void
split_cb(const sl_reply *r, const char *err, void *arg)
{
	pd_query *q = arg;
	struct pd_split *sp = q->split;
	const char *v0, *last;
	size_t nev;
	int ok = r != NULL && r->type == SL_REPLY_ARRAY && r->elements > 0, i;
	char idx[16];

	for (size_t k = 0; ok && k < r->elements; k++)
		ok = r->element[k]->type == SL_REPLY_STRING;
	pd_metrics_redis(elapsed(&q->r0), ok);
	pd_breaker_result(q->srv->breaker, q->cfg, ok, pd_now_ms());
	if (!ok) {
		if (r != NULL && r->type == SL_REPLY_ERROR)
			pd_redis_error("decision script", r->str);
		split_refund(q);
		split_free(q);
		fail(q, err ? err : r && r->type == SL_REPLY_ERROR ? "error reply" : "bad reply");
		return;
	}
	nev = r->elements;
	v0 = r->element[0]->str, last = r->element[nev - 1]->str;
	if ((strcmp(v0, "tenant") == 0 && nev == 3) || (strcmp(v0, "supp") == 0 && nev == 3)) {
		/* tenant and suppression steps come before any charge */
		if (v0[0] == 's' && (i = atoi(r->element[1]->str)) >= 1 &&
		    i <= sp->off[sp->step + 1] - sp->off[sp->step]) {
			char gi[16];
			sl_reply el = {.type = SL_REPLY_STRING, .str = gi}, *els[3];
			sl_reply fixed = {.type = SL_REPLY_ARRAY, .elements = 3, .element = els};

			snprintf(gi, sizeof(gi), "%d", sp->item[sp->off[sp->step] + i - 1] + 1);
			els[0] = r->element[0], els[1] = &el, els[2] = r->element[2];
			split_free(q);
			answer_verdict(q, &fixed);
			return;
		}
		split_free(q);
		answer_verdict(q, r);
	} else if (strcmp(last, "ok") == 0) {
		for (size_t k = 0; k + 1 < nev; k++)
			split_event(q, r->element[k]->str, 0);
		if (++sp->step < sp->nstep)
			split_send(q);
		else
			split_note(q);
	} else if (nev >= 3 && strcmp(r->element[nev - 3]->str, "limit") == 0 &&
	           (i = atoi(r->element[nev - 2]->str)) >= 1 &&
	           i <= sp->off[sp->step + 1] - sp->off[sp->step]) {
		for (size_t k = 0; k + 3 < nev; k++)
			split_event(q, r->element[k]->str, 1);
		snprintf(idx, sizeof(idx), "%d", sp->item[sp->off[sp->step] + i - 1] + 1);
		split_refund(q);
		split_free(q);
		answer_limit(q, idx, r->element[nev - 1]->str);
	} else {
		split_refund(q);
		split_free(q);
		fail(q, "unexpected answer from the script");
	}
}

/* decide_cb - the script answered, failed or timed out */
static void
decide_cb(const sl_reply *r, const char *err, void *arg)
{
	pd_query *q = arg;
	int	ok = r != NULL && r->type == SL_REPLY_ARRAY && r->elements > 0;

	for (size_t i = 0; ok && i < r->elements; i++)
		ok = r->element[i]->type == SL_REPLY_STRING;
	pd_metrics_redis(elapsed(&q->r0), ok);
	/* An error reply (OOM at maxmemory: the charge was not written) is a failure. */
	pd_breaker_result(q->srv->breaker, q->cfg, ok, pd_now_ms());
	if (!ok) {
		if (r != NULL && r->type == SL_REPLY_ERROR)
			pd_redis_error("decision script", r->str);
		fail(q, err ? err : r && r->type == SL_REPLY_ERROR ? "error reply" : "bad reply");
		return;
	}
	answer_verdict(q, r);
}

/* relay_cb - the tenant's relay policy passed (0), refused (1) or failed (-1) */
static void
relay_cb(void *arg, int rc, const char *text)
{
	pd_query *q = arg;

	if (rc == 0)
		decide(q);
	else if (rc > 0)
		finish(q, text, "relay policy");
	else
		fail(q, text);
}

/* relay_then_decide - relay policies (policyd_relay.c), then the script */
static void
relay_then_decide(pd_query *q)
{
	pd_relay_check(q->srv, q->cfg, q->limits, &q->f, remaining_ms(q), relay_cb, q);
}

/* tenant_cb - the SASL user's entry arrived (or did not) */
static void
tenant_cb(const sl_reply *r, const char *err, void *arg)
{
	pd_query *q = arg;
	int	ok = r != NULL && r->type == SL_REPLY_ARRAY;

	pd_metrics_redis(elapsed(&q->r0), ok);
	pd_breaker_result(q->srv->breaker, q->cfg, ok, pd_now_ms());
	if (!ok) {
		if (r != NULL && r->type == SL_REPLY_ERROR)
			pd_redis_error("HMGET sasl user", r->str);
		fail(q, err ? err : "bad reply to HMGET");
		return;
	}
	pd_tenant_store(q->srv, q->f.sasl_username, r);
	pd_tenant_lookup(q->srv, q->f.sasl_username, q->f.tenant, q->f.category);
	relay_then_decide(q);
}

/* pd_check_start - decide one request; done() is called exactly once */
void
pd_check_start(pd_server *srv, const pd_request *req, int first_rcpt, pd_done_fn *done, void *arg)
{
	pd_query *q = sl_malloc(sizeof(*q));

	memset(q, 0, offsetof(pd_query, scope)); /* 7 KB of scope keys need no zeroing */
	pd_metrics_request();
	clock_gettime(CLOCK_MONOTONIC, &q->t0);
	q->start_ms = pd_now_ms();
	q->srv = srv;
	q->cfg = pd_config_ref(srv->cfg);
	q->limits = pd_limits_ref(srv->limits);
	q->first_rcpt = first_rcpt;
	q->done = done;
	q->arg = arg;
	q->tmode = q->smode = PD_MODE_OFF;
	facts_from_request(&q->f, req);
	if (sl_charge_key(q->cfg->redis.prefix, q->f.client_address,
			  pd_request_str(req, "client_port"), pd_request_str(req, "server_address"),
			  pd_request_str(req, "server_port"), q->charge, sizeof(q->charge)) < 0)
		q->charge[0] = '\0';
	if (strcmp(q->f.protocol_state, "RCPT") != 0) {
		finish(q, "DUNNO", "decided at RCPT only");
		return;
	}
	if (*q->f.sasl_username == '\0'
	    || pd_tenant_lookup(srv, q->f.sasl_username, q->f.tenant, q->f.category)) {
		relay_then_decide(q);
		return;
	}
	if (!pd_breaker_allow(srv->breaker, q->cfg, pd_now_ms())) {
		fail(q, "circuit breaker open");
		return;
	}
	clock_gettime(CLOCK_MONOTONIC, &q->r0);
	if (pd_tenant_fetch(srv, q->f.sasl_username, remaining_ms(q), tenant_cb, q) < 0) {
		pd_breaker_result(srv->breaker, q->cfg, 0, pd_now_ms());
		fail(q, "cannot send");
	}
}
