/*
 * NAME
 *	test_feedback_parsers - unit tests of the DSN, ARF, DMARC and free-text parsers
 * DESCRIPTION
 *	fb_classify() on small hand-written inputs: a DSN with fields in an
 *	unusual order, the status a server's reply gives, a qmail bounce, an ISO-2022-JP bounce
 *(decoded to UTF-8), an ARF report, DMARC reports as XML, gzip of that XML, a report nested in
 *another document, and refused inputs; strict XML (a DTD, entities, a document cut short: refused
 *with a reason), the RFC 9990 fields and every auth_results entry; valid UTF-8 in the fields and
 *the JSON whatever the message holds.
 */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>
#include <cmocka.h>

#include "feedback.h"
#include "utf8.h"

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

static const char xml9990[] =
    "<feedback xmlns=\"urn:ietf:params:xml:ns:dmarc-2.0\"><version>1.0</version>"
    "<report_metadata><org_name>r</org_name><report_id>9</report_id><generator>gen 1</generator>"
    "<date_range><begin>1</begin><end>2</end></date_range></report_metadata>"
    "<policy_published><domain>example.com</domain><p>reject</p><np>quarantine</np>"
    "<testing>y</testing><discovery_method>treewalk</discovery_method></policy_published>"
    "<record><row><source_ip>192.0.2.1</source_ip><count>2</count><policy_evaluated>"
    "<disposition>none</disposition><dkim>pass</dkim><spf>fail</spf>"
    "<reason><type>local_policy</type><comment>arc</comment></reason>"
    "<reason><type>trusted_forwarder</type></reason></policy_evaluated></row>"
    "<identifiers><envelope_to>example.net</envelope_to><envelope_from>b.example.com</"
    "envelope_from>"
    "<header_from>example.com</header_from></identifiers>"
    "<auth_results><dkim><domain>example.com</domain><selector>s1</selector><result>pass</result>"
    "<human_result>ok</human_result></dkim><dkim><domain>esp.example</domain><result>fail</"
    "result></dkim>"
    "<spf><domain>b.example.com</domain><scope>mfrom</scope><result>fail</result></spf></"
    "auth_results>"
    "<extensions><x:y xmlns:x=\"urn:x\">z</x:y></extensions></record></feedback>";

static void
test_dmarc_rfc9990_fields(void **state)
{
	fb_result *r;
	const fb_dmarc_rec *rec;

	(void)state;
	r = classify(xml9990);
	assert_int_equal(r->kind, FB_KIND_DMARC);
	assert_string_equal(r->dmarc->version, "1.0");
	assert_string_equal(r->dmarc->generator, "gen 1");
	assert_string_equal(r->dmarc->np, "quarantine");
	assert_string_equal(r->dmarc->testing, "y");
	assert_string_equal(r->dmarc->discovery_method, "treewalk");
	assert_int_equal(r->dmarc->nrec, 1);
	rec = &r->dmarc->rec[0];
	assert_int_equal(rec->nreason, 2);
	assert_string_equal(rec->reason[0].type, "local_policy");
	assert_string_equal(rec->reason[0].comment, "arc");
	assert_string_equal(rec->reason[1].type, "trusted_forwarder");
	assert_string_equal(rec->envelope_to, "example.net");
	assert_string_equal(rec->envelope_from, "b.example.com");
	assert_int_equal(rec->nauth, 3);
	assert_string_equal(rec->auth[0].selector, "s1");
	assert_string_equal(rec->auth[0].human_result, "ok");
	assert_string_equal(rec->auth[1].domain, "esp.example");
	assert_string_equal(rec->auth[2].method, "spf");
	assert_string_equal(rec->auth[2].scope, "mfrom");
	fb_result_free(r);
}

/* refused - classify s, expect kind unknown with why containing what */
static void
refused(const char *s, const char *what)
{
	fb_result *r = classify(s);

	assert_int_equal(r->kind, FB_KIND_UNKNOWN);
	if (strstr(r->why, what) == NULL)
		fail_msg("why \"%s\" lacks \"%s\"", r->why, what);
	assert_null(r->dmarc);
	fb_result_free(r);
}

static void
test_dmarc_strict_xml(void **state)
{
	char buf[sizeof(xml) + 64];
	fb_result *r;

	(void)state;
	refused(
	    "<?xml version=\"1.0\"?><!DOCTYPE feedback [<!ENTITY a \"aaaa\">]>"
	    "<feedback><report_metadata><org_name>&a;&a;</org_name></report_metadata></feedback>",
	    "DTD");
	refused("<feedback><report_metadata><org_name>&a;</org_name></report_metadata></feedback>",
	        "not well-formed XML: line 1: Entity 'a' not defined");
	refused("<feedback><report_metadata><org_name>AT&T</org_name></report_metadata></feedback>",
	        "not well-formed");
	snprintf(buf, sizeof(buf), "%.*s", (int)(sizeof(xml) - 40), xml);
	refused(buf, "not well-formed XML");
	refused("<feedback><record></feedback>", "not well-formed XML");
	/* tolerated: trailing bytes after the report, invalid UTF-8 in a field */
	snprintf(buf, sizeof(buf), "%sjunk<", xml);
	r = classify(buf);
	check_report(r);
	fb_result_free(r);
	r = classify("<feedback><report_metadata><org_name>bad\xff\xed\xa0\x80</org_name>"
	             "</report_metadata></feedback>");
	assert_int_equal(r->kind, FB_KIND_DMARC);
	assert_string_equal(
	    r->dmarc->org_name,
	    "bad" SL_UTF8_REPLACEMENT SL_UTF8_REPLACEMENT SL_UTF8_REPLACEMENT SL_UTF8_REPLACEMENT);
	fb_result_free(r);
	/* forbidden control characters and NUL: replaced, the report read */
	r = fb_classify("<feedback><report_metadata><org_name>a\x01" "b\x00" "c</org_name>"
			"</report_metadata></feedback>",
			82, "ctl.xml");
	assert_int_equal(r->kind, FB_KIND_DMARC);
	assert_string_equal(r->dmarc->org_name, "a?b" SL_UTF8_REPLACEMENT "c");
	fb_result_free(r);
}

static void
test_utf8_fields_and_json(void **state)
{
	fb_result *r;
	char *json;

	(void)state;
	r = classify(
	    DSN1("5.1.1", "failed", "550 5.1.1 no such user \xed\xa0\x80 \xc0\xaf \xe2\x82"));
	assert_int_equal(r->kind, FB_KIND_BOUNCE);
	assert_int_equal(r->nrcpt, 1);
	assert_true(sl_utf8_valid(r->rcpt[0].diag, strlen(r->rcpt[0].diag)));
	assert_non_null(strstr(r->rcpt[0].diag, SL_UTF8_REPLACEMENT));
	assert_null(strstr(r->rcpt[0].diag, "\xed\xa0\x80"));
	json = fb_json_result(r, "f\xc0\xafile");
	assert_true(sl_utf8_valid(json, strlen(json)));
	assert_null(strstr(json, "\xed\xa0"));
	assert_non_null(strstr(json, "\"file\":\"f\\ufffd\\ufffdile\""));
	free(json);
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
	    cmocka_unit_test(test_dmarc_rfc9990_fields),
	    cmocka_unit_test(test_dmarc_strict_xml),
	    cmocka_unit_test(test_utf8_fields_and_json),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
