/*
 * NAME
 *	site 3 - the site model: domains, categories and tenants, typed, once
 * SYNOPSIS
 *	#include "site.h"
 *	sl_site *s = sl_site_build(conf);	errors via sl_conf_error
 *	sl_site_check_milter(s, conf);		what sluice-milter refuses too
 *	sl_site_key_error(conf, d, k, fmt, ...);	an error at a dkim key's line
 *	sl_site_unref(s);
 * DESCRIPTION
 *	The one reader of the domain "name" { dkim "sel" { } }, category
 *	"name" { } and tenant "name" { } sections. sl_site_build() runs when
 *	sl_conf_load() checks the file (conf.c), so every program finds the
 *	model as conf->site and reads typed fields; no other file walks these
 *	sections (tests/site-grep.sh, run by make check, says so).
 *
 *	sl_site_build() reports what every program refuses, each error at
 *	its section's or option's file:line: a category or tenant name that
 *	is not 1-15 characters a-z 0-9; a domain's default_category that is
 *	not a category section; a dkim algorithm other than rsa-sha256 or
 *	ed25519-sha256, or a key file missing or readable by others; and the
 *	tenant rules of tenant_map.c: clients that are not addresses or
 *	networks, client_ports that are not ports (or without clients),
 *	allowed_senders not domains, users or any, allowed_senders = users
 *	with IP clients and no sasl_users.
 *
 *	sl_site_check_milter() adds what sluice-milter (and sluicectl check,
 *	which asks it) refuses besides, as before this model existed: names
 *	it writes into mail and DNS (a domain that is not lowercase DNS
 *	labels, a selector that is not one label, a category or tenant
 *	subdomain, a tenant's domains), a list_unsubscribe_existing other
 *	than keep or replace, an unsubscribe_url that is not https:// with
 *	%t, a feedback_type with ':', sign_domains not subdomain, from or a
 *	domain with keys (at most 3), a tenant's default_category that is
 *	not a category, and a SASL user in two tenants.
 *
 *	Defaults: feedback_type is the category's name when unset;
 *	allowed_senders unset (or invalid, after the error) is
 *	SL_SENDERS_UNSET; lookups by name are exact (as cfg_gettsec was).
 * OWNERSHIP
 *	Everything the model points to is allocated in its pool and freed
 *	with the last reference; nothing is borrowed from the libconfuse tree.
 */
#include "config.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "conf.h"
#include "conf_lex.h"
#include "live.h"
#include "log.h"
#include "site.h"
#include "tenant_map.h"

/* every allocation the model owns, freed together */
struct sl_site_pool {
	void **p;
	size_t n, cap;
	sl_netlist **nets;
	size_t nnets;
};

/* pool_keep - own one allocation; returns it */
static void *
pool_keep(sl_site *s, void *p)
{
	struct sl_site_pool *pl = s->pool;

	if (pl->n == pl->cap) {
		pl->cap = pl->cap ? pl->cap * 2 : 64;
		if ((pl->p = realloc(pl->p, pl->cap * sizeof(*pl->p))) == NULL)
			abort();
	}
	pl->p[pl->n++] = p;
	return p;
}

/* pool_str - a copy of a string the model owns */
static const char *
pool_str(sl_site *s, const char *str)
{
	return pool_keep(s, sl_strdup(str ? str : ""));
}

/* pool_list - a copy of a string list option, NULL-terminated */
static const char **
pool_list(sl_site *s, cfg_t *sec, const char *name, size_t *n)
{
	const char **v;

	*n = cfg_size(sec, name);
	v = pool_keep(s, sl_calloc(*n + 1, sizeof(*v)));
	for (size_t i = 0; i < *n; i++)
		v[i] = pool_str(s, cfg_getnstr(sec, name, (unsigned)i));
	return v;
}

/* place - the file and line of a section */
static void
place(sl_site *s, sl_conf *c, cfg_t *sec, const char **file, int *line)
{
	*file = pool_str(s, sl_conf_file_of(c, sec));
	*line = sl_conf_lex_line(c->lex, sec, "");
}

/* domain_name_ok - a lowercase domain name of valid DNS labels */
static int
domain_name_ok(const char *s)
{
	char buf[256], *save = NULL;
	int labels = 0;

	if (strlen(s) >= sizeof(buf) || *s == '\0')
		return 0;
	strcpy(buf, s);
	if (buf[0] == '.' || buf[strlen(buf) - 1] == '.' || strstr(buf, ".."))
		return 0;
	for (char *l = strtok_r(buf, ".", &save); l; l = strtok_r(NULL, ".", &save), labels++)
		if (!sl_live_dns_label_ok(l))
			return 0;
	return labels >= 1;
}

/* load_keys - the dkim "selector" { } blocks of one domain, checked */
static void
load_keys(sl_site *s, sl_conf *c, cfg_t *dsec, struct sl_site_domain *d)
{
	sl_site_key *keys;
	char err[256];

	d->nkeys = cfg_size(dsec, "dkim");
	keys = pool_keep(s, sl_calloc(d->nkeys + 1, sizeof(*keys)));
	d->keys = keys;
	for (size_t k = 0; k < d->nkeys; k++) {
		cfg_t *ks = cfg_getnsec(dsec, "dkim", (unsigned)k);
		const char *alg = cfg_getstr(ks, "algorithm");

		keys[k].selector = pool_str(s, cfg_title(ks));
		keys[k].algorithm = pool_str(s, alg);
		keys[k].alg = strcmp(alg, "ed25519-sha256") == 0 ? SL_SITE_ED25519 : SL_SITE_RSA;
		keys[k].path = pool_str(s, cfg_getstr(ks, "key"));
		if (strcmp(alg, "rsa-sha256") != 0 && strcmp(alg, "ed25519-sha256") != 0)
			sl_conf_error(c, ks,
			              "dkim %s: algorithm \"%s\": use rsa-sha256 or ed25519-sha256",
			              cfg_title(ks), alg);
		if (sl_conf_check_private_file(keys[k].path, err, sizeof(err)) < 0)
			sl_conf_error(c, ks, "dkim %s: %s", cfg_title(ks), err);
	}
}

/* load_domains - the domain sections; needs the categories loaded */
static void
load_domains(sl_site *s, sl_conf *c)
{
	struct sl_site_domain *v;

	s->ndomains = cfg_size(c->cfg, "domain");
	v = pool_keep(s, sl_calloc(s->ndomains + 1, sizeof(*v)));
	s->domains = v;
	for (size_t i = 0; i < s->ndomains; i++) {
		cfg_t *sec = cfg_getnsec(c->cfg, "domain", (unsigned)i);
		struct sl_site_domain *d = &v[i];

		d->name = pool_str(s, cfg_title(sec));
		d->default_category = pool_str(s, cfg_getstr(sec, "default_category"));
		d->sign_parent = cfg_getbool(sec, "sign_parent") ? 1 : 0;
		place(s, c, sec, &d->file, &d->line);
		if (*d->default_category && sl_site_category(s, d->default_category) == NULL)
			sl_conf_error(c, sec, "domain %s: default_category \"%s\" is not defined",
			              d->name, d->default_category);
		load_keys(s, c, sec, d);
	}
}

/* load_categories - the category sections */
static void
load_categories(sl_site *s, sl_conf *c)
{
	struct sl_site_category *v;

	s->ncategories = cfg_size(c->cfg, "category");
	v = pool_keep(s, sl_calloc(s->ncategories + 1, sizeof(*v)));
	s->categories = v;
	for (size_t i = 0; i < s->ncategories; i++) {
		cfg_t *sec = cfg_getnsec(c->cfg, "category", (unsigned)i);
		struct sl_site_category *cat = &v[i];
		const char *ft = cfg_getstr(sec, "feedback_type");

		cat->name = pool_str(s, cfg_title(sec));
		cat->subdomain = pool_str(s, cfg_getstr(sec, "subdomain"));
		cat->rewrite_from = cfg_getbool(sec, "rewrite_from") ? 1 : 0;
		cat->list_unsubscribe = cfg_getbool(sec, "list_unsubscribe") ? 1 : 0;
		cat->list_unsubscribe_existing =
		    pool_str(s, cfg_getstr(sec, "list_unsubscribe_existing"));
		cat->lu_replace = strcmp(cat->list_unsubscribe_existing, "replace") == 0;
		cat->unsubscribe_url = pool_str(s, cfg_getstr(sec, "unsubscribe_url"));
		cat->feedback_type = *ft ? pool_str(s, ft) : cat->name;
		cat->sign_parent = cfg_getbool(sec, "sign_parent") ? 1 : 0;
		cat->sign_domains = pool_list(s, sec, "sign_domains", &cat->nsign_domains);
		cat->transport = pool_str(s, cfg_getstr(sec, "transport"));
		place(s, c, sec, &cat->file, &cat->line);
		if (!sl_live_label_ok(cat->name))
			sl_conf_error(c, sec, "category \"%s\": a name is 1-15 characters a-z 0-9",
			              cat->name);
	}
}

/* load_clients - the clients list, or NULL when empty; bad entries reported */
static sl_netlist *
load_clients(sl_site *s, sl_conf *c, cfg_t *sec)
{
	unsigned n = cfg_size(sec, "clients");
	struct sl_site_pool *pl = s->pool;
	sl_netlist *nl;

	if (n == 0)
		return NULL;
	nl = sl_netlist_new();
	if ((pl->nets = realloc(pl->nets, (pl->nnets + 1) * sizeof(*pl->nets))) == NULL)
		abort();
	pl->nets[pl->nnets++] = nl;
	for (unsigned i = 0; i < n; i++) {
		const char *a = cfg_getnstr(sec, "clients", i);

		if (sl_netlist_add(nl, a) < 0)
			sl_conf_error(c, sec,
			              "tenant %s: clients \"%s\": not an address or address/bits",
			              cfg_title(sec), a);
	}
	return nl;
}

/* load_ports - client_ports as strings (compared with server_port), checked */
static const char **
load_ports(sl_site *s, sl_conf *c, cfg_t *sec, size_t *n)
{
	const char **v = pool_list(s, sec, "client_ports", n);

	for (size_t i = 0; i < *n; i++) {
		size_t len = strlen(v[i]);
		long p = strtol(v[i], NULL, 10);

		if (len == 0 || len > 5 || strspn(v[i], "0123456789") != len || p < 1 || p > 65535)
			sl_conf_error(c, sec, "tenant %s: client_ports \"%s\": not a port number",
			              cfg_title(sec), v[i]);
	}
	if (*n && cfg_size(sec, "clients") == 0)
		sl_conf_error(c, sec, "tenant %s: client_ports without clients", cfg_title(sec));
	return v;
}

/* load_tenant - one tenant section without its rule checks */
static void
load_tenant(sl_site *s, sl_conf *c, cfg_t *sec, struct sl_site_tenant *t)
{
	t->name = pool_str(s, cfg_title(sec));
	t->subdomain = pool_str(s, cfg_getstr(sec, "subdomain"));
	t->default_category = pool_str(s, cfg_getstr(sec, "default_category"));
	t->sender_id = pool_str(s, cfg_getstr(sec, "sender_id"));
	t->domains = pool_list(s, sec, "domains", &t->ndomains);
	t->sasl_users = pool_list(s, sec, "sasl_users", &t->nsasl_users);
	t->require_tls = cfg_getbool(sec, "require_tls") ? 1 : 0;
	t->allowed_senders = pool_str(s, cfg_getstr(sec, "allowed_senders"));
	t->transport = pool_str(s, cfg_getstr(sec, "transport"));
	place(s, c, sec, &t->file, &t->line);
	if (!sl_live_label_ok(t->name))
		sl_conf_error(c, sec, "tenant \"%s\": a name is 1-15 characters a-z 0-9", t->name);
}

/* load_rule - the tenant_map rule of one tenant: clients, ports, senders */
static void
load_rule(sl_site *s, sl_conf *c, cfg_t *sec, struct sl_site_tenant *t)
{
	int snd = sl_tenant_senders_parse(t->allowed_senders);

	t->client_list = pool_list(s, sec, "clients", &t->nclient_list);
	t->clients = load_clients(s, c, sec);
	t->ports = load_ports(s, c, sec, &t->nports);
	t->senders = snd < 0 ? SL_SENDERS_UNSET : (enum sl_senders)snd;
	if (snd < 0)
		sl_conf_error(c, sec,
		              "tenant %s: allowed_senders \"%s\": use domains, users or any",
		              t->name, t->allowed_senders);
	if (t->senders == SL_SENDERS_USERS && t->nsasl_users == 0 && t->clients)
		sl_conf_error(c, sec,
		              "tenant %s: allowed_senders = users needs sasl_users "
		              "(the addresses its IP clients may send as)",
		              t->name);
}

/* load_tenants - the tenant sections; the rules after every name check */
static void
load_tenants(sl_site *s, sl_conf *c)
{
	struct sl_site_tenant *v;

	s->ntenants = cfg_size(c->cfg, "tenant");
	v = pool_keep(s, sl_calloc(s->ntenants + 1, sizeof(*v)));
	s->tenants = v;
	for (size_t i = 0; i < s->ntenants; i++)
		load_tenant(s, c, cfg_getnsec(c->cfg, "tenant", (unsigned)i), &v[i]);
}

/* load_rules - the tenant rules, checked after the domains as before */
static void
load_rules(sl_site *s, sl_conf *c)
{
	for (size_t i = 0; i < s->ntenants; i++)
		load_rule(s, c, cfg_getnsec(c->cfg, "tenant", (unsigned)i),
		          (struct sl_site_tenant *)&s->tenants[i]);
}

/* sl_site_build - the model of c's site sections; errors reported on c */
sl_site *
sl_site_build(sl_conf *c)
{
	sl_site *s = sl_calloc(1, sizeof(*s));

	s->refs = 1;
	s->pool = sl_calloc(1, sizeof(*s->pool));
	load_categories(s, c);
	load_tenants(s, c);
	load_domains(s, c);
	load_rules(s, c);
	return s;
}

/* check_domains - domain names and selectors the milter writes into mail */
static void
check_domains(const sl_site *s, sl_conf *c)
{
	for (size_t i = 0; i < s->ndomains; i++) {
		const struct sl_site_domain *d = &s->domains[i];
		cfg_t *sec = cfg_gettsec(c->cfg, "domain", d->name);

		if (!domain_name_ok(d->name))
			sl_conf_error(c, sec, "domain \"%s\": not a lowercase domain name",
			              d->name);
		for (size_t k = 0; k < d->nkeys; k++)
			if (!sl_live_dns_label_ok(d->keys[k].selector))
				sl_conf_error(
				    c, sec ? cfg_gettsec(sec, "dkim", d->keys[k].selector) : NULL,
				    "dkim \"%s\": a selector is one DNS label (a-z 0-9 -)",
				    d->keys[k].selector);
	}
}

/* check_sign_domains - each entry is subdomain, from, or a domain with keys */
static void
check_sign_domains(const sl_site *s, sl_conf *c, cfg_t *sec, const struct sl_site_category *cat)
{
	for (size_t k = 0; k < cat->nsign_domains; k++) {
		const char *v = cat->sign_domains[k];
		const struct sl_site_domain *d = NULL;

		if (strcmp(v, "subdomain") == 0 || strcmp(v, "from") == 0)
			continue;
		for (size_t i = 0; i < s->ndomains && d == NULL; i++)
			if (strcasecmp(s->domains[i].name, v) == 0)
				d = &s->domains[i];
		if (d == NULL || d->nkeys == 0)
			sl_conf_error(c, sec,
			              "category %s: sign_domains \"%s\": use subdomain, "
			              "from, or a domain section with dkim keys",
			              cat->name, v);
	}
	if (cat->nsign_domains > 3)
		sl_conf_error(c, sec, "category %s: at most 3 sign_domains", cat->name);
}

/* check_categories - the values the milter puts into headers and names */
static void
check_categories(const sl_site *s, sl_conf *c)
{
	for (size_t i = 0; i < s->ncategories; i++) {
		const struct sl_site_category *cat = &s->categories[i];
		cfg_t *sec = cfg_gettsec(c->cfg, "category", cat->name);
		const char *ex = cat->list_unsubscribe_existing;

		if (*cat->subdomain && !domain_name_ok(cat->subdomain))
			sl_conf_error(c, sec,
			              "category %s: subdomain \"%s\": use DNS labels a-z 0-9 -",
			              cat->name, cat->subdomain);
		if (strcmp(ex, "keep") != 0 && strcmp(ex, "replace") != 0)
			sl_conf_error(
			    c, sec,
			    "category %s: list_unsubscribe_existing \"%s\": use keep or replace",
			    cat->name, ex);
		if (*cat->unsubscribe_url && (strncmp(cat->unsubscribe_url, "https://", 8) != 0 ||
		                              strstr(cat->unsubscribe_url, "%t") == NULL))
			sl_conf_error(c, sec,
			              "category %s: unsubscribe_url must start with https:// "
			              "and contain %%t (the token)",
			              cat->name);
		if (strchr(cat->feedback_type, ':'))
			sl_conf_error(c, sec, "category %s: feedback_type must not contain ':'",
			              cat->name);
		check_sign_domains(s, c, sec, cat);
	}
}

/* check_sasl_unique - a SASL user belongs to one tenant at most */
static void
check_sasl_unique(const sl_site *s, sl_conf *c, cfg_t *sec, const struct sl_site_tenant *t)
{
	for (size_t u = 0; u < t->nsasl_users; u++)
		for (const struct sl_site_tenant *o = s->tenants; o < t; o++)
			for (size_t v = 0; v < o->nsasl_users; v++)
				if (strcmp(t->sasl_users[u], o->sasl_users[v]) == 0)
					sl_conf_error(c, sec,
					              "tenant %s: sasl user \"%s\" "
					              "already belongs to tenant %s",
					              t->name, t->sasl_users[u], o->name);
}

/* check_tenants - subdomains, domains, references and SASL users */
static void
check_tenants(const sl_site *s, sl_conf *c)
{
	for (size_t i = 0; i < s->ntenants; i++) {
		const struct sl_site_tenant *t = &s->tenants[i];
		cfg_t *sec = cfg_gettsec(c->cfg, "tenant", t->name);

		if (*t->subdomain && !domain_name_ok(t->subdomain))
			sl_conf_error(c, sec,
			              "tenant %s: subdomain \"%s\": use DNS labels a-z 0-9 -",
			              t->name, t->subdomain);
		if (*t->default_category && sl_site_category(s, t->default_category) == NULL)
			sl_conf_error(c, sec, "tenant %s: default_category \"%s\" is not defined",
			              t->name, t->default_category);
		for (size_t k = 0; k < t->ndomains; k++)
			if (!domain_name_ok(t->domains[k] +
			                    (strncmp(t->domains[k], "*.", 2) == 0 ? 2 : 0)))
				sl_conf_error(c, sec,
				              "tenant %s: domains \"%s\": not a lowercase "
				              "domain name (or *.domain)",
				              t->name, t->domains[k]);
		check_sasl_unique(s, c, sec, t);
	}
}

/* sl_site_check_milter - the checks sluice-milter adds (see DESCRIPTION) */
void
sl_site_check_milter(const sl_site *s, sl_conf *c)
{
	check_domains(s, c);
	check_categories(s, c);
	check_tenants(s, c);
}

/* sl_site_key_error - report a problem of d's key k at its dkim section's file:line in c */
void
sl_site_key_error(sl_conf *c, const struct sl_site_domain *d, size_t k, const char *fmt, ...)
{
	cfg_t *dom = cfg_gettsec(c->cfg, "domain", d->name);
	char msg[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	sl_conf_error(c, dom ? cfg_gettsec(dom, "dkim", d->keys[k].selector) : NULL, "%s", msg);
}

/* site_free - release a model nobody references any more */
static void
site_free(sl_site *s)
{
	struct sl_site_pool *pl = s->pool;

	for (size_t i = 0; i < pl->nnets; i++)
		sl_netlist_free(pl->nets[i]);
	for (size_t i = 0; i < pl->n; i++)
		free(pl->p[i]);
	free(pl->nets);
	free(pl->p);
	free(pl);
	free(s);
}

/* sl_site_ref - take one more reference */
sl_site *
sl_site_ref(sl_site *s)
{
	if (s != NULL)
		__atomic_add_fetch(&s->refs, 1, __ATOMIC_SEQ_CST);
	return s;
}

/* sl_site_unref - drop a reference; the last one frees; NULL is a no-op */
void
sl_site_unref(sl_site *s)
{
	if (s != NULL && __atomic_sub_fetch(&s->refs, 1, __ATOMIC_SEQ_CST) == 0)
		site_free(s);
}

/* sl_site_domain - the domain section of exactly this name, or NULL */
const struct sl_site_domain *
sl_site_domain(const sl_site *s, const char *name)
{
	for (size_t i = 0; s && name && i < s->ndomains; i++)
		if (strcmp(s->domains[i].name, name) == 0)
			return &s->domains[i];
	return NULL;
}

/* sl_site_category - a category by name, or NULL */
const struct sl_site_category *
sl_site_category(const sl_site *s, const char *name)
{
	for (size_t i = 0; s && name && i < s->ncategories; i++)
		if (strcmp(s->categories[i].name, name) == 0)
			return &s->categories[i];
	return NULL;
}

/* sl_site_tenant - a tenant by name, or NULL */
const struct sl_site_tenant *
sl_site_tenant(const sl_site *s, const char *name)
{
	for (size_t i = 0; s && name && i < s->ntenants; i++)
		if (strcmp(s->tenants[i].name, name) == 0)
			return &s->tenants[i];
	return NULL;
}
