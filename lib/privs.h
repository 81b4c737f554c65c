/*
 * NAME
 *	privs 3h - drop root privileges after sockets are bound and keys read
 * SYNOPSIS
 *	sl_drop_privileges(user): setgroups, setgid, setuid to that user;
 *	a no-op when user is NULL or empty, or when not running as root.
 *	sl_socket_owner(path, user, group, mode, ...): chown a unix socket to
 *	user and group (the user's own group when group is empty) as root,
 *	chmod it, and describe in warn a mode open to every local user.
 * ERRORS
 *	Returns -1 with a message in err when the user is unknown or a call
 *	fails; callers treat that as fatal at start-up.
 */
#ifndef SL_PRIVS_H
#define SL_PRIVS_H

#include <stddef.h>

int	sl_drop_privileges(const char *user, char *err, size_t errlen);
int sl_socket_owner(const char *path, const char *user, const char *group, int mode, char *err,
                    size_t errlen, char *warn, size_t warnlen);

#endif
