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
 *	--mx, default the local host name, which must be fully qualified; the
 *	SPF record is "a:<mx>" unless --ip4/--ip6 give the relay's outgoing
 *	addresses or --spf-include a provider's record); and a DMARC record for the domain
 *	whose aggregate reports go to sluice-feedback on the first subdomain
 *	(--rua overrides). The domain's own SPF record stays the owner's:
 *	a comment says what to add to it. Each record is printed twice: as
 *	zone-file lines (TXT split in 255-byte strings) and as one line
 *	"name TAB type TAB value" for DNS providers' web forms.
 *	ctl_dns_plan_make() computes those records once, for this command and for
 *	"sluicectl doctor", which looks them up (ctl_doctor.c).
 * ERRORS
 *	Exit 1 when the domain is not configured or a key file cannot be
 *	read (the other records are still printed).
 */
#define _GNU_SOURCE 1			/* asprintf */
#include "config.h"

#include <arpa/inet.h>
#include <getopt.h>
#include <netdb.h>
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
	{"ip4", required_argument, NULL, '4'},
	{"ip6", required_argument, NULL, '6'},
	{"spf-include", required_argument, NULL, 'i'},
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
tenant_here(const struct sl_site_tenant *t, const char *domain)
{
	if (t->ndomains == 0)
		return 1;
	for (size_t i = 0; i < t->ndomains; i++)
		if (strcasecmp(t->domains[i], domain) == 0)
			return 1;
	return 0;
}

/* collect_subs - the category and tenant subdomains under domain */
static void
collect_subs(const sl_site *s, const char *domain, dns_names *d)
{
	char   *name;

	for (size_t i = 0; i < s->ncategories; i++) {
		const struct sl_site_category *c = &s->categories[i];

		if ((name = full_name(c->subdomain, domain)) != NULL)
			add_sub(d, name, "category", c->name);
	}
	for (size_t i = 0; i < s->ntenants; i++) {
		const struct sl_site_tenant *t = &s->tenants[i];

		if (tenant_here(t, domain) && (name = full_name(t->subdomain, domain)) != NULL)
			add_sub(d, name, "tenant", t->name);
	}
}

/* plan_add - append a record (or a comment alone with kind CTL_RR_NOTE) */
static void
plan_add(ctl_dns_plan *p, enum ctl_rr_kind kind, const char *name, const char *value,
	 const char *comment)
{
	ctl_rr *rr;

	if (p->n == p->cap) {
		p->cap = p->cap ? p->cap * 2 : 16;
		if ((p->rr = realloc(p->rr, (size_t) p->cap * sizeof(ctl_rr))) == NULL)
			abort();
	}
	rr = &p->rr[p->n++];
	memset(rr, 0, sizeof(*rr));
	rr->kind = kind;
	snprintf(rr->name, sizeof(rr->name), "%s", name ? name : "");
	snprintf(rr->value, sizeof(rr->value), "%s", value ? value : "");
	snprintf(rr->comment, sizeof(rr->comment), "%s", comment ? comment : "");
}

/* plan_dkim - every selector's TXT at the domain and each subdomain */
static void
plan_dkim(ctl_dns_plan *p, const struct sl_site_domain *dom, const char *domain, const dns_names *d)
{
	char	txt[2048], err[512], name[600], note[160];
	const char *first = "DKIM: one record per selector, at each signing domain";

	for (size_t k = 0; k < dom->nkeys; k++) {
		const sl_site_key *key = &dom->keys[k];

		if (ctl_dkim_txt_file(key->path, txt, sizeof(txt), err, sizeof(err)) < 0) {
			ctl_err("dkim %s: %s", key->selector, err);
			snprintf(note, sizeof(note),
			         "selector %s: key file unreadable, record not computed",
			         key->selector);
			plan_add(p, CTL_RR_NOTE, NULL, NULL, note);
			p->errors++;
			continue;
		}
		for (int i = -1; i < d->n; i++) {
			snprintf(name, sizeof(name), "%s._domainkey.%s", key->selector,
			         i < 0 ? domain : d->sub[i]);
			plan_add(p, CTL_RR_DKIM, name, txt, first);
			first = NULL;
		}
	}
	if (dom->nkeys == 0) {
		snprintf(note, sizeof(note), "no dkim selector configured for %s", domain);
		plan_add(p, CTL_RR_NOTE, NULL, NULL, note);
	}
}

/* plan_subs - MX and SPF of each envelope-sender subdomain */
static void
plan_subs(ctl_dns_plan *p, const dns_names *d, const char *mx, const char *spfmech)
{
	char	spf[600], note[160];

	snprintf(note, sizeof(note), "envelope-sender subdomains: bounces and feedback come back to %s", mx);
	plan_add(p, CTL_RR_NOTE, NULL, NULL, note);
	for (int i = 0; i < d->n; i++) {
		plan_add(p, CTL_RR_MX, d->sub[i], mx, d->why[i]);
		if (spfmech && *spfmech)
			snprintf(spf, sizeof(spf), "v=spf1%s -all", spfmech);
		else
			snprintf(spf, sizeof(spf), "v=spf1 a:%s -all", mx);
		plan_add(p, CTL_RR_SPF, d->sub[i], spf, NULL);
	}
	if (d->n == 0)
		plan_add(p, CTL_RR_NOTE, NULL, NULL, "no category or tenant subdomain under this domain");
}

/* plan_dmarc - the domain's DMARC record and a note on its SPF */
static void
plan_dmarc(ctl_dns_plan *p, const char *domain, const dns_names *d, const char *rua, const char *mx)
{
	char	name[300], val[700], def[300], note[200];

	if (rua == NULL) {
		snprintf(def, sizeof(def), "dmarc@%s", d->n ? d->sub[0] : domain);
		rua = def;
	}
	snprintf(name, sizeof(name), "_dmarc.%s", domain);
	snprintf(val, sizeof(val), "v=DMARC1; p=none; rua=mailto:%s; adkim=r; aspf=r",
		 strncmp(rua, "mailto:", 7) == 0 ? rua + 7 : rua);
	plan_add(p, CTL_RR_DMARC, name, val,
		 "DMARC: start with p=none, read the reports, then quarantine or reject");
	snprintf(note, sizeof(note), "%s: keep its own SPF record; add \"a:%s\" to it only if mail "
		 "leaves with %s itself as envelope sender", domain, mx, domain);
	plan_add(p, CTL_RR_NOTE, NULL, NULL, note);
}

/* ctl_dns_plan_make - the records a configured domain needs; -1 if not configured */
int
ctl_dns_plan_make(const ctl_ctx *ctx, const char *domain, const char *mx, const char *rua,
	     const char *spf, ctl_dns_plan *p)
{
	dns_names d = {.n = 0};
	const struct sl_site_domain *dom;

	memset(p, 0, sizeof(*p));
	if ((dom = sl_site_domain(ctx->conf->site, domain)) == NULL) {
		ctl_err("domain %s is not configured in %s", domain, ctx->conf_path);
		return -1;
	}
	collect_subs(ctx->conf->site, domain, &d);
	plan_dkim(p, dom, domain, &d);
	plan_subs(p, &d, mx, spf);
	plan_dmarc(p, domain, &d, rua, mx);
	for (int i = 0; i < d.n; i++)
		free(d.sub[i]);
	return 0;
}

/* ctl_dns_plan_free - release a plan */
void
ctl_dns_plan_free(ctl_dns_plan *p)
{
	free(p->rr);
	memset(p, 0, sizeof(*p));
}

/* ctl_dns_qualified - a fully qualified host name: two labels or more */
int
ctl_dns_qualified(const char *h)
{
	size_t	n = strlen(h);

	return n > 2 && n < 254 && strchr(h, '.') != NULL && h[0] != '.' && strstr(h, "..") == NULL
	    && strspn(h, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-.") == n;
}

/* ctl_dns_host - the --mx host, or this host's qualified name; NULL if unqualified */
const char *
ctl_dns_host(const char *mx, char *buf, size_t buflen)
{
	struct addrinfo hints = {.ai_flags = AI_CANONNAME}, *ai = NULL;

	if (mx) {
		if (ctl_dns_qualified(mx) && mx[strlen(mx) - 1] != '.')
			return mx;
		ctl_err("--mx %s: give a fully qualified host name (mx1.example.net)", mx);
		return NULL;
	}
	if (gethostname(buf, buflen) < 0)
		snprintf(buf, buflen, "localhost");
	buf[buflen - 1] = '\0';
	if (!ctl_dns_qualified(buf) && getaddrinfo(buf, NULL, &hints, &ai) == 0 && ai
	    && ai->ai_canonname && ctl_dns_qualified(ai->ai_canonname))
		snprintf(buf, buflen, "%s", ai->ai_canonname);
	if (ai)
		freeaddrinfo(ai);
	if (!ctl_dns_qualified(buf)) {
		ctl_err("this host's name \"%s\" is not fully qualified: give --mx HOST", buf);
		return NULL;
	}
	ctl_err("note: no --mx given, using this host's name %s", buf);
	return buf;
}

/* spf_add - one --ip4, --ip6 or --spf-include as an SPF mechanism; -1 if bad */
static int
spf_add(char *spf, size_t size, int kind, const char *v)
{
	unsigned char bin[16];
	char	addr[64];
	const char *slash = strchr(v, '/');
	size_t	o = strlen(spf);

	snprintf(addr, sizeof(addr), "%.*s", (int) (slash ? (size_t) (slash - v) : strlen(v)), v);
	if (kind == 'i' && (strchr(v, '.') == NULL || v[0] == '.' || strstr(v, "..")
			    || strspn(v, "abcdefghijklmnopqrstuvwxyz0123456789-._") != strlen(v))) {
		ctl_err("--spf-include %s: give a fully qualified domain", v);
		return -1;
	}
	if (kind != 'i' && (inet_pton(kind == '4' ? AF_INET : AF_INET6, addr, bin) != 1
			    || (slash && (atoi(slash + 1) < 1 || atoi(slash + 1) > (kind == '4' ? 32 : 128)
					  || strspn(slash + 1, "0123456789") != strlen(slash + 1))))) {
		ctl_err("--ip%c %s: not an IPv%c address or network", kind, v, kind);
		return -1;
	}
	snprintf(spf + o, size - o, " %s:%s", kind == 'i' ? "include" : kind == '4' ? "ip4" : "ip6", v);
	return strlen(spf) + 1 < size ? 0 : -1;
}

/* print_rr - one record as a zone-file line, its comment first */
static void
print_rr(const ctl_rr *rr)
{
	if (rr->comment[0])
		printf("; %s\n", rr->comment);
	if (rr->kind == CTL_RR_MX)
		printf("%s. %d IN MX 10 %s.\n", rr->name, DNS_TTL, rr->value);
	else if (rr->kind != CTL_RR_NOTE)
		ctl_dkim_print_txt(stdout, rr->name, rr->value);
}

/* print_single - one record as name, type and one unsplit value (web forms) */
static void
print_single(const ctl_rr *rr)
{
	if (rr->kind == CTL_RR_MX)
		printf("%s\tMX\t10 %s\n", rr->name, rr->value);
	else if (rr->kind != CTL_RR_NOTE)
		printf("%s\tTXT\t%s\n", rr->name, rr->value);
}

/* ctl_dns - the records to publish for a configured domain */
int
ctl_dns(ctl_ctx *ctx, int argc, char **argv)
{
	const char *mx = NULL, *rua = NULL;
	char	host[256], spf[480] = "";
	ctl_dns_plan p;
	int	ch, rc;

	while ((ch = getopt_long(argc, argv, "", dns_longopts, NULL)) != -1) {
		if (ch == 'm')
			mx = optarg;
		else if (ch == 'r')
			rua = optarg;
		else if ((ch == '4' || ch == '6' || ch == 'i') && spf_add(spf, sizeof(spf), ch, optarg) == 0)
			continue;
		else
			ctl_usage(ctx);
	}
	if (argc - optind != 1)
		ctl_usage(ctx);
	if ((mx = ctl_dns_host(mx, host, sizeof(host))) == NULL)
		ctl_usage(ctx);
	if (ctl_dns_plan_make(ctx, argv[optind], mx, rua, spf, &p) < 0)
		return CTL_NO;
	printf("; DNS records for %s (from %s)\n", argv[optind], ctx->conf_path);
	for (int i = 0; i < p.n; i++)
		print_rr(&p.rr[i]);
	printf("\n; the same records as single strings (name, type, value), for DNS web forms:\n");
	for (int i = 0; i < p.n; i++)
		print_single(&p.rr[i]);
	rc = p.errors ? CTL_NO : 0;
	ctl_dns_plan_free(&p);
	return rc;
}
