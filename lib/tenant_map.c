/*
 * NAME
 *	tenant_map 3 - the tenant of a client, and the senders it may use
 * SYNOPSIS
 *	#include "tenant_map.h"
 * DESCRIPTION
 *	The tenants of the site model (site.c reads and checks the
 *	sections of sluice.conf):
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

/* port_ok - the listener port is one of the tenant's client_ports (or it has none) */
static int
port_ok(const struct sl_site_tenant *t, const char *port)
{
	if (t->nports == 0)
		return 1;
	for (size_t i = 0; port && *port && i < t->nports; i++)
		if (strcmp(t->ports[i], port) == 0)
			return 1;
	return 0;
}

/* sl_tenant_map_find - the tenant of a client (see DESCRIPTION); NULL: none in config */
const struct sl_site_tenant *
sl_tenant_map_find(const sl_site *m, const char *redis_tenant, const char *sasl_user,
                   const char *client_addr, const char *server_port, int *by_ip)
{
	*by_ip = 0;
	if (m == NULL)
		return NULL;
	if (redis_tenant && *redis_tenant)
		return sl_site_tenant(m, redis_tenant);
	if (sasl_user && *sasl_user) {
		for (size_t i = 0; i < m->ntenants; i++)
			for (size_t k = 0; k < m->tenants[i].nsasl_users; k++)
				if (strcmp(m->tenants[i].sasl_users[k], sasl_user) == 0)
					return &m->tenants[i];
		return NULL;
	}
	for (size_t i = 0; client_addr && *client_addr && i < m->ntenants; i++)
		if (m->tenants[i].clients && sl_netlist_match(m->tenants[i].clients, client_addr) &&
		    port_ok(&m->tenants[i], server_port)) {
			*by_ip = 1;
			return &m->tenants[i];
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
sl_tenant_sender_ok(const struct sl_site_tenant *t, enum sl_senders senders, const char *sasl_user,
                    const char *address, const char *sasl_domains)
{
	const char *at;

	if (senders == SL_SENDERS_UNSET || senders == SL_SENDERS_ANY || address == NULL ||
	    *address == '\0')
		return 1;
	if (senders == SL_SENDERS_USERS) {
		if (sasl_user && *sasl_user && strcasecmp(sasl_user, address) == 0)
			return 1;
		for (size_t i = 0; t && i < t->nsasl_users; i++)
			if (strcasecmp(t->sasl_users[i], address) == 0)
				return 1;
		return 0;
	}
	if ((at = strrchr(address, '@')) == NULL)
		return 0;
	return sl_tenant_domain_ok(t ? t->domains : NULL, t ? t->ndomains : 0, sasl_domains,
	                           at + 1);
}
