/*
 * NAME
 *	logd_provider 3 - which mailbox provider a recipient is at; what a reply means
 * SYNOPSIS
 *	p = ld_providers_new()			the built-in rules
 *	ld_providers_add(p, name, pattern, mx, err, len)	an operator rule
 *	name = ld_provider_of(p, rcpt, relay_host)	"other" when none matches
 *	class = ld_classify_reply(dsn, reply)
 * DESCRIPTION
 *	A rule names a provider and a domain pattern: "gmail.com" matches
 *	that domain, ".google.com" (leading dot) the domain and its
 *	subdomains. A domain rule (mx = 0) is matched against the
 *	recipient's domain, an MX rule (mx = 1) against the relay host of
 *	the delivery line (the MX Postfix talked to), so a domain hosted at
 *	Google or Office 365 is found too. Operator rules come first, in
 *	the order given; then the defaults: google, yahoo (Yahoo and AOL),
 *	microsoft, docomo, au (ezweb.ne.jp, au.com), softbank
 *	(softbank.ne.jp, i.softbank.jp).
 *
 *	Replies are classified, first match wins, by texts the providers
 *	document (Google's SMTP error reference, Yahoo's "TSS" codes,
 *	Microsoft's Outlook.com NDR codes, Spamhaus's listing replies):
 *	  rate-limited	421-4.7.28 / 4.7.28 (Google rate limit), 4.7.0 ...
 *			"rate limited" / "unusual rate", TSS04 (Yahoo),
 *			"temporarily rate limited", 4.7.650 / S3150 ... rate
 *	  auth-required	5.7.26, 5.7.27 (SPF/DKIM/DMARC), "not authenticated",
 *			"DMARC", "SPF", "DKIM" with 5.7.x
 *	  blocklist	"spamhaus", "blocklist", "blacklist", "RBL", "DNSBL",
 *			S3140, S3150, 5.7.606 .. 5.7.608 (Microsoft's own lists)
 *	  reputation	4.7.1/5.7.1 "reputation", TSS09, S3113, "poor
 *			reputation", 5.7.1 "likely unsolicited", 4.7.0 "suspicious"
 *	  other		anything else that was not a delivery
 */
#define _GNU_SOURCE 1
#include "config.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "log.h"
#include "logd.h"

#define LD_MAX_RULES 256

typedef struct rule {
	char name[32];
	char pattern[LD_HOST_MAX];
	int mx;
} rule;

struct ld_providers {
	rule r[LD_MAX_RULES];
	size_t n;
	size_t nuser; /* operator rules come first */
};

static const rule defaults[] = {
    {"google", "gmail.com", 0},
    {"google", "googlemail.com", 0},
    {"google", ".google.com", 1},
    {"google", ".googlemail.com", 1},
    {"yahoo", ".yahoo.com", 0},
    {"yahoo", ".yahoo.co.jp", 0},
    {"yahoo", "ymail.com", 0},
    {"yahoo", "rocketmail.com", 0},
    {"yahoo", "aol.com", 0},
    {"yahoo", "aim.com", 0},
    {"yahoo", ".yahoodns.net", 1},
    {"yahoo", ".aol.com", 1},
    {"microsoft", ".outlook.com", 0},
    {"microsoft", ".hotmail.com", 0},
    {"microsoft", ".live.com", 0},
    {"microsoft", "msn.com", 0},
    {"microsoft", ".protection.outlook.com", 1},
    {"microsoft", ".olc.protection.outlook.com", 1},
    {"docomo", "docomo.ne.jp", 0},
    {"au", "ezweb.ne.jp", 0},
    {"au", "au.com", 0},
    {"softbank", "softbank.ne.jp", 0},
    {"softbank", "i.softbank.jp", 0},
};

/* ld_providers_new - a table with the built-in rules */
ld_providers *
ld_providers_new(void)
{
	ld_providers *p = sl_calloc(1, sizeof(*p));

	memcpy(p->r, defaults, sizeof(defaults));
	p->n = sizeof(defaults) / sizeof(defaults[0]);
	return p;
}

/* ld_providers_free - NULL is a no-op */
void
ld_providers_free(ld_providers *p)
{
	free(p);
}

/* valid_name - a provider name: 1-31 of a-z 0-9 - _ */
static int
valid_name(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > 31)
		return 0;
	for (; *s; s++)
		if (!(islower((unsigned char)*s) || isdigit((unsigned char)*s) || *s == '-' ||
		      *s == '_'))
			return 0;
	return 1;
}

/* ld_providers_add - an operator rule, before the defaults; -1 with err when bad */
int
ld_providers_add(ld_providers *p, const char *name, const char *pattern, int mx, char *err,
                 size_t errlen)
{
	if (!valid_name(name)) {
		snprintf(err, errlen, "provider name \"%s\": 1-31 of a-z 0-9 - _", name);
		return -1;
	}
	if (*pattern == 0 || strlen(pattern) >= LD_HOST_MAX || strchr(pattern, '@')) {
		snprintf(err, errlen, "provider %s: bad domain pattern \"%s\"", name, pattern);
		return -1;
	}
	if (p->n >= LD_MAX_RULES) {
		snprintf(err, errlen, "more than %d provider rules", LD_MAX_RULES);
		return -1;
	}
	memmove(&p->r[p->nuser + 1], &p->r[p->nuser], (p->n - p->nuser) * sizeof(rule));
	snprintf(p->r[p->nuser].name, sizeof(p->r[0].name), "%s", name);
	snprintf(p->r[p->nuser].pattern, sizeof(p->r[0].pattern), "%s", pattern);
	p->r[p->nuser].mx = mx;
	p->nuser++, p->n++;
	return 0;
}

/* matches - a domain against a pattern ("x.com" exact, ".x.com" it and below) */
static int
matches(const char *domain, const char *pattern)
{
	size_t dn = strlen(domain), pn = strlen(pattern);

	if (dn > 0 && domain[dn - 1] == '.')
		dn--;
	if (pattern[0] != '.')
		return dn == pn && strncasecmp(domain, pattern, pn) == 0;
	if (dn == pn - 1 && strncasecmp(domain, pattern + 1, dn) == 0)
		return 1;
	return dn > pn && strncasecmp(domain + dn - pn, pattern, pn) == 0;
}

/* ld_provider_of - the provider of a recipient (or of the MX it was sent to) */
const char *
ld_provider_of(const ld_providers *p, const char *rcpt, const char *relay_host)
{
	const char *at = rcpt ? strrchr(rcpt, '@') : NULL;
	const char *domain = at ? at + 1 : "";

	if (p == NULL)
		return "other";
	for (size_t i = 0; i < p->n; i++)
		if (matches(p->r[i].mx ? (relay_host ? relay_host : "") : domain, p->r[i].pattern))
			return p->r[i].name;
	return "other";
}

/* has - case-insensitive substring */
static int
has(const char *s, const char *needle)
{
	return strcasestr(s, needle) != NULL;
}

/* ld_classify_reply - the block class of a reply that was not a delivery */
enum ld_class
ld_classify_reply(const char *dsn, const char *reply)
{
	const char *r = reply ? reply : "";
	const char *d = dsn ? dsn : "";

	if (has(r, "4.7.28") || has(r, "TSS04") || has(r, "rate limit") || has(r, "unusual rate") ||
	    has(r, "too many messages") || has(r, "4.7.650") || has(r, "throttl") ||
	    has(r, "temporarily deferred"))
		return LD_CLASS_RATE;
	if (has(r, "5.7.26") || has(r, "5.7.27") || has(r, "5.7.25") || has(r, "unauthenticated") ||
	    has(r, "not authenticated") || has(r, "DMARC") || has(r, "SPF ") || has(r, "DKIM"))
		return LD_CLASS_AUTH;
	if (has(r, "spamhaus") || has(r, "blocklist") || has(r, "blacklist") ||
	    has(r, "block list") || has(r, "RBL") || has(r, "DNSBL") || has(r, "S3140") ||
	    has(r, "5.7.606") || has(r, "5.7.607") || has(r, "5.7.608") || has(r, "S3150") ||
	    has(r, "spamcop") || has(r, "barracuda"))
		return LD_CLASS_BLOCKLIST;
	if (has(r, "reputation") || has(r, "TSS09") || has(r, "S3113") || has(r, "unsolicited") ||
	    has(r, "suspicious") || (has(r, "4.7.0 ") && has(r, "block")) ||
	    ((strcmp(d, "5.7.1") == 0 || strcmp(d, "4.7.1") == 0) && has(r, "block")))
		return LD_CLASS_REPUTATION;
	return LD_CLASS_OTHER;
}

/* ld_class_name - the name used in events and keys */
const char *
ld_class_name(enum ld_class c)
{
	static const char *const names[] = {
	    [LD_CLASS_NONE] = "",
	    [LD_CLASS_RATE] = "rate-limited",
	    [LD_CLASS_REPUTATION] = "reputation",
	    [LD_CLASS_BLOCKLIST] = "blocklist",
	    [LD_CLASS_AUTH] = "auth-required",
	    [LD_CLASS_OTHER] = "other",
	};

	return names[c];
}
