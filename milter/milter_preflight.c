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
 *	ml_preflight_note() counts failing messages per From domain and
 *	category and says when to log (once per interval; a small table,
 *	the oldest entry replaced when full). ml_preflight_refuses(): mode
 *	reject, or the domain (or a parent) listed in reject_domains.
 * ERRORS
 *	A DNS failure sets out->temp and would_pass: a lookup problem is
 *	never reported as a policy problem.
 */
#include "config.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

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
spf_for_relays(sl_dns *d, const char *env_domain, const char *const *relay, size_t nrelay,
               ml_preflight *out)
{
	char from[SL_DNS_NAME_MAX + 16];
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
ml_preflight_check(sl_dns *d, const char *from_domain, const char *const *sign, size_t nsign,
                   const char *env_domain, const char *const *relay, size_t nrelay,
                   ml_preflight *out)
{
	char where[SL_DNS_NAME_MAX], org[SL_DNS_NAME_MAX];
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

#define NOTE_SLOTS 256

typedef struct note {
	char key[2 * SL_DNS_NAME_MAX];
	time_t last;         /* when it was last logged */
	unsigned long count; /* failing messages since then */
} note;

static note notes[NOTE_SLOTS];
static pthread_mutex_t notes_lock = PTHREAD_MUTEX_INITIALIZER;

/* ml_preflight_note - count one failing message; 1 when it is time to log (count since last) */
int
ml_preflight_note(const char *domain, const char *category, long interval, unsigned long *count)
{
	char key[2 * SL_DNS_NAME_MAX];
	time_t now = time(NULL);
	note *n = NULL, *oldest = &notes[0];
	int due;

	snprintf(key, sizeof(key), "%s/%s", domain, category);
	pthread_mutex_lock(&notes_lock);
	for (size_t i = 0; i < NOTE_SLOTS && n == NULL; i++) {
		if (strcmp(notes[i].key, key) == 0)
			n = &notes[i];
		else if (notes[i].last < oldest->last)
			oldest = &notes[i];
	}
	if (n == NULL) {
		n = oldest;
		snprintf(n->key, sizeof(n->key), "%s", key);
		n->last = 0;
		n->count = 0;
	}
	n->count++;
	due = n->last == 0 || now - n->last >= interval;
	*count = n->count;
	if (due) {
		n->last = now;
		n->count = 0;
	}
	pthread_mutex_unlock(&notes_lock);
	return due;
}

/* ml_preflight_refuses - is a failing message from this domain refused */
int
ml_preflight_refuses(const ml_pfopts *o, const char *from_domain)
{
	size_t dl = strlen(from_domain);

	if (o->mode == ML_PF_REJECT)
		return 1;
	for (size_t i = 0; i < o->nreject; i++) {
		size_t rl = strlen(o->reject[i]);

		if (strcasecmp(from_domain, o->reject[i]) == 0 ||
		    (dl > rl && from_domain[dl - rl - 1] == '.' &&
		     strcasecmp(from_domain + dl - rl, o->reject[i]) == 0))
			return 1;
	}
	return 0;
}

/* list - a string list option as an array (the strings stay the config's) */
static const char **
list(cfg_t *sec, const char *name, size_t *n)
{
	const char **v;

	*n = cfg_size(sec, name);
	v = calloc(*n + 1, sizeof(*v));
	for (size_t i = 0; v && i < *n; i++)
		v[i] = cfg_getnstr(sec, name, (unsigned)i);
	return v;
}

/* ml_pfopts_load - milter { preflight { } }; -1 with err */
int
ml_pfopts_load(cfg_t *milter, ml_pfopts *o, char *err, size_t errlen)
{
	cfg_t *pf = cfg_getsec(milter, "preflight");
	const char *mode = cfg_getstr(pf, "mode");

	memset(o, 0, sizeof(*o));
	o->mode = strcmp(mode, "off") == 0      ? ML_PF_OFF
	          : strcmp(mode, "reject") == 0 ? ML_PF_REJECT
	                                        : ML_PF_MONITOR;
	o->interval = cfg_getint(pf, "log_interval");
	o->relay = list(pf, "relay_addresses", &o->nrelay);
	o->reject = list(pf, "reject_domains", &o->nreject);
	if (o->nrelay == 0)
		o->mode = ML_PF_OFF; /* the relay's addresses unknown: nothing to check */
	if (strcmp(mode, "off") != 0 && strcmp(mode, "monitor") != 0 &&
	    strcmp(mode, "reject") != 0) {
		snprintf(err, errlen, "milter preflight: mode \"%s\": use off, monitor or reject",
		         mode);
		return -1;
	}
	if (o->interval < 1) {
		snprintf(err, errlen, "milter preflight: log_interval must be at least 1 second");
		return -1;
	}
	return 0;
}

/* ml_pfopts_free - release what ml_pfopts_load() allocated */
void
ml_pfopts_free(ml_pfopts *o)
{
	free(o->relay);
	free(o->reject);
	o->relay = o->reject = NULL;
}
