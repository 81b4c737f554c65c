/*
 * NAME
 *	log 3 - levelled logging to syslog and/or stderr
 * DESCRIPTION
 *	One line per call. Lines carry the per-thread context tag (queue id
 *	or policy instance) when one is set. Safe to call from any thread:
 *	each line is formatted into a local buffer and written with one call.
 */
#include "config.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "log.h"

static const char *log_ident = "sluice";
static int log_flags = SL_LOG_STDERR;
static enum sl_log_level log_level = SL_LOG_INFO;
static __thread char log_tag[64];

static const char *level_names[] = {"debug", "info", "warning", "error"};

/* sl_log_init - choose where lines go and the lowest level written */
void
sl_log_init(const char *ident, int flags, enum sl_log_level level)
{
	log_ident = ident;
	log_flags = flags;
	log_level = level;
	if (flags & SL_LOG_SYSLOG)
		openlog(ident, LOG_PID | LOG_NDELAY, LOG_MAIL);
}

/* sl_log_set_level - change the threshold (config reload) */
void
sl_log_set_level(enum sl_log_level level)
{
	log_level = level;
}

/* sl_log_parse_level - map "debug", "info", "warning", "error" to a level */
int
sl_log_parse_level(const char *name, enum sl_log_level *level)
{
	for (size_t i = 0; i < sizeof(level_names) / sizeof(level_names[0]); i++) {
		if (strcmp(name, level_names[i]) == 0) {
			*level = (enum sl_log_level) i;
			return 0;
		}
	}
	if (strcmp(name, "warn") == 0) {
		*level = SL_LOG_WARN;
		return 0;
	}
	return -1;
}

/* sl_log_context - set this thread's tag; NULL or "" clears it */
void
sl_log_context(const char *tag)
{
	if (tag == NULL)
		tag = "";
	snprintf(log_tag, sizeof(log_tag), "%s", tag);
}

/* sl_logv - format one line and write it to every configured sink */
void
sl_logv(enum sl_log_level level, const char *fmt, va_list ap)
{
	static const int prio[] = {LOG_DEBUG, LOG_INFO, LOG_WARNING, LOG_ERR};
	char	msg[2048];
	size_t	off = 0;

	if (level < log_level)
		return;
	if (log_tag[0] != '\0')
		off = (size_t) snprintf(msg, sizeof(msg), "%s: ", log_tag);
	if (level >= SL_LOG_WARN)
		off += (size_t) snprintf(msg + off, sizeof(msg) - off, "%s: ",
					 level_names[level]);
	if (off < sizeof(msg))
		vsnprintf(msg + off, sizeof(msg) - off, fmt, ap);
	if (log_flags & SL_LOG_SYSLOG)
		syslog(prio[level], "%s", msg);
	if (log_flags & SL_LOG_STDERR) {
		char	line[2200];
		int	n = snprintf(line, sizeof(line), "%s[%ld]: %s\n",
				     log_ident, (long) getpid(), msg);

		if (n > 0)
			(void) !write(STDERR_FILENO, line,
				      (size_t) n < sizeof(line) ? (size_t) n : sizeof(line) - 1);
	}
}

#define SL_LOG_FN(name, level) \
	void name(const char *fmt, ...) \
	{ \
		va_list ap; \
		va_start(ap, fmt); \
		sl_logv(level, fmt, ap); \
		va_end(ap); \
	}

SL_LOG_FN(sl_debug, SL_LOG_DEBUG)
SL_LOG_FN(sl_info, SL_LOG_INFO)
SL_LOG_FN(sl_warn, SL_LOG_WARN)
SL_LOG_FN(sl_error, SL_LOG_ERROR)

/* sl_fatal - log a start-up or configuration error and exit */
void
sl_fatal(const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	sl_logv(SL_LOG_ERROR, fmt, ap);
	va_end(ap);
	exit(1);
}

/* sl_panic - log a broken invariant and abort for a core dump */
void
sl_panic(const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	sl_logv(SL_LOG_ERROR, fmt, ap);
	va_end(ap);
	abort();
}

/* sl_malloc - allocate or panic */
void *
sl_malloc(size_t n)
{
	void   *p = malloc(n ? n : 1);

	if (p == NULL)
		sl_panic("out of memory allocating %zu bytes", n);
	return p;
}

/* sl_calloc - allocate zeroed memory or panic */
void *
sl_calloc(size_t n, size_t size)
{
	void   *p = calloc(n ? n : 1, size ? size : 1);

	if (p == NULL)
		sl_panic("out of memory allocating %zu x %zu bytes", n, size);
	return p;
}

/* sl_realloc - resize or panic */
void *
sl_realloc(void *p, size_t n)
{
	void   *q = realloc(p, n ? n : 1);

	if (q == NULL)
		sl_panic("out of memory reallocating %zu bytes", n);
	return q;
}

/* sl_grow - room for element n of an array: doubles *cap (from 16) when full */
void *
sl_grow(void *p, size_t n, size_t *cap, size_t size)
{
	if (n < *cap && p != NULL)
		return p;
	*cap = *cap ? *cap * 2 : 16;
	if (*cap <= n)
		*cap = n + 1;
	return sl_realloc(p, *cap * size);
}

/* sl_strdup - copy a string or panic */
char *
sl_strdup(const char *s)
{
	return sl_strndup(s, strlen(s));
}

/* sl_strndup - copy at most n bytes of a string or panic */
char *
sl_strndup(const char *s, size_t n)
{
	size_t	len = strnlen(s, n);
	char   *p = sl_malloc(len + 1);

	memcpy(p, s, len);
	p[len] = '\0';
	return p;
}
