/*
 * NAME
 *	milter_category 3 - category, tenant and SASL binding of one message
 * SYNOPSIS
 *	ml_decide(conf, input, &decision)
 * DESCRIPTION
 *	A pure function of the config snapshot and what the message told
 *	us (SASL user and its Redis entry, client address, envelope sender,
 *	header From address, category header), so unit tests need no MTA.
 *
 *	A From that ml_from_parse() found ambiguous is refused (5.7.1) for
 *	an authenticated user, left unsigned for an internal client.
 *	SASL binding first: an authenticated user may only send as the From
 *	domains of its Redis entry ("domains"), else of its tenant (Redis
 *	entry "tenant", or the config tenant listing the user). A violation
 *	is a 5.7.1 rejection, or in monitor mode a message left unsigned.
 *	When Redis cannot answer (in->sasl_down), the config decides for the
 *	users its tenants list; anything it cannot allow is deferred (4.7.1).
 *	A tenant's allowed_senders (lib/tenant_map.c) widens this to any
 *	From, or narrows it to its users' own addresses. A client that did
 *	not authenticate but is in a tenant's clients (ml_ip_tenant()) is
 *	bound the same way: its From must pass allowed_senders (unset:
 *	domains), and it is signed only for the tenant's domains. A live
 *	allowed_senders in the tenant's Redis hash (sluicectl tenant policy;
 *	the caller reads it for ml_policy_tenant(), in->live_set) replaces
 *	the configured one, as it does in sluice-policyd.
 *
 *	Tenant, first found: the Redis entry, the config tenant of the SASL
 *	user, the tenant of an IP-authenticated client, the first matching rule that names one, the config tenant
 *	listing the From domain.
 *	Category, first found: the category header (unknown name: reject or
 *	ignore, per unknown_category), the Redis entry, the first matching
 *	rule that names one, the tenant's default, the From domain's default,
 *	the milter default. No category at all: the message is only signed
 *	for its From domain.
 *
 *	The sending domain is the tenant's subdomain, else the category's,
 *	under the configured domain of the From address; the signing
 *	domains follow the category's sign_domains (default: the sending
 *	domain, plus the From domain with sign_parent); for an authenticated
 *	user each must be a domain it may use (ml_sasl_signs), else that
 *	signature is dropped and logged, since the category may come from
 *	a header the sender wrote.
 */
#define _GNU_SOURCE 1		/* FNM_CASEFOLD */
#include "config.h"

#include <ctype.h>
#include <fnmatch.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "log.h"
#include "milter.h"

/* domain_match - one allowed-domain entry: exact, or "*.parent" below it */
static int
domain_match(const char *entry, size_t len, const char *domain)
{
	char	buf[ML_DOMAIN_MAX];

	if (len == 0 || len >= sizeof(buf))
		return 0;
	memcpy(buf, entry, len);
	buf[len] = '\0';
	if (strncmp(buf, "*.", 2) == 0)
		return sl_domain_is_under(domain, buf + 2) && strcasecmp(domain, buf + 2) != 0;
	return strcasecmp(buf, domain) == 0;
}

/* ml_domain_listed - domain is in a comma-separated list of entries */
int
ml_domain_listed(const char *list, const char *domain)
{
	const char *p = list;

	while (p && *p) {
		size_t	n;

		p += strspn(p, ", \t");
		n = strcspn(p, ", \t");
		if (domain_match(p, n, domain))
			return 1;
		p += n;
	}
	return 0;
}

/* ml_domain_in - domain is in an array of entries */
int
ml_domain_in(const char **list, size_t n, const char *domain)
{
	for (size_t i = 0; i < n; i++)
		if (domain_match(list[i], strlen(list[i]), domain))
			return 1;
	return 0;
}

/* tenant_of_user - the config tenant listing a SASL user (lib/tenant_map.c) */
static const struct sl_site_tenant *
tenant_of_user(const ml_conf *c, const char *user)
{
	int	by_ip;

	if (user == NULL || *user == '\0')
		return NULL;
	return sl_tenant_map_find(c->site, NULL, user, NULL, NULL, &by_ip);
}

/* ml_ip_tenant - a client that did not authenticate: its tenant by address, or NULL */
const struct sl_site_tenant *
ml_ip_tenant(const ml_conf *c, const char *sasl_user, const char *client_addr,
             const char *daemon_port)
{
	int	by_ip;

	if (sasl_user && *sasl_user)
		return NULL;
	return sl_tenant_map_find(c->site, NULL, NULL, client_addr, daemon_port, &by_ip);
}

/* tenant_senders - the live allowed_senders, else its section's; unset for none */
static enum sl_senders
tenant_senders(const ml_conf *c, const ml_input *in, const char *name)
{
	const struct sl_site_tenant *t = name ? sl_site_tenant(c->site, name) : NULL;

	if (in->live_set)
		return in->live_senders;
	return t ? t->senders : SL_SENDERS_UNSET;
}

/* tenant_of_domain - the config tenant listing a From domain */
static const struct sl_site_tenant *
tenant_of_domain(const ml_conf *c, const char *domain)
{
	for (size_t i = 0; i < c->site->ntenants; i++)
		if (ml_domain_in(c->site->tenants[i].domains, c->site->tenants[i].ndomains, domain))
			return &c->site->tenants[i];
	return NULL;
}

/* user_tenant - the tenant whose domains bind the SASL user, or NULL */
static const struct sl_site_tenant *
user_tenant(const ml_conf *c, const ml_input *in)
{
	const ml_sasl_entry *e = in->sasl;
	const struct sl_site_tenant *t = NULL;

	if (e && e->found && e->tenant[0])
		t = sl_site_tenant(c->site, e->tenant);
	return t ? t : tenant_of_user(c, in->sasl_user);
}

/*
 * ml_policy_tenant - the tenant whose relay policy applies, as
 * sluice-policyd names it: the SASL user's Redis entry's tenant, else the
 * config tenant listing the user; a client that did not authenticate, the
 * tenant of its address; NULL for none
 */
const char *
ml_policy_tenant(const ml_conf *c, const ml_input *in)
{
	const struct sl_site_tenant *t;
	const struct sl_site_tenant *r;

	if (in->sasl_user && *in->sasl_user) {
		if (in->sasl && in->sasl->found && in->sasl->tenant[0])
			return in->sasl->tenant;
		t = tenant_of_user(c, in->sasl_user);
		return t ? t->name : NULL;
	}
	r = ml_ip_tenant(c, in->sasl_user, in->client_addr, in->daemon_port);
	return r ? r->name : NULL;
}

/* ml_sasl_allows - the authenticated user may send as this From domain */
int
ml_sasl_allows(const ml_conf *c, const ml_input *in, const char *from_domain)
{
	const ml_sasl_entry *e = in->sasl;
	const struct sl_site_tenant *t;

	if (e && e->found && e->domains[0])
		return ml_domain_listed(e->domains, from_domain);
	t = user_tenant(c, in);
	return t != NULL && ml_domain_in(t->domains, t->ndomains, from_domain);
}

/* below_entry - domain is at or below one exact (not "*.") entry of a list */
static int
below_entry(const char *entry, size_t len, const char *domain)
{
	char	buf[ML_DOMAIN_MAX];

	if (len == 0 || len >= sizeof(buf) || entry[0] == '*')
		return 0;
	snprintf(buf, sizeof(buf), "%.*s", (int) len, entry);
	return sl_domain_is_under(domain, buf);
}

/*
 * ml_sasl_signs - the authenticated user may get a signature of this
 * domain: one it may send as, or a subdomain of such a domain given
 * exactly (its own zone: mail.example.com for an entry example.com).
 * Never the operator's domain above it, nor another tenant's.
 */
int
ml_sasl_signs(const ml_conf *c, const ml_input *in, const char *domain)
{
	const ml_sasl_entry *e = in->sasl;
	const struct sl_site_tenant *t;

	if (ml_sasl_allows(c, in, domain))
		return 1;
	if (e && e->found && e->domains[0]) {
		for (const char *p = e->domains; *p;) {
			size_t	n;

			p += strspn(p, ", \t");
			n = strcspn(p, ", \t");
			if (below_entry(p, n, domain))
				return 1;
			p += n;
		}
		return 0;
	}
	t = user_tenant(c, in);
	for (size_t i = 0; t && i < t->ndomains; i++)
		if (below_entry(t->domains[i], strlen(t->domains[i]), domain))
			return 1;
	return 0;
}

/* patterns_match - no patterns, or one matches the address */
static int
patterns_match(const char **pat, size_t n, const char *addr)
{
	if (n == 0)
		return 1;
	for (size_t i = 0; addr && i < n; i++)
		if (fnmatch(pat[i], addr, FNM_CASEFOLD) == 0)
			return 1;
	return 0;
}

/* rule_match - every condition the rule sets holds */
static int
rule_match(const ml_rule *r, const ml_input *in)
{
	return patterns_match(r->senders, r->nsenders, in->env_from)
	    && patterns_match(r->froms, r->nfroms, in->from_addr)
	    && (r->clients == NULL || sl_netlist_match(r->clients, in->client_addr));
}

/* set_tenant - record the tenant by name, with its config section if any */
static void
set_tenant(const ml_conf *c, ml_decision *d, const char *name)
{
	d->tenant = sl_site_tenant(c->site, name);
	snprintf(d->tenant_name, sizeof(d->tenant_name), "%s", name);
}

/* label_ok - a Redis-provided tenant or category name usable in tokens */
static int
label_ok(const char *s)
{
	size_t	n = strlen(s);

	if (n == 0 || n > SL_TOKEN_LABEL_MAX)
		return 0;
	for (; *s; s++)
		if (!islower((unsigned char) *s) && !isdigit((unsigned char) *s))
			return 0;
	return 1;
}

/* choose_tenant - the tenant sources, in order */
static void
choose_tenant(const ml_conf *c, const ml_input *in, ml_decision *d)
{
	const struct sl_site_tenant *t;
	const struct sl_site_tenant *ipt;

	if (in->sasl && in->sasl->found && in->sasl->tenant[0]) {
		if (label_ok(in->sasl->tenant)) {
			set_tenant(c, d, in->sasl->tenant);
			return;
		}
		sl_warn("sasl user %s: tenant \"%s\" in Redis is not a valid name, ignored",
			in->sasl_user, in->sasl->tenant);
	}
	if ((t = tenant_of_user(c, in->sasl_user)) != NULL) {
		set_tenant(c, d, t->name);
		return;
	}
	if ((ipt = ml_ip_tenant(c, in->sasl_user, in->client_addr, in->daemon_port)) != NULL) {
		set_tenant(c, d, ipt->name);
		return;
	}
	for (size_t i = 0; i < c->nrules; i++)
		if (c->rules[i].tenant && rule_match(&c->rules[i], in)) {
			set_tenant(c, d, c->rules[i].tenant->name);
			return;
		}
	if ((t = tenant_of_domain(c, d->from_domain)) != NULL)
		set_tenant(c, d, t->name);
}

/* category_from_header - the explicit header; -1 when it causes a rejection */
static int
category_from_header(const ml_conf *c, const ml_input *in, ml_decision *d)
{
	const char *h = in->header_category;
	char	name[64];
	size_t	n;

	if (h == NULL)
		return 0;
	h += strspn(h, " \t");
	n = strcspn(h, " \t\r\n");
	snprintf(name, sizeof(name), "%.*s", (int) (n < 63 ? n : 63), h);
	for (char *p = name; *p; p++)
		*p = (char) tolower((unsigned char) *p);
	if ((d->category = sl_site_category(c->site, name)) != NULL)
		return 0;
	if (c->unknown_reject) {
		d->verdict = ML_REJECT;
		snprintf(d->reply, sizeof(d->reply), "5.7.0 unknown category \"%s\" in %s",
			 name, c->category_header);
		return -1;
	}
	sl_info("unknown category \"%s\" in %s: using the default", name, c->category_header);
	return 0;
}

/* choose_category - the category sources after the header, in order */
static void
choose_category(const ml_conf *c, const ml_input *in, ml_decision *d)
{
	if (d->category == NULL && in->sasl && in->sasl->found && in->sasl->category[0]) {
		if ((d->category = sl_site_category(c->site, in->sasl->category)) == NULL)
			sl_warn("sasl user %s: category \"%s\" in Redis is not configured, ignored",
				in->sasl_user, in->sasl->category);
	}
	for (size_t i = 0; d->category == NULL && i < c->nrules; i++)
		if (c->rules[i].category && rule_match(&c->rules[i], in))
			d->category = c->rules[i].category;
	if (d->category == NULL && d->tenant && *d->tenant->default_category)
		d->category = sl_site_category(c->site, d->tenant->default_category);
	if (d->category == NULL && d->base && *d->base->default_category)
		d->category = sl_site_category(c->site, d->base->default_category);
	if (d->category == NULL && *c->default_category)
		d->category = sl_site_category(c->site, c->default_category);
}

/* ip_signs - an IP-authenticated tenant's domain, or an exact subdomain of one */
static int
ip_signs(const struct sl_site_tenant *t, const char *domain)
{
	if (sl_tenant_domain_ok(t->domains, t->ndomains, NULL, domain))
		return 1;
	for (size_t i = 0; i < t->ndomains; i++)
		if (below_entry(t->domains[i], strlen(t->domains[i]), domain))
			return 1;
	return 0;
}

/*
 * add_sign - add a signing domain once; for an authenticated user only a
 * domain it may use (ml_sasl_signs): any other is dropped and logged,
 * whatever category (the sender's own header may name it) asked for it
 */
static void
add_sign(const ml_conf *c, const ml_input *in, ml_decision *d, const char *domain)
{
	const struct sl_site_tenant *ipt =
	    ml_ip_tenant(c, in->sasl_user, in->client_addr, in->daemon_port);

	if (in->sasl_user && *in->sasl_user && !ml_sasl_signs(c, in, domain)) {
		sl_warn("sasl user %s: no signature for d=%s (category %s): "
			"not a domain this user may use", in->sasl_user, domain,
			d->category ? d->category->name : "-");
		return;
	}
	if (ipt && !ip_signs(ipt, domain)) {
		sl_warn("client %s (tenant %s): no signature for d=%s: not a domain of "
			"the tenant", in->client_addr, ipt->name, domain);
		return;
	}
	for (size_t i = 0; i < d->nsign; i++)
		if (strcasecmp(d->sign_domains[i], domain) == 0)
			return;
	if (d->nsign < sizeof(d->sign_domains) / sizeof(d->sign_domains[0]))
		snprintf(d->sign_domains[d->nsign++], sizeof(d->sign_domains[0]), "%s", domain);
}

/* choose_domains - sending domain and signing domains */
static void
choose_domains(const ml_conf *c, const ml_input *in, ml_decision *d)
{
	const char *label = "", *tl = "";
	const struct sl_site_category *cat = d->category;
	char	tbuf[64], cbuf[64];

	/* the configured labels, unless sluicectl subdomain move replaced one (milter_relabel.c) */
	if (d->tenant_name[0])
		tl = ml_relabel_label("tenant", d->tenant_name, d->tenant ? d->tenant->subdomain : "",
				      tbuf, sizeof(tbuf));
	if (*tl)
		label = tl;
	else if (cat)
		label = ml_relabel_label("category", cat->name, cat->subdomain, cbuf, sizeof(cbuf));
	if (*label && cat)
		snprintf(d->send_domain, sizeof(d->send_domain), "%s.%s", label, d->base->name);
	else
		snprintf(d->send_domain, sizeof(d->send_domain), "%s", d->from_domain);
	if (cat == NULL || cat->nsign_domains == 0) {
		add_sign(c, in, d, d->send_domain);
		if ((cat && cat->sign_parent) || d->base->sign_parent)
			add_sign(c, in, d, d->from_domain);
		return;
	}
	for (size_t i = 0; i < cat->nsign_domains; i++) {
		const char *s = cat->sign_domains[i];

		add_sign(c, in, d, strcmp(s, "subdomain") == 0 ? d->send_domain
			 : strcmp(s, "from") == 0 ? d->from_domain : s);
	}
}

/* ambiguous_from - a From the receiver may read otherwise: refused or unsigned */
static int
ambiguous_from(const ml_conf *c, const ml_input *in, ml_decision *d)
{
	if (!in->sasl_user || !*in->sasl_user) {
		/* trusted internal client: may use every domain, but nothing is signed */
		d->verdict = ML_UNSIGNED;
		snprintf(d->reply, sizeof(d->reply), "ambiguous From header field (%s)",
			 in->from_ambiguous);
		return 0;
	}
	d->verdict = c->sasl_monitor ? ML_UNSIGNED : ML_REJECT;
	snprintf(d->reply, sizeof(d->reply), "5.7.1 ambiguous From header field (%s): "
		 "write one address, with any display name quoted", in->from_ambiguous);
	return 0;
}

/*
 * binding_offline - Redis could not answer for the SASL user: the config
 * alone decides for a user a config tenant lists; a user it does not
 * know, or a From its tenant does not allow (a Redis entry could widen
 * it), is deferred, never let through
 */
static int
binding_offline(const ml_conf *c, const ml_input *in, ml_decision *d)
{
	int	known = tenant_of_user(c, in->sasl_user) != NULL;

	if (known && ml_sasl_allows(c, in, d->from_domain)) {
		d->verdict = ML_UNSIGNED;
		snprintf(d->reply, sizeof(d->reply), "Redis unavailable for the SASL lookup");
		return 0;
	}
	d->verdict = c->sasl_monitor ? ML_UNSIGNED : ML_DEFER;
	if (known)
		snprintf(d->reply, sizeof(d->reply), "4.7.1 user %.64s may not send mail from domain %.128s "
			 "by the configuration, Redis is unavailable: try again later",
			 in->sasl_user, d->from_domain);
	else
		snprintf(d->reply, sizeof(d->reply), "4.7.1 cannot check what user %.64s may send "
			 "(Redis unavailable): try again later", in->sasl_user);
	return 0;
}

/*
 * sasl_sender_ok - the From an authenticated user may use: its domains
 * (ml_sasl_allows) unless its tenant's allowed_senders says any; with
 * users, also the address itself (lib/tenant_map.c)
 */
static int
sasl_sender_ok(const ml_conf *c, const ml_input *in, const char *from_domain)
{
	const struct sl_site_tenant *t = user_tenant(c, in);
	enum sl_senders s = tenant_senders(c, in, t ? t->name : NULL);

	if (s == SL_SENDERS_ANY)
		return 1;
	if (!ml_sasl_allows(c, in, from_domain))
		return 0;
	return s != SL_SENDERS_USERS ||
	       sl_tenant_sender_ok(t, s, in->sasl_user, in->from_addr, NULL);
}

/* ip_sender_ok - an IP-authenticated client's From: allowed_senders (unset: domains) */
static int
ip_sender_ok(const ml_conf *c, const ml_input *in)
{
	const struct sl_site_tenant *t =
	    ml_ip_tenant(c, in->sasl_user, in->client_addr, in->daemon_port);

	if (t == NULL)
		return 1;
	return sl_tenant_sender_ok(t, sl_tenant_senders_effective(tenant_senders(c, in, t->name), 1),
				   NULL, in->from_addr, NULL);
}

/* ml_decide - everything the milter needs to know about one message */
int
ml_decide(const ml_conf *c, const ml_input *in, ml_decision *d)
{
	const char *dom = in->from_addr ? sl_addr_domain(in->from_addr) : "";

	memset(d, 0, sizeof(*d));
	if (in->from_ambiguous)
		return ambiguous_from(c, in, d);
	snprintf(d->from_domain, sizeof(d->from_domain), "%s", dom);
	for (char *p = d->from_domain; *p; p++)
		*p = (char) tolower((unsigned char) *p);
	if (d->from_domain[0] == '\0') {
		d->verdict = ML_REJECT;
		snprintf(d->reply, sizeof(d->reply), "5.6.0 no address in the From header field");
		return 0;
	}
	if (in->sasl_user && *in->sasl_user && in->sasl_down)
		return binding_offline(c, in, d);
	if (in->sasl_user && *in->sasl_user && !sasl_sender_ok(c, in, d->from_domain)) {
		d->verdict = c->sasl_monitor ? ML_UNSIGNED : ML_REJECT;
		snprintf(d->reply, sizeof(d->reply), "5.7.1 user %s may not send mail from domain %s",
			 in->sasl_user, d->from_domain);
		return 0;
	}
	if (!ip_sender_ok(c, in)) {
		d->verdict = c->sasl_monitor ? ML_UNSIGNED : ML_REJECT;
		snprintf(d->reply, sizeof(d->reply), "5.7.1 client %s may not send mail from %s",
			 in->client_addr, in->from_addr);
		return 0;
	}
	if ((d->base = ml_conf_base_domain(c, d->from_domain)) == NULL) {
		d->verdict = ML_UNSIGNED;
		snprintf(d->reply, sizeof(d->reply), "From domain %s is not configured", d->from_domain);
		return 0;
	}
	if (category_from_header(c, in, d) < 0)
		return 0;
	choose_tenant(c, in, d);
	choose_category(c, in, d);
	choose_domains(c, in, d);
	d->verdict = ML_OK;
	return 0;
}
