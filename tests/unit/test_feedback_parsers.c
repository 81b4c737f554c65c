/*
 * NAME
 *	test_feedback_parsers - unit tests of the DSN, ARF, DMARC and free-text parsers
 * DESCRIPTION
 *	fb_classify() on small hand-written inputs: a DSN with fields in an
 *	unusual order, the status a server's reply gives, a qmail bounce, an ISO-2022-JP bounce (decoded to
 *	UTF-8), an ARF report, DMARC reports as XML, gzip of that XML, a
 *	report nested in another document, and refused inputs.
 */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <zlib.h>
#include <cmocka.h>

#include "feedback.h"

/* "宛先不明です" in ISO-2022-JP, and its first four characters in UTF-8 */
#define JP_TEXT "\x1b\x24\x42\x30\x38\x40\x68\x49\x54\x4c\x40\x24\x47\x24\x39\x1b\x28\x42\x0a"
#define UTF8_TEXT "\xe5\xae\x9b\xe5\x85\x88\xe4\xb8\x8d\xe6\x98\x8e"

static const char dsn_odd[] =
	"From: MAILER-DAEMON@mx.example.com\n"
	"To: b1-x@bounce.example.com\n"
	"Subject: failure\n"
	"MIME-Version: 1.0\n"
	"Content-Type: multipart/report; report-type=delivery-status; boundary=\"b\"\n\n"
	"--b\nContent-Type: text/plain\n\nsorry\n\n"
	"--b\nContent-Type: message/delivery-status\n\n"
	"Reporting-MTA: dns; mx.example.com\n\n"
	"Diagnostic-Code: smtp; 552 5.2.2 Mailbox full\n"
	"Status: 5.2.2\n"
	"Final-Recipient: rfc822; Full@Example.org\n"
	"Action: failed\n\n"
	"--b--\n";

/* A one-recipient DSN with the given Status, Action and Diagnostic-Code; Remote-MTA set. */
#define DSN1(status, action, diag) \
	"From: MAILER-DAEMON@mx.example.com\nTo: b1-x@bounce.example.com\nSubject: failure\n" \
	"MIME-Version: 1.0\n" \
	"Content-Type: multipart/report; report-type=delivery-status; boundary=\"b\"\n\n" \
	"--b\nContent-Type: text/plain\n\nsorry\n\n" \
	"--b\nContent-Type: message/delivery-status\n\nReporting-MTA: dns; mx.example.com\n\n" \
	"Final-Recipient: rfc822; u@example.org\nAction: " action "\nStatus: " status "\n" \
	"Remote-MTA: dns; mx1.example.org\nDiagnostic-Code: smtp; " diag "\n\n--b--\n"

static const char qmail[] =
	"From: MAILER-DAEMON@mx.example.org\nTo: shop@example.com\nSubject: failure notice\n\n"
	"Hi. This is the qmail-send program at mx.example.org.\n"
	"I'm afraid I wasn't able to deliver your message to the following addresses.\n\n"
	"<someone@example.org>:\n192.0.2.9 does not like recipient.\n"
	"Remote host said: 550 5.1.1 <someone@example.org>... No such user\n\n"
	"--- Below this line is a copy of the message.\n\nFrom: shop@example.com\nTo: someone@example.org\n\nhi\n";

static const char jp_bounce[] =
	"From: MAILER-DAEMON@mx.example.jp\nTo: shop@example.com\nSubject: error\n"
	"MIME-Version: 1.0\nContent-Type: text/plain; charset=ISO-2022-JP\n\n"
	"<taro@example.jp>: 550 5.1.1 User unknown\n@JP@";

static const char arf[] =
	"From: fbl@isp.example.net\nTo: fbl@feedback.example.com\nSubject: report\n"
	"MIME-Version: 1.0\n"
	"Content-Type: multipart/report; report-type=feedback-report; boundary=\"a\"\n\n"
	"--a\nContent-Type: text/plain\n\nabuse report\n\n"
	"--a\nContent-Type: message/feedback-report\n\n"
	"Feedback-Type: opt-out\nUser-Agent: Test/1\nVersion: 1\n"
	"Original-Mail-From: <b1-news-shop-abc-abcd2345-aaaaaaaaaaaa@bounce.example.com>\n"
	"Original-Rcpt-To: <reader@isp.example.net>\nSource-IP: 192.0.2.7\n\n"
	"--a\nContent-Type: text/rfc822-headers\n\nFrom: shop@example.com\nTo: reader@isp.example.net\n\n"
	"--a--\n";

static const char xml[] =
	"<?xml version=\"1.0\"?>\n<feedback xmlns=\"urn:ietf:params:xml:ns:dmarc-2.0\">"
	"<report_metadata><org_name> isp.example </org_name><report_id>r1</report_id>"
	"<date_range><begin>1700000000</begin><end>1700086399</end></date_range></report_metadata>"
	"<policy_published><domain>example.com</domain><p>quarantine</p><adkim>s</adkim><aspf>r</aspf>"
	"</policy_published>"
	"<record><row><source_ip>192.0.2.1</source_ip><count>5</count><policy_evaluated>"
	"<disposition>quarantine</disposition><dkim>fail</dkim><spf>pass</spf></policy_evaluated></row>"
	"<identifiers><header_from>example.com</header_from></identifiers></record></feedback>\n";

/* classify - fb_classify on a C string */
static fb_result *
classify(const char *s)
{
	return fb_classify(s, strlen(s), "test");
}

static void
test_dsn_fields_any_order(void **state)
{
	fb_result *r = classify(dsn_odd);

	(void) state;
	assert_int_equal(r->kind, FB_KIND_BOUNCE);
	assert_int_equal(r->nrcpt, 1);
	assert_string_equal(r->rcpt[0].addr, "Full@Example.org");
	assert_string_equal(r->rcpt[0].status, "5.2.2");
	assert_string_equal(r->rcpt[0].reply_code, "552");
	assert_string_equal(r->rcpt[0].reason, "mailboxfull");
	assert_false(r->rcpt[0].hard);
	assert_string_equal(r->orig_token, "");
	fb_result_free(r);
}

static void
test_qmail(void **state)
{
	fb_result *r = classify(qmail);

	(void) state;
	assert_int_equal(r->kind, FB_KIND_BOUNCE);
	assert_int_equal(r->nrcpt, 1);
	assert_string_equal(r->rcpt[0].addr, "someone@example.org");
	assert_string_equal(r->rcpt[0].command, "RCPT");
	assert_string_equal(r->rcpt[0].reason, "userunknown");
	assert_true(r->rcpt[0].hard);
	fb_result_free(r);
}

static void
test_iso2022jp(void **state)
{
	char	buf[1024];
	const char *at = strstr(jp_bounce, "@JP@");
	fb_result *r;

	(void) state;
	snprintf(buf, sizeof(buf), "%.*s%s", (int) (at - jp_bounce), jp_bounce, JP_TEXT);
	r = classify(buf);
	assert_int_equal(r->kind, FB_KIND_BOUNCE);
	assert_string_equal(r->rcpt[0].addr, "taro@example.jp");
	assert_non_null(strstr(r->rcpt[0].diag, UTF8_TEXT));
	fb_result_free(r);
}

static void
test_arf(void **state)
{
	fb_result *r = classify(arf);

	(void) state;
	assert_int_equal(r->kind, FB_KIND_COMPLAINT);
	assert_string_equal(r->arf.feedback_type, "opt-out");
	assert_string_equal(r->arf.source_ip, "192.0.2.7");
	assert_string_equal(r->rcpt[0].addr, "reader@isp.example.net");
	/* the token comes from Original-Mail-From: the headers have no Return-Path */
	assert_string_equal(r->orig_token, "b1-news-shop-abc-abcd2345-aaaaaaaaaaaa@bounce.example.com");
	assert_string_equal(r->orig_from, r->orig_token);
	fb_result_free(r);
}

/* check_report - the fields of the xml report above */
static void
check_report(const fb_result *r)
{
	assert_int_equal(r->kind, FB_KIND_DMARC);
	assert_string_equal(r->dmarc->org_name, "isp.example");
	assert_string_equal(r->dmarc->report_id, "r1");
	assert_true(r->dmarc->begin == 1700000000 && r->dmarc->end == 1700086399);
	assert_string_equal(r->dmarc->domain, "example.com");
	assert_string_equal(r->dmarc->p, "quarantine");
	assert_string_equal(r->dmarc->sp, "");
	assert_string_equal(r->dmarc->pct, "");
	assert_string_equal(r->dmarc->adkim, "s");
	assert_int_equal(r->dmarc->nrec, 1);
	assert_string_equal(r->dmarc->rec[0].source_ip, "192.0.2.1");
	assert_true(r->dmarc->rec[0].count == 5);
	assert_string_equal(r->dmarc->rec[0].disposition, "quarantine");
	assert_string_equal(r->dmarc->rec[0].dkim, "fail");
	assert_string_equal(r->dmarc->rec[0].spf, "pass");
	assert_string_equal(r->dmarc->rec[0].header_from, "example.com");
}

static void
test_dmarc_xml_and_gzip(void **state)
{
	unsigned char gz[4096];
	z_stream z = { 0 };
	fb_result *r;

	(void) state;
	r = classify(xml);
	check_report(r);
	fb_result_free(r);
	assert_int_equal(deflateInit2(&z, 6, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY), Z_OK);
	z.next_in = (unsigned char *) xml;
	z.avail_in = sizeof(xml) - 1;
	z.next_out = gz;
	z.avail_out = sizeof(gz);
	assert_int_equal(deflate(&z, Z_FINISH), Z_STREAM_END);
	r = fb_classify((const char *) gz, sizeof(gz) - z.avail_out, "r.xml.gz");
	deflateEnd(&z);
	check_report(r);
	fb_result_free(r);
	/* truncated gzip: refused with a reason */
	r = fb_classify((const char *) gz, 20, "r.xml.gz");
	assert_int_equal(r->kind, FB_KIND_UNKNOWN);
	assert_non_null(strstr(r->why, "gzip"));
	fb_result_free(r);
}

static void
test_dmarc_refused(void **state)
{
	fb_result *r;

	(void) state;
	r = classify("<?xml version=\"1.0\"?><other><x>1</x></other>");
	assert_int_equal(r->kind, FB_KIND_UNKNOWN);
	assert_non_null(strstr(r->why, "<feedback>"));
	fb_result_free(r);
	r = classify("");
	assert_int_equal(r->kind, FB_KIND_UNKNOWN);
	assert_string_equal(r->why, "empty input");
	fb_result_free(r);
	r = classify("\x01\x02 binary junk");
	assert_int_equal(r->kind, FB_KIND_UNKNOWN);
	assert_true(r->why[0] != 0);
	fb_result_free(r);
}

static void
test_dsn_status_from_reply(void **state)
{
	fb_result *res;

	(void) state;
	/* a precise code in the server's reply wins over the DSN's */
	res = classify(DSN1("5.1.1", "failed", "550 5.7.1 IP address blacklisted by recipient"));
	assert_int_equal(res->nrcpt, 1);
	assert_string_equal(res->rcpt[0].status, "5.7.1");
	assert_string_equal(res->rcpt[0].rhost, "mx1.example.org");
	fb_result_free(res);
	/* a vague code in the reply does not */
	res = classify(DSN1("5.1.1", "failed", "550 5.7.0 <u@example.org>: User unknown"));
	assert_string_equal(res->rcpt[0].status, "5.1.1");
	fb_result_free(res);
	/* a 4.x.x Status contradicting "failed" and a 5xx reply */
	res = classify(DSN1("4.5.0", "failed", "550 5.5.0 Service refused, please try later"));
	assert_string_equal(res->rcpt[0].status, "5.5.0");
	fb_result_free(res);
	res = classify(DSN1("4.5.0", "delayed", "550 5.5.0 Service refused, please try later"));
	assert_string_equal(res->rcpt[0].status, "4.5.0");
	fb_result_free(res);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_dsn_fields_any_order),
		cmocka_unit_test(test_dsn_status_from_reply),
		cmocka_unit_test(test_qmail),
		cmocka_unit_test(test_iso2022jp),
		cmocka_unit_test(test_arf),
		cmocka_unit_test(test_dmarc_xml_and_gzip),
		cmocka_unit_test(test_dmarc_refused),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
