/*
 * NAME
 *	feedback_effects 3 - what a classified message does in Redis
 * SYNOPSIS
 *	rc = fb_effects_apply(redis, conf, res, origin, now);
 *	    0 done, -1 Redis failed (the caller exits 75 so Postfix retries)
 * DESCRIPTION
 *	The only file of sluice-feedback that talks to Redis (through the
 *	sync client of lib/redis.h). Keys, all under the configured prefix
 *	(default "sluice:"), are documented in doc/feedback.md:
 *	  supp:<scope>:<address>	hash reason source added [expires] detail
 *	  soft:<address>		sorted set of soft bounces (score: time)
 *	  stats:<yyyymmdd>:<tenant|->:<category|->  hash sent hard soft complaint unsub
 *	  tenant:<name>			hash status status_reason status_changed
 *	  dmarc:<domain>:<yyyymmdd>	hash reports messages pass fail src:<ip>:pass|fail
 *	  dmarc:<domain>:<yyyymmdd>:unauth  set of sources failing SPF and DKIM
 *	  events			stream, XADD MAXLEN ~ events_maxlen
 *	Only a verified token (origin->verified) lets a bounce, complaint or
 *	unsubscribe suppress anyone or count against a tenant; anything
 *	else becomes an "unverified" event. DMARC reports need no token.
 * ERRORS
 *	Commands are not wrapped in a transaction: a failure half-way
 *	returns -1, Postfix retries the whole message, and counters written
 *	before the failure may be counted twice. Suppression entries are
 *	idempotent (HSET).
 */
#define _GNU_SOURCE 1
#include "config.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "addr.h"
#include "log.h"
#include "redis.h"
#include "feedback.h"

#define FX_ARGS 32

/* One run of effects. */
typedef struct fx {
	sl_redis *r;
	const fb_conf *c;
	const fb_origin *o;
	time_t	now;
	char	day[9];			/* yyyymmdd, UTC */
	int	failed;
} fx;

/* fx_cmd - run one command given as NULL-terminated strings; -1 on failure */
static int
fx_cmd(fx *x, sl_reply **reply, ...)
{
	const char *argv[FX_ARGS];
	va_list	ap;
	int	argc = 0;
	sl_reply *rep = NULL;

	va_start(ap, reply);
	while (argc < FX_ARGS && (argv[argc] = va_arg(ap, const char *)) != NULL)
		argc++;
	va_end(ap);
	if (x->failed)
		return -1;
	if (sl_redis_cmdv(x->r, &rep, argc, argv, NULL) < 0) {
		sl_warn("redis %s: %s", argv[0], sl_redis_errstr(x->r));
		x->failed = 1;
		return -1;
	}
	if (rep != NULL && rep->type == SL_REPLY_ERROR)
		sl_warn("redis %s: %s", argv[0], rep->str);
	if (reply != NULL)
		*reply = rep;
	else
		sl_reply_free(rep);
	return 0;
}

/* fx_key - prefix + formatted name */
static void SL_PRINTF(4, 5)
fx_key(fx *x, char *out, size_t outlen, const char *fmt, ...)
{
	char	rest[1024];
	va_list	ap;
	size_t	n;

	va_start(ap, fmt);
	vsnprintf(rest, sizeof(rest), fmt, ap);
	va_end(ap);
	fb_strlcpy(out, sl_redis_prefix(x->r), outlen);
	n = strlen(out);
	fb_strlcpy(out + n, rest, outlen - n);
}

/* fx_norm - the address as suppression keys spell it (lowercase) */
static int
fx_norm(const char *in, char *out, size_t outlen)
{
	if (in == NULL || *in == 0)
		return -1;
	return sl_addr_normalize(in, out, outlen, SL_ADDR_LOWER_LOCAL);
}

/* fx_event - append one event to the stream */
static void
fx_event(fx *x, const char *type, const char *kind, const char *rcpt,
	 const char *reason, const char *detail)
{
	char	key[256], maxlen[24];
	const fb_origin *o = x->o;

	fx_key(x, key, sizeof(key), "events");
	snprintf(maxlen, sizeof(maxlen), "%ld", x->c->events_maxlen);
	fx_cmd(x, NULL, "XADD", key, "MAXLEN", "~", maxlen, "*", "type", type,
	       "kind", kind, "recipient", rcpt ? rcpt : "", "reason", reason ? reason : "",
	       "category", o->verified ? o->category : "", "tenant", o->verified ? o->tenant : "",
	       "msgid", o->verified ? o->msgid : "", "detail", detail ? detail : "",
	       "token", o->verified ? "verified" : o->why, (const char *) NULL);
}

/* fx_scope - "global", "cat:<category>" or "tenant:<tenant>" */
static void
fx_scope(fx *x, int scope, char *out, size_t outlen)
{
	if (scope == FB_SCOPE_CATEGORY && x->o->category[0])
		snprintf(out, outlen, "cat:%s", x->o->category);
	else if (scope == FB_SCOPE_TENANT && x->o->tenant[0])
		snprintf(out, outlen, "tenant:%s", x->o->tenant);
	else
		snprintf(out, outlen, "global");
}

/*
 * fx_suppress - write one suppression entry. reason is one of the keyspace's
 * reasons (hard-bounce, soft-bounce-threshold, complaint, unsubscribe);
 * bclass, when not NULL, is the bounce classifier's finer reason
 * (userunknown, mailboxfull, ...), stored as field bounce_reason.
 */
static void
fx_suppress(fx *x, int scope, const char *addr, const char *reason,
	    const char *bclass, const char *source, long ttl, const char *detail)
{
	char	key[512], sc[64], added[24], expires[24], ttls[24];

	fx_scope(x, scope, sc, sizeof(sc));
	fx_key(x, key, sizeof(key), "supp:%s:%s", sc, addr);
	snprintf(added, sizeof(added), "%lld", (long long) x->now);
	fx_cmd(x, NULL, "HSET", key, "reason", reason, "source", source, "added", added,
	       "detail", detail ? detail : "", (const char *) NULL);
	if (bclass != NULL)
		fx_cmd(x, NULL, "HSET", key, "bounce_reason", bclass, (const char *) NULL);
	if (ttl > 0) {
		snprintf(expires, sizeof(expires), "%lld", (long long) x->now + ttl);
		snprintf(ttls, sizeof(ttls), "%ld", ttl);
		fx_cmd(x, NULL, "HSET", key, "expires", expires, (const char *) NULL);
		fx_cmd(x, NULL, "EXPIRE", key, ttls, (const char *) NULL);
	} else {
		fx_cmd(x, NULL, "HDEL", key, "expires", (const char *) NULL);
		fx_cmd(x, NULL, "PERSIST", key, (const char *) NULL);
	}
	fx_event(x, "suppressed", source, addr, reason, sc);
}

/* fx_stats_key - the counters hash of a day for the token's tenant/category */
static void
fx_stats_key(fx *x, const char *day, char *out, size_t outlen)
{
	fx_key(x, out, outlen, "stats:%s:%s:%s", day,
	       x->o->tenant[0] ? x->o->tenant : "-", x->o->category[0] ? x->o->category : "-");
}

/* fx_count - add one to a counter of today */
static void
fx_count(fx *x, const char *field)
{
	char	key[512];

	fx_stats_key(x, x->day, key, sizeof(key));
	fx_cmd(x, NULL, "HINCRBY", key, field, "1", (const char *) NULL);
}

/* fx_category_configured - is the token's category among the configured ones? */
static int
fx_category_configured(const fx *x)
{
	size_t	c;

	if (x->o->category[0] == 0)
		return 1;		/* "-" is always summed */
	for (c = 0; c < x->c->ncategories; c++)
		if (strcmp(x->c->categories[c], x->o->category) == 0)
			return 1;
	return 0;
}

/* fx_pause - pause the tenant (or only say so in monitor mode) */
static void
fx_pause(fx *x, const char *why)
{
	char	key[256], now[24];
	sl_reply *rep = NULL;
	int	active = 1;

	fx_key(x, key, sizeof(key), "tenant:%s", x->o->tenant);
	if (x->c->pause_mode == FB_MODE_MONITOR) {
		fx_event(x, "would-pause", "tenant", "", why, x->o->tenant);
		return;
	}
	if (fx_cmd(x, &rep, "HGET", key, "status", (const char *) NULL) == 0 && rep != NULL
	    && rep->type == SL_REPLY_STRING && strcmp(rep->str, "active") != 0)
		active = 0;		/* already paused or suspended: leave it */
	sl_reply_free(rep);
	if (!active || x->failed)
		return;
	snprintf(now, sizeof(now), "%lld", (long long) x->now);
	fx_cmd(x, NULL, "HSET", key, "status", "paused", "status_reason", why,
	       "status_changed", now, (const char *) NULL);
	fx_event(x, "tenant-paused", "tenant", "", why, x->o->tenant);
	sl_warn("tenant %s paused: %s", x->o->tenant, why);
}

/* fx_day_counts - add one stats hash's sent, bounces and complaints */
static void
fx_day_counts(fx *x, const char *key, long long *sent, long long *bounced, long long *complained)
{
	sl_reply *rep = NULL;

	if (fx_cmd(x, &rep, "HMGET", key, "sent", "hard", "soft", "complaint",
		   (const char *) NULL) == 0 && rep != NULL && rep->type == SL_REPLY_ARRAY
	    && rep->elements == 4) {
		long long v[4] = { 0 };
		size_t	i;

		for (i = 0; i < 4; i++)
			if (rep->element[i]->type == SL_REPLY_STRING)
				v[i] = strtoll(rep->element[i]->str, NULL, 10);
		*sent += v[0];
		*bounced += v[1] + v[2];
		*complained += v[3];
	}
	sl_reply_free(rep);
}

/*
 * fx_check_rates - automatic tenant pause on bounce or complaint rate,
 * summed over the tenant's configured categories (and "-", none) and the
 * days of the window.
 */
static void
fx_check_rates(fx *x)
{
	long long sent = 0, bounced = 0, complained = 0;
	char	key[512], day[9], why[256];
	long	d;
	size_t	c;

	if (x->c->pause_mode == FB_MODE_OFF || x->o->tenant[0] == 0)
		return;
	for (d = 0; d < x->c->pause_window && !x->failed; d++) {
		time_t	t = x->now - d * 86400;
		struct tm tm;

		gmtime_r(&t, &tm);
		strftime(day, sizeof(day), "%Y%m%d", &tm);
		for (c = 0; c <= x->c->ncategories && !x->failed; c++) {
			const char *cat = c < x->c->ncategories ? x->c->categories[c] : "-";

			if (c < x->c->ncategories && strcmp(cat, "-") == 0)
				continue;
			fx_key(x, key, sizeof(key), "stats:%s:%s:%s", day, x->o->tenant, cat);
			fx_day_counts(x, key, &sent, &bounced, &complained);
		}
		if (!fx_category_configured(x)) {
			fx_stats_key(x, day, key, sizeof(key));
			fx_day_counts(x, key, &sent, &bounced, &complained);
		}
	}
	if (x->failed || sent < x->c->pause_min_sent || sent <= 0)
		return;
	if (100.0 * bounced / sent >= x->c->pause_bounce_rate) {
		snprintf(why, sizeof(why), "bounce rate %.2f%% (%lld of %lld) over %ld day(s)",
			 100.0 * bounced / sent, bounced, sent, x->c->pause_window);
		fx_pause(x, why);
	} else if (100.0 * complained / sent >= x->c->pause_complaint_rate) {
		snprintf(why, sizeof(why), "complaint rate %.3f%% (%lld of %lld) over %ld day(s)",
			 100.0 * complained / sent, complained, sent, x->c->pause_window);
		fx_pause(x, why);
	}
}

/* fx_soft - count a soft bounce; suppress over the threshold */
static void
fx_soft(fx *x, const char *addr, const fb_rcpt *rc)
{
	char	key[512], now[24], member[64], lo[24], win[24];
	sl_reply *rep = NULL;
	long long n = 0;

	fx_key(x, key, sizeof(key), "soft:%s", addr);
	snprintf(now, sizeof(now), "%lld", (long long) x->now);
	snprintf(member, sizeof(member), "%lld:%s:%ld", (long long) x->now, x->o->msgid, random());
	snprintf(lo, sizeof(lo), "%lld", (long long) (x->now - x->c->soft_window));
	snprintf(win, sizeof(win), "%ld", x->c->soft_window);
	fx_cmd(x, NULL, "ZADD", key, now, member, (const char *) NULL);
	fx_cmd(x, NULL, "ZREMRANGEBYSCORE", key, "-inf", lo, (const char *) NULL);
	fx_cmd(x, NULL, "EXPIRE", key, win, (const char *) NULL);
	if (fx_cmd(x, &rep, "ZCARD", key, (const char *) NULL) == 0 && rep != NULL
	    && rep->type == SL_REPLY_INTEGER)
		n = rep->integer;
	sl_reply_free(rep);
	fx_count(x, "soft");
	fx_event(x, "soft-bounce", "bounce", addr, rc->reason, rc->diag);
	if (n >= x->c->soft_threshold)
		fx_suppress(x, x->c->hard_scope, addr, "soft-bounce-threshold", rc->reason, "bounce",
			    x->c->soft_ttl, rc->diag);
}

/* fx_hard - suppress at once? the classifier's flag, or a reason listed in hard_reasons */
static int
fx_hard(const fb_conf *c, const fb_rcpt *rc)
{
	size_t	i;

	if (rc->hard)
		return 1;
	for (i = 0; i < c->nhard_reasons; i++)
		if (strcmp(c->hard_reasons[i], rc->reason) == 0)
			return 1;
	return 0;
}

/* fx_bounce - one recipient record of a bounce */
static void
fx_bounce(fx *x, const fb_rcpt *rc)
{
	char	addr[SL_ADDR_MAX + 1];

	if (fx_norm(rc->addr, addr, sizeof(addr)) < 0) {
		fx_event(x, "bounce-no-recipient", "bounce", rc->addr, rc->reason, rc->diag);
		return;
	}
	if (strcmp(rc->reason, "delivered") == 0 || strcmp(rc->action, "delayed") == 0
	    || strcmp(rc->action, "relayed") == 0 || strcmp(rc->action, "expanded") == 0) {
		fx_event(x, strcmp(rc->reason, "delivered") == 0 ? "delivered" : "delayed",
			 "bounce", addr, rc->reason, rc->diag);
		return;
	}
	if (fx_hard(x->c, rc)) {
		fx_count(x, "hard");
		fx_suppress(x, x->c->hard_scope, addr, "hard-bounce", rc->reason, "bounce",
			    x->c->hard_ttl, rc->diag);
	} else
		fx_soft(x, addr, rc);
}

/* fx_complaint - an ARF complaint: category scope */
static void
fx_complaint(fx *x, const fb_result *res)
{
	char	addr[SL_ADDR_MAX + 1];
	const char *rcpt = res->nrcpt ? res->rcpt[0].addr : "";

	fx_count(x, "complaint");
	if (fx_norm(rcpt, addr, sizeof(addr)) < 0) {
		fx_event(x, "complaint-no-recipient", "complaint", "", res->arf.feedback_type, "");
		return;
	}
	fx_suppress(x, FB_SCOPE_CATEGORY, addr, "complaint", NULL, "complaint", x->c->complaint_ttl,
		    res->arf.feedback_type);
}

/* fx_unsubscribe - a mailto unsubscribe: category scope */
static void
fx_unsubscribe(fx *x, const fb_result *res)
{
	char	addr[SL_ADDR_MAX + 1];
	const char *rcpt = res->nrcpt ? res->rcpt[0].addr : "";

	if (fx_norm(rcpt, addr, sizeof(addr)) < 0) {
		fx_event(x, "unsubscribe-no-sender", "unsubscribe", "", "", "");
		return;
	}
	fx_count(x, "unsub");
	fx_suppress(x, FB_SCOPE_CATEGORY, addr, "unsubscribe", NULL, "unsubscribe", x->c->unsub_ttl,
		    "mailto");
}

/* fx_dmarc - per-domain, per-day summary of an aggregate report */
static void
fx_dmarc(fx *x, const fb_dmarc *d)
{
	char	key[512], ukey[560], day[9], f[128], cnt[24];
	time_t	t = d->begin > 0 ? (time_t) d->begin : x->now;
	struct tm tm;
	size_t	i;

	gmtime_r(&t, &tm);
	strftime(day, sizeof(day), "%Y%m%d", &tm);
	fx_key(x, key, sizeof(key), "dmarc:%s:%s", d->domain[0] ? d->domain : "-", day);
	snprintf(ukey, sizeof(ukey), "%s:unauth", key);
	fx_cmd(x, NULL, "HINCRBY", key, "reports", "1", (const char *) NULL);
	for (i = 0; i < d->nrec && !x->failed; i++) {
		const fb_dmarc_rec *r = &d->rec[i];
		int	pass = strcmp(r->dkim, "pass") == 0 || strcmp(r->spf, "pass") == 0;

		snprintf(cnt, sizeof(cnt), "%lld", r->count);
		snprintf(f, sizeof(f), "src:%s:%s", r->source_ip, pass ? "pass" : "fail");
		fx_cmd(x, NULL, "HINCRBY", key, "messages", cnt, (const char *) NULL);
		fx_cmd(x, NULL, "HINCRBY", key, pass ? "pass" : "fail", cnt, (const char *) NULL);
		fx_cmd(x, NULL, "HINCRBY", key, f, cnt, (const char *) NULL);
		if (!pass)
			fx_cmd(x, NULL, "SADD", ukey, r->source_ip, (const char *) NULL);
	}
	fx_event(x, "dmarc-report", "dmarc-aggregate", "", d->org_name, d->report_id);
}

/* fx_unbound - a record naming someone the token's message did not go to (feedback_verify.c) */
static int
fx_unbound(fx *x, const fb_result *res, const fb_rcpt *rc)
{
	if (rc == NULL || rc->bound)
		return 0;
	fx_event(x, "unverified", fb_kind_name(res->kind), rc->addr, rc->reason,
		 "not a recipient of the token's message");
	return 1;
}

/* fx_verified - the effects that need a verified token */
static void
fx_verified(fx *x, const fb_result *res)
{
	size_t	i;

	switch (res->kind) {
	case FB_KIND_BOUNCE:
		for (i = 0; i < res->nrcpt && !x->failed; i++)
			if (!fx_unbound(x, res, &res->rcpt[i]))
				fx_bounce(x, &res->rcpt[i]);
		break;
	case FB_KIND_COMPLAINT:
		if (!fx_unbound(x, res, res->nrcpt ? &res->rcpt[0] : NULL))
			fx_complaint(x, res);
		break;
	case FB_KIND_UNSUBSCRIBE:
		if (!fx_unbound(x, res, res->nrcpt ? &res->rcpt[0] : NULL))
			fx_unsubscribe(x, res);
		break;
	default:
		break;
	}
	fx_check_rates(x);
}

/* fb_effects_apply - record one result; -1 when Redis failed */
int
fb_effects_apply(sl_redis *r, const fb_conf *c, const fb_result *res,
		 const fb_origin *o, long long when)
{
	time_t	now = (time_t) when;
	fx	x = { .r = r, .c = c, .o = o, .now = now };
	struct tm tm;
	const char *kind = fb_kind_name(res->kind);

	gmtime_r(&now, &tm);
	strftime(x.day, sizeof(x.day), "%Y%m%d", &tm);
	if (fx_cmd(&x, NULL, "PING", (const char *) NULL) < 0)
		return -1;
	if (res->kind == FB_KIND_DMARC && res->dmarc != NULL)
		fx_dmarc(&x, res->dmarc);
	else if (res->kind == FB_KIND_UNKNOWN)
		fx_event(&x, "unknown", kind, "", res->why, "");
	else if (res->kind == FB_KIND_AUTOREPLY)
		fx_event(&x, "autoreply", kind, res->nrcpt ? res->rcpt[0].addr : "", "vacation", "");
	else if (!o->verified)
		fx_event(&x, "unverified", kind, res->nrcpt ? res->rcpt[0].addr : "",
			 res->nrcpt ? res->rcpt[0].reason : "", o->why);
	else
		fx_verified(&x, res);
	return x.failed ? -1 : 0;
}
