/*
 * NAME
 *	tenant_map 3 - the tenant of a client, and the senders it may use
 * SYNOPSIS
 *	#include "tenant_map.h"
 * DESCRIPTION
 *	Built from the tenant sections of sluice.conf:
 *
 *	  tenant "shop1" {
 *	    domains = { "shop1.example", "*.shop1.example" }
 *	    sasl_users = { "shop1" }
 *	    clients = { "192.0.2.0/28", "2001:db8:5::/48" }  # IP-authenticated
 *	    client_ports = { 2525 }    # only on this listener (default: all)
 *	    require_tls = yes          # plain-text submissions refused (5.7.10)
 *	    allowed_senders = domains  # domains | users | any (unset: From binding only)
 *	  }
 *
 *	sl_tenant_map_find() is the one mapping both daemons use, first
 *	found: the tenant of the SASL user's Redis entry (sluice:sasl:<user>
 *	tenant), the tenant whose sasl_users lists the user; for a client
 *	that did not authenticate, the first tenant (in file order) whose
 *	clients contain its address (*by_ip is then 1), on a listener port
 *	its client_ports lists when it lists any (the policy request's
 *	server_port, the milter's {daemon_port}; unknown: no match). So a
 *	shared provider's servers, which also deliver inbound mail, are a
 *	tenant only on the port its route uses. An authenticated client is
 *	never mapped by address.
 *
 *	For an IP-authenticated client, unset allowed_senders means domains
 *	(sl_tenant_senders_effective()): it has no other binding.
 *	sl_tenant_sender_ok() applies allowed_senders to one address (the
 *	envelope sender in sluice-policyd, the header From in sluice-milter):
 *	domains: its domain is one of the SASL user's Redis "domains" when it
 *	has some, else of the tenant's domains ("*.d" is strictly below d);
 *	users: it is the SASL user name itself, or one of the tenant's
 *	sasl_users (case-insensitive); any: anything. The null sender
 *	(bounces) passes: it names no domain, and the milter still binds the
 *	From. sluice:tenant:<t> may override require_tls and allowed_senders
 *	live (sl_live_tenant_field() checks them); clients are config only,
 *	like the Postfix client lists that must grant them relaying too
 *	(doc/policyd.md, "Why clients is not live").
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "log.h"
#include "tenant_map.h"

struct sl_tenant_map {
	sl_tenant_rule *t;
	size_t n;
};

/* sl_tenant_senders_parse - "domains", "users", "any" ("" unset); -1 otherwise */
int
sl_tenant_senders_parse(const char *s)
{
	static const char *names[] = {"", "domains", "users", "any"};

	for (int i = 0; i < 4; i++)
		if (strcmp(s, names[i]) == 0)
			return i;
	return -1;
}

/* sl_tenant_senders_name - the name of an allowed_senders value */
const char *
sl_tenant_senders_name(enum sl_senders s)
{
	return s == SL_SENDERS_DOMAINS ? "domains"
	       : s == SL_SENDERS_USERS ? "users"
	       : s == SL_SENDERS_ANY   ? "any"
	                               : "unset";
}

/* str_list - a string list option, borrowed from the config */
static const char **
str_list(cfg_t *sec, const char *name, size_t *n)
{
	const char **v;

	*n = cfg_size(sec, name);
	v = sl_calloc(*n + 1, sizeof(*v));
	for (size_t i = 0; i < *n; i++)
		v[i] = cfg_getnstr(sec, name, (unsigned)i);
	return v;
}

/* load_clients - the clients list, or NULL when empty; bad entries reported */
static sl_netlist *
load_clients(sl_conf *c, cfg_t *sec, int report)
{
	unsigned n = cfg_size(sec, "clients");
	sl_netlist *nl;

	if (n == 0)
		return NULL;
	nl = sl_netlist_new();
	for (unsigned i = 0; i < n; i++) {
		const char *s = cfg_getnstr(sec, "clients", i);

		if (sl_netlist_add(nl, s) < 0 && report)
			sl_conf_error(c, sec,
			              "tenant %s: clients \"%s\": not an address or "
			              "address/bits",
			              cfg_title(sec), s);
	}
	return nl;
}

/* load_ports - client_ports as strings (compared with server_port), checked */
static const char **
load_ports(sl_conf *c, cfg_t *sec, int report, size_t *n)
{
	const char **v = str_list(sec, "client_ports", n);

	for (size_t i = 0; i < *n; i++) {
		size_t len = strlen(v[i]);
		long p = strtol(v[i], NULL, 10);

		if (report && (len == 0 || len > 5 || strspn(v[i], "0123456789") != len || p < 1 ||
		               p > 65535))
			sl_conf_error(c, sec, "tenant %s: client_ports \"%s\": not a port number",
			              cfg_title(sec), v[i]);
	}
	if (report && *n && cfg_size(sec, "clients") == 0)
		sl_conf_error(c, sec, "tenant %s: client_ports without clients", cfg_title(sec));
	return v;
}

/* port_ok - the listener port is one of the tenant's client_ports (or it has none) */
static int
port_ok(const sl_tenant_rule *t, const char *port)
{
	if (t->nports == 0)
		return 1;
	for (size_t i = 0; port && *port && i < t->nports; i++)
		if (strcmp(t->ports[i], port) == 0)
			return 1;
	return 0;
}

/* map_build - the table from the tenant sections; report: say what is wrong */
static sl_tenant_map *
map_build(sl_conf *c, int report)
{
	sl_tenant_map *m = sl_calloc(1, sizeof(*m));
	cfg_t *cfg = c->cfg;

	m->n = cfg_size(cfg, "tenant");
	m->t = sl_calloc(m->n + 1, sizeof(*m->t));
	for (size_t i = 0; i < m->n; i++) {
		cfg_t *sec = cfg_getnsec(cfg, "tenant", (unsigned)i);
		sl_tenant_rule *t = &m->t[i];
		const char *snd = cfg_getstr(sec, "allowed_senders");
		int s = sl_tenant_senders_parse(snd);

		t->name = cfg_title(sec);
		t->default_category = cfg_getstr(sec, "default_category");
		t->domains = str_list(sec, "domains", &t->ndomains);
		t->users = str_list(sec, "sasl_users", &t->nusers);
		t->clients = load_clients(c, sec, report);
		t->ports = load_ports(c, sec, report, &t->nports);
		t->require_tls = cfg_getbool(sec, "require_tls") ? 1 : 0;
		t->senders = s < 0 ? SL_SENDERS_UNSET : (enum sl_senders)s;
		if (s < 0 && report)
			sl_conf_error(c, sec,
			              "tenant %s: allowed_senders \"%s\": use domains, "
			              "users or any",
			              t->name, snd);
		if (report && t->senders == SL_SENDERS_USERS && t->nusers == 0 && t->clients)
			sl_conf_error(c, sec,
			              "tenant %s: allowed_senders = users needs sasl_users "
			              "(the addresses its IP clients may send as)",
			              t->name);
	}
	return m;
}

/* sl_tenant_map_check - report every error of the tenant sections (conf.c) */
void
sl_tenant_map_check(sl_conf *c)
{
	sl_tenant_map_free(map_build(c, 1));
}

/* sl_tenant_map_load - the table of a config that passed its checks */
sl_tenant_map *
sl_tenant_map_load(sl_conf *c)
{
	return map_build(c, 0);
}

/* sl_tenant_map_free - release the table (the strings belong to the config) */
void
sl_tenant_map_free(sl_tenant_map *m)
{
	if (m == NULL)
		return;
	for (size_t i = 0; i < m->n; i++) {
		free(m->t[i].domains);
		free(m->t[i].users);
		free(m->t[i].ports);
		sl_netlist_free(m->t[i].clients);
	}
	free(m->t);
	free(m);
}

/* sl_tenant_map_get - the config tenant of that name, or NULL */
const sl_tenant_rule *
sl_tenant_map_get(const sl_tenant_map *m, const char *name)
{
	for (size_t i = 0; m && name && i < m->n; i++)
		if (strcmp(m->t[i].name, name) == 0)
			return &m->t[i];
	return NULL;
}

/* sl_tenant_map_find - the tenant of a client (see DESCRIPTION); NULL: none in config */
const sl_tenant_rule *
sl_tenant_map_find(const sl_tenant_map *m, const char *redis_tenant, const char *sasl_user,
                   const char *client_addr, const char *server_port, int *by_ip)
{
	*by_ip = 0;
	if (m == NULL)
		return NULL;
	if (redis_tenant && *redis_tenant)
		return sl_tenant_map_get(m, redis_tenant);
	if (sasl_user && *sasl_user) {
		for (size_t i = 0; i < m->n; i++)
			for (size_t k = 0; k < m->t[i].nusers; k++)
				if (strcmp(m->t[i].users[k], sasl_user) == 0)
					return &m->t[i];
		return NULL;
	}
	for (size_t i = 0; client_addr && *client_addr && i < m->n; i++)
		if (m->t[i].clients && sl_netlist_match(m->t[i].clients, client_addr) &&
		    port_ok(&m->t[i], server_port)) {
			*by_ip = 1;
			return &m->t[i];
		}
	return NULL;
}

/* entry_match - one domain entry (len bytes): exact, or "*.parent" strictly below */
static int
entry_match(const char *e, size_t len, const char *domain)
{
	char buf[256];

	if (len == 0 || len >= sizeof(buf))
		return 0;
	memcpy(buf, e, len);
	buf[len] = '\0';
	if (strncmp(buf, "*.", 2) == 0)
		return sl_domain_is_under(domain, buf + 2) && strcasecmp(domain, buf + 2) != 0;
	return strcasecmp(buf, domain) == 0;
}

/* sl_tenant_domain_ok - domain in the csv list when not empty, else in list[n] */
int
sl_tenant_domain_ok(const char **list, size_t n, const char *csv, const char *domain)
{
	if (csv && *csv) {
		for (const char *p = csv; *p;) {
			size_t len;

			p += strspn(p, ", \t");
			len = strcspn(p, ", \t");
			if (entry_match(p, len, domain))
				return 1;
			p += len;
		}
		return 0;
	}
	for (size_t i = 0; i < n; i++)
		if (entry_match(list[i], strlen(list[i]), domain))
			return 1;
	return 0;
}

/* sl_tenant_senders_effective - unset means domains for an IP-authenticated client */
enum sl_senders
sl_tenant_senders_effective(enum sl_senders s, int by_ip)
{
	return s == SL_SENDERS_UNSET && by_ip ? SL_SENDERS_DOMAINS : s;
}

/* sl_tenant_sender_ok - may this client send as address (see DESCRIPTION)? */
int
sl_tenant_sender_ok(const sl_tenant_rule *t, enum sl_senders senders, const char *sasl_user,
                    const char *address, const char *sasl_domains)
{
	const char *at;

	if (senders == SL_SENDERS_UNSET || senders == SL_SENDERS_ANY || address == NULL ||
	    *address == '\0')
		return 1;
	if (senders == SL_SENDERS_USERS) {
		if (sasl_user && *sasl_user && strcasecmp(sasl_user, address) == 0)
			return 1;
		for (size_t i = 0; t && i < t->nusers; i++)
			if (strcasecmp(t->users[i], address) == 0)
				return 1;
		return 0;
	}
	if ((at = strrchr(address, '@')) == NULL)
		return 0;
	return sl_tenant_domain_ok(t ? t->domains : NULL, t ? t->ndomains : 0, sasl_domains,
	                           at + 1);
}
