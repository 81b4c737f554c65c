/*
 * NAME
 *	milter_preflight 3 - outbound: will the receiver see DMARC pass?
 * SYNOPSIS
 *	ml_preflight_check(dns, from_domain, sign, nsign, env_domain,
 *			   relay, nrelay, &out);
 * DESCRIPTION
 *	For a message sluice-milter signs for the domains in sign and sends
 *	with an envelope sender on env_domain from the relay's outgoing
 *	addresses (config), decides what a DMARC receiver will conclude
 *	with the From domain's published policy (the RFC 9989 tree walk of
 *	milter_dmarc.c): DKIM passes when a signing domain aligns under the
 *	record's adkim (our signatures are valid by construction); SPF when
 *	env_domain aligns under aspf and its SPF record passes for every
 *	relay address (milter_spf.c). No relay address configured: SPF is
 *	not counted. No DMARC policy: nothing can fail. out->why names each
 *	problem, e.g. "adkim=s: d=mail.example.com is not example.com".
 * ERRORS
 *	A DNS failure sets out->temp and would_pass: a lookup problem is
 *	never reported as a policy problem.
 */
#include "config.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "milter_verify.h"

/* why_add - append one reason */
static void
why_add(ml_preflight *out, const char *fmt, const char *a, const char *b)
{
	size_t o = strlen(out->why);

	snprintf(out->why + o, sizeof(out->why) - o, "%s", o ? "; " : "");
	o = strlen(out->why);
	snprintf(out->why + o, sizeof(out->why) - o, fmt, a, b);
}

/* spf_for_relays - SPF of env_domain for every relay address: 1 all pass, 0 not, -1 DNS trouble */
static int
spf_for_relays(ml_dns *d, const char *env_domain, const char *const *relay, size_t nrelay,
               ml_preflight *out)
{
	char from[ML_DNS_NAME_MAX + 16];
	ml_spf_result r;
	int ok = 1;

	snprintf(from, sizeof(from), "postmaster@%s", env_domain);
	for (size_t i = 0; i < nrelay; i++) {
		ml_spf_check(d, relay[i], "", from, &r, NULL);
		if (r.result == ML_AUTH_TEMPERROR)
			return -1;
		if (r.result != ML_AUTH_PASS) {
			why_add(out, "SPF of %s does not authorize %s", env_domain, relay[i]);
			ok = 0;
		}
	}
	return nrelay ? ok : 0;
}

/* ml_preflight_check - what a receiver's DMARC check will say of this message */
void
ml_preflight_check(ml_dns *d, const char *from_domain, const char *const *sign, size_t nsign,
                   const char *env_domain, const char *const *relay, size_t nrelay,
                   ml_preflight *out)
{
	char where[ML_DNS_NAME_MAX], org[ML_DNS_NAME_MAX];
	ml_dmarc_rec rec;
	int rc;

	memset(out, 0, sizeof(*out));
	out->would_pass = 1;
	if ((rc = ml_dmarc_discover(d, from_domain, &rec, where, sizeof(where))) <= 0 ||
	    ml_dmarc_org_domain(d, from_domain, org, sizeof(org)) < 0) {
		out->temp = rc < 0;
		return;
	}
	out->have_policy = 1;
	out->adkim_strict = rec.adkim_strict;
	out->aspf_strict = rec.aspf_strict;
	for (size_t i = 0; i < nsign && !out->dkim_aligned; i++)
		out->dkim_aligned =
		    ml_dmarc_aligned(d, from_domain, org, sign[i], rec.adkim_strict);
	if (!out->dkim_aligned)
		for (size_t i = 0; i < nsign || i == 0; i++)
			why_add(out,
			        rec.adkim_strict ? "adkim=s: d=%s is not %s"
			                         : "d=%s does not align with %s",
			        nsign ? sign[i] : "(none)", from_domain);
	out->spf_aligned = ml_dmarc_aligned(d, from_domain, org, env_domain, rec.aspf_strict);
	if (!out->spf_aligned)
		why_add(out,
		        rec.aspf_strict ? "aspf=s: envelope domain %s is not %s"
		                        : "envelope domain %s does not align with %s",
		        env_domain, from_domain);
	if ((rc = spf_for_relays(d, env_domain, relay, nrelay, out)) < 0) {
		out->temp = 1;
		return;
	}
	out->spf_authorized = rc;
	out->would_pass = out->dkim_aligned || (out->spf_aligned && out->spf_authorized);
}
