/*
 * NAME
 *	milter_from_probe - ml_from_parse() on From values from stdin
 * SYNOPSIS
 *	milter_from_probe < values
 * DESCRIPTION
 *	Each input line is one From value, hex-encoded (so any byte can be
 *	given). Each output line is "OK <address>", "NONE" or "AMBIGUOUS
 *	<why>". Used by tests/integration/test_milter_from.py to compare
 *	the milter's reading with Python's email package.
 */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "log.h"
#include "milter.h"

/* unhex - decode a hex line in place; -1 when it is not hex */
static int
unhex(char *s)
{
	size_t n = strcspn(s, "\r\n"), o = 0;
	unsigned v;

	if (n % 2)
		return -1;
	for (size_t i = 0; i < n; i += 2) {
		if (sscanf(s + i, "%2x", &v) != 1)
			return -1;
		s[o++] = (char)v;
	}
	s[o] = '\0';
	return 0;
}

int
main(void)
{
	static char line[65536];
	ml_from f;

	while (fgets(line, sizeof(line), stdin)) {
		if (unhex(line) < 0) {
			puts("BADHEX");
			continue;
		}
		switch (ml_from_parse(line, &f)) {
		case ML_FROM_OK:
			printf("OK %s\n", f.addr);
			break;
		case ML_FROM_NONE:
			puts("NONE");
			break;
		default:
			printf("AMBIGUOUS %s\n", f.why);
		}
		fflush(stdout);
	}
	return 0;
}
