/*
 * NAME
 *	test_feedback_reason - unit tests of the bounce reason classifier
 * DESCRIPTION
 *	fb_reason_classify() on hand-made recipient records (status,
 *	diagnostic, action, command, diagnostic type), the status-code
 *	table, the hard/soft rule, the SMTP-phase rules, the provider
 *	tables (feedback_vendor_rhost.c) and the text helpers that find
 *	addresses, enhanced status codes, reply codes and commands; the
 *	precedence of doc/feedback.md on replies written from the standards
 *	and vendors' documentation; recipient extraction through
 *	fb_classify() (DSN forms, the bounce's own From, X-Failed-Recipients,
 *	transcripts).
 */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "feedback.h"

/* classify - a record from its parts, classified */
static fb_rcpt
classify(const char *status, const char *diag, const char *action, const char *command,
	 const char *type)
{
	fb_rcpt	r;

	memset(&r, 0, sizeof(r));
	fb_strlcpy(r.status, status, sizeof(r.status));
	fb_strlcpy(r.diag, diag, sizeof(r.diag));
	fb_strlcpy(r.action, action, sizeof(r.action));
	fb_strlcpy(r.command, command, sizeof(r.command));
	fb_strlcpy(r.diag_type, type, sizeof(r.diag_type));
	fb_reason_classify(&r);
	return r;
}

static void
test_user_unknown_is_hard(void **state)
{
	fb_rcpt	r = classify("5.1.1", "550 5.1.1 <a@example.org>: Recipient address rejected: "
			     "User unknown in virtual mailbox table", "failed", "RCPT", "smtp");

	(void) state;
	assert_string_equal(r.reason, "userunknown");
	assert_true(r.hard);
}

static void
test_mailbox_full_beats_status(void **state)
{
	/* servers send 5.1.1 for anything: the text says full, so it is soft */
	fb_rcpt	r = classify("5.1.1", "550 5.1.1 Mailbox full, try later", "failed", "RCPT", "smtp");

	(void) state;
	assert_string_equal(r.reason, "mailboxfull");
	assert_false(r.hard);
}

static void
test_status_only(void **state)
{
	fb_rcpt	r;

	(void) state;
	r = classify("5.2.2", "", "failed", "", "smtp");
	assert_string_equal(r.reason, "mailboxfull");
	r = classify("5.1.2", "", "failed", "", "smtp");
	assert_string_equal(r.reason, "hostunknown");
	assert_true(r.hard);
	r = classify("5.3.4", "", "failed", "", "smtp");
	assert_string_equal(r.reason, "mesgtoobig");
	/* X.7.1 "delivery not authorized, message refused": the X.7 class */
	r = classify("5.7.1", "", "failed", "", "smtp");
	assert_string_equal(r.reason, "securityerror");
	assert_false(r.hard);
}

static void
test_blocked_and_spam(void **state)
{
	fb_rcpt	r;

	(void) state;
	r = classify("5.7.1", "554 5.7.1 Service unavailable; Client host [192.0.2.1] blocked "
		     "using zen.spamhaus.org", "failed", "RCPT", "smtp");
	assert_string_equal(r.reason, "blocked");
	r = classify("5.7.1", "550 5.7.1 Message rejected as spam by Content Filtering.",
		     "failed", "DATA", "smtp");
	assert_string_equal(r.reason, "spamdetected");
	assert_false(r.hard);
}

static void
test_user_unknown_after_data_is_filtered(void **state)
{
	/* a user-unknown text after DATA is a filter's answer, not the mailbox */
	fb_rcpt	r = classify("", "550 Unknown user", "failed", "DATA", "smtp");

	(void) state;
	assert_string_equal(r.reason, "filtered");
	assert_false(r.hard);
}

static void
test_delayed_and_mailer(void **state)
{
	fb_rcpt	r;

	(void) state;
	r = classify("4.4.7", "", "delayed", "", "smtp");
	assert_string_equal(r.reason, "expired");
	r = classify("", "connect to mx.example.org[192.0.2.2]:25: Connection timed out",
		     "delayed", "", "");
	assert_string_equal(r.reason, "expired");
	r = classify("5.3.0", "procmail: Couldn't create \"/var/mail/x\"", "failed", "", "x-unix");
	assert_string_equal(r.reason, "mailererror");
}

static void
test_delivered_and_undefined(void **state)
{
	fb_rcpt	r;

	(void) state;
	r = classify("2.0.0", "250 2.0.0 Ok: queued", "delivered", "", "smtp");
	assert_string_equal(r.reason, "delivered");
	assert_false(r.hard);
	r = classify("", "", "failed", "", "");
	assert_string_equal(r.reason, "undefined");
	r = classify("", "something odd happened", "failed", "", "");
	assert_string_equal(r.reason, "onhold");
}

static void
test_hard_rule(void **state)
{
	(void) state;
	assert_true(fb_reason_is_hard("userunknown", "5.1.1"));
	assert_true(fb_reason_is_hard("hasmoved", "5.1.6"));
	assert_true(fb_reason_is_hard("notaccept", "5.1.10"));
	assert_false(fb_reason_is_hard("notaccept", "4.3.2"));
	assert_false(fb_reason_is_hard("mailboxfull", "5.2.2"));
	assert_false(fb_reason_is_hard("blocked", "5.7.1"));
	assert_null(fb_reason_from_status("9.9"));
	assert_null(fb_reason_from_status(NULL));
}

static void
test_text_helpers(void **state)
{
	char	a[FB_ADDR_MAX], st[16], rc[4], cmd[8];

	(void) state;
	assert_true(fb_text_find_addr("RCPT TO:<Kijitora@Example.ORG>:", a, sizeof(a)));
	assert_string_equal(a, "Kijitora@Example.ORG");
	assert_false(fb_text_find_addr("no address @ here", a, sizeof(a)));
	assert_true(fb_text_find_status("said: 550-5.1.1 The email account", st));
	assert_string_equal(st, "5.1.1");
	assert_false(fb_text_find_status("IP 192.0.2.1 only", st));
	assert_true(fb_text_find_status("#5.7.26 dmarc", st));
	assert_string_equal(st, "5.7.26");
	assert_true(fb_text_find_reply("host [192.0.2.5] said: 452 4.2.2 full", rc));
	assert_string_equal(rc, "452");
	fb_text_find_command("(in reply to end of DATA command)", cmd);
	assert_string_equal(cmd, "DATA");
	fb_text_find_command("nothing", cmd);
	assert_string_equal(cmd, "");
}

static void
test_user_unknown_phase(void **state)
{
	fb_rcpt	r;

	(void) state;
	/* no status, no SMTP phase: the words name the mailbox */
	r = classify("", "550 <a@example.org>: User unknown", "failed", "", "smtp");
	assert_string_equal(r.reason, "userunknown");
	assert_true(r.hard);
	/* after DATA the same words are a filter's verdict on the message: soft */
	r = classify("", "550 <a@example.org>: User unknown", "failed", "DATA", "smtp");
	assert_string_equal(r.reason, "filtered");
	assert_false(r.hard);
	/* the same words in reply to RCPT name the mailbox */
	r = classify("", "550 <a@example.org>: User unknown", "failed", "RCPT", "smtp");
	assert_string_equal(r.reason, "userunknown");
	assert_true(r.hard);
	/* x.1.1 says so whatever the phase */
	r = classify("5.1.1", "550 5.1.1 <a@example.org>: User unknown", "failed", "", "smtp");
	assert_string_equal(r.reason, "userunknown");
	assert_true(r.hard);
}

static void
test_notaccept_hard_unless_temporary(void **state)
{
	fb_rcpt	r;

	(void) state;
	assert_true(fb_reason_is_hard("notaccept", NULL));
	assert_true(fb_reason_is_hard("notaccept", "556"));
	assert_false(fb_reason_is_hard("notaccept", "421"));
	/* a null MX reported with 4.0.0 is a temporary notaccept: soft */
	r = classify("4.0.0", "The domain example.org doesn't receive email: returned Null MX",
		     "failed", "", "smtp");
	assert_string_equal(r.reason, "notaccept");
	assert_false(r.hard);
	r = classify("5.1.10", "556 5.1.10 Recipient address has null MX", "failed", "RCPT", "smtp");
	assert_string_equal(r.reason, "notaccept");
	assert_true(r.hard);
}

static void
test_phase_rules(void **state)
{
	char	cmd[8];
	fb_rcpt	r;

	(void) state;
	fb_text_find_command("... while talking to mx.example.org.:\n<<< 554 go away (BL)\n", cmd);
	assert_string_equal(cmd, "CONN");
	fb_text_find_command("... while talking to mx.example.org.:\n>>> RCPT To:<a@example.org>\n"
			     "<<< 550 5.1.1 unknown\n", cmd);
	assert_string_equal(cmd, "RCPT");
	fb_text_find_command("SMTP error from remote mail server after EHLO mx.example.org:", cmd);
	assert_string_equal(cmd, "EHLO");
	fb_text_find_command("Technical details: SMTP:RCPT host 192.0.2.8: 553 no such user", cmd);
	assert_string_equal(cmd, "RCPT");
	/* refused before any command, nothing else said: the client is blocked */
	r = classify("5.5.0", "554 IP=192.0.2.254 - A problem occurred. (BL)", "failed", "CONN", "smtp");
	assert_string_equal(r.reason, "blocked");
	r = classify("5.0.0", "550 Rejected", "failed", "EHLO", "smtp");
	assert_string_equal(r.reason, "blocked");
	/* "access denied" in reply to MAIL FROM refuses the sender */
	r = classify("5.7.1", "550 5.7.1 Access denied", "failed", "MAIL", "smtp");
	assert_string_equal(r.reason, "rejected");
	/* no phase: the status code's own reading */
	r = classify("5.7.1", "550 5.7.1 Access denied", "failed", "", "smtp");
	assert_string_equal(r.reason, "securityerror");
	/* a mailbox status against "user unknown": the soft reading wins */
	r = classify("5.2.1", "550 5.2.1 <a@example.org>... User Unknown", "failed", "RCPT", "smtp");
	assert_string_equal(r.reason, "suspend");
	assert_false(r.hard);
}

/*
 * The precedence of doc/feedback.md, on replies written from the
 * standards and the vendors' documentation.
 */
static void
test_firm_status_beats_reply_and_text(void **state)
{
	fb_rcpt	r, m;

	(void) state;
	/* RFC 3463 X.2.2 decides, whatever the words */
	r = classify("5.2.2", "552 5.2.2 <a@example.org>: user unknown", "failed", "RCPT", "smtp");
	assert_string_equal(r.reason, "mailboxfull");
	assert_false(r.hard);
	/* X.3.4 beats a 552 (RFC 5321 "exceeded storage allocation") */
	memset(&m, 0, sizeof(m));
	fb_strlcpy(m.status, "5.3.4", sizeof(m.status));
	fb_strlcpy(m.reply_code, "552", sizeof(m.reply_code));
	fb_strlcpy(m.diag, "552 5.3.4 Error: message file too big", sizeof(m.diag));
	fb_reason_classify(&m);
	assert_string_equal(m.reason, "mesgtoobig");
	/* a firm reply code beats the text when the status says nothing */
	memset(&m, 0, sizeof(m));
	fb_strlcpy(m.status, "5.0.0", sizeof(m.status));
	fb_strlcpy(m.reply_code, "556", sizeof(m.reply_code));
	fb_strlcpy(m.diag, "556 Domain example.org refused: user unknown", sizeof(m.diag));
	fb_reason_classify(&m);
	assert_string_equal(m.reason, "notaccept");
	assert_true(m.hard);
	/* Exchange Online 5.7.606-649: banned sending IP */
	r = classify("5.7.620", "550 5.7.620 Access denied, banned sending IP [192.0.2.1]",
		     "failed", "RCPT", "smtp");
	assert_string_equal(r.reason, "blocked");
}

static void
test_generic_status_defers_to_text(void **state)
{
	fb_rcpt	r;

	(void) state;
	/* Postfix without a remote enhanced code writes Status 5.0.0 */
	r = classify("5.0.0", "host mx.example.org[192.0.2.1] said: 550 <a@example.org>: "
		     "Recipient address rejected: User unknown in local recipient table "
		     "(in reply to RCPT TO command)", "failed", "RCPT", "smtp");
	assert_string_equal(r.reason, "userunknown");
	assert_true(r.hard);
	/* the same reply with no enhanced code and no phase at all */
	r = classify("", "550 <a@example.org>: Recipient address rejected: User unknown in "
		     "local recipient table", "failed", "", "smtp");
	assert_string_equal(r.reason, "userunknown");
	assert_true(r.hard);
	/* X.7.1 is generic: Gmail's spam verdict decides */
	r = classify("5.7.1", "550-5.7.1 Our system has detected that this message is likely "
		     "unsolicited mail", "failed", "DATA", "smtp");
	assert_string_equal(r.reason, "spamdetected");
	/* X.5.0 is generic: Yahoo's policy text decides */
	r = classify("5.5.0", "554 5.7.9 Message not accepted for policy reasons", "failed", "DATA",
		     "smtp");
	assert_string_equal(r.reason, "policyviolation");
	/* X.1.0 with relaying refused (Sendmail "Relaying denied") */
	r = classify("5.1.0", "550 5.1.0 <a@example.org>... Relaying denied", "failed", "RCPT",
		     "smtp");
	assert_string_equal(r.reason, "norelaying");
	assert_false(r.hard);
	/* a small MTA's words, at RCPT: the mailbox; the same after DATA: not */
	r = classify("", "550 Mailbox u@example.org does not exist", "failed", "RCPT", "smtp");
	assert_string_equal(r.reason, "userunknown");
	r = classify("", "550 Mailbox u@example.org does not exist", "failed", "DATA", "smtp");
	assert_false(r.hard);
	r = classify("5.0.0", "550 Domain example.org does not exist", "failed", "RCPT", "smtp");
	assert_string_equal(r.reason, "hostunknown");
		/* nothing identifies the reason: onhold, soft */
	r = classify("5.0.0", "554 Transaction failed", "failed", "", "smtp");
	assert_string_equal(r.reason, "onhold");
	assert_false(r.hard);
}

static void
test_unsure_is_soft(void **state)
{
	fb_rcpt	r;

	(void) state;
	/* X.1.1 but the text says the mailbox is over quota: soft */
	r = classify("5.1.1", "552 sorry, mailbox a@example.org is over quota (#5.1.1)", "failed",
		     "RCPT", "smtp");
	assert_string_equal(r.reason, "mailboxfull");
	assert_false(r.hard);
	/* a 4xx "user unknown" (Postfix unverified recipient) is not for ever */
	r = classify("4.1.1", "450 4.1.1 <a@example.org>: Recipient address rejected: "
		     "User unknown in virtual mailbox table", "delayed", "RCPT", "smtp");
	assert_string_equal(r.reason, "userunknown");
	assert_false(r.hard);
	/* "no such domain" in reply to MAIL FROM is about the sender */
	r = classify("5.0.0", "550 No such domain example.net", "failed", "MAIL", "smtp");
	assert_string_equal(r.reason, "rejected");
	assert_false(r.hard);
	/* RFC 7505 X.7.27 is the SENDER's null MX: never hard for the recipient */
	r = classify("5.7.27", "550 5.7.27 Sender address has null MX", "failed", "MAIL", "smtp");
	assert_string_equal(r.reason, "rejected");
	assert_false(r.hard);
}

static void
test_network_error_is_soft(void **state)
{
	fb_rcpt	r;

	(void) state;
	/* Postfix smtp(8): a temporary DNS failure, even with X.1.2/X.4.4 */
	r = classify("5.4.4", "Host or domain name not found. Name service error for "
		     "name=example.org type=MX: Host not found, try again", "failed", "", "x-postfix");
	assert_string_equal(r.reason, "networkerror");
	assert_false(r.hard);
	r = classify("5.1.2", "Name service error for name=example.org type=MX: Malformed or "
		     "unexpected name server reply", "failed", "", "smtp");
	assert_string_equal(r.reason, "networkerror");
	assert_false(r.hard);
	/* while the permanent NXDOMAIN reading is hard */
	r = classify("5.4.4", "Host or domain name not found. Name service error for "
		     "name=example.org type=A: Host not found", "failed", "", "x-postfix");
	assert_string_equal(r.reason, "hostunknown");
	assert_true(r.hard);
	/* connection refused with a permanent code */
	r = classify("5.4.1", "connect to mx.example.org[192.0.2.1]:25: Connection refused",
		     "failed", "", "x-postfix");
	assert_string_equal(r.reason, "networkerror");
	assert_false(r.hard);
}

static void
test_expired(void **state)
{
	fb_rcpt	r;

	(void) state;
	/* RFC 3463 X.4.7 */
	r = classify("4.4.7", "delivery time expired", "failed", "", "x-postfix");
	assert_string_equal(r.reason, "expired");
	/* Postfix returns the last temporary error when the queue lifetime ends */
	r = classify("4.4.1", "connect to mx.example.org[192.0.2.1]:25: Connection timed out",
		     "failed", "", "x-postfix");
	assert_string_equal(r.reason, "expired");
	/* Exim's documented "retry timeout exceeded" */
	r = classify("", "retry timeout exceeded", "failed", "", "");
	assert_string_equal(r.reason, "expired");
	/* qmail: "this message has been in the queue too long" */
	r = classify("", "I'm not going to try again; this message has been in the queue too long.",
		     "failed", "", "");
	assert_string_equal(r.reason, "expired");
	/* a delay notice */
	r = classify("4.0.0", "", "delayed", "", "smtp");
	assert_string_equal(r.reason, "expired");
	assert_false(r.hard);
}

static void
test_vendor_documented_texts(void **state)
{
	fb_rcpt	r, m;

	(void) state;
	/* Postfix reject_invalid_helo_hostname-like: the host, not the domain */
	r = classify("5.7.1", "504 5.7.1 <mx.example.net>: Helo command rejected: Host not found",
		     "failed", "RCPT", "smtp");
	assert_string_equal(r.reason, "blocked");
	assert_false(r.hard);
	/* Gmail 5.4.5: the sender's own quota, not a full mailbox */
	r = classify("5.4.5", "550 5.4.5 Daily sending quota exceeded", "failed", "MAIL", "smtp");
	assert_string_equal(r.reason, "toomanyconn");
	/* Gmail 4.2.1 under X.2.1: receiving too fast, not a disabled mailbox */
	r = classify("4.2.1", "450 4.2.1 The user you are trying to contact is receiving mail at a "
		     "rate that prevents additional messages from being delivered", "delayed", "RCPT",
		     "smtp");
	assert_string_equal(r.reason, "toomanyconn");
	/* AOL's 521 is a block of this message: never a hard notaccept */
	memset(&m, 0, sizeof(m));
	fb_strlcpy(m.reply_code, "521", sizeof(m.reply_code));
	fb_strlcpy(m.diag, "521 5.2.1 : (CON:B1) AOL will not accept delivery of this message",
		   sizeof(m.diag));
	fb_reason_classify(&m);
	assert_string_equal(m.reason, "blocked");
	assert_false(m.hard);
	/* Exim's null MX text */
	r = classify("", "an MX or SRV record indicated no SMTP service", "failed", "", "");
	assert_string_equal(r.reason, "notaccept");
	/* Exchange Online: directory-based edge blocking, the recipient is not there */
	r = classify("5.4.1", "550 5.4.1 Recipient address rejected: Access denied. "
		     "AS(201806281)", "failed", "RCPT", "smtp");
	assert_string_equal(r.reason, "userunknown");
	/* Yahoo: unauthenticated sender */
	r = classify("5.7.9", "550 5.7.9 This mail has been blocked because the sender is "
		     "unauthenticated. Yahoo requires all senders to authenticate with either SPF "
		     "or DKIM.", "failed", "DATA", "smtp");
	assert_string_equal(r.reason, "authfailure");
	/* policyd-spf through Postfix: an authentication failure, not a sender refusal */
	r = classify("5.7.1", "550 5.7.1 <s@example.net>: Sender address rejected: Message rejected "
		     "due to: SPF fail - not authorized", "failed", "RCPT", "smtp");
	assert_string_equal(r.reason, "authfailure");
	/* qmail's "Giving up on <ip>" ends every permanent failure: not expired */
	r = classify("", "192.0.2.1 does not like recipient. Remote host said: 554 Transaction "
		     "failed Giving up on 192.0.2.1.", "failed", "RCPT", "");
	assert_string_not_equal(r.reason, "expired");
		/* local(8) with a full disk */
	r = classify("4.3.0", "cannot update mailbox /var/mail/u for user u. error writing message: "
		     "No space left on device", "delayed", "", "x-postfix");
	assert_string_equal(r.reason, "systemfull");
}

/* Postfix's own DSN texts (bounce(8), smtp(8), local(8)), the form Sluice gets most */
static void
test_postfix_dsn_texts(void **state)
{
	static const struct { const char *status, *action, *type, *diag, *reason; int hard; } t[] = {
		{ "5.7.1", "failed", "smtp", "554 5.7.1 <u@example.org>: Relay access denied",
		  "norelaying", 0 },
		{ "5.3.4", "failed", "x-postfix", "message size 30000000 exceeds size limit 10240000 "
		  "of server mx.example.org[192.0.2.1]", "mesgtoobig", 0 },
		{ "5.4.6", "failed", "x-postfix", "mail forwarding loop for u@example.org",
		  "networkerror", 0 },
		{ "5.0.0", "failed", "x-postfix", "mail for example.org loops back to myself",
		  "systemerror", 0 },
		{ "5.1.0", "failed", "x-postfix", "Domain example.org does not accept mail (nullMX)",
		  "notaccept", 1 },
		{ "4.4.2", "failed", "x-postfix", "lost connection with mx.example.org[192.0.2.1] "
		  "while receiving the initial server greeting", "expired", 0 },
		{ "5.2.2", "failed", "smtp", "552 5.2.2 <u@example.org>: Recipient address rejected: "
		  "Mailbox full", "mailboxfull", 0 },
		{ "5.1.1", "failed", "x-postfix", "unknown user: \"u\"", "userunknown", 1 },
		{ "5.0.0", "failed", "smtp", "550 5.7.1 Service unavailable; client [192.0.2.9] "
		  "blocked using zen.spamhaus.org", "blocked", 0 },
		{ "5.1.1", "failed", "smtp", "550 5.1.1 <u@example.org>: Recipient address rejected: "
		  "User unknown in virtual alias table", "userunknown", 1 },
	};
	size_t	i;

	(void) state;
	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		fb_rcpt	r = classify(t[i].status, t[i].diag, t[i].action, "", t[i].type);

		assert_string_equal(r.reason, t[i].reason);
		assert_int_equal(r.hard, t[i].hard);
	}
}

static void
test_blocks_vs_rejected(void **state)
{
	fb_rcpt	r;

	(void) state;
	/* Postfix reject_rbl_client: the sending IP, blocked */
	r = classify("5.7.1", "554 5.7.1 Service unavailable; Client host [192.0.2.1] blocked using "
		     "zen.spamhaus.org", "failed", "RCPT", "smtp");
	assert_string_equal(r.reason, "blocked");
	/* Microsoft S3150 */
	r = classify("5.7.1", "550 5.7.1 Unfortunately, messages from [192.0.2.1] weren't sent. "
		     "Please contact your Internet service provider since part of their network "
		     "is on our block list (S3150).", "failed", "RCPT", "smtp");
	assert_string_equal(r.reason, "blocked");
	/* Postfix reject_unknown_sender_domain: the sender's address, rejected */
	r = classify("4.1.8", "450 4.1.8 <s@example.net>: Sender address rejected: Domain not found",
		     "failed", "RCPT", "smtp");
	assert_string_equal(r.reason, "rejected");
	assert_false(r.hard);
	/* Exim sender verification */
	r = classify("5.0.0", "550 Sender verify failed", "failed", "RCPT", "smtp");
	assert_string_equal(r.reason, "rejected");
	/* a refusal at the greeting with no reason: the sending host */
	r = classify("5.0.0", "554 No SMTP service here", "failed", "CONN", "smtp");
	assert_string_equal(r.reason, "blocked");
	/* rate limits are not blocks (Yahoo TSS04) */
	r = classify("4.7.0", "421 4.7.0 [TSS04] Messages from 192.0.2.1 temporarily deferred due to "
		     "unexpected volume or user complaints", "delayed", "CONN", "smtp");
	assert_string_equal(r.reason, "toomanyconn");
}

/* parse - fb_classify() on a NUL-terminated message */
static fb_result *
parse(const char *msg)
{
	return fb_classify(msg, strlen(msg), "test");
}

static void
test_recipients_dsn_forms(void **state)
{
	fb_result *res;

	(void) state;
	/* odd case and spacing, angle brackets */
	res = parse("From: MAILER-DAEMON@mx.example.com\nTo: b1-x@bounce.example.com\n"
		    "Subject: failure\nMIME-Version: 1.0\nContent-Type: multipart/report; "
		    "report-type=delivery-status; boundary=\"b\"\n\n--b\nContent-Type: text/plain\n\n"
		    "sorry\n\n--b\nContent-Type: message/delivery-status\n\n"
		    "Reporting-MTA: dns; mx.example.com\n\n"
		    "Final-Recipient: RFC822;<User@Example.org>\nAction: failed\nStatus: 5.1.1\n\n"
		    "Original-Recipient: rfc822;second@example.net\nAction: failed\nStatus: 5.2.2\n\n"
		    "--b--\n");
	assert_int_equal(res->kind, FB_KIND_BOUNCE);
	assert_int_equal(res->nrcpt, 2);
	assert_string_equal(res->rcpt[0].addr, "User@Example.org");
	assert_string_equal(res->rcpt[0].reason, "userunknown");
	/* no Final-Recipient: the Original-Recipient */
	assert_string_equal(res->rcpt[1].addr, "second@example.net");
	assert_string_equal(res->rcpt[1].reason, "mailboxfull");
	fb_result_free(res);
}

static void
test_recipients_free_text(void **state)
{
	fb_result *res;

	(void) state;
	/* the bounce's own From is never a recipient */
	res = parse("From: postmaster@mx.example.org\nTo: b1-x@bounce.example.com\n"
		    "Subject: Undeliverable mail\n\n"
		    "This is the mail delivery agent at mx.example.org.\n"
		    "Questions to:\n postmaster@mx.example.org:\n\n"
		    "<gone@example.org>:\n550 5.1.1 No such user here\n");
	assert_int_equal(res->kind, FB_KIND_BOUNCE);
	assert_int_equal(res->nrcpt, 1);
	assert_string_equal(res->rcpt[0].addr, "gone@example.org");
	assert_true(res->rcpt[0].hard);
	fb_result_free(res);
	/* nobody named in the text, no original: Exim's X-Failed-Recipients */
	res = parse("From: Mail Delivery System <Mailer-Daemon@mx.example.org>\n"
		    "To: b1-x@bounce.example.com\nX-Failed-Recipients: one@example.org,\n"
		    " two@example.net\nSubject: Mail delivery failed: returning message to sender\n\n"
		    "This message was created automatically by mail delivery software.\n\n"
		    "A message that you sent could not be delivered to one or more of its\n"
		    "recipients. This is a permanent error.\n\n  retry timeout exceeded\n");
	assert_int_equal(res->kind, FB_KIND_BOUNCE);
	assert_int_equal(res->nrcpt, 2);
	assert_string_equal(res->rcpt[0].addr, "one@example.org");
	assert_string_equal(res->rcpt[1].addr, "two@example.net");
	assert_string_equal(res->rcpt[0].reason, "expired");
	assert_false(res->rcpt[0].hard);
	fb_result_free(res);
}

static void
test_recipients_transcript(void **state)
{
	char	cmd[8];

	(void) state;
	/* PIPELINING: the RCPT replies come after DATA, then "503 need RCPT" */
	fb_text_find_command("... while talking to mx.example.org.:\n>>> DATA\n"
			     "<<< 550 5.1.1 <a@example.org>... User unknown\n"
			     "<<< 503 5.0.0 Need RCPT (recipient)\n", cmd);
	assert_string_equal(cmd, "RCPT");
	fb_text_find_command("... while talking to mx.example.org.:\n>>> DATA\n"
			     "<<< 554 5.7.1 Message rejected as spam\n", cmd);
	assert_string_equal(cmd, "DATA");
}

/* A record for a provider test: recipient, status, command, diagnostic, Remote-MTA. */
static fb_rcpt
rec(const char *addr, const char *status, const char *command, const char *diag,
    const char *rhost)
{
	fb_rcpt	r;

	memset(&r, 0, sizeof(r));
	fb_strlcpy(r.addr, addr, sizeof(r.addr));
	fb_strlcpy(r.status, status, sizeof(r.status));
	fb_strlcpy(r.command, command, sizeof(r.command));
	fb_strlcpy(r.diag, diag, sizeof(r.diag));
	fb_strlcpy(r.rhost, rhost, sizeof(r.rhost));
	return r;
}

/* rhost - the provider reason of a record in a bare mail ("" when none) */
static const char *
rhost(fb_rcpt *r, const char *dsn, fb_header *hdr, size_t nhdr)
{
	fb_mail	m;

	memset(&m, 0, sizeof(m));
	m.text = (char *) "";
	m.dsn = (char *) dsn;
	m.orig = (char *) "";
	m.hdr = hdr;
	m.nhdr = nhdr;
	if (!fb_vendor_rhost(&m, r))
		return "";
	return r->reason;
}

static void
test_provider_codes(void **state)
{
	fb_rcpt	r;

	(void) state;
	/* Spectrum's AUP# codes, whatever the words around them */
	r = rec("u@charter.net", "5.1.0", "", "550 5.1.0 <x@example.com> sender rejected. AUP#In-1310", "");
	assert_string_equal(rhost(&r, "", NULL, 0), "toomanyconn");
	r = rec("u@charter.net", "5.7.1", "", "554 blocked AUP#O-1000", "");
	assert_string_equal(rhost(&r, "", NULL, 0), "blocked");
	r = rec("u@charter.net", "5.7.1", "", "554 no code here", "");
	assert_string_equal(rhost(&r, "", NULL, 0), "");
	/* a look-alike domain is not the provider */
	r = rec("u@notcharter.net", "5.1.0", "", "550 AUP#In-1310", "");
	assert_string_equal(rhost(&r, "", NULL, 0), "");
	/* Orange / La Poste: the last three digits of the label */
	r = rec("u@wanadoo.fr", "5.2.0", "DATA", "550 5.2.0 Mail rejete. Mail rejected. OFR_506 [506]", "");
	assert_string_equal(rhost(&r, "", NULL, 0), "spamdetected");
	r = rec("u@laposte.net", "5.5.0", "", "550 5.5.0 Invalid recipient. LPN007_416", "");
	assert_string_equal(rhost(&r, "", NULL, 0), "userunknown");
	r = rec("u@laposte.net", "5.5.0", "", "550 service refused, please try later. LPN001_108", "");
	assert_string_equal(rhost(&r, "", NULL, 0), "");
}

static void
test_provider_hosts(void **state)
{
	fb_header rcv = { (char *) "Received", (char *) "from imb-a04e.mx.aol.com (imb-a04.mx.aol.com "
			  "[10.72.101.105]) by mtaiw-mcb08.mx.aol.com" };
	fb_rcpt	r;

	(void) state;
	/* NTT DOCOMO by Remote-MTA: the SMTP phase decides */
	r = rec("a@ntt.example.ne.jp", "5.0.0", "DATA", "550 Unknown user a@ntt.example.ne.jp",
		"dns; mfsmax.docomo.ne.jp");
	assert_string_equal(rhost(&r, "", NULL, 0), "rejected");
	r = rec("a@ntt.example.ne.jp", "5.0.0", "RCPT", "550 Unknown user a@ntt.example.ne.jp",
		" mfsmax.docomo.ne.jp");
	assert_string_equal(rhost(&r, "", NULL, 0), "userunknown");
	/* KDDI au by the recipient's domain */
	r = rec("a@ezweb.ne.jp", "5.0.0", "", "550 : User unknown", "");
	assert_string_equal(rhost(&r, "", NULL, 0), "filtered");
	r = rec("a@ezweb.ne.jp", "5.0.0", "", "550 <a@ezweb.ne.jp>: User unknown", "");
	assert_string_equal(rhost(&r, "", NULL, 0), "userunknown");
	/* AOL by the bounce's own Received hosts */
	r = rec("a@example.org", "5.4.4", "", "Name service error for name=example.org type=MX: "
		"Malformed or unexpected name server reply", "");
	assert_string_equal(rhost(&r, "", &rcv, 1), "notaccept");
	assert_string_equal(rhost(&r, "", NULL, 0), "");
	/* Microsoft by Reporting-MTA */
	r = rec("a@example.jp", "5.1.351", "", "550 5.1.351 Remote server returned unknown recipient "
		"or mailbox unavailable", "example.jp");
	assert_string_equal(rhost(&r, "Reporting-MTA: dns;SG2.mail.protection.outlook.com\n", NULL, 0),
			    "userunknown");
	/* MessageLabs by Received: its own "542 <address> Rejected" DSN, reply code and words */
	rcv.value = (char *) "from mail0.bemta0.messagelabs.com (localhost [127.0.0.1])";
	r = rec("a@example.com", "5.0.0", "", "542 a@example.com Rejected", "");
	fb_strlcpy(r.reply_code, "542", sizeof(r.reply_code));
	assert_string_equal(rhost(&r, "", &rcv, 1), "userunknown");
	r = rec("a@example.com", "5.0.0", "", "550 a@example.com Rejected", "");
	fb_strlcpy(r.reply_code, "550", sizeof(r.reply_code));
	assert_string_equal(rhost(&r, "", &rcv, 1), "");
	/* the host named in the reply */
	r = rec("a@example.org", "5.7.1", "", "host smtpin.zoho.com[204.141.33.23] said: 554 5.7.1 Email "
		"cannot be delivered. Reason: Email flagged as Spam.", "");
	assert_string_equal(rhost(&r, "", NULL, 0), "rejected");
}

static void
test_reason_names(void **state)
{
	(void) state;
	assert_true(fb_reason_known("filtered"));
	assert_true(fb_reason_known("suspend"));
	assert_false(fb_reason_known("delivered"));
	assert_false(fb_reason_known("nosuch"));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_user_unknown_is_hard),
		cmocka_unit_test(test_mailbox_full_beats_status),
		cmocka_unit_test(test_status_only),
		cmocka_unit_test(test_blocked_and_spam),
		cmocka_unit_test(test_user_unknown_after_data_is_filtered),
		cmocka_unit_test(test_delayed_and_mailer),
		cmocka_unit_test(test_delivered_and_undefined),
		cmocka_unit_test(test_hard_rule),
		cmocka_unit_test(test_text_helpers),
		cmocka_unit_test(test_user_unknown_phase),
		cmocka_unit_test(test_notaccept_hard_unless_temporary),
		cmocka_unit_test(test_phase_rules),
		cmocka_unit_test(test_firm_status_beats_reply_and_text),
		cmocka_unit_test(test_generic_status_defers_to_text),
		cmocka_unit_test(test_unsure_is_soft),
		cmocka_unit_test(test_network_error_is_soft),
		cmocka_unit_test(test_expired),
		cmocka_unit_test(test_blocks_vs_rejected),
		cmocka_unit_test(test_postfix_dsn_texts),
		cmocka_unit_test(test_vendor_documented_texts),
		cmocka_unit_test(test_recipients_dsn_forms),
		cmocka_unit_test(test_recipients_free_text),
		cmocka_unit_test(test_recipients_transcript),
		cmocka_unit_test(test_provider_codes),
		cmocka_unit_test(test_provider_hosts),
		cmocka_unit_test(test_reason_names),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
