/*
 * NAME
 *	logd_provider 3 - which mailbox provider a recipient is at; what a reply means
 * SYNOPSIS
 *	name = ld_provider_of(p, rcpt, relay_host)	"other" when none matches
 *	class = ld_classify_reply(dsn, reply)
 * DESCRIPTION
 *	The provider rules themselves are lib/provider.c (sluice-policyd
 *	uses them too); this is the recipient-address form of the lookup.
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

#include <string.h>
#include <strings.h>

#include "log.h"
#include "logd.h"
#include "provider.h"

/* ld_provider_of - the provider of a recipient (or of the MX it was sent to) */
const char *
ld_provider_of(const sl_providers *p, const char *rcpt, const char *relay_host)
{
	const char *at = rcpt ? strrchr(rcpt, '@') : NULL;

	return sl_provider_of(p, at ? at + 1 : "", relay_host);
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
