/*
 * NAME
 *	milter_conf 3 - typed, validated, reference-counted milter config
 * SYNOPSIS
 *	ml_conf *c = ml_conf_load(path);	NULL after logging every error
 *	ml_conf_install(c);			make it current (takes the ref)
 *	ml_conf *m = ml_conf_current();		pin for one message
 *	ml_conf_unref(m);			unpin
 * DESCRIPTION
 *	ml_conf_load() parses sluice.conf (lib/conf.c), which builds the
 *	site model (lib/site.c: domains, categories, tenants, typed and
 *	checked); adds the site checks the milter makes besides
 *	(sl_site_check_milter), loads each domain's DKIM keys, turns the
 *	milter section into typed values, reads the token secret, and reports
 *	every problem at once as file:line through sl_conf_error(). A snapshot is
 *	immutable once loaded; SIGHUP loads a new one and installs it, while
 *	messages in flight keep the one they pinned until they finish.
 * OWNERSHIP
 *	Strings are borrowed from the libconfuse tree and the site model,
 *	both owned by the sl_conf the snapshot owns.
 *	The snapshot is freed when its last reference goes.
 */
#include "config.h"

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

/* choose - index of value in a NULL-terminated list of names, or -1 */
static int
choose(const char *value, const char *const *names)
{
	for (int i = 0; names[i]; i++)
		if (strcmp(value, names[i]) == 0)
			return i;
	return -1;
}

/* load_keys - one domain's dkim keys, parsed (the site model has their names and files) */
static void
load_keys(sl_conf *sc, const struct sl_site_domain *sd, ml_domain *d)
{
	char	err[512];

	d->nkeys = sd->nkeys;
	d->keys = sl_calloc(d->nkeys + 1, sizeof(*d->keys));
	for (size_t k = 0; k < d->nkeys; k++) {
		ml_key *key = &d->keys[k];

		key->selector = sd->keys[k].selector;
		key->path = sd->keys[k].path;
		key->alg = sd->keys[k].alg == SL_SITE_ED25519 ? ML_ALG_ED25519 : ML_ALG_RSA;
		/* lib/site.c already reported missing or public key files */
		if (sl_conf_check_private_file(key->path, err, sizeof(err)) == 0
		    && ml_key_load(key, err, sizeof(err)) < 0)
			sl_site_key_error(sc, sd, k, "domain %s dkim %s: %s", d->name,
			                  key->selector, err);
	}
}

/* load_domains - the site's domains with their keys loaded */
static void
load_domains(ml_conf *c)
{
	c->ndomains = c->site->ndomains;
	c->domains = sl_calloc(c->ndomains + 1, sizeof(*c->domains));
	for (size_t i = 0; i < c->ndomains; i++) {
		const struct sl_site_domain *sd = &c->site->domains[i];
		ml_domain *d = &c->domains[i];

		d->name = sd->name;
		d->default_category = sd->default_category;
		d->sign_parent = sd->sign_parent;
		load_keys(c->conf, sd, d);
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
	r->category = *cat ? sl_site_category(c->site, cat) : NULL;
	r->tenant = *ten ? sl_site_tenant(c->site, ten) : NULL;
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
	(void) sl_supp_layout_conf(c->conf, &c->supp_layout);
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
	if (*c->default_category && sl_site_category(c->site, c->default_category) == NULL)
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
		if (c->site->ncategories > 0)
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
	c->site = sc->site;
	c->user = cfg_getstr(sc->cfg, "user");
	sl_site_check_milter(c->site, sc);
	load_domains(c);
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
	for (size_t i = 0; i < c->nrules; i++) {
		free(c->rules[i].senders);
		free(c->rules[i].froms);
		sl_netlist_free(c->rules[i].clients);
	}
	ml_redis_pool_free(c->pool);
	sl_netlist_free(c->internal);
	free(c->domains);
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
