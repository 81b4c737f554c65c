/*
 * NAME
 *	milter_canon 3 - DKIM relaxed canonicalization (RFC 6376 3.4.2, 3.4.4)
 * SYNOPSIS
 *	ml_canon *b = ml_canon_new();
 *	ml_canon_body(b, buf, len) ...	one call per body chunk
 *	ml_canon_body_hash(b, md);	SHA-256 of the canonical body
 *	ml_canon_free(b);
 *	n = ml_canon_header(name, value, out);	one relaxed header field
 * DESCRIPTION
 *	Pure functions over buffers, no key and no library but OpenSSL's
 *	SHA-256: milter_dkim.c hashes a message's body and headers once with
 *	these and signs the result with every key.
 *
 *	The body is canonicalized as it streams, chunk boundaries anywhere:
 *	whitespace runs become one space, trailing whitespace and trailing
 *	empty lines are dropped, bare LF counts as a line end and a bare CR
 *	is ordinary text (as Postfix hands it over); a non-empty body ends
 *	with CRLF, an empty one hashes as nothing.
 *
 *	A header field: the name lowercased (whitespace around it dropped),
 *	":", the value unfolded (CR and LF removed) with whitespace runs as
 *	one space and none at either end. libmilter gives values folded with
 *	LF + WSP, without the CR.
 * ERRORS
 *	None: allocation either succeeds or does not return.
 */
#include "config.h"

#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "milter.h"

struct ml_canon {
	EVP_MD_CTX *md; /* SHA-256 of the canonical body */
	size_t crlfs;   /* line ends not yet hashed */
	int wsp;        /* whitespace not yet hashed */
	int cr;         /* a CR waiting for its LF */
	int content;    /* something was hashed */
	size_t nbuf;
	unsigned char buf[8192]; /* canonical bytes not yet hashed */
};

/* ml_canon_new - a body canonicalizer with SHA-256 started */
ml_canon *
ml_canon_new(void)
{
	ml_canon *b = sl_calloc(1, sizeof(*b));

	if ((b->md = EVP_MD_CTX_new()) == NULL || EVP_DigestInit_ex(b->md, EVP_sha256(), NULL) != 1)
		sl_panic("SHA-256 unavailable");
	return b;
}

/* ml_canon_free - release a body canonicalizer; NULL is a no-op */
void
ml_canon_free(ml_canon *b)
{
	if (b == NULL)
		return;
	EVP_MD_CTX_free(b->md);
	free(b);
}

/* flush - hash the buffered canonical bytes */
static void
flush(ml_canon *b)
{
	EVP_DigestUpdate(b->md, b->buf, b->nbuf);
	b->nbuf = 0;
}

/* put - one canonical body byte */
static inline void
put(ml_canon *b, unsigned char c)
{
	if (b->nbuf == sizeof(b->buf))
		flush(b);
	b->buf[b->nbuf++] = c;
}

/* content - a non-whitespace byte: pending line ends and space first */
static void
content(ml_canon *b, unsigned char c)
{
	for (; b->crlfs > 0; b->crlfs--) {
		put(b, '\r');
		put(b, '\n');
	}
	if (b->wsp)
		put(b, ' ');
	b->wsp = 0;
	b->content = 1;
	put(b, c);
}

/* special - a byte the canonicalization looks at */
static inline int
special(unsigned char c)
{
	return c == '\r' || c == '\n' || c == ' ' || c == '\t';
}

/* body_byte - the relaxed body canonicalization of one input byte */
static void
body_byte(ml_canon *b, unsigned char c)
{
	if (b->cr && c != '\n')
		content(b, '\r'); /* a bare CR is ordinary text */
	b->cr = 0;
	if (c == '\r')
		b->cr = 1;
	else if (c == '\n') {
		b->wsp = 0; /* trailing whitespace goes */
		b->crlfs++;
	} else if (c == ' ' || c == '\t')
		b->wsp = 1;
	else
		content(b, c);
}

/* ml_canon_body - feed one chunk of the body */
void
ml_canon_body(ml_canon *b, const unsigned char *buf, size_t len)
{
	size_t i = 0;

	while (i < len) {
		size_t run = 0;

		body_byte(b, buf[i++]);
		/* after a content byte, ordinary text goes straight through */
		if (b->crlfs || b->wsp || b->cr)
			continue;
		while (i + run < len && !special(buf[i + run]))
			run++;
		while (run > 0) {
			size_t n = sizeof(b->buf) - b->nbuf;

			if (n == 0) {
				flush(b);
				continue;
			}
			n = n < run ? n : run;
			memcpy(b->buf + b->nbuf, buf + i, n);
			b->nbuf += n;
			i += n;
			run -= n;
		}
	}
}

/* ml_canon_body_hash - finish the body: one CRLF after non-empty content */
void
ml_canon_body_hash(ml_canon *b, unsigned char md[32])
{
	unsigned int mdlen = 0;

	if (b->cr)
		content(b, '\r');
	b->cr = 0;
	if (b->content) {
		put(b, '\r');
		put(b, '\n');
	}
	flush(b);
	EVP_DigestFinal_ex(b->md, md, &mdlen);
}

/*
 * ml_canon_header - "name:value" in relaxed form plus CRLF into out, which
 * has room for strlen(name) + strlen(value) + 4; returns the length
 */
size_t
ml_canon_header(const char *name, const char *value, char *out)
{
	size_t o = 0;
	int wsp = 0;

	for (const char *p = name; *p; p++)
		if (*p != ' ' && *p != '\t')
			out[o++] = (char)(*p >= 'A' && *p <= 'Z' ? *p + 32 : *p);
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
	out[o++] = '\r';
	out[o++] = '\n';
	out[o] = '\0';
	return o;
}
