/*
 * NAME
 *	test_log - level names and the allocation helpers of log.c
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "log.h"

/* test_levels - names map to levels, unknown names are refused */
static void
test_levels(void **state)
{
	enum sl_log_level lv;

	(void) state;
	assert_int_equal(sl_log_parse_level("debug", &lv), 0);
	assert_int_equal(lv, SL_LOG_DEBUG);
	assert_int_equal(sl_log_parse_level("warn", &lv), 0);
	assert_int_equal(lv, SL_LOG_WARN);
	assert_int_equal(sl_log_parse_level("warning", &lv), 0);
	assert_int_equal(sl_log_parse_level("loud", &lv), -1);
}

/* test_grow - an array grows by doubling and keeps its elements */
static void
test_grow(void **state)
{
	size_t	n, cap = 0, grown = 0, last = 0;
	int    *a = NULL;

	(void) state;
	for (n = 0; n < 1000; n++) {
		a = sl_grow(a, n, &cap, sizeof(*a));
		assert_true(cap > n);
		if (cap != last)
			grown++, last = cap;
		a[n] = (int) n;
	}
	for (n = 0; n < 1000; n++)
		assert_int_equal(a[n], (int) n);
	assert_true(grown <= 8);	/* 16, 32, ..., 1024 */
	free(a);
}

/* test_strndup - copies at most n bytes, always terminated */
static void
test_strndup(void **state)
{
	char   *s = sl_strndup("abcdef", 3);

	(void) state;
	assert_string_equal(s, "abc");
	free(s);
	s = sl_strndup("ab", 10);
	assert_string_equal(s, "ab");
	free(s);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_levels),
		cmocka_unit_test(test_grow),
		cmocka_unit_test(test_strndup),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
