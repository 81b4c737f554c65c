/*
 * NAME
 *	privs 3 - drop root privileges after sockets are bound and keys read;
 *	give unix sockets to the service user and the MTA's group
 */
#include "config.h"

#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "privs.h"

/* sl_drop_privileges - become the service user, for good */
int
sl_drop_privileges(const char *user, char *err, size_t errlen)
{
	struct passwd *pw;

	if (user == NULL || *user == '\0' || geteuid() != 0)
		return 0;
	if ((pw = getpwnam(user)) == NULL) {
		snprintf(err, errlen, "unknown user \"%s\"", user);
		return -1;
	}
	if (setgroups(1, &pw->pw_gid) < 0 || setgid(pw->pw_gid) < 0
	    || setuid(pw->pw_uid) < 0) {
		snprintf(err, errlen, "cannot become %s: %s", user, strerror(errno));
		return -1;
	}
	if (setuid(0) == 0) {
		snprintf(err, errlen, "privileges of %s could be regained", user);
		return -1;
	}
	return 0;
}

/*
 * sl_socket_owner - chown a unix socket to the service user and a group
 * (group, or the user's own when group is NULL or ""), then chmod it;
 * without root only the mode is set. A mode open to others is allowed
 * but reported in warn (any local user could then speak to the daemon).
 */
int
sl_socket_owner(const char *path, const char *user, const char *group, int mode, char *err,
                size_t errlen, char *warn, size_t warnlen)
{
	struct passwd *pw = NULL;
	struct group *gr = NULL;
	uid_t uid = (uid_t)-1;
	gid_t gid = (gid_t)-1;

	if (warn && warnlen)
		*warn = '\0';
	if (geteuid() == 0 && user && *user && (pw = getpwnam(user)) == NULL) {
		snprintf(err, errlen, "user \"%s\" does not exist", user);
		return -1;
	}
	if (geteuid() == 0 && group && *group && (gr = getgrnam(group)) == NULL) {
		snprintf(err, errlen, "group \"%s\" does not exist (socket_group)", group);
		return -1;
	}
	if (pw) {
		uid = pw->pw_uid;
		gid = pw->pw_gid;
	}
	if (gr)
		gid = gr->gr_gid;
	if (geteuid() == 0 && (uid != (uid_t)-1 || gid != (gid_t)-1) && chown(path, uid, gid) < 0) {
		snprintf(err, errlen, "%s: chown: %s", path, strerror(errno));
		return -1;
	}
	if (chmod(path, (mode_t)mode) < 0) {
		snprintf(err, errlen, "%s: chmod: %s", path, strerror(errno));
		return -1;
	}
	if ((mode & 0007) && warn && warnlen)
		snprintf(warn, warnlen,
		         "%s: socket mode %04o lets every local user connect; "
		         "use 0660 and put the MTA's user in the socket's group",
		         path, mode);
	return 0;
}
