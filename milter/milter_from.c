/*
 * NAME
 *	milter_from 3 - strict reading of the header From (RFC 5322)
 * SYNOPSIS
 *	ml_from_parse(value, &from)	ML_FROM_OK, ML_FROM_NONE, ML_FROM_AMBIGUOUS
 * DESCRIPTION
 *	The SASL binding and the signatures vouch for the From domain, so
 *	the milter must read the same single address the receiver reads.
 *	A From value is accepted only when it is, strictly, one mailbox:
 *	    [CFWS] addr-spec [CFWS]
 *	    [display-name] [CFWS] "<" addr-spec ">" [CFWS]
 *	where the display name is words (atoms, also with "." as RFC 5322
 *	obs-phrase allows, and quoted strings) and comments, the addr-spec a
 *	dot-atom or plain quoted local part and a dot-atom domain of letters,
 *	digits, hyphens (or UTF-8), with no comment or space inside.
 *
 *	Everything the receiver may show as the author (the display name,
 *	comments, and what their RFC 2047 encoded-words decode to, in any
 *	charset iconv knows) is checked as text: no "<" or ">" (nor their
 *	full-width forms), no control character, valid UTF-8, and every
 *	"x@y.z" in it must be on the From address's own domain, so that
 *	"ceo@shop2.example" <a@shop1.example> does not show shop2 over a
 *	shop1 signature.
 *
 *	ML_FROM_NONE: no address, the null address or several mailboxes
 *	(a comma at top level): the caller's 5.6.0.
 *	ML_FROM_AMBIGUOUS, with a reason in from->why: anything else that is
 *	not the strict form (an unquoted "@" or "<" in the display name,
 *	several <...>, group syntax, a route, a domain literal, an
 *	unterminated quote or comment, 8-bit text that is not UTF-8, a
 *	malformed or undecodable encoded-word, ...).
 * SEE ALSO
 *	tests/integration/test_milter_from.py checks every accepted value
 *	against Python's email.headerregistry and email.utils.getaddresses.
 */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <iconv.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "log.h"
#include "milter.h"

#define COMMENT_DEPTH_MAX 8
#define EW_MAX 512 /* bytes of one decoded encoded-word */

static const char NO_ADDRESS[] = "no address";

typedef struct reader {
	const char *p;               /* next byte of the value */
	const char *lt;              /* the "<" of the address, or NULL */
	char text[ML_FROM_TEXT_MAX]; /* what the receiver may show */
	size_t tlen;
	const char *why; /* first reason for refusing */
} reader;

/* fail - note the first reason; always returns -1 */
static int
fail(reader *r, const char *why)
{
	if (r->why == NULL)
		r->why = why;
	return -1;
}

/* text_add - append shown text; too much is a refusal */
static int
text_add(reader *r, const char *s, size_t n)
{
	if (r->tlen + n >= sizeof(r->text))
		return fail(r, "display name or comment too long");
	memcpy(r->text + r->tlen, s, n);
	r->tlen += n;
	r->text[r->tlen] = '\0';
	return 0;
}

/*
 * fold_len - the line break of a folding at s (CRLF or LF, then a space or
 * tab): its length, else 0. A bare CR, or a break not followed by white
 * space, is no folding: readers differ on it, so it is refused. Reads at
 * most three bytes of a NUL-terminated string.
 */
static size_t
fold_len(const char *s)
{
	size_t n = s[0] == '\r';

	if (s[n] != '\n')
		return 0;
	n++;
	return s[n] == ' ' || s[n] == '\t' ? n : 0;
}

/* text_raw - append shown text as written, unfolded */
static int
text_raw(reader *r, const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		size_t k = fold_len(s + i);

		if (k > 0) {
			i += k - 1;
			continue;
		}
		if (text_add(r, s + i, 1) < 0)
			return -1;
	}
	return 0;
}

/* utf8_len - length of the valid UTF-8 sequence at s, 0 when invalid */
static size_t
utf8_len(const unsigned char *s)
{
	unsigned c = s[0], cp;
	size_t n;

	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf)
		n = 2, cp = c & 0x1f;
	else if (c >= 0xe0 && c <= 0xef)
		n = 3, cp = c & 0x0f;
	else if (c >= 0xf0 && c <= 0xf4)
		n = 4, cp = c & 0x07;
	else
		return 0;
	for (size_t i = 1; i < n; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (s[i] & 0x3f);
	}
	if ((n == 3 && cp < 0x800) || (n == 4 && (cp < 0x10000 || cp > 0x10ffff)) ||
	    (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return n;
}

/* atext - an RFC 5322 atext byte (8-bit bytes are checked as UTF-8 apart) */
static int
atext(int c)
{
	return isalnum(c) || (c != 0 && strchr("!#$%&'*+-/=?^_`{|}~", c) != NULL) || c >= 0x80;
}

/* skip_fws - folding white space */
static void
skip_fws(reader *r)
{
	for (;;) {
		size_t k = fold_len(r->p);

		if (k == 0 && *r->p != ' ' && *r->p != '\t')
			return;
		r->p += k ? k : 1;
	}
}

static int encoded_words(reader *r, const char *s, size_t n);

/* comment - a (possibly nested) comment at r->p; its text is shown text */
static int
comment(reader *r, int depth)
{
	const char *start;

	if (depth > COMMENT_DEPTH_MAX)
		return fail(r, "comments nested too deep");
	r->p++;
	for (start = r->p; *r->p != ')';) {
		if (*r->p == '\0')
			return fail(r, "unterminated comment");
		if (*r->p == '(') {
			if (encoded_words(r, start, (size_t)(r->p - start)) < 0 ||
			    comment(r, depth + 1) < 0)
				return -1;
			start = r->p;
			continue;
		}
		if (*r->p == '\\' && r->p[1])
			r->p++;
		r->p++;
	}
	if (encoded_words(r, start, (size_t)(r->p - start)) < 0 || text_add(r, " ", 1) < 0)
		return -1;
	r->p++;
	return 0;
}

/* cfws - white space and comments */
static int
cfws(reader *r)
{
	for (skip_fws(r); *r->p == '('; skip_fws(r))
		if (comment(r, 1) < 0)
			return -1;
	return 0;
}

/* quoted_body - past a quoted string at r->p; content unescaped into out */
static int
quoted_body(reader *r, char *out, size_t outlen, size_t *olen)
{
	size_t o = 0;

	for (r->p++; *r->p != '"'; r->p++) {
		if (*r->p == '\0')
			return fail(r, "unterminated quoted string");
		if (*r->p == '\\' && r->p[1])
			r->p++;
		else if (fold_len(r->p) > 0)
			continue; /* folding inside the quotes: the break goes */
		if (o + 1 >= outlen)
			return fail(r, "quoted string too long");
		out[o++] = *r->p;
	}
	r->p++;
	out[o] = '\0';
	*olen = o;
	return 0;
}

/* ew_decode_b - base64 encoded text into bytes */
static int
ew_decode_b(const char *s, size_t n, unsigned char *out, size_t *olen)
{
	static const char b64[] =
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	unsigned acc = 0, bits = 0;
	size_t o = 0, i;

	for (i = 0; i < n && s[i] != '='; i++) {
		const char *c = s[i] ? strchr(b64, s[i]) : NULL;

		if (c == NULL || o >= EW_MAX)
			return -1;
		acc = (acc << 6) | (unsigned)(c - b64);
		if ((bits += 6) >= 8) {
			bits -= 8;
			out[o++] = (unsigned char)(acc >> bits);
		}
	}
	for (; i < n; i++)
		if (s[i] != '=')
			return -1;
	*olen = o;
	return 0;
}

/* ew_decode_q - Q-encoded text into bytes */
static int
ew_decode_q(const char *s, size_t n, unsigned char *out, size_t *olen)
{
	size_t o = 0;

	for (size_t i = 0; i < n; i++) {
		unsigned v;

		if (o >= EW_MAX)
			return -1;
		if (s[i] == '_')
			out[o++] = ' ';
		else if (s[i] != '=')
			out[o++] = (unsigned char)s[i];
		else if (i + 2 < n && isxdigit((unsigned char)s[i + 1]) &&
		         isxdigit((unsigned char)s[i + 2]) && sscanf(s + i + 1, "%2x", &v) == 1) {
			out[o++] = (unsigned char)v;
			i += 2;
		} else
			return -1;
	}
	*olen = o;
	return 0;
}

/* ew_to_utf8 - decoded bytes in charset to shown UTF-8 text */
static int
ew_to_utf8(reader *r, const char *charset, const unsigned char *in, size_t inlen)
{
	char out[4 * EW_MAX + 4], *op = out, *ip = (char *)in;
	size_t ileft = inlen, oleft = sizeof(out);
	iconv_t cd = iconv_open("UTF-8", charset);
	size_t rc;

	if (cd == (iconv_t)-1)
		return fail(r, "encoded-word in an unknown charset");
	rc = iconv(cd, &ip, &ileft, &op, &oleft);
	if (rc != (size_t)-1)
		rc = iconv(cd, NULL, NULL, &op, &oleft);
	iconv_close(cd);
	if (rc == (size_t)-1 || ileft != 0)
		return fail(r, "encoded-word that does not decode in its charset");
	return text_add(r, out, (size_t)(op - out));
}

/* encoded_word - one =?charset?enc?text?= at s (length n), decoded */
static int
encoded_word(reader *r, const char *s, size_t n)
{
	char charset[64];
	unsigned char bytes[EW_MAX];
	size_t clen = strcspn(s + 2, "?"), blen;
	const char *enc = s + 2 + clen, *txt;

	if (clen == 0 || clen >= sizeof(charset) || (size_t)(enc - s) + 5 > n || enc[0] != '?' ||
	    enc[2] != '?')
		return fail(r, "malformed encoded-word");
	snprintf(charset, sizeof(charset), "%.*s", (int)strcspn(s + 2, "?*"), s + 2);
	txt = enc + 3;
	if ((enc[1] == 'B' || enc[1] == 'b')
	        ? ew_decode_b(txt, (size_t)(s + n - 2 - txt), bytes, &blen) < 0
	    : (enc[1] == 'Q' || enc[1] == 'q')
	        ? ew_decode_q(txt, (size_t)(s + n - 2 - txt), bytes, &blen) < 0
	        : 1)
		return fail(r, "malformed encoded-word");
	return ew_to_utf8(r, charset, bytes, blen);
}

/* ew_end - length of the encoded-word starting at s ("=?"), 0 when none */
static size_t
ew_end(const char *s, size_t n)
{
	int q = 0;

	for (size_t i = 2; i + 1 < n; i++) {
		if ((unsigned char)s[i] <= ' ' || s[i] == 0x7f)
			return 0;
		if (s[i] == '?' && ++q == 3)
			return s[i + 1] == '=' ? i + 2 : 0;
	}
	return 0;
}

/*
 * encoded_words - shown text s (n bytes) with every encoded-word decoded,
 * wherever it is (Python decodes them inside quoted strings too); an "=?"
 * that starts no well-formed encoded-word is refused, since another reader
 * may still decode it.
 */
static int
encoded_words(reader *r, const char *s, size_t n)
{
	size_t i = 0, start = 0;

	while (i + 1 < n) {
		size_t len;

		if (s[i] != '=' || s[i + 1] != '?') {
			i++;
			continue;
		}
		if ((len = ew_end(s + i, n - i)) == 0)
			return fail(r, "malformed encoded-word");
		if (text_raw(r, s + start, i - start) < 0 || encoded_word(r, s + i, len) < 0)
			return -1;
		i += len;
		start = i;
	}
	return text_raw(r, s + start, n - start);
}

/* phrase - display-name words up to "<" (or the end); shown text collected */
static int
phrase(reader *r)
{
	char q[ML_FROM_TEXT_MAX];
	size_t qlen;

	for (;;) {
		const char *start;

		if (cfws(r) < 0)
			return -1;
		if (*r->p == '"') {
			if (quoted_body(r, q, sizeof(q), &qlen) < 0 ||
			    encoded_words(r, q, qlen) < 0 || text_add(r, " ", 1) < 0)
				return -1;
			continue;
		}
		if (!atext((unsigned char)*r->p))
			return 0; /* a word starts with atext; "." only after one */
		for (start = r->p; atext((unsigned char)*r->p) || *r->p == '.'; r->p++)
			;
		if (r->p[-1] == '.' && *r->p != ' ' && *r->p != '\t' && *r->p != '\r' &&
		    *r->p != '\n')
			return fail(r, "\".\" at the end of the display name");
		if (encoded_words(r, start, (size_t)(r->p - start)) < 0 || text_add(r, " ", 1) < 0)
			return -1;
	}
}

/* local_part - a dot-atom, or a quoted string the address code takes */
static int
local_part(reader *r, char *out, size_t outlen, size_t *o)
{
	const char *start = r->p;

	if (*r->p == '"') {
		for (r->p++; *r->p != '"'; r->p++)
			if ((unsigned char)*r->p <= ' ' || *r->p == '\\' || *r->p == '@' ||
			    *r->p == 0x7f)
				return fail(r, "quoted local part with spaces, escapes or \"@\"");
		r->p++;
	} else {
		for (; atext((unsigned char)*r->p) || *r->p == '.'; r->p++)
			if (*r->p == '.' && (r->p == start || r->p[1] == '.' || r->p[1] == '@'))
				return fail(r, "misplaced \".\" in the local part");
		if (r->p == start)
			return fail(r, "no local part");
	}
	if ((size_t)(r->p - start) + *o >= outlen)
		return fail(r, "address too long");
	memcpy(out + *o, start, (size_t)(r->p - start));
	*o += (size_t)(r->p - start);
	out[*o] = '\0';
	/* some readers decode encoded-words even there */
	return strstr(out, "=?") ? fail(r, "encoded-word in the address") : 0;
}

/* domain_part - dot-separated labels of letters, digits, hyphens or UTF-8 */
static int
domain_part(reader *r, char *out, size_t outlen, size_t *o)
{
	const char *start = r->p;

	if (*r->p == '[')
		return fail(r, "domain literal");
	for (;;) {
		const char *label = r->p;

		while (isalnum((unsigned char)*r->p) || *r->p == '-' ||
		       (unsigned char)*r->p >= 0x80)
			r->p++;
		if (r->p == label)
			return fail(r, start == r->p ? "no domain" : "empty label in the domain");
		if (*r->p != '.')
			break;
		r->p++;
	}
	if ((size_t)(r->p - start) + *o >= outlen)
		return fail(r, "address too long");
	memcpy(out + *o, start, (size_t)(r->p - start));
	*o += (size_t)(r->p - start);
	out[*o] = '\0';
	return 0;
}

/* addr_spec - local@domain, nothing in between; raw text into out */
static int
addr_spec(reader *r, char *out, size_t outlen)
{
	size_t o = 0;

	if (*r->p == '@')
		return fail(r, "obsolete route before the address");
	if (local_part(r, out, outlen, &o) < 0)
		return -1;
	if (*r->p != '@')
		return fail(r, *r->p == ' ' || *r->p == '\t' || *r->p == '(' || *r->p == '\n'
		                   ? "space or comment inside the address"
		                   : "no \"@\" in the address");
	out[o++] = *r->p++;
	return domain_part(r, out, outlen, &o);
}

/* utf8_ok - the whole string is valid UTF-8 without control characters */
static int
utf8_ok(const char *s, int allow_space)
{
	for (size_t n; *s; s += n) {
		if ((n = utf8_len((const unsigned char *)s)) == 0)
			return 0;
		if (n == 1 && ((unsigned char)*s < ' ' || *s == 0x7f) &&
		    !(allow_space && *s == '\t'))
			return 0;
	}
	return 1;
}

/* lookalike - a full-width or small form of "@", "<" or ">" at s */
static int
lookalike(const char *s, char *ascii)
{
	static const struct {
		const char *utf8;
		char ascii;
	} forms[] = {
	    {"\xef\xbc\xa0", '@'}, {"\xef\xb9\xab", '@'}, {"\xef\xbc\x9c", '<'},
	    {"\xef\xbc\x9e", '>'}, {"\xef\xb9\xa4", '<'}, {"\xef\xb9\xa5", '>'},
	};

	for (size_t i = 0; i < sizeof(forms) / sizeof(forms[0]); i++)
		if (strncmp(s, forms[i].utf8, 3) == 0) {
			*ascii = forms[i].ascii;
			return 3;
		}
	return 0;
}

/* shown_domain - the domain-looking text after an "@" at s, lowercased */
static void
shown_domain(const char *s, char *out, size_t outlen)
{
	size_t o = 0;

	while (*s && o + 1 < outlen &&
	       (isalnum((unsigned char)*s) || *s == '.' || *s == '-' || (unsigned char)*s >= 0x80))
		out[o++] = (char)tolower((unsigned char)*s++);
	while (o > 0 && out[o - 1] == '.')
		o--;
	out[o] = '\0';
}

/* shown_text_ok - no address on another domain, no brackets, in the shown text */
static int
shown_text_ok(reader *r, const char *domain)
{
	if (!utf8_ok(r->text, 1))
		return fail(
		    r, "control character or 8-bit text that is not UTF-8 in the display name");
	for (const char *s = r->text; *s; s++) {
		char c = *s, dom[ML_DOMAIN_MAX];
		int n = lookalike(s, &c);

		if (c == '<' || c == '>')
			return fail(r, "\"<\" or \">\" in the display name or a comment");
		if (c != '@')
			continue;
		shown_domain(s + (n ? n : 1), dom, sizeof(dom));
		if (strchr(dom, '.') && strcasecmp(dom, domain) != 0)
			return fail(
			    r, "the display name or a comment shows an address on another domain");
	}
	return 0;
}

/* top_level_comma - a comma outside quotes, comments and brackets: several mailboxes */
static int
top_level_comma(const char *v)
{
	int angle = 0, depth = 0;

	for (const char *p = v; *p; p++) {
		if (*p == '\\' && p[1])
			p++;
		else if (*p == '"' && depth == 0)
			for (p++; *p && *p != '"'; p++)
				p += *p == '\\' && p[1];
		else if (*p == '(')
			depth++;
		else if (*p == ')' && depth > 0)
			depth--;
		else if (depth == 0 && (*p == '<' || *p == '>'))
			angle += *p == '<' ? 1 : -1;
		else if (depth == 0 && angle <= 0 && *p == ',')
			return 1;
		if (*p == '\0')
			break;
	}
	return 0;
}

/* bare_form - [CFWS] addr-spec [CFWS] end */
static int
bare_form(reader *r, char *raw, size_t rawlen)
{
	if (cfws(r) < 0 || addr_spec(r, raw, rawlen) < 0 || cfws(r) < 0)
		return -1;
	return *r->p == '\0' ? 0 : fail(r, "text after the address");
}

/* angle_form - [phrase] "<" addr-spec ">" [CFWS] end */
static int
angle_form(reader *r, char *raw, size_t rawlen)
{
	if (phrase(r) < 0)
		return -1;
	if (*r->p == ':')
		return fail(r, "group syntax");
	if (*r->p == '@')
		return fail(r, "unquoted \"@\" in the display name");
	if ((unsigned char)*r->p < ' ' && *r->p != '\0')
		return fail(r, "control character or bare line break");
	if (*r->p != '<')
		return fail(r,
		            *r->p ? "unquoted special character in the display name" : NO_ADDRESS);
	r->lt = r->p++;
	skip_fws(r);
	if (*r->p == '>')
		return fail(r, NO_ADDRESS);
	if (addr_spec(r, raw, rawlen) < 0)
		return -1;
	skip_fws(r);
	if (*r->p != '>')
		return fail(r,
		            *r->p ? "text inside <...> after the address" : "unterminated <...>");
	r->p++;
	if (cfws(r) < 0)
		return -1;
	if (*r->p == '<')
		return fail(r, "several <...> addresses");
	return *r->p == '\0' ? 0 : fail(r, "text after the address");
}

/* display_copy - the display name as written, trimmed; -1 when too long */
static int
display_copy(const char *value, const char *lt, ml_from *f)
{
	const char *s = value, *e = lt;

	while (s < e && isspace((unsigned char)*s))
		s++;
	while (e > s && isspace((unsigned char)e[-1]))
		e--;
	if ((size_t)(e - s) >= sizeof(f->display))
		return -1;
	memcpy(f->display, s, (size_t)(e - s));
	f->display[e - s] = '\0';
	return 0;
}

/* ambiguous - the refusal with its reason */
static int
ambiguous(ml_from *f, const char *why)
{
	f->addr[0] = f->display[0] = '\0';
	f->why = why;
	return ML_FROM_AMBIGUOUS;
}

/* ml_from_parse - the one address of a From value, read strictly */
int
ml_from_parse(const char *value, ml_from *f)
{
	static const reader zero;
	reader r = zero;
	char raw[SL_ADDR_MAX + 2];

	memset(f, 0, sizeof(*f));
	if (top_level_comma(value))
		return ML_FROM_NONE;
	r.p = value;
	if (bare_form(&r, raw, sizeof(raw)) < 0) {
		const char *bare_why = r.why;

		r = zero;
		r.p = value;
		if (angle_form(&r, raw, sizeof(raw)) < 0) {
			if (r.why == NO_ADDRESS)
				return ML_FROM_NONE;
			/* without any "<" the value meant to be a bare address */
			return ambiguous(f, strchr(value, '<') ? r.why : bare_why);
		}
	}
	if (sl_addr_normalize(raw, f->addr, sizeof(f->addr), 0) < 0 || !utf8_ok(f->addr, 0))
		return ambiguous(f, "address that is not valid");
	if (shown_text_ok(&r, sl_addr_domain(f->addr)) < 0)
		return ambiguous(f, r.why);
	if (r.lt && display_copy(value, r.lt, f) < 0)
		return ambiguous(f, "display name too long");
	return ML_FROM_OK;
}
