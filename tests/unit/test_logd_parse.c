/*
 * NAME
 *	test_logd_parse - unit tests of sluice-logd's parser, correlation and providers
 * DESCRIPTION
 *	ld_parse_line() on Postfix 3.x log lines of every kind sluice-logd
 *	reads, written in the shapes Postfix's sources log them (smtp(8),
 *	lmtp, local, virtual, error, discard deliveries; qmgr from= and
 *	removed and expired; cleanup message-id; bounce notifications), in
 *	syslog, RFC 3339 and maillog_file stamps, with long multi-line
 *	replies; malformed lines; ld_feed() sequences (expiry of deferred
 *	recipients, removal); the queue-id table's bounds; provider rules
 *	and the classification of providers' documented block replies.
 */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "logd.h"

#define H "Dec  3 12:00:01 mta postfix/"

static ld_line L;

/* parse - one line into L; its kind */
static enum ld_kind
parse(const char *s)
{
	return ld_parse_line(s, strlen(s), &L);
}

static void
test_smtp_sent(void **state)
{
	(void)state;
	assert_int_equal(parse(H "smtp[2001]: 4PQR1x2Y3Zz8AB: to=<alice@gmail.com>, "
	                         "relay=gmail-smtp-in.l.google.com[142.250.1.26]:25, delay=1.2, "
	                         "delays=0.05/0.01/0.4/0.74, dsn=2.0.0, status=sent (250 2.0.0 OK  "
	                         "1701604801 a1-20020a17090a (gsmtp))\n"),
	                 LD_DELIVERY);
	assert_string_equal(L.stamp, "Dec  3 12:00:01");
	assert_string_equal(L.service, "smtp");
	assert_string_equal(L.qid, "4PQR1x2Y3Zz8AB");
	assert_string_equal(L.to, "alice@gmail.com");
	assert_string_equal(L.relay_host, "gmail-smtp-in.l.google.com");
	assert_string_equal(L.relay_addr, "142.250.1.26");
	assert_int_equal(L.relay_port, 25);
	assert_true(L.delay > 1.19 && L.delay < 1.21);
	assert_string_equal(L.delays, "0.05/0.01/0.4/0.74");
	assert_string_equal(L.dsn, "2.0.0");
	assert_int_equal(L.status, LD_ST_SENT);
	assert_string_equal(L.reply, "250 2.0.0 OK  1701604801 a1-20020a17090a (gsmtp)");
}

static void
test_smtp_deferred_rcpt(void **state)
{
	(void)state;
	assert_int_equal(
	    parse(H "smtp[2002]: 3F2A41C0123: to=<bob@example.net>, "
	            "relay=mx.example.net[198.51.100.7]:25, conn_use=2, delay=3, "
	            "delays=0.1/0/0.5/2.4, dsn=4.2.0, status=deferred (host "
	            "mx.example.net[198.51.100.7] said: 450 4.2.0 <bob@example.net>: "
	            "Recipient address rejected: Greylisted (in reply to RCPT TO command))"),
	    LD_DELIVERY);
	assert_int_equal(L.status, LD_ST_DEFERRED);
	assert_string_equal(L.dsn, "4.2.0");
	assert_string_equal(L.reply,
	                    "host mx.example.net[198.51.100.7] said: 450 4.2.0 "
	                    "<bob@example.net>: Recipient address rejected: Greylisted (in reply "
	                    "to RCPT TO command)");
}

static void
test_connect_refused(void **state)
{
	(void)state;
	assert_int_equal(
	    parse(H "smtp[2003]: 3F2A41C0124: to=<c@example.org>, relay=none, "
	            "delay=30, delays=0.1/0/30/0, dsn=4.4.1, status=deferred (connect to "
	            "mx.example.org[203.0.113.5]:25: Connection refused)"),
	    LD_DELIVERY);
	assert_string_equal(L.relay_host, "none");
	assert_string_equal(L.relay_addr, "");
	assert_int_equal(L.relay_port, 0);
	assert_string_equal(L.reply,
	                    "connect to mx.example.org[203.0.113.5]:25: Connection refused");
}

static void
test_bounced_and_ipv6(void **state)
{
	(void)state;
	assert_int_equal(parse(H "smtp[2004]: 3F2A41C0125: to=<d@yahoo.com>, "
	                         "relay=mta7.am0.yahoodns.net[2001:db8::25]:25, delay=2, "
	                         "delays=0.1/0/1/0.9, dsn=5.7.9, status=bounced (host "
	                         "mta7.am0.yahoodns.net[2001:db8::25] said: 554 5.7.9 Message not "
	                         "accepted for policy reasons. (in reply to end of DATA command))"),
	                 LD_DELIVERY);
	assert_int_equal(L.status, LD_ST_BOUNCED);
	assert_string_equal(L.relay_addr, "2001:db8::25");
	assert_int_equal(L.relay_port, 25);
}

static void
test_local_command_and_orig_to(void **state)
{
	(void)state;
	assert_int_equal(
	    parse(H "local[3001]: 5A1B2C3D4E: to=<u@mta.example>, "
	            "orig_to=<alias@mta.example>, relay=local, delay=0.02, "
	            "delays=0.01/0/0/0.01, dsn=2.0.0, status=sent (delivered to command: "
	            "/usr/bin/procmail -a \"$EXTENSION\")"),
	    LD_DELIVERY);
	assert_string_equal(L.service, "local");
	assert_string_equal(L.orig_to, "alias@mta.example");
	assert_string_equal(L.relay_host, "local");
	assert_string_equal(L.reply, "delivered to command: /usr/bin/procmail -a \"$EXTENSION\"");
}

static void
test_lmtp_virtual_discard_error(void **state)
{
	(void)state;
	assert_int_equal(parse(H
	                       "lmtp[3002]: 5A1B2C3D4F: to=<x@d.example>, "
	                       "relay=mail.d.example[private/dovecot-lmtp], delay=0.1, "
	                       "delays=0/0/0/0.1, dsn=2.0.0, status=sent (250 2.0.0 <x@d.example> "
	                       "abc Saved)"),
	                 LD_DELIVERY);
	assert_string_equal(L.service, "lmtp");
	assert_string_equal(L.relay_addr, "private/dovecot-lmtp");
	assert_int_equal(parse(H
	                       "virtual[3003]: 5A1B2C3D50: to=<v@d.example>, relay=virtual, "
	                       "delay=0.1, delays=0/0/0/0.1, dsn=2.0.0, status=sent (delivered to "
	                       "maildir)"),
	                 LD_DELIVERY);
	assert_string_equal(L.service, "virtual");
	assert_int_equal(parse(H "discard[3004]: 5A1B2C3D51: to=<z@d.example>, relay=none, "
	                         "delay=0.1, delays=0.1/0/0/0, dsn=2.0.0, status=sent (silently "
	                         "dropped)"),
	                 LD_DELIVERY);
	assert_string_equal(L.service, "discard");
	assert_int_equal(parse(H
	                       "error[3005]: 5A1B2C3D52: to=<e@nowhere.invalid>, relay=none, "
	                       "delay=0.1, delays=0.1/0/0/0, dsn=5.0.0, status=bounced (Host or "
	                       "domain name not found. Name service error for name=nowhere.invalid "
	                       "type=A: Host not found)"),
	                 LD_DELIVERY);
	assert_int_equal(L.status, LD_ST_BOUNCED);
	assert_string_equal(L.reply, "Host or domain name not found. Name service error for "
	                             "name=nowhere.invalid type=A: Host not found");
}

static void
test_qmgr_cleanup_bounce(void **state)
{
	(void)state;
	assert_int_equal(parse(H "qmgr[1000]: 3F2A41C0123: from=<b1-xyz@bounce.shop.example>, "
	                         "size=1542, nrcpt=2 (queue active)"),
	                 LD_QMGR_FROM);
	assert_string_equal(L.from, "b1-xyz@bounce.shop.example");
	assert_int_equal(L.size, 1542);
	assert_int_equal(L.nrcpt, 2);
	assert_int_equal(parse(H "qmgr[1000]: 3F2A41C0130: from=<>, size=3000, nrcpt=1 (queue "
	                         "active)"),
	                 LD_QMGR_FROM);
	assert_string_equal(L.from, "");
	assert_int_equal(parse(H "qmgr[1000]: 3F2A41C0123: removed"), LD_REMOVED);
	assert_int_equal(
	    parse(H "cleanup[900]: 3F2A41C0123: message-id=<20261203.abc@shop.example>"), LD_MSGID);
	assert_string_equal(L.msgid, "20261203.abc@shop.example");
	assert_int_equal(parse(H "bounce[1500]: 3F2A41C0125: sender non-delivery notification: "
	                         "4B1C21C0200"),
	                 LD_NOTICE);
	assert_string_equal(L.notice_qid, "4B1C21C0200");
	assert_int_equal(parse(H "qmgr[1000]: 3F2A41C0124: from=<s@shop.example>, status=expired, "
	                         "returned to sender"),
	                 LD_EXPIRED);
	assert_string_equal(L.from, "s@shop.example");
}

static void
test_stamps_and_idents(void **state)
{
	(void)state;
	assert_int_equal(parse("2026-12-03T12:00:01.123456+00:00 mta postfix/smtp[7]: "
	                       "3F2A41C0123: to=<a@b.example>, relay=b[192.0.2.1]:25, delay=1, "
	                       "delays=0/0/0/1, dsn=2.0.0, status=sent (250 ok)"),
	                 LD_DELIVERY);
	assert_string_equal(L.stamp, "2026-12-03T12:00:01.123456+00:00");
	assert_int_equal(parse("Dec 13 12:00:01.123456 mta postfix-out/smtp[7]: 3F2A41C0123: "
	                       "to=<a@b.example>, relay=b[192.0.2.1]:25, delay=1, delays=0/0/0/1, "
	                       "dsn=2.0.0, status=sent (250 ok)"),
	                 LD_DELIVERY);
	assert_string_equal(L.stamp, "Dec 13 12:00:01.123456");
	assert_string_equal(L.service, "smtp");
	/* smtpd of a submission service, and other programs: not ours */
	assert_int_equal(parse(H "submission/smtpd[9]: 3F2A41C0123: client=x[192.0.2.9], "
	                         "sasl_method=PLAIN, sasl_username=alice"),
	                 LD_SKIP);
	assert_int_equal(parse(H "smtpd[9]: connect from x[192.0.2.9]"), LD_SKIP);
	assert_int_equal(parse(H "smtp[7]: 3F2A41C0123: to=<a@b.example>, relay=b[192.0.2.1]:25, "
	                         "delay=1, delays=0/0/0/1, dsn=2.1.5, status=deliverable (250 ok)"),
	                 LD_SKIP);
	assert_int_equal(parse("garbage"), LD_SKIP);
	assert_int_equal(parse(""), LD_SKIP);
}

static void
test_malformed(void **state)
{
	(void)state;
	assert_int_equal(parse(H "smtp[7]: 3F2A41C0123: to=<a@b.example, relay=b[192.0.2.1]:25"),
	                 LD_BAD);
	assert_int_equal(parse(H "smtp[7]: 3F2A41C0123: to=<a@b.example>, relay=b[192.0.2.1]:25, "
	                         "delay=1"),
	                 LD_BAD);
	assert_int_equal(parse(H "smtp[7]: 3F2A41C0123: to=<a@b.example>, relay=b[192.0.2.1:25, "
	                         "dsn=2.0.0, status=sent (ok)"),
	                 LD_BAD);
	assert_int_equal(parse(H "smtp[7]: 3F2A41C0123: to=<a@b.example>, dsn=2.0.0, status=weird"),
	                 LD_BAD);
}

/* a Google reply as Postfix logs it: the lines of a multi-line reply joined */
#define GOOGLE_5726                                                                                \
	"host gmail-smtp-in.l.google.com[142.250.1.26] said: 550-5.7.26 This "                     \
	"mail is unauthenticated, which poses a security risk to the 550-5.7.26 sender and "       \
	"Gmail users, and has been blocked. The sender must 550-5.7.26 authenticate with at "      \
	"least one of SPF or DKIM. For this message, 550-5.7.26 DKIM checks did not pass and "     \
	"SPF check for [example.com] did not 550-5.7.26 pass with ip: [192.0.2.1]. The sender "    \
	"should visit 550-5.7.26  https://support.google.com/mail/answer/81126#authentication "    \
	"for 550 5.7.26 instructions on setting up authentication. a1si123 - gsmtp (in reply "     \
	"to end of DATA command)"
#define GOOGLE_4728                                                                                \
	"host gmail-smtp-in.l.google.com[142.250.1.26] said: 421-4.7.28 "                          \
	"[192.0.2.1      15] Our system has detected an unusual rate of 421-4.7.28 "               \
	"unsolicited mail originating from your IP address. To protect our 421-4.7.28 users "      \
	"from spam, mail sent from your IP address has been temporarily 421-4.7.28 rate "          \
	"limited. Please visit 421-4.7.28  https://support.google.com/mail/?p=UnsolicitedRate"     \
	"LimitError 421 4.7.28  to review our Bulk Email Senders Guidelines. a2si4 - gsmtp "       \
	"(in reply to end of DATA command)"

static void
test_long_reply(void **state)
{
	char line[LD_LINE_MAX], big[6001];

	(void)state;
	snprintf(line, sizeof(line),
	         H "smtp[7]: 3F2A41C0123: to=<a@gmail.com>, "
	           "relay=gmail-smtp-in.l.google.com[142.250.1.26]:25, delay=1, delays=0/0/0/1, "
	           "dsn=5.7.26, status=bounced (%s)",
	         GOOGLE_5726);
	assert_int_equal(parse(line), LD_DELIVERY);
	assert_string_equal(L.reply, GOOGLE_5726);
	assert_int_equal(L.reply_cut, 0);
	memset(big, 'x', 6000);
	big[6000] = 0;
	snprintf(line, sizeof(line),
	         H "smtp[7]: 3F2A41C0123: to=<a@gmail.com>, relay=g[1.2.3.4]:25, "
	           "delay=1, delays=0/0/0/1, dsn=4.0.0, status=deferred (%s)",
	         big);
	assert_int_equal(parse(line), LD_DELIVERY);
	assert_int_equal(L.reply_cut, 1);
	assert_int_equal(strlen(L.reply), LD_REPLY_MAX - 1);
	/* cut by syslog: no closing parenthesis */
	assert_int_equal(
	    parse(H "smtp[7]: 3F2A41C0123: to=<a@b.example>, relay=b[1.2.3.4]:25, "
	            "delay=1, delays=0/0/0/1, dsn=4.0.0, status=deferred (host b said: 4"),
	    LD_DELIVERY);
	assert_string_equal(L.reply, "host b said: 4");
	assert_int_equal(L.reply_cut, 1);
}

static void
test_classify(void **state)
{
	(void)state;
	assert_int_equal(ld_classify_reply("4.7.28", GOOGLE_4728), LD_CLASS_RATE);
	assert_int_equal(ld_classify_reply("5.7.26", GOOGLE_5726), LD_CLASS_AUTH);
	assert_int_equal(ld_classify_reply(
	                     "4.7.0", "host mta6.am0.yahoodns.net[1.2.3.4] said: 421 "
	                              "4.7.0 [TSS04] Messages from 192.0.2.1 temporarily "
	                              "deferred due to unexpected volume or user complaints - "
	                              "4.16.55.1; see https://postmaster.yahooinc.com/error-codes"),
	                 LD_CLASS_RATE);
	assert_int_equal(
	    ld_classify_reply("4.7.0", "421 4.7.0 [TSS09] All messages from 192.0.2.1 "
	                               "will be permanently deferred; Retrying will NOT "
	                               "succeed. See https://postmaster.yahooinc.com/error-codes"),
	    LD_CLASS_REPUTATION);
	assert_int_equal(ld_classify_reply("5.7.1",
	                                   "550 5.7.1 Unfortunately, messages from "
	                                   "[192.0.2.1] weren't sent. Please contact your Internet "
	                                   "service provider since part of their network is on our "
	                                   "block list (S3150)."),
	                 LD_CLASS_BLOCKLIST);
	assert_int_equal(ld_classify_reply("5.7.606", "550 5.7.606 Access denied, banned sending "
	                                              "IP [192.0.2.1]."),
	                 LD_CLASS_BLOCKLIST);
	assert_int_equal(ld_classify_reply("5.7.1", "554 5.7.1 Service unavailable; Client host "
	                                            "[192.0.2.1] blocked using zen.spamhaus.org"),
	                 LD_CLASS_BLOCKLIST);
	assert_int_equal(ld_classify_reply("5.1.1", "550 5.1.1 No such user"), LD_CLASS_OTHER);
	assert_int_equal(ld_classify_reply("4.4.1", "connect to x[1.2.3.4]:25: Connection refused"),
	                 LD_CLASS_OTHER);
}

static void
test_providers(void **state)
{
	sl_providers *p = sl_providers_new();
	char err[128];

	(void)state;
	assert_string_equal(ld_provider_of(p, "a@gmail.com", "x"), "google");
	assert_string_equal(ld_provider_of(p, "a@GoogleMail.com", ""), "google");
	assert_string_equal(ld_provider_of(p, "a@corp.example", "aspmx.l.google.com"), "google");
	assert_string_equal(ld_provider_of(p, "a@aol.com", ""), "yahoo");
	assert_string_equal(ld_provider_of(p, "a@yahoo.co.jp", ""), "yahoo");
	assert_string_equal(ld_provider_of(p, "a@hotmail.com", ""), "microsoft");
	assert_string_equal(
	    ld_provider_of(p, "a@corp.example", "corp-example.mail.protection.outlook.com"),
	    "microsoft");
	assert_string_equal(ld_provider_of(p, "a@docomo.ne.jp", ""), "docomo");
	assert_string_equal(ld_provider_of(p, "a@ezweb.ne.jp", ""), "au");
	assert_string_equal(ld_provider_of(p, "a@i.softbank.jp", ""), "softbank");
	assert_string_equal(ld_provider_of(p, "a@notgmail.com", ""), "other");
	assert_string_equal(ld_provider_of(p, "a@example.com", "evilgoogle.com"), "other");
	assert_int_equal(sl_providers_add(p, "fake", ".fake.test", 0, err, sizeof(err)), 0);
	assert_int_equal(sl_providers_add(p, "gmx", "gmx.net", 0, err, sizeof(err)), 0);
	assert_string_equal(ld_provider_of(p, "a@mx.fake.test", ""), "fake");
	assert_string_equal(ld_provider_of(p, "a@fake.test", ""), "fake");
	assert_string_equal(ld_provider_of(p, "a@gmx.net", ""), "gmx");
	assert_int_equal(sl_providers_add(p, "Bad Name", "x.test", 0, err, sizeof(err)), -1);
	assert_int_equal(sl_providers_add(p, "ok", "a@x.test", 0, err, sizeof(err)), -1);
	sl_providers_free(p);
}

typedef struct seen {
	int n;
	char result[8][16], rcpt[8][64], sender[8][64], msgid[8][64], cls[8][32];
	char learnt[8][64];
} seen;

/* collect - an ld_feed() callback recording events */
static void
collect(const ld_event *ev, void *arg)
{
	seen *s = arg;

	assert_true(s->n < 8);
	snprintf(s->result[s->n], 16, "%s", ev->result);
	snprintf(s->rcpt[s->n], 64, "%s", ev->rcpt);
	snprintf(s->sender[s->n], 64, "%s", ev->sender);
	snprintf(s->msgid[s->n], 64, "%s", ev->msgid);
	snprintf(s->cls[s->n], 32, "%s", ev->class_);
	snprintf(s->learnt[s->n], 64, "%s", ev->learnt ? ev->learnt : "");
	s->n++;
}

/* feed - one line into a feeder */
static void
feed(ld_feeder *f, const char *s)
{
	ld_feed(f, s, strlen(s), 1000);
}

/* test_feed_learns_mx_hosted_domains - a domain only its MX maps is learnt (pdomains:) */
static void
test_feed_learns_mx_hosted_domains(void **state)
{
	seen s = {0};
	sl_providers *p = sl_providers_new();
	ld_feeder f = {.table = ld_table_new(100, 3600), .providers = p, .cb = collect, .arg = &s};

	(void)state;
	feed(&f, H "smtp[2]: 4A1B21C0124: to=<a@corp.example>, "
	           "relay=aspmx.l.google.com[142.250.1.26]:25, delay=1, delays=0/0/0/1, dsn=2.0.0, "
	           "status=sent (250 ok)");
	feed(&f, H "smtp[2]: 4A1B21C0124: to=<b@gmail.com>, "
	           "relay=gmail-smtp-in.l.google.com[142.250.1.26]:25, delay=1, delays=0/0/0/1, "
	           "dsn=2.0.0, status=sent (250 ok)");
	feed(&f,
	     H "smtp[2]: 4A1B21C0124: to=<c@other.example>, relay=mx.other.example[192.0.2.7]:25, "
	       "delay=1, delays=0/0/0/1, dsn=2.0.0, status=sent (250 ok)");
	feed(&f, H "smtp[2]: 4A1B21C0124: to=<d@evil.example>, "
	           "relay=google.com.evil.example[192.0.2.8]:25, "
	           "delay=1, delays=0/0/0/1, dsn=2.0.0, status=sent (250 ok)");
	assert_int_equal(s.n, 4);
	assert_string_equal(s.learnt[0], "corp.example"); /* Google Workspace: learnt */
	assert_string_equal(s.learnt[1], "");             /* gmail.com: a domain rule knows it */
	assert_string_equal(s.learnt[2], "");             /* provider other: nothing */
	assert_string_equal(s.learnt[3], "");             /* a look-alike MX name is no Google */
	ld_table_free(f.table);
	sl_providers_free(p);
}

static void
test_feed_expiry(void **state)
{
	seen s = {0};
	sl_providers *p = sl_providers_new();
	ld_feeder f = {.table = ld_table_new(100, 3600), .providers = p, .cb = collect, .arg = &s};

	(void)state;
	feed(&f, H "cleanup[9]: 3F2A41C0124: message-id=<m1@shop.example>");
	feed(&f, H "qmgr[1]: 3F2A41C0124: from=<s@shop.example>, size=100, nrcpt=3 (queue active)");
	feed(&f,
	     H "smtp[2]: 3F2A41C0124: to=<a@x.example>, relay=x[192.0.2.1]:25, delay=1, "
	       "delays=0/0/0/1, dsn=4.7.28, status=deferred (host x[192.0.2.1] said: " GOOGLE_4728
	       ")");
	feed(&f, H "smtp[2]: 3F2A41C0124: to=<b@x.example>, relay=x[192.0.2.1]:25, delay=1, "
	           "delays=0/0/0/1, dsn=4.0.0, status=deferred (host x said: 451 try later)");
	feed(&f, H "smtp[2]: 3F2A41C0124: to=<c@gmail.com>, relay=x[192.0.2.1]:25, delay=1, "
	           "delays=0/0/0/1, dsn=2.0.0, status=sent (250 ok)");
	/* a retry delivers b; then the message expires with a still pending */
	feed(&f, H "smtp[2]: 3F2A41C0124: to=<b@x.example>, relay=x[192.0.2.1]:25, delay=9, "
	           "delays=0/0/0/1, dsn=2.0.0, status=sent (250 ok)");
	feed(&f,
	     H "qmgr[1]: 3F2A41C0124: from=<s@shop.example>, status=expired, returned to sender");
	feed(&f, H "bounce[3]: 3F2A41C0124: sender non-delivery notification: 4B1C21C0200");
	feed(&f, H "qmgr[1]: 3F2A41C0124: removed");
	feed(&f, H "smtpd[4]: connect from x[192.0.2.9]");
	feed(&f, H "smtp[2]: 3F2A41C0124: to=<broken@x.example>, relay=x[192.0.2.1]:25");
	assert_int_equal(s.n, 5);
	assert_string_equal(s.result[0], "deferred");
	assert_string_equal(s.cls[0], "rate-limited");
	assert_string_equal(s.sender[0], "s@shop.example");
	assert_string_equal(s.msgid[0], "m1@shop.example");
	assert_string_equal(s.result[2], "delivered");
	assert_string_equal(s.cls[2], "");
	assert_string_equal(s.result[3], "delivered");
	assert_string_equal(s.rcpt[3], "b@x.example");
	assert_string_equal(s.result[4], "expired");
	assert_string_equal(s.rcpt[4], "a@x.example");
	assert_int_equal(f.stats.lines, 11);
	assert_int_equal(f.stats.events, 5);
	assert_int_equal(f.stats.bad, 1);
	assert_int_equal(f.stats.skipped, 1);
	assert_null(ld_table_get(f.table, "3F2A41C0124", 0, 0)); /* removed */
	ld_table_free(f.table);
	sl_providers_free(p);
}

static void
test_table_bounds(void **state)
{
	ld_table *t = ld_table_new(3, 100);
	ld_table_stats st;
	char qid[16];

	(void)state;
	for (int i = 0; i < 5; i++) {
		snprintf(qid, sizeof(qid), "ABCDE%d", i);
		ld_table_get(t, qid, 10 + i, 1);
	}
	ld_table_get_stats(t, &st);
	assert_int_equal(st.entries, 3);
	assert_int_equal(st.evicted, 2);
	assert_null(ld_table_get(t, "ABCDE0", 0, 0));
	assert_non_null(ld_table_get(t, "ABCDE4", 20, 0));
	ld_table_expire(t, 114); /* ABCDE2, ABCDE3 silent for > 100 s */
	ld_table_get_stats(t, &st);
	assert_int_equal(st.entries, 1);
	assert_int_equal(st.expired, 2);
	for (int i = 0; i < 200; i++) {
		snprintf(qid, sizeof(qid), "r%d@x", i);
		ld_msg_deferred(ld_table_get(t, "ABCDE4", 20, 0), qid, 1);
	}
	assert_int_equal(ld_table_get(t, "ABCDE4", 20, 0)->ndeferred, 100);
	ld_table_free(t);
}

/* bev - a delivery event to a provider from a sender */
static ld_event
bev(const char *result, const char *cls, const char *provider, const char *sender)
{
	ld_event ev = {.result = result,
	               .class_ = cls,
	               .provider = provider,
	               .sender = sender,
	               .reply = "421-4.7.28 unusual rate"};

	return ev;
}

static void
test_blocks(void **state)
{
	ld_block_conf c = {.threshold = 3, .window = 60, .quiet = 100, .ttl = 1000};
	ld_blocks *b = ld_blocks_new(&c);
	ld_block_info info;
	ld_event rate = bev("deferred", "rate-limited", "google", "b1-x@news.shop.example");
	ld_event other = bev("deferred", "other", "google", "b1-x@news.shop.example");
	ld_event ok = bev("delivered", "", "google", "b1-x@news.shop.example");
	ld_event elsewhere = bev("deferred", "rate-limited", "google", "b1-x@mail.shop.example");
	ld_event unknown = bev("deferred", "rate-limited", "other", "b1-x@news.shop.example");

	(void)state;
	/* two in the window, one outside it: no block */
	assert_int_equal(ld_blocks_event(b, &rate, 1000, &info), LD_BLOCK_SAME);
	assert_int_equal(ld_blocks_event(b, &rate, 1100, &info), LD_BLOCK_SAME);
	assert_int_equal(ld_blocks_event(b, &other, 1101, &info), LD_BLOCK_SAME);
	assert_int_equal(ld_blocks_event(b, &elsewhere, 1102, &info), LD_BLOCK_SAME);
	assert_int_equal(ld_blocks_event(b, &unknown, 1102, &info), LD_BLOCK_SAME);
	assert_int_equal(ld_blocks_event(b, &unknown, 1102, &info), LD_BLOCK_SAME);
	assert_int_equal(ld_blocks_event(b, &unknown, 1102, &info), LD_BLOCK_SAME);
	assert_int_equal(ld_blocks_event(b, &rate, 1110, &info), LD_BLOCK_SAME);
	assert_int_equal(ld_blocks_event(b, &rate, 1120, &info), LD_BLOCK_START);
	assert_string_equal(info.provider, "google");
	assert_string_equal(info.source, "news.shop.example");
	assert_string_equal(info.class_, "rate-limited");
	assert_int_equal(info.count, 3);
	assert_int_equal(ld_blocks_event(b, &rate, 1130, &info), LD_BLOCK_GOING);
	/* a delivery before the quiet period ends nothing; after it, it ends */
	assert_int_equal(ld_blocks_event(b, &ok, 1200, &info), LD_BLOCK_SAME);
	assert_int_equal(ld_blocks_event(b, &ok, 1230, &info), LD_BLOCK_END);
	assert_string_equal(info.why, "quiet");
	assert_int_equal(ld_blocks_event(b, &ok, 1240, &info), LD_BLOCK_SAME);
	/* again, and this time no mail at all: the ttl ends it */
	for (int i = 0; i < 3; i++)
		ld_blocks_event(b, &rate, 2000 + i, &info);
	assert_int_equal(ld_blocks_tick(b, 2500, &info), LD_BLOCK_SAME);
	assert_int_equal(ld_blocks_tick(b, 3002, &info), LD_BLOCK_END);
	assert_string_equal(info.why, "expired");
	assert_int_equal(ld_blocks_tick(b, 3003, &info), LD_BLOCK_SAME);
	ld_blocks_free(b);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_smtp_sent),
	    cmocka_unit_test(test_smtp_deferred_rcpt),
	    cmocka_unit_test(test_connect_refused),
	    cmocka_unit_test(test_bounced_and_ipv6),
	    cmocka_unit_test(test_local_command_and_orig_to),
	    cmocka_unit_test(test_lmtp_virtual_discard_error),
	    cmocka_unit_test(test_qmgr_cleanup_bounce),
	    cmocka_unit_test(test_stamps_and_idents),
	    cmocka_unit_test(test_malformed),
	    cmocka_unit_test(test_long_reply),
	    cmocka_unit_test(test_classify),
	    cmocka_unit_test(test_providers),
	    cmocka_unit_test(test_feed_expiry),
	    cmocka_unit_test(test_feed_learns_mx_hosted_domains),
	    cmocka_unit_test(test_table_bounds),
	    cmocka_unit_test(test_blocks),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
