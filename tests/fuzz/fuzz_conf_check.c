/*
 * NAME
 *	fuzz_conf_check - what a conf seed's name promises
 * DESCRIPTION
 *	A seed named good-* has no syntax error; bad-N-* has exactly N. Run by
 *	seeds_main.c.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conf_lex.h"
#include "conf_schema.h"

int fuzz_seed_check(const char *name, const char *buf, size_t len);

/* fuzz_seed_check - 0 when the syntax errors counted match the file name */
int
fuzz_seed_check(const char *name, const char *buf, size_t len)
{
	char *text = strndup(buf, len);
	sl_conf_lex *lx = sl_conf_lex_run(name, text, strlen(text), sl_conf_schema(), 1);
	int want = strncmp(name, "good-", 5) == 0  ? 0
	           : strncmp(name, "bad-", 4) == 0 ? atoi(name + 4)
	                                           : lx->errors;
	int bad = lx->errors != want;

	if (bad)
		fprintf(stderr, "%s: %d syntax errors, the name says %d\n", name, lx->errors, want);
	sl_conf_lex_free(lx);
	free(text);
	return bad;
}
