/*
 * NAME
 *	logd_alert 3 - run the operator's command on a block's start and end
 * SYNOPSIS
 *	a = ld_alert_new(command, timeout)	command "" : none
 *	ld_alert_block(a, change, info)		start it, never wait for it
 *	ld_alert_reap(a)			collect or kill the finished ones
 * DESCRIPTION
 *	The command is run without a shell: argv is command, "start" or
 *	"end", provider, sending domain, class; the reply text (written by
 *	a remote server) is only in the environment, SLUICE_BLOCK_REPLY,
 *	with SLUICE_BLOCK_COUNT, SLUICE_BLOCK_SINCE and SLUICE_BLOCK_WHY.
 *	Its standard input is /dev/null. At most LD_ALERT_MAX run at once
 *	(one more is skipped, with a warning); one still running after
 *	timeout seconds is killed. Log processing never waits on it.
 */
#define _GNU_SOURCE 1
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "logd.h"

#define LD_ALERT_MAX 8

struct ld_alert {
	char *command;
	long timeout;
	pid_t pid[LD_ALERT_MAX];
	time_t started[LD_ALERT_MAX];
};

/* ld_alert_new - NULL when there is no command */
ld_alert *
ld_alert_new(const char *command, long timeout)
{
	ld_alert *a;

	if (command == NULL || *command == 0)
		return NULL;
	a = sl_calloc(1, sizeof(*a));
	a->command = sl_strdup(command);
	a->timeout = timeout;
	return a;
}

/* child - in the child: the environment, then exec */
static void
child(const ld_alert *a, const char *what, const ld_block_info *b)
{
	char n[32], since[32];
	int fd = open("/dev/null", O_RDONLY);

	if (fd >= 0)
		dup2(fd, 0);
	snprintf(n, sizeof(n), "%d", b->count);
	snprintf(since, sizeof(since), "%lld", (long long)b->since);
	setenv("SLUICE_BLOCK_REPLY", b->reply, 1);
	setenv("SLUICE_BLOCK_COUNT", n, 1);
	setenv("SLUICE_BLOCK_SINCE", since, 1);
	setenv("SLUICE_BLOCK_WHY", b->why ? b->why : "", 1);
	execl(a->command, a->command, what, b->provider, b->source, b->class_, (char *)NULL);
	_exit(127);
}

/* ld_alert_block - start the command for a block's start or end */
void
ld_alert_block(ld_alert *a, enum ld_block_change change, const ld_block_info *b)
{
	int slot = -1;
	pid_t pid;

	if (a == NULL || (change != LD_BLOCK_START && change != LD_BLOCK_END))
		return;
	ld_alert_reap(a);
	for (int i = 0; i < LD_ALERT_MAX && slot < 0; i++)
		if (a->pid[i] == 0)
			slot = i;
	if (slot < 0) {
		sl_warn("block_command: %d still running; not run for %s %s", LD_ALERT_MAX,
		        b->provider, b->source);
		return;
	}
	if ((pid = fork()) < 0) {
		sl_warn("block_command: fork: %s", strerror(errno));
		return;
	}
	if (pid == 0)
		child(a, change == LD_BLOCK_START ? "start" : "end", b);
	a->pid[slot] = pid, a->started[slot] = time(NULL);
}

/* ld_alert_reap - collect finished commands; kill those past the timeout */
void
ld_alert_reap(ld_alert *a)
{
	int status;

	for (int i = 0; a && i < LD_ALERT_MAX; i++) {
		if (a->pid[i] == 0)
			continue;
		if (waitpid(a->pid[i], &status, WNOHANG) == a->pid[i]) {
			if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
				sl_warn("block_command %s: exit status %d", a->command,
				        WIFEXITED(status) ? WEXITSTATUS(status)
				                          : 128 + WTERMSIG(status));
			a->pid[i] = 0;
		} else if (time(NULL) - a->started[i] > a->timeout) {
			sl_warn("block_command %s: killed after %ld s", a->command, a->timeout);
			kill(a->pid[i], SIGKILL);
		}
	}
}

/* ld_alert_free - NULL is a no-op; running commands are left to finish */
void
ld_alert_free(ld_alert *a)
{
	if (a == NULL)
		return;
	free(a->command);
	free(a);
}
