/*
 * NAME
 *	milter_verify 3h - inbound authentication: SPF, DKIM, DMARC, one A-R
 * DESCRIPTION
 *	The verification module of sluice-milter, shared with "sluicectl
 *	verify". It never includes libmilter (milter_callbacks.c drives it)
 *	and needs no config snapshot: the caller fills an ml_vopts.
 *	lib/dns.c		the one DNS layer: libresolv per thread, a small
 *				cache, timeouts, or a zone file instead of DNS
 *	milter_spf.c		SPF for MAIL FROM and HELO (libspf2, fed by
 *				lib/dns.c; void-lookup limit added here)
 *	milter_dkimverify.c	every DKIM signature (libopendkim, keys fetched
 *				through lib/dns.c)
 *	milter_dmarc.c		DMARC (RFC 9989): tree walk, alignment, policy
 *	milter_arc.c		ARC chain validation (RFC 8617, OpenSSL)
 *	milter_preflight.c	outbound: will receivers see DMARC pass
 *	milter_authres.c	the Authentication-Results header: written, and
 *				ours recognised for removal
 *	milter_verify.c		one message through all of them: a result with
 *				the header value and the disposition
 */
#ifndef SLUICE_MILTER_VERIFY_H
#define SLUICE_MILTER_VERIFY_H

#include <confuse.h>
#include <stddef.h>

#include "dns.h"

/* ---- milter_spf.c ---- */

enum ml_auth {
	ML_AUTH_NONE = 0,
	ML_AUTH_PASS,
	ML_AUTH_FAIL,
	ML_AUTH_SOFTFAIL,
	ML_AUTH_NEUTRAL,
	ML_AUTH_TEMPERROR,
	ML_AUTH_PERMERROR,
	ML_AUTH_POLICY
};

const char *ml_auth_name(enum ml_auth r);

typedef struct ml_spf_result {
	enum ml_auth result;
	char domain[SL_DNS_NAME_MAX]; /* the domain checked */
	char why[128];                /* a comment, or "" */
} ml_spf_result;

int ml_spf_init(char *err, size_t errlen);
void ml_spf_check(sl_dns *d, const char *ip, const char *helo, const char *mail_from,
                  ml_spf_result *mfrom, ml_spf_result *hres);

/* ---- milter_dkimverify.c ---- */

#define ML_DKIM_VSIG_MAX 8 /* signatures evaluated per message */

typedef struct ml_dkim_vsig {
	enum ml_auth result;
	char domain[SL_DNS_NAME_MAX];
	char selector[64];
	char alg[24];
	char b[16]; /* first characters of b=, to tell signatures apart */
	char why[96];
} ml_dkim_vsig;

typedef struct ml_dkimv ml_dkimv;

int ml_dkimv_init(char *err, size_t errlen);
ml_dkimv *ml_dkimv_new(sl_dns *d, const char *id);
int ml_dkimv_header(ml_dkimv *v, const char *name, const char *value);
int ml_dkimv_eoh(ml_dkimv *v);
int ml_dkimv_body(ml_dkimv *v, const unsigned char *buf, size_t len);
size_t ml_dkimv_finish(ml_dkimv *v, ml_dkim_vsig *out, size_t max);
void ml_dkimv_free(ml_dkimv *v);

/* ---- milter_dmarc.c ---- */

enum ml_dmarc_policy { ML_P_UNSET = 0, ML_P_NONE, ML_P_QUARANTINE, ML_P_REJECT };

typedef struct ml_dmarc_rec {
	enum ml_dmarc_policy p, sp, np;
	int adkim_strict, aspf_strict;
	int pct;     /* RFC 7489; 100 when absent */
	int testing; /* RFC 9989 t=y */
	int psd;     /* 'y', 'n' or 0 */
	char rua[512];
} ml_dmarc_rec;

typedef struct ml_dmarc_result {
	enum ml_auth result; /* NONE, PASS, FAIL, TEMPERROR, PERMERROR */
	char from_domain[SL_DNS_NAME_MAX];
	char policy_domain[SL_DNS_NAME_MAX]; /* where the record was found */
	char org_domain[SL_DNS_NAME_MAX];
	enum ml_dmarc_policy policy;  /* the one that applies (p, sp or np) */
	enum ml_dmarc_policy applied; /* after pct and t=y */
	const char *policy_tag;       /* "p", "sp" or "np" */
	int spf_aligned, dkim_aligned;
	char why[128];
	ml_dmarc_rec rec; /* the record published at policy_domain */
} ml_dmarc_result;

int ml_dmarc_parse(const char *txt, ml_dmarc_rec *r);
int ml_dmarc_org_domain(sl_dns *d, const char *domain, char *out, size_t outlen);
int ml_dmarc_discover(sl_dns *d, const char *from, ml_dmarc_rec *r, char *where, size_t wlen);
int ml_dmarc_aligned(sl_dns *d, const char *from, const char *from_org, const char *id, int strict);
void ml_dmarc_check(sl_dns *d, const char *from_domain, const ml_spf_result *spf,
                    const ml_dkim_vsig *sigs, size_t nsigs, ml_dmarc_result *r);
const char *ml_dmarc_policy_name(enum ml_dmarc_policy p);

/* ---- milter_arc.c ---- */

typedef struct ml_arc_result {
	enum ml_auth result;          /* NONE, PASS, FAIL, TEMPERROR */
	int instance;                 /* N, the last instance */
	char sealer[SL_DNS_NAME_MAX]; /* d= of the instance N seal */
	char why[96];
} ml_arc_result;

typedef struct ml_arc ml_arc;

ml_arc *ml_arc_new(sl_dns *d);
void ml_arc_header(ml_arc *a, const char *name, const char *value);
void ml_arc_body(ml_arc *a, const unsigned char *buf, size_t len);
void ml_arc_finish(ml_arc *a, ml_arc_result *r);
void ml_arc_free(ml_arc *a);

/* ---- milter_preflight.c ---- */

typedef struct ml_preflight {
	int would_pass;  /* receivers will see DMARC pass (or no policy) */
	int have_policy; /* the From domain has a DMARC policy */
	int adkim_strict, aspf_strict;
	int dkim_aligned;   /* a signing domain aligns with the From domain */
	int spf_aligned;    /* the envelope domain aligns with it */
	int spf_authorized; /* its SPF passes for every relay address */
	int temp;           /* a DNS lookup failed: nothing decided */
	char why[512];
} ml_preflight;

enum ml_pf_mode { ML_PF_OFF = 0, ML_PF_MONITOR, ML_PF_REJECT };

typedef struct ml_pfopts {
	enum ml_pf_mode mode;
	const char **relay; /* the relay's outgoing addresses */
	size_t nrelay;
	long interval;       /* log a domain and category once per interval, s */
	const char **reject; /* From domains refused when they would fail */
	size_t nreject;
} ml_pfopts;

int ml_pfopts_load(cfg_t *milter, ml_pfopts *o, char *err, size_t errlen);
void ml_pfopts_free(ml_pfopts *o);
int ml_preflight_refuses(const ml_pfopts *o, const char *from_domain);
int ml_preflight_note(const char *domain, const char *category, long interval,
                      unsigned long *count);
void ml_preflight_check(sl_dns *d, const char *from_domain, const char *const *sign, size_t nsign,
                        const char *env_domain, const char *const *relay, size_t nrelay,
                        ml_preflight *out);

/* ---- milter_authres.c ---- */

#define ML_AR_MAX 4096

int ml_authres_ours(const char *value, const char *authserv_id);
const char *ml_authres_value(const char *in, char *out, size_t outlen);
void ml_authres_begin(char *out, size_t outlen, const char *authserv_id);
void ml_authres_add(char *out, size_t outlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* ---- milter_verify.c ---- */

enum ml_reject_action { ML_ON_REJECT_REJECT = 0, ML_ON_REJECT_QUARANTINE, ML_ON_REJECT_MONITOR };
enum ml_quarantine_action { ML_QUAR_HEADER = 0, ML_QUAR_HOLD };

typedef struct ml_vopts {
	int verify; /* inbound verification on */
	const char *authserv_id;
	const char *dns_zone;       /* "" for real DNS */
	const char *dns_nameserver; /* "" for /etc/resolv.conf's */
	int dns_timeout;
	enum ml_reject_action on_reject;
	enum ml_quarantine_action quarantine;
	int tempfail_on_dns;  /* temporary DNS errors: 1 tempfail, 0 accept */
	const char **monitor; /* From domains whose policy is only recorded */
	size_t nmonitor;
	const char **sealers; /* trusted ARC sealers (d= of the last seal) */
	size_t nsealers;
	int dmarc_reports; /* count evaluations for aggregate reports */
	char idbuf[256]; /* the host name when authserv_id is "" */
} ml_vopts;

enum ml_disposition { ML_DISP_ACCEPT = 0, ML_DISP_QUARANTINE, ML_DISP_REJECT, ML_DISP_TEMPFAIL };

typedef struct ml_vresult {
	char authres[ML_AR_MAX]; /* the A-R value, after "Authentication-Results: " */
	enum ml_disposition disp;
	enum ml_quarantine_action quarantine;
	char reply[512]; /* "5.7.1 ..." for a refusal, or why */
	ml_spf_result spf, helo;
	ml_dkim_vsig sigs[ML_DKIM_VSIG_MAX];
	size_t nsigs;
	ml_dmarc_result dmarc;
	ml_arc_result arc;
	int arc_override; /* DMARC fail accepted: a trusted sealer's valid chain */
	int forged[16];   /* A-R fields claiming our id: 1-based occurrence */
	size_t nforged;
	size_t nfrom;  /* From header fields seen */
	int from_bad;  /* several addresses, or none, or unreadable */
	int monitored; /* the From domain is in monitor mode */
} ml_vresult;

#define ML_QUARANTINE_HEADER "X-Sluice-Quarantine"

typedef struct ml_verify ml_verify;

int ml_vopts_load(cfg_t *milter, ml_vopts *o, char *err, size_t errlen);
void ml_vopts_free(ml_vopts *o);
sl_dns *ml_vopts_dns(const ml_vopts *o, const char *zone, const char *server, char *err,
                     size_t errlen);
int ml_verify_init(char *err, size_t errlen);
ml_verify *ml_verify_new(sl_dns *d, const ml_vopts *o, const char *id, const char *ip,
                         const char *helo, const char *mail_from);
void ml_verify_header(ml_verify *v, const char *name, const char *value);
void ml_verify_eoh(ml_verify *v);
void ml_verify_body(ml_verify *v, const unsigned char *buf, size_t len);
void ml_verify_finish(ml_verify *v, ml_vresult *r);
void ml_verify_free(ml_verify *v);
const char *ml_disposition_name(enum ml_disposition d);

#endif
