/*
 * NAME
 *	ctl_secret 3 - sluicectl secret init|rotate|list: the token keyring
 * DESCRIPTION
 *	The keyring is the file named by the config's secret_file (format in
 *	lib/token_keyring.c and doc/tokens.md).
 *	"init" creates it with one fresh current key, mode 600, owned by the
 *	config's service user (top-level user) when run as root, else by the
 *	caller; it refuses to replace an existing file unless --force.
 *	"rotate" retires the current key (keeping it, so tokens it signed
 *	still verify for the token lifetime), prunes keys retired longer ago
 *	than the lifetime and adds a new current key; an old single-secret
 *	file becomes a keyring whose retired key 'a' is that secret. The
 *	owner, group and mode 600 of the file are kept.
 *	"list" shows the keys (never a secret) and what each is still good for.
 *	Every write goes to a temporary file in the same directory, is
 *	synced and renamed over the old one: a reader sees the old keyring
 *	or the new one, never half of one. Running daemons sign with the new
 *	key after their next reload; sluice-feedback reads the file per message.
 * ERRORS
 *	78 (EX_CONFIG) without a secret_file or with a bad one, 73
 *	(EX_CANTCREAT) when the file cannot be written or exists (init).
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sysexits.h>
#include <time.h>
#include <unistd.h>

#include "ctl.h"
#include "log.h"
#include "token.h"

#define RING_TEXT_MAX 65536

/* secret_path - the config's secret_file, or exit 78 */
static const char *
secret_path(const ctl_ctx *ctx)
{
	const char *path = cfg_getstr(ctx->conf->cfg, "secret_file");

	if (path == NULL || *path == '\0') {
		ctl_err("%s: set secret_file (e.g. /etc/sluice/token.key) first", ctx->conf_path);
		exit(EX_CONFIG);
	}
	return path;
}

/* sync_dir - fsync the directory holding path, so the rename is durable */
static void
sync_dir(const char *path)
{
	char copy[4096];
	int fd;

	snprintf(copy, sizeof(copy), "%s", path);
	if ((fd = open(dirname(copy), O_RDONLY | O_DIRECTORY | O_CLOEXEC)) >= 0) {
		(void)fsync(fd);
		close(fd);
	}
}

/* write_ring - the keyring into path atomically, mode 600, owned by uid:gid */
static int
write_ring(const sl_token_ring *ring, const char *path, uid_t uid, gid_t gid)
{
	char tmp[4096], *text = sl_malloc(RING_TEXT_MAX);
	size_t len;
	int fd = -1, ok;

	ok = sl_token_ring_format(ring, text, RING_TEXT_MAX) == 0 &&
	     (size_t)snprintf(tmp, sizeof(tmp), "%s.tmpXXXXXX", path) < sizeof(tmp) &&
	     (fd = mkstemp(tmp)) >= 0;
	len = ok ? strlen(text) : 0;
	ok = ok && fchmod(fd, 0600) == 0 && write(fd, text, len) == (ssize_t)len &&
	     (geteuid() != 0 || fchown(fd, uid, gid) == 0) && fsync(fd) == 0;
	if (fd >= 0 && close(fd) != 0)
		ok = 0;
	if (ok && rename(tmp, path) != 0)
		ok = 0;
	if (!ok) {
		ctl_err("%s: cannot write the keyring: %s", path, strerror(errno));
		if (fd >= 0)
			unlink(tmp);
	} else
		sync_dir(path);
	memset(text, 0, RING_TEXT_MAX);
	free(text);
	return ok ? 0 : -1;
}

/* service_owner - the config's user (when root), else the caller */
static int
service_owner(const ctl_ctx *ctx, uid_t *uid, gid_t *gid)
{
	const char *user = cfg_getstr(ctx->conf->cfg, "user");
	struct passwd *pw;

	*uid = geteuid(), *gid = getegid();
	if (geteuid() != 0 || user == NULL || *user == '\0')
		return 0;
	if ((pw = getpwnam(user)) == NULL) {
		ctl_err("user %s: no such user", user);
		return -1;
	}
	*uid = pw->pw_uid, *gid = pw->pw_gid;
	return 0;
}

/* ctl_secret_init - create the keyring with one current key */
int
ctl_secret_init(ctl_ctx *ctx, int argc, char **argv)
{
	const char *path;
	sl_token_ring ring = {0};
	uid_t uid;
	gid_t gid;
	int force = 0;
	const ctl_opt opts[] = {CTL_FLAG("force", &force), CTL_OPT_END};

	ctl_getopt(ctx, argc, argv, opts, 0, 0);
	path = secret_path(ctx);
	if (!force && access(path, F_OK) == 0) {
		ctl_err("%s exists: use \"sluicectl secret rotate\" (or init --force to "
		        "replace it, which invalidates every token in flight)",
		        path);
		return EX_CANTCREAT;
	}
	if (service_owner(ctx, &uid, &gid) < 0)
		return EX_CONFIG;
	if (sl_token_ring_init(&ring) < 0) {
		ctl_err("no random bytes for a secret");
		return EX_SOFTWARE;
	}
	if (write_ring(&ring, path, uid, gid) < 0)
		return EX_CANTCREAT;
	printf("%s: created, current key %c\n", path, ring.key[ring.current].kid);
	return 0;
}

/* ctl_secret_rotate - retire the current key and add a new one */
int
ctl_secret_rotate(ctl_ctx *ctx, int argc, char **argv)
{
	const char *path;
	sl_token_ring ring;
	struct stat st;
	char err[256], old;

	(void)argv;
	if (argc != 1)
		ctl_usage(ctx);
	path = secret_path(ctx);
	ctl_token_ring(ctx, &ring);
	if (stat(path, &st) != 0) {
		ctl_err("%s: %s", path, strerror(errno));
		return EX_CONFIG;
	}
	old = ring.key[ring.current].kid;
	if (sl_token_ring_rotate(&ring, err, sizeof(err)) < 0) {
		ctl_err("%s: %s", path, err);
		return EX_CANTCREAT;
	}
	if (write_ring(&ring, path, st.st_uid, st.st_gid) < 0)
		return EX_CANTCREAT;
	printf("%s: current key %c (key %c retired, verifies for %u more days); "
	       "reload sluice-milter and sluice-policyd to sign with it\n",
	       path, ring.key[ring.current].kid, old, sl_token_ring_lifetime(&ring));
	return 0;
}

/* fmt_time - unix time as "YYYY-MM-DD HH:MM" UTC, "-" for 0 */
static const char *
fmt_time(long long t, char out[32])
{
	time_t tt = (time_t)t;
	struct tm tm;

	if (t == 0)
		return "-";
	gmtime_r(&tt, &tm);
	strftime(out, 32, "%Y-%m-%d %H:%M", &tm);
	return out;
}

/* ctl_secret_list - the keys, without their secrets */
int
ctl_secret_list(ctl_ctx *ctx, int argc, char **argv)
{
	sl_token_ring ring;
	char b1[32], b2[32], b3[32];

	(void)argv;
	if (argc != 1)
		ctl_usage(ctx);
	ctl_token_ring(ctx, &ring);
	printf("%-4s %-17s %-17s %s\n", "KEY", "CREATED", "RETIRED", "STATE");
	for (int i = 0; i < ring.nkeys; i++) {
		const sl_token_key *k = &ring.key[i];
		long long end = k->retired + ((long long)sl_token_ring_lifetime(&ring) + 1) * 86400;

		printf("%-4c %-17s %-17s ", k->kid, fmt_time(k->created, b1),
		       fmt_time(k->retired, b2));
		if (k->retired == 0)
			printf("current (signs)%s\n", ring.legacy ? ", single-secret file" : "");
		else
			printf("%s %s\n",
			       sl_token_ring_find(&ring, k->kid) ? "verifies until" : "dead since",
			       fmt_time(end, b3));
	}
	return 0;
}
