/*
 * NAME
 *	fuzz_milter_check - what a milter header seed's name promises
 * DESCRIPTION
 *	Seeds named ok-* must have a From address that ml_from_parse()
 *	accepts, seeds named bad-* one it refuses (no address, several, or
 *	ambiguous). Run by seeds_main.c.
 */
#include "config.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "log.h"
#include "milter.h"

int	fuzz_seed_check(const char *name, const char *buf, size_t len);

/* from_ok - the first From line of a seed parses */
static int
from_ok(const char *buf)
{
	char	line[4096];
	ml_from f;
	const char *p = buf;

	while (p && *p) {
		size_t	n = strcspn(p, "\n");

		if (n < sizeof(line) && strncasecmp(p, "From:", 5) == 0) {
			snprintf(line, sizeof(line), "%.*s", (int) (n - 5), p + 5);
			return ml_from_parse(line + strspn(line, " "), &f) == ML_FROM_OK;
		}
		p += n + (p[n] == '\n');
	}
	return 0;
}

/* fuzz_seed_check - 0 when the From verdict is the one the name says */
int
fuzz_seed_check(const char *name, const char *buf, size_t len)
{
	int	ok = from_ok(buf);

	(void) len;
	if ((strncmp(name, "ok-", 3) == 0 && !ok) || (strncmp(name, "bad-", 4) == 0 && ok)) {
		fprintf(stderr, "%s: From address %s\n", name, ok ? "accepted" : "refused");
		return 1;
	}
	return 0;
}
