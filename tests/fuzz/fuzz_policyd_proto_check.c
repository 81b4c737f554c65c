/*
 * NAME
 *	fuzz_policyd_proto_check - what a policy-protocol seed's name promises
 * DESCRIPTION
 *	The parser's first result on a seed must match its name: ok-* parses
 *	at least one request, bad-* is an error, more-* is incomplete. Run by
 *	seeds_main.c.
 */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "policyd.h"

int	fuzz_seed_check(const char *name, const char *buf, size_t len);

static pd_request req;

/* fuzz_seed_check - 0 when the parser's verdict is the one the name says */
int
fuzz_seed_check(const char *name, const char *buf, size_t len)
{
	size_t	used, n = len < PD_REQUEST_MAX + 1 ? len : PD_REQUEST_MAX + 1;
	const char *err = "";
	int	rc = pd_proto_parse(buf, n, &req, &used, &err), want;

	want = strncmp(name, "ok-", 3) == 0 ? PD_PARSE_OK
	    : strncmp(name, "bad-", 4) == 0 ? PD_PARSE_ERROR : PD_PARSE_MORE;
	if (rc != want)
		fprintf(stderr, "%s: parser said %d (%s), expected %d\n", name, rc,
			rc == PD_PARSE_ERROR ? err : "", want);
	return rc != want;
}
