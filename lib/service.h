/*
 * NAME
 *	service 3h - what a daemon tells its service manager: pidfile, readiness
 * SYNOPSIS
 *	sl_pidfile_write(path, err, errlen): write getpid() to path (mode 644),
 *	refusing a file that names a live process; -1 with a message in err.
 *	sl_pidfile_remove(path): remove it at exit (errors ignored: after the
 *	privilege drop the directory may not be ours).
 *	sl_notify(state): tell systemd "READY=1", "RELOADING=1", "STOPPING=1"
 *	(sd_notify(3)); a no-op outside systemd or in a build without libsystemd.
 */
#ifndef SL_SERVICE_H
#define SL_SERVICE_H

#include <stddef.h>

int sl_pidfile_write(const char *path, char *err, size_t errlen);
void sl_pidfile_remove(const char *path);
void sl_notify(const char *state);

#endif
