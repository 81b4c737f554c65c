/*
 * NAME
 *	feedback_effects 3 - what a classified message does in Redis
 * SYNOPSIS
 *	rc = fb_effects_apply(redis, conf, res, origin, id, now);
 *	    0 done (or done already), -1 Redis failed or refused: nothing
 *	    was written, the caller exits 75 so Postfix retries
 *	fault = fb_effects_fault(reason);
 * DESCRIPTION
 *	The Redis side of sluice-feedback: one EVALSHA per message
 *	(feedback_effects_lua.h) applies every effect of it atomically and
 *	at most once. Keys, under the configured prefix, are documented in
 *	doc/feedback.md and doc/redis-keys.md:
 *	  supp:<scope>:{<address>}	suppression entry
 *	  soft:{<address>}		soft bounces, one member per original message
 *	  stats:<day>:<tenant|->:<category|->	counters
 *	  provider:<day>:<orgdomain>	sender-side bounces per provider
 *	  tenant:<name>			automatic pause
 *	  dmarc:<domain>:<day>[:unauth]	DMARC summaries
 *	  fbdone:{<msgid>}:<id>		this message was applied (expires)
 *	  fbseen:{<msgid>}		recipients counted for an original message
 *	  events			stream
 *	Who may move what: only a record that is verified (a genuine token)
 *	and bound (a recipient of the token's message, rcpt->bound) suppresses
 *	anyone or counts towards a tenant's rates and pause; any other record
 *	is counted as "unverified", at most max_unverified_records per
 *	message. A record counts once per original message and recipient,
 *	however many reports name it. Soft bounces count towards the
 *	recipient's threshold only when the reason is the recipient's
 *	(fb_effects_fault()); sender-side ones are counted per tenant,
 *	category and provider and never suppress.
 * IDENTITY
 *	id is the caller's identity of the feedback message (feedback_main.c:
 *	SHA-256 of the recipient argument and the raw bytes); a retry of the
 *	same delivery finds fbdone:{<msgid>}:<id> (msgid: the token's, "-"
 *	without one; the marker shares a slot with fbseen:{<msgid>}) and
 *	changes nothing.
 * ERRORS
 *	Every Redis failure is an error: no connection, a timeout, and any
 *	error reply (OOM, READONLY, NOPERM, WRONGTYPE, ...), logged with the
 *	script and the marker key. The script checks every write before the
 *	first one, so a refusal writes nothing.
 */
#define _GNU_SOURCE 1
#include "config.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "addr.h"
#include "keyspace_supp.h"
#include "log.h"
#include "redis.h"
#include "feedback.h"
#include "feedback_effects_lua.h"

/* A DMARC record's count is clamped to this (a negative one to 0): counters
 * stay far from HINCRBY's overflow and Lua's exact integers (2^53). */
#define FX_DMARC_COUNT_MAX (1LL << 32)

/*
 * Owned argument strings of one EVALSHA, and its key names (lib/keyspace.c)
 * in their own vector: they go first, as KEYS.
 */
typedef struct fx_args {
	char  **v;
	size_t	n, cap;
	struct fx_args *keys;
	const char *prefix;
	int	supp_flags;
	char	day[9];
} fx_args;

/* Who is at fault for a bounce reason (doc/feedback.md, "Who is at fault"). */
static const char *const fx_recipient_side[] = {
	"userunknown", "hostunknown", "hasmoved", "mailboxfull", "exceedlimit", "suspend",
	"filtered", "notaccept", NULL };
static const char *const fx_sender_side[] = {
	"blocked", "badreputation", "spamdetected", "virusdetected", "policyviolation",
	"securityerror", "authfailure", "requireptr", "notcompliantrfc", "contenterror",
	"mesgtoobig", "rejected", "toomanyconn", "speeding", "ratelimited", "failedstarttls",
	"syntaxerror", NULL };

/* fx_in - is s one of list? */
static int
fx_in(const char *s, const char *const *list)
{
	for (; *list; list++)
		if (strcmp(s, *list) == 0)
			return 1;
	return 0;
}

/* fb_effects_fault - FB_FAULT_RECIPIENT, FB_FAULT_SENDER or FB_FAULT_NEUTRAL */
int
fb_effects_fault(const char *reason)
{
	if (fx_in(reason, fx_recipient_side))
		return FB_FAULT_RECIPIENT;
	if (fx_in(reason, fx_sender_side))
		return FB_FAULT_SENDER;
	return FB_FAULT_NEUTRAL;
}

/* fx_add - append a copy of s */
static void
fx_add(fx_args *a, const char *s)
{
	a->v = sl_grow(a->v, a->n, &a->cap, sizeof(*a->v));
	a->v[a->n++] = sl_strdup(s ? s : "");
}

/* fx_addf - append a formatted value */
static void SL_PRINTF(2, 3)
fx_addf(fx_args *a, const char *fmt, ...)
{
	char	buf[1100];
	va_list	ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	fx_add(a, buf);
}

/* fx_free - the strings and the vector */
static void
fx_free(fx_args *a)
{
	for (size_t i = 0; i < a->n; i++)
		free(a->v[i]);
	free(a->v);
}

/* fx_key - append a key name of a kind (its parts as sl_key() takes them); "" if none */
static void
fx_key(fx_args *a, enum sl_key_kind kind, const char *p1, const char *p2, const char *p3)
{
	char	key[SL_KEY_MAX];

	if (sl_key(key, sizeof(key), a->prefix, kind, p1, p2, p3) < 0)
		key[0] = '\0';
	fx_add(a->keys, key);
}

/* fx_scope - "global", "cat:<category>" or "tenant:<tenant>" (lib/keyspace.c) */
static void
fx_scope(const fb_origin *o, int scope, char *out, size_t outlen)
{
	sl_scope s;

	if (scope == FB_SCOPE_CATEGORY && o->category[0]
	    && sl_scope_make(&s, SL_SCOPE_CATEGORY, o->category) == 0)
		;
	else if (scope == FB_SCOPE_TENANT && o->tenant[0]
		 && sl_scope_make(&s, SL_SCOPE_TENANT, o->tenant) == 0)
		;
	else
		sl_scope_make(&s, SL_SCOPE_GLOBAL, NULL);
	if (sl_scope_format(&s, out, outlen) < 0)
		snprintf(out, outlen, "global");
}

/* fx_day - yyyymmdd (UTC) of t */
static void
fx_day(time_t t, char out[9])
{
	sl_key_day((long long) t, out);
}

/* fx_suffix - the provider hash's field of a verified token's tenant and category */
static void
fx_suffix(const fb_origin *o, char *out, size_t outlen)
{
	sl_key_provider_field(out, outlen, o->verified && o->tenant[0] ? o->tenant : "-",
			      o->verified && o->category[0] ? o->category : "-");
}

/* fx_category_configured - is the token's category among the configured ones? */
static int
fx_category_configured(const fb_conf *c, const fb_origin *o)
{
	if (o->category[0] == 0)
		return 1;		/* "-" is always summed */
	for (size_t i = 0; i < c->ncategories; i++)
		if (strcmp(c->categories[i], o->category) == 0)
			return 1;
	return 0;
}

/*
 * fx_rate_keys - the stats hashes summed for the tenant's rates: its
 * configured categories and "-" (and the token's own category when it is
 * not configured) over the pause window, as "<day>:<tenant>:<category>".
 */
static void
fx_rate_keys(fx_args *a, const fb_conf *c, const fb_origin *o, time_t now)
{
	size_t	at = a->n, n = 0;
	char	day[9];

	fx_add(a, "0");			/* the count, set below */
	if (!o->verified || o->tenant[0] == 0 || c->pause_mode == FB_MODE_OFF)
		return;
	for (long d = 0; d < c->pause_window; d++) {
		fx_day(now - d * 86400, day);
		for (size_t i = 0; i <= c->ncategories; i++) {
			const char *cat = i < c->ncategories ? c->categories[i] : "-";

			if (i < c->ncategories && strcmp(cat, "-") == 0)
				continue;
			fx_key(a, SL_KEY_STATS, day, o->tenant, cat);
			n++;
		}
		if (!fx_category_configured(c, o)) {
			fx_key(a, SL_KEY_STATS, day, o->tenant, o->category);
			n++;
		}
	}
	free(a->v[at]);
	a->v[at] = sl_malloc(24);
	snprintf(a->v[at], 24, "%zu", n);
}

/* fx_hard - suppress at once? the classifier's flag, or a reason listed in hard_reasons */
static int
fx_hard(const fb_conf *c, const fb_rcpt *rc)
{
	if (fb_effects_fault(rc->reason) == FB_FAULT_SENDER)
		return 0;		/* never the recipient's fault */
	if (rc->hard)
		return 1;
	for (size_t i = 0; i < c->nhard_reasons; i++)
		if (strcmp(c->hard_reasons[i], rc->reason) == 0)
			return 1;
	return 0;
}

/* fx_bounce_class - the script's class of one bounce record (see feedback_effects_lua.h) */
static char
fx_bounce_class(const fb_conf *c, const fb_rcpt *rc, const char **event)
{
	if (strcmp(rc->reason, "delivered") == 0) {
		*event = "delivered";
		return 'E';
	}
	if (strcmp(rc->action, "delayed") == 0 || strcmp(rc->action, "relayed") == 0
	    || strcmp(rc->action, "expanded") == 0) {
		*event = "delayed";
		return 'E';
	}
	if (fx_hard(c, rc))
		return 'H';
	switch (fb_effects_fault(rc->reason)) {
	case FB_FAULT_RECIPIENT:
		return 'R';
	case FB_FAULT_SENDER:
		return 'S';
	default:
		return 'N';
	}
}

/* fx_provider - the organizational domain of an address's domain */
static void
fx_provider(const char *addr, char *out, size_t outlen)
{
	const char *d = sl_addr_domain(addr);

	if (d == NULL || *d == 0)
		snprintf(out, outlen, "-");
	else if (sl_orgdomain(d, out, outlen) < 0)
		snprintf(out, outlen, "%s", d);
}

/*
 * fx_record - the 8 values of one record, and its 3 keys: the suppression
 * entry (of the canonical address), the soft-bounce set, the provider hash
 */
static void
fx_record(fx_args *a, char cls, int bound, const char *addr, const char *reason,
	  const char *detail, const char *scope, long ttl)
{
	char	prov[256] = "", canon[SL_ADDR_MAX + 1], key[SL_KEY_MAX] = "";
	sl_scope sc;

	if (cls == 'S')
		fx_provider(addr, prov, sizeof(prov));
	if (strchr("HRCU", cls) && sl_scope_parse(scope, &sc) == 0
	    && sl_supp_canon(addr, a->supp_flags, canon, sizeof(canon)) == 0
	    && sl_supp_key(key, sizeof(key), a->prefix, &sc, canon) < 0)
		key[0] = '\0';
	fx_add(a->keys, key);
	fx_key(a, SL_KEY_SOFT, strchr("HRCU", cls) ? addr : NULL, NULL, NULL);
	fx_key(a, SL_KEY_PROVIDER, a->day, cls == 'S' ? prov : NULL, NULL);
	fx_addf(a, "%c", cls);
	fx_add(a, bound ? "1" : "0");
	fx_add(a, addr);
	fx_add(a, reason);
	fx_add(a, detail);
	fx_add(a, prov);
	fx_add(a, scope);
	fx_addf(a, "%ld", ttl);
}

/* fx_norm - the address as suppression keys spell it (lowercase); -1 if none */
static int
fx_norm(const char *in, char *out, size_t outlen)
{
	if (in == NULL || *in == 0)
		return -1;
	return sl_addr_normalize(in, out, outlen, SL_ADDR_LOWER_LOCAL);
}

/* fx_bounces - every recipient record of a bounce */
static void
fx_bounces(fx_args *a, const fb_conf *c, const fb_result *res, const fb_origin *o)
{
	char	scope[64], addr[SL_ADDR_MAX + 1];

	fx_scope(o, c->hard_scope, scope, sizeof(scope));
	fx_addf(a, "%zu", res->nrcpt);
	for (size_t i = 0; i < res->nrcpt; i++) {
		const fb_rcpt *rc = &res->rcpt[i];
		const char *event = "";
		char	cls = fx_bounce_class(c, rc, &event);
		int	norm = fx_norm(rc->addr, addr, sizeof(addr));

		if (norm < 0 && cls != 'E')
			fx_record(a, 'X', 0, rc->addr, rc->reason, rc->diag, "", 0);
		else if (cls == 'E')
			fx_record(a, 'E', 0, norm < 0 ? rc->addr : addr, rc->reason, rc->diag, event,
				  0);
		else
			fx_record(a, cls, rc->bound, addr, rc->reason, rc->diag, scope,
				  cls == 'H' ? c->hard_ttl : c->soft_ttl);
	}
}

/* fx_single - a complaint or an unsubscribe: one record, category scope */
static void
fx_single(fx_args *a, const fb_conf *c, const fb_result *res, const fb_origin *o)
{
	const fb_rcpt *rc = res->nrcpt ? &res->rcpt[0] : NULL;
	int	complaint = res->kind == FB_KIND_COMPLAINT;
	char	scope[64], addr[SL_ADDR_MAX + 1];

	fx_scope(o, FB_SCOPE_CATEGORY, scope, sizeof(scope));
	fx_add(a, "1");
	if (rc == NULL || fx_norm(rc->addr, addr, sizeof(addr)) < 0)
		fx_record(a, 'X', 0, rc ? rc->addr : "", complaint ? res->arf.feedback_type : "",
			  "", "", 0);
	else if (complaint)
		fx_record(a, 'C', rc->bound, addr, res->arf.feedback_type, res->arf.feedback_type,
			  scope, c->complaint_ttl);
	else
		fx_record(a, 'U', rc->bound, addr, "", "mailto", scope, c->unsub_ttl);
}

/* fx_events_only - unknown and auto-reply messages: one event */
static void
fx_events_only(fx_args *a, const fb_result *res)
{
	int	unknown = res->kind == FB_KIND_UNKNOWN;

	fx_add(a, "1");
	fx_record(a, 'E', 0, !unknown && res->nrcpt ? res->rcpt[0].addr : "",
		  unknown ? res->why : "vacation", "", unknown ? "unknown" : "autoreply", 0);
}

/* fx_dmarc - the report's summary values after an empty record list */
static void
fx_dmarc(fx_args *a, const fb_dmarc *d, time_t now)
{
	char	day[9];

	fx_add(a, "0");
	fx_day(d->begin > 0 ? (time_t) d->begin : now, day);
	fx_key(a, SL_KEY_DMARC, d->domain[0] ? d->domain : "-", day, NULL);
	fx_key(a, SL_KEY_DMARC_UNAUTH, d->domain[0] ? d->domain : "-", day, NULL);
	fx_add(a, d->domain[0] ? d->domain : "-");
	fx_add(a, day);
	fx_add(a, d->org_name);
	fx_add(a, d->report_id);
	fx_addf(a, "%zu", d->nrec);
	for (size_t i = 0; i < d->nrec; i++) {
		const fb_dmarc_rec *r = &d->rec[i];
		long long n = r->count < 0 ? 0 : r->count;

		if (n > FX_DMARC_COUNT_MAX) {	/* no reporter sees that many from one IP */
			sl_warn("DMARC report %s: count %lld for %s taken as %lld", d->report_id, n,
				r->source_ip, FX_DMARC_COUNT_MAX);
			n = FX_DMARC_COUNT_MAX;
		}
		fx_add(a, r->source_ip);
		fx_addf(a, "%lld", n);
		fx_add(a, strcmp(r->dkim, "pass") == 0 || strcmp(r->spf, "pass") == 0 ? "1" : "0");
	}
}

/* fx_head - ARGV 1 to 21 (feedback_effects_lua.h) */
static void
fx_head(fx_args *a, sl_redis *r, const fb_conf *c, const fb_result *res, const fb_origin *o,
	const char *id, time_t now)
{
	static const char modes[] = {'e', 'm', 'o'};
	char	day[9], sfx[64];

	fx_day(now, day);
	fx_day(now, a->day);
	a->prefix = sl_redis_prefix(r);
	a->supp_flags = c->supp_flags;
	fx_suffix(o, sfx, sizeof(sfx));
	fx_key(a, SL_KEY_FBDONE, o->msgid[0] ? o->msgid : "-", id, NULL);
	fx_key(a, SL_KEY_STATS, day, o->verified && o->tenant[0] ? o->tenant : "-",
	       o->verified && o->category[0] ? o->category : "-");
	fx_key(a, SL_KEY_EVENTS, NULL, NULL, NULL);
	fx_key(a, SL_KEY_FBSEEN, o->msgid[0] ? o->msgid : "-", NULL, NULL);
	fx_key(a, SL_KEY_TENANT, o->tenant[0] ? o->tenant : "-", NULL, NULL);
	fx_add(a, "");			/* was the key prefix: keys come as KEYS now */
	fx_add(a, id);
	fx_addf(a, "%lld", (long long) now);
	fx_add(a, day);
	fx_add(a, fb_kind_name(res->kind));
	fx_add(a, o->verified ? "verified" : o->why);
	fx_add(a, o->tenant);
	fx_add(a, o->category);
	fx_add(a, o->msgid);
	fx_add(a, sfx);
	fx_addf(a, "%ld", c->soft_threshold);
	fx_addf(a, "%ld", c->soft_window);
	fx_addf(a, "%c", modes[c->pause_mode]);
	fx_addf(a, "%.17g", c->pause_bounce_rate);
	fx_addf(a, "%.17g", c->pause_complaint_rate);
	fx_addf(a, "%ld", c->pause_min_sent);
	fx_addf(a, "%ld", c->events_maxlen);
	fx_addf(a, "%ld", c->dedup_ttl);
	fx_addf(a, "%ld", c->max_unverified);
	fx_addf(a, "%ld", c->seen_ttl > FB_SEEN_TTL ? c->seen_ttl : (long) FB_SEEN_TTL);
	fx_addf(a, "%ld", c->pause_window);
}

/* fx_build - every argument of the script for one result */
static void
fx_build(fx_args *a, sl_redis *r, const fb_conf *c, const fb_result *res, const fb_origin *o,
	 const char *id, time_t now)
{
	fx_head(a, r, c, res, o, id, now);
	fx_rate_keys(a, c, o, now);
	switch (res->kind) {
	case FB_KIND_BOUNCE:
		fx_bounces(a, c, res, o);
		break;
	case FB_KIND_COMPLAINT:
	case FB_KIND_UNSUBSCRIBE:
		fx_single(a, c, res, o);
		break;
	case FB_KIND_DMARC:
		if (res->dmarc != NULL) {
			fx_dmarc(a, res->dmarc, now);
			break;
		}
		/* FALLTHROUGH */
	default:
		fx_events_only(a, res);
		break;
	}
}

/* fx_outcome - log the script's answer; 0 when it says ok or dup */
static int
fx_outcome(const sl_reply *rep, const char *marker)
{
	if (rep == NULL || rep->type == SL_REPLY_ERROR) {
		sl_warn("redis EVALSHA feedback script (%s): %s", marker,
			rep ? rep->str : "no reply");
		return -1;
	}
	if (rep->type != SL_REPLY_ARRAY || rep->elements < 1
	    || rep->element[0]->type != SL_REPLY_STRING) {
		sl_warn("redis EVALSHA feedback script (%s): unexpected reply", marker);
		return -1;
	}
	if (strcmp(rep->element[0]->str, "dup") == 0) {
		sl_info("%s: applied before, nothing changed", marker);
		return 0;
	}
	if (rep->elements == 4 && rep->element[3]->type == SL_REPLY_STRING && rep->element[3]->len)
		sl_warn("tenant pause: %s", rep->element[3]->str);
	if (rep->elements == 4 && rep->element[2]->type == SL_REPLY_STRING
	    && strcmp(rep->element[2]->str, "0") != 0)
		sl_info("%s: %s record(s) unverified, suppressing nobody", marker,
			rep->element[2]->str);
	return 0;
}

/* fb_effects_apply - record one result atomically, at most once; -1 when Redis failed */
int
fb_effects_apply(sl_redis *r, const fb_conf *c, const fb_result *res, const fb_origin *o,
		 const char *id, long long when)
{
	fx_args	keys = {0}, a = {.keys = &keys};
	sl_reply *rep = NULL;
	char	marker[SL_KEY_MAX];
	int	rc;

	if (sl_key(marker, sizeof(marker), sl_redis_prefix(r), SL_KEY_FBDONE,
		   o->msgid[0] ? o->msgid : "-", id) < 0)
		snprintf(marker, sizeof(marker), "%s", id);
	fx_build(&a, r, c, res, o, id, (time_t) when);
	for (size_t i = 0; i < a.n; i++)	/* KEYS, then ARGV */
		fx_add(&keys, a.v[i]);
	if (sl_redis_eval(r, &fx_script, &rep, (int) (keys.n - a.n), (int) keys.n,
			  (const char **) keys.v, NULL) < 0) {
		sl_warn("redis EVALSHA feedback script (%s): %s", marker, sl_redis_errstr(r));
		rc = -1;
	} else
		rc = fx_outcome(rep, marker);
	sl_reply_free(rep);
	fx_free(&a);
	fx_free(&keys);
	return rc;
}
