/*
 * NAME
 *	utf8 3 - the one UTF-8 validator (see utf8.h)
 * DESCRIPTION
 *	sl_utf8_seq() decides, sl_utf8_clean() and sl_utf8_fix() replace.
 *	Used by sluice-feedback for everything it prints as JSON or stores
 *	in Redis, and for DMARC XML before libxml2 sees it.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "utf8.h"

/* sl_utf8_seq - length of the valid UTF-8 sequence at p (1 to 4), or 0 */
size_t
sl_utf8_seq(const unsigned char *p, size_t n)
{
	unsigned char lo = 0x80, hi = 0xbf;
	size_t len, i;

	if (n == 0 || p[0] == 0)
		return 0;
	if (p[0] < 0x80)
		return 1;
	if (p[0] >= 0xc2 && p[0] <= 0xdf)
		len = 2;
	else if (p[0] >= 0xe0 && p[0] <= 0xef)
		len = 3;
	else if (p[0] >= 0xf0 && p[0] <= 0xf4)
		len = 4;
	else
		return 0; /* continuation byte, C0, C1, F5..FF */
	if (p[0] == 0xe0)
		lo = 0xa0; /* overlong below U+0800 */
	else if (p[0] == 0xed)
		hi = 0x9f; /* surrogates U+D800..U+DFFF */
	else if (p[0] == 0xf0)
		lo = 0x90; /* overlong below U+10000 */
	else if (p[0] == 0xf4)
		hi = 0x8f; /* above U+10FFFF */
	if (len > n || p[1] < lo || p[1] > hi)
		return 0;
	for (i = 2; i < len; i++)
		if ((p[i] & 0xc0) != 0x80)
			return 0;
	return len;
}

/* sl_utf8_valid - 1 when all n bytes are valid UTF-8 without NUL */
int
sl_utf8_valid(const char *s, size_t n)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t i = 0, l;

	while (i < n) {
		if ((l = sl_utf8_seq(p + i, n - i)) == 0)
			return 0;
		i += l;
	}
	return 1;
}

/* sl_utf8_clean - a NUL-terminated valid copy of n bytes; *outlen its length */
char *
sl_utf8_clean(const char *in, size_t n, size_t *outlen)
{
	const unsigned char *p = (const unsigned char *)in;
	char *out = sl_malloc(3 * n + 1);
	size_t i = 0, o = 0, l;

	while (i < n) {
		if ((l = sl_utf8_seq(p + i, n - i)) == 0) {
			memcpy(out + o, SL_UTF8_REPLACEMENT, 3);
			o += 3;
			i++;
			continue;
		}
		memcpy(out + o, p + i, l);
		i += l;
		o += l;
	}
	out[o] = 0;
	if (outlen != NULL)
		*outlen = o;
	return out;
}

/*
 * sl_utf8_fix - make the C string in a buffer of size bytes valid, in
 * place; what no longer fits is cut at a character boundary. 1 when
 * something was replaced or cut.
 */
int
sl_utf8_fix(char *s, size_t size)
{
	size_t n = strlen(s), o = 0, l, i, clen;
	char *c;

	if (sl_utf8_valid(s, n))
		return 0;
	c = sl_utf8_clean(s, n, &clen);
	for (i = 0; i < clen && o + 1 < size; i += l) {
		l = sl_utf8_seq((const unsigned char *)c + i, clen - i);
		if (o + l + 1 > size)
			break;
		memcpy(s + o, c + i, l);
		o += l;
	}
	if (size > 0)
		s[o] = 0;
	free(c);
	return 1;
}
