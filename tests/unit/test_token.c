/*
 * NAME
 *	test_token - bounce and unsubscribe tokens round-trip and resist tampering
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "token.h"

static sl_token_key key = {.secret = "0123456789abcdef0123456789abcdef", .len = 32};

/* sample - a token with every field set */
static sl_token
sample(char kind, const char *tenant)
{
	sl_token t = {.kind = kind, .day = 20417};

	strcpy(t.category, "marketing");
	strcpy(t.tenant, tenant);
	strcpy(t.msgid, "a7x2m9qd");
	return t;
}

/* test_local_roundtrip - encode, decode, same fields; length within 64 */
static void
test_local_roundtrip(void **state)
{
	sl_token t = sample('b', "shop42"), u;
	char	s[SL_TOKEN_LOCAL_MAX], err[128];

	(void) state;
	assert_int_equal(sl_token_local(&t, &key, s, sizeof(s)), 0);
	assert_true(strlen(s) <= 64);
	assert_int_equal(strncmp(s, "b1-marketing-shop42-", 20), 0);
	assert_int_equal(sl_token_parse_local(s, &key, &u, err, sizeof(err)), SL_TOKEN_OK);
	assert_string_equal(u.category, "marketing");
	assert_string_equal(u.tenant, "shop42");
	assert_string_equal(u.msgid, "a7x2m9qd");
	assert_int_equal(u.day, 20417);
	assert_int_equal(u.kind, 'b');
}

/* test_local_no_tenant - an empty tenant is "_" on the wire and "" decoded */
static void
test_local_no_tenant(void **state)
{
	sl_token t = sample('u', ""), u;
	char	s[SL_TOKEN_LOCAL_MAX], err[128];

	(void) state;
	assert_int_equal(sl_token_local(&t, &key, s, sizeof(s)), 0);
	assert_non_null(strstr(s, "-_-"));
	assert_int_equal(sl_token_parse_local(s, &key, &u, err, sizeof(err)), SL_TOKEN_OK);
	assert_string_equal(u.tenant, "");
	assert_int_equal(u.kind, 'u');
}

/* test_local_case_insensitive - an MTA that uppercases the address still verifies */
static void
test_local_case_insensitive(void **state)
{
	sl_token t = sample('b', "shop42"), u;
	char	s[SL_TOKEN_LOCAL_MAX], err[128];

	(void) state;
	assert_int_equal(sl_token_local(&t, &key, s, sizeof(s)), 0);
	for (char *p = s; *p; p++)
		if (*p >= 'a' && *p <= 'z')
			*p = (char) (*p - 32);
	assert_int_equal(sl_token_parse_local(s, &key, &u, err, sizeof(err)), SL_TOKEN_OK);
}

/* test_local_every_char_tampered - changing any one character breaks it */
static void
test_local_every_char_tampered(void **state)
{
	sl_token t = sample('b', "shop42"), u;
	char	s[SL_TOKEN_LOCAL_MAX], err[128];

	(void) state;
	assert_int_equal(sl_token_local(&t, &key, s, sizeof(s)), 0);
	for (size_t i = 0; s[i]; i++) {
		char	copy[SL_TOKEN_LOCAL_MAX];

		strcpy(copy, s);
		copy[i] = copy[i] == 'z' ? 'y' : (copy[i] == '-' ? 'a' : 'z');
		if (copy[i] == s[i])
			copy[i] = '2';
		assert_int_not_equal(sl_token_parse_local(copy, &key, &u, err, sizeof(err)), SL_TOKEN_OK);
	}
}

/* test_local_wrong_key - another secret does not verify */
static void
test_local_wrong_key(void **state)
{
	sl_token t = sample('b', "shop42"), u;
	sl_token_key other = {.secret = "another-secret-of-sixteen", .len = 25};
	char	s[SL_TOKEN_LOCAL_MAX], err[128];

	(void) state;
	assert_int_equal(sl_token_local(&t, &key, s, sizeof(s)), 0);
	assert_int_equal(sl_token_parse_local(s, &other, &u, err, sizeof(err)), SL_TOKEN_BADMAC);
}

/* test_local_garbage - junk is malformed, never a crash */
static void
test_local_garbage(void **state)
{
	static const char *junk[] = {"", "-", "b1", "postmaster", "b1-a-b-c-d-e-f-g-hhhhhhhhhhhh",
		"x1-marketing-_-fpt-a7x2m9qd-aaaaaaaaaaaa", "b1-----aaaaaaaaaaaa",
		"b1-marketing-_-fpt-a7x2m9qd-aaaaaaaaaaaaa", NULL};
	sl_token u;
	char	err[128];

	(void) state;
	for (int i = 0; junk[i]; i++)
		assert_int_not_equal(sl_token_parse_local(junk[i], &key, &u, err, sizeof(err)), SL_TOKEN_OK);
}

/* test_url_roundtrip - the URL token carries the recipient, dashes included */
static void
test_url_roundtrip(void **state)
{
	sl_token t = sample('u', "shop42"), u;
	char	s[SL_TOKEN_URL_MAX], err[128];

	(void) state;
	strcpy(t.rcpt, "jean-luc.picard+news@starfleet-academy.example");
	assert_int_equal(sl_token_url(&t, &key, s, sizeof(s)), 0);
	assert_null(strpbrk(s, "+/=@"));
	assert_int_equal(sl_token_parse_url(s, &key, &u, err, sizeof(err)), SL_TOKEN_OK);
	assert_string_equal(u.rcpt, t.rcpt);
	assert_string_equal(u.category, "marketing");
	s[3] = s[3] == 'A' ? 'B' : 'A';
	assert_int_not_equal(sl_token_parse_url(s, &key, &u, err, sizeof(err)), SL_TOKEN_OK);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_local_roundtrip),
		cmocka_unit_test(test_local_no_tenant),
		cmocka_unit_test(test_local_case_insensitive),
		cmocka_unit_test(test_local_every_char_tampered),
		cmocka_unit_test(test_local_wrong_key),
		cmocka_unit_test(test_local_garbage),
		cmocka_unit_test(test_url_roundtrip),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
