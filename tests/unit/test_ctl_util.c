/*
 * NAME
 *	test_ctl_util - sluicectl's small helpers (ctl/ctl_util.c)
 * DESCRIPTION
 *	Names and scopes as keys spell them, strict numbers, ages and ISO
 *	times for people, SCAN pattern quoting, value quoting in output, and
 *	the subcommands' option table parser (ctl_getopt; ctl_usage is
 *	replaced here by a longjmp so a usage exit can be seen).
 */
#define _GNU_SOURCE 1
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <getopt.h>

#include "ctl.h"

/* test_label - 1-15 of [a-z0-9], as the config and the tokens require */
static void
test_label(void **state)
{
	(void) state;
	assert_true(ctl_label_ok("news"));
	assert_true(ctl_label_ok("shop42"));
	assert_true(ctl_label_ok("abcdefghijklmno"));
	assert_false(ctl_label_ok("abcdefghijklmnop"));
	assert_false(ctl_label_ok(""));
	assert_false(ctl_label_ok("News"));
	assert_false(ctl_label_ok("shop_42"));
	assert_false(ctl_label_ok("a:b"));
}

/* scope - ctl_scope_parse() result or NULL */
static char scope_out[64];

static const char *
scope(const char *in)
{
	return ctl_scope_parse(in, scope_out, sizeof(scope_out)) < 0 ? NULL : scope_out;
}

/* test_scope - global, cat:, category: (spelled cat:), tenant: */
static void
test_scope(void **state)
{
	(void) state;
	assert_string_equal(scope("global"), "global");
	assert_string_equal(scope("cat:news"), "cat:news");
	assert_string_equal(scope("category:news"), "cat:news");
	assert_string_equal(scope("tenant:shop42"), "tenant:shop42");
	assert_null(scope("Global"));
	assert_null(scope("cat:"));
	assert_null(scope("cat:News"));
	assert_null(scope("tenant:a:b"));
	assert_null(scope("planet:mars"));
	assert_null(scope(""));
}

/* test_parse_long - whole numbers within bounds only */
static void
test_parse_long(void **state)
{
	long long v = 0;

	(void) state;
	assert_int_equal(ctl_parse_long("3600", 1, 86400, &v), 0);
	assert_int_equal(v, 3600);
	assert_int_equal(ctl_parse_long("0", 1, 10, &v), -1);
	assert_int_equal(ctl_parse_long("11", 1, 10, &v), -1);
	assert_int_equal(ctl_parse_long("", 0, 10, &v), -1);
	assert_int_equal(ctl_parse_long("5s", 0, 10, &v), -1);
	assert_int_equal(ctl_parse_long(" 5", 0, 10, &v), -1);
	assert_int_equal(ctl_parse_long("+5", 0, 10, &v), -1);
	assert_int_equal(ctl_parse_long("-5", -10, 10, &v), 0);
	assert_int_equal(v, -5);
	assert_int_equal(ctl_parse_long("99999999999999999999", 0, 10, &v), -1);
	assert_int_equal(v, -5);
}

/* age - ctl_age() of a difference in seconds */
static char age_out[32];

static const char *
age(long long d)
{
	ctl_age((time_t) (1800000000 - d), (time_t) 1800000000, age_out, sizeof(age_out));
	return age_out;
}

/* test_age - seconds, minutes, hours+minutes, days+hours */
static void
test_age(void **state)
{
	(void) state;
	assert_string_equal(age(0), "0s");
	assert_string_equal(age(119), "119s");
	assert_string_equal(age(120), "2m");
	assert_string_equal(age(7199), "119m");
	assert_string_equal(age(7200), "2h0m");
	assert_string_equal(age(2 * 86400 - 1), "47h59m");
	assert_string_equal(age(3 * 86400 + 5 * 3600), "3d5h");
	assert_string_equal(age(-5), "future");
	ctl_age(0, 1800000000, age_out, sizeof(age_out));
	assert_string_equal(age_out, "?");
}

/* test_iso_time - UTC with Z; nothing for 0 */
static void
test_iso_time(void **state)
{
	char	buf[32];

	(void) state;
	ctl_iso_time(1672628645, buf, sizeof(buf));
	assert_string_equal(buf, "2023-01-02T03:04:05Z");
	ctl_iso_time(0, buf, sizeof(buf));
	assert_string_equal(buf, "");
}

/* test_glob_escape - SCAN MATCH takes addresses literally */
static void
test_glob_escape(void **state)
{
	char	buf[64];

	(void) state;
	ctl_glob_escape("a*b?c[d]e\\f@x.com", buf, sizeof(buf));
	assert_string_equal(buf, "a\\*b\\?c\\[d\\]e\\\\f@x.com");
	ctl_glob_escape("plain@example.com", buf, sizeof(buf));
	assert_string_equal(buf, "plain@example.com");
	ctl_glob_escape("****", buf, 6);		/* truncated, never split an escape */
	assert_string_equal(buf, "\\*\\*");
}

/* printed - what ctl_print_value() writes */
static char *
printed(const char *s)
{
	static char out[256];
	FILE   *fp = fmemopen(out, sizeof(out), "w");

	ctl_print_value(fp, s);
	fclose(fp);
	return out;
}

/* test_print_value - bare when safe, quoted and escaped otherwise */
static void
test_print_value(void **state)
{
	(void) state;
	assert_string_equal(printed("complaint"), "complaint");
	assert_string_equal(printed("${sasl_username}"), "${sasl_username}");
	assert_string_equal(printed("550 user unknown"), "\"550 user unknown\"");
	assert_string_equal(printed(""), "\"\"");
	assert_string_equal(printed("say \"hi\""), "\"say \\\"hi\\\"\"");
	assert_string_equal(printed("a\nb"), "\"a\\x0ab\"");
}

/* The test's ctl_usage: back to the caller of getopt_run instead of exit(64). */
static jmp_buf usage_jmp;

void
ctl_usage(const ctl_ctx *ctx)
{
	(void) ctx;
	longjmp(usage_jmp, 1);
}

static const char *sel, *dir;
static int sw;

/* short_ok - the test's validator: at most 3 characters */
static int
short_ok(const char *s)
{
	return strlen(s) <= 3;
}

/* getopt_run - ctl_getopt on a NULL-terminated argv; -1 when it called usage */
static int
getopt_run(int min_args, int max_args, char **argv)
{
	static ctl_ctx ctx = {.usage = "test"};
	const ctl_opt opts[] = {CTL_CHECKED("selector", &sel, short_ok), CTL_ARG("key-dir", &dir),
				CTL_FLAG("switch", &sw), CTL_OPT_END};
	volatile int argc = 0;

	while (argv[argc])
		argc++;
	sel = dir = NULL, sw = 0;
	optind = 0;
	opterr = 0;
	if (setjmp(usage_jmp))
		return -1;
	return ctl_getopt(&ctx, argc, argv, opts, min_args, max_args);
}

/* test_getopt - values, flags, operand bounds; everything else is usage */
static void
test_getopt(void **state)
{
	char *a1[] = {"rotate", "--selector", "s2", "--switch", "example.com", NULL};
	char *a2[] = {"rotate", "example.com", "--key-dir=/k", NULL};
	char *a3[] = {"rotate", "--bogus", "example.com", NULL};
	char *a4[] = {"rotate", "example.com", "--selector", NULL};
	char *a5[] = {"rotate", NULL};
	char *a6[] = {"rotate", "a", "b", NULL};
	char *a7[] = {"rotate", "--switch=yes", "a", NULL};
	char *a8[] = {"rotate", "--", "--switch", NULL};
	char *a9[] = {"rotate", "--selector", "toolong", "--selector", "s2", "a", NULL};
	char *a10[] = {"rotate", "--selector", "s1", "--selector", "s2", "a", NULL};

	(void) state;
	assert_int_equal(getopt_run(1, 1, a1), 4);
	assert_string_equal(sel, "s2");
	assert_int_equal(sw, 1);
	assert_null(dir);
	assert_int_equal(getopt_run(1, 1, a2), 2); /* permuted: the operand moves last */
	assert_string_equal(a2[2], "example.com");
	assert_string_equal(dir, "/k");
	assert_int_equal(sw, 0);
	assert_int_equal(getopt_run(1, 1, a3), -1);
	assert_int_equal(getopt_run(0, 1, a4), -1); /* a value is required */
	assert_int_equal(getopt_run(1, 1, a5), -1);
	assert_int_equal(getopt_run(0, 0, a5), 1);
	assert_int_equal(getopt_run(1, 1, a6), -1);
	assert_int_equal(getopt_run(1, CTL_ANY_ARGS, a6), 1);
	assert_int_equal(getopt_run(1, 1, a7), -1); /* a flag takes no value */
	assert_int_equal(getopt_run(1, 1, a8), 2);  /* after --, an operand */
	assert_int_equal(sw, 0);
	/* each value is checked as it comes: a later good one does not excuse it */
	assert_int_equal(getopt_run(1, 1, a9), -1);
	assert_int_equal(getopt_run(1, 1, a10), 5);
	assert_string_equal(sel, "s2");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_label),
		cmocka_unit_test(test_scope),
		cmocka_unit_test(test_parse_long),
		cmocka_unit_test(test_age),
		cmocka_unit_test(test_iso_time),
		cmocka_unit_test(test_glob_escape),
		cmocka_unit_test(test_print_value),
		cmocka_unit_test(test_getopt),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
