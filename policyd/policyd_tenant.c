/*
 * NAME
 *	policyd_tenant 3 - tenant and category of a SASL user, tenant status
 * SYNOPSIS
 *	#include "policyd.h"
 *
 *	int pd_tenant_lookup(pd_server *srv, const char *user, char *tenant,
 *			     char *category)
 *	int pd_tenant_fetch(pd_server *srv, const char *user, int timeout_ms,
 *			    sl_aredis_cb *cb, void *arg)
 *	void pd_tenant_store(pd_server *srv, const char *user,
 *			     const sl_reply *r)
 *	void pd_tenant_answer(const char *status, const char *reason,
 *			      char *out, size_t outlen)
 * DESCRIPTION
 *	At RCPT time the message's category is not decided yet (the milter
 *	does that from the headers, later); what policyd knows is the SASL
 *	user. Its Redis entry sluice:sasl:<user> (fields tenant, category;
 *	domains is kept for allowed_senders, policyd_relay.c) wins; otherwise a tenant section of sluice.conf listing the user in
 *	sasl_users gives the tenant and its default_category (the one
 *	mapping of lib/tenant_map.c).
 *
 *	Redis entries are cached for CACHE_MS (one second), so most requests
 *	need a single round trip and a change made with redis-cli is seen
 *	within a second. pd_tenant_lookup() returns 1 when the cache
 *	answered, 0 when the caller must pd_tenant_fetch() first (the reply
 *	goes to pd_tenant_store(), then lookup again).
 *
 *	The status itself (sluice:tenant:<name> status=active|paused|
 *	suspended) is read by the decision script on every request.
 * BUGS
 *	The cache is a fixed hash table cleared when it holds CACHE_MAX users.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "live.h"
#include "log.h"
#include "policyd.h"
#include "tenant_map.h"

#define CACHE_MS	1000
#define CACHE_BUCKETS	1024
#define CACHE_MAX	20000

typedef struct tenant_entry {
	struct tenant_entry *next;
	char   *user;
	char	tenant[SL_TOKEN_LABEL_MAX + 1];
	char	category[SL_TOKEN_LABEL_MAX + 1];
	char	domains[1024];		/* the user's own domains (allowed_senders) */
	long long fetched_ms;
} tenant_entry;

struct pd_tenant_cache {
	tenant_entry *bucket[CACHE_BUCKETS];
	int	count;
};

/* cache_hash - bucket of a user name */
static unsigned
cache_hash(const char *s)
{
	unsigned h = 2166136261u;

	for (; *s; s++)
		h = (h ^ (unsigned char) *s) * 16777619u;
	return h % CACHE_BUCKETS;
}

/* pd_tenant_cache_new - an empty cache */
pd_tenant_cache *
pd_tenant_cache_new(void)
{
	return sl_calloc(1, sizeof(pd_tenant_cache));
}

/* pd_tenant_cache_clear - forget every entry (reload, or full) */
void
pd_tenant_cache_clear(pd_tenant_cache *tc)
{
	if (tc == NULL)
		return;
	for (int i = 0; i < CACHE_BUCKETS; i++) {
		while (tc->bucket[i]) {
			tenant_entry *e = tc->bucket[i];

			tc->bucket[i] = e->next;
			free(e->user);
			free(e);
		}
	}
	tc->count = 0;
}

/* pd_tenant_cache_free - release the cache */
void
pd_tenant_cache_free(pd_tenant_cache *tc)
{
	pd_tenant_cache_clear(tc);
	free(tc);
}

/* cache_find - the entry of a user, or NULL */
static tenant_entry *
cache_find(pd_tenant_cache *tc, const char *user)
{
	for (tenant_entry *e = tc->bucket[cache_hash(user)]; e; e = e->next)
		if (strcmp(e->user, user) == 0)
			return e;
	return NULL;
}

/* label_ok - a tenant or category name: 1-15 of a-z 0-9 */
static int
label_ok(const char *s, size_t len)
{
	if (len == 0 || len > SL_TOKEN_LABEL_MAX)
		return 0;
	for (size_t i = 0; i < len; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9')))
			return 0;
	return 1;
}

/* pd_tenant_lookup - tenant and category of a user; 0: fetch first */
int
pd_tenant_lookup(pd_server *srv, const char *user, char *tenant, char *category)
{
	tenant_entry *e = cache_find(srv->tenants, user);
	const struct sl_site_tenant *tc;
	int	by_ip;

	tenant[0] = category[0] = '\0';
	if (e == NULL || pd_now_ms() - e->fetched_ms > CACHE_MS)
		return 0;
	strcpy(tenant, e->tenant);
	strcpy(category, e->category);
	if (*tenant == '\0' &&
	    (tc = sl_tenant_map_find(srv->cfg->site, NULL, user, NULL, NULL, &by_ip))) {
		snprintf(tenant, SL_TOKEN_LABEL_MAX + 1, "%s", tc->name);
		if (*category == '\0')
			snprintf(category, SL_TOKEN_LABEL_MAX + 1, "%s", tc->default_category);
	}
	return 1;
}

/* store_field - copy a reply string into a label, warn when invalid */
static void
store_field(char *dst, const sl_reply *v, const char *user, const char *what)
{
	dst[0] = '\0';
	if (v == NULL || v->type != SL_REPLY_STRING)
		return;
	if (!label_ok(v->str, v->len)) {
		sl_warn("SASL user %s (its Redis hash): %s \"%.40s\" is not 1-15 of a-z 0-9: ignored",
			user, what, v->str);
		return;
	}
	memcpy(dst, v->str, v->len + 1);
}

/* store_domains - the user's domains field, when valid (lib/live.c) */
static void
store_domains(tenant_entry *e, const sl_reply *v, const char *user)
{
	char	bad[100];

	if (v == NULL || v->type != SL_REPLY_STRING)
		return;
	if (sl_live_domains(v->str, e->domains, sizeof(e->domains), bad, sizeof(bad)) < 0) {
		sl_warn("SASL user %s (its Redis hash): domains: \"%s\" is not a domain name: "
			"field ignored", user, bad);
		e->domains[0] = '\0';
	}
}

/* pd_tenant_domains - the cached domains of a user's Redis entry, "" for none */
const char *
pd_tenant_domains(pd_server *srv, const char *user)
{
	tenant_entry *e = user && *user ? cache_find(srv->tenants, user) : NULL;

	return e ? e->domains : "";
}

/* pd_tenant_store - remember a user's Redis entry (HMGET tenant category) */
void
pd_tenant_store(pd_server *srv, const char *user, const sl_reply *r)
{
	pd_tenant_cache *tc = srv->tenants;
	tenant_entry *e = cache_find(tc, user);

	if (e == NULL) {
		if (tc->count >= CACHE_MAX)
			pd_tenant_cache_clear(tc);
		e = sl_calloc(1, sizeof(*e));
		e->user = sl_strdup(user);
		e->next = tc->bucket[cache_hash(user)];
		tc->bucket[cache_hash(user)] = e;
		tc->count++;
	}
	e->domains[0] = '\0';
	if (r != NULL && r->type == SL_REPLY_ARRAY && r->elements == 3) {
		store_field(e->tenant, r->element[0], user, "tenant");
		store_field(e->category, r->element[1], user, "category");
		store_domains(e, r->element[2], user);
	} else {
		e->tenant[0] = e->category[0] = '\0';
	}
	e->fetched_ms = pd_now_ms();
}

/* pd_tenant_fetch - HMGET sluice:sasl:<user> tenant category */
int
pd_tenant_fetch(pd_server *srv, const char *user, int timeout_ms, sl_aredis_cb *cb, void *arg)
{
	char	key[600];
	const char *argv[] = {"HMGET", key, "tenant", "category", "domains"};

	if (sl_key(key, sizeof(key), srv->cfg->redis.prefix, SL_KEY_SASL, user) < 0)
		return -1;
	return sl_aredis_cmdv(srv->redis, timeout_ms, cb, arg, 5, argv, NULL);
}

/* clean_text - copy printable ASCII only, bounded */
static void
clean_text(char *dst, size_t size, const char *src)
{
	size_t	o = 0;

	for (; *src && o + 1 < size; src++)
		dst[o++] = (*src >= 0x20 && *src <= 0x7e) ? *src : '?';
	dst[o] = '\0';
}

/* pd_tenant_answer - paused: defer; suspended: reject; with the reason */
void
pd_tenant_answer(const char *status, const char *reason, char *out, size_t outlen)
{
	char	why[160];

	clean_text(why, sizeof(why), reason ? reason : "");
	if (strcmp(status, "suspended") == 0)
		snprintf(out, outlen, "REJECT 5.7.1 Sending is suspended for this account%s%s",
			 *why ? ": " : "", why);
	else
		snprintf(out, outlen, "DEFER_IF_PERMIT 4.7.1 Sending is paused for this account%s%s",
			 *why ? ": " : "", why);
}
