/*
 * NAME
 *	log 3h - levelled logging to syslog and/or stderr
 * SYNOPSIS
 *	sl_log_init(ident, flags, level) once at start-up; sl_info() and
 *	friends anywhere. sl_log_context() sets a per-thread tag (the Postfix
 *	queue id, or the policy "instance") that prefixes every line.
 * ERRORS
 *	sl_fatal() logs and exits 1 (start-up and config only);
 *	sl_panic() logs and aborts (a broken invariant).
 */
#ifndef SL_LOG_H
#define SL_LOG_H

#include <stdarg.h>
#include <stddef.h>

enum sl_log_level { SL_LOG_DEBUG, SL_LOG_INFO, SL_LOG_WARN, SL_LOG_ERROR };

#define SL_LOG_STDERR 1		/* write lines to stderr */
#define SL_LOG_SYSLOG 2		/* write lines to syslog(3), facility mail */

void	sl_log_init(const char *ident, int flags, enum sl_log_level level);
void	sl_log_set_level(enum sl_log_level level);
int	sl_log_parse_level(const char *name, enum sl_log_level *level);
void	sl_log_context(const char *tag);
void	sl_logv(enum sl_log_level level, const char *fmt, va_list ap);

#define SL_PRINTF(a, b) __attribute__((format(printf, a, b)))
void	sl_debug(const char *fmt, ...) SL_PRINTF(1, 2);
void	sl_info(const char *fmt, ...) SL_PRINTF(1, 2);
void	sl_warn(const char *fmt, ...) SL_PRINTF(1, 2);
void	sl_error(const char *fmt, ...) SL_PRINTF(1, 2);
void	sl_fatal(const char *fmt, ...) SL_PRINTF(1, 2) __attribute__((noreturn));
void	sl_panic(const char *fmt, ...) SL_PRINTF(1, 2) __attribute__((noreturn));

/* Allocation either succeeds or does not return (sl_panic). */
void   *sl_malloc(size_t n);
void   *sl_calloc(size_t n, size_t size);
void   *sl_realloc(void *p, size_t n);
char   *sl_strdup(const char *s);
char   *sl_strndup(const char *s, size_t n);
void   *sl_grow(void *p, size_t n, size_t *cap, size_t size);

#endif
