/*
 * NAME
 *	fuzz_policyd_proto_main - run the policy parser's fuzz seeds as a test
 * SYNOPSIS
 *	test_policyd_seeds [seed-file...]
 * DESCRIPTION
 *	Without arguments, reads every file of
 *	$top_srcdir/tests/fuzz/fuzz_policyd_seeds. Each goes through
 *	LLVMFuzzerTestOneInput() (a crash or sanitizer report fails), then
 *	through the parser once more, whose first result must match the
 *	file name: ok-* parses at least one request, bad-* is an error,
 *	more-* is incomplete. Exits 1 on a mismatch, 77 (skip) without seeds.
 */
#include "config.h"

#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "policyd.h"

int	LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static pd_request req;

/* slurp - a whole file */
static char *
slurp(const char *path, size_t *len)
{
	FILE   *fp = fopen(path, "rb");
	char   *buf;
	long	n;

	if (fp == NULL || fseek(fp, 0, SEEK_END) != 0 || (n = ftell(fp)) < 0) {
		if (fp)
			fclose(fp);
		return NULL;
	}
	rewind(fp);
	buf = sl_malloc((size_t) n + 1);
	*len = fread(buf, 1, (size_t) n, fp);
	fclose(fp);
	return buf;
}

/* run_one - one seed; 0 when the parser's verdict is the expected one */
static int
run_one(const char *path)
{
	const char *base = strrchr(path, '/') ? strrchr(path, '/') + 1 : path;
	size_t	len = 0, used, n;
	char   *buf = slurp(path, &len);
	const char *err = "";
	int	rc, want;

	if (buf == NULL) {
		fprintf(stderr, "%s: cannot read\n", path);
		return 1;
	}
	LLVMFuzzerTestOneInput((const uint8_t *) buf, len);
	n = len < PD_REQUEST_MAX + 1 ? len : PD_REQUEST_MAX + 1;
	rc = pd_proto_parse(buf, n, &req, &used, &err);
	want = strncmp(base, "ok-", 3) == 0 ? PD_PARSE_OK
	    : strncmp(base, "bad-", 4) == 0 ? PD_PARSE_ERROR : PD_PARSE_MORE;
	free(buf);
	if (rc != want) {
		fprintf(stderr, "%s: parser said %d (%s), expected %d\n", base, rc,
			rc == PD_PARSE_ERROR ? err : "", want);
		return 1;
	}
	printf("ok %s\n", base);
	return 0;
}

int
main(int argc, char **argv)
{
	const char *top = getenv("top_srcdir");
	char	dir[4096], path[8192];
	struct dirent *de;
	int	bad = 0, count = 0;
	DIR    *d;

	if (argc > 1) {
		for (int i = 1; i < argc; i++)
			bad += run_one(argv[i]);
		return bad ? 1 : 0;
	}
	snprintf(dir, sizeof(dir), "%s/tests/fuzz/fuzz_policyd_seeds", top ? top : "..");
	if ((d = opendir(dir)) == NULL) {
		fprintf(stderr, "%s: no seeds\n", dir);
		return 77;
	}
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		bad += run_one(path);
		count++;
	}
	closedir(d);
	printf("%d seeds, %d failed\n", count, bad);
	return bad || count == 0 ? 1 : 0;
}
