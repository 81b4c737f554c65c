/*
 * NAME
 *	test_live - the validator of hand-written live values (lib/live.c)
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "live.h"
#include "tenant_map.h"

/* test_tenant_status - the three states; anything else is invalid */
static void
test_tenant_status(void **state)
{
	(void)state;
	assert_int_equal(sl_live_tenant_status("active"), SL_TENANT_ACTIVE);
	assert_int_equal(sl_live_tenant_status(NULL), SL_TENANT_ACTIVE);
	assert_int_equal(sl_live_tenant_status("paused"), SL_TENANT_PAUSED);
	assert_int_equal(sl_live_tenant_status("suspended"), SL_TENANT_SUSPENDED);
	assert_int_equal(sl_live_tenant_status("pasued"), -1);
	assert_int_equal(sl_live_tenant_status("Paused"), -1);
	assert_int_equal(sl_live_tenant_status(""), -1);
}

/* test_limit_check - what policyd would ignore, with the field named */
static void
test_limit_check(void **state)
{
	const char *ok[] = {"key", "${sender}", "rate", "50/hour", "burst", "10"};
	const char *lots[] = {"key", "${sender}", "rate", "lots"};
	const char *both[] = {"key", "${sender}", "rate", "1/h", "window", "day", "max", "3"};
	const char *nomax[] = {"key", "${sender}", "window", "day"};
	const char *nokey[] = {"rate", "1/h"};
	const char *badkey[] = {"key", "x", "rate", "1/h"};
	const char *unit[] = {"key", "${sender}", "rate", "1/h", "unit", "bytes"};
	const char *field[] = {"key", "${sender}", "rate", "1/h", "colour", "blue"};
	char err[300];

	(void)state;
	assert_int_equal(sl_live_limit_check(6, ok, err, sizeof(err)), 0);
	assert_int_equal(sl_live_limit_check(4, lots, err, sizeof(err)), -1);
	assert_string_equal(err, "invalid rate \"lots\"");
	assert_int_equal(sl_live_limit_check(8, both, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "exactly one"));
	assert_int_equal(sl_live_limit_check(4, nomax, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "needs max"));
	assert_int_equal(sl_live_limit_check(2, nokey, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "key template"));
	assert_int_equal(sl_live_limit_check(4, badkey, err, sizeof(err)), -1);
	assert_int_equal(sl_live_limit_check(6, unit, err, sizeof(err)), -1);
	assert_string_equal(err, "invalid unit \"bytes\"");
	assert_int_equal(sl_live_limit_check(6, field, err, sizeof(err)), -1);
	assert_string_equal(err, "unknown field \"colour\"");
	assert_int_equal(sl_live_limit_field("burst", "0", err, sizeof(err)), -1);
	assert_int_equal(sl_live_limit_field("max", "1000000001", err, sizeof(err)), -1);
	assert_int_equal(sl_live_limit_field("mode", "monitor", err, sizeof(err)), 0);
	assert_int_equal(sl_live_limit_field("text", "a\tb", err, sizeof(err)), -1);
}

/* test_sasl - labels and domain lists of sluice:sasl:<user> */
static void
test_sasl(void **state)
{
	char out[256], bad[100], err[300];

	(void)state;
	assert_int_equal(sl_live_sasl_field("tenant", "shop1", err, sizeof(err)), 0);
	assert_int_equal(sl_live_sasl_field("tenant", "Shop 1", err, sizeof(err)), -1);
	assert_non_null(strstr(err, "invalid tenant \"Shop 1\""));
	assert_int_equal(sl_live_sasl_field("category", "averyveryverylongname", err, sizeof(err)),
	                 -1);
	assert_int_equal(sl_live_domains("A.com, *.b.org", out, sizeof(out), bad, sizeof(bad)), 0);
	assert_string_equal(out, "a.com,*.b.org");
	assert_int_equal(sl_live_domains("a.com, b..org", out, sizeof(out), bad, sizeof(bad)), -1);
	assert_string_equal(bad, "b..org");
	assert_int_equal(sl_live_sasl_field("domains", "x.test,", err, sizeof(err)), 0);
	assert_int_equal(sl_live_sasl_field("domains", "x_y.test", err, sizeof(err)), -1);
}

/* test_printable - control characters never reach a log line */
static void
test_printable(void **state)
{
	char out[8];

	(void)state;
	sl_live_printable("a\nb", out, sizeof(out));
	assert_string_equal(out, "a?b");
	sl_live_printable("abcdefghij", out, sizeof(out));
	assert_int_equal(strlen(out), 7);
	assert_non_null(strstr(out, "..."));
}

/* test_tenant_senders - the one reading of a live allowed_senders, for both daemons */
static void
test_tenant_senders(void **state)
{
	char err[200];

	(void) state;
	assert_int_equal(sl_live_tenant_senders("domains", err, sizeof(err)), SL_SENDERS_DOMAINS);
	assert_int_equal(sl_live_tenant_senders("users", err, sizeof(err)), SL_SENDERS_USERS);
	assert_int_equal(sl_live_tenant_senders("any", err, sizeof(err)), SL_SENDERS_ANY);
	assert_int_equal(sl_live_tenant_senders(NULL, err, sizeof(err)), -1);
	assert_string_equal(err, "");
	assert_int_equal(sl_live_tenant_senders("", err, sizeof(err)), -1);
	assert_non_null(strstr(err, "invalid allowed_senders"));
	assert_int_equal(sl_live_tenant_senders("Any", err, sizeof(err)), -1);
	assert_string_equal(err, "invalid allowed_senders \"Any\" (use domains, users or any)");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_tenant_status),
	    cmocka_unit_test(test_limit_check),
	    cmocka_unit_test(test_sasl),
	    cmocka_unit_test(test_printable),
	    cmocka_unit_test(test_tenant_senders),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
