/*
 * NAME
 *	feedback_reason 3 - why a recipient failed, and whether for good
 * SYNOPSIS
 *	fb_reason_classify(rcpt);	sets rcpt->reason and rcpt->hard
 * DESCRIPTION
 *	The reason names are sisimai's taxonomy (userunknown, hostunknown,
 *	mailboxfull, filtered, rejected, blocked, spamdetected, expired,
 *	suspend, policyviolation, toomanyconn, ...), so reports compare
 *	with that well-known tool. The decision procedure and every table
 *	here are written from the standards and the MTAs' and providers'
 *	published replies, not fitted to samples (doc/feedback.md,
 *	"How a bounce is classified").
 *
 *	Signals, in this order of precedence:
 *	1. The enhanced status code (RFC 3463, IANA "SMTP Enhanced Status
 *	   Codes" registry) of the record, or found in its diagnostic
 *	   (feedback_dsn.c). A FIRM code decides alone (X.2.2 mailbox
 *	   full). A code that is generic (X.0.0, X.1.0, X.5.0, X.7.0,
 *	   X.7.1, ...) or whose reading is hard (X.1.1, X.1.2, X.1.10)
 *	   lets the text decide first and is the fallback: a hard verdict
 *	   needs the text not to name a soft reason (a false hard loses a
 *	   reader for ever; a false soft costs a retry). A detail the
 *	   table does not list reads as X.Y.0 of its subject (RFC 3463 2).
 *	2. The SMTP reply code (RFC 5321 4.2.2, RFC 7504): FIRM for the
 *	   few that identify a reason (556 no mail accepted, 50x syntax,
 *	   530/535 authentication), else a fallback after the text.
 *	3. Phrases of the diagnostic, one ordered table (text_tab), each
 *	   family commented with the documentation it comes from.
 *	4. The DSN Action and the MTA's own structure: a local delivery
 *	   program's output (x-unix), a temporary failure the MTA gave up
 *	   on (4.x.x with Action failed), a delay notice, a refusal at the
 *	   greeting or EHLO (the sending host), at MAIL FROM (the sender).
 *	onhold only when nothing identifies the reason. One exception to
 *	the order: an X-Unix diagnostic comes first, since its Status is
 *	only the local program's exit code translated (sysexits), not a
 *	receiving system's verdict. Where signals disagree on hard or
 *	soft, soft wins (a mailbox status X.2.x against "user unknown"),
 *	except X.2.1 with the MTA's own explicit words that the user is
 *	unknown in reply to RCPT: userunknown (doc/feedback.md, "Where we
 *	differ", 3). Words alone that the user is unknown are userunknown
 *	only at RCPT (RFC 5321 3.3), under an addressing status (X.1.x) or
 *	in the MTA's own directory lookup; otherwise filtered, soft.
 *
 *	Hard (the address will never work): userunknown, hostunknown,
 *	hasmoved and notaccept, and only when no code says the failure
 *	was temporary (4xx). Everything else is soft.
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

/*
 * Enhanced status codes, subject.detail (RFC 3463 section 3, RFC 4468,
 * RFC 5248, RFC 7372, RFC 7505, RFC 8601, RFC 8689 and the IANA
 * registry; Exchange Online's X.7.5xx/X.7.6xx from Microsoft's "Email
 * non-delivery reports and SMTP errors in Exchange Online"). firm: the
 * code alone decides. Otherwise reason is the fallback when the text
 * names nothing (NULL: no fallback, the next signal decides).
 */
typedef struct status_rule {
	const char *code;
	const char *reason;
	int	firm;			/* 1 firm, 0 fallback, -1 generic fallback */
} status_rule;

static const status_rule status_tab[] = {
	/* X.1 addressing */
	{ "1.0", NULL, -1 },			/* other address status */
	{ "1.1", "userunknown", 0 },		/* bad destination mailbox address */
	{ "1.2", "hostunknown", 0 },		/* bad destination system address */
	{ "1.3", "syntaxerror", 0 },		/* bad destination mailbox address syntax */
	{ "1.4", NULL, 0 },			/* destination mailbox address ambiguous */
	{ "1.6", "hasmoved", 0 },		/* destination mailbox has moved */
	{ "1.7", "rejected", 1 },		/* bad sender's mailbox address syntax */
	{ "1.8", "rejected", 1 },		/* bad sender's system address */
	{ "1.9", "systemerror", 0 },		/* message relayed to non-compliant mailer */
	{ "1.10", "notaccept", 0 },		/* RFC 7505 null MX; Exchange: recipient not found */
	/* X.2 mailbox */
	{ "2.0", "filtered", -1 },		/* other or undefined mailbox status */
	{ "2.1", "suspend", 0 },		/* mailbox disabled, not accepting messages */
	{ "2.2", "mailboxfull", 1 },		/* mailbox full */
	{ "2.3", "exceedlimit", 1 },		/* message length exceeds administrative limit */
	{ "2.4", "systemerror", 0 },		/* mailing list expansion problem */
	/* X.3 mail system */
	{ "3.0", NULL, -1 },			/* other or undefined mail system status */
	{ "3.1", "systemfull", 1 },		/* mail system full */
	{ "3.2", "systemerror", 0 },		/* system not accepting network messages */
	{ "3.3", "systemerror", 0 },		/* system not capable of selected features */
	{ "3.4", "mesgtoobig", 1 },		/* message too big for system */
	{ "3.5", "systemerror", 0 },		/* system incorrectly configured */
	/* X.4 network and routing */
	{ "4.0", NULL, -1 },			/* other or undefined network or routing status */
	{ "4.1", "networkerror", 0 },		/* no answer from host */
	{ "4.2", "networkerror", 0 },		/* bad connection */
	{ "4.3", "systemerror", 0 },		/* directory server failure */
	{ "4.4", "hostunknown", 0 },		/* unable to route */
	{ "4.5", "systemfull", 0 },		/* mail system congestion */
	{ "4.6", "networkerror", 1 },		/* routing loop detected */
	{ "4.7", "expired", 1 },		/* delivery time expired */
	{ "4.300", "expired", 1 },		/* Exchange: message expired */
	{ "4.316", "expired", 1 },		/* Exchange: message expired */
	/* X.5 mail delivery protocol */
	{ "5.0", NULL, -1 },			/* other or undefined protocol status */
	{ "5.1", "syntaxerror", 0 },		/* invalid command */
	{ "5.2", "syntaxerror", 0 },		/* syntax error */
	{ "5.3", "toomanyconn", 1 },		/* too many recipients */
	{ "5.4", "syntaxerror", 0 },		/* invalid command arguments */
	{ "5.5", "systemerror", 0 },		/* wrong protocol version */
	{ "5.6", "securityerror", 0 },		/* authentication exchange line too long */
	/* X.6 message content or media */
	{ "6.0", "contenterror", -1 },		/* other or undefined media error */
	{ "6.1", "contenterror", 0 },		/* media not supported */
	{ "6.2", "contenterror", 0 },		/* conversion required and prohibited */
	{ "6.3", "contenterror", 0 },		/* conversion required but not supported */
	{ "6.4", "contenterror", 0 },		/* conversion with loss performed */
	{ "6.5", "contenterror", 0 },		/* conversion failed */
	{ "6.6", "contenterror", 0 },		/* message content not available */
	{ "6.7", "contenterror", 0 },		/* non-ASCII addresses not permitted */
	{ "6.8", "contenterror", 0 },		/* UTF-8 string reply required */
	{ "6.9", "contenterror", 0 },		/* UTF-8 header message cannot be transferred */
	/* X.7 security or policy */
	{ "7.0", "securityerror", -1 },		/* other or undefined security status */
	{ "7.1", "securityerror", -1 },	/* delivery not authorized, message refused */
	{ "7.2", "securityerror", 0 },		/* mailing list expansion prohibited */
	{ "7.3", "securityerror", 0 },		/* security conversion required */
	{ "7.4", "securityerror", 0 },		/* security features not supported */
	{ "7.5", "securityerror", 0 },		/* cryptographic failure */
	{ "7.6", "securityerror", 0 },		/* cryptographic algorithm not supported */
	{ "7.7", "securityerror", 0 },		/* message integrity failure */
	{ "7.8", "securityerror", 0 },		/* authentication credentials invalid */
	{ "7.9", "securityerror", 0 },		/* authentication mechanism too weak */
	{ "7.10", "securityerror", 0 },		/* encryption needed */
	{ "7.11", "securityerror", 0 },		/* encryption required for mechanism */
	{ "7.13", "suspend", 1 },		/* user account disabled */
	{ "7.14", "securityerror", 0 },		/* trust relationship required */
	{ "7.15", "policyviolation", 0 },	/* priority level too low */
	{ "7.16", "mesgtoobig", 1 },		/* message too big for priority */
	{ "7.17", "hasmoved", 0 },		/* mailbox owner has changed */
	{ "7.18", "hasmoved", 0 },		/* domain owner has changed */
	{ "7.20", "authfailure", 1 },		/* no passing DKIM signature */
	{ "7.21", "authfailure", 1 },		/* no acceptable DKIM signature */
	{ "7.22", "authfailure", 1 },		/* no valid author-matched DKIM signature */
	{ "7.23", "authfailure", 1 },		/* SPF validation failed */
	{ "7.24", "authfailure", 1 },		/* SPF validation error */
	{ "7.25", "requireptr", 1 },		/* reverse DNS validation failed */
	{ "7.26", "authfailure", 1 },		/* multiple authentication checks failed */
	{ "7.27", "rejected", 0 },		/* SENDER address has null MX (RFC 7505; Gmail: SPF) */
	{ "7.28", "spamdetected", 0 },		/* mail flood detected (RFC 8651) */
	{ "7.29", "authfailure", 0 },		/* ARC validation failure (RFC 8617); Gmail: no TLS */
	{ "7.30", "securityerror", 0 },		/* REQUIRETLS support required (RFC 8689); Gmail: DKIM */
	{ "7.509", "authfailure", 1 },		/* Exchange: DMARC failure */
	{ "7.510", "securityerror", 0 },	/* Exchange: IPv6 sender without authentication */
	{ "7.511", "blocked", 1 },		/* Exchange: banned sender */
	{ "7.512", "notcompliantrfc", 1 },	/* Exchange: no valid RFC 5322 From */
	{ "7.513", "blocked", 1 },		/* Exchange: customer block list */
};

/* Exchange Online 5.7.606-5.7.649: "Access denied, banned sending IP". */
#define EXO_BANNED_LO 606
#define EXO_BANNED_HI 649
/* Exchange Online 5.7.700-5.7.750: the sending tenant or IP refused. */
#define EXO_TENANT_LO 700
#define EXO_TENANT_HI 750

/*
 * SMTP reply codes (RFC 5321 4.2.2, RFC 4954 6, RFC 7504, RFC 3207).
 * firm: the code alone decides (the status code did not). Otherwise
 * the fallback after the text.
 */
static const struct reply_rule {
	const char *code;
	const char *reason;
	int	firm;
} reply_tab[] = {
	{ "521", "notaccept", 0 },		/* RFC 7504: host does not accept mail (AOL: a block) */
	{ "556", "notaccept", 1 },		/* RFC 7504: domain does not accept mail */
	{ "500", "syntaxerror", 1 },		/* syntax error, command unrecognized */
	{ "501", "syntaxerror", 0 },		/* syntax error in parameters or arguments */
	{ "502", "syntaxerror", 1 },		/* command not implemented */
	{ "503", "syntaxerror", 1 },		/* bad sequence of commands */
	{ "504", "syntaxerror", 1 },		/* command parameter not implemented */
	{ "530", "securityerror", 1 },		/* authentication required (RFC 4954, 3207) */
	{ "534", "securityerror", 1 },		/* authentication mechanism too weak */
	{ "535", "securityerror", 1 },		/* authentication credentials invalid */
	{ "538", "securityerror", 1 },		/* encryption required */
	{ "451", "systemerror", 0 },		/* local error in processing */
	{ "452", "systemfull", 0 },		/* insufficient system storage */
	{ "552", "mailboxfull", 0 },		/* exceeded storage allocation */
	{ "421", "systemerror", 0 },		/* service not available */
};

/*
 * Phrases of the diagnostic, lowercase, tried row by row: the first row
 * with a phrase in the text gives the reason; a "*" in a phrase stands
 * for one word (the address or domain a server names there). Rows are ordered so that
 * the more precise reading comes first (the sender's address refused
 * before "domain not found", a temporary DNS failure before "host not
 * found", blocklists before the word "spam"). weak rows only count when
 * the SMTP command was RCPT or is unknown.
 */
typedef struct text_rule {
	const char *reason;
	const char *const *phrase;
	int	bare;			/* 1 words of refusal only: the SMTP phase decides;
					 * 2 the MTA's own lookup: no phase needed */
} text_rule;

static const text_rule text_tab[] = {
	/* The SENDER's domain has a null MX (RFC 7505 section 4.2, X.7.27;
	 * Gmail 5.7.27 "the sender domain has a null MX record"), before the
	 * recipient's null MX below */
	{ "rejected", P("sender address has null mx", "sender domain has a null mx",
	    "sender's domain has a null mx"), 0 },
	/* "... does not accept mail from <host or sender>" refuses the
	 * sender, not the recipient's domain (before the null MX texts) */
	{ "blocked", P("does not accept mail from", "accepts no mail from"), 0 },
	/* RFC 7505 null MX and RFC 7504 556/521 texts; Postfix smtp(8)
	 * "Domain %s does not accept mail (nullMX)"; Sendmail "Host does
	 * not accept mail"; Gmail "The domain has a null MX record"; Exim
	 * "an MX or SRV record indicated no SMTP service"; qmail "I couldn't
	 * find a mail exchanger or IP address" (no MX and no address: RFC
	 * 5321 5.1, nowhere to deliver) */
	{ "notaccept", P("null mx", "nullmx", "does not accept mail", "accepts no mail", "no mx found",
	    "indicated no smtp service", "couldn't find a mail exchanger",
	    "could not find a mail exchanger",
	    "no mail service"), 0 },
	/* Reverse DNS of the sending host: Postfix smtpd(8)
	 * reject_unknown_client_hostname "cannot find your hostname",
	 * reject_unknown_reverse_client_hostname "cannot find your reverse
	 * hostname"; Gmail 5.7.25 "does not have a PTR record"; GMX "Bad DNS
	 * PTR resource record"; AOL "(DNS:NR)"; Microsoft/AOL
	 * "reverse DNS" texts */
	{ "requireptr", P("cannot find your hostname", "cannot find your reverse hostname",
	    "reverse dns", "reverse lookup", "ptr record", "no ptr", "rdns", "fcrdns",
	    "not reverse-resolvable", "reverse-resolve", "reverse resolve", "reverse hostname",
	    "forward-confirmed", "does not resolve to your ip", "cannot resolve your address",
	    "dns ptr", "dns:nr"), 0 },
	/* Sender authentication (before RFC 5322 conformance: Gmail 4.7.32
	 * "the From: header (RFC5322) ... isn't aligned with either the
	 * authenticated SPF or DKIM organizational domain" is DMARC
	 * alignment): RFC 7208 SPF, RFC 6376 DKIM, RFC 7489 DMARC; Gmail 5.7.26 "fails to pass authentication checks",
	 * "unauthenticated email ... DMARC policy"; Microsoft 5.7.23/5.7.509;
	 * Yahoo "not accepted due to domain's DMARC policy"; Symantec "domain
	 * authentication fail" */
	{ "authfailure", P("spf check", "spf fail", "spf validation", "spf verification",
	    "failed spf", "fails spf", "not pass spf", "spf softfail", "spf=fail", "spf: fail",
	    "spf record of", "per its spf", "per it's spf", "not authorized by spf",
	    "sender policy framework", "dkim check", "dkim fail", "dkim validation",
	    "dkim verification", "failed dkim", "fails dkim", "no passing dkim", "dkim=fail",
	    "invalid dkim", "dkim signature", "dmarc policy", "dmarc fail", "dmarc check",
	    "dmarc validation", "dmarc verification", "dmarc reject", "due to dmarc",
	    "failed dmarc", "fails dmarc", "not pass dmarc", "dmarc=fail", "authentication checks",
	    "domain authentication fail", "arc validation", "unauthenticated email",
	    "does not have authentication information", "sender is unauthenticated", "openspf",
	    "authenticate with either spf or dkim", "aligned with either the authenticated",
	    "spf permanent error", "spf temporary error", "rejected by spf", "spf policy",
	    "dkim authentication", "spf authentication",
	    "sender policy framework violation"), 0 },
	/* Gmail 4.7.29/5.7.29 "Your email has been rate limited (blocked)
	 * because this message wasn't sent over a TLS connection": a TLS
	 * requirement, before the words of rate limits */
	{ "securityerror", P("wasn't sent over a tls connection", "not sent over a tls connection"), 0 },
	/* RFC 5322 conformance: Gmail 5.7.1 "not RFC 5322 compliant", "bare
	 * LF", "Messages missing a valid address in From: header, or having
	 * no From: header, are not accepted"; Microsoft 5.7.512; Symantec "Stray linefeeds" */
	{ "notcompliantrfc", P("rfc 5322", "rfc5322", "rfc 2822", "rfc2822", "rfc 822",
	    "rfc822 compliant", "not rfc compliant", "rfc compliant", "duplicate header",
	    "multiple from", "multiple addresses in from", "bare lf", "bare linefeed",
	    "stray linefeed", "missing a valid address in from", "no from: header",
	    "no from header"), 0 },
	/* DNS blocklists by name and refusals of the sending host itself
	 * (before the sender's address: "Sender blocked using
	 * zen.spamhaus.org" is the IP): Postfix smtpd(8) reject_rbl_client
	 * "blocked using", "Client host rejected", "Helo command rejected";
	 * qmail "my name was rejected" (Postfix smtp(8)'s "refused to talk
	 * to me: <reply>" comes with the host-level blocks below, after the
	 * rate limits: its reply may say why);
	 * Spamhaus, SpamCop, Barracuda BRBL, SORBS, UCEPROTECT, CBL
	 * (abuseat), PSBL, SpamRATS, Mailspike, Invaluement, SURBL, URIBL,
	 * MAPS (mail-abuse); Proofpoint "ipcheck.proofpoint.com"; Cisco
	 * IronPort SBRS; Exchange "banned sending IP", 5.7.506 "Access
	 * Denied, Bad HELO", 5.7.750 "Client blocked from sending from
	 * unregistered domains"; Mimecast "Invalid HELO"; Comcast's
	 * postmaster "smtp-error-codes.php#BL000000" (DNSBL) and BL000001;
	 * Outlook.com/Hotmail SC-001..SC-004, DY-001/DY-002, OU-001/OU-002
	 * ("Unfortunately, messages from ... weren't sent. Please contact
	 * your Internet service provider", "Mail rejected by Windows Live
	 * Hotmail for policy reasons"); Trend Micro Email Reputation Services
	 * "blocked by ERS-RBL" / "ERS-QIL"; Cisco Secure Email (IronPort)
	 * "Your access to submit messages to this e-mail system has been
	 * rejected", "Your access to this mail system has been rejected due to
	 * the sending MTA's poor reputation"; Symantec Email Security.cloud
	 * (MessageLabs) "Connection rejected by policy [7.7]"; Yahoo [TSS11]
	 * "Excessive unknown recipients" and the directory-harvest limits of
	 * many MTAs ("Too many invalid/unknown/bad recipients", Exim's "Too many
	 * unknown users"): the sending host refused, never this recipient
	 * unknown (before "unknown recipient", "invalid recipient"); Cox
	 * postmaster error codes CXBL, CDRBL (the sending IP blocked) and
	 * IPBLnnnn (listed in a DNSBL); FortiMail "Connection refused by FortiGuard AntiSpam"
	 * (a block, before the network error "connection refused") */
	{ "blocked", P("client host rejected", "client host blocked", "helo command rejected",
	    "my name was rejected", "ipcheck.proofpoint",
	    "blocked using", "spamhaus", "spamcop", "barracuda", "sorbs", "uceprotect",
	    "senderscore", "dnsbl", " rbl", "rbl:", "banned sending ip", "sbrs", "abuseat",
	    "psbl", "spamrats", "mailspike", "invaluement", "surbl", "uribl", "mail-abuse",
	    "ers-rbl", "ers-qil", "ers.trendmicro", "your access to submit messages",
	    "your access to this mail system", "connection rejected by policy",
	    "invalid helo", "bad helo", "client blocked", "smtp-error-codes.php#bl",
	    "sc-001", "sc-002", "sc-003", "sc-004", "dy-001", "dy-002", "ou-001", "ou-002",
	    "rejected by windows live hotmail", "contact your internet service provider",
	    "dynamically-assigned ip", "excessive unknown recipients", "fortiguard",
	    "too many invalid recipients", "too many unknown recipients", "too many bad recipients",
	    "too many unknown users", "cxbl", "cdrbl", "ipbl0", "ipbl1"), 0 },
	/* Relaying refused: Postfix "Relay access denied", Sendmail
	 * "Relaying denied", Exim "relay not permitted", qmail "that domain
	 * isn't in my list of allowed rcpthosts", Exchange 5.7.54/5.7.1
	 * "Unable to relay" */
	{ "norelaying", P("relay access denied", "relaying denied", "relay denied",
	    "relay not permitted", "relaying not permitted", "not permitted to relay",
	    "unable to relay", "relay not allowed", "relaying not allowed", "not allowed to relay",
	    "relaying is not allowed", "relaying disallowed", "relay prohibited", "no relaying",
	    "we do not relay", "allowed rcpthosts", "configured to relay", "relaying to",
	    "open relay"), 0 },
	/* The SENDER refused, before any phrase about domains: Postfix
	 * smtpd(8) "Sender address rejected" (reject_unknown_sender_domain,
	 * reject_unlisted_sender, check_sender_access), Exim "sender verify
	 * failed", Sendmail "Sender address ... Domain of sender address
	 * does not exist", Exchange 5.1.8 "bad outbound sender", Symantec
	 * "your email address has been blocked"; GMX "Sender address is not
	 * allowed"; Google Groups "you may not have permission to post";
	 * Sendmail "Domain name required for sender address"; Yahoo 451
	 * "temporarily deferred due to unresolvable RFC.5321 from domain"; the
	 * sender that "does not exist" (never the weak reading below: hard);
	 * mailing list managers (Mailman "You are not allowed to post to this
	 * mailing list", "Post by non-member to a members-only list", fml "you
	 * are not a member of this mailing list"); RFC 3463 X.1.7/X.1.8 "Bad
	 * sender's mailbox address syntax" / "Bad sender's system address";
	 * Cox AUP#CXSNDR (the sender's domain has no valid MX or A record) */
	{ "rejected", P("sender address rejected", "sender rejected", "sender verify failed",
	    "sender verification failed", "domain of sender address", "sender domain",
	    "bad outbound sender", "sender denied", "sender not allowed", "sender is not allowed",
	    "sender blocked", "sender address is blocked", "envelope sender",
	    "your email address has been blocked", "email address is blacklisted",
	    "sender address has been blacklisted", "address is on the user's blocked",
	    "sender unknown", "unknown sender", "bad sender", "invalid sender",
	    "sender address has null mx", "not accepted from this sender",
	    "address that has been blacklisted", "address has been blacklisted",
	    "address is blacklisted", "sender was rejected", "sender address is not allowed",
	    "permission to post", "domain name required for sender address",
	    "unresolvable rfc.5321 from", "sender does not exist", "sender address does not exist",
	    "sender * does not exist", "not allowed to post", "not a member of", "bad sender's",
	    "members-only", "cxsndr"), 0 },
	/* Listed on a blocklist, the words without a list's name (after the
	 * sender's address: "your email address has been blacklisted" is
	 * the sender): "listed at", "is listed"; Microsoft S3150 "on our
	 * block list"; Gmail 4.7.0 "unsolicited mail originating from your IP
	 * address" */
	{ "blocked", P("blacklist", "black list", "blocklist", "block list", "denylist",
	    "deny list", "listed at", "listed on", "listed by", "is listed", "are listed",
	    "was listed", "originating from your ip"), 0 },
	/* The SENDER's quotas, before the recipient's "quota exceeded":
	 * Gmail 5.4.5 "Daily sending quota exceeded", Exchange 5.1.90 "daily
	 * limit for message recipients", 5.2.121/5.2.122 receive limits;
	 * Gmail 5.7.1 "Email quota exceeded" (the sending account's); Cox
	 * AUP#CXMXRT (the sender exceeded the messages allowed) */
	{ "toomanyconn", P("sending quota", "daily sending", "sending limit", "daily limit",
	    "receive limit", "exceeded their limit", "submission quota",
	    "email quota exceeded", "cxmxrt"), 0 },
	/* Mailbox full: RFC 5321 552 "exceeded storage allocation"; Postfix
	 * local(8)/virtual(8) "cannot update mailbox ... Disk quota
	 * exceeded", "mailbox size limit"; Dovecot LMTP "Quota exceeded
	 * (mailbox for user is full)"; Exim "mailbox is full"; Gmail "over
	 * quota" / "OverQuotaTemp" / "out of storage space"; Yahoo "mailbox
	 * is full"; Exchange 5.2.2 "Mailbox full", "QuotaExceededException";
	 * qmail/vpopmail "over quota"; the same in the languages servers
	 * answer in (German, French, Spanish, Italian, Portuguese) */
	{ "mailboxfull", P("mailbox full", "mailbox is full", "mailbox was full", "full mailbox",
	    "mailbox has exceeded", "mailbox exceeded", "over quota", "overquota", "quota exceeded",
	    "exceeded quota", "exceeds quota", "exceed quota", "exceeded the quota", "quota full",
	    "quota exceed", "quota limit", "disk quota", "storage quota", "over its quota",
	    "out of storage space", "exceeded storage allocation", "exceeded its storage",
	    "mailbox size limit", "mailbox limit", "mailbox exceeds", "over the allowed quota",
	    "error writing message: file too large", "mailfolder is full", "inbox is full",
	    "user's space has been used up", "too much mail data", "insufficient quota",
	    "mailbox is over", "account is over", "would exceed mailbox", "boite pleine",
	    "boite du destinataire pleine", "mailbox * is full", "mailbox * full",
	    "mailbox for user is full", "quotaexceeded", "postfach voll", "postfach ist voll",
	    "bo\xc3\xaete pleine", "buz\xc3\xb3n lleno", "casella piena", "caixa postal cheia"), 0 },
	/* RFC 3463 X.2.3 "message length exceeds administrative limit" (per recipient) */
	{ "exceedlimit", P("message length exceeds", "exceeds administrative limit",
	    "exceeds the recipient's size limit", "message too large for this user"), 0 },
	/* RFC 3463 X.3.4, Postfix "message size %d exceeds size limit %d of
	 * server", Exchange 5.3.4 "message size exceeds fixed maximum message
	 * size", Gmail 5.3.4 "exceeded Google's message size limits"; Mimecast
	 * 554 "Maximum email size exceeded"; qmail-smtpd "Sorry, I don't accept
	 * messages larger than N bytes (#5.3.4)" */
	{ "mesgtoobig", P("message size exceeds", "message too large", "message too big",
	    "message is too large", "message is too big", "exceeds size limit",
	    "exceeds the size limit", "size limit exceeded", "message size limit",
	    "maximum message size", "message size is larger", "message exceeds", "too big for system",
	    "maximum email size", "email size exceeded", "don't accept messages larger than",
	    "email is too large", "mail size limit"), 0 },
	/* Disabled or suspended mailbox: RFC 3463 X.2.1 "mailbox disabled",
	 * X.7.13 "user account disabled"; Gmail 5.2.1 "The email account that
	 * you tried to reach is disabled"; Yahoo "This mailbox is disabled
	 * (554.30)"; au (KDDI) "the user(s) account is disabled"; Exchange
	 * "mailbox is disabled"; Courier/Exim "account is locked"; Zimbra "account
	 * is not active" */
	{ "suspend", P("account disabled", "account is disabled", "account has been disabled",
	    "account that you tried to reach is disabled", "mailbox disabled", "mailbox is disabled",
	    "mailbox has been disabled", "account suspended", "account is suspended",
	    "account has been suspended", "mailbox suspended", "mailbox is suspended",
	    "suspended account", "user suspended", "recipient suspended", "suspended user",
	    "account inactive", "account is inactive", "inactive account", "inactive user",
	    "mailbox inactive", "inactive mailbox",
	    "mailbox is inactive", "account is locked", "account locked", "mailbox is frozen",
	    "account has been deactivated", "account is deactivated", "account expired",
	    "account has expired", "the user(s) account is disabled", "not accepting messages",
	    "temporarily disabled", "user account is unavailable", "account is not active",
	    "account is expired"), 0 },
	/* RFC 5321 551 "User not local; please try <forward-path>", RFC 3463
	 * X.1.6 "destination mailbox has moved" */
	{ "hasmoved", P("has moved", "has been moved", "user not local; please try",
	    "address has changed", "no longer valid; new address", "no longer on server"), 0 },
	/* The MTA's own directory lookup, not a remote server's reply, so no
	 * SMTP phase is needed: Lotus Notes/Domino router "User not listed
	 * in public Name & Address Book", "... not listed in Domino
	 * Directory"; qmail-local "Sorry, no mailbox here by that name";
	 * Exchange 2000/2003 NDR "The recipient's e-mail address was not found
	 * in the recipient's e-mail system"; Exchange Online's NDR for
	 * RecipientNotFound "Your message to <a> couldn't be delivered. <a>
	 * wasn't found at <domain>." */
	{ "userunknown", P("not listed in public name & address book",
	    "not listed in public name and address book", "not listed in domino directory",
	    "no mailbox here by that name", "not found in the recipient's e-mail system",
	    "wasn't found at"), 2 },
	/* Unknown mailbox: RFC 3463 X.1.1 "bad destination mailbox address";
	 * Postfix smtpd(8) "User unknown in local recipient table" / "in
	 * virtual mailbox table" / "in virtual alias table" / "in relay
	 * recipient table", local(8) "unknown user"; Exim "Unrouteable
	 * address", "No Such User Here"; Sendmail "User unknown"; qmail
	 * "no mailbox here by that name"; Exchange 5.1.1/5.1.10
	 * "RESOLVER.ADR.RecipNotFound", "Recipient not found by SMTP address
	 * lookup"; Gmail "The email account that you tried to reach does not
	 * exist"; Yahoo "This user doesn't have a yahoo.com account"; Apple
	 * iCloud "user does not exist"; docomo/au/SoftBank "Unknown user";
	 * Mimecast "Invalid Recipient"; Barracuda "No such user"; Proofpoint,
	 * IronPort, Trend Micro "User unknown" / "Recipient address rejected" (the
	 * phase decides these: text_reason) */
	{ "userunknown", P("user unknown", "unknown user", "user is unknown", "no such user",
	    "no such recipient", "no such mailbox", "no such address", "no such account",
	    "no such person", "no such local user", "unknown recipient", "recipient unknown",
	    "recipient is unknown", "unknown address", "address unknown", "unknown mailbox",
	    "mailbox unknown", "unknown local part", "unknown or illegal alias", "addressee unknown",
	    "invalid recipient", "invalid mailbox", "invalid user", "not a valid recipient",
	    "not a valid mailbox", "not a valid user", "is not a known user", "not a known user",
	    "user not known", "recipient not found", "user not found", "mailbox not found",
	    "address not found", "account not found", "recipnotfound", "recipientnotfound",
	    "recipient does not exist", "user does not exist", "mailbox does not exist",
	    "address does not exist", "account does not exist", "recipient doesn't exist",
	    "user doesn't exist", "mailbox doesn't exist", "address doesn't exist",
	    "account that you tried to reach does not exist", "user doesn't have a", "no mailbox here",
	    "no mailbox by that name", "no account by that name", "unrouteable address",
	    "unroutable address", "bad destination mailbox address", "nonexistent user",
	    "non-existent user", "nonexistent mailbox", "non-existent mailbox",
	    "no valid recipients", "undeliverable address", "destination addresses were unknown",
	    "there is no one at this address", "no longer accepts mail", "bad recipient",
	    "invalid address", "address couldn't be found", "address could not be found",
	    "recipient could not be found", "not listed in domino directory", "utilisateur inconnu",
	    "usuario desconocido", "benutzer unbekannt", "unbekannter benutzer", "utente sconosciuto",
	    "usu\xc3\xa1rio desconhecido",
	    "mailbox * does not exist", "user * does not exist", "recipient * does not exist",
	    "address * does not exist", "user * not found", "mailbox * not found",
	    "recipient * not found", "user * unknown", "recipient * unknown",
	    "user * is unknown", "recipient * is unknown", "address * is unknown",
	    "mailbox * is unknown", "user * doesn't exist", "recipient * doesn't exist",
	    "mailbox * doesn't exist", "address * doesn't exist", "account * does not exist",
	    "recipient address rejected: access denied",
	    "unknown local-part", "not listed in public name & address book",
	    "not listed in public name and address book", "address was not found",
	    "not found in the recipient's e-mail system", "\xe5\xae\x9b\xe5\x85\x88\xe4\xb8\x8d\xe6\x98\x8e"), 0 },
	/* Delivery gave up: RFC 3463 X.4.7; Postfix "delivery time expired"
	 * when maximal_queue_lifetime ran out; Exim "retry timeout exceeded",
	 * "retry time not reached for any host after a long failure period";
	 * Sendmail "Cannot send message for 5 days"; qmail "I'm not going to
	 * try again; this message has been in the queue too long"; Exchange
	 * 4.4.7 "message expired", "message delayed"; Sun/Oracle Messaging
	 * Server "could not be delivered within the time limit"; Gmail "delivery to the
	 * following recipient has been delayed"; OpenSMTPD "Envelope expired" */
	{ "expired", P("time expired", "message expired", "delivery expired", "has expired",
	    "expired after", "queue expired", "retry timeout exceeded", "long failure period",
	    "cannot send message for", "could not be delivered for", "in the queue too long",
	    "too long in queue", "queue too long", "gave up", "given up", "stopped trying",
	    "has been delayed", "message delayed", "not delivered within", "retry limit",
	    "have been failing for a long time", "could not send message for",
	    "cannot send message within", "within the time limit", "envelope expired"), 0 },
	/* A temporary DNS or network failure (soft, before the permanent
	 * readings below): Postfix smtp(8) "Host or domain name not found.
	 * Name service error ... try again", "connect to ...: Connection
	 * refused / timed out", "lost connection with ... while", "conversation
	 * with ... timed out", "No route to host"; Exim "retry time not
	 * reached", "Connection refused"; RFC 3463 X.4.1-X.4.6 texts;
	 * Postfix "mail forwarding loop", Exchange 5.4.14 "hop count exceeded";
	 * Exim "host lookup did not complete"; Sendmail "Name server timeout",
	 * "Name server: %s: host name lookup failure" (a temporary DNS error);
	 * Exchange Online "the recipient's email system refused to accept a
	 * connection from your email system", 5.4.312 "DNS query failed"; Exim
	 * "Remote host closed connection", "SMTP timeout after ..."; qmail
	 * "Connected to %s but connection died"; OpenSMTPD "Temporary failure in
	 * MX lookup"; Postfix "mail for %s loops back to myself" (which Postfix
	 * itself reports as X.4.6, a routing loop); Exim "retry time not
	 * reached for any host" (its hosts kept failing); Postfix smtpd(8)
	 * "Recipient address rejected: Malformed DNS server reply"; qmail
	 * "CNAME lookup failed temporarily. (#4.4.3)";
	 * qmail "I wasn't able to establish an SMTP connection", "This message
	 * is looping" */
	{ "networkerror", P("not found, try again", "name server reply",
	    "did not accept our requests to connect", "temporary failure in name resolution",
	    "temporary dns", "dns temporary", "dns timeout", "servfail", "server failure",
	    "connection refused", "connection timed out",
	    "connection reset", "lost connection", "timed out while", "no route to host",
	    "network is unreachable", "host is unreachable", "could not connect",
	    "unable to connect", "failed to connect", "connection closed", "broken pipe",
	    "network error", "mail forwarding loop", "routing loop", "mail loop",
	    "loop detected", "too many hops", "hop count exceeded", "no answer from host",
	    "bad connection", "host lookup did not complete", "name server timeout",
	    "wasn't able to establish an smtp connection", "message is looping",
	    "host name lookup failure", "refused to accept a connection", "closed connection",
	    "temporary failure in mx lookup", "loops back to myself", "retry time not reached",
	    "malformed dns server reply", "lookup failed temporarily",
	    "smtp timeout", "connection died", "dns query failed"), 0 },
	/* Unknown domain (permanent): RFC 3463 X.1.2 "bad destination system
	 * address"; Postfix smtpd(8) "Recipient address rejected: Domain not
	 * found", smtp(8) "Host or domain name not found"; Sendmail "Host
	 * unknown"; Exim "Unrouteable mail domain", "all relevant MX records
	 * point to non-existent hosts"; qmail "Sorry, I couldn't find any
	 * host named";
	 * Exchange 5.4.310 "DNS domain does not exist", 5.4.4
	 * "SMTPSEND.DNS.NonExistentDomain; nonexistent domain" */
	{ "hostunknown", P("host unknown", "unknown host", "host not found", "domain not found",
	    "domain unknown", "unknown domain", "no such domain", "no such host",
	    "domain does not exist", "domain doesn't exist", "domain name not found",
	    "host or domain name not found", "unrouteable mail domain", "unroutable mail domain",
	    "unrouteable domain", "nxdomain", "name or service not known",
	    "bad destination system address", "non-existent host", "nonexistent host",
	    "not a valid domain", "invalid domain", "domain is not reachable",
	    "dns lookup failure", "couldn't find any host", "could not find any host",
	    "domain * does not exist", "domain * not found", "host * not found",
	    "find the recipient domain", "nonexistent domain", "non-existent domain",
	    "domain could not be found", "domain name could not be found", "host could not be found",
	    "nonexistentdomain"), 0 },
	/* Viruses: ClamAV/amavisd "virus", "INFECTED", Exchange, Gmail 5.7.0
	 * "a virus detected" */
	{ "virusdetected", P("virus", "malware", "infected", "trojan", "worm detected"), 0 },
	/* Refused by the recipient's own rules: Facebook "Refused due to
	 * recipient preferences"; Gmail "The recipient has blocked"; Exchange
	 * 5.7.1 "is not allowed to send to this recipient" / "restricted",
	 * 5.7.129 "RESOLVER.RST.RestrictedToRecipientsPermission", 5.7.124
	 * "Sender not in allowed-senders list", "delivery to this address is
	 * restricted", 5.7.505 "Access denied, banned recipient"; Mimecast "Envelope blocked -
	 * User Entry" / "User Domain Entry" (the recipient's own block list);
	 * filters that "filtered" */
	{ "filtered", P("recipient preferences", "refused by recipient", "rejected by recipient",
	    "blocked by the recipient", "recipient has blocked", "due to user rules",
	    "user refuses", "not accepting mail from", "only accepting mail from",
	    "is not allowed to send to", "filtered",
	    "envelope blocked - user", "restrictedtorecipientspermission",
	    "not authorized to send to this recipient", "allowed-senders list",
	    "delivery to this address is restricted", "banned recipient"), 0 },
	/* Rate limits: RFC 3463 X.5.3 / X.4.5; Gmail 4.4.5 "Server busy", 4.2.1
	 * "Peak SMTP relay limit exceeded"; Postfix/Exim "too many
	 * connections", "too many recipients"; Gmail 4.7.28 / 4.2.1 "unusual
	 * rate" / "rate limit"; Yahoo [TSS04]/[TSS05] "temporarily deferred
	 * due to unexpected volume"; Exchange 4.7.500 "server busy", 5.7.508 "has
	 * exceeded permitted limits"; Microsoft "throttled"; Comcast's
	 * postmaster "smtp-error-codes.php#RL000001" (rate limits); Postfix
	 * smtpd(8) anvil "Error: too much mail from", postscreen(8) "All
	 * server ports are busy"; Sendmail "Too many open connections"; Yahoo
	 * "Max message per connection reached"; Outlook.com RP-001..RP-003
	 * ("limits for how many messages can be sent per hour and per day") */
	{ "toomanyconn", P("too many connections", "too many concurrent",
	    "too many simultaneous", "too many sessions", "connection limit",
	    "connection rate limit", "too many recipients", "too many messages",
	    "too many emails", "rate limit", "ratelimit", "rate-limit", "rate limited",
	    "unusual rate", "sending rate", "exceeded the rate", "throttl", "slow down",
	    "too fast", "unexpected volume", "exceeded permitted limits", "server busy",
	    "limit exceeded", "frequency limited", "receiving mail at a rate",
	    "receiving mail too quickly", "smtp-error-codes.php#rl", "too much mail from",
	    "all server ports are busy", "too many open connections",
	    "max message per connection", "rp-001", "rp-002", "rp-003"), 0 },
	/* The sending host refused for what it is, not for this message:
	 * Postfix smtpd(8) "Client host rejected" (check_client_access,
	 * reject_unknown_client_hostname), "Helo command rejected"; Gmail
	 * 4.7.0/5.7.1 "IP reputation", "low reputation"; Yahoo [TS01]-[TS03]
	 * and [TSS09] "permanently deferred", [GL01] "user complaints";
	 * AOL "RTR:", "DYN:T1"/"DYN:T2" and "RLY:B1".."RLY:B3" codes; Gmail
	 * "Please use the SMTP relay at your service provider"; Exchange 5.7.708/5.7.750 "traffic not
	 * accepted from this IP"; greylisting (postgrey, Zoho "Greylisted",
	 * Mimecast 451 "Internal resource temporarily unavailable");
	 * dynamic/dial-up address policies; Postfix smtp(8) "host %s refused
	 * to talk to me" (a greeting that was not 2xx) */
	{ "blocked", P("refused to talk to me", "ip blocked",
	    "ip address blocked", "ip is blocked", "ip address is blocked", "ip has been blocked",
	    "ip address has been", "your ip", "sending ip", "poor reputation", "bad reputation",
	    "low reputation", "ip reputation", "reputation", "permanently deferred",
	    "connections will not be accepted", "not allowed to connect", "dynamic ip", "dial-up", "dialup",
	    "residential ip", "will not accept delivery", "not in whitelist", "not whitelisted", "con:b1", "hvu:b1",
	    "smtp server of your isp", "smtp relay at your service provider",
	    "not authorized to send email directly", "service refused", "user complaints",
	    "not accepted from this ip", "greylist", "internal resource temporarily unavailable", "graylist", "[ts01]", "[ts02]", "[ts03]",
	    "[tss01]", "[tss09]", "[bl21]", "[bl22]", "[bl23]", "[gl01]", "rtr:", "dyn:t1",
	    "dyn:t2", "rly:b"), 0 },
	/* Spam verdicts on the content: Gmail 5.7.1 "likely unsolicited
	 * mail", "spam"; Yahoo "[GL01]" "unsolicited"; Microsoft "spam";
	 * SpamAssassin/rspamd "spam score", "high spam"; Proofpoint/Trend
	 * Micro/Cisco "spam"; Tencent QQ "Mail content denied" */
	{ "spamdetected", P("spam", "unsolicited", "junk mail", "junk e-mail", "bulk mail",
	    "scored too high", "content rejected", "content denied"), 0 },
	/* Header and MIME problems: RFC 3463 X.6.x; Postfix "header size
	 * exceeds", "message header length exceeds"; Exim "header syntax",
	 * "message has lines too long for transport", the example ACL's
	 * "potentially executable attachment"; amavisd-new "Reject, id=... -
	 * BANNED: ..." (a banned part) and "- BAD-HEADER"; RFC 3463 X.6.2/X.6.3
	 * "Conversion required ...", X.6.5 "Conversion failed" */
	{ "contenterror", P("header error", "invalid header", "header size exceeds",
	    "header length exceeds", "header too long", "header line is too long", "line too long",
	    "header syntax", "malformed header", "invalid mime", "mime error",
	    "improper use of 8-bit", "8-bit data", "8bit data", "illegal attachment",
	    "media not supported", "content error", "message is malformed", "malformed mime",
	    "- banned:", "bad-header", "executable attachment", "lines too long",
	    "conversion required", "conversion failed"), 0 },
	/* RFC 5321 violations named as such (Gmail 4.5.0 "SMTP protocol
	 * violation"), before the word "violation" below */
	{ "syntaxerror", P("protocol violation"), 0 },
	/* Policies: Yahoo 5.7.9 "Message not accepted for policy reasons";
	 * Gmail "violates" / "policy"; Postfix check_*_access texts; Exchange
	 * 5.7.1 "prohibited"; Mimecast "Email rejected due to security policies",
	 * "Administrative prohibition"; Sophos "rejected due to content
	 * restrictions" */
	{ "policyviolation", P("policy violation", "policy reasons", "violates", "violation",
	    "prohibited", "prohibition", "not permitted by policy", "against our policy", "policies",
	    "external forwarding", "content restriction",
	    "content presents",
	    "policy"), 0 },
	/* TLS and SMTP AUTH: RFC 3207 530 "Must issue a STARTTLS command
	 * first", RFC 4954 530/535/538, Exchange 5.7.57 "Client was not
	 * authenticated"; Exim "a TLS session is required", "TLS negotiation
	 * failed"; RFC 3207 4 454 "TLS not available due to temporary reason"
	 * (Postfix smtpd "... due to local problem"), Postfix smtp(8) "TLS is
	 * required, but host %s refused to start TLS"; RFC 3463 X.7.1 "Delivery
	 * not authorized, message refused",
	 * X.7.8 "Authentication credentials invalid", X.7.10 "Encryption
	 * needed" */
	{ "securityerror", P("starttls", "tls required", "must use tls", "encryption required",
	    "authentication required", "authentication is required", "must authenticate",
	    "not authenticated", "unauthenticated sender", "authentication failed", "smtp auth",
	    "tls session is required", "tls negotiation failed", "tls handshake",
	    "delivery not authorized", "credentials invalid", "encryption needed",
	    "certificate", "tls not available", "refused to start tls"), 0 },
	/* RFC 5321 452/RFC 3463 X.3.1 "insufficient system storage", "mail
	 * system full"; Postfix "No space left on device"; Sendmail 452 4.4.5
	 * "Insufficient disk space; try again later" */
	{ "systemfull", P("insufficient system storage", "system full", "no space left",
	    "disk full", "out of disk", "queue full", "system storage", "insufficient disk space"), 0 },
	/* Local delivery programs: Postfix pipe(8)/local(8) "Command died with
	 * status", "Command time limit exceeded"; Sendmail "unknown mailer
	 * error"; procmail, maildrop */
	{ "mailererror", P("mailer error", "command died", "command failed", "command time limit",
	    "exit code", "exit status", "procmail", "maildrop", "local delivery failed",
	    "pipe to |"), 0 },
	/* Other errors of the receiving system: RFC 5321 451 "local error in
	 * processing"; Postfix "mail transport unavailable", "unknown mail
	 * transport error", "queue file
	 * write error", "temporary lookup failure", local(8) "cannot update
	 * mailbox", "cannot access mailbox ... Resource temporarily
	 * unavailable"; Exim "lowest numbered MX record points to local
	 * host"; Sendmail's sysexits texts ("Insufficient permission",
	 * "Operating system error", ...); qmail "unable to chdir to maildir",
	 * "best-preference MX"; Exchange "internal error"; Sendmail 553 5.3.5
	 * "system config error"; a local program's "No such file or directory"
	 * (ENOENT: the system's fault, never the weak "no such" below); the
	 * RFC 3463 texts of X.3.2 "System not accepting network messages"
	 * (shutdown, load, maintenance: not a null MX), X.3.5 "System
	 * incorrectly configured", X.4.3 "Directory server failure", X.2.4
	 * "Mailing list expansion problem"; RFC 5321 451 "Requested action
	 * aborted: error in processing"; Exim and
	 * vpopmail "Temporary local problem - please try later" */
	{ "systemerror", P("local error", "system error", "internal error",
	    "server error", "configuration error", "misconfigured", "transport unavailable",
	    "mail transport error", "queue file write error", "lookup failure",
	    "service unavailable", "system problem", "i/o error", "insufficient permission",
	    "points to local host",
	    "is the local host", "cannot update mailbox", "cannot access mailbox",
	    "resource temporarily unavailable", "permission denied",
	    "operating system error", "internal software error", "system file missing",
	    "can't create output", "local configuration error", "best-preference mx",
	    "unable to chdir", "config error", "no such file or directory",
	    "not accepting network messages", "incorrectly configured", "directory server failure",
	    "routing server failure", "mailing list expansion problem", "temporary local problem",
	    "error in processing", "service temporarily unavailable",
	    "service is temporarily unavailable"), 0 },
	/* SMTP syntax: RFC 5321 500-504 texts; Postfix "Bad recipient address
	 * syntax", reject_non_fqdn_recipient "need fully-qualified address";
	 * Exim "malformed address"; Postfix reject_unauth_pipelining "Improper
	 * use of SMTP command pipelining"; RFC 5321 555 "MAIL FROM/RCPT TO
	 * parameters not recognized or not implemented" */
	{ "syntaxerror", P("syntax error", "address syntax", "command unrecognized",
	    "unrecognized command", "command not recognized", "bad sequence of commands",
	    "command not implemented", "parameter not implemented", "invalid command",
	    "fully-qualified address", "malformed address", "unbalanced",
	    "improper use of smtp command pipelining", "parameters not recognized"), 0 },
	/* Last: the bare words of a refusal ("blocked", "banned", "Access
	 * denied") that no row above explained; the SMTP phase decides
	 * first (text_reason) */
	{ "blocked", P("banned", "blocked"), 1 },
	{ "rejected", P("access denied"), 1 },
};

/*
 * Weak phrases: they name a reason only for a reply to RCPT (or when the
 * SMTP phase is unknown), and only when no row of text_tab matched (so
 * "domain does not exist" stays hostunknown, "sender ... does not exist"
 * rejected). RFC 5321's own text for 550 and 450, "mailbox unavailable",
 * is what Outlook.com and many servers answer for an unknown address,
 * but it also covers "no access" and policy refusals; "<addr> does not
 * exist", "no such ..." are the words of many small MTAs.
 */
static const text_rule weak_tab[] = {
	{ "userunknown", P("mailbox unavailable", "mailbox not available",
	    "recipient address rejected", "address rejected",
	    "does not exist", "doesn't exist", "no such", "could not be found",
	    "couldn't be found", "was not found", "not known here"), 0 },
};

/* Automatic replies (RFC 3834): only when the record has no code at all. */
static const char *const ph_vacation[] = {
	"out of office", "out of the office", "on vacation", "auto-reply", "autoreply",
	"automatic reply", "i am away", "i will be back", NULL };

/* What a local delivery program's failure can be besides a mailer error. */
static const char *const local_reasons[] = { "mailboxfull", "systemerror", "systemfull", NULL };

/* Mail loops (RFC 5321 6.3, Postfix "mail forwarding loop", Exim "Too many
 * \"Received\" headers - suspected mail loop"): not a connection failure. */
static const char *const ph_loop[] = { "loop", "too many hops", "hop count", NULL };

/*
 * A directory (DNS) failure, RFC 3463 X.4.3 "directory server failure":
 * Postfix smtp(8) "Name service error ... Host not found, try again",
 * "Malformed or unexpected name server reply"; Sendmail "Name server:
 * %s: host name lookup failure", "Name server timeout"; qmail "CNAME
 * lookup failed temporarily"; resolver "Temporary failure in name
 * resolution", SERVFAIL
 */
static const char *const ph_dns_temp[] = {"name service error",
                                          "name server",
                                          "host name lookup failure",
                                          "lookup failed temporarily",
                                          "temporary failure in name resolution",
                                          "servfail",
                                          "dns timeout",
                                          "temporary dns",
                                          "dns temporary",
                                          "dns query failed",
                                          "temporary failure in mx lookup",
                                          "host lookup did not complete",
                                          NULL};

/*
 * Texts that only a refusal at RCPT has: Postfix smtpd(8) writes "Recipient
 * address rejected" for its recipient restrictions, which run at RCPT TO,
 * and reject_unlisted_recipient's "User unknown in local recipient table"
 * (virtual mailbox, virtual alias, relay recipient); and any text that
 * names "RCPT TO" as the command refused (read only when no phase was found).
 */
static const char *const ph_rcpt_only[] = {
	"recipient address rejected", "in local recipient table", "in virtual mailbox table",
	"in virtual alias table", "in relay recipient table", "rcpt to", NULL };

/* Commands before DATA that the sending host itself is refused at. */
static const char *const host_commands[] = { "CONN", "EHLO", "HELO", NULL };

/* Readings of a recipient's mailbox or domain, which only RCPT and later can name */
static const char *const mailbox_reasons[] = { "userunknown", "hostunknown", "hasmoved",
	"suspend", "mailboxfull", "filtered", NULL };

/* Reasons that only a recipient's own address can have: soft or hard. */
static const char *const hard_reasons[] = { "userunknown", "hostunknown", "hasmoved",
	"notaccept", NULL };

/* Every reason name this classifier gives (the configuration checks against it). */
static const char *const taxonomy[] = {
	"userunknown", "hostunknown", "mailboxfull", "mesgtoobig", "exceedlimit", "filtered",
	"rejected", "blocked", "spamdetected", "virusdetected", "policyviolation",
	"securityerror", "authfailure", "requireptr", "notcompliantrfc", "contenterror",
	"norelaying", "notaccept", "hasmoved", "suspend", "toomanyconn", "expired",
	"networkerror", "systemerror", "systemfull", "mailererror", "syntaxerror", "onhold",
	"undefined", NULL };

/* in_list - is s one of the NULL-terminated list? */
static int
in_list(const char *s, const char *const *list)
{
	for (; *list; list++)
		if (strcmp(s, *list) == 0)
			return 1;
	return 0;
}

/*
 * gap_match - does text contain pattern, whose one "*" stands for one word
 * (a run of non-blanks: an address, a domain, a quoted name)?
 */
static int
gap_match(const char *text, const char *pat, const char *star)
{
	size_t	pre = (size_t) (star - pat), post = strlen(star + 1);
	const char *p = text, *w;

	while (pre > 0 && (p = memmem(p, strlen(p), pat, pre)) != NULL) {
		for (w = p + pre; *w && *w != ' '; w++)
			;
		if (w > p + pre && strncmp(w, star + 1, post) == 0)
			return 1;
		p++;
	}
	return 0;
}

/* phrase_match - does the lowercased text contain a phrase of the list? */
static int
phrase_match(const char *text, const char *const *list)
{
	const char *star;

	for (; *list; list++) {
		if ((star = strchr(*list, '*')) == NULL) {
			if (strstr(text, *list) != NULL)
				return 1;
		} else if (gap_match(text, *list, star))
			return 1;
	}
	return 0;
}

/* table_match - the first row of tab with a phrase in low, or NULL */
static const text_rule *
table_match(const char *low, const text_rule *tab, size_t n)
{
	size_t	i;

	for (i = 0; i < n; i++)
		if (phrase_match(low, tab[i].phrase))
			return &tab[i];
	return NULL;
}

/*
 * reply_prefix_len - the length of a reply line's prefix at p ("550-5.1.1 ",
 * "550 5.1.1 ": RFC 5321 4.2.1 code, "-" on continuation lines, then an
 * RFC 3463 status), else 0; *code gets its three digits
 */
static size_t
reply_prefix_len(const char *p, char code[4])
{
	const char *q = p + 4;
	int dots = 0;

	if (p[0] < '2' || p[0] > '5' || !isdigit((unsigned char)p[1]) ||
	    !isdigit((unsigned char)p[2]) || (p[3] != '-' && p[3] != ' ') || *q != p[0])
		return 0;
	for (q++; isdigit((unsigned char)*q) || (*q == '.' && dots++ < 2); q++)
		;
	if (dots != 2 || q[-1] == '.' || (*q != ' ' && *q != 0))
		return 0;
	memcpy(code, p, 3);
	code[3] = 0;
	return (size_t)(q - p) + (*q == ' ');
}

/*
 * strip_continuations - remove the line prefixes of a multiline reply that
 * its MTA joined into one line (Postfix smtp(8) joins "550-5.7.26 ...",
 * "550 5.7.26 ..." with spaces), so that a phrase split across the lines
 * matches: every "NNN-X.Y.Z " after the start, and the last line's "NNN
 * X.Y.Z " once a continuation of that code was seen
 */
static void
strip_continuations(char *low)
{
	char code[4], seen[4] = "";
	char *w = low, *p = low;
	size_t n;

	while (*p) {
		if (p > low && p[-1] == ' ' && (n = reply_prefix_len(p, code)) > 0 &&
		    (p[3] == '-' || strcmp(code, seen) == 0)) {
			if (p[3] == '-')
				memcpy(seen, code, sizeof(seen));
			p += n;
			continue;
		}
		*w++ = *p++;
	}
	*w = 0;
}

/* lower_copy - the text lowercased into low[FB_DIAG_MAX], reply prefixes joined */
static void
lower_copy(char *low, const char *text)
{
	fb_strlcpy(low, text, FB_DIAG_MAX);
	fb_strlower(low);
	strip_continuations(low);
}

/* fb_reason_from_text - the first reason whose phrases the text has, or NULL */
const char *
fb_reason_from_text(const char *text)
{
	char	low[FB_DIAG_MAX];
	const text_rule *t;

	lower_copy(low, text);
	t = table_match(low, text_tab, sizeof(text_tab) / sizeof(text_tab[0]));
	return t ? t->reason : NULL;
}

/*
 * subject_rule - the row of X.Y.0 for an unlisted detail: RFC 3463 section
 * 2, the subject "must be able to be analyzed independently of the
 * detail" (Exchange's X.7.124, X.7.129, ...), so it reads as X.Y.0
 */
static const status_rule *
subject_rule(const char *status)
{
	char	code[8];
	size_t	i;

	if (!isdigit((unsigned char) status[2]) || status[3] != '.')
		return NULL;
	snprintf(code, sizeof(code), "%c.0", status[2]);
	for (i = 0; i < sizeof(status_tab) / sizeof(status_tab[0]); i++)
		if (strcmp(code, status_tab[i].code) == 0)
			return &status_tab[i];
	return NULL;
}

/* status_rule_of - the table row of an enhanced status code, or NULL */
static const status_rule *
status_rule_of(const char *status)
{
	static const status_rule banned = { "7.6xx", "blocked", 1 };
	static const status_rule tenant = { "7.7xx", "blocked", 0 };
	size_t	i;
	long	d;

	if (status == NULL || strlen(status) < 5 || status[1] != '.')
		return NULL;
	for (i = 0; i < sizeof(status_tab) / sizeof(status_tab[0]); i++)
		if (strcmp(status + 2, status_tab[i].code) == 0)
			return &status_tab[i];
	if (strncmp(status + 2, "7.", 2) == 0) {
		d = strtol(status + 4, NULL, 10);
		if (d >= EXO_BANNED_LO && d <= EXO_BANNED_HI)
			return &banned;
		if (d >= EXO_TENANT_LO && d <= EXO_TENANT_HI)
			return &tenant;
	}
	return subject_rule(status);
}

/* fb_reason_from_status - the meaning of an enhanced status code, or NULL */
const char *
fb_reason_from_status(const char *status)
{
	const status_rule *s;

	if (status != NULL && status[0] == '2' && status[1] == '.')
		return "delivered";
	s = status_rule_of(status);
	return s ? s->reason : NULL;
}

/* reply_rule_of - the table row of an SMTP reply code, or NULL */
static const struct reply_rule *
reply_rule_of(const char *code)
{
	size_t	i;

	for (i = 0; i < sizeof(reply_tab) / sizeof(reply_tab[0]); i++)
		if (strcmp(code, reply_tab[i].code) == 0)
			return &reply_tab[i];
	return NULL;
}

/* temp_class - the record's codes say the failure was temporary (4.x.x, else 4xx) */
static int
temp_class(const fb_rcpt *r)
{
	if (r->status[0])
		return r->status[0] == '4';
	return r->reply_code[0] == '4';
}

/* gave_up - the DSN Action says the MTA stopped trying (RFC 3464 2.3.3) */
static int
gave_up(const fb_rcpt *r)
{
	return strcmp(r->action, "failed") == 0 || strcmp(r->action, "expired") == 0;
}

/* structure_reason - what the DSN Action and the SMTP phase say, or NULL */
static const char *
structure_reason(const fb_rcpt *r)
{
	if (strcmp(r->action, "delayed") == 0 || strcmp(r->action, "expired") == 0)
		return "expired";
	if (temp_class(r) && gave_up(r))
		return "expired";
	if (in_list(r->command, host_commands))
		return "blocked";
	if (strcmp(r->command, "MAIL") == 0)
		return "rejected";
	return NULL;
}

/* status_fallback - the status code's own reading when the text named nothing */
static const char *
status_fallback(const fb_rcpt *r, const status_rule *s)
{
	if (s == NULL || s->reason == NULL)
		return NULL;
	/* X.4.1/X.4.2 retried until the queue lifetime ran out */
	if (temp_class(r) && gave_up(r)
	    && (strcmp(s->reason, "networkerror") == 0 || strcmp(s->reason, "systemerror") == 0))
		return "expired";
	return s->reason;
}

/* bare_reason - words of refusal alone: the SMTP phase, then the status, say whom */
static const char *
bare_reason(const fb_rcpt *r, const status_rule *s, const char *t)
{
	const char *x = structure_reason(r);

	if (x != NULL && strcmp(x, "expired") != 0)
		return x;
	if ((x = status_fallback(r, s)) != NULL)
		return x;
	return t;
}

/* rcpt_phase - was this the reply to RCPT TO, by the phase found or the reply's own words? */
static int
rcpt_phase(const fb_rcpt *r, const char *low)
{
	if (r->command[0])
		return strcmp(r->command, "RCPT") == 0;
	return phrase_match(low, ph_rcpt_only);
}

/*
 * addressing_status - is the code, the record's or else one in its text,
 * an addressing one (RFC 3463 X.1.x: X.1.1 bad mailbox, Exchange's X.1.10
 * RecipientNotFound, ...), which blames the address and not the message?
 */
static int
addressing_status(const fb_rcpt *r)
{
	char	st[16];

	if (r->status[0])
		return r->status[2] == '1' && r->status[3] == '.';
	return fb_text_find_status(r->diag, st) && st[2] == '1' && st[3] == '.';
}

/* text_reason - what the diagnostic's phrases say, adjusted by the other signals */
static const char *
text_reason(const fb_rcpt *r, const char *low, const status_rule *s)
{
	const text_rule *row = table_match(low, text_tab, sizeof(text_tab) / sizeof(text_tab[0]));
	const char *t;
	int	weak = 0;

	if (row == NULL && (r->command[0] == 0 || strcmp(r->command, "RCPT") == 0)) {
		row = table_match(low, weak_tab, sizeof(weak_tab) / sizeof(weak_tab[0]));
		weak = row != NULL;
		/* a security or policy status (X.7.x) says why a generic refusal was made */
		if (weak && r->status[0] && r->status[2] == '7' && r->status[3] == '.')
			return NULL;
	}
	if (row == NULL)
		return NULL;
	t = row->reason;
	/*
	 * No recipient is named before RCPT TO (RFC 5321 3.3): the words of
	 * a mailbox's state in reply to the greeting or HELO/EHLO refuse the
	 * client ("554 ... not accepting messages")
	 */
	if (in_list(t, mailbox_reasons) && in_list(r->command, host_commands))
		return "blocked";
	if (row->bare == 1)
		return bare_reason(r, s, t);
	if (row->bare == 2)
		return t;
	if (in_list(t, hard_reasons)) {
		/*
		 * Recipients are checked at RCPT (RFC 5321 3.3): "user unknown"
		 * in reply to DATA is a filter's verdict on this message, not
		 * a proof that the mailbox is gone.
		 */
		if (strcmp(t, "userunknown") == 0 && strcmp(r->command, "DATA") == 0)
			return "filtered";
		/* a reply to MAIL FROM is about the reverse-path: the sender */
		if (strcmp(r->command, "MAIL") == 0)
			return "rejected";
		/*
		 * A mailbox status (X.2.x) says the mailbox exists: against a
		 * text that says it does not, the soft reading wins. Except
		 * X.2.1 ("mailbox disabled") with the MTA's own explicit words
		 * that the user is unknown (not a weak phrase): the words name
		 * the reason (doc/feedback.md, "Where we differ").
		 */
		if (s != NULL && s->firm == 0 && s->code[0] == '2' && s->reason != NULL
		    && !in_list(s->reason, hard_reasons)
		    && !(strcmp(s->code, "2.1") == 0 && strcmp(t, "userunknown") == 0 && !weak
			 && rcpt_phase(r, low)))
			return s->reason;
		/*
		 * Words alone that the user is unknown, with nothing showing
		 * they answered RCPT (RFC 5321 3.3: where recipients are
		 * checked) and no addressing status (X.1.x) saying so: a
		 * filter's verdict may read the same, so the soft reading
		 */
		if (strcmp(t, "userunknown") == 0 && !rcpt_phase(r, low) && !addressing_status(r))
			return "filtered";
		return t;
	}
	/*
	 * A permanent refusal before any transaction (the greeting, HELO or
	 * EHLO) refuses this client: a server that cannot serve answers 421
	 * (RFC 5321 3.8, 4.2.3), and 554 at the greeting is "No SMTP service
	 * here" for the client (RFC 5321 3.1)
	 */
	if (strcmp(t, "systemerror") == 0 && in_list(r->command, host_commands) && !temp_class(r)
	    && (r->status[0] == '5' || r->reply_code[0] == '5'))
		return "blocked";
	if (strcmp(t, "networkerror") == 0 || strcmp(t, "systemerror") == 0) {
		/*
		 * A temporary failure the MTA retried until it gave up; but a
		 * lookup of the destination that kept failing (X.4.3) names its
		 * network cause, which the expiry does not replace
		 */
		if (strcmp(t, "networkerror") == 0 && phrase_match(low, ph_dns_temp))
			return t;
		if (temp_class(r) && gave_up(r))
			return "expired";
		/*
		 * A connection failure is always retried (RFC 5321 4.5.4.1):
		 * reported with no permanent code, the MTA gave up.
		 */
		if (strcmp(t, "networkerror") == 0 && !r->status[0] && r->reply_code[0] != '5'
		    && (gave_up(r) || strcmp(r->action, "delayed") == 0) && !phrase_match(low, ph_loop))
			return "expired";
	}
	return t;
}

/* reason_pick - the signals in their order of precedence */
static const char *
reason_pick(const fb_rcpt *r)
{
	const status_rule *s = status_rule_of(r->status);
	const struct reply_rule *rp = reply_rule_of(r->reply_code);
	char	low[FB_DIAG_MAX];
	const char *x;

	if (r->status[0] == '2' && r->status[1] == '.')
		return "delivered";
	lower_copy(low, r->diag);
	/*
	 * A local delivery program's own output (RFC 3464 "X-Unix" type):
	 * a mailer error unless it names a full mailbox or a fault of the
	 * system (Sendmail's sysexits texts)
	 */
	if (strncmp(r->diag_type, "x-unix", 6) == 0) {
		x = text_reason(r, low, s);
		return x != NULL && in_list(x, local_reasons) ? x : "mailererror";
	}
	if (s != NULL && s->firm > 0)
		return s->reason;
	/* a non-standard but explicit Action (SendGrid and others) */
	if (strcmp(r->action, "expired") == 0)
		return "expired";
	if ((s == NULL || s->reason == NULL || s->firm < 0) && rp != NULL && rp->firm)
		return rp->reason;
	if ((x = text_reason(r, low, s)) != NULL)
		return x;
	/* a code with a meaning, then the structure, then a generic code's class */
	if (s != NULL && s->firm == 0 && (x = status_fallback(r, s)) != NULL)
		return x;
	if ((x = structure_reason(r)) != NULL)
		return x;
	if ((x = status_fallback(r, s)) != NULL)
		return x;
	if (rp != NULL)
		return rp->reason;
	if (r->status[0] == 0 && r->reply_code[0] == 0 && phrase_match(low, ph_vacation))
		return "vacation";
	return r->diag[0] ? "onhold" : "undefined";
}

/*
 * fb_reason_is_hard - will the address never work? Only the reasons
 * that speak of the address itself (userunknown, hostunknown, hasmoved,
 * notaccept), and not when the code (enhanced status, else reply code)
 * is a 4xx one: a temporary failure can go away. Everything else is
 * soft. (Operators who want some soft reasons suppressed at once list
 * them in the hard_reasons option; feedback_effects.c applies it.)
 */
int
fb_reason_is_hard(const char *reason, const char *code)
{
	if (!in_list(reason, hard_reasons))
		return 0;
	return code == NULL || code[0] != '4';
}

/* fb_reason_known - is this the name of a bounce reason? */
int
fb_reason_known(const char *reason)
{
	return in_list(reason, taxonomy);
}

/* fb_reason_classify - set the reason and hard flag of one record */
void
fb_reason_classify(fb_rcpt *r)
{
	if (r->reason[0] == 0)
		fb_strlcpy(r->reason, reason_pick(r), sizeof(r->reason));
	r->hard = fb_reason_is_hard(r->reason, r->status[0] ? r->status : r->reply_code);
}
