/*
 * NAME
 *	token 3 - stateless signed tokens for bounce and unsubscribe addresses
 * DESCRIPTION
 *	Local-part form: "<kind>1-<category>-<tenant|_>-<day36>-<msgid>-<mac>"
 *	where mac is the first 60 bits of HMAC-SHA256(secret, everything
 *	before the last "-"), in lowercase base32 (12 characters). Parsing
 *	lowercases first, since some MTAs change the case of local parts.
 *	URL form: base64url(P) "." base32(first 80 bits of HMAC(secret, P)),
 *	where P is "<kind>1-<category>-<tenant|_>-<day36>-<msgid>-<recipient>".
 *	Comparison of MACs is constant-time. See doc/tokens.md.
 */
#include "config.h"

#include <ctype.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "token.h"

static const char b32[] = "abcdefghijklmnopqrstuvwxyz234567";

#define LOCAL_MAC_CHARS 12		/* 60 bits */
#define URL_MAC_CHARS 16		/* 80 bits */

/* base32_bits - write the first nchars*5 bits of buf as base32 */
static void
base32_bits(const unsigned char *buf, size_t nchars, char *out)
{
	for (size_t i = 0; i < nchars; i++) {
		size_t	bit = i * 5, byte = bit / 8, shift = bit % 8;
		unsigned v = (unsigned) buf[byte] << 8 | buf[byte + 1];

		out[i] = b32[(v >> (11 - shift)) & 31];
	}
	out[nchars] = '\0';
}

/* token_mac - HMAC-SHA256 of data, truncated and base32-encoded */
static void
token_mac(const sl_token_key *key, const char *data, size_t len,
	  size_t nchars, char *out)
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;

	HMAC(EVP_sha256(), key->secret, (int) key->len,
	     (const unsigned char *) data, len, md, &mdlen);
	base32_bits(md, nchars, out);
}

/* sl_token_new_msgid - 8 random base32 characters */
void
sl_token_new_msgid(char out[SL_TOKEN_MSGID_LEN + 1])
{
	unsigned char r[SL_TOKEN_MSGID_LEN];

	if (RAND_bytes(r, sizeof(r)) != 1)
		for (size_t i = 0; i < sizeof(r); i++)
			r[i] = (unsigned char) random();
	for (size_t i = 0; i < SL_TOKEN_MSGID_LEN; i++)
		out[i] = b32[r[i] & 31];
	out[SL_TOKEN_MSGID_LEN] = '\0';
}

/* sl_token_today - days since 1970-01-01 UTC */
unsigned
sl_token_today(void)
{
	return (unsigned) (time(NULL) / 86400);
}

/* label_ok - a category, tenant or message id: 1-15 of [a-z0-9] */
static int
label_ok(const char *s, size_t max)
{
	size_t	n = strlen(s);

	if (n == 0 || n > max)
		return 0;
	for (; *s; s++)
		if (!islower((unsigned char) *s) && !isdigit((unsigned char) *s))
			return 0;
	return 1;
}

/* token_fields - the signed prefix "<kind>1-cat-tenant-day-msgid" */
static int
token_fields(const sl_token *t, char *out, size_t outlen)
{
	char	day[16];
	unsigned d = t->day;
	int	i = 0, n;

	if ((t->kind != 'b' && t->kind != 'u') || !label_ok(t->category, SL_TOKEN_LABEL_MAX)
	    || (t->tenant[0] && !label_ok(t->tenant, SL_TOKEN_LABEL_MAX))
	    || strlen(t->msgid) != SL_TOKEN_MSGID_LEN || !label_ok(t->msgid, SL_TOKEN_MSGID_LEN))
		return -1;
	do {
		day[i++] = "0123456789abcdefghijklmnopqrstuvwxyz"[d % 36];
		d /= 36;
	} while (d && i < 15);
	day[i] = '\0';
	for (int a = 0, b = i - 1; a < b; a++, b--) {
		char	c = day[a];

		day[a] = day[b];
		day[b] = c;
	}
	n = snprintf(out, outlen, "%c%d-%s-%s-%s-%s", t->kind, SL_TOKEN_VERSION,
		     t->category, t->tenant[0] ? t->tenant : "_", day, t->msgid);
	return n < 0 || (size_t) n >= outlen ? -1 : n;
}

/* sl_token_local - the local part of a bounce or unsubscribe address */
int
sl_token_local(const sl_token *t, const sl_token_key *key, char *out, size_t outlen)
{
	char	fields[SL_TOKEN_LOCAL_MAX], mac[LOCAL_MAC_CHARS + 1];
	int	n = token_fields(t, fields, sizeof(fields));

	if (n < 0)
		return -1;
	token_mac(key, fields, (size_t) n, LOCAL_MAC_CHARS, mac);
	n = snprintf(out, outlen, "%s-%s", fields, mac);
	return n < 0 || (size_t) n >= outlen || n > 64 ? -1 : 0;
}

/* token_split - parse "<kind>1-cat-tenant-day-msgid" into t; NULL-safe err */
static int
token_split(char *s, sl_token *t, char *err, size_t errlen)
{
	char   *f[5], *save = NULL, *p;
	int	n = 0;
	unsigned long day;

	memset(t, 0, sizeof(*t));
	for (p = strtok_r(s, "-", &save); p && n < 5; p = strtok_r(NULL, "-", &save))
		f[n++] = p;
	if (n != 5 || p != NULL) {
		snprintf(err, errlen, "token has %s fields", n < 5 ? "too few" : "too many");
		return SL_TOKEN_MALFORMED;
	}
	if (strlen(f[0]) != 2 || (f[0][0] != 'b' && f[0][0] != 'u') || f[0][1] != '1') {
		snprintf(err, errlen, "unknown token kind or version \"%s\"", f[0]);
		return SL_TOKEN_MALFORMED;
	}
	t->kind = f[0][0];
	if (!label_ok(f[1], SL_TOKEN_LABEL_MAX) || (strcmp(f[2], "_") != 0 && !label_ok(f[2], SL_TOKEN_LABEL_MAX))
	    || strlen(f[4]) != SL_TOKEN_MSGID_LEN || !label_ok(f[4], SL_TOKEN_MSGID_LEN)) {
		snprintf(err, errlen, "malformed token field");
		return SL_TOKEN_MALFORMED;
	}
	day = strtoul(f[3], &p, 36);
	if (*p != '\0' || day > 1000000) {
		snprintf(err, errlen, "malformed token day \"%s\"", f[3]);
		return SL_TOKEN_MALFORMED;
	}
	strcpy(t->category, f[1]);
	if (strcmp(f[2], "_") != 0)
		strcpy(t->tenant, f[2]);
	t->day = (unsigned) day;
	strcpy(t->msgid, f[4]);
	return SL_TOKEN_OK;
}

/* sl_token_parse_local - verify and decode a token local part */
int
sl_token_parse_local(const char *local, const sl_token_key *key, sl_token *t,
		     char *err, size_t errlen)
{
	char	buf[SL_TOKEN_LOCAL_MAX], mac[LOCAL_MAC_CHARS + 1], *dash;
	size_t	len = strlen(local);

	if (len >= sizeof(buf) || len < LOCAL_MAC_CHARS + 2) {
		snprintf(err, errlen, "token length %zu out of range", len);
		return SL_TOKEN_MALFORMED;
	}
	for (size_t i = 0; i <= len; i++)
		buf[i] = (char) tolower((unsigned char) local[i]);
	if ((dash = strrchr(buf, '-')) == NULL || strlen(dash + 1) != LOCAL_MAC_CHARS) {
		snprintf(err, errlen, "token has no MAC");
		return SL_TOKEN_MALFORMED;
	}
	*dash = '\0';
	token_mac(key, buf, strlen(buf), LOCAL_MAC_CHARS, mac);
	if (CRYPTO_memcmp(mac, dash + 1, LOCAL_MAC_CHARS) != 0) {
		snprintf(err, errlen, "token MAC does not verify");
		return SL_TOKEN_BADMAC;
	}
	return token_split(buf, t, err, errlen);
}

/* sl_token_url - the one-click unsubscribe token, recipient included */
int
sl_token_url(const sl_token *t, const sl_token_key *key, char *out, size_t outlen)
{
	char	payload[SL_TOKEN_LOCAL_MAX + 330], mac[URL_MAC_CHARS + 1];
	unsigned char b64[sizeof(payload) * 4 / 3 + 8];
	int	n = token_fields(t, payload, sizeof(payload)), m;

	if (n < 0 || t->rcpt[0] == '\0' || strchr(t->rcpt, '@') == NULL)
		return -1;
	n = snprintf(payload + n, sizeof(payload) - (size_t) n, "-%s", t->rcpt) + n;
	token_mac(key, payload, (size_t) n, URL_MAC_CHARS, mac);
	m = EVP_EncodeBlock(b64, (const unsigned char *) payload, n);
	for (int i = 0; i < m; i++) {
		if (b64[i] == '+')
			b64[i] = '-';
		else if (b64[i] == '/')
			b64[i] = '_';
	}
	while (m > 0 && b64[m - 1] == '=')
		b64[--m] = '\0';
	n = snprintf(out, outlen, "%s.%s", b64, mac);
	return n < 0 || (size_t) n >= outlen ? -1 : 0;
}

/* url_decode_payload - base64url (unpadded) into a NUL-terminated string */
static int
url_decode_payload(const char *in, size_t len, char *out, size_t outlen)
{
	unsigned char tmp[SL_TOKEN_URL_MAX + 4];
	int	n, pad = 0;

	if (len + 3 >= sizeof(tmp) || (len * 3) / 4 + 3 >= outlen)
		return -1;
	for (size_t i = 0; i < len; i++) {
		char	c = in[i];

		if (c == '-')
			c = '+';
		else if (c == '_')
			c = '/';
		else if (!isalnum((unsigned char) c))
			return -1;
		tmp[i] = (unsigned char) c;
	}
	while ((len + (size_t) pad) % 4)
		tmp[len + (size_t) pad++] = '=';
	n = EVP_DecodeBlock((unsigned char *) out, tmp, (int) len + pad);
	if (n < 0)
		return -1;
	n -= pad;
	out[n] = '\0';
	return (int) strlen(out) == n ? n : -1;
}

/* sl_token_parse_url - verify and decode a one-click unsubscribe token */
int
sl_token_parse_url(const char *s, const sl_token_key *key, sl_token *t,
		   char *err, size_t errlen)
{
	char	payload[SL_TOKEN_URL_MAX], mac[URL_MAC_CHARS + 1], rcpt[330];
	const char *dot = strrchr(s, '.');
	char   *dash;
	int	n, rc;

	if (dot == NULL || strlen(dot + 1) != URL_MAC_CHARS
	    || (n = url_decode_payload(s, (size_t) (dot - s), payload, sizeof(payload))) < 0) {
		snprintf(err, errlen, "malformed unsubscribe token");
		return SL_TOKEN_MALFORMED;
	}
	token_mac(key, payload, (size_t) n, URL_MAC_CHARS, mac);
	if (CRYPTO_memcmp(mac, dot + 1, URL_MAC_CHARS) != 0) {
		snprintf(err, errlen, "token MAC does not verify");
		return SL_TOKEN_BADMAC;
	}
	/* The recipient follows the fifth "-"; it may contain "-" itself. */
	dash = payload;
	for (int i = 0; i < 5 && dash; i++)
		dash = strchr(dash + (i > 0), '-');
	if (dash == NULL || strlen(dash + 1) >= sizeof(rcpt)) {
		snprintf(err, errlen, "token has no recipient");
		return SL_TOKEN_MALFORMED;
	}
	strcpy(rcpt, dash + 1);
	*dash = '\0';
	if ((rc = token_split(payload, t, err, errlen)) != SL_TOKEN_OK)
		return rc;
	strcpy(t->rcpt, rcpt);
	return SL_TOKEN_OK;
}
