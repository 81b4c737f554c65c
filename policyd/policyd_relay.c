/*
 * NAME
 *	policyd_relay 3 - per-tenant relay policies: IP clients, TLS, senders
 * SYNOPSIS
 *	#include "policyd.h"
 *
 *	void pd_relay_check(pd_server *srv, pd_config *cfg, pd_limits *limits,
 *			    pd_facts *f, int timeout_ms, pd_relay_fn *cb,
 *			    void *arg)
 * DESCRIPTION
 *	Runs at RCPT before the decision script, as hosted relays do:
 *
 *	A client that did not authenticate is mapped to its tenant by
 *	address (the tenant's clients, lib/tenant_map.c), so the tenant's
 *	limits, status and suppression scopes apply to it like to a SASL
 *	user (f->tenant and f->category are set).
 *
 *	Then the tenant's relay policy: require_tls and allowed_senders from
 *	its section, each overridden live by the same field of
 *	sluice:tenant:<t> (read with one HMGET, cached for a second per
 *	tenant). A tenant that requires TLS has a plain-text submission
 *	(no encryption_protocol in the request) refused with
 *	"530 5.7.10 Must issue a STARTTLS command first" (RFC 5248:
 *	encryption needed); an envelope sender outside allowed_senders is
 *	refused with 550 5.7.1. The milter applies the same allowed_senders
 *	(config, or the same live field) to the header From.
 *
 *	The tenant's mode applies: in monitor mode a refusal is logged and
 *	counted (would_reject), the mail goes on; off skips both checks.
 *	A value in Redis that lib/live.c refuses is logged once, counted on
 *	/metrics and ignored (the config's value applies).
 *
 *	cb(arg, rc, text) is called exactly once: rc 0 go on, 1 refused
 *	(text is the action), -1 Redis failed (text says why).
 * BUGS
 *	clients come from sluice.conf only (a reload applies a change); the
 *	cache holds CACHE_MAX tenants and is cleared when full.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "live.h"
#include "log.h"
#include "policyd.h"
#include "tenant_map.h"

#define CACHE_MS 1000
#define CACHE_MAX 512

typedef struct relay_entry {
	char tenant[SL_TOKEN_LABEL_MAX + 1];
	int require_tls;     /* -1: not set in Redis */
	int senders;         /* -1: not set in Redis */
	char warned[2][100]; /* last invalid value logged, per field */
	long long fetched_ms;
} relay_entry;

static relay_entry cache[CACHE_MAX];
static int ncache;

typedef struct relay_req {
	pd_server *srv;
	pd_config *cfg;
	pd_limits *limits;
	pd_facts *f;
	pd_relay_fn *cb;
	void *arg;
} relay_req;

/* cache_get - the entry of a tenant, created empty (fetched_ms 0) if new */
static relay_entry *
cache_get(const char *tenant)
{
	for (int i = 0; i < ncache; i++)
		if (strcmp(cache[i].tenant, tenant) == 0)
			return &cache[i];
	if (ncache == CACHE_MAX)
		ncache = 0;
	memset(&cache[ncache], 0, sizeof(cache[ncache]));
	snprintf(cache[ncache].tenant, sizeof(cache[ncache].tenant), "%s", tenant);
	return &cache[ncache++];
}

/* live_value - one field of the reply: its value, or -1 unset or invalid (logged once) */
static int
live_value(relay_entry *e, int idx, const char *field, const sl_reply *v)
{
	char err[200];

	if (v == NULL || v->type != SL_REPLY_STRING) {
		e->warned[idx][0] = '\0';
		return -1;
	}
	if (sl_live_tenant_field(field, v->str, err, sizeof(err)) == 0)
		return idx == 0 ? sl_live_yesno(v->str) : sl_tenant_senders_parse(v->str);
	if (strncmp(e->warned[idx], v->str, sizeof(e->warned[idx]) - 1) != 0) {
		snprintf(e->warned[idx], sizeof(e->warned[idx]), "%s", v->str);
		sl_warn("tenant %s (its Redis hash) field %s: %s: ignored, the configuration "
		        "applies",
		        e->tenant, field, err);
		pd_metrics_live_invalid("tenant");
	}
	return -1;
}

/* refuse - a policy refused: the action, or a monitor note and go on */
static int
refuse(relay_req *rq, const char *rule, const char *action)
{
	enum pd_mode mode = pd_mode_for(rq->srv, rq->limits, PD_MODE_INHERIT, rq->f);

	if (mode == PD_MODE_MONITOR) {
		pd_metrics_rule(rule, "would_reject");
		sl_info("monitor: tenant %s: %s would be refused (%s)", rq->f->tenant, rule,
		        action);
		return 0;
	}
	pd_metrics_rule(rule, "rejected");
	rq->cb(rq->arg, 1, action);
	return 1;
}

/* evaluate - apply the tenant's policy to the request, then answer */
static void
evaluate(relay_req *rq, const relay_entry *e)
{
	const struct sl_site_tenant *t = sl_site_tenant(rq->cfg->site, rq->f->tenant);
	pd_facts *f = rq->f;
	int tls = e->require_tls >= 0 ? e->require_tls : t ? t->require_tls : 0;
	int snd = e->senders >= 0 ? e->senders : t ? (int)t->senders : SL_SENDERS_UNSET;
	/* a tenant without SASL here was mapped by address (map_by_address) */
	int by_ip = *f->sasl_username == '\0';
	char action[PD_ANSWER_MAX];

	if (pd_mode_for(rq->srv, rq->limits, PD_MODE_INHERIT, f) == PD_MODE_OFF) {
		rq->cb(rq->arg, 0, NULL);
		return;
	}
	if (tls && *f->encryption_protocol == '\0') {
		snprintf(action, sizeof(action),
		         "530 5.7.10 Must issue a STARTTLS command first "
		         "(this account requires TLS)");
		if (refuse(rq, "relay-tls", action))
			return;
	}
	snd = (int)sl_tenant_senders_effective((enum sl_senders)snd, by_ip);
	if (!sl_tenant_sender_ok(t, (enum sl_senders)snd, f->sasl_username, f->sender,
	                         pd_tenant_domains(rq->srv, f->sasl_username))) {
		snprintf(action, sizeof(action),
		         "550 5.7.1 Sender address <%s> is not allowed "
		         "for this account (allowed senders: %s)",
		         f->sender, sl_tenant_senders_name((enum sl_senders)snd));
		if (refuse(rq, "relay-sender", action))
			return;
	}
	rq->cb(rq->arg, 0, NULL);
}

/* wrong_type - sluice:tenant:<t> is not a hash (written by hand): say so, then ignore it */
static int
wrong_type(const sl_reply *r, const char *tenant)
{
	static long long last_ms;

	if (r == NULL || r->type != SL_REPLY_ERROR || strncmp(r->str, "WRONGTYPE", 9) != 0)
		return 0;
	if (pd_now_ms() - last_ms >= 10000) {
		last_ms = pd_now_ms();
		sl_warn("redis key tenant:%s has the wrong type: its relay policy fields are "
		        "ignored (this warning is repeated at most every 10 s)",
		        tenant);
	}
	return 1;
}

/* fetched - HMGET sluice:tenant:<t> require_tls allowed_senders answered */
static void
fetched(const sl_reply *r, const char *err, void *arg)
{
	relay_req *rq = arg;
	int ok = r != NULL && r->type == SL_REPLY_ARRAY && r->elements == 2;
	int bad = !ok && wrong_type(r, rq->f->tenant);
	relay_entry *e;

	pd_breaker_result(rq->srv->breaker, rq->cfg, ok || bad, pd_now_ms());
	if (!ok && !bad) {
		if (r != NULL && r->type == SL_REPLY_ERROR)
			pd_redis_error("HMGET tenant policy", r->str);
		rq->cb(rq->arg, -1, err ? err : "bad reply to HMGET tenant policy");
		free(rq);
		return;
	}
	e = cache_get(rq->f->tenant);
	e->require_tls = ok ? live_value(e, 0, "require_tls", r->element[0]) : -1;
	e->senders = ok ? live_value(e, 1, "allowed_senders", r->element[1]) : -1;
	e->fetched_ms = pd_now_ms();
	evaluate(rq, e);
	free(rq);
}

/* map_by_address - an unauthenticated client's tenant from its address */
static void
map_by_address(const pd_config *cfg, pd_facts *f)
{
	const struct sl_site_tenant *t;
	int by_ip;

	if (*f->tenant || *f->sasl_username)
		return;
	t = sl_tenant_map_find(cfg->site, NULL, NULL, f->client_address, f->server_port, &by_ip);
	if (t == NULL)
		return;
	snprintf(f->tenant, sizeof(f->tenant), "%s", t->name);
	if (*f->category == '\0')
		snprintf(f->category, sizeof(f->category), "%s", t->default_category);
}

/* pd_relay_check - map, then check the tenant's relay policy; cb() once */
void
pd_relay_check(pd_server *srv, pd_config *cfg, pd_limits *limits, pd_facts *f, int timeout_ms,
               pd_relay_fn *cb, void *arg)
{
	relay_req rq0 = {srv, cfg, limits, f, cb, arg}, *rq;
	relay_entry *e;
	char key[600];
	const char *argv[] = {"HMGET", key, "require_tls", "allowed_senders"};

	map_by_address(cfg, f);
	if (*f->tenant == '\0') {
		cb(arg, 0, NULL);
		return;
	}
	e = cache_get(f->tenant);
	if (e->fetched_ms && pd_now_ms() - e->fetched_ms <= CACHE_MS) {
		evaluate(&rq0, e);
		return;
	}
	if (!pd_breaker_allow(srv->breaker, cfg, pd_now_ms())) {
		cb(arg, -1, "circuit breaker open");
		return;
	}
	if (sl_key(key, sizeof(key), cfg->redis.prefix, SL_KEY_TENANT, f->tenant) < 0) {
		cb(arg, -1, "tenant key too long");
		return;
	}
	rq = sl_malloc(sizeof(*rq));
	*rq = rq0;
	if (sl_aredis_cmdv(srv->redis, timeout_ms, fetched, rq, 4, argv, NULL) < 0) {
		pd_breaker_result(srv->breaker, cfg, 0, pd_now_ms());
		free(rq);
		cb(arg, -1, "cannot send");
	}
}
