/*
 * NAME
 *	test_service - pidfiles of lib/service.c: written, refused while the
 *	process named runs, replaced when stale, removed only when ours
 */
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>

#include "service.h"

static char dir[] = "/tmp/test_service.XXXXXX";
static char path[64];

/* put - write text into the pidfile by hand */
static void
put(const char *text)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

/* pid_in_file - the number the pidfile holds, or -1 when there is none */
static long
pid_in_file(void)
{
	FILE *f = fopen(path, "r");
	long pid = -1;

	if (f == NULL)
		return -1;
	if (fscanf(f, "%ld", &pid) != 1)
		pid = -1;
	fclose(f);
	return pid;
}

/* test_write_and_remove - our pid, mode 644, gone after remove */
static void
test_write_and_remove(void **state)
{
	char err[256];
	struct stat st;

	(void)state;
	unlink(path);
	assert_int_equal(sl_pidfile_write(path, err, sizeof(err)), 0);
	assert_int_equal(pid_in_file(), (long)getpid());
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0644);
	sl_pidfile_remove(path);
	assert_int_equal(access(path, F_OK), -1);
}

/* test_live_refused - a pidfile naming a running process is a second instance */
static void
test_live_refused(void **state)
{
	char err[256], text[32];
	pid_t child = fork();

	(void)state;
	if (child == 0) {
		pause();
		_exit(0);
	}
	snprintf(text, sizeof(text), "%ld\n", (long)child);
	put(text);
	assert_int_equal(sl_pidfile_write(path, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "running already"));
	sl_pidfile_remove(path); /* not ours: kept */
	assert_int_equal(pid_in_file(), (long)child);
	kill(child, SIGKILL);
	waitpid(child, NULL, 0);
	/* now stale: replaced */
	assert_int_equal(sl_pidfile_write(path, err, sizeof(err)), 0);
	assert_int_equal(pid_in_file(), (long)getpid());
	unlink(path);
}

/* test_garbage_replaced - a file without a pid is not an instance */
static void
test_garbage_replaced(void **state)
{
	char err[256];

	(void)state;
	put("not a pid\n");
	assert_int_equal(sl_pidfile_write(path, err, sizeof(err)), 0);
	assert_int_equal(pid_in_file(), (long)getpid());
	unlink(path);
}

/* test_relative_and_unwritable - clear errors, nothing written */
static void
test_relative_and_unwritable(void **state)
{
	char err[256];

	(void)state;
	assert_int_equal(sl_pidfile_write("sluice.pid", err, sizeof(err)), -1);
	assert_non_null(strstr(err, "absolute"));
	assert_int_equal(sl_pidfile_write("/nonexistent-dir/x.pid", err, sizeof(err)), -1);
	assert_non_null(strstr(err, "/nonexistent-dir/x.pid"));
}

/* test_symlink_refused - a symlink at the pidfile's name is not followed */
static void
test_symlink_refused(void **state)
{
	char err[256], target[80];

	(void)state;
	snprintf(target, sizeof(target), "%s/target", dir);
	unlink(path);
	assert_int_equal(symlink(target, path), 0);
	assert_int_equal(sl_pidfile_write(path, err, sizeof(err)), -1);
	assert_int_equal(access(target, F_OK), -1);
	unlink(path);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_write_and_remove), cmocka_unit_test(test_live_refused),
	    cmocka_unit_test(test_garbage_replaced), cmocka_unit_test(test_relative_and_unwritable),
	    cmocka_unit_test(test_symlink_refused),
	};
	int rc;

	if (mkdtemp(dir) == NULL)
		return 1;
	snprintf(path, sizeof(path), "%s/test.pid", dir);
	rc = cmocka_run_group_tests(tests, NULL, NULL);
	rmdir(dir);
	return rc;
}
