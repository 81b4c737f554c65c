/*
 * NAME
 *	fuzz_milter_verify_check - what an inbound verification seed's name promises
 * DESCRIPTION
 *	Seeds named accept-*, quarantine-*, reject-* or tempfail-* must end
 *	with that disposition. Run by seeds_main.c.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "milter_verify.h"

int	fuzz_seed_check(const char *name, const char *buf, size_t len);
int	fuzz_verify_run(const char *buf, size_t len, ml_vresult *r);

/* fuzz_seed_check - 0 when the disposition is the one the name says */
int
fuzz_seed_check(const char *name, const char *buf, size_t len)
{
	ml_vresult *r = malloc(sizeof(*r));
	const char *got;
	int	rc = 0;

	if (r == NULL || fuzz_verify_run(buf, len, r) < 0) {
		fprintf(stderr, "%s: could not run\n", name);
		free(r);
		return 1;
	}
	got = ml_disposition_name(r->disp);
	if (strncmp(name, got, strlen(got)) != 0 || name[strlen(got)] != '-') {
		fprintf(stderr, "%s: disposition %s\n%s\n", name, got, r->authres);
		rc = 1;
	}
	free(r);
	return rc;
}
