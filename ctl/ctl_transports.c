/*
 * NAME
 *	ctl_transports 3 - sluicectl transports: the Postfix lines of per-category transports
 * DESCRIPTION
 *	A category or tenant names its outgoing transport (transport =
 *	"smtp-news"), and a transport "NAME" section gives that master.cf
 *	service its source address and HELO name (bind_address,
 *	bind_address6, helo_name). Postfix chooses it per recipient with
 *	sender_dependent_default_transport_maps, looked up with the envelope
 *	sender after sluice-milter rewrote it to <token>@<sending domain>:
 *	the sending domain is the category's (or the tenant's) subdomain,
 *	so one map line per sending domain routes that category's mail.
 *	This prints, for the operator to install: the main.cf parameter, the
 *	map (one "@<sub>.<domain> <transport>" line per configured domain
 *	and category or tenant subdomain with a transport), the master.cf
 *	services, and the DNS records each source address needs (PTR to the
 *	HELO name, and the name's A or AAAA record). A tenant with a
 *	subdomain sends all its categories from that subdomain, so its own
 *	transport (or none: the default) applies to all of them.
 * ERRORS
 *	Exit 65 when a transport name or address is malformed, or a category
 *	names a transport with no section (the map lines are printed anyway,
 *	the master.cf service then has to exist already: a comment says so).
 */
#include "config.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>
#include <sysexits.h>

#include "ctl.h"

/* transport_name_ok - a master.cf service name: 1-63 of a-z A-Z 0-9 - _ . */
static int
transport_name_ok(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > 63)
		return 0;
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
		      (*s >= '0' && *s <= '9') || *s == '-' || *s == '_' || *s == '.'))
			return 0;
	return 1;
}

/* map_lines - the map lines of one label (category or tenant) under every domain */
static void
map_lines(const sl_site *site, const char *label, const char *transport, const char *why)
{
	for (size_t i = 0; i < site->ndomains; i++)
		printf("@%s.%s\t%s\t# %s\n", label, site->domains[i].name, transport, why);
}

/* map_entry - the map lines of one tenant or category; 1 if its transport is bad */
static int
map_entry(const sl_site *site, const char *kind, const char *name, const char *t, const char *label)
{
	char why[100];

	if (*t == '\0')
		return 0;
	snprintf(why, sizeof(why), "%s %s", kind, name);
	if (!transport_name_ok(t)) {
		ctl_err("%s: transport \"%s\": a master.cf service name", why, t);
		return 1;
	}
	if (*label == '\0')
		printf("# %s: transport %s, but no subdomain: its mail cannot be told "
		       "apart by the envelope sender\n",
		       why, t);
	else
		map_lines(site, label, t, why);
	return 0;
}

/* the_map - the sender_dependent_default_transport_maps source; problems counted */
static int
the_map(const sl_site *site)
{
	int bad = 0;

	printf("# /etc/postfix/sluice_transport (then: postmap /etc/postfix/sluice_transport)\n");
	for (size_t i = 0; i < site->ntenants; i++)
		bad += map_entry(site, "tenant", site->tenants[i].name, site->tenants[i].transport,
		                 site->tenants[i].subdomain);
	for (size_t i = 0; i < site->ncategories; i++)
		bad += map_entry(site, "category", site->categories[i].name,
		                 site->categories[i].transport, site->categories[i].subdomain);
	return bad;
}

/* reverse_name - the PTR owner name of an address; -1 when it is none */
static int
reverse_name(const char *addr, char *out, size_t outlen)
{
	unsigned char b[16];
	size_t len = 0;

	if (inet_pton(AF_INET, addr, b) == 1)
		return snprintf(out, outlen, "%u.%u.%u.%u.in-addr.arpa.", b[3], b[2], b[1], b[0]) <
		               (int)outlen
		           ? 0
		           : -1;
	if (inet_pton(AF_INET6, addr, b) != 1)
		return -1;
	for (int i = 15; i >= 0 && len + 4 < outlen; i--)
		len += (size_t)snprintf(out + len, outlen - len, "%x.%x.", b[i] & 15, b[i] >> 4);
	return snprintf(out + len, outlen - len, "ip6.arpa.") < (int)(outlen - len) ? 0 : -1;
}

/* one_service - the master.cf lines and DNS records of one transport section */
static int
one_service(cfg_t *t, FILE *dns)
{
	const char *name = cfg_title(t), *helo = cfg_getstr(t, "helo_name");
	const char *addr[2] = {cfg_getstr(t, "bind_address"), cfg_getstr(t, "bind_address6")};
	const char *opt[2] = {"smtp_bind_address", "smtp_bind_address6"};
	char ptr[128];
	int bad = 0;

	if (!transport_name_ok(name)) {
		ctl_err("transport \"%s\": a master.cf service name", name);
		return 1;
	}
	printf("%s\tunix\t-\t-\tn\t-\t-\tsmtp\n", name);
	for (int i = 0; i < 2; i++) {
		if (*addr[i] == '\0')
			continue;
		if (reverse_name(addr[i], ptr, sizeof(ptr)) < 0 ||
		    (i == 0) != (strchr(addr[i], ':') == NULL)) {
			ctl_err("transport %s: %s \"%s\": an IPv%d address", name,
			        i ? "bind_address6" : "bind_address", addr[i], i ? 6 : 4);
			bad++;
			continue;
		}
		printf("  -o %s=%s\n", opt[i], addr[i]);
		if (*helo)
			fprintf(dns, "%s\tPTR\t%s.\n%s.\t%s\t%s\n", ptr, helo, helo,
			        i ? "AAAA" : "A", addr[i]);
	}
	if (*helo)
		printf("  -o smtp_helo_name=%s\n", helo);
	printf("  -o syslog_name=postfix-%s\n", name); /* logd reads any syslog_name */
	return bad;
}

/* missing_one - say so when a transport named by a category or tenant has no section */
static void
missing_one(cfg_t *root, const char *t)
{
	if (*t && transport_name_ok(t) && cfg_gettsec(root, "transport", t) == NULL)
		printf("# %s: no transport section; define this service yourself\n", t);
}

/* missing - transports named by a category or tenant without a section */
static void
missing(cfg_t *root, const sl_site *site)
{
	for (size_t i = 0; i < site->ntenants; i++)
		missing_one(root, site->tenants[i].transport);
	for (size_t i = 0; i < site->ncategories; i++)
		missing_one(root, site->categories[i].transport);
}

/* ctl_transports - print the main.cf, map, master.cf and DNS lines */
int
ctl_transports(ctl_ctx *ctx, int argc, char **argv)
{
	cfg_t *root = ctx->conf->cfg;
	FILE *dns = tmpfile();
	int bad = 0;
	char line[512];

	(void)argv;
	if (argc != 1 || dns == NULL)
		ctl_usage(ctx);
	printf("# main.cf\nsender_dependent_default_transport_maps = "
	       "hash:/etc/postfix/sluice_transport\n\n");
	bad += the_map(ctx->conf->site);
	printf("\n# master.cf\n");
	for (unsigned i = 0; i < cfg_size(root, "transport"); i++)
		bad += one_service(cfg_getnsec(root, "transport", i), dns);
	missing(root, ctx->conf->site);
	printf("\n# DNS: each source address needs a PTR to its HELO name, and the name "
	       "an address record\n");
	rewind(dns);
	while (fgets(line, sizeof(line), dns) != NULL)
		fputs(line, stdout);
	fclose(dns);
	return bad ? EX_DATAERR : 0;
}
