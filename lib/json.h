/*
 * NAME
 *	json 3h - the one JSON string writer, and a growing text buffer
 * SYNOPSIS
 *	sl_jbuf b = {0};
 *	sl_jbuf_add(&b, s, n);			append n bytes
 *	sl_jbuf_printf(&b, fmt, ...);		append formatted text
 *	sl_json_str(&b, s);			append s as a JSON string
 *	sl_json_fputs(fp, s);			write s as a JSON string to fp
 *	free(b.s);
 * DESCRIPTION
 *	A JSON string per RFC 8259 that always parses: " and \ are
 *	backslash-escaped, every control character (U+0000..U+001F and
 *	U+007F) is written as \u00XX, valid UTF-8 (lib/utf8.c's
 *	sl_utf8_seq) is copied as is, and each byte that does not start a
 *	valid sequence becomes \ufffd, one per bad byte. A NULL string is
 *	written as "". b.s is always NUL-terminated once anything was added.
 */
#ifndef SL_JSON_H
#define SL_JSON_H

#include <stddef.h>
#include <stdio.h>

#include "log.h"

typedef struct sl_jbuf {
	char *s;
	size_t len;
	size_t cap;
} sl_jbuf;

void sl_jbuf_add(sl_jbuf *b, const char *s, size_t n);
void sl_jbuf_printf(sl_jbuf *b, const char *fmt, ...) SL_PRINTF(2, 3);
void sl_json_str(sl_jbuf *b, const char *s);
void sl_json_fputs(FILE *fp, const char *s);

#endif
