/*
 * NAME
 *	utf8 3h - the one UTF-8 validator
 * SYNOPSIS
 *	n = sl_utf8_seq(p, len);		bytes of the valid sequence at p, 0 if none
 *	s = sl_utf8_clean(in, len, &outlen);	a valid, NUL-free copy (malloc)
 *	sl_utf8_fix(s, size);			the same in place, within size
 * DESCRIPTION
 *	Valid means RFC 3629: shortest form only (no overlong encodings
 *	such as C0 80 or E0 80 80), no encoded surrogates (ED A0 80 to
 *	ED BF BF), nothing above U+10FFFF, no truncated sequence. Every
 *	byte that does not start a valid sequence is replaced by U+FFFD
 *	(EF BF BD), one replacement per bad byte; an embedded NUL is
 *	replaced too, so the result is one C string holding everything.
 */
#ifndef SL_UTF8_H
#define SL_UTF8_H

#include <stddef.h>

#define SL_UTF8_REPLACEMENT "\xef\xbf\xbd"

size_t sl_utf8_seq(const unsigned char *p, size_t n);
int sl_utf8_valid(const char *s, size_t n);
char *sl_utf8_clean(const char *in, size_t n, size_t *outlen);
int sl_utf8_fix(char *s, size_t size);

#endif
