/*
 * NAME
 *	fuzz_token_check - what a token seed's name promises
 * DESCRIPTION
 *	<verdict>-<parser>-<anything>: verdict ok or bad; parser local
 *	(sl_token_parse_local), url (sl_token_parse_url) or ring
 *	(sl_token_ring_parse), with the ring of fuzz_token.c. A trailing
 *	newline of a local or url seed is not part of the token. Run by
 *	seeds_main.c.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "token.h"

int fuzz_seed_check(const char *name, const char *buf, size_t len);
void fuzz_token_ring(sl_token_ring *ring);

/* verdict - the parser the name names on buf: 1 accepted, 0 refused, -1 unknown name */
static int
verdict(const char *parser, const char *buf, size_t len, char *err, size_t errlen)
{
	sl_token_ring ring, parsed;
	sl_token t;
	char *s = strndup(buf, len);
	int rc = -1;

	fuzz_token_ring(&ring);
	s[strcspn(s, "\n")] = '\0';
	if (strncmp(parser, "local-", 6) == 0)
		rc = sl_token_parse_local(s, &ring, &t, err, errlen) == SL_TOKEN_OK;
	else if (strncmp(parser, "url-", 4) == 0)
		rc = sl_token_parse_url(s, &ring, &t, err, errlen) == SL_TOKEN_OK;
	else if (strncmp(parser, "ring-", 5) == 0)
		rc = sl_token_ring_parse(buf, len, &parsed, err, errlen) == 0;
	free(s);
	return rc;
}

/* fuzz_seed_check - 0 when the parser's verdict is the one the name says */
int
fuzz_seed_check(const char *name, const char *buf, size_t len)
{
	char err[200] = "";
	int ok = strncmp(name, "ok-", 3) == 0;
	const char *parser = name + (ok ? 3 : strncmp(name, "bad-", 4) == 0 ? 4 : 0);
	int got = parser == name ? -1 : verdict(parser, buf, len, err, sizeof(err));

	if (got == ok)
		return 0;
	fprintf(stderr, "%s: %s (%s)\n", name,
	        got < 0 ? "name says nothing"
	        : got   ? "accepted"
	                : "refused",
	        err);
	return 1;
}
