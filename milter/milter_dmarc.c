/*
 * NAME
 *	milter_dmarc 3 - DMARC (RFC 9989) for one From domain
 * SYNOPSIS
 *	ml_dmarc_check(dns, from_domain, &spf, sigs, nsigs, &result);
 *	ml_dmarc_parse(txt, &rec);	0, or -1 for a record that is not DMARC
 *	ml_dmarc_org_domain(dns, domain, out, outlen);
 * DESCRIPTION
 *	Policy discovery is the DNS tree walk of RFC 9989: _dmarc at the
 *	author domain, then, while no valid record is found, at the domain
 *	with the 7 rightmost labels when it has 8 or more, else without its
 *	leftmost label, down to the top-level domain.
 *	The organizational domain is found by the same walk: the first
 *	record with psd=n; the domain one label below the first record with
 *	psd=y (other than the starting domain's); else the record with the
 *	fewest labels; else the domain itself. No public suffix list, and
 *	no libopendmarc: its alignment is wrong (strict alignment passes
 *	for a subdomain when a suffix list is loaded) and it knows neither
 *	the tree walk nor psd= and np=. Records are parsed here.
 *	Alignment: strict is equality, relaxed is equal organizational
 *	domains. SPF counts only when it passed for MAIL FROM; DKIM when any
 *	valid signature's d= aligns.
 *	Policy: the record at the author domain gives p; a record found
 *	higher gives np when the author domain does not exist (NXDOMAIN)
 *	and np is set, else sp when set, else p. RFC 7489's pct, where a
 *	record still has it, and RFC 9989's t=y apply the next lower policy
 *	to the messages left out.
 * ERRORS
 *	A temporary DNS error during the walk is temperror: the caller
 *	decides (tempfail or accept), never a guess that the domain has no
 *	policy.
 */
#include "config.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "log.h"
#include "milter_verify.h"

#define WALK_LABELS_MAX 7

/* ml_dmarc_policy_name - "none", "quarantine", "reject" */
const char *
ml_dmarc_policy_name(enum ml_dmarc_policy p)
{
	return p == ML_P_REJECT ? "reject" : p == ML_P_QUARANTINE ? "quarantine" : "none";
}

/* policy_word - a p/sp/np value; ML_P_UNSET when not one of the three */
static enum ml_dmarc_policy
policy_word(const char *v, size_t n)
{
	if (n == 4 && strncasecmp(v, "none", 4) == 0)
		return ML_P_NONE;
	if (n == 10 && strncasecmp(v, "quarantine", 10) == 0)
		return ML_P_QUARANTINE;
	if (n == 6 && strncasecmp(v, "reject", 6) == 0)
		return ML_P_REJECT;
	return ML_P_UNSET;
}

/* tag_set - apply one tag=value of a record */
static void
tag_set(ml_dmarc_rec *r, const char *t, size_t tn, const char *v, size_t vn)
{
#define TAG(s) (tn == sizeof(s) - 1 && strncasecmp(t, s, tn) == 0)
	if (TAG("p"))
		r->p = policy_word(v, vn);
	else if (TAG("sp"))
		r->sp = policy_word(v, vn);
	else if (TAG("np"))
		r->np = policy_word(v, vn);
	else if (TAG("adkim"))
		r->adkim_strict = vn == 1 && tolower((unsigned char)*v) == 's';
	else if (TAG("aspf"))
		r->aspf_strict = vn == 1 && tolower((unsigned char)*v) == 's';
	else if (TAG("t"))
		r->testing = vn == 1 && tolower((unsigned char)*v) == 'y';
	else if (TAG("psd") && vn == 1 && strchr("ynYN", *v))
		r->psd = tolower((unsigned char)*v);
	else if (TAG("pct") && vn > 0 && vn <= 3 && strspn(v, "0123456789") >= vn) {
		int pct = atoi(v);

		r->pct = pct > 100 ? 100 : pct;
	} else if (TAG("rua"))
		snprintf(r->rua, sizeof(r->rua), "%.*s", (int)vn, v);
#undef TAG
}

/* trim - the span of s[0..n) without surrounding white space */
static void
trim(const char **s, size_t *n)
{
	while (*n && isspace((unsigned char)**s))
		(*s)++, (*n)--;
	while (*n && isspace((unsigned char)(*s)[*n - 1]))
		(*n)--;
}

/* ml_dmarc_parse - a TXT record as DMARC tags; -1 when not v=DMARC1 */
int
ml_dmarc_parse(const char *txt, ml_dmarc_rec *r)
{
	const char *s = txt;
	int first = 1;

	memset(r, 0, sizeof(*r));
	r->pct = 100;
	while (*s) {
		size_t len = strcspn(s, ";"), tn, vn;
		const char *eq = memchr(s, '=', len), *t = s, *v;

		if (eq) {
			tn = (size_t)(eq - s);
			v = eq + 1;
			vn = len - tn - 1;
			trim(&t, &tn);
			trim(&v, &vn);
			if (first &&
			    !(tn == 1 && *t == 'v' && vn == 6 && strncmp(v, "DMARC1", 6) == 0))
				return -1;
			if (!first)
				tag_set(r, t, tn, v, vn);
			first = 0;
		} else if (first)
			return -1;
		s += len + (s[len] == ';');
	}
	if (first)
		return -1;
	if (r->p == ML_P_UNSET) /* RFC 9989: absent or invalid p is none */
		r->p = ML_P_NONE;
	return 0;
}

/* labels - how many labels a domain has */
static int
labels(const char *d)
{
	int n = 1;

	for (; *d; d++)
		n += *d == '.';
	return n;
}

/* suffix - the rightmost k labels of d */
static const char *
suffix(const char *d, int k)
{
	int skip = labels(d) - k;

	while (skip-- > 0 && strchr(d, '.'))
		d = strchr(d, '.') + 1;
	return d;
}

/* next_target - the next name of the tree walk, or NULL after the TLD */
static const char *
next_target(const char *t)
{
	int n = labels(t);

	if (n == 1)
		return NULL;
	return suffix(t, n > WALK_LABELS_MAX ? WALK_LABELS_MAX : n - 1);
}

/* fetch - the one valid DMARC record at _dmarc.domain: 1 found, 0 none, -1 temp */
static int
fetch(sl_dns *d, const char *domain, ml_dmarc_rec *r)
{
	char name[SL_DNS_NAME_MAX + 8];
	sl_dns_ans a = {0};
	int found = 0;
	ml_dmarc_rec tmp;

	if ((size_t)snprintf(name, sizeof(name), "_dmarc.%s", domain) >= sizeof(name))
		return 0;
	if (sl_dns_query(d, name, SL_DNS_TXT, &a) == SL_DNS_TEMP)
		return -1;
	for (int i = 0; i < a.n; i++)
		if (ml_dmarc_parse(a.rr[i], &tmp) == 0) {
			*r = tmp;
			found++;
		}
	sl_dns_ans_free(&a);
	return found == 1; /* several records: as if none (RFC 9989) */
}

/* ml_dmarc_org_domain - the organizational domain by the tree walk; -1 on DNS trouble */
int
ml_dmarc_org_domain(sl_dns *d, const char *domain, char *out, size_t outlen)
{
	const char *t = domain, *best = NULL;
	ml_dmarc_rec r;
	int rc;

	snprintf(out, outlen, "%s", domain);
	for (; t; t = next_target(t)) {
		if ((rc = fetch(d, t, &r)) < 0)
			return -1;
		if (rc == 0)
			continue;
		if (r.psd == 'n') {
			best = t;
			break;
		}
		if (r.psd == 'y' && t != domain) {
			best = suffix(domain, labels(t) + 1);
			break;
		}
		best = t;
	}
	if (best)
		snprintf(out, outlen, "%s", best);
	return 0;
}

/* ml_dmarc_aligned - does id align with the From domain under strict or relaxed */
int
ml_dmarc_aligned(sl_dns *d, const char *from, const char *from_org, const char *id, int strict)
{
	char org[SL_DNS_NAME_MAX];

	if (*id == '\0')
		return 0;
	if (strcasecmp(from, id) == 0)
		return 1;
	if (strict || ml_dmarc_org_domain(d, id, org, sizeof(org)) < 0)
		return 0;
	return strcasecmp(org, from_org) == 0;
}

/* ml_dmarc_discover - the policy record by the tree walk; 1 found, 0 none, -1 temp */
int
ml_dmarc_discover(sl_dns *d, const char *from, ml_dmarc_rec *r, char *where, size_t wlen)
{
	int rc;

	for (const char *t = from; t; t = next_target(t))
		if ((rc = fetch(d, t, r)) != 0) {
			snprintf(where, wlen, "%s", t);
			return rc;
		}
	return 0;
}

/* lower - the next lower policy (reject, quarantine, none) */
static enum ml_dmarc_policy
lower(enum ml_dmarc_policy p)
{
	return p == ML_P_REJECT ? ML_P_QUARANTINE : ML_P_NONE;
}

/* choose_policy - p, sp or np, then pct and t=y */
static void
choose_policy(sl_dns *d, const ml_dmarc_rec *rec, ml_dmarc_result *r)
{
	sl_dns_ans a = {0};

	r->policy = rec->p;
	r->policy_tag = "p";
	if (strcasecmp(r->policy_domain, r->from_domain) != 0) {
		int nx = sl_dns_query(d, r->from_domain, SL_DNS_A, &a) == SL_DNS_NXDOMAIN;

		sl_dns_ans_free(&a);
		if (nx && rec->np != ML_P_UNSET) {
			r->policy = rec->np;
			r->policy_tag = "np";
		} else if (rec->sp != ML_P_UNSET) {
			r->policy = rec->sp;
			r->policy_tag = "sp";
		}
	}
	r->applied = r->policy;
	if (rec->testing || (rec->pct < 100 && (random() % 100) >= rec->pct))
		r->applied = lower(r->policy);
}

/* ml_dmarc_check - DMARC for from_domain, given the SPF and DKIM results */
void
ml_dmarc_check(sl_dns *d, const char *from_domain, const ml_spf_result *spf,
               const ml_dkim_vsig *sigs, size_t nsigs, ml_dmarc_result *r)
{
	ml_dmarc_rec rec;
	int rc;

	memset(r, 0, sizeof(*r));
	snprintf(r->from_domain, sizeof(r->from_domain), "%s", from_domain);
	r->policy_tag = "p";
	if ((rc = ml_dmarc_discover(d, from_domain, &rec, r->policy_domain, sizeof(r->policy_domain))) <=
	        0 ||
	    ml_dmarc_org_domain(d, from_domain, r->org_domain, sizeof(r->org_domain)) < 0) {
		r->result = rc == 0 ? ML_AUTH_NONE : ML_AUTH_TEMPERROR;
		snprintf(r->why, sizeof(r->why), "%s", rc == 0 ? "no policy" : "DNS lookup failed");
		return;
	}
	r->rec = rec;
	choose_policy(d, &rec, r);
	r->spf_aligned = spf && spf->result == ML_AUTH_PASS &&
	                 ml_dmarc_aligned(d, from_domain, r->org_domain, spf->domain, rec.aspf_strict);
	for (size_t i = 0; i < nsigs && !r->dkim_aligned; i++)
		r->dkim_aligned =
		    sigs[i].result == ML_AUTH_PASS &&
		    ml_dmarc_aligned(d, from_domain, r->org_domain, sigs[i].domain, rec.adkim_strict);
	r->result = r->spf_aligned || r->dkim_aligned ? ML_AUTH_PASS : ML_AUTH_FAIL;
}
