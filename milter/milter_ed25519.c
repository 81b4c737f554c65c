/*
 * NAME
 *	milter_ed25519 3 - Ed25519-SHA256 DKIM signatures (RFC 8463) with OpenSSL
 * SYNOPSIS
 *	ml_ed *e = ml_ed_new(pkey);
 *	ml_ed_header(e, name, value) ... ml_ed_body(e, buf, len) ...
 *	ml_ed_finish(e, domain, selector, signhdrs, oversign, out, outlen);
 *	ml_ed_free(e);
 * DESCRIPTION
 *	libopendkim 2.11.0~beta2 signs Ed25519 but leaks the parsed key, a
 *	BIO and the 64-byte output buffer of every Ed25519 signature (its
 *	dkim_free() releases them for RSA only: about 550 bytes a signature,
 *	found with LeakSanitizer). A long-running milter cannot afford that,
 *	so Ed25519 signatures are made here: relaxed/relaxed canonicalization
 *	(RFC 6376 3.4.2, 3.4.4), SHA-256, and PureEdDSA over the 32-byte hash
 *	(RFC 8463 section 3). The key is parsed once, at config load. RSA
 *	stays with libopendkim (milter_dkim.c); the unit tests check that both
 *	produce the same body hash for the same message, and the integration
 *	tests verify the signatures with dkimpy.
 *
 *	The body is canonicalized as it streams: whitespace runs become one
 *	space, trailing whitespace and trailing empty lines are dropped,
 *	bare LF counts as a line end; a non-empty body ends with CRLF.
 * ERRORS
 *	-1 with a message in the handle's error buffer.
 */
#include "config.h"

#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "log.h"
#include "milter.h"

struct ml_ed {
	EVP_PKEY *pkey;			/* borrowed from the config snapshot */
	EVP_MD_CTX *body;		/* SHA-256 of the canonical body */
	size_t	crlfs;			/* line ends not yet hashed */
	int	wsp;			/* whitespace not yet hashed */
	int	cr;			/* a CR waiting for its LF */
	int	content;		/* something was hashed */
	unsigned char buf[4096];	/* canonical bytes not yet hashed */
	size_t	nbuf;
	ml_header *hdrs;
	size_t	nhdrs;
	char	error[256];
};

/* ml_ed_new - a signer with a parsed Ed25519 key */
ml_ed *
ml_ed_new(void *pkey)
{
	ml_ed  *e = sl_calloc(1, sizeof(*e));

	e->pkey = pkey;
	e->body = EVP_MD_CTX_new();
	if (e->body == NULL || EVP_DigestInit_ex(e->body, EVP_sha256(), NULL) != 1) {
		ml_ed_free(e);
		return NULL;
	}
	return e;
}

/* ml_ed_free - release a signer; NULL is a no-op */
void
ml_ed_free(ml_ed *e)
{
	if (e == NULL)
		return;
	for (size_t i = 0; i < e->nhdrs; i++) {
		free(e->hdrs[i].name);
		free(e->hdrs[i].value);
	}
	free(e->hdrs);
	EVP_MD_CTX_free(e->body);
	free(e);
}

/* ml_ed_error - why the last call failed */
const char *
ml_ed_error(const ml_ed *e)
{
	return e->error;
}

/* ml_ed_header - keep one header field of the final header set */
int
ml_ed_header(ml_ed *e, const char *name, const char *value)
{
	e->hdrs = sl_realloc(e->hdrs, (e->nhdrs + 1) * sizeof(*e->hdrs));
	e->hdrs[e->nhdrs].name = sl_strdup(name);
	e->hdrs[e->nhdrs++].value = sl_strdup(value);
	return 0;
}

/* put - one canonical body byte */
static void
put(ml_ed *e, unsigned char c)
{
	if (e->nbuf == sizeof(e->buf)) {
		EVP_DigestUpdate(e->body, e->buf, e->nbuf);
		e->nbuf = 0;
	}
	e->buf[e->nbuf++] = c;
}

/* content - a non-whitespace byte: pending line ends and space first */
static void
content(ml_ed *e, unsigned char c)
{
	for (; e->crlfs > 0; e->crlfs--) {
		put(e, '\r');
		put(e, '\n');
	}
	if (e->wsp)
		put(e, ' ');
	e->wsp = 0;
	e->content = 1;
	put(e, c);
}

/* body_byte - the relaxed body canonicalization of one input byte */
static void
body_byte(ml_ed *e, unsigned char c)
{
	if (e->cr && c != '\n')
		content(e, '\r');		/* a bare CR is ordinary text */
	e->cr = 0;
	if (c == '\r')
		e->cr = 1;
	else if (c == '\n') {
		e->wsp = 0;			/* trailing whitespace goes */
		e->crlfs++;
	} else if (c == ' ' || c == '\t')
		e->wsp = 1;
	else
		content(e, c);
}

/* ml_ed_body - feed one chunk of the body */
int
ml_ed_body(ml_ed *e, const unsigned char *buf, size_t len)
{
	for (size_t i = 0; i < len; i++)
		body_byte(e, buf[i]);
	return 0;
}

/* relaxed_header - "name:value" in relaxed form, CRLF appended when asked */
static char *
relaxed_header(const char *name, const char *value, int crlf)
{
	size_t	n = strlen(name) + strlen(value) + 4, o = 0;
	char   *out = sl_malloc(n);
	int	wsp = 0;

	for (const char *p = name; *p; p++)
		if (*p != ' ' && *p != '\t')
			out[o++] = (char) (*p >= 'A' && *p <= 'Z' ? *p + 32 : *p);
	out[o++] = ':';
	for (const char *p = value + strspn(value, " \t\r\n"); *p; p++) {
		if (*p == '\r' || *p == '\n')
			continue;
		if (*p == ' ' || *p == '\t') {
			wsp = 1;
			continue;
		}
		if (wsp)
			out[o++] = ' ';
		wsp = 0;
		out[o++] = *p;
	}
	if (crlf) {
		out[o++] = '\r';
		out[o++] = '\n';
	}
	out[o] = '\0';
	return out;
}

/* b64 - base64 of a buffer into out */
static void
b64(const unsigned char *in, size_t len, char *out)
{
	EVP_EncodeBlock((unsigned char *) out, in, (int) len);
}

/* hash_headers - feed the signed headers (last instance first); build h= */
static void
hash_headers(ml_ed *e, EVP_MD_CTX *md, const char **signhdrs, const char **oversign,
	     char *h, size_t hlen)
{
	size_t	o = 0;

	h[0] = '\0';
	for (size_t s = 0; signhdrs[s]; s++)
		for (size_t i = e->nhdrs; i > 0; i--) {
			char   *c;

			if (strcasecmp(e->hdrs[i - 1].name, signhdrs[s]) != 0)
				continue;
			c = relaxed_header(e->hdrs[i - 1].name, e->hdrs[i - 1].value, 1);
			EVP_DigestUpdate(md, c, strlen(c));
			free(c);
			o += (size_t) snprintf(h + o, o < hlen ? hlen - o : 0, "%s%s", o ? ":" : "",
					       signhdrs[s]);
		}
	for (size_t s = 0; oversign[s]; s++)
		o += (size_t) snprintf(h + o, o < hlen ? hlen - o : 0, "%s%s", o ? ":" : "", oversign[s]);
}

/* body_hash - finish the body: one CRLF after non-empty content */
static void
body_hash(ml_ed *e, char *bh)
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;

	if (e->cr)
		content(e, '\r');
	if (e->content) {
		put(e, '\r');
		put(e, '\n');
	}
	EVP_DigestUpdate(e->body, e->buf, e->nbuf);
	e->nbuf = 0;
	EVP_DigestFinal_ex(e->body, md, &mdlen);
	b64(md, mdlen, bh);
}

/* fold_b - append the base64 signature folded every 64 characters */
static int
fold_b(char *out, size_t outlen, const char *sig)
{
	size_t	o = strlen(out), n = strlen(sig);

	for (size_t i = 0; i < n; i += 64) {
		int	k = snprintf(out + o, outlen - o, "%s%.*s", i ? "\n\t " : "", 64, sig + i);

		if (k < 0 || (size_t) k >= outlen - o)
			return -1;
		o += (size_t) k;
	}
	return 0;
}

/* sign_hash - PureEdDSA over the 32-byte header hash, base64 */
static int
sign_hash(ml_ed *e, const unsigned char *hash, size_t hlen, char *out)
{
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	unsigned char sig[64];
	size_t	siglen = sizeof(sig);
	int	ok = ctx && EVP_DigestSignInit(ctx, NULL, NULL, NULL, e->pkey) == 1
	    && EVP_DigestSign(ctx, sig, &siglen, hash, hlen) == 1;

	EVP_MD_CTX_free(ctx);
	if (!ok) {
		snprintf(e->error, sizeof(e->error), "Ed25519 signing failed");
		return -1;
	}
	b64(sig, siglen, out);
	return 0;
}

/* ml_ed_finish - the DKIM-Signature value, folded with LF + TAB */
int
ml_ed_finish(ml_ed *e, const char *domain, const char *selector, const char **signhdrs,
	     const char **oversign, char *out, size_t outlen)
{
	char	bh[64], h[2048], b[128], *c;
	unsigned char hash[EVP_MAX_MD_SIZE];
	unsigned int hashlen = 0;
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	int	n;

	body_hash(e, bh);
	if (md == NULL || EVP_DigestInit_ex(md, EVP_sha256(), NULL) != 1) {
		EVP_MD_CTX_free(md);
		snprintf(e->error, sizeof(e->error), "SHA-256 unavailable");
		return -1;
	}
	hash_headers(e, md, signhdrs, oversign, h, sizeof(h));
	n = snprintf(out, outlen, "v=1; a=ed25519-sha256; c=relaxed/relaxed; d=%s;\n\ts=%s; t=%lld;"
		     " bh=%s;\n\th=%s;\n\tb=", domain, selector, (long long) time(NULL), bh, h);
	if (n < 0 || (size_t) n >= outlen || strlen(h) + 1 >= sizeof(h)) {
		EVP_MD_CTX_free(md);
		snprintf(e->error, sizeof(e->error), "DKIM-Signature too long");
		return -1;
	}
	c = relaxed_header("DKIM-Signature", out, 0);
	EVP_DigestUpdate(md, c, strlen(c));
	free(c);
	EVP_DigestFinal_ex(md, hash, &hashlen);
	EVP_MD_CTX_free(md);
	if (sign_hash(e, hash, hashlen, b) < 0)
		return -1;
	if (fold_b(out, outlen, b) < 0) {
		snprintf(e->error, sizeof(e->error), "DKIM-Signature too long");
		return -1;
	}
	return 0;
}
