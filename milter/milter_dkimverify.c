/*
 * NAME
 *	milter_dkimverify 3 - every DKIM signature of an inbound message
 * SYNOPSIS
 *	ml_dkimv_init(err, errlen);		once per process, before threads
 *	v = ml_dkimv_new(dns, id);
 *	ml_dkimv_header(v, name, value) ... ml_dkimv_eoh(v);
 *	ml_dkimv_body(v, buf, len) ...
 *	n = ml_dkimv_finish(v, sigs, max); ml_dkimv_free(v);
 * DESCRIPTION
 *	Verification with libopendkim (RSA-SHA256, RSA-SHA1, Ed25519-SHA256
 *	of RFC 8463). One DKIM_LIB per process, its options set in
 *	ml_dkimv_init(). libopendkim's own resolver shares one res_state
 *	per DKIM_LIB, which is not safe for concurrent messages, so it is
 *	never used: a key lookup callback (dkim_set_key_lookup) fetches
 *	selector._domainkey.domain through lib/dns.c, the same cached,
 *	thread-safe layer (or zone file) SPF and DMARC use. That callback
 *	replaces the whole query path for keys, so libopendkim needs no raw
 *	DNS packets (which the zone file cannot give).
 *	header values are what follows the colon, leading white space
 *	included (milter_callbacks.c puts back the space libmilter strips).
 * RESULTS
 *	pass; fail (signature or body hash mismatch, key revoked: RFC 6376
 *	section 3.6.1); permerror (no key, a malformed signature or key);
 *	temperror (the key lookup failed). Signatures past ML_DKIM_VSIG_MAX
 *	are not evaluated.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <opendkim/dkim.h>

#include "log.h"
#include "milter_verify.h"

#define KEY_NAME_MAX (SL_DNS_NAME_MAX + 80)

struct ml_dkimv {
	DKIM *dkim;
	sl_dns *dns;
	int broken; /* libopendkim refused the message */
	DKIM_SIGINFO *temp[ML_DKIM_VSIG_MAX]; /* key lookup failed temporarily */
	size_t ntemp;
};

static DKIM_LIB *vlib;

/* key_lookup - the key record of one signature, from lib/dns.c */
static DKIM_CBSTAT
key_lookup(DKIM *dkim, DKIM_SIGINFO *sig, unsigned char *buf, size_t buflen)
{
	ml_dkimv *v = dkim_get_user_context(dkim);
	const char *sel = (const char *)dkim_sig_getselector(sig);
	const char *dom = (const char *)dkim_sig_getdomain(sig);
	char name[KEY_NAME_MAX];
	sl_dns_ans a = {0};
	DKIM_CBSTAT rc = DKIM_CBSTAT_NOTFOUND;

	if (v == NULL || sel == NULL || dom == NULL)
		return DKIM_CBSTAT_ERROR;
	if ((size_t)snprintf(name, sizeof(name), "%s._domainkey.%s", sel, dom) >= sizeof(name))
		return DKIM_CBSTAT_NOTFOUND;
	switch (sl_dns_query(v->dns, name, SL_DNS_TXT, &a)) {
	case SL_DNS_FOUND:
		if (strlen(a.rr[0]) < buflen) {
			memcpy(buf, a.rr[0], strlen(a.rr[0]) + 1);
			rc = DKIM_CBSTAT_CONTINUE;
		} else
			rc = DKIM_CBSTAT_ERROR;
		break;
	case SL_DNS_TEMP: /* libopendkim leaves the signature "unknown": remember it */
		if (v->ntemp < ML_DKIM_VSIG_MAX)
			v->temp[v->ntemp++] = sig;
		rc = DKIM_CBSTAT_TRYAGAIN;
		break;
	default:
		break;
	}
	sl_dns_ans_free(&a);
	return rc;
}

/* prescreen - evaluate the first ML_DKIM_VSIG_MAX signatures only: each costs a DNS lookup */
static DKIM_CBSTAT
prescreen(DKIM *dkim, DKIM_SIGINFO **sigs, int nsigs)
{
	(void)dkim;
	for (int i = ML_DKIM_VSIG_MAX; i < nsigs; i++)
		dkim_sig_ignore(sigs[i]);
	return DKIM_CBSTAT_CONTINUE;
}

/* ml_dkimv_init - the process's verifying DKIM_LIB */
int
ml_dkimv_init(char *err, size_t errlen)
{
	unsigned flags = DKIM_LIBFLAGS_FIXCRLF;

	if (vlib)
		return 0;
	if ((vlib = dkim_init(NULL, NULL)) == NULL) {
		snprintf(err, errlen, "libopendkim: dkim_init failed");
		return -1;
	}
	if (dkim_options(vlib, DKIM_OP_SETOPT, DKIM_OPTS_FLAGS, &flags, sizeof(flags)) !=
	        DKIM_STAT_OK ||
	    dkim_set_key_lookup(vlib, key_lookup) != DKIM_STAT_OK ||
	    dkim_set_prescreen(vlib, prescreen) != DKIM_STAT_OK) {
		snprintf(err, errlen, "libopendkim: cannot set the verifier's options");
		return -1;
	}
	return 0;
}

/* ml_dkimv_new - a verifier for one message */
ml_dkimv *
ml_dkimv_new(sl_dns *d, const char *id)
{
	ml_dkimv *v = sl_malloc(sizeof(*v));
	DKIM_STAT st;

	v->dns = d;
	v->broken = 0;
	v->ntemp = 0;
	v->dkim = dkim_verify(vlib, (const unsigned char *)(id && *id ? id : "sluice"), NULL, &st);
	if (v->dkim == NULL)
		v->broken = 1;
	else
		dkim_set_user_context(v->dkim, v);
	return v;
}

/* ml_dkimv_header - one header field: name and what follows the colon */
int
ml_dkimv_header(ml_dkimv *v, const char *name, const char *value)
{
	size_t n = strlen(name), m = strlen(value);
	char *h;

	if (v->broken)
		return -1;
	h = sl_malloc(n + m + 2);
	memcpy(h, name, n);
	h[n] = ':';
	memcpy(h + n + 1, value, m + 1);
	if (dkim_header(v->dkim, (unsigned char *)h, n + m + 1) != DKIM_STAT_OK)
		sl_debug("dkim: header %s not taken", name);
	free(h);
	return 0;
}

/* ml_dkimv_eoh - end of the header */
int
ml_dkimv_eoh(ml_dkimv *v)
{
	DKIM_STAT st;

	if (v->broken)
		return -1;
	st = dkim_eoh(v->dkim);
	if (st != DKIM_STAT_OK && st != DKIM_STAT_NOSIG)
		sl_debug("dkim: end of header: %s", dkim_getresultstr(st));
	return 0;
}

/* ml_dkimv_body - one body chunk */
int
ml_dkimv_body(ml_dkimv *v, const unsigned char *buf, size_t len)
{
	if (v->broken)
		return -1;
	(void)dkim_body(v->dkim, (unsigned char *)buf, len);
	return 0;
}

/* sig_result - one processed signature as our result and reason */
static enum ml_auth
sig_result(DKIM_SIGINFO *sig, char *why, size_t whylen)
{
	int e = dkim_sig_geterror(sig);

	if ((dkim_sig_getflags(sig) & DKIM_SIGFLAG_PASSED) &&
	    dkim_sig_getbh(sig) == DKIM_SIGBH_MATCH)
		return ML_AUTH_PASS;
	if ((e == DKIM_SIGERROR_OK || e == DKIM_SIGERROR_BADSIG) &&
	    dkim_sig_getbh(sig) == DKIM_SIGBH_MISMATCH) {
		snprintf(why, whylen, "body hash did not verify");
		return ML_AUTH_FAIL;
	}
	switch (e) {
	case DKIM_SIGERROR_BADSIG:
		snprintf(why, whylen, "signature did not verify");
		return ML_AUTH_FAIL;
	case DKIM_SIGERROR_KEYREVOKED:
		snprintf(why, whylen, "key revoked");
		return ML_AUTH_FAIL;
	case DKIM_SIGERROR_EXPIRED:
		snprintf(why, whylen, "signature expired");
		return ML_AUTH_FAIL;
	case DKIM_SIGERROR_KEYFAIL:
		snprintf(why, whylen, "key lookup failed");
		return ML_AUTH_TEMPERROR;
	case DKIM_SIGERROR_NOKEY:
		snprintf(why, whylen, "no key");
		return ML_AUTH_PERMERROR;
	default:
		snprintf(why, whylen, "%s",
		         e == DKIM_SIGERROR_UNKNOWN ? "not verified" : dkim_sig_geterrorstr(e));
		return ML_AUTH_PERMERROR;
	}
}

/* sig_fill - one signature's result, domain, selector, algorithm, b= start */
static void
sig_fill(ml_dkimv *v, DKIM_SIGINFO *sig, ml_dkim_vsig *o)
{
	const char *d = (const char *)dkim_sig_getdomain(sig);
	const char *s = (const char *)dkim_sig_getselector(sig);
	dkim_alg_t alg = DKIM_SIGN_UNKNOWN;
	unsigned char b[sizeof(o->b)];
	size_t blen = sizeof(b) - 1;

	memset(o, 0, sizeof(*o));
	o->result = sig_result(sig, o->why, sizeof(o->why));
	for (size_t i = 0; i < v->ntemp && o->result != ML_AUTH_PASS; i++)
		if (v->temp[i] == sig) {
			o->result = ML_AUTH_TEMPERROR;
			snprintf(o->why, sizeof(o->why), "key lookup failed");
		}
	snprintf(o->domain, sizeof(o->domain), "%s", d ? d : "");
	for (char *p = o->domain; *p; p++)
		*p = (char)(*p >= 'A' && *p <= 'Z' ? *p + 32 : *p);
	snprintf(o->selector, sizeof(o->selector), "%s", s ? s : "");
	(void)dkim_sig_getsignalg(sig, &alg);
	snprintf(o->alg, sizeof(o->alg), "%s",
	         alg == DKIM_SIGN_ED25519SHA256 ? "ed25519-sha256"
	         : alg == DKIM_SIGN_RSASHA1     ? "rsa-sha1"
	                                        : "rsa-sha256");
	if (dkim_get_sigsubstring(v->dkim, sig, (char *)b, &blen) == DKIM_STAT_OK) {
		b[blen < sizeof(b) ? blen : sizeof(b) - 1] = '\0';
		snprintf(o->b, sizeof(o->b), "%.8s", (char *)b);
	}
}

/* ml_dkimv_finish - the result of every signature, in header order */
size_t
ml_dkimv_finish(ml_dkimv *v, ml_dkim_vsig *out, size_t max)
{
	DKIM_SIGINFO **sigs = NULL;
	int nsigs = 0;
	size_t n = 0;

	if (v->broken)
		return 0;
	(void)dkim_eom(v->dkim, NULL);
	if (dkim_getsiglist(v->dkim, &sigs, &nsigs) != DKIM_STAT_OK)
		return 0;
	for (int i = 0; i < nsigs && n < max; i++) {
		if (dkim_sig_getflags(sigs[i]) & DKIM_SIGFLAG_IGNORE)
			continue;
		if ((dkim_sig_getflags(sigs[i]) & DKIM_SIGFLAG_PROCESSED) == 0)
			(void)dkim_sig_process(v->dkim, sigs[i]);
		sig_fill(v, sigs[i], &out[n++]);
	}
	return n;
}

/* ml_dkimv_free - release a verifier; NULL is fine */
void
ml_dkimv_free(ml_dkimv *v)
{
	if (v == NULL)
		return;
	if (v->dkim)
		dkim_free(v->dkim);
	free(v);
}
