/*
 * NAME
 *	test_feedback_verify - the token of a report and our Authentication-Results
 * DESCRIPTION
 *	fb_verify_origin(): a verified version 2 token (from the recipient
 *	argument or the returned original), an expired one, one of an
 *	unknown key, a version 1 token, none. fb_verify_authres(): whose
 *	A-R counts and what an aligned dmarc=pass is. The binding to the
 *	recipient record needs Redis: tests/integration/test_feedback_binding.py.
 */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "token.h"
#include "feedback.h"

static sl_token_ring ring;

/* setup - a ring of one key 'c', clock on day 20417 */
static int
setup(void **state)
{
	(void)state;
	memset(&ring, 0, sizeof(ring));
	ring.nkeys = 1;
	ring.key[0].kid = 'c';
	ring.key[0].len = 32;
	memcpy(ring.key[0].secret, "0123456789abcdef0123456789abcdef", 32);
	ring.now = 20417LL * 86400;
	return 0;
}

/* token - a bounce address of day, version and key id */
static void
token(unsigned day, int version, char *out, size_t outlen)
{
	sl_token t = {.kind = 'b', .version = version, .day = day};
	char local[SL_TOKEN_LOCAL_MAX];

	strcpy(t.category, "news");
	strcpy(t.tenant, "shop1");
	strcpy(t.msgid, "abcd2345");
	assert_int_equal(sl_token_local(&t, &ring, local, sizeof(local)), 0);
	snprintf(out, outlen, "%s@bounce.example.com", local);
}

/* test_origin - verified, expired, unknown key, version 1, from the report, none */
static void
test_origin(void **state)
{
	fb_result res = {0};
	fb_origin o;
	char addr[128];

	(void)state;
	token(20417, 2, addr, sizeof(addr));
	fb_verify_origin(addr, &res, &ring, &o);
	assert_true(o.verified);
	assert_int_equal(o.version, 2);
	assert_int_equal(o.kid, 'c');
	assert_string_equal(o.msgid, "abcd2345");
	assert_string_equal(o.tenant, "shop1");

	token(20417 - 31, 2, addr, sizeof(addr));
	fb_verify_origin(addr, &res, &ring, &o);
	assert_false(o.verified);
	assert_string_equal(o.why, "expired");

	token(20417, 1, addr, sizeof(addr));
	fb_verify_origin(addr, &res, &ring, &o);
	assert_true(o.verified);
	assert_int_equal(o.version, 1);

	token(20417, 2, addr, sizeof(addr));
	ring.key[0].kid = 'd';
	fb_verify_origin(addr, &res, &ring, &o);
	assert_false(o.verified);
	assert_string_equal(o.why, "unknown or retired key");
	ring.key[0].kid = 'c';

	/* no token in the argument: the one in the returned original */
	snprintf(res.orig_token, sizeof(res.orig_token), "%s", addr);
	fb_verify_origin("fbl@feedback.example.com", &res, &ring, &o);
	assert_true(o.verified);
	res.orig_token[0] = '\0';
	fb_verify_origin("fbl@feedback.example.com", &res, &ring, &o);
	assert_false(o.verified);
	assert_string_equal(o.why, "no token");

	addr[5] = addr[5] == 'x' ? 'y' : 'x';
	fb_verify_origin(addr, &res, &ring, &o);
	assert_false(o.verified);
	assert_non_null(strstr(o.why, "bad token"));
}

/* ar - is From trusted with these A-R values (NULL-terminated)? */
static int
ar(const char *id, const char *from, const char **values)
{
	fb_header h[8];
	size_t n = 0;

	h[n++] = (fb_header){.name = "Received", .value = "from x by y"};
	for (; *values && n < 8; values++)
		h[n++] = (fb_header){.name = "Authentication-Results", .value = (char *)*values};
	return fb_verify_authres(h, n, id, from);
}

/* test_authres - only ours count; they need an aligned dmarc=pass and no other result */
static void
test_authres(void **state)
{
	const char *none[] = {NULL};
	const char *pass[] = {"mx.sluice.test; spf=pass smtp.mailfrom=dest.test; "
	                      "dmarc=pass (p=reject dis=none) header.from=Dest.Test",
	                      NULL};
	const char *fail[] = {"mx.sluice.test; dmarc=fail (p=none) header.from=dest.test", NULL};
	const char *other_domain[] = {"mx.sluice.test; dmarc=pass header.from=third.test", NULL};
	const char *theirs[] = {"mx.elsewhere.test; dmarc=fail header.from=dest.test", NULL};
	const char *mixed[] = {"mx.sluice.test; dmarc=pass header.from=dest.test",
	                       "mx.sluice.test; dmarc=fail header.from=dest.test", NULL};
	const char *no_dmarc[] = {"mx.sluice.test; spf=pass smtp.mailfrom=dest.test", NULL};
	const char *versioned[] = {"(comment) mx.sluice.test 1; dmarc=pass header.from=dest.test",
	                           NULL};
	const char *prefix[] = {"mx.sluice.test.evil; dmarc=pass header.from=dest.test", NULL};

	(void)state;
	assert_true(ar("mx.sluice.test", "r@dest.test", none));
	assert_true(ar("mx.sluice.test", "r@dest.test", pass));
	assert_false(ar("mx.sluice.test", "r@dest.test", fail));
	assert_false(ar("mx.sluice.test", "r@dest.test", other_domain));
	assert_true(ar("mx.sluice.test", "r@dest.test", theirs));
	assert_false(ar("mx.sluice.test", "r@dest.test", mixed));
	assert_false(ar("mx.sluice.test", "r@dest.test", no_dmarc));
	assert_true(ar("mx.sluice.test", "r@dest.test", versioned));
	assert_true(ar("mx.sluice.test", "r@dest.test", prefix)); /* not ours: ignored */
	assert_true(ar("", "r@dest.test", fail));                 /* no authserv_id configured */
	assert_true(ar("MX.Sluice.Test", "r@dest.test", pass));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup(test_origin, setup),
	    cmocka_unit_test_setup(test_authres, setup),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
