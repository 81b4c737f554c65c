/*
 * NAME
 *	test_feedback_reason - unit tests of the bounce reason classifier
 * DESCRIPTION
 *	fb_reason_classify() on hand-made recipient records (status,
 *	diagnostic, action, command, diagnostic type), the status-code
 *	table, the hard/soft rule, and the text helpers that find
 *	addresses, enhanced status codes, reply codes and commands.
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
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
