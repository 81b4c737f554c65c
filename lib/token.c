/*
 * NAME
 *	token 3 - signed tokens for bounce and unsubscribe addresses
 * DESCRIPTION
 *	Local-part form: "<kind>2<kid>-<category>-<tenant|_>-<day36>-<msgid>-<mac>"
 *	where mac is the first 60 bits of HMAC-SHA256(secret of key kid,
 *	everything before the last "-"), in lowercase base32 (12 characters).
 *	Parsing lowercases first, since some MTAs change the case of local
 *	parts. Version 1 ("<kind>1-...", no key id) is verified against every
 *	live key of the ring.
 *	URL form: "<kind>2<kid>." base64url(nonce[12] ciphertext tag[16]) of
 *	AES-256-GCM under HKDF-SHA256(secret, info "sluice unsubscribe url
 *	v2"), with "<kind>2<kid>" as additional data; the plaintext is the
 *	local-part fields, "-", the recipient. Version 1 URLs (readable
 *	base64url(P) "." base32 MAC) still verify for the token lifetime.
 *	Expiry: a token whose day is more than the lifetime before today is
 *	SL_TOKEN_EXPIRED. Comparison of MACs is constant-time.
 *	sl_token_rcpt_hash(): the first 64 bits, in hex, of HMAC-SHA256(secret
 *	of key kid, msgid "\0" address), the address canonical per
 *	sl_addr_normalize(SL_ADDR_LOWER_LOCAL). See doc/tokens.md.
 */
#include "config.h"

#include <ctype.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/kdf.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "addr.h"
#include "token.h"

static const char b32[] = "abcdefghijklmnopqrstuvwxyz234567";
static const char b64url[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

#define LOCAL_MAC_CHARS 12 /* 60 bits */
#define URL_MAC_CHARS 16   /* 80 bits, version 1 */
#define GCM_NONCE 12
#define GCM_TAG 16
#define URL_PREFIX 3 /* "u2k" */
#define URL_PLAIN_MAX (SL_TOKEN_LOCAL_MAX + 330)
#define HKDF_INFO "sluice unsubscribe url v2"

/* base32_bits - write the first nchars*5 bits of buf as base32 */
static void
base32_bits(const unsigned char *buf, size_t nchars, char *out)
{
	for (size_t i = 0; i < nchars; i++) {
		size_t bit = i * 5, byte = bit / 8, shift = bit % 8;
		unsigned v = (unsigned)buf[byte] << 8 | buf[byte + 1];

		out[i] = b32[(v >> (11 - shift)) & 31];
	}
	out[nchars] = '\0';
}

/* token_mac - HMAC-SHA256 of data, truncated and base32-encoded */
static void
token_mac(const sl_token_key *key, const char *data, size_t len, size_t nchars, char *out)
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;

	HMAC(EVP_sha256(), key->secret, (int)key->len, (const unsigned char *)data, len, md,
	     &mdlen);
	base32_bits(md, nchars, out);
}

/* sl_token_new_msgid - 8 random base32 characters */
void
sl_token_new_msgid(char out[SL_TOKEN_MSGID_LEN + 1])
{
	unsigned char r[SL_TOKEN_MSGID_LEN];

	if (RAND_bytes(r, sizeof(r)) != 1)
		for (size_t i = 0; i < sizeof(r); i++)
			r[i] = (unsigned char)random();
	for (size_t i = 0; i < SL_TOKEN_MSGID_LEN; i++)
		out[i] = b32[r[i] & 31];
	out[SL_TOKEN_MSGID_LEN] = '\0';
}

/* sl_token_today - days since 1970-01-01 UTC */
unsigned
sl_token_today(void)
{
	return (unsigned)(time(NULL) / 86400);
}

/* is_kid - one character of the key-id alphabet (lowercase base32) */
static int
is_kid(int c)
{
	return c != '\0' && strchr(b32, c) != NULL;
}

/* sl_token_prefix - length of a token's "b1-"/"b2k-" start in s, else 0 */
int
sl_token_prefix(const char *s)
{
	int k = tolower((unsigned char)s[0]);

	if (k != 'b' && k != 'u')
		return 0;
	if (s[1] == '1' && s[2] == '-')
		return 3;
	if (s[1] == '2' && is_kid(tolower((unsigned char)s[2])) && s[3] == '-')
		return 4;
	return 0;
}

/* label_ok - a category, tenant or message id: 1-15 of [a-z0-9] */
static int
label_ok(const char *s, size_t max)
{
	size_t n = strlen(s);

	if (n == 0 || n > max)
		return 0;
	for (; *s; s++)
		if (!islower((unsigned char)*s) && !isdigit((unsigned char)*s))
			return 0;
	return 1;
}

/* day36 - a day number in lowercase base 36 */
static void
day36(unsigned d, char out[16])
{
	int i = 0;

	do {
		out[i++] = "0123456789abcdefghijklmnopqrstuvwxyz"[d % 36];
		d /= 36;
	} while (d && i < 15);
	out[i] = '\0';
	for (int a = 0, b = i - 1; a < b; a++, b--) {
		char c = out[a];

		out[a] = out[b];
		out[b] = c;
	}
}

/* token_fields - the signed prefix "<kind>2<kid>-cat-tenant-day-msgid" */
static int
token_fields(const sl_token *t, int version, char kid, char *out, size_t outlen)
{
	char day[16],
	    head[4] = {t->kind, version == 1 ? '1' : '2', version == 1 ? '\0' : kid, '\0'};
	int n;

	if ((t->kind != 'b' && t->kind != 'u') || !label_ok(t->category, SL_TOKEN_LABEL_MAX) ||
	    (t->tenant[0] && !label_ok(t->tenant, SL_TOKEN_LABEL_MAX)) ||
	    strlen(t->msgid) != SL_TOKEN_MSGID_LEN || !label_ok(t->msgid, SL_TOKEN_MSGID_LEN) ||
	    (version != 1 && !is_kid(kid)))
		return -1;
	day36(t->day, day);
	n = snprintf(out, outlen, "%s-%s-%s-%s-%s", head, t->category,
	             t->tenant[0] ? t->tenant : "_", day, t->msgid);
	return n < 0 || (size_t)n >= outlen ? -1 : n;
}

/* signing_key - the ring's current key, or NULL for an empty ring */
static const sl_token_key *
signing_key(const sl_token_ring *ring)
{
	if (ring == NULL || ring->nkeys < 1 || ring->current < 0 || ring->current >= ring->nkeys)
		return NULL;
	return &ring->key[ring->current];
}

/* sl_token_local - the local part of a bounce or unsubscribe address */
int
sl_token_local(const sl_token *t, const sl_token_ring *ring, char *out, size_t outlen)
{
	char fields[SL_TOKEN_LOCAL_MAX], mac[LOCAL_MAC_CHARS + 1];
	const sl_token_key *key = signing_key(ring);
	int n;

	if (key == NULL || (n = token_fields(t, t->version, key->kid, fields, sizeof(fields))) < 0)
		return -1;
	token_mac(key, fields, (size_t)n, LOCAL_MAC_CHARS, mac);
	n = snprintf(out, outlen, "%s-%s", fields, mac);
	return n < 0 || (size_t)n >= outlen || n > 64 ? -1 : 0;
}

/* token_head - kind, version and key id from the first field into t */
static int
token_head(const char *f, sl_token *t)
{
	if ((f[0] != 'b' && f[0] != 'u') || !(f[1] == '1' || f[1] == '2'))
		return -1;
	if (f[1] == '1' ? f[2] != '\0' : !is_kid(f[2]) || f[3] != '\0')
		return -1;
	t->kind = f[0];
	t->version = f[1] - '0';
	t->kid = t->version == 2 ? f[2] : '\0';
	return 0;
}

/* token_split - parse "<kind>2<kid>-cat-tenant-day-msgid" into t */
static int
token_split(char *s, sl_token *t, char *err, size_t errlen)
{
	char *f[5], *save = NULL, *p;
	int n = 0;
	unsigned long day;

	memset(t, 0, sizeof(*t));
	for (p = strtok_r(s, "-", &save); p && n < 5; p = strtok_r(NULL, "-", &save))
		f[n++] = p;
	if (n != 5 || p != NULL) {
		snprintf(err, errlen, "token has %s fields", n < 5 ? "too few" : "too many");
		return SL_TOKEN_MALFORMED;
	}
	if (token_head(f[0], t) < 0) {
		snprintf(err, errlen, "unknown token kind or version \"%.8s\"", f[0]);
		return SL_TOKEN_MALFORMED;
	}
	if (!label_ok(f[1], SL_TOKEN_LABEL_MAX) ||
	    (strcmp(f[2], "_") != 0 && !label_ok(f[2], SL_TOKEN_LABEL_MAX)) ||
	    strlen(f[4]) != SL_TOKEN_MSGID_LEN || !label_ok(f[4], SL_TOKEN_MSGID_LEN)) {
		snprintf(err, errlen, "malformed token field");
		return SL_TOKEN_MALFORMED;
	}
	day = strtoul(f[3], &p, 36);
	if (*p != '\0' || *f[3] == '\0' || day > 1000000) {
		snprintf(err, errlen, "malformed token day \"%.8s\"", f[3]);
		return SL_TOKEN_MALFORMED;
	}
	strcpy(t->category, f[1]);
	if (strcmp(f[2], "_") != 0)
		strcpy(t->tenant, f[2]);
	t->day = (unsigned)day;
	strcpy(t->msgid, f[4]);
	return SL_TOKEN_OK;
}

/* token_age - SL_TOKEN_EXPIRED when t is older than the ring's lifetime */
static int
token_age(const sl_token *t, const sl_token_ring *ring, char *err, size_t errlen)
{
	long long today = sl_token_ring_now(ring) / 86400;
	unsigned life = sl_token_ring_lifetime(ring);

	if ((long long)t->day + life < today) {
		snprintf(err, errlen, "token expired: %lld days old (lifetime %u days)",
		         today - (long long)t->day, life);
		return SL_TOKEN_EXPIRED;
	}
	if ((long long)t->day > today + 1) {
		snprintf(err, errlen, "token expired: its day is in the future");
		return SL_TOKEN_EXPIRED;
	}
	return SL_TOKEN_OK;
}

/* key_for - the key a split token names (version 2), or NULL with err */
static const sl_token_key *
key_for(const sl_token *t, const sl_token_ring *ring, char *err, size_t errlen)
{
	const sl_token_key *k = sl_token_ring_find(ring, t->kid);

	if (k == NULL)
		snprintf(err, errlen, "token key id '%c' is unknown or retired", t->kid);
	return k;
}

/* mac_ok - does mac verify data under kid's key (any live key for version 1)? */
static int
mac_ok(const sl_token *t, const sl_token_ring *ring, const char *data, size_t len, const char *mac,
       size_t nchars)
{
	char want[URL_MAC_CHARS + 1];
	int ok = 0;

	for (int i = 0; i < ring->nkeys; i++) {
		const sl_token_key *k = &ring->key[i];

		if (sl_token_ring_find(ring, k->kid) != k || (t->version == 2 && k->kid != t->kid))
			continue;
		token_mac(k, data, len, nchars, want);
		ok |= CRYPTO_memcmp(want, mac, nchars) == 0;
	}
	return ok;
}

/* sl_token_parse_local - verify and decode a token local part */
int
sl_token_parse_local(const char *local, const sl_token_ring *ring, sl_token *t, char *err,
                     size_t errlen)
{
	char buf[SL_TOKEN_LOCAL_MAX], copy[SL_TOKEN_LOCAL_MAX], *dash;
	size_t len = strlen(local);
	int rc;

	memset(t, 0, sizeof(*t));
	if (len >= sizeof(buf) || len < LOCAL_MAC_CHARS + 2) {
		snprintf(err, errlen, "token length %zu out of range", len);
		return SL_TOKEN_MALFORMED;
	}
	for (size_t i = 0; i <= len; i++)
		buf[i] = (char)tolower((unsigned char)local[i]);
	if ((dash = strrchr(buf, '-')) == NULL || strlen(dash + 1) != LOCAL_MAC_CHARS) {
		snprintf(err, errlen, "token has no MAC");
		return SL_TOKEN_MALFORMED;
	}
	*dash = '\0';
	memcpy(copy, buf, sizeof(copy));
	if ((rc = token_split(copy, t, err, errlen)) != SL_TOKEN_OK)
		return rc;
	if (t->version == 2 && key_for(t, ring, err, errlen) == NULL)
		return SL_TOKEN_BADKEY;
	if (!mac_ok(t, ring, buf, strlen(buf), dash + 1, LOCAL_MAC_CHARS)) {
		snprintf(err, errlen, "token MAC does not verify");
		return SL_TOKEN_BADMAC;
	}
	return token_age(t, ring, err, errlen);
}

/* b64url_encode - unpadded base64url of n bytes into out; -1 when too long */
static int
b64url_encode(const unsigned char *in, size_t n, char *out, size_t outlen)
{
	unsigned char tmp[SL_TOKEN_URL_MAX + 4];
	int m;

	if ((n + 2) / 3 * 4 + 1 > sizeof(tmp))
		return -1;
	m = EVP_EncodeBlock(tmp, in, (int)n);
	for (int i = 0; i < m; i++)
		if (tmp[i] == '+')
			tmp[i] = '-';
		else if (tmp[i] == '/')
			tmp[i] = '_';
	while (m > 0 && tmp[m - 1] == '=')
		m--;
	if ((size_t)m >= outlen)
		return -1;
	memcpy(out, tmp, (size_t)m);
	out[m] = '\0';
	return m;
}

/* b64url_decode - unpadded base64url into bytes; their count, or -1 */
static int
b64url_decode(const char *in, size_t len, unsigned char *out, size_t outlen)
{
	unsigned char tmp[SL_TOKEN_URL_MAX + 4];
	int n, pad = 0;

	if (len + 3 >= sizeof(tmp) || (len * 3) / 4 + 3 >= outlen || len % 4 == 1)
		return -1;
	for (size_t i = 0; i < len; i++) {
		char c = in[i];

		if (c == '\0' || strchr(b64url, c) == NULL)
			return -1;
		tmp[i] = (unsigned char)(c == '-' ? '+' : c == '_' ? '/' : c);
	}
	/* canonical only: the unused low bits of the last character must be zero */
	if (len % 4 > 1 && (strchr(b64url, in[len - 1]) - b64url) & (len % 4 == 2 ? 0x0f : 0x03))
		return -1;
	while ((len + (size_t)pad) % 4)
		tmp[len + (size_t)pad++] = '=';
	n = EVP_DecodeBlock(out, tmp, (int)len + pad);
	return n < 0 ? -1 : n - pad;
}

/* url_key - the AEAD key of the URL form: HKDF-SHA256 of the secret */
static int
url_key(const sl_token_key *k, unsigned char out[32])
{
	EVP_PKEY_CTX *pc = EVP_PKEY_CTX_new_id(EVP_PKEY_HKDF, NULL);
	size_t len = 32;
	int ok = pc != NULL && EVP_PKEY_derive_init(pc) > 0 &&
	         EVP_PKEY_CTX_set_hkdf_md(pc, EVP_sha256()) > 0 &&
	         EVP_PKEY_CTX_set1_hkdf_key(pc, k->secret, (int)k->len) > 0 &&
	         EVP_PKEY_CTX_add1_hkdf_info(pc, (const unsigned char *)HKDF_INFO,
	                                     (int)strlen(HKDF_INFO)) > 0 &&
	         EVP_PKEY_derive(pc, out, &len) > 0 && len == 32;

	EVP_PKEY_CTX_free(pc);
	return ok ? 0 : -1;
}

/* gcm - AES-256-GCM of in (enc: tag appended; dec: tag checked); -1 on failure */
static int
gcm(int enc, const sl_token_key *k, const unsigned char *nonce, const char *aad,
    const unsigned char *in, int n, unsigned char *out, unsigned char *tag)
{
	unsigned char key[32];
	EVP_CIPHER_CTX *cc = EVP_CIPHER_CTX_new();
	int len = 0, fin = 0, ok;

	ok = cc != NULL && url_key(k, key) == 0 &&
	     EVP_CipherInit_ex(cc, EVP_aes_256_gcm(), NULL, NULL, NULL, enc) > 0 &&
	     EVP_CIPHER_CTX_ctrl(cc, EVP_CTRL_GCM_SET_IVLEN, GCM_NONCE, NULL) > 0 &&
	     EVP_CipherInit_ex(cc, NULL, NULL, key, nonce, enc) > 0 &&
	     EVP_CipherUpdate(cc, NULL, &len, (const unsigned char *)aad, (int)strlen(aad)) > 0 &&
	     EVP_CipherUpdate(cc, out, &len, in, n) > 0 &&
	     (enc || EVP_CIPHER_CTX_ctrl(cc, EVP_CTRL_GCM_SET_TAG, GCM_TAG, tag) > 0) &&
	     EVP_CipherFinal_ex(cc, out + len, &fin) > 0 &&
	     (!enc || EVP_CIPHER_CTX_ctrl(cc, EVP_CTRL_GCM_GET_TAG, GCM_TAG, tag) > 0);
	OPENSSL_cleanse(key, sizeof(key));
	EVP_CIPHER_CTX_free(cc);
	return ok ? len + fin : -1;
}

/* sl_token_url - the one-click unsubscribe token: the recipient encrypted */
int
sl_token_url(const sl_token *t, const sl_token_ring *ring, char *out, size_t outlen)
{
	char plain[URL_PLAIN_MAX];
	unsigned char blob[GCM_NONCE + URL_PLAIN_MAX + GCM_TAG];
	const sl_token_key *key = signing_key(ring);
	int n, m;

	if (key == NULL || (n = token_fields(t, 2, key->kid, plain, sizeof(plain))) < 0 ||
	    t->rcpt[0] == '\0' || strchr(t->rcpt, '@') == NULL || outlen < URL_PREFIX + 2)
		return -1;
	m = snprintf(plain + n, sizeof(plain) - (size_t)n, "-%s", t->rcpt);
	if (m < 0 || (size_t)(n + m) >= sizeof(plain) || RAND_bytes(blob, GCM_NONCE) != 1)
		return -1;
	n += m;
	memcpy(out, plain, URL_PREFIX);
	out[URL_PREFIX] = '\0';
	if ((m = gcm(1, key, blob, out, (unsigned char *)plain, n, blob + GCM_NONCE,
	             blob + GCM_NONCE + n)) != n)
		return -1;
	out[URL_PREFIX] = '.';
	return b64url_encode(blob, (size_t)(GCM_NONCE + n + GCM_TAG), out + URL_PREFIX + 1,
	                     outlen - URL_PREFIX - 1) < 0
	           ? -1
	           : 0;
}

/* split_rcpt - cut "<fields>-<recipient>" after the fifth "-" into t */
static int
split_rcpt(char *payload, sl_token *t, char *err, size_t errlen)
{
	char rcpt[sizeof(t->rcpt)], *dash = payload;
	int rc;

	/* The recipient follows the fifth "-"; it may contain "-" itself. */
	for (int i = 0; i < 5 && dash; i++)
		dash = strchr(dash + (i > 0), '-');
	if (dash == NULL || strlen(dash + 1) >= sizeof(rcpt) || strchr(dash + 1, '@') == NULL) {
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

/* parse_url_v1 - the readable version 1 URL form, "b64(P).mac" */
static int
parse_url_v1(const char *s, const sl_token_ring *ring, sl_token *t, char *err, size_t errlen)
{
	char payload[SL_TOKEN_URL_MAX], copy[SL_TOKEN_URL_MAX];
	const char *dot = strrchr(s, '.');
	int n, rc;

	if (dot == NULL || strlen(dot + 1) != URL_MAC_CHARS ||
	    (n = b64url_decode(s, (size_t)(dot - s), (unsigned char *)payload,
	                       sizeof(payload) - 1)) < 0 ||
	    memchr(payload, 0, (size_t)n)) {
		snprintf(err, errlen, "malformed unsubscribe token");
		return SL_TOKEN_MALFORMED;
	}
	payload[n] = '\0';
	memcpy(copy, payload, (size_t)n + 1);
	if ((rc = split_rcpt(copy, t, err, errlen)) != SL_TOKEN_OK)
		return rc;
	if (t->version != 1) {
		snprintf(err, errlen, "malformed unsubscribe token");
		return SL_TOKEN_MALFORMED;
	}
	if (!mac_ok(t, ring, payload, (size_t)n, dot + 1, URL_MAC_CHARS)) {
		snprintf(err, errlen, "token MAC does not verify");
		return SL_TOKEN_BADMAC;
	}
	return token_age(t, ring, err, errlen);
}

/* sl_token_parse_url - verify and decode a one-click unsubscribe token */
int
sl_token_parse_url(const char *s, const sl_token_ring *ring, sl_token *t, char *err, size_t errlen)
{
	unsigned char blob[GCM_NONCE + URL_PLAIN_MAX + GCM_TAG];
	char plain[URL_PLAIN_MAX + 1], aad[URL_PREFIX + 1];
	const sl_token_key *key;
	int n, rc;

	memset(t, 0, sizeof(*t));
	if (!((s[0] == 'b' || s[0] == 'u') && s[1] == '2' && is_kid(s[2]) && s[3] == '.'))
		return parse_url_v1(s, ring, t, err, errlen);
	memcpy(aad, s, URL_PREFIX);
	aad[URL_PREFIX] = '\0';
	if ((key = sl_token_ring_find(ring, s[2])) == NULL) {
		snprintf(err, errlen, "token key id '%c' is unknown or retired", s[2]);
		return SL_TOKEN_BADKEY;
	}
	n = b64url_decode(s + URL_PREFIX + 1, strlen(s + URL_PREFIX + 1), blob, sizeof(blob));
	if (n < GCM_NONCE + GCM_TAG + 1) {
		snprintf(err, errlen, "malformed unsubscribe token");
		return SL_TOKEN_MALFORMED;
	}
	n -= GCM_NONCE + GCM_TAG;
	if (gcm(0, key, blob, aad, blob + GCM_NONCE, n, (unsigned char *)plain,
	        blob + GCM_NONCE + n) != n) {
		snprintf(err, errlen, "token does not verify (authenticated decryption failed)");
		return SL_TOKEN_BADMAC;
	}
	plain[n] = '\0';
	if (memchr(plain, 0, (size_t)n) != NULL || strncmp(plain, aad, URL_PREFIX) != 0 ||
	    plain[URL_PREFIX] != '-') {
		snprintf(err, errlen, "malformed unsubscribe token");
		return SL_TOKEN_MALFORMED;
	}
	if ((rc = split_rcpt(plain, t, err, errlen)) != SL_TOKEN_OK)
		return rc;
	return token_age(t, ring, err, errlen);
}

/* sl_token_rcpt_hash - the keyed hash of one recipient of message msgid */
int
sl_token_rcpt_hash(const sl_token_ring *ring, char kid, const char *msgid, const char *addr,
                   char out[SL_TOKEN_RCPT_HASH_LEN + 1])
{
	char canon[SL_ADDR_MAX + 1], data[SL_TOKEN_MSGID_LEN + 2 + SL_ADDR_MAX];
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;
	const sl_token_key *k = sl_token_ring_find(ring, kid);
	size_t n;

	if (k == NULL || strlen(msgid) != SL_TOKEN_MSGID_LEN ||
	    sl_addr_normalize(addr, canon, sizeof(canon), SL_ADDR_LOWER_LOCAL) < 0)
		return -1;
	memcpy(data, msgid, SL_TOKEN_MSGID_LEN);
	data[SL_TOKEN_MSGID_LEN] = '\0';
	n = strlen(canon);
	memcpy(data + SL_TOKEN_MSGID_LEN + 1, canon, n);
	n += SL_TOKEN_MSGID_LEN + 1;
	HMAC(EVP_sha256(), k->secret, (int)k->len, (const unsigned char *)data, n, md, &mdlen);
	for (int i = 0; i < SL_TOKEN_RCPT_HASH_LEN / 2; i++)
		snprintf(out + 2 * i, 3, "%02x", md[i]);
	return 0;
}
