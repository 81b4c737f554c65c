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
 *	int pd_suppress_add(pd_server *srv, const sl_scope *scope,
 *			    const char *rcpt, const char *reason, ...)
 * DESCRIPTION
 *	A suppression entry is the hash named by lib/keyspace.c
 *	(sl_supp_key(): supp:<scope>:<address>) with the fields reason,
 *	source, added, expires and detail. Writers store the canonical
 *	address (sl_supp_canon()), but entries written by hand or by an
 *	older version may hold another form, so every form is looked up: as
 *	written with the domain lowercased, with the local part lowercased
 *	(lowercase_local_part, default yes), and without a +tag (strip_tag,
 *	default yes).
 *
 *	At RCPT the scopes that apply are global, the tenant of the SASL
 *	user and the category known for that user (the message's final
 *	category is decided later by the milter); another tenant's scope is
 *	never consulted, so its data never shows in an answer.
 *
 *	pd_suppress_add() records an entry once with the keyspace's one
 *	writer (sl_supp_put_script, mode keep: an existing entry keeps its
 *	first reason and time) and counts the unsubscribe in the day's stats
 *	hash when it was new (on Redis Cluster by a second call: the stats
 *	hash is in another slot).
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "keyspace_supp.h"
#include "log.h"
#include "policyd.h"
#include "suppress.h"

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
	char	addr[4][SL_ADDR_MAX + 1];
	sl_scope scope[3];
	int	have[3], discard[3] = {cfg->discard_global, cfg->discard_category, cfg->discard_tenant};
	int	n = 0, na;

	if (*f->recipient == '\0' || (na = address_variants(cfg, f->recipient, addr)) == 0)
		return 0;
	have[0] = sl_scope_make(&scope[0], SL_SCOPE_GLOBAL, NULL) == 0;
	have[1] = *f->category && sl_scope_make(&scope[1], SL_SCOPE_CATEGORY, f->category) == 0;
	have[2] = *f->tenant && sl_scope_make(&scope[2], SL_SCOPE_TENANT, f->tenant) == 0;
	for (int s = 0; s < 3; s++) {
		for (int a = 0; have[s] && a < na; a++) {
			if (sl_supp_key(scopes[n].key, sizeof(scopes[n].key), cfg->redis.prefix,
					&scope[s], addr[a]) < 0)
				continue;
			scopes[n].kind = sl_scope_kind_name(scope[s].kind);
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

/* On Cluster the stats hash is in another slot: counted by its own call. */
typedef struct add_ctx {
	pd_server *srv;
	sl_aredis_cb *cb;
	void   *arg;
	char	stats[SL_KEY_MAX];
} add_ctx;

/* count_cb - the unsubscribe counted (a failure is only logged) */
static void
count_cb(const sl_reply *r, const char *err, void *arg)
{
	(void)arg;
	if (r != NULL && r->type == SL_REPLY_ERROR)
		pd_redis_error("unsubscribe counter", r->str);
	else if (r == NULL)
		sl_warn("redis: unsubscribe counter: %s", err ? err : "no reply");
}

/* add_cb - entry written on Cluster: count it when new, then answer */
static void
add_cb(const sl_reply *r, const char *err, void *arg)
{
	add_ctx *c = arg;
	const char *argv[4] = {"HINCRBY", c->stats, SL_STAT_UNSUB, "1"};

	if (r != NULL && r->type == SL_REPLY_INTEGER && r->integer > 0)
		(void)sl_aredis_cmdv(c->srv->redis, 1000, count_cb, NULL, 4, argv, NULL);
	c->cb(r, err, c->arg);
	free(c);
}

/* pd_suppress_add - record a suppression entry unless it exists */
int
pd_suppress_add(pd_server *srv, const sl_scope *scope, const char *rcpt, const char *reason,
		const char *source, const char *detail, const char *stats_key,
		sl_aredis_cb *cb, void *arg)
{
	char	key[SL_KEY_MAX], now[32];
	const char *argv[9] = {key, stats_key, "keep", "0", source, SL_STAT_UNSUB, reason, now,
			       detail};
	add_ctx *c;

	if (sl_supp_key(key, sizeof(key), srv->cfg->redis.prefix, scope, rcpt) < 0)
		return -1;
	snprintf(now, sizeof(now), "%lld", (long long) time(NULL));
	if (!sl_aredis_cluster(srv->redis))
		return sl_aredis_eval(srv->redis, &sl_supp_put_script, 1000, cb, arg, 2, 9, argv,
				      NULL);
	c = sl_calloc(1, sizeof(*c));
	c->srv = srv, c->cb = cb, c->arg = arg;
	snprintf(c->stats, sizeof(c->stats), "%s", stats_key);
	argv[1] = key, argv[5] = "";	/* one key, no counter field */
	if (sl_aredis_eval(srv->redis, &sl_supp_put_script, 1000, add_cb, c, 1, 8, argv + 1,
			   NULL) < 0) {
		free(c);
		return -1;
	}
	return 0;
}
