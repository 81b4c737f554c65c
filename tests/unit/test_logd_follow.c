/*
 * NAME
 *	test_logd_follow - unit tests of sluice-logd's file follower
 * DESCRIPTION
 *	ld_follow_poll() on a real file in a temp dir: complete lines only
 *	(a partial last line waits), an over-long line passed once with len
 *	LD_LINE_MAX + 1 and its offset still counted, the state file
 *	continuing at the right line after a reopen, a truncation read from
 *	the start, and a file renamed while closed found by its inode.
 */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "logd.h"

typedef struct got {
	int n;
	char line[16][64];
	size_t len[16];
} got;

static char dir[64], path[128], state[128];

/* collect - the follower's callback: remember each line */
static void
collect(const char *line, size_t len, void *arg)
{
	got *g = arg;

	assert_true(g->n < 16);
	snprintf(g->line[g->n], 64, "%.*s", (int)(len < 63 ? len : 63), line);
	g->len[g->n++] = len;
}

/* append - add text to the followed file */
static void
append(const char *p, const char *text)
{
	FILE *fp = fopen(p, "a");

	assert_non_null(fp);
	fputs(text, fp);
	fclose(fp);
}

/* setup - a temp dir with an empty log */
static int
setup(void **st)
{
	(void)st;
	snprintf(dir, sizeof(dir), "/tmp/logd-follow-XXXXXX");
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/maillog", dir);
	snprintf(state, sizeof(state), "%s/state", dir);
	append(path, "");
	return 0;
}

/* teardown - remove the temp dir */
static int
teardown(void **st)
{
	char cmd[128];

	(void)st;
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	return system(cmd);
}

/* open_f - the follower on the test file, with the state file */
static ld_follow *
open_f(void)
{
	char err[256];
	ld_follow *f = ld_follow_open(path, state, err, sizeof(err));

	assert_non_null(f);
	return f;
}

static void
test_lines_and_restart(void **st)
{
	got g = {0};
	char err[256], big[LD_LINE_MAX + 100];
	ld_follow *f;

	(void)st;
	/* no state yet: the first start begins at the end */
	append(path, "old line\n");
	f = open_f();
	assert_int_equal(ld_follow_poll(f, collect, &g), 0);
	append(path, "one\ntwo\npart");
	assert_int_equal(ld_follow_poll(f, collect, &g), 2);
	assert_string_equal(g.line[0], "one");
	assert_string_equal(g.line[1], "two");
	memset(big, 'x', sizeof(big) - 2);
	big[sizeof(big) - 2] = '\n', big[sizeof(big) - 1] = 0;
	append(path, "ial\n");
	append(path, big);
	append(path, "after\n");
	assert_int_equal(ld_follow_poll(f, collect, &g), 3);
	assert_string_equal(g.line[2], "partial");
	assert_int_equal(g.len[3], LD_LINE_MAX + 1);
	assert_string_equal(g.line[4], "after");
	assert_int_equal(ld_follow_save(f, err, sizeof(err)), 0);
	ld_follow_close(f);
	/* a restart continues after "after" */
	append(path, "next\n");
	f = open_f();
	g.n = 0;
	assert_int_equal(ld_follow_poll(f, collect, &g), 1);
	assert_string_equal(g.line[0], "next");
	/* truncated (copytruncate): read from the start */
	assert_int_equal(truncate(path, 0), 0);
	assert_int_equal(ld_follow_poll(f, collect, &g), 0);
	append(path, "fresh\n");
	assert_int_equal(ld_follow_poll(f, collect, &g), 1);
	assert_string_equal(g.line[1], "fresh");
	assert_int_equal(ld_follow_save(f, err, sizeof(err)), 0);
	ld_follow_close(f);
}

static void
test_rotated_while_stopped(void **st)
{
	got g = {0};
	char err[256], old[160];
	ld_follow *f;

	(void)st;
	f = open_f(); /* the state of the previous test */
	assert_int_equal(ld_follow_poll(f, collect, &g), 0);
	assert_int_equal(ld_follow_save(f, err, sizeof(err)), 0);
	ld_follow_close(f);
	append(path, "before rotation\n");
	snprintf(old, sizeof(old), "%s.20261203-120000", path);
	assert_int_equal(rename(path, old), 0);
	append(path, "in the new file\n");
	f = open_f();
	assert_int_equal(ld_follow_poll(f, collect, &g), 1);
	assert_string_equal(g.line[0], "before rotation");
	/* at the old file's end, the new one from its start */
	ld_follow_poll(f, collect, &g);
	assert_int_equal(g.n, 2);
	assert_string_equal(g.line[1], "in the new file");
	ld_follow_close(f);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_lines_and_restart),
	    cmocka_unit_test(test_rotated_while_stopped),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
