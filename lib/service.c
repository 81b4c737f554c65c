/*
 * NAME
 *	service 3 - pidfiles for non-systemd systems, readiness for systemd
 * DESCRIPTION
 *	A pidfile is written after the daemon has detached (so it names the
 *	process that serves) and before the privilege drop. An existing file
 *	is replaced unless it names a process that is alive (kill(pid, 0)),
 *	which is then a second instance and refused.
 *
 *	sl_notify() wraps sd_notify(3) when configure found libsystemd
 *	(--with-systemd); Type=notify units need it, everything else works
 *	without.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#ifdef HAVE_LIBSYSTEMD
#include <systemd/sd-daemon.h>
#endif

#include "service.h"

/* pid_alive - the pid in an existing pidfile, when that process runs */
static long
pid_alive(const char *path)
{
	char buf[32];
	ssize_t n;
	long pid;
	int fd;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return 0;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return 0;
	buf[n] = '\0';
	pid = strtol(buf, NULL, 10);
	if (pid <= 1 || pid == (long)getpid())
		return 0;
	return kill((pid_t)pid, 0) == 0 || errno == EPERM ? pid : 0;
}

/* sl_pidfile_write - record our pid in path; refuse a live one */
int
sl_pidfile_write(const char *path, char *err, size_t errlen)
{
	char buf[32];
	long other;
	int fd, len;

	if (path[0] != '/') {
		snprintf(err, errlen, "pidfile %s: give an absolute path (the daemon changes to /)",
		         path);
		return -1;
	}
	if ((other = pid_alive(path)) != 0) {
		snprintf(err, errlen, "%s: process %ld is running already", path, other);
		return -1;
	}
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0644);
	if (fd < 0) {
		snprintf(err, errlen, "pidfile %s: %s", path, strerror(errno));
		return -1;
	}
	len = snprintf(buf, sizeof(buf), "%ld\n", (long)getpid());
	if (write(fd, buf, (size_t)len) != len || close(fd) < 0) {
		snprintf(err, errlen, "pidfile %s: %s", path, strerror(errno));
		return -1;
	}
	return 0;
}

/* sl_pidfile_remove - remove our pidfile at exit, if it is still ours */
void
sl_pidfile_remove(const char *path)
{
	if (path && *path && pid_alive(path) == 0)
		(void)unlink(path);
}

/* sl_notify - one state line to systemd's notification socket */
void
sl_notify(const char *state)
{
#ifdef HAVE_LIBSYSTEMD
	(void)sd_notify(0, state);
#else
	(void)state;
#endif
}
