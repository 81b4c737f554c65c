/*
 * NAME
 *	ctl_doctor 3 - sluicectl doctor DOMAIN: is what must be published, published?
 * DESCRIPTION
 *	Takes the records "sluicectl dns" would print (ctl_dns_plan_make()) and
 *	looks each one up through lib/dns.c: the zone file of --zone (or
 *	milter { inbound { dns_zone } }), else the server of --nameserver (or
 *	dns_nameserver), else the system's resolver:
 *	  DKIM   a TXT record at <selector>._domainkey.<name> whose p= is the
 *	         public half of the configured key file (another key: FAIL);
 *	  MX     the subdomain's MX includes the --mx host;
 *	  SPF    exactly one v=spf1 record (two are a permerror); a warning
 *	         when it names neither the host (a:HOST) nor mx;
 *	  DMARC  a v=DMARC1 record at _dmarc.<domain>; its policy is shown;
 *	  DMARC-PREFLIGHT  per category: will receivers see DMARC pass for a
 *	         From on the domain, signed as the category signs and sent
 *	         from the category's envelope domain by the relay's
 *	         milter { preflight { relay_addresses } }
 *	         (milter_preflight.c, the milter's own check), when those
 *	         are configured. ok, warn (passes, but DKIM or SPF alone
 *	         would not), FAIL (receivers see DMARC fail).
 *	One line per check (ok, warn, FAIL, ERROR) and a summary.
 * ERRORS
 *	Exit 0 when nothing failed (warnings allowed), 1 when a record is
 *	missing or wrong, 75 when lookups failed (DNS unreachable), 1 when
 *	the domain is not configured.
 */
#define _GNU_SOURCE 1			/* strcasestr */
#include "config.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sysexits.h>

#include "ctl.h"
#include "log.h"
#include "milter_verify.h"

#define DOC_MAX_ANSWERS 16

enum { DOC_OK, DOC_WARN, DOC_FAIL, DOC_ERROR };

typedef struct doc_run {
	sl_dns *dns;
	int	count[4];
} doc_run;

typedef struct doc_answers {
	char   *a[DOC_MAX_ANSWERS];
	int	n;				/* -1: lookup failed */
	char	err[256];
} doc_answers;

/* report - one result line */
static void
report(doc_run *run, int status, const char *name, const char *type, const char *msg)
{
	static const char *const words[] = {"ok", "warn", "FAIL", "ERROR"};

	run->count[status]++;
	printf("%-5s %-48s %-5s %s\n", words[status], name, type, msg);
}

/* lookup - answers of one type (an MX as its host); the caller calls answers_free() */
static void
lookup(doc_run *run, const char *name, enum sl_dns_type type, doc_answers *d)
{
	sl_dns_ans a;

	d->err[0] = '\0';
	d->n = 0;
	if (sl_dns_query(run->dns, name, type, &a) == SL_DNS_TEMP) {
		snprintf(d->err, sizeof(d->err), "%s: lookup failed (timeout or server failure)", name);
		d->n = -1;
		return;
	}
	for (int i = 0; i < a.n && d->n < DOC_MAX_ANSWERS; i++) {
		const char *host = type == SL_DNS_MX && strchr(a.rr[i], ' ') ? strchr(a.rr[i], ' ') + 1
		                                                             : a.rr[i];

		d->a[d->n++] = sl_strdup(host);
	}
	sl_dns_ans_free(&a);
}

/* answers_free - free the answer strings */
static void
answers_free(doc_answers *d)
{
	for (int i = 0; i < d->n; i++)
		free(d->a[i]);
	d->n = 0;
}

/* tag_value - the value of tag t= in a tag list ("v=DKIM1; k=rsa; p=..."), blanks removed */
static void
tag_value(const char *rec, const char *tag, char *out, size_t outlen)
{
	size_t	tl = strlen(tag), o = 0;
	const char *p = rec;

	out[0] = '\0';
	while (*p) {
		p += strspn(p, " \t;");
		if (strncmp(p, tag, tl) == 0 && p[tl + strspn(p + tl, " \t")] == '=') {
			for (p += tl + strspn(p + tl, " \t") + 1; *p && *p != ';' && o + 1 < outlen; p++)
				if (!isspace((unsigned char) *p))
					out[o++] = *p;
			out[o] = '\0';
			return;
		}
		p += strcspn(p, ";");
	}
}

/* check_dkim - the published key is the configured one */
static void
check_dkim(doc_run *run, const ctl_rr *rr)
{
	char	want[2048], got[2048], msg[200];
	doc_answers d;
	int	other = 0;

	tag_value(rr->value, "p", want, sizeof(want));
	lookup(run, rr->name, SL_DNS_TXT, &d);
	if (d.n < 0) {
		report(run, DOC_ERROR, rr->name, "TXT", d.err);
		return;
	}
	for (int i = 0; i < d.n; i++) {
		tag_value(d.a[i], "p", got, sizeof(got));
		if (strcmp(got, want) == 0) {
			report(run, DOC_OK, rr->name, "TXT", "DKIM key matches the key file");
			answers_free(&d);
			return;
		}
		other |= got[0] != '\0';
	}
	snprintf(msg, sizeof(msg), "%s", other ? "DKIM key published is not the configured key"
		 : "no DKIM record: publish it (sluicectl dns)");
	report(run, DOC_FAIL, rr->name, "TXT", msg);
	answers_free(&d);
}

/* check_mx - the subdomain's MX names the host */
static void
check_mx(doc_run *run, const ctl_rr *rr)
{
	char	msg[600];
	doc_answers d;

	lookup(run, rr->name, SL_DNS_MX, &d);
	if (d.n < 0) {
		report(run, DOC_ERROR, rr->name, "MX", d.err);
		return;
	}
	for (int i = 0; i < d.n; i++)
		if (strcasecmp(d.a[i], rr->value) == 0) {
			snprintf(msg, sizeof(msg), "MX %.250s: bounces come back here", rr->value);
			report(run, DOC_OK, rr->name, "MX", msg);
			answers_free(&d);
			return;
		}
	snprintf(msg, sizeof(msg), "%s%.250s: bounces and complaints will not reach sluice-feedback",
		 d.n ? "MX does not include " : "no MX for ", d.n ? rr->value : "the subdomain");
	report(run, DOC_FAIL, rr->name, "MX", msg);
	answers_free(&d);
}

/* check_spf - exactly one SPF record, naming the host */
static void
check_spf(doc_run *run, const ctl_rr *rr, const char *host)
{
	char	msg[600], mech[300];
	const char *spf = NULL;
	doc_answers d;
	int	n = 0;

	lookup(run, rr->name, SL_DNS_TXT, &d);
	if (d.n < 0) {
		report(run, DOC_ERROR, rr->name, "TXT", d.err);
		return;
	}
	for (int i = 0; i < d.n; i++)
		if (strncasecmp(d.a[i], "v=spf1", 6) == 0 && (d.a[i][6] == ' ' || d.a[i][6] == '\0'))
			spf = d.a[i], n++;
	snprintf(mech, sizeof(mech), "a:%s", host);
	if (n == 0)
		report(run, DOC_FAIL, rr->name, "TXT", "no SPF record");
	else if (n > 1)
		report(run, DOC_FAIL, rr->name, "TXT", "several SPF records (a permerror for receivers)");
	else if (strcasestr(spf, mech) == NULL && strcasestr(spf, " mx") == NULL) {
		snprintf(msg, sizeof(msg), "SPF \"%.200s\" names neither %s nor mx", spf, mech);
		report(run, DOC_WARN, rr->name, "TXT", msg);
	} else {
		snprintf(msg, sizeof(msg), "SPF \"%.200s\"", spf);
		report(run, DOC_OK, rr->name, "TXT", msg);
	}
	answers_free(&d);
}

/* check_dmarc - a DMARC record exists; show its policy */
static void
check_dmarc(doc_run *run, const ctl_rr *rr)
{
	char	msg[300], p[64], rua[200];
	doc_answers d;

	lookup(run, rr->name, SL_DNS_TXT, &d);
	if (d.n < 0) {
		report(run, DOC_ERROR, rr->name, "TXT", d.err);
		return;
	}
	for (int i = 0; i < d.n; i++)
		if (strncasecmp(d.a[i], "v=DMARC1", 8) == 0) {
			tag_value(d.a[i], "p", p, sizeof(p));
			tag_value(d.a[i], "rua", rua, sizeof(rua));
			snprintf(msg, sizeof(msg), "DMARC p=%s%s%s", p[0] ? p : "?",
				 rua[0] ? ", reports to " : ", no aggregate reports (rua)", rua);
			report(run, rua[0] ? DOC_OK : DOC_WARN, rr->name, "TXT", msg);
			answers_free(&d);
			return;
		}
	report(run, DOC_FAIL, rr->name, "TXT", "no DMARC record");
	answers_free(&d);
}

/* run_checks - every record of the plan */
static void
run_checks(doc_run *run, const ctl_dns_plan *p, const char *host)
{
	for (int i = 0; i < p->n; i++) {
		const ctl_rr *rr = &p->rr[i];

		if (rr->kind == CTL_RR_DKIM)
			check_dkim(run, rr);
		else if (rr->kind == CTL_RR_MX)
			check_mx(run, rr);
		else if (rr->kind == CTL_RR_SPF)
			check_spf(run, rr, host);
		else if (rr->kind == CTL_RR_DMARC)
			check_dmarc(run, rr);
	}
}

/* sub_name - a category subdomain as a full name under domain ("" for none) */
static void
sub_name(const char *sub, const char *domain, char *out, size_t outlen)
{
	size_t sl = strlen(sub), dl = strlen(domain);

	if (*sub == '\0')
		snprintf(out, outlen, "%s", domain);
	else if (sl > dl && strcmp(sub + sl - dl, domain) == 0)
		snprintf(out, outlen, "%s", sub);
	else
		snprintf(out, outlen, "%s.%s", sub, domain);
}

/* category_signs - the domains a category signs a From on domain with */
static size_t
category_signs(const struct sl_site_category *cat, int domain_parent, const char *domain,
               const char *sub, char out[][SL_DNS_NAME_MAX], size_t max)
{
	size_t n = 0, nd = cat->nsign_domains;

	for (size_t i = 0; i < nd && n < max; i++) {
		const char *v = cat->sign_domains[i];

		snprintf(out[n++], SL_DNS_NAME_MAX, "%s", strcmp(v, "subdomain") == 0 ? sub
		         : strcmp(v, "from") == 0 ? domain : v);
	}
	if (nd == 0) {
		snprintf(out[n++], SL_DNS_NAME_MAX, "%s", sub);
		if ((cat->sign_parent || domain_parent) && strcmp(sub, domain) != 0)
			snprintf(out[n++], SL_DNS_NAME_MAX, "%s", domain);
	}
	return n;
}

/* check_preflight - per category: will receivers see DMARC pass */
static void
check_preflight(doc_run *run, ctl_ctx *ctx, const char *domain, sl_dns *dns)
{
	cfg_t *pf = cfg_getsec(cfg_getsec(ctx->conf->cfg, "milter"), "preflight");
	const sl_site *site = ctx->conf->site;
	const struct sl_site_domain *dsec = sl_site_domain(site, domain);
	size_t nrelay = cfg_size(pf, "relay_addresses"), ncat = site->ncategories;
	const char *relay[16];

	for (size_t i = 0; i < nrelay && i < 16; i++)
		relay[i] = cfg_getnstr(pf, "relay_addresses", (unsigned)i);
	for (size_t c = 0; c < ncat; c++) {
		const struct sl_site_category *cat = &site->categories[c];
		char sub[SL_DNS_NAME_MAX], signs[4][SL_DNS_NAME_MAX], what[SL_DNS_NAME_MAX + 64];
		const char *sp[4];
		size_t ns;
		ml_preflight r;

		sub_name(cat->subdomain, domain, sub, sizeof(sub));
		ns = category_signs(cat, dsec && dsec->sign_parent, domain, sub, signs, 4);
		for (size_t i = 0; i < ns; i++)
			sp[i] = signs[i];
		ml_preflight_check(dns, domain, sp, ns, sub, relay, nrelay < 16 ? nrelay : 16, &r);
		snprintf(what, sizeof(what), "%s (category %s)", domain, cat->name);
		if (r.temp)
			report(run, DOC_ERROR, what, "DMARC", "pre-flight: DNS lookup failed");
		else if (!r.have_policy)
			report(run, DOC_WARN, what, "DMARC", "pre-flight: no DMARC policy to pass");
		else if (!r.would_pass)
			report(run, DOC_FAIL, what, "DMARC", r.why);
		else if (r.why[0])	/* passes, but one of the two would fail alone */
			report(run, DOC_WARN, what, "DMARC", r.why);
		else
			report(run, DOC_OK, what, "DMARC", "pre-flight: DKIM and SPF both aligned");
	}
}

/* preflight - the pre-flight checks, when the relay's addresses are configured */
static void
preflight(doc_run *run, ctl_ctx *ctx, const char *domain)
{
	char err[256];

	if (cfg_size(cfg_getsec(cfg_getsec(ctx->conf->cfg, "milter"), "preflight"), "relay_addresses") == 0)
		return;			/* not configured: the relay's addresses are unknown */
	if (ml_verify_init(err, sizeof(err)) < 0) {
		report(run, DOC_ERROR, domain, "DMARC", err);
		return;
	}
	check_preflight(run, ctx, domain, run->dns);
}

/* ctl_doctor - look up what the domain needs and say what is wrong */
int
ctl_doctor(ctl_ctx *ctx, int argc, char **argv)
{
	const char *mx = NULL, *rua = NULL, *server = NULL, *zone = NULL;
	char	host[256], err[256];
	doc_run	run = {0};
	ml_vopts vo;
	ctl_dns_plan p;
	const ctl_opt opts[] = {CTL_ARG("mx", &mx), CTL_ARG("rua", &rua),
	                        CTL_ARG("nameserver", &server), CTL_ARG("zone", &zone),
	                        CTL_OPT_END};
	const char *domain = argv[ctl_getopt(ctx, argc, argv, opts, 1, 1)];

	if (ml_vopts_load(cfg_getsec(ctx->conf->cfg, "milter"), &vo, err, sizeof(err)) < 0) {
		ctl_err("%s", err);
		return EX_CONFIG;
	}
	run.dns = ml_vopts_dns(&vo, zone, server, err, sizeof(err));
	ml_vopts_free(&vo);
	if (run.dns == NULL) {
		ctl_err("%s", err);
		ctl_usage(ctx);
	}
	if ((mx = ctl_dns_host(mx, host, sizeof(host))) == NULL) {
		sl_dns_free(run.dns);
		ctl_usage(ctx);
	}
	if (ctl_dns_plan_make(ctx, domain, mx, rua, NULL, &p) < 0) {
		sl_dns_free(run.dns);
		return CTL_NO;
	}
	run_checks(&run, &p, mx);
	preflight(&run, ctx, domain);
	printf("%d ok, %d warning%s, %d failed, %d lookup error%s\n", run.count[DOC_OK],
	       run.count[DOC_WARN], run.count[DOC_WARN] == 1 ? "" : "s", run.count[DOC_FAIL],
	       run.count[DOC_ERROR], run.count[DOC_ERROR] == 1 ? "" : "s");
	ctl_dns_plan_free(&p);
	sl_dns_free(run.dns);
	return run.count[DOC_FAIL] || p.errors ? CTL_NO : run.count[DOC_ERROR] ? EX_TEMPFAIL : 0;
}
