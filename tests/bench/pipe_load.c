/*
 * NAME
 *	pipe_load 1 - run a command once per message as Postfix's pipe(8) does,
 *	and report files/s and the commands' CPU time per message
 * SYNOPSIS
 *	pipe_load [-c concurrency] -f jobs [-e errlog] -- command [arg...]
 * DESCRIPTION
 *	jobs has one line per message: the path of the message file, then
 *	optionally tab-separated arguments appended to the command for that
 *	message (sluice-feedback's recipient, the token address). For each
 *	line, pipe_load forks and executes the command with the file on
 *	standard input and standard output on /dev/null (standard error to
 *	errlog, default /dev/null), keeping up to -c commands running at once
 *	(default 1), as pipe(8) processes up to a transport's maxproc do. It is
 *	a small C process so that what is counted is the command: the rusage
 *	of each child (wait4) after its exec, not an interpreter's fork.
 *
 *	Prints one line: files, seconds (wall, first fork to last exit),
 *	files_per_s, cpu_us_per_file (utime + stime of the commands, from
 *	wait4), user_us_per_file, sys_us_per_file, maxrss_kib (largest of the
 *	commands) and failed (commands that did not exit 0).
 * EXIT STATUS
 *	0 every command exited 0, 1 some failed, 2 usage or system error.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MAX_ARGS 64

typedef struct totals {
	double user, sys;
	long maxrss, failed, done;
} totals;

/* now - monotonic seconds */
static double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* start_one - fork the command for one jobs line (path\targ...); pid or -1 */
static pid_t
start_one(char **cmd, int ncmd, char *line, int errfd)
{
	char *argv[MAX_ARGS + 1], *path, *save = NULL, *a;
	int n = 0, fd;
	pid_t pid;

	for (; n < ncmd && n < MAX_ARGS; n++)
		argv[n] = cmd[n];
	path = strtok_r(line, "\t", &save);
	while ((a = strtok_r(NULL, "\t", &save)) != NULL && n < MAX_ARGS)
		argv[n++] = a;
	argv[n] = NULL;
	if ((pid = fork()) != 0)
		return pid;
	if ((fd = open(path, O_RDONLY)) < 0 || dup2(fd, 0) < 0)
		_exit(71);
	close(fd);
	if ((fd = open("/dev/null", O_WRONLY)) < 0 || dup2(fd, 1) < 0 || dup2(errfd, 2) < 0)
		_exit(71);
	execv(argv[0], argv);
	_exit(127);
}

/* reap_one - wait for one command and add its rusage; 0, or -1 on error */
static int
reap_one(totals *t)
{
	struct rusage ru;
	int st;

	if (wait4(-1, &st, 0, &ru) < 0)
		return -1;
	t->user += ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6;
	t->sys += ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6;
	if (ru.ru_maxrss > t->maxrss)
		t->maxrss = ru.ru_maxrss;
	if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
		t->failed++;
	t->done++;
	return 0;
}

/* read_jobs - the lines of the jobs file, newline stripped; count in *n */
static char **
read_jobs(const char *path, long *n)
{
	FILE *f = fopen(path, "r");
	char **lines = NULL, buf[8192];
	long cap = 0;

	*n = 0;
	if (f == NULL)
		return NULL;
	while (fgets(buf, sizeof(buf), f) != NULL) {
		buf[strcspn(buf, "\n")] = 0;
		if (buf[0] == 0)
			continue;
		if (*n == cap) {
			cap = cap ? cap * 2 : 256;
			if ((lines = realloc(lines, cap * sizeof(*lines))) == NULL)
				exit(2);
		}
		if ((lines[(*n)++] = strdup(buf)) == NULL)
			exit(2);
	}
	fclose(f);
	return lines;
}

int
main(int argc, char **argv)
{
	const char *jobs_path = NULL, *errlog = "/dev/null";
	long njobs, next = 0, running = 0, i;
	int conc = 1, opt, errfd;
	totals t = {0};
	char **jobs;
	double t0, wall;

	while ((opt = getopt(argc, argv, "c:f:e:")) != -1) {
		if (opt == 'c')
			conc = atoi(optarg);
		else if (opt == 'f')
			jobs_path = optarg;
		else if (opt == 'e')
			errlog = optarg;
		else
			return 2;
	}
	if (jobs_path == NULL || optind >= argc || conc < 1 || argc - optind > MAX_ARGS / 2) {
		fprintf(stderr,
		        "usage: pipe_load [-c conc] -f jobs [-e errlog] -- command [arg...]\n");
		return 2;
	}
	if ((jobs = read_jobs(jobs_path, &njobs)) == NULL || njobs == 0) {
		fprintf(stderr, "pipe_load: no jobs in %s\n", jobs_path);
		return 2;
	}
	if ((errfd = open(errlog, O_WRONLY | O_CREAT | O_APPEND, 0600)) < 0) {
		perror(errlog);
		return 2;
	}
	t0 = now();
	while (t.done < njobs) {
		while (running < conc && next < njobs) {
			if (start_one(argv + optind, argc - optind, jobs[next++], errfd) < 0) {
				perror("fork");
				return 2;
			}
			running++;
		}
		if (reap_one(&t) < 0) {
			perror("wait4");
			return 2;
		}
		running--;
	}
	wall = now() - t0;
	printf("files=%ld seconds=%.4f files_per_s=%.1f cpu_us_per_file=%.1f user_us_per_file=%.1f "
	       "sys_us_per_file=%.1f maxrss_kib=%ld failed=%ld\n",
	       njobs, wall, njobs / wall, (t.user + t.sys) * 1e6 / njobs, t.user * 1e6 / njobs,
	       t.sys * 1e6 / njobs, t.maxrss, t.failed);
	for (i = 0; i < njobs; i++)
		free(jobs[i]);
	free(jobs);
	return t.failed ? 1 : 0;
}
