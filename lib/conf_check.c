/*
 * NAME
 *	conf_check 3 - the one complete check of sluice.conf
 * SYNOPSIS
 *	exit(sl_conf_check_main(path, "milter", own_check, flags));
 * DESCRIPTION
 *	Behind sluicectl check and every daemon's -n, so that each of them
 *	says the same about the same file, all at once, each error as
 *	file:line:
 *	- the syntax pass and the shared checks (conf.c, conf_lex.c);
 *	- the runtime preconditions: the service user ("user") exists; every
 *	  key and secret file, and the file itself (SIGHUP reads it again), is
 *	  readable by that user after the privilege drop (owner, group list
 *	  and mode bits of the file and the search bit of each parent
 *	  directory; POSIX ACLs are not read); each unix socket's directory
 *	  exists and is not writable by others (a warning when the service
 *	  user could not create the socket there: fine only while the daemon
 *	  is started as root, not under systemd's User=); Redis
 *	  answers PING (skipped with SL_CHECK_NO_CONNECT; an error with
 *	  SL_CHECK_REDIS_FATAL, else a warning since the daemons start without
 *	  Redis and retry);
 *	- each program's own section: the caller's in this process, the other
 *	  programs' by running them ("-n" with SLUICE_CHECK_SECTION=1 in the
 *	  environment, which makes sl_conf_check_main() run only their own
 *	  checks, the shared errors counted but not logged again). A program
 *	  is asked when its section ("milter { }" ...) is written in the
 *	  file, or it is the caller; it is looked for next to the running binary, in the build
 *	  tree's sibling directory, then in the configured sbindir and bindir.
 *	Returns 0 (EX_OK) or 78 (EX_CONFIG).
 */
#include "config.h"

#include <errno.h>
#include <grp.h>
#include <libgen.h>
#include <limits.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <sysexits.h>
#include <unistd.h>

#include "conf_check.h"
#include "conf_include.h"
#include "log.h"
#include "redis.h"
#include "site.h"

#ifndef SL_SBINDIR
#define SL_SBINDIR "/usr/sbin"
#endif
#ifndef SL_BINDIR
#define SL_BINDIR "/usr/bin"
#endif

typedef struct check_user {
	const char *name; /* "" when no privilege drop */
	uid_t uid;
	gid_t groups[256];
	int ngroups;
} check_user;

/* each program whose section can be in the file */
static const struct {
	const char *section, *part, *binary;
} check_programs[] = {
	{"milter", "milter", "sluice-milter"},
	{"policyd", "policyd", "sluice-policyd"},
	{"feedback", "feedback", "sluice-feedback"},
};

/* user_may - may the user read (or search, write) this inode? */
static int
user_may(const check_user *u, const struct stat *st, mode_t usr, mode_t grp, mode_t oth)
{
	if (u->uid == 0)
		return !(usr & S_IXUSR) || S_ISDIR(st->st_mode) || (st->st_mode & 0111);
	if (st->st_uid == u->uid)
		return (st->st_mode & usr) == usr;
	for (int i = 0; i < u->ngroups; i++)
		if (u->groups[i] == st->st_gid)
			return (st->st_mode & grp) == grp;
	return (st->st_mode & oth) == oth;
}

/* parents_ok - every directory above path searchable by the user; -1 sets why */
static int
parents_ok(const check_user *u, const char *path, char *why, size_t size)
{
	char dir[PATH_MAX];
	struct stat st;

	snprintf(dir, sizeof(dir), "%s", path);
	for (char *p = dir + 1; (p = strchr(p, '/')) != NULL; p++) {
		*p = '\0';
		if (stat(dir, &st) == 0 && !user_may(u, &st, S_IXUSR, S_IXGRP, S_IXOTH)) {
			snprintf(why, size, "directory %s (owner %ld, mode %04o) is not searchable",
			         dir, (long)st.st_uid, (unsigned)(st.st_mode & 07777));
			return -1;
		}
		*p = '/';
	}
	return 0;
}

/* unreadable - 1 and the message when the user could not read path (again) after the drop */
static int
unreadable(const char *opt, const char *path, const check_user *u, char *msg, size_t size)
{
	char why[PATH_MAX + 100];
	struct stat st;

	if (path == NULL || *path == '\0' || stat(path, &st) < 0)
		return 0; /* the shared checks said so already */
	if (parents_ok(u, path, why, sizeof(why)) < 0 ||
	    (!user_may(u, &st, S_IRUSR, S_IRGRP, S_IROTH) &&
	     snprintf(why, sizeof(why), "owner %ld, mode %04o", (long)st.st_uid,
	              (unsigned)(st.st_mode & 07777)) > 0)) {
		snprintf(msg, size,
		         "%s %s: not readable by user \"%s\" (%s): a reload "
		         "after the privilege drop would fail; chown %s it",
		         opt, path, *u->name ? u->name : "root", why, *u->name ? u->name : "root");
		return 1;
	}
	return 0;
}

/* check_readable - a file the daemon reads again after dropping privileges */
static void
check_readable(sl_conf *c, cfg_t *sec, const char *opt, const char *path, const check_user *u)
{
	char msg[2 * PATH_MAX + 300];

	if (unreadable(opt, path, u, msg, sizeof(msg)))
		sl_conf_error(c, sec, "%s", msg);
}

/* check_files - keys, secrets and the file itself, as the service user */
static void
check_files(sl_conf *c, const check_user *u)
{
	cfg_t *cfg = c->cfg;
	char abs[PATH_MAX], msg[2 * PATH_MAX + 300];

	check_readable(c, cfg, "secret_file", cfg_getstr(cfg, "secret_file"), u);
	check_readable(c, cfg_getsec(cfg, "redis"), "password_file",
	               cfg_getstr(cfg_getsec(cfg, "redis"), "password_file"), u);
	for (size_t i = 0; i < c->site->ndomains; i++) {
		const struct sl_site_domain *d = &c->site->domains[i];

		for (size_t k = 0; k < d->nkeys; k++)
			if (unreadable("key", d->keys[k].path, u, msg, sizeof(msg)))
				sl_site_key_error(c, d, k, "%s", msg);
	}
	if (realpath(c->path, abs) != NULL)
		check_readable(c, NULL, "the configuration file", abs, u);
	for (size_t i = 1; sl_conf_src_file(c->src, i); i++)
		if (realpath(sl_conf_src_file(c->src, i), abs) != NULL)
			check_readable(c, NULL, "an included file", abs, u);
}

/* socket_dir - a unix socket's directory: there, usable, not open to others */
static void
socket_dir(sl_conf *c, cfg_t *sec, const char *opt, const char *spec, const check_user *u)
{
	char path[PATH_MAX], why[PATH_MAX + 100], where[PATH_MAX + 20];
	const char *dir;
	struct stat st;

	if (strncmp(spec, "unix:", 5) == 0 || strncmp(spec, "local:", 6) == 0)
		spec = strchr(spec, ':') + 1;
	else if (spec[0] != '/')
		return;
	snprintf(path, sizeof(path), "%s", spec);
	dir = dirname(path);
	if (stat(dir, &st) < 0 || !S_ISDIR(st.st_mode))
		sl_conf_error(c, sec, "%s %s: directory %s %s", opt, spec, dir,
		              errno == ENOENT ? "does not exist" : "is not a directory");
	else if (parents_ok(u, dir, why, sizeof(why)) < 0)
		sl_conf_error(c, sec, "%s %s: %s for user \"%s\"", opt, spec, why,
		              *u->name ? u->name : "root");
	else if (!user_may(u, &st, S_IWUSR | S_IXUSR, S_IWGRP | S_IXGRP, S_IWOTH | S_IXOTH))
		sl_warn("%s: %s %s: user \"%s\" cannot create the socket in %s (owner %ld, "
		        "mode %04o): works only while the daemon is started as root",
		        sl_conf_place(c, sl_conf_opt_line(c, sec, opt), where, sizeof(where)), opt, spec,
		        *u->name ? u->name : "root", dir, (long)st.st_uid,
		        (unsigned)(st.st_mode & 07777));
	else if ((st.st_mode & S_IWOTH) && !(st.st_mode & S_ISVTX))
		sl_conf_error(c, sec,
		              "%s %s: directory %s is writable by others (mode %04o): "
		              "anyone could replace the socket",
		              opt, spec, dir, (unsigned)(st.st_mode & 07777));
}

/* check_sockets - the milter's and policyd's unix sockets */
static void
check_sockets(sl_conf *c, const check_user *u)
{
	cfg_t *m = cfg_getsec(c->cfg, "milter"), *p = cfg_getsec(c->cfg, "policyd");

	if (sl_conf_present(c, "milter"))
		socket_dir(c, m, "socket", cfg_getstr(m, "socket"), u);
	if (!sl_conf_present(c, "policyd"))
		return;
	if (*cfg_getstr(p, "socket"))
		socket_dir(c, p, "socket", cfg_getstr(p, "socket"), u);
	for (unsigned i = 0; i < cfg_size(p, "listen"); i++)
		socket_dir(c, p, "listen", cfg_getnstr(p, "listen", i), u);
}

/* check_redis - does Redis answer PING with these settings? */
static void
check_redis(sl_conf *c, int flags)
{
	cfg_t *r = cfg_getsec(c->cfg, "redis");
	sl_redis_opts o;
	sl_redis *rd;
	sl_reply *rep = NULL;

	sl_conf_redis_opts(c, &o);
	rd = sl_redis_new(&o);
	if (sl_redis_cmd(rd, &rep, "PING") == 0 && rep && rep->type == SL_REPLY_STATUS) {
		sl_reply_free(rep);
		sl_redis_free(rd);
		return;
	}
	if (flags & SL_CHECK_REDIS_FATAL)
		sl_conf_error(c, r, "redis: no answer to PING at %s: %s",
		              o.unix_path ? o.unix_path : o.host, sl_redis_errstr(rd));
	else
		sl_warn("%s: redis: no answer to PING at %s: %s (the daemons start and retry)",
		        c->path, o.unix_path ? o.unix_path : o.host, sl_redis_errstr(rd));
	sl_reply_free(rep);
	sl_redis_free(rd);
}

/* sl_conf_check_runtime - what must hold on this machine for the file to work */
int
sl_conf_check_runtime(sl_conf *c, int flags)
{
	const char *name = cfg_getstr(c->cfg, "user");
	check_user u = {.name = name, .uid = geteuid(), .ngroups = 0};
	struct passwd *pw;
	int before = c->errors;

	if (*name && (pw = getpwnam(name)) == NULL) {
		sl_conf_error(c, c->cfg, "user \"%s\": no such user on this system", name);
		return -1;
	}
	if (*name) {
		u.uid = pw->pw_uid;
		u.ngroups = (int)(sizeof(u.groups) / sizeof(u.groups[0]));
		if (getgrouplist(pw->pw_name, pw->pw_gid, u.groups, &u.ngroups) < 0)
			u.ngroups = (int)(sizeof(u.groups) / sizeof(u.groups[0]));
	} else {
		u.ngroups = getgroups((int)(sizeof(u.groups) / sizeof(u.groups[0])), u.groups);
		if (u.ngroups < 0)
			u.ngroups = 0;
	}
	check_files(c, &u);
	check_sockets(c, &u);
	if (!(flags & SL_CHECK_NO_CONNECT))
		check_redis(c, flags);
	return c->errors > before ? -1 : 0;
}

/* find_program - a sibling program's path, or NULL */
static const char *
find_program(const char *part, const char *binary, char *out, size_t size)
{
	char self[PATH_MAX], *dir;
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);

	if (n > 0) {
		self[n] = '\0';
		dir = dirname(self);
		snprintf(out, size, "%s/%s", dir, binary);
		if (access(out, X_OK) == 0)
			return out;
		snprintf(out, size, "%s/../%s/%s", dir, part, binary);
		if (access(out, X_OK) == 0)
			return out;
	}
	snprintf(out, size, "%s/%s", SL_SBINDIR, binary);
	if (access(out, X_OK) == 0)
		return out;
	snprintf(out, size, "%s/%s", SL_BINDIR, binary);
	return access(out, X_OK) == 0 ? out : NULL;
}

/* run_program - another program's own checks; 0 when its section is usable */
static int
run_program(const char *path, const char *part, const char *binary)
{
	char exe[PATH_MAX];
	int status;
	pid_t pid;

	if (find_program(part, binary, exe, sizeof(exe)) == NULL) {
		sl_warn("%s: %s not found: its section is not checked", path, binary);
		return 0;
	}
	fflush(NULL);
	if ((pid = fork()) < 0) {
		sl_error("fork: %s", strerror(errno));
		return -1;
	}
	if (pid == 0) {
		setenv("SLUICE_CHECK_SECTION", "1", 1);
		execl(exe, binary, "-n", "-c", path, (char *)NULL);
		_exit(EX_OSERR);
	}
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : -1;
}

/* own_quiet - the caller's own checks with the shared errors not repeated */
static int
own_quiet(sl_conf_check_fn *own, const char *path)
{
	int rc;

	sl_conf_set_quiet(1);
	rc = own(path);
	sl_conf_set_quiet(0);
	return rc;
}

/* sl_conf_check_main - the whole-file check; the exit status */
int
sl_conf_check_main(const char *path, const char *self, sl_conf_check_fn *own, int flags)
{
	int bad = 0;
	sl_conf *c;

	if (getenv("SLUICE_CHECK_SECTION") != NULL)
		return own_quiet(own, path) == 0 ? EX_OK : EX_CONFIG;
	if ((c = sl_conf_parse(path)) == NULL) {
		fprintf(stderr, "%s: configuration not usable\n", path);
		return EX_CONFIG;
	}
	sl_conf_check_runtime(c, flags);
	bad = c->errors;
	for (size_t i = 0; i < sizeof(check_programs) / sizeof(check_programs[0]); i++) {
		int mine = self && strcmp(self, check_programs[i].section) == 0;

		if (mine && own_quiet(own, path) != 0)
			bad++;
		else if (!mine && sl_conf_present(c, check_programs[i].section) &&
		         run_program(path, check_programs[i].part, check_programs[i].binary) != 0)
			bad++;
	}
	sl_conf_free(c);
	if (bad) {
		fprintf(stderr, "%s: configuration not usable\n", path);
		return EX_CONFIG;
	}
	printf("%s: configuration OK\n", path);
	return EX_OK;
}
