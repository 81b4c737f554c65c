/*
 * NAME
 *	milter_arc 3 - ARC (RFC 8617) chain validation
 * SYNOPSIS
 *	a = ml_arc_new(dns);
 *	ml_arc_header(a, name, value) ...	every header field, in order
 *	ml_arc_body(a, buf, len) ...
 *	ml_arc_finish(a, &result); ml_arc_free(a);
 * DESCRIPTION
 *	The validator of RFC 8617 section 5.2: the ARC sets (ARC-Seal,
 *	ARC-Message-Signature, ARC-Authentication-Results with i=1..N) must
 *	be complete and numbered without gaps, N at most 50, cv=none on
 *	instance 1 and cv=pass on the others; the ARC-Message-Signature of
 *	instance N must verify (like a DKIM signature: h= fields chosen from
 *	the bottom, relaxed or simple canonicalization, bh= over the body);
 *	every ARC-Seal must verify over the sets up to its own (relaxed
 *	header canonicalization, its own b= empty). Keys come through
 *	lib/dns.c. RSA-SHA256 and Ed25519-SHA256 (OpenSSL EVP). libopendkim
 *	cannot do this: the signed header names differ and the seal covers
 *	other fields. result->sealer is the d= of the instance N seal: the
 *	caller compares it with the trusted sealers.
 * ERRORS
 *	A key lookup failure gives temperror; anything malformed, fail.
 *	Nothing in a header is trusted before its signature verifies.
 */
#include "config.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

#include "log.h"
#include "milter.h"
#include "milter_verify.h"

#define ARC_MAX 50
#define ARC_HDRS_MAX 1000 /* header fields kept for h= */

typedef struct arc_hdr {
	char *name;
	char *value; /* after the colon, CRLF folding kept */
} arc_hdr;

typedef struct body_canon {
	EVP_MD_CTX *md;
	int relaxed;
	size_t crlfs; /* empty lines held back (trailing ones are dropped) */
	int wsp;      /* white space held back (relaxed) */
	int cr;       /* a CR held back */
	int linelen;  /* bytes on the current line */
	int any;      /* anything written */
} body_canon;

struct ml_arc {
	sl_dns *dns;
	arc_hdr hdrs[ARC_HDRS_MAX];
	size_t nhdrs;
	body_canon simple, relaxed; /* the AMS's c= is known only at the end */
};

/* ml_arc_new - a validator for one message */
ml_arc *
ml_arc_new(sl_dns *d)
{
	ml_arc *a = calloc(1, sizeof(*a));

	if (a == NULL)
		sl_panic("out of memory");
	a->dns = d;
	a->relaxed.relaxed = 1;
	a->simple.md = EVP_MD_CTX_new();
	a->relaxed.md = EVP_MD_CTX_new();
	EVP_DigestInit_ex(a->simple.md, EVP_sha256(), NULL);
	EVP_DigestInit_ex(a->relaxed.md, EVP_sha256(), NULL);
	return a;
}

/* ml_arc_free - release a validator; NULL is fine */
void
ml_arc_free(ml_arc *a)
{
	if (a == NULL)
		return;
	for (size_t i = 0; i < a->nhdrs; i++) {
		free(a->hdrs[i].name);
		free(a->hdrs[i].value);
	}
	EVP_MD_CTX_free(a->simple.md);
	EVP_MD_CTX_free(a->relaxed.md);
	free(a);
}

/* ml_arc_header - keep one header field (the first ARC_HDRS_MAX) */
void
ml_arc_header(ml_arc *a, const char *name, const char *value)
{
	if (a->nhdrs == ARC_HDRS_MAX)
		return;
	a->hdrs[a->nhdrs].name = sl_strdup(name);
	a->hdrs[a->nhdrs++].value = sl_strdup(value);
}

/* put - bytes to the hash */
static void
put(body_canon *b, const char *s, size_t n)
{
	EVP_DigestUpdate(b->md, s, n);
	b->any = 1;
}

/* flush_pending - the held-back empty lines, before content */
static void
flush_pending(body_canon *b)
{
	for (; b->crlfs; b->crlfs--)
		put(b, "\r\n", 2);
}

/* content_byte - one byte of line content, after what was held back */
static void
content_byte(body_canon *b, char c)
{
	flush_pending(b);
	if (b->wsp) {
		put(b, " ", 1);
		b->wsp = 0;
	}
	put(b, &c, 1);
	b->linelen++;
}

/* canon_byte - one body byte through simple or relaxed canonicalization */
static void
canon_byte(body_canon *b, char c)
{
	if (b->cr && c != '\n') { /* a lone CR is content */
		b->cr = 0;
		content_byte(b, '\r');
	}
	if (c == '\r') {
		b->cr = 1;
		return;
	}
	if (c == '\n') {
		b->cr = 0;
		b->wsp = 0; /* relaxed: no white space at line end */
		b->crlfs++;
		b->linelen = 0;
		return;
	}
	if (b->relaxed && (c == ' ' || c == '\t')) {
		b->wsp = 1;
		return;
	}
	content_byte(b, c);
}

/* ml_arc_body - one body chunk, through both canonicalizations */
void
ml_arc_body(ml_arc *a, const unsigned char *buf, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		canon_byte(&a->simple, (char)buf[i]);
		canon_byte(&a->relaxed, (char)buf[i]);
	}
}

/* body_hash - the final body hash, base64 */
static void
body_hash(body_canon *b, char *out, size_t outlen)
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned mdlen = 0;

	if (b->cr) {
		b->cr = 0;
		content_byte(b, '\r');
	}
	if (b->any || !b->relaxed) /* the last line's end; simple: an empty body is CRLF */
		put(b, "\r\n", 2);
	EVP_DigestFinal_ex(b->md, md, &mdlen);
	if (outlen >= 4 * ((mdlen + 2) / 3) + 1)
		EVP_EncodeBlock((unsigned char *)out, md, (int)mdlen);
}

/* tag - the value of tag t in a tag list (white space removed), or -1 */
static int
tag(const char *list, const char *t, char *out, size_t outlen)
{
	size_t tl = strlen(t);

	for (const char *p = list; *p;) {
		const char *end = p + strcspn(p, ";"), *q = p;

		while (q < end && isspace((unsigned char)*q))
			q++;
		if ((size_t)(end - q) > tl && strncmp(q, t, tl) == 0) {
			const char *v = q + tl;
			size_t o = 0;

			while (v < end && isspace((unsigned char)*v))
				v++;
			if (v < end && *v == '=') {
				for (v++; v < end && o + 1 < outlen; v++)
					if (!isspace((unsigned char)*v))
						out[o++] = *v;
				out[o] = '\0';
				return 0;
			}
		}
		p = *end ? end + 1 : end;
	}
	return -1;
}

/* relaxed_header - "name:value\r\n" per RFC 6376 relaxed (ml_canon_header), appended to out */
static void
relaxed_header(const char *name, const char *value, char **out, size_t *len, int crlf)
{
	size_t o = *len;

	*out = sl_realloc(*out, o + strlen(name) + strlen(value) + 5);
	o += ml_canon_header(name, value, *out + o);
	if (!crlf)
		o -= 2;
	(*out)[o] = '\0';
	*len = o;
}

/* simple_header - "Name:value\r\n" as received */
static void
simple_header(const char *name, const char *value, char **out, size_t *len, int crlf)
{
	size_t o = *len;

	*out = sl_realloc(*out, o + strlen(name) + strlen(value) + 4);
	o += (size_t)sprintf(*out + o, "%s:%s%s", name, value, crlf ? "\r\n" : "");
	*len = o;
}

/* without_b - the value with the b= tag's value removed */
static char *
without_b(const char *value)
{
	char *out = sl_strdup(value), *p = out;

	while (*p) {
		char *q = p;

		while (*q == ' ' || *q == '\t' || *q == '\r' || *q == '\n' || *q == ';')
			q++;
		if (q[0] == 'b' && (q[1] == '=' || q[1] == ' ' || q[1] == '\t')) {
			char *eq = strchr(q, '='), *end;

			if (eq) {
				end = eq + 1 + strcspn(eq + 1, ";");
				memmove(eq + 1, end, strlen(end) + 1);
				return out;
			}
		}
		p = q + strcspn(q, ";");
	}
	return out;
}

/* get_key - the public key of s._domainkey.d; 0 ok, -1 fail, -2 temporary */
static int
get_key(sl_dns *dns, const char *d, const char *s, EVP_PKEY **key)
{
	char name[SL_DNS_NAME_MAX + 80], p[4096], k[16] = "rsa";
	unsigned char der[4096];
	sl_dns_ans a = {0};
	int len, rc = -1;

	*key = NULL;
	snprintf(name, sizeof(name), "%s._domainkey.%s", s, d);
	if (sl_dns_query(dns, name, SL_DNS_TXT, &a) == SL_DNS_TEMP)
		return -2;
	if (a.n >= 1 && tag(a.rr[0], "p", p, sizeof(p)) == 0 && p[0]) {
		(void)tag(a.rr[0], "k", k, sizeof(k));
		len = EVP_DecodeBlock(der, (unsigned char *)p, (int)strlen(p));
		len -= (int)(strlen(p) >= 1 && p[strlen(p) - 1] == '=') +
		       (int)(strlen(p) >= 2 && p[strlen(p) - 2] == '=');
		if (len > 0 && strcmp(k, "ed25519") == 0 && len == 32)
			*key = EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, NULL, der, 32);
		else if (len > 0 && strcmp(k, "rsa") == 0) {
			const unsigned char *dp = der;

			*key = d2i_PUBKEY(NULL, &dp, len);
		}
		rc = *key ? 0 : -1;
	}
	sl_dns_ans_free(&a);
	return rc;
}

/* sig_ok - does b= (base64) sign data under the key; 0 ok, -1 fail, -2 temporary */
static int
sig_ok(sl_dns *dns, const char *tags, const char *data, size_t len)
{
	char alg[32], d[SL_DNS_NAME_MAX], s[64], b64[2048];
	unsigned char sig[1536], md[32];
	EVP_PKEY *key;
	EVP_MD_CTX *ctx;
	int slen, ed, rc;

	if (tag(tags, "a", alg, sizeof(alg)) < 0 || tag(tags, "d", d, sizeof(d)) < 0 ||
	    tag(tags, "s", s, sizeof(s)) < 0 || tag(tags, "b", b64, sizeof(b64)) < 0)
		return -1;
	ed = strcmp(alg, "ed25519-sha256") == 0;
	if (!ed && strcmp(alg, "rsa-sha256") != 0)
		return -1;
	slen = EVP_DecodeBlock(sig, (unsigned char *)b64, (int)strlen(b64));
	slen -= (int)(strlen(b64) >= 1 && b64[strlen(b64) - 1] == '=') +
	        (int)(strlen(b64) >= 2 && b64[strlen(b64) - 2] == '=');
	if (slen <= 0 || (rc = get_key(dns, d, s, &key)) < 0)
		return slen <= 0 ? -1 : rc;
	ctx = EVP_MD_CTX_new();
	if (ed) { /* RFC 8463: Ed25519 over the SHA-256 of the data */
		EVP_Digest(data, len, md, NULL, EVP_sha256(), NULL);
		rc = EVP_DigestVerifyInit(ctx, NULL, NULL, NULL, key) == 1 &&
		             EVP_DigestVerify(ctx, sig, (size_t)slen, md, sizeof(md)) == 1
		         ? 0
		         : -1;
	} else
		rc = EVP_DigestVerifyInit(ctx, NULL, EVP_sha256(), NULL, key) == 1 &&
		             EVP_DigestVerify(ctx, sig, (size_t)slen, (const unsigned char *)data,
		                              len) == 1
		         ? 0
		         : -1;
	EVP_MD_CTX_free(ctx);
	EVP_PKEY_free(key);
	return rc;
}

/* instance - the i= of an ARC field, or 0 */
static int
instance(const char *value)
{
	char v[8];

	if (tag(value, "i", v, sizeof(v)) < 0 || strspn(v, "0123456789") != strlen(v) || !v[0])
		return 0;
	return atoi(v);
}

typedef struct arc_set {
	const arc_hdr *as, *ams, *aar;
} arc_set;

/* collect - the sets by instance; N, or -1 when the structure is broken */
static int
collect(const ml_arc *a, arc_set *sets)
{
	int n = 0;

	memset(sets, 0, sizeof(*sets) * (ARC_MAX + 1));
	for (size_t i = 0; i < a->nhdrs; i++) {
		const arc_hdr *h = &a->hdrs[i];
		const arc_hdr **slot;
		int k;

		if (strcasecmp(h->name, "ARC-Seal") != 0 &&
		    strcasecmp(h->name, "ARC-Message-Signature") != 0 &&
		    strcasecmp(h->name, "ARC-Authentication-Results") != 0)
			continue;
		k = instance(h->value);
		if (k < 1 || k > ARC_MAX)
			return -1;
		slot = strcasecmp(h->name, "ARC-Seal") == 0                ? &sets[k].as
		       : strcasecmp(h->name, "ARC-Message-Signature") == 0 ? &sets[k].ams
		                                                           : &sets[k].aar;
		if (*slot)
			return -1; /* two fields of one kind for one instance */
		*slot = h;
		n = k > n ? k : n;
	}
	for (int k = 1; k <= n; k++)
		if (!sets[k].as || !sets[k].ams || !sets[k].aar)
			return -1;
	return n;
}

/* ams_ok - the ARC-Message-Signature of the last instance; 0, -1, -2 */
static int
ams_ok(ml_arc *a, const arc_hdr *ams)
{
	char c[32] = "relaxed/relaxed", bh[128], want[128] = "", h[2048];
	int hrelax, brelax, used[ARC_HDRS_MAX] = {0}, rc;
	char *data = NULL, *nob;
	size_t len = 0;

	(void)tag(ams->value, "c", c, sizeof(c));
	hrelax = strncmp(c, "relaxed", 7) == 0;
	brelax = strchr(c, '/') ? strcmp(strchr(c, '/') + 1, "relaxed") == 0 : 0;
	if (tag(ams->value, "bh", want, sizeof(want)) < 0 || tag(ams->value, "h", h, sizeof(h)) < 0)
		return -1;
	body_hash(brelax ? &a->relaxed : &a->simple, bh, sizeof(bh));
	if (strcmp(bh, want) != 0)
		return -1;
	char *save = NULL;

	for (char *name = strtok_r(h, ":", &save); name; name = strtok_r(NULL, ":", &save)) {
		for (size_t i = a->nhdrs; i > 0; i--) /* from the bottom, each field once */
			if (!used[i - 1] && strcasecmp(a->hdrs[i - 1].name, name) == 0) {
				used[i - 1] = 1;
				(hrelax ? relaxed_header : simple_header)(
				    a->hdrs[i - 1].name, a->hdrs[i - 1].value, &data, &len, 1);
				break;
			}
	}
	nob = without_b(ams->value);
	(hrelax ? relaxed_header : simple_header)(ams->name, nob, &data, &len, 0);
	rc = sig_ok(a->dns, ams->value, data ? data : "", len);
	free(nob);
	free(data);
	return rc;
}

/* seal_ok - the ARC-Seal of instance k over the sets 1..k; 0, -1, -2 */
static int
seal_ok(ml_arc *a, const arc_set *sets, int k)
{
	char *data = NULL, *nob = without_b(sets[k].as->value);
	size_t len = 0;
	int rc;

	for (int i = 1; i <= k; i++) {
		relaxed_header(sets[i].aar->name, sets[i].aar->value, &data, &len, 1);
		relaxed_header(sets[i].ams->name, sets[i].ams->value, &data, &len, 1);
		if (i < k)
			relaxed_header(sets[i].as->name, sets[i].as->value, &data, &len, 1);
	}
	relaxed_header(sets[k].as->name, nob, &data, &len, 0);
	rc = sig_ok(a->dns, sets[k].as->value, data, len);
	free(nob);
	free(data);
	return rc;
}

/* ml_arc_finish - the chain's result: none, pass, fail or temperror */
void
ml_arc_finish(ml_arc *a, ml_arc_result *r)
{
	arc_set sets[ARC_MAX + 1];
	char cv[16];
	int n = collect(a, sets), rc = 0;

	memset(r, 0, sizeof(*r));
	r->result = n == 0 ? ML_AUTH_NONE : ML_AUTH_FAIL;
	if (n < 0)
		snprintf(r->why, sizeof(r->why), "broken structure");
	if (n <= 0)
		return;
	r->instance = n;
	(void)tag(sets[n].as->value, "d", r->sealer, sizeof(r->sealer));
	for (int k = 1; k <= n; k++)
		if (tag(sets[k].as->value, "cv", cv, sizeof(cv)) < 0 ||
		    strcasecmp(cv, k == 1 ? "none" : "pass") != 0) {
			snprintf(r->why, sizeof(r->why), "cv of instance %d", k);
			return;
		}
	if ((rc = ams_ok(a, sets[n].ams)) != 0) {
		snprintf(r->why, sizeof(r->why), "message signature of instance %d", n);
	} else
		for (int k = n; k >= 1 && rc == 0; k--)
			if ((rc = seal_ok(a, sets, k)) != 0)
				snprintf(r->why, sizeof(r->why), "seal of instance %d", k);
	r->result = rc == 0 ? ML_AUTH_PASS : rc == -2 ? ML_AUTH_TEMPERROR : ML_AUTH_FAIL;
}
