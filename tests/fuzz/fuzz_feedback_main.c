/*
 * NAME
 *	fuzz_feedback_main - run the fuzz target's seeds as an ordinary test
 * SYNOPSIS
 *	test_feedback_seeds [seed-file...]
 * DESCRIPTION
 *	Without arguments, reads every file of
 *	$top_srcdir/tests/fuzz/fuzz_feedback_seeds. Each file goes through
 *	LLVMFuzzerTestOneInput() (a crash or sanitizer report fails the
 *	test) and is classified once more: the kind must be the one its
 *	name starts with (bounce-, complaint-, dmarc-, autoreply-,
 *	unsubscribe-, unknown-), so the seeds are real expectations, not
 *	just inputs. Exits 1 on any mismatch, 77 (skip) without seeds.
 */
#include "config.h"

#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "feedback.h"

int	LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

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
	buf[*len] = 0;
	fclose(fp);
	return buf;
}

/* run_one - feed one seed; 0 when its kind is the expected one */
static int
run_one(const char *path)
{
	const char *base = strrchr(path, '/') ? strrchr(path, '/') + 1 : path;
	size_t	len = 0;
	char   *buf = slurp(path, &len);
	fb_result *res;
	const char *kind;
	size_t	klen;
	int	bad;

	if (buf == NULL) {
		fprintf(stderr, "%s: cannot read\n", path);
		return 1;
	}
	LLVMFuzzerTestOneInput((const uint8_t *) buf, len);
	res = fb_classify(buf, len, base);
	kind = fb_kind_name(res->kind);
	klen = strcspn(base, "-");
	if (strcmp(kind, "dmarc-aggregate") == 0)
		kind = "dmarc";
	bad = strlen(kind) != klen || strncmp(kind, base, klen) != 0;
	printf("%s %s: kind %s%s%s\n", bad ? "FAIL" : "ok", base, fb_kind_name(res->kind),
	       res->why[0] ? ", " : "", res->why);
	fb_result_free(res);
	free(buf);
	return bad;
}

int
main(int argc, char **argv)
{
	const char *top = getenv("top_srcdir");
	char	dir[4096], path[8192];
	struct dirent *de;
	DIR    *d;
	int	i, fail = 0, n = 0;

	if (argc > 1) {
		for (i = 1; i < argc; i++)
			fail += run_one(argv[i]);
		return fail ? 1 : 0;
	}
	snprintf(dir, sizeof(dir), "%s/tests/fuzz/fuzz_feedback_seeds", top ? top : "..");
	if ((d = opendir(dir)) == NULL) {
		fprintf(stderr, "%s: no seeds\n", dir);
		return 77;
	}
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		fail += run_one(path);
		n++;
	}
	closedir(d);
	printf("%d seeds, %d failed\n", n, fail);
	return fail || n == 0 ? 1 : 0;
}
