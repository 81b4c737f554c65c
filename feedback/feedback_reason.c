/*
 * NAME
 *	feedback_reason 3 - why a recipient failed, and whether for good
 * SYNOPSIS
 *	fb_reason_classify(rcpt);	sets rcpt->reason and rcpt->hard
 * DESCRIPTION
 *	The taxonomy is sisimai's (userunknown, hostunknown, mailboxfull,
 *	filtered, rejected, blocked, spamdetected, expired, suspend,
 *	policyviolation, toomanyconn, ...), so reports can be compared
 *	with that well-known tool; the decision procedure and the phrase
 *	tables are this project's own.
 *
 *	Evidence, strongest first:
 *	1. The enhanced status code when it is specific (x.2.2 mailbox
 *	   full, x.3.4 too big, x.1.6 moved, ...).
 *	2. Phrases of the diagnostic text, checked in a fixed order of
 *	   reasons (mailbox full before user unknown before blocked ...),
 *	   because remote servers often send 5.1.1 or 5.7.1 for anything.
 *	3. The status code's generic meaning (x.1.1 user unknown, x.7.x
 *	   security error, x.4.7 expired, ...).
 *	4. The DSN Action (delayed: expired), the diagnostic type (x-unix:
 *	   mailer error) and the SMTP command (EHLO: blocked).
 *	Hard means the address itself will never work: userunknown,
 *	hostunknown, hasmoved, and notaccept with a permanent status.
 *	Everything else is soft (counted, suppressed only over a threshold).
 */
#define _GNU_SOURCE 1
#include "config.h"

#include <ctype.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

#include "log.h"
#include "feedback.h"

#define P(...) (const char *const []){ __VA_ARGS__, NULL }

/* One reason and the phrases (lowercase) that name it. */
typedef struct reason_pat {
	const char *reason;
	const char *const *phrase;
} reason_pat;

static const char *const ph_mailboxfull[] = {
	"mailbox full", "mailbox is full", "mailbox size limit exceeded", "over quota",
	"overquota", "quota exceeded", "exceeded storage allocation", "exceeds allowed size",
	"mailfolder is full", "insufficient disk space", "no space left on device",
	"user has exceeded quota", "too much mail data", "mail quota exceeded",
	"exceeded the quota", "quota exceed", "mailbox exceeded", "recipient's mailbox is full",
	"user's space has been used up", "boite du destinataire pleine",
	"disk quota", "account is over quota", "full mailbox", "mailbox has exceeded",
	"has exceeded his/her disk space", "inbox is full", "storage quota",
	"would exceed mailbox quota", "user's mailbox is full", "mailbox limit exceeded",
	"is over its quota", "message would exceed quota", NULL };
static const char *const ph_mesgtoobig[] = {
	"message too large", "message too big", "message size exceeds", "message is too large",
	"exceeds maximum message size", "size limit exceeded",
	"message exceeds maximum", "exceeded maximum message size", "mail size limit",
	"message size is larger than", "too big for system", "message is larger than",
	NULL };
static const char *const ph_exceedlimit[] = {
	"message length exceeds", "message too large for this user",
	"exceeds the size limit", NULL };
static const char *const ph_suspend[] = {
	"account disabled", "account has been disabled", "account is disabled",
	"account suspended", "account has been suspended", "account is suspended",
	"mailbox disabled", "mailbox is disabled", "mailbox has been disabled",
	"user account disabled", "account inactive", "account is inactive",
	"account expired", "is inactive", "has been suspended", "mailbox is frozen",
	"account is locked", "account locked", "this mailbox is disabled",
	"recipient suspended", "the user(s) account is disabled", "user suspended",
	"is not active", "deactivated", "inactive user", "account that you tried to reach is disabled",
	"temporarily unavailable", "mailbox unavailable for this recipient",
	"unable to deliver to a suspended user", NULL };
static const char *const ph_hasmoved[] = {
	"has been moved", "address has changed", "mailbox has moved", "user has moved",
	"no longer on server", "is no longer valid; new address", NULL };
static const char *const ph_norelaying[] = {
	"relaying denied", "relay denied", "relay access denied", "relaying not permitted",
	"unable to relay", "we do not relay", "not permitted to relay", "relay not permitted",
	"not allowed to relay", "relaying mail to", "is not permitted to relay", "no relaying",
	"relay prohibited", "relay not allowed", "not configured to relay", "relaying is prohibited", "relaying disallowed",
	"that domain isn't in my list of allowed rcpthosts", "mail relay denied", NULL };
static const char *const ph_authfailure[] = {
	"spf check failed", "spf fail", "spf validation failed", "did not pass spf",
	"dkim check failed", "dkim validation failed", "failed dkim", "per it's spf record",
	"per its spf record", "dmarc policy",
	"dmarc validation", "failed dmarc", "due to dmarc", "sender policy framework",
	"not authorized by spf", "unauthenticated email", "dkim signature",
	"5.7.26", "5.7.23", "5.7.20", "5.7.21", "5.7.22", "is not authorized to send",
	"authentication results", "spf: ", "spf/dkim", "dmarc reject", NULL };
static const char *const ph_userunknown[] = {
	"user unknown", "unknown user", "no such user", "no such mailbox", "no such recipient",
	"recipient unknown", "unknown recipient", "mailbox not found", "mailbox unavailable",
	"mailbox does not exist", "user does not exist", "user not found", "address does not exist",
	"address unknown", "address not found", "invalid recipient", "invalid mailbox",
	"recipient not found", "recipient does not exist", "not a valid mailbox",
	"no mailbox here by that name", "no mailbox by that name", "user doesn't exist",
	"unknown local part", "unknown address", "no such address", "no such person",
	"recipient does not exist", "mailbox doesn't exist", "user doesn't exist", "is not a valid user", "not our customer",
	"bad destination mailbox address", "invalid address", "account does not exist",
	"user not known", "not a known user", "unknown or illegal alias",
	"no account by that name", "invalid user", "user unknown in", "nonexistent user",
	"non-existent user", "addressee unknown", "no such local user", "unrouteable address",
	"bad recipient", "badrcptto", "no valid recipients",
	"recipient address rejected: undeliverable address", "undeliverable address",
	"no mail box available", "mailbox is unavailable", "email account that you tried to reach does not exist",
	"user is unknown", "not a valid recipient", "is not a known user", "unknown mailbox",
	"recipient is not local", "no such account", "user not exist",
	"not listed in", "this user doesn't have a", "mailbox not available",
	"mailbox unavaiable", "account is unavailable", "no existe", "utilisateur inconnu",
	"invalid or unknown virtual user", "destination addresses were unknown",
	"the following recipients was undeliverable",
	"this address no longer accepts mail", "there is no one at this address",
	"could not be found", "couldn't be found", "was not found", "not found in directory", "recipient address rejected: access denied",
	"check if address is correct",
	"is not a valid e-mail address", "resolver.adr.recipnotfound",
	"resolver.adr.recipientnotfound", "recipient not ok", "user missing home directory",
	NULL };
static const char *const ph_filtered[] = {
	"due to user rules", "message filtered", "rejected by recipient", "user reject",
	"refuses to receive", "refused due to recipient preferences", "has restricted",
	"blocked by the recipient", "is not accepting any mail", "is only accepting mail from",
	"not accepted by user", "recipient id refuse", "account is protected", "filtered",
	"user refuses", NULL };
static const char *const ph_requireptr[] = {
	"no ptr record", "ptr record", "reverse dns", "reverse lookup", "no reverse",
	"cannot find your hostname", "cannot resolve your address", "unresolvable",
	"client host rejected: cannot find your", "does not have a reverse", "rdns",
	"fcrdns", "name lookup failed", "hostname does not match", "forward-confirmed",
	"cannot find your reverse", "is not reverse-resolvable", "reverse hostname",
	"unverifyable sending ip", NULL };
static const char *const ph_notcompliantrfc[] = {
	"not compliant with rfc", "rfc 5322", "rfc5322", "rfc 2822", "rfc2822", "rfc 822",
	"duplicate header", "multiple addresses in from", "message is not rfc",
	"headers are not rfc", "multiple from", "bare lf", "bare linefeed", NULL };
static const char *const ph_contenterror[] = {
	"header error", "header size exceeds", "illegal attachment", "invalid header",
	"message contains invalid", "header line is too long", "line too long",
	"improper use of 8-bit data", "invalid mime", "content error",
	NULL };
static const char *const ph_rejected[] = {
	"sender rejected", "sender address rejected", "sender domain", "sender not allowed",
	"bad sender", "sender verify failed", "sender blocked", "sender is blacklisted",
	"sender denied", "envelope sender", "domain of sender address",
	"sender address does not exist", "sender unknown", "sender was rejected",
	"your email address has been blacklisted", "address has been blacklisted",
	"address that has been blacklisted",
	"you are not allowed to send", "we do not accept mail from", "not accepted from",
	"sender's domain", "senders domain", "sender ip", "address is blacklisted", NULL };
static const char *const ph_hostunknown[] = {
	"host unknown", "host not found", "unknown host", "domain not found", "no such domain",
	"domain does not exist", "name or service not known", "unrouteable mail domain",
	"host or domain name not found", "dns lookup failure",
	"unknown domain", "nxdomain",
	"domain name not found", "domain unknown", "hostname lookup failed",
	"domain could not be found", "no such host", "not a valid domain", NULL };
static const char *const ph_spamdetected[] = {
	"as spam", "spam detected", "detected spam", "is spam", "like spam", "spam score",
	"spam content", "spammy", "spam filter", "suspected spam", "spam message",
	"considered spam", "classified as spam", "spam policy", "spam rejected",
	"spam classification",
	"junk mail", "message content rejected", "unsolicited", "bulk mail",
	"content rejected", "scored too high", "identified as junk", "classified as junk",
	"rejected as junk", "suspicious", "reputation", "high probability of", "barracuda",
	"message looks like", "detected as", "has been rejected by the spam", NULL };
static const char *const ph_toomanyconn[] = {
	"too many connections", "too many concurrent", "connection limit", "too many simultaneous",
	"too many recipients", "too many messages", "rate limit", "ratelimit", "throttl",
	"exceeded the rate", "sending too fast", "try again later", "too many sessions",
	"too much load", "slow down", "temporarily deferred", "too many emails",
	"frequency limited", NULL };
static const char *const ph_blocked[] = {
	"blocked using", "blocked by", "blocked ip", "ip blocked", "is blocked", "been blocked",
	"you are blocked", "blocked - see", "blocked for", "blacklist", "block list", "blocklist", "rbl", "dnsbl", "spamhaus",
	"spamcop", "sorbs", "listed at", "listed in", "client host rejected", "your ip",
	"ip address", "connection refused", "not allowed to connect",
	"banned", "dynamic ip", "dial-up", "dialup", "helo command rejected",
	"refused to talk to me", "poor reputation", "bad reputation", "go away",
	"service not available", "connection dropped", "reset by peer", "service refused",
	"please use the smtp server of your isp",
	"my name was rejected", NULL };
static const char *const ph_policyviolation[] = {
	"policy violation", "violates our", "violation of", "policy reasons", "policy rejection",
	"prohibited", "not permitted by policy", "content presents a potential", "our policy", "policy", "not allowed by", NULL };
static const char *const ph_virusdetected[] = {
	"virus", "malware", "infected", "dangerous content", "banned attachment",
	"malicious", NULL };
static const char *const ph_systemerror[] = {
	"system error", "server error", "internal error", "local error", "configuration error",
	"loops back to myself", "internal server error", "insufficient permission", "mailbox lookup failed",
	"unable to connect", "system is unavailable", NULL };
static const char *const ph_networkerror[] = {
	"network error", "dns failure", "lost connection",
	"connection reset", "network is unreachable", "no route to host", "dns error",
	"name service error", "lookup failure", "routing loop", "mail loop", "too many hops", "hop count exceeded",
	"could not connect", "connection closed", "broken pipe", NULL };
static const char *const ph_systemfull[] = {
	"system full", "mail system full", "disk full", "insufficient system storage",
	"out of disk", NULL };
static const char *const ph_notaccept[] = {
	"does not accept mail", "not accepting mail", "null mx", "does not accept any mail", "no mx",
	"indicated no smtp service", "couldn't find a mail exchanger",
	"no mail accepted", "accepts no mail", "not accept any email", NULL };
static const char *const ph_expired[] = {
	"delivery time expired", "message expired", "retry time exceeded", "retry timeout exceeded",
	"delivery period expired", "queue time expired", "too long in queue",
	"has been delayed", "could not be delivered for", "gave up", "given up",
	"message timed out", "expired after", "retry limit", "unable to deliver for",
	"was not delivered within", "delivery expired", "connection timed out", "timed out",
	"retry timeout exceeded", "did not accept our requests to connect",
	"have been failing for a long time", NULL };
static const char *const ph_securityerror[] = {
	"authentication required", "authentication failed", "must authenticate",
	"requires authentication", "starttls", "tls required", "must issue a starttls",
	"encryption required", "certificate", "not authorized", "unauthorized",
	"unauthenticated senders", "smtp authentication", NULL };
static const char *const ph_mailererror[] = {
	"mailer error", "command failed", "exit code", "x-unix", "procmail", "pipe to",
	"command died", "unknown mailer error", "local delivery failed", NULL };
static const char *const ph_syntaxerror[] = {
	"syntax error", "command unrecognized", "unrecognized command", "bad command",
	"command not recognized", "invalid command", "parameter not implemented", NULL };
static const char *const ph_vacation[] = {
	"out of office", "out of the office", "on vacation", "auto-reply", "autoreply",
	"automatic reply", "away from", "i will be back", "i am away", NULL };

/* The order in which a diagnostic's phrases are tried. */
static const reason_pat text_order[] = {
	{ "mailboxfull", ph_mailboxfull },
	{ "exceedlimit", ph_exceedlimit },
	{ "mesgtoobig", ph_mesgtoobig },
	{ "suspend", ph_suspend },
	{ "hasmoved", ph_hasmoved },
	{ "norelaying", ph_norelaying },
	{ "authfailure", ph_authfailure },
	{ "requireptr", ph_requireptr },
	{ "userunknown", ph_userunknown },
	{ "hostunknown", ph_hostunknown },
	{ "notcompliantrfc", ph_notcompliantrfc },
	{ "virusdetected", ph_virusdetected },
	{ "spamdetected", ph_spamdetected },
	{ "rejected", ph_rejected },
	{ "filtered", ph_filtered },
	{ "contenterror", ph_contenterror },
	{ "toomanyconn", ph_toomanyconn },
	{ "blocked", ph_blocked },
	{ "notaccept", ph_notaccept },
	{ "systemfull", ph_systemfull },
	{ "expired", ph_expired },
	{ "networkerror", ph_networkerror },
	{ "systemerror", ph_systemerror },
	{ "policyviolation", ph_policyviolation },
	{ "securityerror", ph_securityerror },
	{ "mailererror", ph_mailererror },
	{ "syntaxerror", ph_syntaxerror },
	{ "vacation", ph_vacation },
};

/* Enhanced status codes with one meaning. */
static const struct { const char *code; const char *reason; } status_tab[] = {
	{ "1.1", "userunknown" }, { "1.0", "userunknown" }, { "1.2", "hostunknown" },
	{ "1.3", "userunknown" }, { "1.4", "filtered" }, { "1.6", "hasmoved" },
	{ "1.7", "rejected" }, { "1.8", "rejected" }, { "1.9", "systemerror" },
	{ "1.10", "notaccept" }, { "2.0", "filtered" }, { "2.1", "filtered" },
	{ "2.2", "mailboxfull" }, { "2.3", "exceedlimit" }, { "2.4", "filtered" },
	{ "3.0", "systemerror" }, { "3.1", "systemfull" }, { "3.2", "notaccept" },
	{ "3.3", "systemerror" }, { "3.4", "mesgtoobig" }, { "3.5", "systemerror" },
	{ "4.0", "networkerror" }, { "4.1", "expired" }, { "4.2", "networkerror" },
	{ "4.3", "systemerror" }, { "4.4", "hostunknown" }, { "4.5", "systemfull" },
	{ "4.6", "networkerror" }, { "4.7", "expired" }, { "5.2", "syntaxerror" },
	{ "5.3", "toomanyconn" }, { "5.4", "systemerror" }, { "5.5", "systemerror" },
	{ "6.0", "contenterror" }, { "6.1", "contenterror" }, { "6.2", "contenterror" },
	{ "6.3", "contenterror" }, { "6.5", "contenterror" }, { "7.0", "securityerror" },
	{ "7.1", "securityerror" }, { "7.2", "securityerror" }, { "7.5", "securityerror" },
	{ "7.7", "securityerror" }, { "7.8", "securityerror" }, { "7.9", "securityerror" },
	{ "7.13", "suspend" }, { "7.17", "hasmoved" }, { "7.18", "hasmoved" },
	{ "7.20", "authfailure" }, { "7.21", "authfailure" }, { "7.22", "authfailure" },
	{ "7.23", "authfailure" }, { "7.24", "authfailure" }, { "7.25", "requireptr" },
	{ "7.26", "authfailure" }, { "7.27", "notaccept" }, { "7.28", "spamdetected" },
};

/* in_list - is s one of the NULL-terminated list? */
static int
in_list(const char *s, const char *const *list)
{
	for (; *list; list++)
		if (strcmp(s, *list) == 0)
			return 1;
	return 0;
}

/* phrase_match - does the lowercased text contain a phrase of the list? */
static int
phrase_match(const char *text, const char *const *list)
{
	for (; *list; list++)
		if (strstr(text, *list) != NULL)
			return 1;
	return 0;
}

/* fb_reason_from_text - the first reason whose phrases the text has, or NULL */
const char *
fb_reason_from_text(const char *text)
{
	char	low[FB_DIAG_MAX];
	size_t	i;

	fb_strlcpy(low, text, sizeof(low));
	fb_strlower(low);
	for (i = 0; i < sizeof(text_order) / sizeof(text_order[0]); i++)
		if (phrase_match(low, text_order[i].phrase))
			return text_order[i].reason;
	return NULL;
}

/* fb_reason_from_status - the meaning of an enhanced status code, or NULL */
const char *
fb_reason_from_status(const char *status)
{
	size_t	i;

	if (status == NULL || strlen(status) < 5)
		return NULL;
	if (status[0] == '2')
		return "delivered";
	for (i = 0; i < sizeof(status_tab) / sizeof(status_tab[0]); i++)
		if (strcmp(status + 2, status_tab[i].code) == 0)
			return status_tab[i].reason;
	return NULL;
}

/*
 * fb_reason_is_hard - will the address never work? userunknown,
 * hostunknown and hasmoved always; notaccept unless the code (enhanced
 * status, else reply code) is a 4xx one. Everything else is soft: a
 * filter, a suspended or full mailbox, a block may all change.
 * (Operators who want some of those suppressed at once list them in
 * the hard_reasons option; feedback_effects.c applies it.)
 */
int
fb_reason_is_hard(const char *reason, const char *code)
{
	if (strcmp(reason, "userunknown") == 0 || strcmp(reason, "hostunknown") == 0
	    || strcmp(reason, "hasmoved") == 0)
		return 1;
	if (strcmp(reason, "notaccept") == 0)
		return code == NULL || code[0] != '4';
	return 0;
}

/* Every reason name this classifier gives (the configuration checks against it). */
static const char *const taxonomy[] = {
	"userunknown", "hostunknown", "mailboxfull", "mesgtoobig", "exceedlimit", "filtered",
	"rejected", "blocked", "spamdetected", "virusdetected", "policyviolation",
	"securityerror", "authfailure", "requireptr", "notcompliantrfc", "contenterror",
	"norelaying", "notaccept", "hasmoved", "suspend", "toomanyconn", "expired",
	"networkerror", "systemerror", "systemfull", "mailererror", "syntaxerror", "onhold",
	"undefined", NULL };

/* fb_reason_known - is this the name of a bounce reason? */
int
fb_reason_known(const char *reason)
{
	return in_list(reason, taxonomy);
}

/* Reasons whose phrases are tried first, each also named by the status. */
static const char *const probe_order[] = {
	"mailboxfull", "mesgtoobig", "exceedlimit", "suspend", "hasmoved", "norelaying",
	"authfailure", "userunknown", "filtered", "requireptr", "notcompliantrfc",
	"contenterror", "rejected", "notaccept", "hostunknown", "spamdetected", "toomanyconn",
	"blocked", NULL };

/* Phrases tried when the status code alone is vague. */
static const char *const vague_order[] = {
	"mailboxfull", "authfailure", "toomanyconn", "spamdetected", "virusdetected",
	"policyviolation", "norelaying", "systemerror", "networkerror", "suspend",
	"contenterror", "systemfull", "notaccept", "expired", "securityerror",
	"mailererror", NULL };

/* Status meanings that say little on their own. */
static const char *const status_vague[] = {
	"systemerror", "securityerror", "expired", "networkerror", "hostunknown",
	"userunknown", NULL };

/* Commands sent before DATA: a rejection there is not content filtering. */
static const char *const before_data[] = { "HELO", "EHLO", "MAIL", "RCPT", "CONN", NULL };

/* text_is - does the lowercased text carry phrases of reason? */
static int
text_is(const char *low, const char *reason)
{
	size_t	i;

	for (i = 0; i < sizeof(text_order) / sizeof(text_order[0]); i++)
		if (strcmp(text_order[i].reason, reason) == 0)
			return phrase_match(low, text_order[i].phrase);
	return 0;
}

/* probe - is reason X supported by the status or the text? */
static int
probe(const fb_rcpt *r, const char *st, const char *low, const char *x)
{
	static const char *const not_user[] = { "blocked", "mailboxfull", "hasmoved",
	    "rejected", "notaccept", "filtered", NULL };
	size_t	i;

	if (strcmp(x, "userunknown") == 0) {
		if (st != NULL && strcmp(st, x) == 0) {
			for (i = 0; not_user[i]; i++)
				if (text_is(low, not_user[i]))
					return 0;
			return 1;
		}
		/*
		 * Without a status that says so, only a reply to RCPT proves
		 * the mailbox is unknown; the same words after DATA, or with
		 * no SMTP phase known, are a filter's answer (below).
		 */
		return strcmp(r->command, "RCPT") == 0 && text_is(low, x);
	}
	if (strcmp(x, "filtered") == 0) {
		if (st != NULL && strcmp(st, x) == 0)
			return text_is(low, "userunknown") || text_is(low, x);
		if (in_list(r->command, before_data))
			return 0;
		return text_is(low, x) || text_is(low, "userunknown");
	}
	if (strcmp(x, "hostunknown") == 0 && text_is(low, "networkerror"))
		return text_is(low, x);
	if (strcmp(x, "notaccept") == 0)	/* x.3.2 alone is too vague */
		return text_is(low, x);
	if (strcmp(x, "contenterror") == 0 && text_is(low, "spamdetected"))
		return 0;
	/* "access denied" in reply to MAIL FROM refuses the sender */
	if (strcmp(x, "rejected") == 0 && strcmp(r->command, "MAIL") == 0
	    && strstr(low, "access denied") != NULL)
		return 1;
	return (st != NULL && strcmp(st, x) == 0) || text_is(low, x);
}

/* reason_vague - status and text did not decide: weaker evidence */
static const char *
reason_vague(const fb_rcpt *r, const char *st, const char *low)
{
	size_t	i;

	for (i = 0; vague_order[i]; i++)
		if (text_is(low, vague_order[i]))
			return vague_order[i];
	if (strncmp(r->diag_type, "x-unix", 6) == 0)
		return "mailererror";
	if (strcmp(r->action, "delayed") == 0)
		return "expired";
	if (st != NULL)
		return st;
	if (r->status[0] && r->status[1] == '.' && r->status[2] == '6')
		return "contenterror";
	if (r->status[0] && r->status[1] == '.' && r->status[2] == '7')
		return "securityerror";
	if (strncmp(r->diag_type, "x-unix", 6) == 0)
		return "mailererror";
	if (text_is(low, "syntaxerror"))
		return "syntaxerror";
	if (strcmp(r->action, "delayed") == 0 || strcmp(r->action, "expired") == 0)
		return "expired";
	if (strcmp(r->command, "EHLO") == 0 || strcmp(r->command, "HELO") == 0
	    || strcmp(r->command, "CONN") == 0)
		return "blocked";
	return NULL;
}

/* reason_pick - combine status, text and context */
static const char *
reason_pick(const fb_rcpt *r)
{
	const char *st = fb_reason_from_status(r->status);
	char	low[FB_DIAG_MAX];
	const char *x;
	int	smtp = strncmp(r->diag_type, "x-unix", 6) != 0;
	size_t	i;

	if (st != NULL && strcmp(st, "delivered") == 0)
		return st;
	fb_strlcpy(low, r->diag, sizeof(low));
	fb_strlower(low);
	if (smtp)
		for (i = 0; probe_order[i]; i++)
			if (probe(r, st, low, probe_order[i]))
				return probe_order[i];
	if (st != NULL && smtp && !in_list(st, status_vague))
		return st;
	if ((x = reason_vague(r, st, low)) != NULL)
		return x;
	if (strcmp(r->action, "delayed") == 0)
		return "expired";
	if (text_is(low, "vacation"))
		return "vacation";
	return r->diag[0] ? "onhold" : "undefined";
}

/* fb_reason_classify - set the reason and hard flag of one record */
void
fb_reason_classify(fb_rcpt *r)
{
	if (r->reason[0] == 0)
		fb_strlcpy(r->reason, reason_pick(r), sizeof(r->reason));
	r->hard = fb_reason_is_hard(r->reason, r->status[0] ? r->status : r->reply_code);
}
