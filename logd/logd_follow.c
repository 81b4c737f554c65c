/*
 * NAME
 *	logd_follow 3 - follow a maillog_file across rotation, or read stdin
 * SYNOPSIS
 *	f = ld_follow_open(path, state_path, err, len)	path "-": stdin
 *	n = ld_follow_poll(f, cb, arg)	lines handed to cb; -1 at stdin's end
 *	ld_follow_save(f, err, len)	write "inode offset" to the state file
 *	ld_follow_close(f)
 * DESCRIPTION
 *	ld_follow_poll() reads what was appended since the last call and
 *	calls cb once per complete line. At the end of the file it checks
 *	the path: another inode there means the file was renamed (Postfix's
 *	"postfix logrotate", logrotate(8) without copytruncate); the old
 *	file is read to its end for ROTATE_GRACE more seconds (postlogd
 *	writes there until it reopens), then the new file is read from its
 *	start. A file shorter than the position was truncated
 *	(copytruncate): it is read again from its start.
 * STATE
 *	The state file holds the inode and the offset past the last line
 *	handed to cb. At open, the same inode continues at that offset; if
 *	the path now has another inode, the old file is looked for by inode
 *	in the same directory (a rotated maillog.<date>) and read to its end
 *	first, so lines written before a rotation that happened while
 *	sluice-logd was down are not lost. The state is written atomically
 *	(temporary file, rename). The caller saves it after the events of
 *	the lines were handed on, so a restart neither skips nor repeats a
 *	line (lines since the last save are repeated after a crash).
 * BOUNDS
 *	A line longer than LD_LINE_MAX is passed once with len LD_LINE_MAX + 1
 *	(its start only), for the caller to count; the rest is skipped.
 */
#define _GNU_SOURCE 1
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "logd.h"

#define ROTATE_GRACE 2 /* seconds the old file is still read */
#define READ_CHUNK 65536

struct ld_follow {
	char *path, *state;
	int fd;
	int is_stdin;
	ino_t ino;
	off_t line_off; /* past the last complete line handed on */
	char *buf;      /* the current partial line */
	size_t len;
	off_t cur;         /* bytes of the current line, skipped ones too */
	int skipping;      /* inside an over-long line */
	time_t rotated_at; /* when the path's inode changed, or 0 */
};

/* read_state - the saved inode and offset; 0 when none */
static int
read_state(const char *path, unsigned long long *ino, long long *off)
{
	FILE *fp = path ? fopen(path, "r") : NULL;
	int ok;

	if (fp == NULL)
		return 0;
	ok = fscanf(fp, "%llu %lld", ino, off) == 2 && *off >= 0;
	fclose(fp);
	return ok;
}

/* find_inode - the file of a directory that has inode ino, opened; -1 if none */
static int
find_inode(const char *path, ino_t ino)
{
	char *copy = sl_strdup(path), *dir = dirname(copy), full[4096];
	DIR *d = opendir(dir);
	struct dirent *e;
	struct stat st;
	int fd = -1;

	while (d && fd < 0 && (e = readdir(d)) != NULL) {
		snprintf(full, sizeof(full), "%s/%s", dir, e->d_name);
		if (stat(full, &st) == 0 && S_ISREG(st.st_mode) && st.st_ino == ino)
			fd = open(full, O_RDONLY | O_CLOEXEC);
	}
	if (d)
		closedir(d);
	free(copy);
	return fd;
}

/* open_at - open the path, continuing from the saved state where it applies */
static int
open_at(ld_follow *f, char *err, size_t errlen)
{
	unsigned long long ino = 0;
	long long off = 0;
	struct stat st;
	int have = read_state(f->state, &ino, &off);

	if ((f->fd = open(f->path, O_RDONLY | O_CLOEXEC)) < 0 || fstat(f->fd, &st) < 0) {
		snprintf(err, errlen, "open %s: %s", f->path, strerror(errno));
		return -1;
	}
	if (have && st.st_ino != (ino_t)ino) {
		int old = find_inode(f->path, (ino_t)ino);

		if (old >= 0) {
			close(f->fd);
			f->fd = old;
			f->rotated_at = 1; /* switch to the path at the old file's end */
			if (fstat(f->fd, &st) < 0)
				return -1;
		} else
			off = 0; /* the old file is gone: start the new one */
	}
	if (!have || off > st.st_size)
		off = have ? 0 : st.st_size; /* first start: new lines only */
	f->ino = st.st_ino;
	f->line_off = lseek(f->fd, off, SEEK_SET);
	return f->line_off < 0 ? -1 : 0;
}

/* ld_follow_open - start following; NULL with err when the file cannot be read */
ld_follow *
ld_follow_open(const char *path, const char *state_path, char *err, size_t errlen)
{
	ld_follow *f = sl_calloc(1, sizeof(*f));

	f->buf = sl_malloc(LD_LINE_MAX + 2);
	f->path = sl_strdup(path);
	f->state = state_path && *state_path ? sl_strdup(state_path) : NULL;
	if (strcmp(path, "-") == 0) {
		f->is_stdin = 1;
		f->fd = 0;
		return f;
	}
	if (open_at(f, err, errlen) < 0) {
		ld_follow_close(f);
		return NULL;
	}
	return f;
}

/* take - split a chunk into lines, keeping a partial line for later */
static int
take(ld_follow *f, const char *p, size_t n, ld_line_cb *cb, void *arg)
{
	int lines = 0;

	while (n > 0) {
		const char *nl = memchr(p, '\n', n);
		size_t k = nl ? (size_t)(nl - p) : n;

		f->cur += (off_t)k;
		if (!f->skipping && f->len + k > LD_LINE_MAX) {
			memcpy(f->buf + f->len, p, LD_LINE_MAX + 1 - f->len);
			cb(f->buf, LD_LINE_MAX + 1, arg);
			f->skipping = 1, lines++;
		} else if (!f->skipping) {
			memcpy(f->buf + f->len, p, k);
			f->len += k;
		}
		if (nl == NULL)
			break;
		if (!f->skipping)
			cb(f->buf, f->len, arg), lines++;
		f->line_off += f->cur + 1;
		f->len = 0, f->cur = 0, f->skipping = 0;
		p += k + 1, n -= k + 1;
	}
	return lines;
}

/* switch_file - at the old file's end after a rename: the new file, from its start */
static void
switch_file(ld_follow *f, ld_line_cb *cb, void *arg)
{
	struct stat st;
	int fd = open(f->path, O_RDONLY | O_CLOEXEC);

	if (fd < 0 || fstat(fd, &st) < 0) {
		if (fd >= 0)
			close(fd);
		return; /* not there yet: try again next poll */
	}
	if (f->len > 0 && !f->skipping)
		cb(f->buf, f->len, arg); /* an unterminated last line */
	close(f->fd);
	f->fd = fd, f->ino = st.st_ino, f->line_off = 0, f->len = 0, f->cur = 0, f->skipping = 0;
	f->rotated_at = 0;
}

/* at_end - the file's end: notice a rename or a truncation */
static void
at_end(ld_follow *f, ld_line_cb *cb, void *arg)
{
	struct stat st, cur;
	time_t now = time(NULL);

	if (fstat(f->fd, &cur) == 0 && cur.st_size < f->line_off + f->cur) {
		sl_info("%s: truncated, reading from its start", f->path);
		f->line_off = lseek(f->fd, 0, SEEK_SET), f->len = 0, f->cur = 0, f->skipping = 0;
		return;
	}
	if (stat(f->path, &st) < 0 || st.st_ino == f->ino)
		return;
	if (f->rotated_at == 0)
		f->rotated_at = now;
	else if (f->rotated_at == 1 || now - f->rotated_at >= ROTATE_GRACE) {
		sl_info("%s: rotated, reading the new file", f->path);
		switch_file(f, cb, arg);
	}
}

/* ld_follow_poll - hand on what was appended; -1 at the end of stdin or on error */
int
ld_follow_poll(ld_follow *f, ld_line_cb *cb, void *arg)
{
	static char chunk[READ_CHUNK];
	ssize_t n;
	int lines = 0;

	for (;;) {
		n = read(f->fd, chunk, sizeof(chunk));
		if (n < 0 && errno == EINTR)
			return lines;
		if (n < 0) {
			sl_warn("read %s: %s", f->path, strerror(errno));
			return -1;
		}
		if (n == 0)
			break;
		lines += take(f, chunk, (size_t)n, cb, arg);
		if (f->is_stdin || lines > 5000)
			return lines; /* let the caller flush and save */
	}
	if (f->is_stdin) {
		if (f->len > 0 && !f->skipping)
			cb(f->buf, f->len, arg), lines++;
		f->len = 0;
		return lines > 0 ? lines : -1;
	}
	at_end(f, cb, arg);
	return lines;
}

/* ld_follow_save - write the position atomically; -1 with err on failure */
int
ld_follow_save(ld_follow *f, char *err, size_t errlen)
{
	char tmp[4096];
	FILE *fp;
	int rc;

	if (f->state == NULL || f->is_stdin)
		return 0;
	snprintf(tmp, sizeof(tmp), "%s.tmp", f->state);
	if ((fp = fopen(tmp, "w")) == NULL) {
		snprintf(err, errlen, "%s: %s", tmp, strerror(errno));
		return -1;
	}
	fprintf(fp, "%llu %lld\n", (unsigned long long)f->ino, (long long)f->line_off);
	rc = fflush(fp) != 0 || fsync(fileno(fp)) != 0;
	if ((fclose(fp) != 0) | rc || rename(tmp, f->state) < 0) {
		snprintf(err, errlen, "%s: %s", f->state, strerror(errno));
		return -1;
	}
	return 0;
}

/* ld_follow_close - close the file; NULL is a no-op */
void
ld_follow_close(ld_follow *f)
{
	if (f == NULL)
		return;
	if (!f->is_stdin && f->fd >= 0)
		close(f->fd);
	free(f->path);
	free(f->state);
	free(f->buf);
	free(f);
}
