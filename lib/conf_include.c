/*
 * NAME
 *	conf_include 3 - include files in sluice.conf, with their own lines
 * SYNOPSIS
 *	char *text = sl_conf_include_expand(path, &len, &src);   NULL after logging
 *	sl_conf_src_where(src, line, &file, &file_line);
 *	sl_conf_src_free(src);
 * DESCRIPTION
 *	A line of the form
 *
 *	  include "domains.conf"
 *	  include "conf.d/[a-z]*.conf"     (a glob(3) pattern)
 *	  include("/etc/sluice/domains.conf")   (as libconfuse writes it)
 *
 *	(alone on its line, a # comment allowed after it) is replaced by the
 *	text of the file, or of every file the glob(3) pattern matches, in
 *	name order. A relative name is taken from the directory of the file
 *	that includes it. A pattern that matches nothing includes nothing
 *	(an empty conf.d is fine); a plain name that cannot be read is an
 *	error at the include line. Includes nest up to 8 deep, which also
 *	stops a file including itself. The whole text is at most 4 MB.
 *
 *	The expanded text is what the syntax pass (conf_lex.c) and libconfuse
 *	read; src maps each of its lines back to the file and line it came
 *	from, so that every error names the right file. libconfuse's own
 *	include() function is not enabled: it would bypass the syntax pass.
 */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <glob.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conf_include.h"
#include "log.h"

#define INC_DEPTH_MAX 8
#define INC_SIZE_MAX (4 << 20)

struct sl_conf_src {
	char **files;
	size_t nfiles, filecap;
	struct sl_conf_src_line {
		int file, line;
	} * map;
	size_t nlines, linecap;
};

typedef struct inc_buf {
	char *text;
	size_t len, cap;
	sl_conf_src *src;
	int errors;
} inc_buf;

static void expand_file(inc_buf *b, const char *path, int depth, const char *from, int from_line);

/* add_line - append one line of file fi (line number ln) to the text */
static void
add_line(inc_buf *b, const char *s, size_t n, int fi, int ln)
{
	sl_conf_src *src = b->src;

	if (b->len + n + 2 > INC_SIZE_MAX) {
		if (b->errors++ == 0)
			sl_error("%s: with its included files, larger than 4 MB", src->files[0]);
		return;
	}
	b->text = sl_grow(b->text, b->len + n + 2, &b->cap, 1);
	memcpy(b->text + b->len, s, n);
	b->len += n;
	b->text[b->len++] = '\n';
	b->text[b->len] = '\0';
	src->map = sl_grow(src->map, src->nlines + 1, &src->linecap, sizeof(*src->map));
	src->map[src->nlines++] = (struct sl_conf_src_line){fi, ln};
}

/* include_name - the quoted name of an include line, or 0 if it is not one */
static int
include_name(const char *s, size_t n, char *name, size_t size)
{
	const char *end = s + n, *q;
	int paren = 0;

	while (s < end && isspace((unsigned char)*s))
		s++;
	if (end - s < 8 || strncmp(s, "include", 7) != 0 ||
	    !(s[7] == '(' || isspace((unsigned char)s[7]) || s[7] == '"'))
		return 0;
	for (s += 7; s < end && isspace((unsigned char)*s); s++)
		;
	if (s < end && *s == '(')
		paren = 1, s++;
	while (s < end && isspace((unsigned char)*s))
		s++;
	if (s >= end || *s != '"' || (q = memchr(s + 1, '"', (size_t)(end - s - 1))) == NULL)
		return 0;
	if ((size_t)(q - s - 1) >= size)
		return 0;
	memcpy(name, s + 1, (size_t)(q - s - 1));
	name[q - s - 1] = '\0';
	for (s = q + 1; s < end && isspace((unsigned char)*s); s++)
		;
	if (paren && (s >= end || *s++ != ')'))
		return 0;
	while (s < end && isspace((unsigned char)*s))
		s++;
	return s == end || *s == '#';
}

/* resolve - a name relative to the including file's directory */
static void
resolve(const char *from, const char *name, char *out, size_t size)
{
	const char *slash = strrchr(from, '/');

	if (name[0] == '/' || slash == NULL)
		snprintf(out, size, "%s", name);
	else
		snprintf(out, size, "%.*s/%s", (int)(slash - from), from, name);
}

/* expand_include - every file an include line names */
static void
expand_include(inc_buf *b, const char *from, int line, const char *name, int depth)
{
	char path[4096];
	glob_t g;
	int rc;

	resolve(from, name, path, sizeof(path));
	if (strpbrk(name, "*?[") == NULL) {
		expand_file(b, path, depth + 1, from, line);
		return;
	}
	rc = glob(path, GLOB_ERR, NULL, &g);
	if (rc == GLOB_NOMATCH)
		return;
	if (rc != 0) {
		sl_error("%s:%d: include \"%s\": cannot read the directory", from, line, name);
		b->errors++;
		return;
	}
	for (size_t i = 0; i < g.gl_pathc; i++)
		expand_file(b, g.gl_pathv[i], depth + 1, from, line);
	globfree(&g);
}

/* read_all - a file's text, NULL with errno */
static char *
read_all(const char *path, size_t *len)
{
	FILE *f = fopen(path, "r");
	char *text;
	size_t n;

	if (f == NULL)
		return NULL;
	text = sl_malloc(INC_SIZE_MAX + 1);
	n = fread(text, 1, INC_SIZE_MAX + 1, f);
	if (ferror(f) || n > INC_SIZE_MAX) {
		errno = ferror(f) ? errno : EFBIG;
		fclose(f);
		free(text);
		return NULL;
	}
	fclose(f);
	text[n] = '\0';
	*len = n;
	return text;
}

/* expand_file - one file, its includes expanded in place */
static void
expand_file(inc_buf *b, const char *path, int depth, const char *from, int from_line)
{
	sl_conf_src *src = b->src;
	size_t len, pos = 0;
	char *text, name[2048];
	int fi, ln = 0;

	if (depth >= INC_DEPTH_MAX) {
		sl_error("%s:%d: include \"%s\": nested more than %d deep (a file including "
		         "itself?)",
		         from, from_line, path, INC_DEPTH_MAX);
		b->errors++;
		return;
	}
	if ((text = read_all(path, &len)) == NULL) {
		if (from)
			sl_error("%s:%d: include \"%s\": cannot read: %s", from, from_line, path,
			         strerror(errno));
		else
			sl_error("%s: cannot read: %s", path,
			         errno == EFBIG ? "larger than 4 MB" : strerror(errno));
		b->errors++;
		return;
	}
	src->files = sl_grow(src->files, src->nfiles + 1, &src->filecap, sizeof(char *));
	fi = (int)src->nfiles;
	src->files[src->nfiles++] = sl_strdup(path);
	while (pos < len) {
		size_t n = strcspn(text + pos, "\n");

		ln++;
		if (include_name(text + pos, n, name, sizeof(name)))
			expand_include(b, src->files[fi], ln, name, depth);
		else
			add_line(b, text + pos, n, fi, ln);
		pos += n + (pos + n < len);
	}
	free(text);
}

/* sl_conf_include_expand - a file with its includes; NULL after logging */
char *
sl_conf_include_expand(const char *path, size_t *len, sl_conf_src **srcp)
{
	inc_buf b = {0};

	b.src = sl_calloc(1, sizeof(*b.src));
	b.text = sl_strdup("");
	b.cap = 1;
	expand_file(&b, path, 0, NULL, 0);
	if (b.errors) {
		free(b.text);
		sl_conf_src_free(b.src);
		return NULL;
	}
	*len = b.len;
	*srcp = b.src;
	return b.text;
}

/* sl_conf_src_where - the file and line of a line of the expanded text */
void
sl_conf_src_where(const sl_conf_src *src, int line, const char **file, int *file_line)
{
	if (src == NULL || line < 1 || src->nlines == 0) {
		*file_line = line;
		return;
	}
	if ((size_t)line > src->nlines)
		line = (int)src->nlines; /* an error "at the end" */
	*file = src->files[src->map[line - 1].file];
	*file_line = src->map[line - 1].line;
}

static __thread const sl_conf_src *current; /* while the syntax pass and libconfuse run */

/* sl_conf_src_set_current - the map the syntax pass's messages use (NULL: none) */
void
sl_conf_src_set_current(const sl_conf_src *src)
{
	current = src;
}

/* sl_conf_src_place - "file:line" of a line of the expanded text (src NULL: the current map) */
const char *
sl_conf_src_place(const sl_conf_src *src, const char *path, int line, char *buf, size_t size)
{
	const char *file = path;
	int l = line;

	sl_conf_src_where(src ? src : current, line, &file, &l);
	snprintf(buf, size, "%s:%d", file, l);
	return buf;
}

/* sl_conf_src_file_of - the file a line of the expanded text came from */
const char *
sl_conf_src_file_of(const sl_conf_src *src, int line)
{
	const char *f = NULL;
	int l;

	sl_conf_src_where(src, line, &f, &l);
	return f;
}

/* sl_conf_src_file - the i-th file read (0: the main one), NULL past the last */
const char *
sl_conf_src_file(const sl_conf_src *src, size_t i)
{
	return src && i < src->nfiles ? src->files[i] : NULL;
}

/* sl_conf_src_free - release the map */
void
sl_conf_src_free(sl_conf_src *src)
{
	if (src == NULL)
		return;
	for (size_t i = 0; i < src->nfiles; i++)
		free(src->files[i]);
	free(src->files);
	free(src->map);
	free(src);
}
