/*
 * NAME
 *	test_addr - address normalisation, organizational domains, CIDR lists
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "addr.h"

/* norm - normalise or return "ERR" */
static const char *
norm(const char *in, int flags)
{
	static char out[SL_ADDR_MAX + 1];

	return sl_addr_normalize(in, out, sizeof(out), flags) == 0 ? out : "ERR";
}

/* test_normalize - brackets, domain case, tags, junk */
static void
test_normalize(void **state)
{
	(void) state;
	assert_string_equal(norm("<Alice@Example.COM>", 0), "Alice@example.com");
	assert_string_equal(norm(" bob+news@X.org ", SL_ADDR_STRIP_TAG), "bob@x.org");
	assert_string_equal(norm("bob+news@X.org", 0), "bob+news@x.org");
	assert_string_equal(norm("Bob@X.org", SL_ADDR_LOWER_LOCAL), "bob@x.org");
	assert_string_equal(norm("+only@x.org", SL_ADDR_STRIP_TAG), "+only@x.org");
	assert_string_equal(norm("", 0), "ERR");
	assert_string_equal(norm("<>", 0), "ERR");
	assert_string_equal(norm("nodomain", 0), "ERR");
	assert_string_equal(norm("@x.org", 0), "ERR");
	assert_string_equal(norm("a b@x.org", 0), "ERR");
	assert_string_equal(sl_addr_domain("a@b.c"), "b.c");
}

/* test_orgdomain - registrable domains from the public suffix list */
/* issue 10: a trailing dot and IDNA give the same canonical address */
static void
test_normalize_dot_idna(void **state)
{
	(void)state;
	assert_string_equal(norm("user@example.com.", 0), "user@example.com");
	assert_string_equal(norm("<user@Example.COM.>", 0), "user@example.com");
	assert_string_equal(norm("user@example.com..", 0), "ERR");
	assert_string_equal(norm("user@.", 0), "ERR");
	assert_string_equal(norm("user@.example.com", 0), "ERR");
	assert_string_equal(norm("user@b\xc3\xbc"
	                         "cher.example",
	                         0),
	                    "user@xn--bcher-kva.example");
	assert_string_equal(norm("user@B\xc3\x9c"
	                         "CHER.example.",
	                         0),
	                    "user@xn--bcher-kva.example");
	assert_string_equal(norm("user@XN--BCHER-KVA.example", 0), "user@xn--bcher-kva.example");
	assert_string_equal(norm("user@\xff\xfe.example", 0), "ERR"); /* not UTF-8 */
	/* valid UTF-8 that IDNA2008 refuses (a snowman): kept as written */
	assert_string_equal(norm("user@\xe2\x98\x83.EXAMPLE", 0), "user@\xe2\x98\x83.example");
	/* a full-width '@' (U+FF20) that UTS #46 maps to '@' is no label: as written */
	assert_string_equal(norm("user@shop1.example\xef\xbc\xa0", 0), "user@shop1.example\xef\xbc\xa0");
}

static void
test_orgdomain(void **state)
{
	char	out[256];

	(void) state;
	assert_int_equal(sl_orgdomain("news.mail.Example.co.uk", out, sizeof(out)), 0);
	assert_string_equal(out, "example.co.uk");
	assert_int_equal(sl_orgdomain("a.b.example.com", out, sizeof(out)), 0);
	assert_string_equal(out, "example.com");
	assert_int_equal(sl_orgdomain("gmail.com", out, sizeof(out)), 0);
	assert_string_equal(out, "gmail.com");
	assert_true(sl_domain_is_under("news.example.com", "example.com"));
	assert_true(sl_domain_is_under("example.com", "EXAMPLE.com"));
	assert_false(sl_domain_is_under("badexample.com", "example.com"));
}

/* test_forms - the stored forms a suppression lookup tries, distinct, as written first */
static void
test_forms(void **state)
{
	char	f[SL_ADDR_FORMS_MAX][SL_ADDR_MAX + 1];

	(void) state;
	assert_int_equal(sl_addr_forms("<Bob+News@Example.NET>",
				       SL_ADDR_LOWER_LOCAL | SL_ADDR_STRIP_TAG, f), 4);
	assert_string_equal(f[0], "Bob+News@example.net");
	assert_string_equal(f[1], "bob+news@example.net");
	assert_string_equal(f[2], "Bob@example.net");
	assert_string_equal(f[3], "bob@example.net");
	assert_int_equal(sl_addr_forms("bob@example.net", SL_ADDR_LOWER_LOCAL | SL_ADDR_STRIP_TAG, f), 1);
	assert_string_equal(f[0], "bob@example.net");
	assert_int_equal(sl_addr_forms("Bob+x@example.net", SL_ADDR_STRIP_TAG, f), 2);
	assert_string_equal(f[1], "Bob@example.net");
	assert_int_equal(sl_addr_forms("Bob+x@example.net", 0, f), 1);
	assert_int_equal(sl_addr_forms("bob+x@example.net", SL_ADDR_LOWER_LOCAL, f), 1);
	assert_int_equal(sl_addr_forms("not an address", SL_ADDR_LOWER_LOCAL, f), 0);
	assert_int_equal(sl_addr_forms("", SL_ADDR_LOWER_LOCAL, f), 0);
}

/* test_netlist - IPv4, IPv6, v4-mapped, bad input */
static void
test_netlist(void **state)
{
	sl_netlist *nl = sl_netlist_new();

	(void) state;
	assert_int_equal(sl_netlist_add(nl, "10.1.0.0/16"), 0);
	assert_int_equal(sl_netlist_add(nl, "192.0.2.7"), 0);
	assert_int_equal(sl_netlist_add(nl, "2001:db8::/33"), 0);
	assert_int_equal(sl_netlist_add(nl, "10.0.0.0/33"), -1);
	assert_int_equal(sl_netlist_add(nl, "junk"), -1);
	assert_int_equal(sl_netlist_add(nl, "10.0.0.0/"), -1);
	assert_true(sl_netlist_match(nl, "10.1.255.3"));
	assert_false(sl_netlist_match(nl, "10.2.0.1"));
	assert_true(sl_netlist_match(nl, "192.0.2.7"));
	assert_false(sl_netlist_match(nl, "192.0.2.8"));
	assert_true(sl_netlist_match(nl, "::ffff:10.1.2.3"));
	assert_true(sl_netlist_match(nl, "2001:db8:7fff::1"));
	assert_false(sl_netlist_match(nl, "2001:db8:8000::1"));
	assert_false(sl_netlist_match(nl, "garbage"));
	sl_netlist_free(nl);
	sl_netlist_free(NULL);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_normalize), cmocka_unit_test(test_normalize_dot_idna),
	    cmocka_unit_test(test_orgdomain), cmocka_unit_test(test_netlist),
	    cmocka_unit_test(test_forms),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
