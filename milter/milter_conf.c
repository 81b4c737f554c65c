/*
 * NAME
 *	milter_conf 3 - typed, validated, reference-counted milter config
 * SYNOPSIS
 *	ml_conf *c = ml_conf_load(path);	NULL after logging every error
 *	ml_conf_install(c);			make it current (takes the ref)
 *	ml_conf *m = ml_conf_current();		pin for one message
 *	ml_conf_unref(m);			unpin
 * DESCRIPTION
 *	ml_conf_load() parses sluice.conf (lib/conf.c), then turns the
 *	domain, category, tenant and milter sections into tables of typed
 *	values, reads the DKIM keys and the token secret, and reports every
 *	problem at once as file:line through sl_conf_error(). A snapshot is
 *	immutable once loaded; SIGHUP loads a new one and installs it, while
 *	messages in flight keep the one they pinned until they finish.
 * OWNERSHIP
 *	Strings are borrowed from the libconfuse tree the snapshot owns.
 *	The snapshot is freed when its last reference goes.
 */
#include "config.h"

#include <ctype.h>
#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "log.h"
#include "milter.h"
#include "milter_verify.h"

static pthread_mutex_t conf_lock = PTHREAD_MUTEX_INITIALIZER;
static ml_conf *conf_current;

/* str_list - the values of a string list option, borrowed */
static const char **
str_list(cfg_t *sec, const char *name, size_t *n)
{
	const char **v;

	*n = cfg_size(sec, name);
	v = sl_calloc(*n + 1, sizeof(*v));
	for (size_t i = 0; i < *n; i++)
		v[i] = cfg_getnstr(sec, name, (unsigned) i);
	return v;
}

/* dns_label_ok - one DNS label: 1-63 of a-z 0-9 and inner hyphens */
static int
dns_label_ok(const char *s)
{
	size_t	n = strlen(s);

	if (n == 0 || n > 63 || s[0] == '-' || s[n - 1] == '-')
		return 0;
	for (; *s; s++)
		if (!islower((unsigned char) *s) && !isdigit((unsigned char) *s) && *s != '-')
			return 0;
	return 1;
}

/* domain_ok - a lowercase domain name of valid labels */
static int
domain_ok(const char *s)
{
	char	buf[ML_DOMAIN_MAX], *save = NULL;
	int	labels = 0;

	if (strlen(s) >= sizeof(buf) || *s == '\0')
		return 0;
	strcpy(buf, s);
	if (buf[0] == '.' || buf[strlen(buf) - 1] == '.' || strstr(buf, ".."))
		return 0;
	for (char *l = strtok_r(buf, ".", &save); l; l = strtok_r(NULL, ".", &save), labels++)
		if (!dns_label_ok(l))
			return 0;
	return labels >= 1;
}

/* choose - index of value in a NULL-terminated list of names, or -1 */
static int
choose(const char *value, const char *const *names)
{
	for (int i = 0; names[i]; i++)
		if (strcmp(value, names[i]) == 0)
			return i;
	return -1;
}

/* load_keys - the dkim "selector" { } blocks of one domain */
static void
load_keys(sl_conf *sc, cfg_t *dsec, ml_domain *d)
{
	char	err[512];

	d->nkeys = cfg_size(dsec, "dkim");
	d->keys = sl_calloc(d->nkeys + 1, sizeof(*d->keys));
	for (size_t k = 0; k < d->nkeys; k++) {
		cfg_t  *ks = cfg_getnsec(dsec, "dkim", (unsigned) k);
		ml_key *key = &d->keys[k];

		key->selector = cfg_title(ks);
		key->path = cfg_getstr(ks, "key");
		key->alg = strcmp(cfg_getstr(ks, "algorithm"), "ed25519-sha256") == 0
		    ? ML_ALG_ED25519 : ML_ALG_RSA;
		if (!dns_label_ok(key->selector))
			sl_conf_error(sc, ks, "dkim \"%s\": a selector is one DNS label (a-z 0-9 -)",
				      key->selector);
		/* lib/conf.c already reported missing or public key files */
		if (sl_conf_check_private_file(key->path, err, sizeof(err)) == 0
		    && ml_key_load(key, err, sizeof(err)) < 0)
			sl_conf_error(sc, ks, "domain %s dkim %s: %s", d->name, key->selector, err);
	}
}

/* load_domains - the domain "name" { } sections */
static void
load_domains(ml_conf *c)
{
	cfg_t  *cfg = c->conf->cfg;

	c->ndomains = cfg_size(cfg, "domain");
	c->domains = sl_calloc(c->ndomains + 1, sizeof(*c->domains));
	for (size_t i = 0; i < c->ndomains; i++) {
		cfg_t  *sec = cfg_getnsec(cfg, "domain", (unsigned) i);
		ml_domain *d = &c->domains[i];

		d->name = cfg_title(sec);
		d->default_category = cfg_getstr(sec, "default_category");
		d->sign_parent = cfg_getbool(sec, "sign_parent");
		if (!domain_ok(d->name))
			sl_conf_error(c->conf, sec, "domain \"%s\": not a lowercase domain name", d->name);
		load_keys(c->conf, sec, d);
	}
}

/* check_sign_domains - each entry is subdomain, from, or a domain with keys */
static void
check_sign_domains(ml_conf *c, cfg_t *sec, const ml_category *cat)
{
	for (size_t k = 0; k < cat->nsign_domains; k++) {
		const char *s = cat->sign_domains[k];
		const ml_domain *d;

		if (strcmp(s, "subdomain") == 0 || strcmp(s, "from") == 0)
			continue;
		if ((d = ml_conf_domain(c, s)) == NULL || d->nkeys == 0)
			sl_conf_error(c->conf, sec, "category %s: sign_domains \"%s\": use subdomain, "
				      "from, or a domain section with dkim keys", cat->name, s);
	}
	if (cat->nsign_domains > 3)
		sl_conf_error(c->conf, sec, "category %s: at most 3 sign_domains", cat->name);
}

/* load_category - one category "name" { } section */
static void
load_category(ml_conf *c, cfg_t *sec, ml_category *cat)
{
	static const char *const existing[] = {"keep", "replace", NULL};
	const char *ex = cfg_getstr(sec, "list_unsubscribe_existing");

	cat->name = cfg_title(sec);
	cat->subdomain = cfg_getstr(sec, "subdomain");
	cat->rewrite_from = cfg_getbool(sec, "rewrite_from");
	cat->list_unsubscribe = cfg_getbool(sec, "list_unsubscribe");
	cat->lu_replace = choose(ex, existing) == 1;
	cat->unsubscribe_url = cfg_getstr(sec, "unsubscribe_url");
	cat->feedback_type = cfg_getstr(sec, "feedback_type");
	if (*cat->feedback_type == '\0')
		cat->feedback_type = cat->name;
	cat->sign_parent = cfg_getbool(sec, "sign_parent");
	cat->sign_domains = str_list(sec, "sign_domains", &cat->nsign_domains);
	if (*cat->subdomain && !domain_ok(cat->subdomain))
		sl_conf_error(c->conf, sec, "category %s: subdomain \"%s\": use DNS labels a-z 0-9 -",
			      cat->name, cat->subdomain);
	if (choose(ex, existing) < 0)
		sl_conf_error(c->conf, sec, "category %s: list_unsubscribe_existing \"%s\": use keep or replace",
			      cat->name, ex);
	if (*cat->unsubscribe_url && (strncmp(cat->unsubscribe_url, "https://", 8) != 0
				      || strstr(cat->unsubscribe_url, "%t") == NULL))
		sl_conf_error(c->conf, sec, "category %s: unsubscribe_url must start with https:// "
			      "and contain %%t (the token)", cat->name);
	if (strchr(cat->feedback_type, ':'))
		sl_conf_error(c->conf, sec, "category %s: feedback_type must not contain ':'", cat->name);
}

/* load_categories - the category sections; needs the domains loaded */
static void
load_categories(ml_conf *c)
{
	cfg_t  *cfg = c->conf->cfg;

	c->ncategories = cfg_size(cfg, "category");
	c->categories = sl_calloc(c->ncategories + 1, sizeof(*c->categories));
	for (size_t i = 0; i < c->ncategories; i++) {
		cfg_t  *sec = cfg_getnsec(cfg, "category", (unsigned) i);

		load_category(c, sec, &c->categories[i]);
		check_sign_domains(c, sec, &c->categories[i]);
	}
}

/* check_sasl_unique - a SASL user belongs to one tenant at most */
static void
check_sasl_unique(ml_conf *c, cfg_t *sec, const ml_tenant *t)
{
	for (size_t u = 0; u < t->nsasl_users; u++)
		for (const ml_tenant *o = c->tenants; o < t; o++)
			for (size_t v = 0; v < o->nsasl_users; v++)
				if (strcmp(t->sasl_users[u], o->sasl_users[v]) == 0)
					sl_conf_error(c->conf, sec, "tenant %s: sasl user \"%s\" "
						      "already belongs to tenant %s", t->name,
						      t->sasl_users[u], o->name);
}

/* load_tenants - the tenant sections; needs the categories loaded */
static void
load_tenants(ml_conf *c)
{
	cfg_t  *cfg = c->conf->cfg;

	c->ntenants = cfg_size(cfg, "tenant");
	c->tenants = sl_calloc(c->ntenants + 1, sizeof(*c->tenants));
	for (size_t i = 0; i < c->ntenants; i++) {
		cfg_t  *sec = cfg_getnsec(cfg, "tenant", (unsigned) i);
		ml_tenant *t = &c->tenants[i];

		t->name = cfg_title(sec);
		t->subdomain = cfg_getstr(sec, "subdomain");
		t->default_category = cfg_getstr(sec, "default_category");
		t->sender_id = cfg_getstr(sec, "sender_id");
		t->domains = str_list(sec, "domains", &t->ndomains);
		t->sasl_users = str_list(sec, "sasl_users", &t->nsasl_users);
		if (*t->subdomain && !domain_ok(t->subdomain))
			sl_conf_error(c->conf, sec, "tenant %s: subdomain \"%s\": use DNS labels a-z 0-9 -",
				      t->name, t->subdomain);
		if (*t->default_category && ml_conf_category(c, t->default_category) == NULL)
			sl_conf_error(c->conf, sec, "tenant %s: default_category \"%s\" is not defined",
				      t->name, t->default_category);
		for (size_t k = 0; k < t->ndomains; k++)
			if (!domain_ok(t->domains[k] + (strncmp(t->domains[k], "*.", 2) == 0 ? 2 : 0)))
				sl_conf_error(c->conf, sec, "tenant %s: domains \"%s\": not a lowercase "
					      "domain name (or *.domain)", t->name, t->domains[k]);
		check_sasl_unique(c, sec, t);
	}
}

/* load_rule - one rule "name" { } of the milter section */
static void
load_rule(ml_conf *c, cfg_t *sec, ml_rule *r)
{
	const char *cat = cfg_getstr(sec, "category"), *ten = cfg_getstr(sec, "tenant");
	size_t	nclients;
	const char **clients = str_list(sec, "client", &nclients);

	r->name = cfg_title(sec);
	r->senders = str_list(sec, "sender", &r->nsenders);
	r->froms = str_list(sec, "from", &r->nfroms);
	if (nclients > 0) {
		r->clients = sl_netlist_new();
		for (size_t k = 0; k < nclients; k++)
			if (sl_netlist_add(r->clients, clients[k]) < 0)
				sl_conf_error(c->conf, sec, "rule %s: client \"%s\": not an address or "
					      "CIDR network", r->name, clients[k]);
	}
	free(clients);
	r->category = *cat ? ml_conf_category(c, cat) : NULL;
	r->tenant = *ten ? ml_conf_tenant(c, ten) : NULL;
	if (*cat && r->category == NULL)
		sl_conf_error(c->conf, sec, "rule %s: category \"%s\" is not defined", r->name, cat);
	if (*ten && r->tenant == NULL)
		sl_conf_error(c->conf, sec, "rule %s: tenant \"%s\" is not defined", r->name, ten);
	if (!*cat && !*ten)
		sl_conf_error(c->conf, sec, "rule %s: set a category or a tenant", r->name);
	if (r->nsenders + r->nfroms + nclients == 0)
		sl_conf_error(c->conf, sec, "rule %s: set sender, from or client", r->name);
}

/* load_networks - internal networks: the milter's list, or the top-level one */
static void
load_networks(ml_conf *c, cfg_t *m)
{
	cfg_t  *cfg = c->conf->cfg;
	cfg_t  *src = m;

	if (cfg_size(m, "internal_networks") == 1
	    && strcmp(cfg_getnstr(m, "internal_networks", 0), "inherit") == 0)
		src = cfg;
	c->internal = sl_netlist_new();
	for (unsigned i = 0; i < cfg_size(src, "internal_networks"); i++) {
		const char *n = cfg_getnstr(src, "internal_networks", i);

		if (sl_netlist_add(c->internal, n) < 0)
			sl_conf_error(c->conf, src, "internal_networks: \"%s\" is not an address or "
				      "CIDR network", n);
	}
}

/* load_milter_enums - the options with a fixed set of values */
static void
load_milter_enums(ml_conf *c, cfg_t *m)
{
	static const char *const oie[] = {"tempfail", "accept", NULL};
	static const char *const unk[] = {"default", "reject", NULL};
	static const char *const bind[] = {"enforce", "monitor", NULL};
	static const char *const sfail[] = {"accept", "tempfail", NULL};
	const char *v;
	int	i;

	if ((i = choose(v = cfg_getstr(m, "on_internal_error"), oie)) < 0)
		sl_conf_error(c->conf, m, "milter: on_internal_error \"%s\": use tempfail or accept", v);
	c->on_internal_error = i == 1 ? ML_ACCEPT : ML_TEMPFAIL;
	if ((i = choose(v = cfg_getstr(m, "unknown_category"), unk)) < 0)
		sl_conf_error(c->conf, m, "milter: unknown_category \"%s\": use default or reject", v);
	c->unknown_reject = i == 1;
	if ((i = choose(v = cfg_getstr(m, "sasl_binding"), bind)) < 0)
		sl_conf_error(c->conf, m, "milter: sasl_binding \"%s\": use enforce or monitor", v);
	c->sasl_monitor = i == 1;
	if ((i = choose(v = cfg_getstr(m, "suppression_fail"), sfail)) < 0)
		sl_conf_error(c->conf, m, "milter: suppression_fail \"%s\": use accept or tempfail", v);
	c->supp_fail = i == 1 ? ML_TEMPFAIL : ML_ACCEPT;
}

/*
 * load_suppression - check_suppression, plus what the milter shares with
 * the other programs: the address forms policyd tries (policyd { strip_tag,
 * lowercase_local_part }) and the events stream length (feedback {
 * events_maxlen }), so every program looks up and writes alike
 */
static void
load_suppression(ml_conf *c, cfg_t *m)
{
	cfg_t  *p = cfg_getsec(c->conf->cfg, "policyd");
	cfg_t  *f = cfg_getsec(c->conf->cfg, "feedback");

	c->check_supp = cfg_getbool(m, "check_suppression");
	c->supp_flags = sl_supp_flags(p);
	c->events_maxlen = f ? cfg_getint(f, "events_maxlen") : 100000;
	if (c->events_maxlen < 0)
		c->events_maxlen = 100000;
}

/* load_milter - the milter { } section */
static void
load_milter(ml_conf *c)
{
	cfg_t  *m = cfg_getsec(c->conf->cfg, "milter");
	const char *mode;
	char   *end;

	c->socket = cfg_getstr(m, "socket");
	mode = cfg_getstr(m, "socket_mode");
	c->socket_mode = (int) strtol(mode, &end, 8);
	if (*mode == '\0' || *end != '\0' || c->socket_mode < 0 || c->socket_mode > 0777)
		sl_conf_error(c->conf, m, "milter: socket_mode \"%s\": an octal mode such as 0660", mode);
	if (strncmp(c->socket, "unix:", 5) != 0 && strncmp(c->socket, "local:", 6) != 0
	    && strncmp(c->socket, "inet:", 5) != 0 && strncmp(c->socket, "inet6:", 6) != 0)
		sl_conf_error(c->conf, m, "milter: socket \"%s\": use unix:/path or inet:port@host",
			      c->socket);
	c->timeout = (int) cfg_getint(m, "timeout");
	if (c->timeout < 1 || c->timeout > 3600)
		sl_conf_error(c->conf, m, "milter: timeout must be 1-3600 seconds");
	load_networks(c, m);
	load_milter_enums(c, m);
	c->category_header = cfg_getstr(m, "category_header");
	if (*c->category_header == '\0' || strpbrk(c->category_header, ": \t"))
		sl_conf_error(c->conf, m, "milter: category_header \"%s\" is not a header name",
			      c->category_header);
	c->default_category = cfg_getstr(m, "default_category");
	if (*c->default_category && ml_conf_category(c, c->default_category) == NULL)
		sl_conf_error(c->conf, m, "milter: default_category \"%s\" is not defined",
			      c->default_category);
	c->sender_id = cfg_getstr(m, "sender_id");
	c->use_redis = cfg_getbool(m, "redis");
	c->stats = cfg_getbool(m, "stats");
	c->msg_ttl = cfg_getint(m, "message_ttl");
	load_suppression(c, m);
	c->nrules = cfg_size(m, "rule");
	c->rules = sl_calloc(c->nrules + 1, sizeof(*c->rules));
	for (size_t i = 0; i < c->nrules; i++)
		load_rule(c, cfg_getnsec(m, "rule", (unsigned) i), &c->rules[i]);
}

/* load_secret - the token secret; required once categories exist */
static void
load_secret(ml_conf *c)
{
	const char *path = cfg_getstr(c->conf->cfg, "secret_file");
	char	err[512];

	if (*path == '\0') {
		if (c->ncategories > 0)
			sl_conf_error(c->conf, c->conf->cfg, "secret_file: required for the bounce "
				      "tokens of categories");
		return;
	}
	if (sl_conf_token_ring(c->conf, &c->ring, err, sizeof(err)) < 0)
		sl_conf_error(c->conf, c->conf->cfg, "secret_file: %s", err);
	else
		c->have_key = 1;
}

/* load_inbound - milter { inbound { } } and, when verify is on, its DNS layer */
static void
load_inbound(ml_conf *c)
{
	cfg_t  *m = cfg_getsec(c->conf->cfg, "milter");
	char	err[512];

	c->vopts = sl_calloc(1, sizeof(*c->vopts));
	if (ml_vopts_load(m, c->vopts, err, sizeof(err)) < 0) {
		sl_conf_error(c->conf, cfg_getsec(m, "inbound"), "%s", err);
		return;
	}
	c->pf = sl_calloc(1, sizeof(*c->pf));
	if (ml_pfopts_load(m, c->pf, err, sizeof(err)) < 0) {
		sl_conf_error(c->conf, cfg_getsec(m, "preflight"), "%s", err);
		return;
	}
	if ((c->vopts->verify || c->pf->mode != ML_PF_OFF) &&
	    (c->vdns = ml_vopts_dns(c->vopts, NULL, NULL, err, sizeof(err))) == NULL)
		sl_conf_error(c->conf, cfg_getsec(m, "inbound"), "%s", err);
}

/* ml_conf_load - parse, type and check the whole configuration */
ml_conf *
ml_conf_load(const char *path)
{
	ml_conf *c;
	sl_conf *sc = sl_conf_load(path);

	if (sc == NULL)
		return NULL;
	c = sl_calloc(1, sizeof(*c));
	c->refs = 1;
	c->conf = sc;
	c->path = sc->path;
	c->user = cfg_getstr(sc->cfg, "user");
	load_domains(c);
	load_categories(c);
	load_tenants(c);
	c->tmap = sl_tenant_map_load(c->conf);
	load_milter(c);
	load_inbound(c);
	load_secret(c);
	sl_conf_redis_opts(sc, &c->redis);
	if (sc->errors) {
		sl_error("%s: %d error%s", path, sc->errors, sc->errors == 1 ? "" : "s");
		ml_conf_unref(c);
		return NULL;
	}
	if (c->use_redis)
		c->pool = ml_redis_pool_new(&c->redis);
	return c;
}

/* conf_free - release a snapshot nobody references any more */
static void
conf_free(ml_conf *c)
{
	if (c->vopts)
		ml_vopts_free(c->vopts);
	free(c->vopts);
	if (c->pf)
		ml_pfopts_free(c->pf);
	free(c->pf);
	sl_dns_free(c->vdns);
	for (size_t i = 0; i < c->ndomains; i++) {
		for (size_t k = 0; k < c->domains[i].nkeys; k++)
			ml_key_free(&c->domains[i].keys[k]);
		free(c->domains[i].keys);
	}
	for (size_t i = 0; i < c->ncategories; i++)
		free(c->categories[i].sign_domains);
	for (size_t i = 0; i < c->ntenants; i++) {
		free(c->tenants[i].domains);
		free(c->tenants[i].sasl_users);
	}
	for (size_t i = 0; i < c->nrules; i++) {
		free(c->rules[i].senders);
		free(c->rules[i].froms);
		sl_netlist_free(c->rules[i].clients);
	}
	ml_redis_pool_free(c->pool);
	sl_netlist_free(c->internal);
	free(c->domains);
	free(c->categories);
	free(c->tenants);
	sl_tenant_map_free(c->tmap);
	free(c->rules);
	sl_conf_free(c->conf);
	OPENSSL_cleanse(&c->ring, sizeof(c->ring));
	free(c);
}

/* ml_conf_ref - take one more reference */
ml_conf *
ml_conf_ref(ml_conf *c)
{
	__atomic_add_fetch(&c->refs, 1, __ATOMIC_SEQ_CST);
	return c;
}

/* ml_conf_unref - drop a reference; the last one frees; NULL is a no-op */
void
ml_conf_unref(ml_conf *c)
{
	if (c != NULL && __atomic_sub_fetch(&c->refs, 1, __ATOMIC_SEQ_CST) == 0)
		conf_free(c);
}

/* ml_conf_install - make c current; the old snapshot lives while pinned */
void
ml_conf_install(ml_conf *c)
{
	ml_conf *old;

	pthread_mutex_lock(&conf_lock);
	old = conf_current;
	conf_current = c;
	pthread_mutex_unlock(&conf_lock);
	ml_conf_unref(old);
}

/* ml_conf_current - pin the current snapshot (caller unrefs) */
ml_conf *
ml_conf_current(void)
{
	ml_conf *c;

	pthread_mutex_lock(&conf_lock);
	c = conf_current ? ml_conf_ref(conf_current) : NULL;
	pthread_mutex_unlock(&conf_lock);
	return c;
}

/* ml_conf_category - a category by name, or NULL */
const ml_category *
ml_conf_category(const ml_conf *c, const char *name)
{
	for (size_t i = 0; name && i < c->ncategories; i++)
		if (strcmp(c->categories[i].name, name) == 0)
			return &c->categories[i];
	return NULL;
}

/* ml_conf_tenant - a tenant by name, or NULL */
const ml_tenant *
ml_conf_tenant(const ml_conf *c, const char *name)
{
	for (size_t i = 0; name && i < c->ntenants; i++)
		if (strcmp(c->tenants[i].name, name) == 0)
			return &c->tenants[i];
	return NULL;
}

/* ml_conf_domain - the domain section of exactly this name, or NULL */
const ml_domain *
ml_conf_domain(const ml_conf *c, const char *name)
{
	for (size_t i = 0; name && i < c->ndomains; i++)
		if (strcasecmp(c->domains[i].name, name) == 0)
			return &c->domains[i];
	return NULL;
}

/* ml_conf_base_domain - the longest configured domain equal to or above domain */
const ml_domain *
ml_conf_base_domain(const ml_conf *c, const char *domain)
{
	const ml_domain *best = NULL;

	for (size_t i = 0; domain && i < c->ndomains; i++)
		if (sl_domain_is_under(domain, c->domains[i].name)
		    && (best == NULL || strlen(c->domains[i].name) > strlen(best->name)))
			best = &c->domains[i];
	return best;
}

/* ml_conf_key_domain - the nearest configured domain at or above with keys */
const ml_domain *
ml_conf_key_domain(const ml_conf *c, const char *domain)
{
	const ml_domain *best = NULL;

	for (size_t i = 0; domain && i < c->ndomains; i++)
		if (c->domains[i].nkeys > 0 && sl_domain_is_under(domain, c->domains[i].name)
		    && (best == NULL || strlen(c->domains[i].name) > strlen(best->name)))
			best = &c->domains[i];
	return best;
}
