/*
 * NAME
 *	fuzz_feedback_check - what a feedback seed's name promises
 * DESCRIPTION
 *	The kind sluice-feedback gives a seed must be the one its name starts
 *	with (bounce-, complaint-, dmarc-, autoreply-, unsubscribe-,
 *	unknown-). Run by seeds_main.c.
 */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "feedback.h"

int	fuzz_seed_check(const char *name, const char *buf, size_t len);

/* fuzz_seed_check - 0 when the classified kind matches the file name */
int
fuzz_seed_check(const char *name, const char *buf, size_t len)
{
	fb_result *res = fb_classify(buf, len, name);
	const char *kind = fb_kind_name(res->kind);
	size_t	klen = strcspn(name, "-");
	int	bad;

	if (strcmp(kind, "dmarc-aggregate") == 0)
		kind = "dmarc";
	bad = strlen(kind) != klen || strncmp(kind, name, klen) != 0;
	if (bad)
		fprintf(stderr, "%s: kind %s%s%s\n", name, fb_kind_name(res->kind),
			res->why[0] ? ", " : "", res->why);
	fb_result_free(res);
	return bad;
}
