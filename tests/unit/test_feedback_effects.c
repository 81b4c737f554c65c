/*
 * NAME
 *	test_feedback_effects - unit tests of who is at fault for a bounce reason
 * DESCRIPTION
 *	fb_effects_fault() decides whether a soft bounce counts towards the
 *	recipient's threshold (recipient), never suppresses (sender) or
 *	neither (neutral). Checked: the groups of doc/feedback.md, that
 *	every reason the classifier can give falls in the group documented,
 *	that the hard reasons are never the sender's fault, and that an
 *	unknown name is neutral (it suppresses nobody by threshold).
 *	The Redis side is tested against a real redis-server in
 *	tests/integration/test_feedback_trust.py.
 */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "feedback.h"

static const char *const recipient[] = {
	"userunknown", "hostunknown", "hasmoved", "mailboxfull", "exceedlimit", "suspend",
	"filtered", "notaccept", NULL };
static const char *const sender[] = {
	"blocked", "spamdetected", "virusdetected", "policyviolation", "securityerror",
	"authfailure", "requireptr", "notcompliantrfc", "contenterror", "mesgtoobig", "rejected",
	"toomanyconn", "syntaxerror", NULL };
static const char *const neutral[] = {
	"expired", "networkerror", "systemerror", "systemfull", "mailererror", "norelaying",
	"onhold", "undefined", NULL };

/* check_group - every name of list is a known reason in group fault */
static void
check_group(const char *const *list, int fault)
{
	for (; *list; list++) {
		assert_true(fb_reason_known(*list));
		if (fb_effects_fault(*list) != fault)
			fail_msg("%s: fault %d, want %d", *list, fb_effects_fault(*list), fault);
	}
}

/* test_groups - the taxonomy, group by group, as documented */
static void
test_groups(void **state)
{
	(void) state;
	check_group(recipient, FB_FAULT_RECIPIENT);
	check_group(sender, FB_FAULT_SENDER);
	check_group(neutral, FB_FAULT_NEUTRAL);
}

/* test_hard_never_sender - a hard bounce's reason is never the sender's fault */
static void
test_hard_never_sender(void **state)
{
	static const char *const names[] = {"userunknown", "hostunknown", "hasmoved",
					    "notaccept", NULL};

	(void) state;
	for (const char *const *n = names; *n; n++)
		if (fb_reason_is_hard(*n, "550"))
			assert_int_not_equal(fb_effects_fault(*n), FB_FAULT_SENDER);
}

/* test_unknown_neutral - names outside the taxonomy, and names to come, by their group */
static void
test_unknown_neutral(void **state)
{
	(void) state;
	assert_int_equal(fb_effects_fault("nosuchreason"), FB_FAULT_NEUTRAL);
	assert_int_equal(fb_effects_fault(""), FB_FAULT_NEUTRAL);
	assert_int_equal(fb_effects_fault("delivered"), FB_FAULT_NEUTRAL);
	/* sisimai names the classifier may add: sender-side already */
	assert_int_equal(fb_effects_fault("badreputation"), FB_FAULT_SENDER);
	assert_int_equal(fb_effects_fault("speeding"), FB_FAULT_SENDER);
	assert_int_equal(fb_effects_fault("failedstarttls"), FB_FAULT_SENDER);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_groups),
		cmocka_unit_test(test_hard_never_sender),
		cmocka_unit_test(test_unknown_neutral),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
