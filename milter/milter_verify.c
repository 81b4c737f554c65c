/*
 * NAME
 *	milter_verify 3 - one inbound message through SPF, DKIM and DMARC
 * SYNOPSIS
 *	ml_verify_init(err, errlen);		once per process, before threads
 *	v = ml_verify_new(dns, &opts, id, ip, helo, mail_from);
 *	ml_verify_header(v, name, value) ... ml_verify_eoh(v);
 *	ml_verify_body(v, buf, len) ...
 *	ml_verify_finish(v, &result); ml_verify_free(v);
 * DESCRIPTION
 *	Shared by sluice-milter (milter_callbacks.c) and "sluicectl verify":
 *	the same code decides for both. Header values are what follows the
 *	colon. At the end: every DKIM signature (milter_dkimverify.c), SPF
 *	for MAIL FROM and for HELO (milter_spf.c), DMARC for the From domain
 *	(milter_dmarc.c), and one Authentication-Results value
 *	(milter_authres.c) with the disposition:
 *	  DMARC fail, policy reject	on_reject: 550 5.7.1, quarantine, or
 *					accept (monitor)
 *	  DMARC fail, quarantine	quarantine (header or hold, per config)
 *	  From domain in monitor	accept, the A-R says what happened
 *	  no one author domain		(several From fields, none, mailboxes
 *					of several domains, one the strict
 *					reader refuses) dmarc=permerror and
 *					treated as a reject: RFC 9989 gives no
 *					author domain to guess, and no bypass;
 *					several mailboxes of one domain are
 *					evaluated once for that domain
 *	  DMARC temperror, or a DMARC	tempfail when tempfail_on_dns,
 *	  fail that a temporary SPF	else accept
 *	  or DKIM error may explain
 *	Fields of Authentication-Results claiming our authserv-id are
 *	listed in the result (forged): the caller removes them.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "log.h"
#include "milter.h"
#include "milter_verify.h"

struct ml_verify {
	sl_dns *dns;
	const ml_vopts *o;
	char ip[64];
	char helo[SL_DNS_NAME_MAX];
	char mail_from[SL_ADDR_MAX + 1];
	ml_dkimv *dkim;
	ml_arc *arc;
	char *from; /* the first From value */
	size_t nfrom;
	int nar; /* A-R fields seen */
	int forged[16];
	size_t nforged;
};

/* ml_disposition_name - what happens to the message, as logged and printed */
const char *
ml_disposition_name(enum ml_disposition d)
{
	static const char *n[] = {"accept", "quarantine", "reject", "tempfail"};

	return n[d];
}

/* pick - the index of value in words, or -1 */
static int
pick(const char *value, const char *const *words)
{
	for (int i = 0; words[i]; i++)
		if (strcmp(value, words[i]) == 0)
			return i;
	return -1;
}

/* ml_vopts_load - milter { inbound { } } as options; -1 with err naming the option */
int
ml_vopts_load(cfg_t *milter, ml_vopts *o, char *err, size_t errlen)
{
	static const char *const rej[] = {"reject", "quarantine", "monitor", NULL};
	static const char *const quar[] = {"header", "hold", NULL};
	static const char *const dnse[] = {"accept", "tempfail", NULL};
	cfg_t *in = cfg_getsec(milter, "inbound");
	int a, b, c;

	memset(o, 0, sizeof(*o));
	o->verify = cfg_getbool(in, "verify");
	o->authserv_id = cfg_getstr(in, "authserv_id");
	if (*o->authserv_id == '\0') {
		if (gethostname(o->idbuf, sizeof(o->idbuf) - 1) != 0)
			snprintf(o->idbuf, sizeof(o->idbuf), "localhost");
		o->authserv_id = o->idbuf;
	}
	o->dns_zone = cfg_getstr(in, "dns_zone");
	o->dns_nameserver = cfg_getstr(in, "dns_nameserver");
	o->dns_timeout = (int)cfg_getint(in, "dns_timeout");
	a = pick(cfg_getstr(in, "dmarc_reject"), rej);
	b = pick(cfg_getstr(in, "quarantine"), quar);
	c = pick(cfg_getstr(in, "dns_error"), dnse);
	if (a < 0 || b < 0 || c < 0 || o->dns_timeout < 1 || o->dns_timeout > 60 ||
	    strpbrk(o->authserv_id, " \t;()\"\\") != NULL) {
		snprintf(err, errlen, "milter inbound: %s",
		         a < 0   ? "dmarc_reject: use reject, quarantine "
		                   "or monitor"
		         : b < 0 ? "quarantine: use header or hold"
		         : c < 0 ? "dns_error: use tempfail or accept"
		         : o->dns_timeout < 1 || o->dns_timeout > 60
		             ? "dns_timeout: 1 to 60 seconds"
		             : "authserv_id: no white space, ';', '(', ')' or quotes");
		return -1;
	}
	o->on_reject = (enum ml_reject_action)a;
	o->quarantine = (enum ml_quarantine_action)b;
	o->tempfail_on_dns = c;
	o->dmarc_reports = cfg_getbool(in, "dmarc_reports");
	o->nmonitor = cfg_size(in, "monitor_domains");
	o->monitor = calloc(o->nmonitor + 1, sizeof(*o->monitor));
	for (size_t i = 0; i < o->nmonitor; i++)
		o->monitor[i] = cfg_getnstr(in, "monitor_domains", (unsigned)i);
	o->nsealers = cfg_size(in, "trusted_arc_sealers");
	o->sealers = calloc(o->nsealers + 1, sizeof(*o->sealers));
	for (size_t i = 0; i < o->nsealers; i++)
		o->sealers[i] = cfg_getnstr(in, "trusted_arc_sealers", (unsigned)i);
	return 0;
}

/* ml_vopts_dns - the resolver: zone (or dns_zone), else server (or dns_nameserver) */
sl_dns *
ml_vopts_dns(const ml_vopts *o, const char *zone, const char *server, char *err, size_t errlen)
{
	sl_dns *d;

	zone = zone ? zone : o->dns_zone;
	server = server ? server : o->dns_nameserver;
	if ((d = sl_dns_new(zone, o->dns_timeout, err, errlen)) == NULL)
		return NULL;
	if (!*zone && *server && sl_dns_set_server(d, server, err, errlen) < 0) {
		sl_dns_free(d);
		return NULL;
	}
	return d;
}

/* ml_vopts_free - release what ml_vopts_load() allocated */
void
ml_vopts_free(ml_vopts *o)
{
	free(o->monitor);
	o->monitor = NULL;
	free(o->sealers);
	o->sealers = NULL;
}

/* ml_verify_init - the libraries, once per process */
int
ml_verify_init(char *err, size_t errlen)
{
	return ml_spf_init(err, errlen) < 0 ? -1 : ml_dkimv_init(err, errlen);
}

/* ml_verify_new - start one message */
ml_verify *
ml_verify_new(sl_dns *d, const ml_vopts *o, const char *id, const char *ip, const char *helo,
              const char *mail_from)
{
	ml_verify *v = calloc(1, sizeof(*v));

	if (v == NULL)
		sl_panic("out of memory");
	v->dns = d;
	v->o = o;
	snprintf(v->ip, sizeof(v->ip), "%s", ip ? ip : "");
	snprintf(v->helo, sizeof(v->helo), "%s", helo ? helo : "");
	snprintf(v->mail_from, sizeof(v->mail_from), "%s", mail_from ? mail_from : "");
	v->dkim = ml_dkimv_new(d, id);
	v->arc = ml_arc_new(d);
	return v;
}

/* ml_verify_header - one header field; value is what follows the colon */
void
ml_verify_header(ml_verify *v, const char *name, const char *value)
{
	if (strcasecmp(name, "From") == 0 && v->nfrom++ == 0)
		v->from = sl_strdup(value);
	if (strcasecmp(name, "Authentication-Results") == 0) {
		v->nar++;
		if (ml_authres_ours(value, v->o->authserv_id) && v->nforged < 16)
			v->forged[v->nforged++] = v->nar;
	}
	ml_dkimv_header(v->dkim, name, value);
	ml_arc_header(v->arc, name, value);
}

/* ml_verify_eoh - end of the header */
void
ml_verify_eoh(ml_verify *v)
{
	ml_dkimv_eoh(v->dkim);
}

/* ml_verify_body - one body chunk */
void
ml_verify_body(ml_verify *v, const unsigned char *buf, size_t len)
{
	ml_dkimv_body(v->dkim, buf, len);
	ml_arc_body(v->arc, buf, len);
}

/* next_mailbox - the length of the first mailbox of a list: up to a comma outside quotes, comments,
 * <> */
static size_t
next_mailbox(const char *s)
{
	int depth = 0, quoted = 0, angle = 0;
	size_t i;

	for (i = 0; s[i]; i++) {
		if (s[i] == '\\' && (quoted || depth) && s[i + 1])
			i++;
		else if (quoted)
			quoted = s[i] != '"';
		else if (s[i] == '(')
			depth++;
		else if (s[i] == ')' && depth)
			depth--;
		else if (depth)
			continue;
		else if (s[i] == '"')
			quoted = 1;
		else if (s[i] == '<')
			angle = 1;
		else if (s[i] == '>')
			angle = 0;
		else if (s[i] == ',' && !angle)
			break;
	}
	return i;
}

/* mailbox_domain - the domain of one mailbox read strictly (ml_from_parse), or -1 */
static int
mailbox_domain(const char *value, size_t n, char *out, size_t outlen)
{
	char *one = strndup(value, n);
	ml_from f;
	const char *at;
	int rc = -1;

	if (one && ml_from_parse(one, &f) == ML_FROM_OK && (at = strrchr(f.addr, '@')) && at[1]) {
		snprintf(out, outlen, "%s", at + 1);
		rc = 0;
	}
	free(one);
	return rc;
}

/*
 * from_domain - the author domain, or -1: exactly one From field whose
 * mailboxes (at most 8) each read strictly and all have the same domain;
 * several domains have no one policy to apply (RFC 9989), so no guess
 */
static int
from_domain(const ml_verify *v, char *out, size_t outlen)
{
	char dom[SL_DNS_NAME_MAX];
	const char *p;
	int n = 0;

	if (v->nfrom != 1)
		return -1;
	for (p = v->from; n == 0 || *p == ','; n++) {
		size_t len;

		p += *p == ',';
		len = next_mailbox(p);
		if (n == 8 || mailbox_domain(p, len, n ? dom : out, n ? sizeof(dom) : outlen) < 0 ||
		    (n && strcasecmp(dom, out) != 0))
			return -1;
		p += len;
	}
	return 0;
}

/* monitored - is the From domain (or a parent) listed in monitor mode */
static int
monitored(const ml_vopts *o, const char *domain)
{
	size_t dl = strlen(domain);

	for (size_t i = 0; i < o->nmonitor; i++) {
		size_t ml = strlen(o->monitor[i]);

		if (strcasecmp(domain, o->monitor[i]) == 0 ||
		    (dl > ml && domain[dl - ml - 1] == '.' &&
		     strcasecmp(domain + dl - ml, o->monitor[i]) == 0))
			return 1;
	}
	return 0;
}

/* qv - a property value made safe for the header (ml_authres_value), in one of a few buffers */
static const char *
qv(const char *in)
{
	static __thread char buf[6][2 * SL_DNS_NAME_MAX + 16];
	static __thread unsigned next;

	return ml_authres_value(in, buf[next++ % 6], sizeof(buf[0]));
}

/* add_dkim - one line per signature, or dkim=none */
static void
add_dkim(char *ar, size_t arlen, const ml_vresult *r)
{
	if (r->nsigs == 0)
		ml_authres_add(ar, arlen, "dkim=none");
	for (size_t i = 0; i < r->nsigs; i++) {
		const ml_dkim_vsig *g = &r->sigs[i];

		ml_authres_add(
		    ar, arlen, "dkim=%s%s%s%s header.d=%s header.s=%s header.a=%s header.b=%s",
		    ml_auth_name(g->result), g->why[0] ? " (" : "", g->why, g->why[0] ? ")" : "",
		    qv(g->domain), qv(g->selector), g->alg, qv(g->b[0] ? g->b : "none"));
	}
}

/* add_results - the A-R value: SPF, DKIM, DMARC; every outside value quoted when needed */
static void
add_results(const ml_verify *v, ml_vresult *r)
{
	char *ar = r->authres;
	const ml_dmarc_result *dm = &r->dmarc;

	ml_authres_begin(ar, sizeof(r->authres), v->o->authserv_id);
	ml_authres_add(ar, sizeof(r->authres), "spf=%s%s%s%s smtp.mailfrom=%s",
	               ml_auth_name(r->spf.result), r->spf.why[0] ? " (" : "", r->spf.why,
	               r->spf.why[0] ? ")" : "",
	               qv(v->mail_from[0] ? v->mail_from : r->spf.domain));
	if (v->helo[0])
		ml_authres_add(ar, sizeof(r->authres), "spf=%s smtp.helo=%s",
		               ml_auth_name(r->helo.result), qv(v->helo));
	add_dkim(ar, sizeof(r->authres), r);
	if (r->arc.result == ML_AUTH_NONE)
		ml_authres_add(ar, sizeof(r->authres), "arc=none");
	else
		ml_authres_add(ar, sizeof(r->authres), "arc=%s (i=%d%s%s) header.d=%s",
		               ml_auth_name(r->arc.result), r->arc.instance,
		               r->arc.why[0] ? " " : "", r->arc.why,
		               qv(r->arc.sealer[0] ? r->arc.sealer : "none"));
	if (r->from_bad)
		ml_authres_add(ar, sizeof(r->authres), "dmarc=permerror (%s)", dm->why);
	else if (dm->result == ML_AUTH_NONE || dm->result == ML_AUTH_TEMPERROR)
		ml_authres_add(ar, sizeof(r->authres), "dmarc=%s (%s) header.from=%s",
		               ml_auth_name(dm->result), dm->why, qv(dm->from_domain));
	else
		ml_authres_add(ar, sizeof(r->authres), "dmarc=%s (%s=%s dis=%s%s%s) header.from=%s",
		               ml_auth_name(dm->result), dm->policy_tag,
		               ml_dmarc_policy_name(dm->policy),
		               dm->result == ML_AUTH_PASS || r->arc_override
		                   ? "none"
		                   : ml_dmarc_policy_name(dm->applied),
		               r->monitored ? " monitor" : "",
		               r->arc_override ? " override=arc" : "", qv(dm->from_domain));
}

/* trusted_sealer - is the chain's last sealer one the operator trusts */
static int
trusted_sealer(const ml_vopts *o, const char *d)
{
	for (size_t i = 0; i < o->nsealers; i++)
		if (strcasecmp(o->sealers[i], d) == 0)
			return 1;
	return 0;
}

/* transient - could a temporary SPF or DKIM error explain a DMARC fail */
static int
transient(const ml_vresult *r)
{
	if (r->spf.result == ML_AUTH_TEMPERROR)
		return 1;
	for (size_t i = 0; i < r->nsigs; i++)
		if (r->sigs[i].result == ML_AUTH_TEMPERROR)
			return 1;
	return 0;
}

/* enforce - the disposition of a policy that applies to the message */
static void
enforce(const ml_verify *v, ml_vresult *r, enum ml_dmarc_policy p, const char *why)
{
	r->quarantine = v->o->quarantine;
	if (r->monitored || p == ML_P_NONE || p == ML_P_UNSET)
		return;
	if (p == ML_P_QUARANTINE || v->o->on_reject == ML_ON_REJECT_QUARANTINE) {
		r->disp = ML_DISP_QUARANTINE;
		snprintf(r->reply, sizeof(r->reply), "%s", why);
	} else if (v->o->on_reject == ML_ON_REJECT_REJECT) {
		r->disp = ML_DISP_REJECT;
		snprintf(r->reply, sizeof(r->reply), "5.7.1 %s", why);
	}
}

/* decide - the disposition from the DMARC result and the options */
static void
decide(const ml_verify *v, ml_vresult *r)
{
	const ml_dmarc_result *dm = &r->dmarc;
	char why[400];

	r->disp = ML_DISP_ACCEPT;
	if (r->from_bad) {
		enforce(v, r, ML_P_REJECT,
		        "message must have one From field with one author domain (RFC 9989)");
		return;
	}
	if (dm->result == ML_AUTH_TEMPERROR || (dm->result == ML_AUTH_FAIL && transient(r) &&
	                                        dm->applied != ML_P_NONE && !r->monitored)) {
		if (v->o->tempfail_on_dns) {
			r->disp = ML_DISP_TEMPFAIL;
			snprintf(r->reply, sizeof(r->reply),
			         "4.7.0 DMARC for %s: temporary DNS error, "
			         "try again later",
			         dm->from_domain);
		}
		return;
	}
	if (dm->result != ML_AUTH_FAIL || r->arc_override)
		return;
	snprintf(why, sizeof(why), "DMARC policy of %s: message not authenticated (%s=%s)",
	         dm->from_domain, dm->policy_tag, ml_dmarc_policy_name(dm->policy));
	enforce(v, r, dm->applied, why);
}

/* ml_verify_finish - every result, the A-R value and the disposition */
void
ml_verify_finish(ml_verify *v, ml_vresult *r)
{
	char dom[SL_DNS_NAME_MAX];

	memset(r, 0, sizeof(*r));
	r->nsigs = ml_dkimv_finish(v->dkim, r->sigs, ML_DKIM_VSIG_MAX);
	ml_spf_check(v->dns, v->ip, v->helo, v->mail_from, &r->spf, v->helo[0] ? &r->helo : NULL);
	r->nfrom = v->nfrom;
	memcpy(r->forged, v->forged, sizeof(r->forged));
	r->nforged = v->nforged;
	if (from_domain(v, dom, sizeof(dom)) < 0) {
		r->from_bad = 1;
		r->dmarc.result = ML_AUTH_PERMERROR;
		snprintf(r->dmarc.why, sizeof(r->dmarc.why), "%s",
		         v->nfrom == 0  ? "no From field"
		         : v->nfrom > 1 ? "several From fields"
		                        : "From has no one author domain");
	} else {
		ml_dmarc_check(v->dns, dom, &r->spf, r->sigs, r->nsigs, &r->dmarc);
		r->monitored = monitored(v->o, dom);
	}
	ml_arc_finish(v->arc, &r->arc);
	r->arc_override = !r->from_bad && r->dmarc.result == ML_AUTH_FAIL &&
	                  r->arc.result == ML_AUTH_PASS && trusted_sealer(v->o, r->arc.sealer);
	add_results(v, r);
	decide(v, r);
}

/* ml_verify_free - release a message's verification; NULL is fine */
void
ml_verify_free(ml_verify *v)
{
	if (v == NULL)
		return;
	ml_dkimv_free(v->dkim);
	ml_arc_free(v->arc);
	free(v->from);
	free(v);
}
