/*
 * NAME
 *	test_charge - the name of a connection's charge record (lib/charge.c)
 * DESCRIPTION
 *	sluice-policyd and sluice-milter must build the same name from what
 *	Postfix gives each of them; a connection that cannot be named (a
 *	part empty, "unknown", too long, or with a byte that could make two
 *	connections' names alike) gets no record, so nothing is refunded
 *	rather than the wrong thing. The settling itself is tested through
 *	Postfix (tests/integration/test_limit_refunds.py).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "charge.h"

/* key - sl_charge_key() with the default prefix into a static buffer */
static const char *
key(const char *ca, const char *cp, const char *sa, const char *sp)
{
	static char out[SL_CHARGE_KEY_MAX];

	return sl_charge_key("sluice:", ca, cp, sa, sp, out, sizeof(out)) == 0 ? out : NULL;
}

/* test_names - IPv4 and IPv6 connections */
static void
test_names(void **state)
{
	(void)state;
	assert_string_equal(key("192.0.2.7", "50820", "192.0.2.1", "587"),
	                    "sluice:charge:{192.0.2.7/50820,192.0.2.1/587}");
	assert_string_equal(key("2001:db8::7", "50820", "2001:db8::1", "25"),
	                    "sluice:charge:{2001:db8::7/50820,2001:db8::1/25}");
}

/* test_unnamed - no record for a connection that cannot be named safely */
static void
test_unnamed(void **state)
{
	char long_addr[80], small[20];

	(void)state;
	memset(long_addr, '1', sizeof(long_addr) - 1);
	long_addr[sizeof(long_addr) - 1] = '\0';
	assert_null(key("192.0.2.7", "", "192.0.2.1", "587"));
	assert_null(key("192.0.2.7", "unknown", "192.0.2.1", "587"));
	assert_null(key(NULL, "1", "192.0.2.1", "587"));
	assert_null(key("192.0.2.7", "1", "192.0.2.1", NULL));
	assert_null(key("192.0.2.7/1,x", "2", "192.0.2.1", "587"));
	assert_null(key("192.0.2.7", "1 2", "192.0.2.1", "587"));
	assert_null(key("192.0.2.7\n", "1", "192.0.2.1", "587"));
	assert_null(key(long_addr, "1", "192.0.2.1", "587"));
	assert_int_equal(
	    sl_charge_key("sluice:", "192.0.2.7", "1", "192.0.2.1", "587", small, sizeof(small)),
	    -1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_names),
	    cmocka_unit_test(test_unnamed),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
