/*
 * NAME
 *	fuzz_milter_main - run the milter fuzz target's seeds as a test
 * SYNOPSIS
 *	test_milter_seeds [seed-file...]
 * DESCRIPTION
 *	Without arguments, reads every file of
 *	$top_srcdir/tests/fuzz/fuzz_milter_seeds and feeds it to
 *	LLVMFuzzerTestOneInput() (a crash or sanitizer report fails). Seeds
 *	named ok-* must have a From address that ml_header_address()
 *	accepts, seeds named bad-* one it refuses: expectations, not only
 *	inputs. Exit 1 on a mismatch, 77 (skip) without seeds.
 */
#include "config.h"

#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "log.h"
#include "milter.h"

int	LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* from_ok - the first From line of a seed parses */
static int
from_ok(const char *buf)
{
	char	line[4096], addr[SL_ADDR_MAX + 1];
	const char *p = buf;

	while (p && *p) {
		size_t	n = strcspn(p, "\n");

		if (n < sizeof(line) && strncasecmp(p, "From:", 5) == 0) {
			snprintf(line, sizeof(line), "%.*s", (int) (n - 5), p + 5);
			return ml_header_address(line + strspn(line, " "), addr, sizeof(addr)) == 0;
		}
		p += n + (p[n] == '\n');
	}
	return 0;
}

/* run_one - one seed; 0 when it meets its name's expectation */
static int
run_one(const char *path)
{
	const char *base = strrchr(path, '/') ? strrchr(path, '/') + 1 : path;
	FILE   *fp = fopen(path, "rb");
	char	buf[65536];
	size_t	n;
	int	ok;

	if (fp == NULL)
		return 1;
	n = fread(buf, 1, sizeof(buf) - 1, fp);
	fclose(fp);
	buf[n] = '\0';
	LLVMFuzzerTestOneInput((const uint8_t *) buf, n);
	ok = from_ok(buf);
	if ((strncmp(base, "ok-", 3) == 0 && !ok) || (strncmp(base, "bad-", 4) == 0 && ok)) {
		fprintf(stderr, "%s: From address %s\n", base, ok ? "accepted" : "refused");
		return 1;
	}
	return 0;
}

int
main(int argc, char **argv)
{
	const char *top = getenv("top_srcdir");
	char	dir[1024], path[2048];
	int	bad = 0, count = 0;
	struct dirent *e;
	DIR    *d;

	sl_log_init("test_milter_seeds", SL_LOG_STDERR, SL_LOG_ERROR);
	for (int i = 1; i < argc; i++, count++)
		bad += run_one(argv[i]);
	if (argc > 1)
		return bad ? 1 : 0;
	snprintf(dir, sizeof(dir), "%s/tests/fuzz/fuzz_milter_seeds", top ? top : "..");
	if ((d = opendir(dir)) == NULL)
		return 77;
	while ((e = readdir(d)) != NULL) {
		if (e->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
		bad += run_one(path);
		count++;
	}
	closedir(d);
	printf("%d seeds, %d failed\n", count, bad);
	return count == 0 ? 77 : bad ? 1 : 0;
}
