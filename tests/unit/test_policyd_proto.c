/*
 * NAME
 *	test_policyd_proto - the policy protocol parser, well-formed and hostile
 * DESCRIPTION
 *	pd_proto_parse() over buffers: complete, partial and pipelined
 *	requests; every malformed or oversize case is an error, detected
 *	without reading the whole of an endless line.
 */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "log.h"
#include "policyd.h"

static pd_request req;

/* parse - run the parser on a C string */
static int
parse(const char *s, size_t *used, const char **err)
{
	*err = NULL;
	return pd_proto_parse(s, strlen(s), &req, used, err);
}

static void
test_complete(void **state)
{
	const char *in = "request=smtpd_access_policy\nprotocol_state=RCPT\n"
	    "sender=a@b.test\nrecipient=\nsasl_username=x=y\n\n";
	size_t	used;
	const char *err;

	(void) state;
	assert_int_equal(parse(in, &used, &err), PD_PARSE_OK);
	assert_int_equal(used, strlen(in));
	assert_int_equal(req.nattr, 5);
	assert_string_equal(pd_request_get(&req, "protocol_state"), "RCPT");
	assert_string_equal(pd_request_get(&req, "recipient"), "");
	assert_string_equal(pd_request_get(&req, "sasl_username"), "x=y");
	assert_null(pd_request_get(&req, "client_address"));
	assert_string_equal(pd_request_str(&req, "client_address"), "");
}

static void
test_partial_and_pipelined(void **state)
{
	const char *two = "a=1\nb=2\n\nc=3\n\n";
	size_t	used;
	const char *err;

	(void) state;
	assert_int_equal(parse("a=1\nb=2\n", &used, &err), PD_PARSE_MORE);
	assert_int_equal(parse("a=1\nb=", &used, &err), PD_PARSE_MORE);
	assert_int_equal(parse("", &used, &err), PD_PARSE_MORE);
	assert_int_equal(parse(two, &used, &err), PD_PARSE_OK);
	assert_int_equal(used, 9);
	assert_int_equal(req.nattr, 2);
	assert_int_equal(parse(two + used, &used, &err), PD_PARSE_OK);
	assert_string_equal(pd_request_get(&req, "c"), "3");
	/* CRLF from a telnet session is tolerated */
	assert_int_equal(parse("a=1\r\nb=2\r\n\r\n", &used, &err), PD_PARSE_OK);
	assert_string_equal(pd_request_get(&req, "a"), "1");
}

static void
expect_error(const char *in, size_t len, const char *what)
{
	size_t	used;
	const char *err = NULL;

	assert_int_equal(pd_proto_parse(in, len, &req, &used, &err), PD_PARSE_ERROR);
	assert_non_null(err);
	assert_non_null(strstr(err, what));
}

static void
test_malformed(void **state)
{
	(void) state;
	expect_error("\n", 1, "empty request");
	expect_error("noequals\n\n", 10, "without '='");
	expect_error("=value\n\n", 8, "bad attribute name");
	expect_error("Name=v\n\n", 8, "bad attribute name");
	expect_error("a b=v\n\n", 7, "bad attribute name");
	expect_error("a=1\na=2\n\n", 9, "duplicate");
	expect_error("a=1\0\n\n", 6, "NUL");
	expect_error("a=1\rx\n\n", 7, "carriage return");
	/* a name of PD_NAME_MAX + 1 characters (doc/security.md caps table) */
	expect_error("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa=v\n\n", 69,
	             "bad attribute name");
}

static void
test_oversize(void **state)
{
	size_t	n = 1 << 20, used;
	char   *big = malloc(n);
	const char *err;
	char	attrs[PD_ATTR_MAX * 8 + 16];
	size_t	o = 0;

	(void) state;
	memset(big, 'x', n);
	memcpy(big, "recipient=", 10);
	/* a line longer than PD_LINE_MAX is refused before it ends */
	assert_int_equal(pd_proto_parse(big, PD_LINE_MAX + 2, &req, &used, &err), PD_PARSE_ERROR);
	assert_string_equal(err, "line too long");
	assert_int_equal(pd_proto_parse(big, n, &req, &used, &err), PD_PARSE_ERROR);
	/* many short lines: the request cap */
	for (size_t i = 0; i + 3 <= n; i += 3)
		memcpy(big + i, "a=\n", 3);
	assert_int_equal(pd_proto_parse(big, n, &req, &used, &err), PD_PARSE_ERROR);
	free(big);
	for (int i = 0; i <= PD_ATTR_MAX; i++)
		o += (size_t) snprintf(attrs + o, sizeof(attrs) - o, "a%d=1\n", i);
	attrs[o++] = '\n';
	expect_error(attrs, o, "too many attributes");
}

static void
test_answer(void **state)
{
	char	out[PD_ANSWER_MAX];

	(void) state;
	assert_int_equal(pd_proto_answer(out, sizeof(out), "DUNNO"), 14);
	assert_string_equal(out, "action=DUNNO\n\n");
	assert_int_equal(pd_proto_answer(out, sizeof(out), "REJECT a\nb"), -1);
	assert_int_equal(pd_proto_answer(out, 8, "DUNNO"), -1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_complete),
		cmocka_unit_test(test_partial_and_pipelined),
		cmocka_unit_test(test_malformed),
		cmocka_unit_test(test_oversize),
		cmocka_unit_test(test_answer),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
