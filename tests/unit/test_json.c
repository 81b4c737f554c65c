/*
 * NAME
 *	test_json - the one JSON string writer (lib/json.c)
 * DESCRIPTION
 *	Quote and backslash escaped; every control character (U+0000..
 *	U+001F and U+007F) written as \u00XX; valid UTF-8 at every length
 *	boundary kept; each byte of an invalid sequence (lead bytes C0, C1,
 *	F5..FF, stray continuations, overlong forms, surrogates, above
 *	U+10FFFF, cut short) one \ufffd. Independently, jansson parses every
 *	output back to exactly what lib/utf8.c's sl_utf8_clean makes of the
 *	input, for every single byte and for pseudo-random byte strings;
 *	sl_json_fputs writes the same bytes as sl_json_str.
 */
#define _GNU_SOURCE 1
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <jansson.h>

#include "json.h"
#include "utf8.h"

/* str - sl_json_str of s as a fresh string */
static char *
str(const char *s)
{
	sl_jbuf b = {0};

	sl_json_str(&b, s);
	return b.s;
}

/* same - sl_json_str of in is want, and sl_json_fputs writes the same */
static void
same(const char *in, const char *want)
{
	char *got = str(in), *buf = NULL;
	size_t len = 0;
	FILE *fp = open_memstream(&buf, &len);

	assert_string_equal(got, want);
	assert_non_null(fp);
	sl_json_fputs(fp, in);
	fclose(fp);
	assert_string_equal(buf, want);
	free(buf);
	free(got);
}

/* test_escapes - quote, backslash, NULL, plain text */
static void
test_escapes(void **state)
{
	(void)state;
	same("", "\"\"");
	same(NULL, "\"\"");
	same("plain / text", "\"plain / text\"");
	same("a\"b\\c", "\"a\\\"b\\\\c\"");
}

/* test_every_control_character - U+0001..U+001F and U+007F as \u00XX */
static void
test_every_control_character(void **state)
{
	char in[4], want[16];

	(void)state;
	for (int c = 1; c < 0x80; c++) {
		if (c >= 0x20 && c != 0x7f)
			continue;
		snprintf(in, sizeof(in), "%c", c);
		snprintf(want, sizeof(want), "\"\\u%04x\"", c);
		same(in, want);
	}
	same("a\nb\r\tc", "\"a\\u000ab\\u000d\\u0009c\"");
}

/* test_valid_utf8 - every sequence length at its boundaries, kept as is */
static void
test_valid_utf8(void **state)
{
	static const char *ok[] = {
	    "\xc2\x80",
	    "\xdf\xbf", /* U+0080, U+07FF */
	    "\xe0\xa0\x80",
	    "\xef\xbf\xbf", /* U+0800, U+FFFF */
	    "\xed\x9f\xbf",
	    "\xee\x80\x80", /* around the surrogates */
	    "\xf0\x90\x80\x80",
	    "\xf4\x8f\xbf\xbf", /* U+10000, U+10FFFF */
	    "caf\xc3\xa9 \xf0\x9f\x93\xa8",
	};
	char want[64];

	(void)state;
	for (size_t i = 0; i < sizeof(ok) / sizeof(*ok); i++) {
		snprintf(want, sizeof(want), "\"%s\"", ok[i]);
		same(ok[i], want);
	}
}

/* test_invalid_utf8 - one \ufffd per byte that starts no valid sequence */
static void
test_invalid_utf8(void **state)
{
	(void)state;
	same("\x80", "\"\\ufffd\"");                       /* stray continuation */
	same("\xc0\xaf", "\"\\ufffd\\ufffd\"");            /* overlong (C0) */
	same("\xc1\xbf", "\"\\ufffd\\ufffd\"");            /* overlong (C1) */
	same("\xe0\x80\xaf", "\"\\ufffd\\ufffd\\ufffd\""); /* overlong 3 bytes */
	same("\xf0\x80\x80\xaf", "\"\\ufffd\\ufffd\\ufffd\\ufffd\"");
	same("\xed\xa0\x80", "\"\\ufffd\\ufffd\\ufffd\"");            /* surrogate D800 */
	same("\xed\xbf\xbf", "\"\\ufffd\\ufffd\\ufffd\"");            /* surrogate DFFF */
	same("\xf4\x90\x80\x80", "\"\\ufffd\\ufffd\\ufffd\\ufffd\""); /* > U+10FFFF */
	same("\xf5\x80\x80", "\"\\ufffd\\ufffd\\ufffd\"");            /* no lead above F4 */
	same("\xff", "\"\\ufffd\"");
	same("\xe2\x82", "\"\\ufffd\\ufffd\"");   /* cut short at the end */
	same("\xe2\x82x", "\"\\ufffd\\ufffdx\""); /* cut short by ASCII */
	same("a\xc3\"", "\"a\\ufffd\\\"\"");      /* cut short by a quote */
}

/* parses_back - jansson reads the output as the cleaned input */
static void
parses_back(const char *in, size_t n)
{
	char *out = str(in), *doc, *want;
	json_error_t err;
	json_t *v;
	size_t wlen;

	assert_true(asprintf(&doc, "[%s]", out) > 0);
	v = json_loads(doc, 0, &err);
	if (v == NULL)
		fail_msg("jansson refused %s: %s", doc, err.text);
	want = sl_utf8_clean(in, n, &wlen);
	assert_int_equal(json_string_length(json_array_get(v, 0)), wlen);
	assert_memory_equal(json_string_value(json_array_get(v, 0)), want, wlen);
	json_decref(v);
	free(want);
	free(doc);
	free(out);
}

/* test_jansson_reads_it_back - every byte, and random strings */
static void
test_jansson_reads_it_back(void **state)
{
	char in[40];
	uint32_t x = 20261203;

	(void)state;
	for (int c = 1; c < 256; c++) {
		in[0] = (char)c;
		in[1] = 0;
		parses_back(in, 1);
	}
	for (int round = 0; round < 20000; round++) {
		size_t n = 1 + round % (sizeof(in) - 1);

		for (size_t i = 0; i < n; i++) {
			x = x * 1103515245 + 12345;
			in[i] = (char)((x >> 16) % 255 + 1); /* no NUL inside */
		}
		in[n] = 0;
		parses_back(in, n);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_escapes),
	    cmocka_unit_test(test_every_control_character),
	    cmocka_unit_test(test_valid_utf8),
	    cmocka_unit_test(test_invalid_utf8),
	    cmocka_unit_test(test_jansson_reads_it_back),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
