/*
 * NAME
 *	feedback_vendor_rhost 3 - what a receiving provider's own codes mean
 * SYNOPSIS
 *	if (fb_vendor_rhost(mail, rcpt)) ...	rcpt->reason was set
 * DESCRIPTION
 *	Large providers answer with their own codes and phrases and publish
 *	what they mean (Spectrum's AUP#, Orange's OFR_nnn, ...). Generic
 *	phrase tables misread them: Spectrum says "sender rejected" for a
 *	connection limit. One table per provider family below, each with
 *	the hosts that identify it and the published meanings.
 *
 *	A provider is recognised by a host of the bounce, tried in this
 *	order: the recipient's domain; the remote server (Remote-MTA, or
 *	"host NAME" or "[NAME" in the diagnostic); the reporting server
 *	(Reporting-MTA); the hosts that relayed the bounce itself
 *	(Received). A host matches a suffix on a label boundary.
 *
 *	A rule applies when all of its set conditions hold: the enhanced
 *	status (exact), the SMTP command, the reply code (exact), a phrase
 *	of the diagnostic (case-insensitive). The first rule that applies gives the reason;
 *	a provider with a code function tries that first. Nothing applies:
 *	0, and the generic classifier decides (feedback_reason.c).
 *
 *	The reason names are sisimai's taxonomy; sisimai's per-provider
 *	modules (Sisimai::Rhost::*) were read to learn which providers
 *	publish codes, the tables are written from the providers' pages.
 */
#define _GNU_SOURCE 1
#include "config.h"

#include <ctype.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

#include "log.h"
#include "feedback.h"

/* One published meaning. NULL conditions always hold. */
typedef struct rhost_rule {
	const char *status;		/* enhanced status, exact */
	const char *command;		/* RCPT, DATA, ... */
	const char *phrase;		/* in the diagnostic, any case */
	const char *reason;
	const char *reply;		/* SMTP reply code, exact */
} rhost_rule;

/* One provider family. */
typedef struct rhost_provider {
	const char *name;
	const char *const *hosts;	/* suffixes of its host names */
	const rhost_rule *rules;	/* ends with reason NULL */
	const char *(*codes)(const char *diag);	/* numbered codes, or NULL */
} rhost_provider;

#define H(...) (const char *const []){ __VA_ARGS__, NULL }
#define R(...) (const rhost_rule []){ __VA_ARGS__, { NULL, NULL, NULL, NULL, NULL } }

/* code_after - the first run of n digits after label in s, as a number; -1 if none */
static long
code_after(const char *s, const char *label, size_t n)
{
	const char *p = fb_strcasestr(s, label);
	size_t	run = 0;

	if (p == NULL)
		return -1;
	for (p += strlen(label); *p && !isspace((unsigned char) *p); p++) {
		run = isdigit((unsigned char) *p) ? run + 1 : 0;
		if (run == n && !isdigit((unsigned char) p[1]))
			return strtol(p - n + 1, NULL, 10);
	}
	return -1;
}

/*
 * Spectrum (Charter): "AUP#In-1310", "AUP#O-1000". Published at
 * spectrum.net/support/internet/understanding-email-error-codes:
 * 1000 IP blocked for suspicious activity; 1010-1080 account blocked or
 * limited for suspicious activity; 1090 cannot be processed now;
 * 1100-1150 no full-circle DNS of the sending IP; 1160-1190 against the
 * sender domain's security policy; 1200-1250 IP listed by Cloudmark CSI
 * or Spamhaus; 1260 IPv6 not accepted; 1300-1340 too many connections;
 * 1350-1490 and 1540-1580 too many messages or recipients; 1500-1520
 * sending as another address; 1530 larger than 20 MB; 1560 too many
 * invalid recipients.
 */
static const struct { long lo, hi; const char *reason; } spectrum_tab[] = {
	{ 1000, 1000, "blocked" }, { 1010, 1080, "rejected" }, { 1090, 1090, "systemerror" },
	{ 1100, 1150, "requireptr" }, { 1160, 1190, "policyviolation" },
	{ 1200, 1250, "blocked" }, { 1260, 1260, "networkerror" },
	{ 1300, 1340, "toomanyconn" }, { 1350, 1490, "toomanyconn" },
	{ 1500, 1520, "rejected" }, { 1530, 1530, "mesgtoobig" },
	{ 1540, 1550, "toomanyconn" }, { 1560, 1560, "policyviolation" },
	{ 1580, 1580, "toomanyconn" },
};

/* spectrum_codes - the reason of an AUP# code, or NULL */
static const char *
spectrum_codes(const char *diag)
{
	long	code = code_after(diag, "AUP#", 4);
	size_t	i;

	for (i = 0; code >= 0 && i < sizeof(spectrum_tab) / sizeof(spectrum_tab[0]); i++)
		if (code >= spectrum_tab[i].lo && code <= spectrum_tab[i].hi)
			return spectrum_tab[i].reason;
	return NULL;
}

/*
 * Orange, Wanadoo and La Poste (France Telecom/PTT): the reply ends with
 * a label and a number, "OFR_506", "OFR004_405", "LPN007_416",
 * "LPNAAA_101"; the last three digits are the code. Published in
 * Orange's postmaster pages (see also postmastery.com's list of OFR
 * codes): 101-103 sending IP blocked (spam, blocklists), 104 too many
 * connections, 105-109 and 201 "try again later" (no reason given),
 * 305 and 402 authentication required or invalid, 401 SPF failure,
 * 403/405/415/421 invalid sender, 416 invalid recipient, 417 mailbox
 * full, 420 archived recipient, 426 recipient account blocked,
 * 505 service refused (temporary system trouble), 506 mail rejected as
 * spam, 510 blocked, 514 message too big, 517 DMARC failure, 630 client
 * host rejected by policy, 999 service refused.
 */
static const struct { int code; const char *reason; } ofr_tab[] = {
	{ 101, "blocked" }, { 102, "blocked" }, { 103, "blocked" }, { 104, "toomanyconn" },
	{ 305, "securityerror" }, { 401, "authfailure" }, { 402, "securityerror" },
	{ 403, "rejected" }, { 405, "rejected" }, { 415, "rejected" }, { 416, "userunknown" },
	{ 417, "mailboxfull" }, { 420, "suspend" }, { 421, "rejected" }, { 426, "suspend" },
	{ 505, "systemerror" }, { 506, "spamdetected" }, { 510, "blocked" },
	{ 514, "mesgtoobig" }, { 517, "authfailure" }, { 630, "policyviolation" },
	{ 999, "blocked" },
};

/* ofr_label - where the last OFR/LPN/OUK label of s starts, or NULL */
static const char *
ofr_label(const char *s)
{
	static const char *const label[] = { "OFR", "LPN", "OUK", NULL, NULL };
	const char *best = NULL, *p;
	size_t	i;

	for (i = 0; label[i]; i++)
		for (p = s; (p = fb_strcasestr(p, label[i])) != NULL; p++)
			if (best == NULL || p > best)
				best = p;
	return best;
}

/* franceptt_codes - the reason of an OFR/LPN code, or NULL */
static const char *
franceptt_codes(const char *diag)
{
	const char *p = ofr_label(diag), *e;
	long	code;
	size_t	i;

	if (p == NULL)
		return NULL;
	for (e = p; *e && !isspace((unsigned char) *e) && *e != '.' && *e != ')'; e++)
		;
	if (e - p < 6 || !isdigit((unsigned char) e[-1]) || !isdigit((unsigned char) e[-2])
	    || !isdigit((unsigned char) e[-3]))
		return NULL;
	code = strtol(e - 3, NULL, 10);
	for (i = 0; i < sizeof(ofr_tab) / sizeof(ofr_tab[0]); i++)
		if (ofr_tab[i].code == code)
			return ofr_tab[i].reason;
	return NULL;
}

static const rhost_provider provider_tab[] = {
	/* AOL: its relay reports a malformed DNS answer for a domain's MX as
	 * "type=MX: Malformed or unexpected name server reply": the domain
	 * does not accept mail. */
	{ "AOL", H("mail.aol.com", "mx.aol.com"), R(
	    { NULL, NULL, "Host or domain name not found", "hostunknown", NULL },
	    { NULL, NULL, "type=MX: Malformed or unexpected name server reply", "notaccept", NULL }),
	  NULL },
	{ "Spectrum", H("charter.net", "spectrum.net"), R({ NULL, NULL, NULL, NULL, NULL }),
	  spectrum_codes },
	{ "Orange/La Poste", H("laposte.net", "orange.fr", "wanadoo.fr"), R(
	    { NULL, NULL, "spf/dns de votre nom de domaine", "authfailure", NULL }),
	  franceptt_codes },
	/* Zoho Mail (zoho.com/mail/help, "Reasons an email is marked as spam"):
	 * a message flagged as spam or refused by the destination domain is
	 * a refusal of the sender. */
	{ "Zoho", H("zoho.com", "zohomail.com"), R(
	    { NULL, NULL, "Email rejected per DMARC policy", "authfailure", NULL },
	    { NULL, NULL, "Greylisted, try again after some time", "blocked", NULL },
	    { NULL, NULL, "Email cannot be delivered. Reason: Email flagged as Spam", "rejected", NULL },
	    { NULL, NULL, "Mail rejected by destination domain", "rejected", NULL },
	    { NULL, NULL, "Email policy violation detected", "policyviolation", NULL },
	    { NULL, NULL, "Temporary System Error", "systemerror", NULL },
	    { NULL, NULL, "User does not exist", "userunknown", NULL },
	    { NULL, NULL, " detected by Zoho Mail", "virusdetected", NULL }),
	  NULL },
	/* NTT DOCOMO (mfsmax.docomo.ne.jp) answers "550 Unknown user" both
	 * for a missing mailbox (at RCPT) and for its reception filters,
	 * which refuse the sender after DATA. */
	{ "NTT DOCOMO", H("docomo.ne.jp"), R(
	    { "5.1.1", NULL, NULL, "userunknown", NULL },
	    { "5.2.0", NULL, NULL, "filtered", NULL },
	    { NULL, NULL, "552 too much mail data", "mailboxfull", NULL },
	    { NULL, NULL, "552 too many recipients", "toomanyconn", NULL },
	    { NULL, NULL, "503 bad sequence of commands", "syntaxerror", NULL },
	    { NULL, NULL, "504 command parameter not implemented", "syntaxerror", NULL },
	    { "5.0.0", "RCPT", NULL, "userunknown", NULL },
	    { "5.0.0", "DATA", NULL, "rejected", NULL },
	    { NULL, NULL, "550 unknown user", "userunknown", NULL }),
	  NULL },
	/* KDDI au (ezweb.ne.jp, au.com): "550 <addr>: User unknown" names
	 * the mailbox; ": User unknown" with no address ("550 : User
	 * unknown", "550: : User unknown") is what its reception filter
	 * answers (au support pages on rejected mail). */
	{ "KDDI au", H("ezweb.ne.jp", "au.com"), R(
	    { NULL, NULL, ">: user unknown", "userunknown", NULL },
	    { NULL, NULL, ": user unknown", "filtered", NULL }),
	  NULL },
	/* Google Workspace: its own DSN texts. */
	{ "Google Workspace", H("googlemail.com"), R(
	    { NULL, NULL, "because the address couldn't be found. Check for typos", "userunknown", NULL },
	    { NULL, NULL, "Null MX", "notaccept", NULL }),
	  NULL },
	/* Microsoft Exchange Online (learn.microsoft.com, "Email non-delivery
	 * reports and SMTP errors in Exchange Online"): 5.4.1 "Recipient
	 * address rejected: Access denied" is directory-based edge blocking,
	 * the recipient does not exist in the organisation; 5.7.23 SPF and
	 * 5.7.509 DMARC failures; 5.7.511/5.7.513 banned or customer-blocked
	 * sending IP; 5.4.300/5.4.316 and 4.4.7 message expired; 5.3.4 too
	 * big. Its relays also pass on a remote server's "unknown
	 * recipient". */
	{ "Microsoft", H("prod.outlook.com", "protection.outlook.com", "onmicrosoft.com",
	    "exchangelabs.com"), R(
	    { "5.4.1", NULL, "Recipient address rejected: Access denied", "userunknown", NULL },
	    { NULL, NULL, "Remote server returned unknown recipient", "userunknown", NULL },
	    { "5.7.23", NULL, "sender policy framework violation", "authfailure", NULL },
	    { "5.7.509", NULL, "does not pass DMARC verification", "authfailure", NULL },
	    { "5.7.511", NULL, "banned sender", "blocked", NULL },
	    { "5.7.513", NULL, "using Customer Block list", "blocked", NULL },
	    { "5.4.300", NULL, "message expired", "expired", NULL },
	    { "5.4.316", NULL, "message expired", "expired", NULL },
	    { "5.3.4", NULL, "message size exceeds fixed maximum message size", "mesgtoobig", NULL }),
	  NULL },
	/* Outlook.com/Hotmail: "550 Requested action not taken: mailbox
	 * unavailable" is its answer for an address that does not exist. */
	{ "Outlook.com", H("hotmail.com", "outlook.com"), R(
	    { NULL, NULL, "Requested action not taken: mailbox unavailable", "userunknown", NULL },
	    { NULL, NULL, "because the domain is not reachable", "hostunknown", NULL }),
	  NULL },
	/* Symantec/Broadcom Email Security.cloud (MessageLabs), published at
	 * knowledge.broadcom.com (email error and bounce codes). */
	{ "MessageLabs", H("messagelabs.com"), R(
	    { NULL, NULL, "domain authentication fail", "authfailure", NULL },
	    { NULL, NULL, "Connection rejected by policy", "blocked", NULL },
	    { NULL, NULL, "mail rejected because your IP is in the PBL", "blocked", NULL },
	    { NULL, NULL, "your IP address has been ", "blocked", NULL },
	    { NULL, NULL, "Stray linefeeds in message", "contenterror", NULL },
	    { NULL, NULL, "TLS/SSLv3 Connection required", "securityerror", NULL },
	    { NULL, NULL, " as a relay, ", "norelaying", NULL },
	    { NULL, NULL, "has detected that this message is not RFC 5322", "notcompliantrfc", NULL },
	    { NULL, NULL, "sender envelope domain not allowed for sender IP address", "rejected", NULL },
	    { NULL, NULL, "your domain has been blocked", "rejected", NULL },
	    { NULL, NULL, "your email address has been blocked", "rejected", NULL },
	    { NULL, NULL, "your envelope sender is in my badmailfrom list", "rejected", NULL },
	    { NULL, NULL, "has been blacklisted", "rejected", NULL },
	    { NULL, NULL, "Please turn on SMTP Authentication", "securityerror", NULL },
	    { NULL, NULL, "filtered by Outbound scanning", "spamdetected", NULL },
	    { NULL, NULL, "Message Filtered", "spamdetected", NULL },
	    { NULL, NULL, "Too many recipients received this hour", "toomanyconn", NULL },
	    { NULL, NULL, "too many messages", "toomanyconn", NULL },
	    { NULL, NULL, "No such user", "userunknown", NULL },
	    { NULL, NULL, "Invalid recipient", "userunknown", NULL },
	    { NULL, NULL, "mailbox is not allowed", "userunknown", NULL },
	    /* its own DSNs: "542 <address> Rejected" for a recipient the
	     * customer's directory does not know */
	    { NULL, NULL, " Rejected", "userunknown", "542" }),
	  NULL },
};

/* host_is - is host name, or a subdomain of, suffix? */
static int
host_is(const char *host, const char *suffix)
{
	size_t	hl = strlen(host), sl = strlen(suffix);

	if (hl < sl || strcasecmp(host + hl - sl, suffix) != 0)
		return 0;
	return hl == sl || host[hl - sl - 1] == '.';
}

/* word_host - copy the host name starting at p (after blanks, "[", "(" or a "dns;" type) */
static void
word_host(const char *p, char *out, size_t outlen)
{
	size_t	n = 0;

	while (*p == ' ' || *p == '\t' || *p == '[' || *p == '(')
		p++;
	if (strncasecmp(p, "dns;", 4) == 0)
		for (p += 4; *p == ' ' || *p == '\t'; p++)
			;
	while (*p && (isalnum((unsigned char) *p) || *p == '.' || *p == '-') && n + 1 < outlen)
		out[n++] = (char) tolower((unsigned char) *p++);
	while (n > 0 && out[n - 1] == '.')
		n--;
	out[n] = 0;
}

/* provider_of - the provider a host name belongs to, or NULL */
static const rhost_provider *
provider_of(const char *host)
{
	size_t	i, j;

	if (strchr(host, '.') == NULL)
		return NULL;
	for (i = 0; i < sizeof(provider_tab) / sizeof(provider_tab[0]); i++)
		for (j = 0; provider_tab[i].hosts[j]; j++)
			if (host_is(host, provider_tab[i].hosts[j]))
				return &provider_tab[i];
	return NULL;
}

/* match_hosts - the provider of a host named right after key in s, or NULL */
static const rhost_provider *
match_hosts(const char *s, const char *key)
{
	const rhost_provider *pv;
	const char *p;
	char	host[256];

	for (p = s; p && (p = fb_strcasestr(p, key)) != NULL; p += strlen(key)) {
		word_host(p + strlen(key), host, sizeof(host));
		if ((pv = provider_of(host)) != NULL)
			return pv;
	}
	return NULL;
}

/* received_hosts - the provider named in the bounce's own Received fields */
static const rhost_provider *
received_hosts(const fb_mail *m)
{
	const rhost_provider *pv;
	size_t	i;

	for (i = 0; i < m->nhdr; i++) {
		if (strcasecmp(m->hdr[i].name, "Received") != 0)
			continue;
		if ((pv = match_hosts(m->hdr[i].value, "from ")) != NULL
		    || (pv = match_hosts(m->hdr[i].value, "by ")) != NULL)
			return pv;
	}
	return NULL;
}

/* which_provider - the provider that answered for this recipient, or NULL */
static const rhost_provider *
which_provider(const fb_mail *m, const fb_rcpt *r)
{
	const rhost_provider *pv;
	const char *at = strrchr(r->addr, '@');
	char	host[256];

	if (at != NULL && (pv = provider_of(at + 1)) != NULL)
		return pv;
	word_host(r->rhost, host, sizeof(host));
	if ((pv = provider_of(host)) != NULL || (pv = match_hosts(r->diag, "host ")) != NULL
	    || (pv = match_hosts(r->diag, "[")) != NULL)
		return pv;
	if ((pv = match_hosts(m->dsn, "Reporting-MTA:")) != NULL)
		return pv;
	return received_hosts(m);
}

/* rule_holds - do all set conditions of the rule hold for the record? */
static int
rule_holds(const rhost_rule *u, const fb_rcpt *r)
{
	if (u->status != NULL && strcmp(u->status, r->status) != 0)
		return 0;
	if (u->command != NULL && strcmp(u->command, r->command) != 0)
		return 0;
	if (u->reply != NULL && strcmp(u->reply, r->reply_code) != 0)
		return 0;
	return u->phrase == NULL || fb_strcasestr(r->diag, u->phrase) != NULL;
}

/* fb_vendor_rhost - set the reason a known provider's code or phrase gives; 1 if set */
int
fb_vendor_rhost(const fb_mail *m, fb_rcpt *r)
{
	const rhost_provider *pv;
	const rhost_rule *u;
	const char *reason = NULL;

	if (r->diag[0] == 0 || (pv = which_provider(m, r)) == NULL)
		return 0;
	if (pv->codes != NULL)
		reason = pv->codes(r->diag);
	for (u = pv->rules; reason == NULL && u->reason != NULL; u++)
		if (rule_holds(u, r))
			reason = u->reason;
	if (reason == NULL)
		return 0;
	fb_strlcpy(r->reason, reason, sizeof(r->reason));
	return 1;
}
