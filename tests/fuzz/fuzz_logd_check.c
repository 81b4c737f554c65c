/*
 * NAME
 *	fuzz_logd_check - what a log-line seed's name promises
 * DESCRIPTION
 *	The first line of a seed must parse as its name says: delivery-*,
 *	from-*, expired-*, removed-*, msgid-*, notice-*, skip-*, bad-*.
 *	Run by seeds_main.c.
 */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "logd.h"

int	fuzz_seed_check(const char *name, const char *buf, size_t len);

static ld_line line;

/* fuzz_seed_check - 0 when the parser's verdict is the one the name says */
int
fuzz_seed_check(const char *name, const char *buf, size_t len)
{
	static const struct {
		const char *prefix;
		enum ld_kind kind;
	} want[] = {
		{"delivery-", LD_DELIVERY}, {"from-", LD_QMGR_FROM}, {"expired-", LD_EXPIRED},
		{"removed-", LD_REMOVED}, {"msgid-", LD_MSGID}, {"notice-", LD_NOTICE},
		{"skip-", LD_SKIP}, {"bad-", LD_BAD},
	};
	const char *nl = memchr(buf, '\n', len);
	enum ld_kind got = ld_parse_line(buf, nl ? (size_t) (nl - buf) : len, &line);

	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++)
		if (strncmp(name, want[i].prefix, strlen(want[i].prefix)) == 0) {
			if (got != want[i].kind)
				fprintf(stderr, "%s: parser said %d, expected %d\n", name, got,
					want[i].kind);
			return got != want[i].kind;
		}
	fprintf(stderr, "%s: the name promises nothing\n", name);
	return 1;
}
