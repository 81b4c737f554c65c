/*
 * NAME
 *	test_feedback_ses - unit tests of the Amazon SES notification reader
 * DESCRIPTION
 *	fb_classify() on SNS mails holding an SES document: members found
 *	whatever the whitespace, escapes decoded, each key read from its own
 *	object, SNS "email-json" envelopes unwrapped; malformed and hostile
 *	JSON (cut short, duplicate keys, deep nesting, out-of-range numbers,
 *	invalid Unicode) refused as unknown with jansson's reason.
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

#include "feedback.h"
#include "utf8.h"

#define SNS_HEAD                                                                                   \
	"From: Amazon Web Services <no-reply@sns.amazonaws.com>\n"                                 \
	"To: feedback@example.net\n"                                                               \
	"Subject: AWS Notification Message\n"                                                      \
	"Message-ID: <sns-1@email.amazonses.com>\n"                                                \
	"MIME-Version: 1.0\n"                                                                      \
	"Content-Type: text/plain; charset=UTF-8\n"                                                \
	"Content-Transfer-Encoding: 8bit\n\n"

#define SNS_FOOT                                                                                   \
	"\n\n--\nIf you wish to stop receiving notifications from this topic, please click\n"

/* ses - fb_classify on an SNS mail whose body is body */
static fb_result *
ses(const char *body)
{
	size_t n = strlen(SNS_HEAD) + strlen(body) + strlen(SNS_FOOT) + 1;
	char *buf = malloc(n);
	fb_result *r;

	assert_non_null(buf);
	snprintf(buf, n, "%s%s%s", SNS_HEAD, body, SNS_FOOT);
	r = fb_classify(buf, strlen(buf), "ses.eml");
	free(buf);
	return r;
}

/* refused - body is recorded as unknown and why names what */
static void
refused(const char *body, const char *what)
{
	fb_result *r = ses(body);

	assert_int_equal(r->kind, FB_KIND_UNKNOWN);
	assert_int_equal(r->nrcpt, 0);
	if (strstr(r->why, "ses: invalid JSON notification") == NULL ||
	    strstr(r->why, what) == NULL)
		fail_msg("why: \"%s\", expected \"%s\"", r->why, what);
	fb_result_free(r);
}

static void
test_whitespace(void **state)
{
	fb_result *r;

	(void)state;
	r = ses("{\n  \"notificationType\" : \"Bounce\",\n  \"bounce\" : {\n"
	        "    \"bounceType\" :\t\"Permanent\",\n    \"bouncedRecipients\" : [ {\n"
	        "      \"emailAddress\" : \"gone@example.org\" ,\n      \"status\" : \"5.1.1\",\n"
	        "      \"action\" : \"failed\",\n"
	        "      \"diagnosticCode\" : \"smtp; 550 5.1.1 user unknown\"\n    } ]\n  }\n}");
	assert_int_equal(r->kind, FB_KIND_BOUNCE);
	assert_int_equal(r->nrcpt, 1);
	assert_string_equal(r->rcpt[0].addr, "gone@example.org");
	assert_string_equal(r->rcpt[0].status, "5.1.1");
	assert_string_equal(r->rcpt[0].reply_code, "550");
	assert_string_equal(r->rcpt[0].diag, "550 5.1.1 user unknown");
	assert_string_equal(r->rcpt[0].reason, "userunknown");
	assert_true(r->rcpt[0].hard);
	fb_result_free(r);
}

static void
test_escapes(void **state)
{
	fb_result *r;

	(void)state;
	r = ses("{\"notificationType\":\"Bounce\",\"bounce\":{\"bounceType\":\"Permanent\","
	        "\"bouncedRecipients\":[{\"emailAddress\":\"bob\\u0040example.org\","
	        "\"status\":\"5.1.1\",\"diagnosticCode\":\"smtp; 550 5.1.1 <bob@example.org>: "
	        "Caf\\u00e9 says \\\"no such user\\\"\"}]}}");
	assert_int_equal(r->kind, FB_KIND_BOUNCE);
	assert_int_equal(r->nrcpt, 1);
	assert_string_equal(r->rcpt[0].addr, "bob@example.org");
	assert_string_equal(r->rcpt[0].diag,
	                    "550 5.1.1 <bob@example.org>: Caf\xc3\xa9 says \"no such user\"");
	fb_result_free(r);
}

static void
test_key_in_wrong_object(void **state)
{
	fb_result *r;

	(void)state;
	/* "mail" first, with an emailAddress and a status of its own; a
	 * recipient without status takes the bounceType's, not the next one's */
	r = ses(
	    "{\"notificationType\":\"Bounce\",\"mail\":{\"emailAddress\":\"sender@example.net\","
	    "\"status\":\"2.0.0\",\"destination\":[\"a@example.org\",\"b@example.org\"]},"
	    "\"bounce\":{\"bounceType\":\"Transient\",\"bouncedRecipients\":["
	    "{\"emailAddress\":\"a@example.org\",\"action\":\"failed\"},"
	    "{\"emailAddress\":\"b@example.org\",\"status\":\"5.1.1\"}]},"
	    "\"complaint\":{\"complainedRecipients\":[{\"emailAddress\":\"c@example.org\"}]}}");
	assert_int_equal(r->kind, FB_KIND_BOUNCE);
	assert_int_equal(r->nrcpt, 2);
	assert_string_equal(r->rcpt[0].addr, "a@example.org");
	assert_string_equal(r->rcpt[0].status, "4.0.0");
	assert_string_equal(r->rcpt[1].addr, "b@example.org");
	assert_string_equal(r->rcpt[1].status, "5.1.1");
	fb_result_free(r);
}

static void
test_sns_email_json(void **state)
{
	fb_result *r;

	(void)state;
	r = ses("{\n  \"Type\" : \"Notification\",\n  \"MessageId\" : \"4d3c-1\",\n"
	        "  \"TopicArn\" : \"arn:aws:sns:us-east-1:123456789012:ses\",\n"
	        "  \"Message\" : \"{\\\"notificationType\\\":\\\"Complaint\\\",\\\"complaint\\\":"
	        "{\\\"complainedRecipients\\\":[{\\\"emailAddress\\\":\\\"reader@example.org\\\"}],"
	        "\\\"complaintFeedbackType\\\":\\\"not-spam\\\"}}\",\n"
	        "  \"Timestamp\" : \"2026-12-03T10:00:00.000Z\"\n}");
	assert_int_equal(r->kind, FB_KIND_COMPLAINT);
	assert_int_equal(r->nrcpt, 1);
	assert_string_equal(r->rcpt[0].addr, "reader@example.org");
	assert_string_equal(r->rcpt[0].reason, "feedback");
	assert_string_equal(r->arf.feedback_type, "not-spam");
	fb_result_free(r);
	r = ses(
	    "{\"Type\":\"Notification\",\"Message\":\"{\\\"notificationType\\\":\\\"Delivery\\\","
	    "\\\"delivery\\\":{\\\"recipients\\\":[\\\"ok@example.org\\\"],"
	    "\\\"smtpResponse\\\":\\\"250 2.6.0 Message received\\\"}}\"}");
	assert_int_equal(r->kind, FB_KIND_BOUNCE);
	assert_int_equal(r->nrcpt, 1);
	assert_string_equal(r->rcpt[0].addr, "ok@example.org");
	assert_string_equal(r->rcpt[0].status, "2.6.0");
	assert_string_equal(r->rcpt[0].reason, "delivered");
	fb_result_free(r);
	/* an SNS Message that is not JSON */
	refused("{\"Type\":\"Notification\",\"Message\":\"notificationType: Bounce\"}", "line 1");
}

static void
test_malformed(void **state)
{
	fb_result *r;
	char *deep;
	size_t i;

	(void)state;
	refused("{\"notificationType\":\"Bounce\",\"bounce\":{\"bouncedRecipients\":[{\"emailAd",
	        "line");
	refused("{\"notificationType\":\"Bounce\",\"notificationType\":\"Complaint\"}",
	        "duplicate");
	refused("{\"notificationType\":\"Bounce\",\"bounce\":{\"bounceType\":\"Permanent\","
	        "\"bouncedRecipients\":[{\"emailAddress\":\"x@example.org\",\"n\":1e999}]}}",
	        "overflow");
	refused("{\"notificationType\":\"Bounce\",\"n\":123456789012345678901234567890}",
	        "too big integer");
	refused("{\"notificationType\":\"Bounce\",\"s\":\"\\udc00\"}", "invalid Unicode");
	refused("{\"notificationType\":\"Bounce\",\"s\":\"\\u0000\"}", "\\u0000");
	/* invalid UTF-8 in the body: the MIME layer's conversion drops it before
	 * jansson sees the text; the record is read and stays valid UTF-8 */
	r = ses("{\"notificationType\":\"Bounce\",\"bounce\":{\"bouncedRecipients\":["
	        "{\"emailAddress\":\"x@example.org\",\"status\":\"5.1.1\","
	        "\"diagnosticCode\":\"smtp; 550 bad \xff\xfe \xed\xa0\x80 end\"}]}}");
	assert_int_equal(r->kind, FB_KIND_BOUNCE);
	assert_int_equal(r->nrcpt, 1);
	assert_true(sl_utf8_valid(r->rcpt[0].diag, strlen(r->rcpt[0].diag)));
	assert_non_null(strstr(r->rcpt[0].diag, "end"));
	fb_result_free(r);
	deep = malloc(10000 + 64);
	assert_non_null(deep);
	strcpy(deep, "{\"notificationType\":\"Bounce\",\"x\":");
	i = strlen(deep);
	memset(deep + i, '[', 5000);
	deep[i + 5000] = 0;
	refused(deep, "maximum parsing depth");
	free(deep);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_whitespace),          cmocka_unit_test(test_escapes),
	    cmocka_unit_test(test_key_in_wrong_object), cmocka_unit_test(test_sns_email_json),
	    cmocka_unit_test(test_malformed),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
