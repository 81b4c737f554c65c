/*
 * NAME
 *	seeds_main - run a fuzz target's seed files as an ordinary test
 * SYNOPSIS
 *	test_<target>_seeds [seed-file...]
 * DESCRIPTION
 *	Shared by every fuzz target. Without arguments, reads each file of
 *	$top_srcdir/tests/fuzz/<SEED_DIR> (SEED_DIR is set by the build).
 *	Each file goes through LLVMFuzzerTestOneInput() (a crash or a
 *	sanitizer report fails the test), then through the target's own
 *	fuzz_seed_check(), which compares the parser's verdict with what the
 *	file's name promises, so the seeds are expectations, not just inputs.
 *	A seed named crash-* (an input tests/fuzz/run-fuzz.sh found crashing)
 *	promises only that it no longer crashes: rename it to a verdict once
 *	the fix is in, if the target has one.
 *	Exits 1 on any mismatch or when there are no seeds.
 */
#include "config.h"

#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"

#ifndef SEED_DIR
#error "SEED_DIR must name the seed folder under tests/fuzz"
#endif

int	LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int	fuzz_seed_check(const char *name, const char *buf, size_t len);

/* slurp - a whole file, NUL-terminated; NULL when unreadable */
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
	buf[*len] = 0;
	fclose(fp);
	return buf;
}

/* run_one - one seed through the target and its check; 0 when it holds */
static int
run_one(const char *path)
{
	const char *base = strrchr(path, '/') ? strrchr(path, '/') + 1 : path;
	size_t	len = 0;
	char   *buf = slurp(path, &len);
	int	bad;

	if (buf == NULL) {
		fprintf(stderr, "%s: cannot read\n", path);
		return 1;
	}
	LLVMFuzzerTestOneInput((const uint8_t *) buf, len);
	/* crash-*: a regression seed from run-fuzz.sh, promising only not to crash */
	bad = strncmp(base, "crash-", 6) != 0 && fuzz_seed_check(base, buf, len) != 0;
	printf("%s %s\n", bad ? "FAIL" : "ok", base);
	free(buf);
	return bad;
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
	snprintf(dir, sizeof(dir), "%s/tests/fuzz/%s", top ? top : "..", SEED_DIR);
	if ((d = opendir(dir)) == NULL) {
		fprintf(stderr, "%s: no seeds\n", dir);
		return 1;
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
