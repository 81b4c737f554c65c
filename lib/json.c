/*
 * NAME
 *	json 3 - the one JSON string writer, and a growing text buffer
 * SYNOPSIS
 *	See json.h.
 * DESCRIPTION
 *	sl_json_str() is the only place a Sluice program escapes a JSON
 *	string (feedback's --classify output, logd's --parse output):
 *	quote and backslash escaped, every control character as \u00XX,
 *	invalid UTF-8 replaced by \ufffd byte by byte as lib/utf8.c
 *	decides. sl_json_fputs() writes the same bytes to a FILE.
 */
#include "config.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"
#include "utf8.h"

/* sl_jbuf_add - append n bytes, growing the buffer by doubling */
void
sl_jbuf_add(sl_jbuf *b, const char *s, size_t n)
{
	if (b->len + n + 1 > b->cap) {
		b->cap = (b->len + n + 1) * 2;
		b->s = sl_realloc(b->s, b->cap);
	}
	memcpy(b->s + b->len, s, n);
	b->len += n;
	b->s[b->len] = 0;
}

/* sl_jbuf_printf - append formatted text of any length */
void
sl_jbuf_printf(sl_jbuf *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if (b->len + (size_t)n + 1 > b->cap) {
		b->cap = (b->len + (size_t)n + 1) * 2;
		b->s = sl_realloc(b->s, b->cap);
	}
	va_start(ap, fmt);
	vsnprintf(b->s + b->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	b->len += (size_t)n;
}

/* sl_json_str - append s as a quoted, escaped JSON string */
void
sl_json_str(sl_jbuf *b, const char *s)
{
	const unsigned char *p = (const unsigned char *)(s ? s : "");
	size_t n = strlen((const char *)p), k;
	char esc[8];

	sl_jbuf_add(b, "\"", 1);
	for (size_t i = 0; i < n; i++) {
		if (p[i] == '"' || p[i] == '\\') {
			esc[0] = '\\';
			esc[1] = (char)p[i];
			sl_jbuf_add(b, esc, 2);
		} else if (p[i] < 0x20 || p[i] == 0x7f) {
			snprintf(esc, sizeof(esc), "\\u%04x", p[i]);
			sl_jbuf_add(b, esc, 6);
		} else if (p[i] < 0x80)
			sl_jbuf_add(b, (const char *)p + i, 1);
		else if ((k = sl_utf8_seq(p + i, n - i)) > 0) {
			sl_jbuf_add(b, (const char *)p + i, k);
			i += k - 1;
		} else
			sl_jbuf_add(b, "\\ufffd", 6);
	}
	sl_jbuf_add(b, "\"", 1);
}

/* sl_json_fputs - write s as a JSON string to fp */
void
sl_json_fputs(FILE *fp, const char *s)
{
	sl_jbuf b = {0};

	sl_json_str(&b, s);
	fwrite(b.s, 1, b.len, fp);
	free(b.s);
}
