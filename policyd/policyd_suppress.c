/*
 * NAME
 *	policyd_suppress 3 - suppression scopes of a recipient, and additions
 * SYNOPSIS
 *	#include "policyd.h"
 *
 *	int pd_suppress_scopes(const pd_config *cfg, const pd_facts *f,
 *			       pd_scope *scopes)
 *	void pd_suppress_answer(const pd_scope *scope, const char *rcpt,
 *				const char *reason, char *out, size_t outlen)
 *	int pd_suppress_add(pd_server *srv, const char *scope,
 *			    const char *rcpt, const char *reason, ...)
 * DESCRIPTION
 *	A suppression entry is the hash sluice:supp:<scope>:<address> with
 *	the fields reason, source, added, expires and detail; scope is
 *	"global", "cat:<category>" or "tenant:<tenant>". The address is the
 *	normalised recipient. Writers differ in how much they normalise
 *	(sluicectl keeps the local part as written, sluice-feedback lowercases
 *	it), so every form is looked up: as written with the domain
 *	lowercased, with the local part lowercased (lowercase_local_part,
 *	default yes), and without a +tag (strip_tag, default yes).
 *
 *	At RCPT the scopes that apply are global, the tenant of the SASL
 *	user and the category known for that user (the message's final
 *	category is decided later by the milter); another tenant's scope is
 *	never consulted, so its data never shows in an answer.
 *
 *	pd_suppress_add() records an entry once (idempotent: an existing
 *	entry keeps its first reason and time) and counts the unsubscribe in
 *	the day's stats hash when it was new.
 */
#include "config.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#include "log.h"
#include "policyd.h"
#include "suppress.h"

/* KEYS[1] entry, KEYS[2] stats hash; ARGV: reason source added detail */
static sl_script add_script = {.source =
	"if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end\n"
	"redis.call('HSET', KEYS[1], 'reason', ARGV[1], 'source', ARGV[2],\n"
	"           'added', ARGV[3], 'detail', ARGV[4])\n"
	"redis.call('HINCRBY', KEYS[2], 'unsub', 1)\n"
	"return 1\n"
};

/* scope_key - sluice:supp:<scope>:<address> */
static int
scope_key(char *out, size_t outlen, const char *prefix, const char *scope, const char *rcpt)
{
	int	n = snprintf(out, outlen, "%ssupp:%s:%s", prefix, scope, rcpt);

	return n < 0 || (size_t) n >= outlen ? -1 : 0;
}

/* address_variants - the stored forms a recipient may have (lib/addr.c); returns count */
static int
address_variants(const pd_config *cfg, const char *rcpt, char out[4][SL_ADDR_MAX + 1])
{
	return sl_addr_forms(rcpt, (cfg->strip_tag ? SL_ADDR_STRIP_TAG : 0)
			     | (cfg->lower_local ? SL_ADDR_LOWER_LOCAL : 0), out);
}

/*
 * pd_suppress_scopes - the keys to look up for one recipient: each scope
 * that applies, times each form the address may be stored in (as
 * written with the domain lowercased; lowercased; without +tag).
 */
int
pd_suppress_scopes(const pd_config *cfg, const pd_facts *f, pd_scope *scopes)
{
	char	addr[4][SL_ADDR_MAX + 1], scope[3][64];
	const char *kind[3] = {"global", "category", "tenant"};
	int	discard[3] = {cfg->discard_global, cfg->discard_category, cfg->discard_tenant};
	int	n = 0, na;

	if (*f->recipient == '\0' || (na = address_variants(cfg, f->recipient, addr)) == 0)
		return 0;
	snprintf(scope[0], sizeof(scope[0]), "global");
	snprintf(scope[1], sizeof(scope[1]), "%s%s", *f->category ? "cat:" : "", f->category);
	snprintf(scope[2], sizeof(scope[2]), "%s%s", *f->tenant ? "tenant:" : "", f->tenant);
	for (int s = 0; s < 3; s++) {
		for (int a = 0; *scope[s] && a < na; a++) {
			if (scope_key(scopes[n].key, sizeof(scopes[n].key), cfg->redis.prefix,
				      scope[s], addr[a]) < 0)
				continue;
			scopes[n].kind = kind[s];
			scopes[n++].discard = discard[s];
		}
	}
	return n;
}

/* pd_suppress_answer - 550 naming the reason, or DISCARD per scope */
void
pd_suppress_answer(const pd_scope *scope, const char *rcpt, const char *reason,
		   char *out, size_t outlen)
{
	const char *why = sl_supp_reason_shown(reason);
	const char *code = strcmp(why, "hard-bounce") == 0 ? "5.1.1" : "5.7.1";
	char	addr[SL_ADDR_MAX + 1];

	snprintf(addr, sizeof(addr), "%s", rcpt);
	for (char *p = addr; *p; p++)
		if (*p < 0x21 || *p > 0x7e)
			*p = '?';
	if (scope->discard)
		snprintf(out, outlen, "DISCARD recipient <%s> is suppressed (%s)", addr, why);
	else
		snprintf(out, outlen, "550 %s Suppressed: %s (%s list)", code, why, scope->kind);
}

/* pd_suppress_add - record a suppression entry unless it exists */
int
pd_suppress_add(pd_server *srv, const char *scope, const char *rcpt, const char *reason,
		const char *source, const char *detail, const char *stats_key,
		sl_aredis_cb *cb, void *arg)
{
	char	key[700], added[32];
	const char *argv[6] = {key, stats_key, reason, source, added, detail};

	if (scope_key(key, sizeof(key), srv->cfg->redis.prefix, scope, rcpt) < 0)
		return -1;
	snprintf(added, sizeof(added), "%lld", (long long) time(NULL));
	return sl_aredis_eval(srv->redis, &add_script, 1000, cb, arg, 2, 6, argv, NULL);
}
