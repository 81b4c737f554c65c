/*
 * NAME
 *	milter_authres 3 - the Authentication-Results header (RFC 8601)
 * SYNOPSIS
 *	ml_authres_begin(buf, len, authserv_id);
 *	ml_authres_add(buf, len, "spf=%s smtp.mailfrom=%s", ...);
 *	if (ml_authres_ours(value, authserv_id)) remove the field
 * DESCRIPTION
 *	One header field per message: the authserv-id, then one result per
 *	method, each on its own folded line ("\n\t", as libmilter wants).
 *	With no result at all it says "none" (RFC 8601 section 2.2).
 *	ml_authres_value() makes any value a token or a quoted-string, so
 *	that an attacker's MAIL FROM, HELO or d= cannot end our result and
 *	add one ("a;dmarc=pass@x" stays one quoted value).
 *	ml_authres_ours() reads the authserv-id of an existing field (after
 *	comments and white space, up to ";" or white space, an optional
 *	version number after it) and compares it without case: a field
 *	claiming our id that we did not write is forged and the caller
 *	removes it before adding ours; other fields stay.
 * ERRORS
 *	Text that does not fit is cut at a result boundary: the header
 *	stays well formed.
 */
#include "config.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "milter_verify.h"

/* skip_cfws - past white space and (nested) comments */
static const char *
skip_cfws(const char *s)
{
	for (;;) {
		while (isspace((unsigned char)*s))
			s++;
		if (*s != '(')
			return s;
		for (int depth = 0; *s; s++) {
			if (*s == '\\' && s[1])
				s++;
			else if (*s == '(')
				depth++;
			else if (*s == ')' && --depth == 0) {
				s++;
				break;
			}
		}
	}
}

/* ml_authres_ours - does this A-R value claim authserv_id */
int
ml_authres_ours(const char *value, const char *authserv_id)
{
	const char *s = skip_cfws(value);
	size_t n = strcspn(s, "; \t\r\n(");
	size_t idlen = strlen(authserv_id);

	if (n == idlen && strncasecmp(s, authserv_id, n) == 0)
		return 1;
	if (*s == '"' && n == idlen + 2 && strncasecmp(s + 1, authserv_id, idlen) == 0)
		return 1;
	return 0;
}

/* ml_authres_value - a property value as a token, or quoted: never ";", "(", CR or LF loose */
const char *
ml_authres_value(const char *in, char *out, size_t outlen)
{
	size_t o = 0;
	int plain = *in != '\0';

	for (const char *p = in; *p; p++)
		plain &= isalnum((unsigned char)*p) || strchr(".-_@+=/:!#$%&'*^`{|}~?", *p) != NULL;
	if (plain && strlen(in) < outlen) {
		memcpy(out, in, strlen(in) + 1);
		return out;
	}
	out[o++] = '"';
	for (const char *p = in; *p && o + 4 < outlen; p++) {
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			continue; /* no control character reaches the header */
		if (*p == '"' || *p == '\\')
			out[o++] = '\\';
		out[o++] = *p;
	}
	out[o++] = '"';
	out[o] = '\0';
	return out;
}

/* ml_authres_begin - start a header value with our authserv-id */
void
ml_authres_begin(char *out, size_t outlen, const char *authserv_id)
{
	snprintf(out, outlen, "%s", authserv_id);
}

/* ml_authres_add - append one result as a folded ";" item */
void
ml_authres_add(char *out, size_t outlen, const char *fmt, ...)
{
	char item[1024];
	size_t o = strlen(out);
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(item, sizeof(item), fmt, ap);
	va_end(ap);
	if (o + strlen(item) + 4 >= outlen)
		return;
	snprintf(out + o, outlen - o, ";\n\t%s", item);
}
