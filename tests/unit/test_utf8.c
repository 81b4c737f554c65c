/*
 * NAME
 *	test_utf8 - the one UTF-8 validator (lib/utf8.c)
 * DESCRIPTION
 *	Valid text passes unchanged; encoded surrogates, overlong forms,
 *	code points above U+10FFFF, stray continuation bytes, truncated
 *	sequences and NUL are each replaced by U+FFFD, one per bad byte;
 *	the in-place form never splits a character when it has to cut.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "utf8.h"

#define R SL_UTF8_REPLACEMENT

/* clean - sl_utf8_clean of n bytes, compared with want */
static void
clean(const char *in, size_t n, const char *want)
{
	size_t len;
	char *out = sl_utf8_clean(in, n, &len);

	assert_string_equal(out, want);
	assert_int_equal(len, strlen(want));
	assert_true(sl_utf8_valid(out, len));
	free(out);
}

/* test_valid - ASCII, 2-, 3- and 4-byte characters and the edges of the ranges */
static void
test_valid(void **state)
{
	static const char ok[] = "a\xc2\x80\xdf\xbf\xe0\xa0\x80\xed\x9f\xbf\xee\x80\x80\xef\xbf\xbf"
	                         "\xf0\x90\x80\x80\xf4\x8f\xbf\xbf\xe5\xae\x9b";

	(void)state;
	assert_true(sl_utf8_valid(ok, sizeof(ok) - 1));
	clean(ok, sizeof(ok) - 1, ok);
	assert_int_equal(sl_utf8_seq((const unsigned char *)"\xf0\x9f\x98\x80", 4), 4);
}

/* test_surrogates - ED A0 80 .. ED BF BF are not UTF-8 (CESU-8, WTF-8) */
static void
test_surrogates(void **state)
{
	(void)state;
	assert_false(sl_utf8_valid("\xed\xa0\x80", 3));
	assert_false(sl_utf8_valid("\xed\xbf\xbf", 3));
	clean("x\xed\xa0\x80y", 5, "x" R R R "y");
	clean("\xed\xb0\x80", 3, R R R);
}

/* test_overlong - C0/C1 leads, E0 80..9F, F0 80..8F; above U+10FFFF; F5..FF */
static void
test_overlong(void **state)
{
	(void)state;
	clean("\xc0\xaf", 2, R R); /* overlong '/' */
	clean("\xc1\xbf", 2, R R);
	clean("\xe0\x80\xaf", 3, R R R); /* overlong '/' */
	clean("\xe0\x9f\xbf", 3, R R R);
	clean("\xf0\x80\x80\xaf", 4, R R R R);
	clean("\xf0\x8f\xbf\xbf", 4, R R R R);
	clean("\xf4\x90\x80\x80", 4, R R R R); /* U+110000 */
	clean("\xf5\x80\x80\x80", 4, R R R R);
	clean("\xff\xfe", 2, R R);
	clean("\x80", 1, R); /* a lone continuation byte */
}

/* test_truncated - a sequence cut short, at the end or by another character */
static void
test_truncated(void **state)
{
	(void)state;
	clean("ab\xe2\x82", 4, "ab" R R);
	clean("\xe2\x82"
	      "c",
	      3, R R "c");
	clean("\xf0\x9f\x98", 3, R R R);
	clean("\xc3", 1, R);
	clean("\xc3\xa9", 1, R); /* the length says where it ends */
	assert_int_equal(sl_utf8_seq((const unsigned char *)"\xe2\x82\xac", 2), 0);
}

/* test_nul - an embedded NUL is replaced, so nothing after it is lost */
static void
test_nul(void **state)
{
	(void)state;
	assert_false(sl_utf8_valid("a\0b", 3));
	clean("a\0b", 3, "a" R "b");
	assert_int_equal(sl_utf8_seq((const unsigned char *)"", 1), 0);
}

/* test_fix - in place within a fixed buffer, cut at a character boundary */
static void
test_fix(void **state)
{
	char buf[8];

	(void)state;
	strcpy(buf, "abc");
	assert_int_equal(sl_utf8_fix(buf, sizeof(buf)), 0);
	assert_string_equal(buf, "abc");
	strcpy(buf, "a\xed\xa0\x80"); /* 1 + 3 replacements of 3 bytes: 10 > 7 */
	assert_int_equal(sl_utf8_fix(buf, sizeof(buf)), 1);
	assert_string_equal(buf, "a" R R);
	assert_true(sl_utf8_valid(buf, strlen(buf)));
	strcpy(buf, "abcde\xc3"); /* a cut in the middle of a character */
	assert_int_equal(sl_utf8_fix(buf, sizeof(buf)), 1);
	assert_string_equal(buf, "abcde");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_valid),    cmocka_unit_test(test_surrogates),
	    cmocka_unit_test(test_overlong), cmocka_unit_test(test_truncated),
	    cmocka_unit_test(test_nul),      cmocka_unit_test(test_fix),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
