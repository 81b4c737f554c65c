/*
 * NAME
 *	ctl_dns 3 - sluicectl dns DOMAIN: the DNS records to publish
 * DESCRIPTION
 *	From the config's domain section and the category and tenant
 *	subdomains under it, prints zone-file lines: the DKIM TXT record of
 *	every selector (computed from its key file) at the domain and at each
 *	subdomain, since the milter signs as the subdomain and, optionally,
 *	the parent; an MX and an SPF record for each subdomain (the envelope
 *	sender domain: bounces and feedback come back to this host, named by
 *	--mx, default the local host name); and a DMARC record for the domain
 *	whose aggregate reports go to sluice-feedback on the first subdomain
 *	(--rua overrides). The domain's own SPF record stays the owner's:
 *	a comment says what to add to it.
 * ERRORS
 *	Exit 1 when the domain is not configured or a key file cannot be
 *	read (the other records are still printed).
 */
#define _GNU_SOURCE 1			/* asprintf */
#include "config.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "ctl.h"

#define DNS_TTL 3600
#define DNS_MAX_SUBS 64

static const struct option dns_longopts[] = {
	{"mx", required_argument, NULL, 'm'},
	{"rua", required_argument, NULL, 'r'},
	{NULL, 0, NULL, 0}
};

typedef struct dns_names {
	char   *sub[DNS_MAX_SUBS];	/* subdomains, full names */
	const char *why[DNS_MAX_SUBS];	/* "category news", for comments */
	char	whybuf[DNS_MAX_SUBS][40];
	int	n;
} dns_names;

/* full_name - "news" or "news.example.com" as a full name under domain, or NULL */
static char *
full_name(const char *sub, const char *domain)
{
	size_t	sl = strlen(sub), dl = strlen(domain);
	char   *out;

	if (*sub == '\0')
		return NULL;
	if (sl > dl + 1 && sub[sl - dl - 1] == '.' && strcmp(sub + sl - dl, domain) == 0)
		return strdup(sub);
	if (strchr(sub, '.') && strcmp(sub, domain) != 0)
		return NULL;			/* under another domain */
	if (strcmp(sub, domain) == 0 || asprintf(&out, "%s.%s", sub, domain) < 0)
		return NULL;
	return out;
}

/* add_sub - remember a subdomain once */
static void
add_sub(dns_names *d, char *name, const char *kind, const char *title)
{
	for (int i = 0; i < d->n; i++)
		if (strcmp(d->sub[i], name) == 0) {
			free(name);
			return;
		}
	if (d->n == DNS_MAX_SUBS) {
		free(name);
		return;
	}
	snprintf(d->whybuf[d->n], sizeof(d->whybuf[0]), "%s %s", kind, title);
	d->why[d->n] = d->whybuf[d->n];
	d->sub[d->n++] = name;
}

/* tenant_here - does the tenant send for this domain (or for any) */
static int
tenant_here(cfg_t *t, const char *domain)
{
	if (cfg_size(t, "domains") == 0)
		return 1;
	for (unsigned i = 0; i < cfg_size(t, "domains"); i++)
		if (strcasecmp(cfg_getnstr(t, "domains", i), domain) == 0)
			return 1;
	return 0;
}

/* collect_subs - the category and tenant subdomains under domain */
static void
collect_subs(cfg_t *cfg, const char *domain, dns_names *d)
{
	char   *name;

	for (unsigned i = 0; i < cfg_size(cfg, "category"); i++) {
		cfg_t  *c = cfg_getnsec(cfg, "category", i);

		if ((name = full_name(cfg_getstr(c, "subdomain"), domain)) != NULL)
			add_sub(d, name, "category", cfg_title(c));
	}
	for (unsigned i = 0; i < cfg_size(cfg, "tenant"); i++) {
		cfg_t  *t = cfg_getnsec(cfg, "tenant", i);

		if (tenant_here(t, domain) && (name = full_name(cfg_getstr(t, "subdomain"), domain)) != NULL)
			add_sub(d, name, "tenant", cfg_title(t));
	}
}

/* print_dkim - every selector's TXT at the domain and each subdomain */
static int
print_dkim(cfg_t *dom, const char *domain, const dns_names *d)
{
	char	txt[2048], err[512], name[600];
	int	rc = 0;

	printf("; DKIM: one record per selector, at each signing domain\n");
	for (unsigned k = 0; k < cfg_size(dom, "dkim"); k++) {
		cfg_t  *key = cfg_getnsec(dom, "dkim", k);

		if (ctl_dkim_txt_file(cfg_getstr(key, "key"), txt, sizeof(txt), err, sizeof(err)) < 0) {
			ctl_err("dkim %s: %s", cfg_title(key), err);
			printf("; selector %s: key file unreadable, record not computed\n", cfg_title(key));
			rc = CTL_NO;
			continue;
		}
		snprintf(name, sizeof(name), "%s._domainkey.%s", cfg_title(key), domain);
		ctl_dkim_print_txt(stdout, name, txt);
		for (int i = 0; i < d->n; i++) {
			snprintf(name, sizeof(name), "%s._domainkey.%s", cfg_title(key), d->sub[i]);
			ctl_dkim_print_txt(stdout, name, txt);
		}
	}
	if (cfg_size(dom, "dkim") == 0)
		printf("; no dkim selector configured for %s\n", domain);
	return rc;
}

/* print_subs - MX and SPF of each envelope-sender subdomain */
static void
print_subs(const dns_names *d, const char *mx)
{
	char	spf[600];

	printf("; envelope-sender subdomains: bounces and feedback come back to %s\n", mx);
	for (int i = 0; i < d->n; i++) {
		printf("; %s\n", d->why[i]);
		printf("%s. %d IN MX 10 %s.\n", d->sub[i], DNS_TTL, mx);
		snprintf(spf, sizeof(spf), "v=spf1 a:%s -all", mx);
		ctl_dkim_print_txt(stdout, d->sub[i], spf);
	}
	if (d->n == 0)
		printf("; no category or tenant subdomain under this domain\n");
}

/* print_dmarc - the domain's DMARC record and a note on its SPF */
static void
print_dmarc(const char *domain, const dns_names *d, const char *rua, const char *mx)
{
	char	name[300], val[700], def[300];

	if (rua == NULL) {
		snprintf(def, sizeof(def), "dmarc@%s", d->n ? d->sub[0] : domain);
		rua = def;
	}
	printf("; DMARC: start with p=none, read the reports, then quarantine or reject\n");
	snprintf(name, sizeof(name), "_dmarc.%s", domain);
	snprintf(val, sizeof(val), "v=DMARC1; p=none; rua=mailto:%s; adkim=r; aspf=r",
		 strncmp(rua, "mailto:", 7) == 0 ? rua + 7 : rua);
	ctl_dkim_print_txt(stdout, name, val);
	printf("; %s: keep its own SPF record; add \"a:%s\" to it only if mail leaves "
	       "with %s itself as envelope sender\n", domain, mx, domain);
}

/* ctl_dns - the records to publish for a configured domain */
int
ctl_dns(ctl_ctx *ctx, int argc, char **argv)
{
	const char *mx = NULL, *rua = NULL;
	char	host[256];
	dns_names d = {.n = 0};
	cfg_t  *dom;
	int	ch, rc;

	while ((ch = getopt_long(argc, argv, "", dns_longopts, NULL)) != -1) {
		if (ch == 'm')
			mx = optarg;
		else if (ch == 'r')
			rua = optarg;
		else
			ctl_usage(ctx);
	}
	if (argc - optind != 1)
		ctl_usage(ctx);
	if ((dom = cfg_gettsec(ctx->conf->cfg, "domain", argv[optind])) == NULL) {
		ctl_err("domain %s is not configured in %s", argv[optind], ctx->conf_path);
		return CTL_NO;
	}
	if (mx == NULL) {
		if (gethostname(host, sizeof(host)) < 0)
			snprintf(host, sizeof(host), "localhost");
		host[sizeof(host) - 1] = '\0';
		mx = host;
		ctl_err("note: no --mx given, using this host's name %s", mx);
	}
	printf("; DNS records for %s (from %s)\n", argv[optind], ctx->conf_path);
	collect_subs(ctx->conf->cfg, argv[optind], &d);
	rc = print_dkim(dom, argv[optind], &d);
	print_subs(&d, mx);
	print_dmarc(argv[optind], &d, rua, mx);
	for (int i = 0; i < d.n; i++)
		free(d.sub[i]);
	return rc;
}
