/*
 * NAME
 *	test_token - tokens round-trip, resist tampering, expire; the keyring
 *	rotates and retires keys; the recipient hash is keyed and canonical
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>
#include <openssl/hmac.h>

#include "token.h"

#define DAY 20417LL /* 2025-11-25, the sample tokens' day */

static sl_token_ring ring;

/* ring_of - a ring of one current key with this secret, clock on DAY */
static sl_token_ring
ring_of(const char *secret, char kid)
{
	sl_token_ring r = {.nkeys = 1, .current = 0, .now = DAY * 86400 + 3600};

	r.key[0].kid = kid;
	r.key[0].len = strlen(secret);
	memcpy(r.key[0].secret, secret, r.key[0].len);
	return r;
}

/* setup - the shared ring, reset before each test */
static int
setup(void **state)
{
	(void)state;
	ring = ring_of("0123456789abcdef0123456789abcdef", 'a');
	return 0;
}

/* sample - a token with every field set */
static sl_token
sample(char kind, const char *tenant)
{
	sl_token t = {.kind = kind, .day = (unsigned)DAY};

	strcpy(t.category, "marketing");
	strcpy(t.tenant, tenant);
	strcpy(t.msgid, "a7x2m9qd");
	return t;
}

/* test_local_roundtrip - encode, decode, same fields; length within 64 */
static void
test_local_roundtrip(void **state)
{
	sl_token t = sample('b', "shop42"), u;
	char s[SL_TOKEN_LOCAL_MAX], err[128];

	(void)state;
	assert_int_equal(sl_token_local(&t, &ring, s, sizeof(s)), 0);
	assert_true(strlen(s) <= 64);
	assert_int_equal(strncmp(s, "b2a-marketing-shop42-", 21), 0);
	assert_int_equal(sl_token_parse_local(s, &ring, &u, err, sizeof(err)), SL_TOKEN_OK);
	assert_string_equal(u.category, "marketing");
	assert_string_equal(u.tenant, "shop42");
	assert_string_equal(u.msgid, "a7x2m9qd");
	assert_int_equal(u.day, DAY);
	assert_int_equal(u.kind, 'b');
	assert_int_equal(u.version, 2);
	assert_int_equal(u.kid, 'a');
	assert_int_equal(sl_token_prefix(s), 4);
}

/* test_local_longest - the longest fields still fit in 64 characters */
static void
test_local_longest(void **state)
{
	sl_token t = sample('b', "abcdefghijklmno"), u;
	char s[SL_TOKEN_LOCAL_MAX], err[128];

	(void)state;
	strcpy(t.category, "zyxwvutsrqponml");
	t.day = 1000000;
	assert_int_equal(sl_token_local(&t, &ring, s, sizeof(s)), 0);
	assert_true(strlen(s) <= 64);
	assert_int_equal(sl_token_parse_local(s, &ring, &u, err, sizeof(err)), SL_TOKEN_EXPIRED);
}

/* test_local_no_tenant - an empty tenant is "_" on the wire and "" decoded */
static void
test_local_no_tenant(void **state)
{
	sl_token t = sample('u', ""), u;
	char s[SL_TOKEN_LOCAL_MAX], err[128];

	(void)state;
	assert_int_equal(sl_token_local(&t, &ring, s, sizeof(s)), 0);
	assert_non_null(strstr(s, "-_-"));
	assert_int_equal(sl_token_parse_local(s, &ring, &u, err, sizeof(err)), SL_TOKEN_OK);
	assert_string_equal(u.tenant, "");
	assert_int_equal(u.kind, 'u');
}

/* test_local_case_insensitive - an MTA that uppercases the address still verifies */
static void
test_local_case_insensitive(void **state)
{
	sl_token t = sample('b', "shop42"), u;
	char s[SL_TOKEN_LOCAL_MAX], err[128];

	(void)state;
	assert_int_equal(sl_token_local(&t, &ring, s, sizeof(s)), 0);
	for (char *p = s; *p; p++)
		if (*p >= 'a' && *p <= 'z')
			*p = (char)(*p - 32);
	assert_int_equal(sl_token_parse_local(s, &ring, &u, err, sizeof(err)), SL_TOKEN_OK);
}

/* test_local_every_char_tampered - changing any one character breaks it */
static void
test_local_every_char_tampered(void **state)
{
	sl_token t = sample('b', "shop42"), u;
	char s[SL_TOKEN_LOCAL_MAX], err[128];

	(void)state;
	assert_int_equal(sl_token_local(&t, &ring, s, sizeof(s)), 0);
	for (size_t i = 0; s[i]; i++) {
		char copy[SL_TOKEN_LOCAL_MAX];

		strcpy(copy, s);
		copy[i] = copy[i] == 'z' ? 'y' : (copy[i] == '-' ? 'a' : 'z');
		if (copy[i] == s[i])
			copy[i] = '2';
		assert_int_not_equal(sl_token_parse_local(copy, &ring, &u, err, sizeof(err)),
		                     SL_TOKEN_OK);
	}
}

/* test_local_wrong_key - another secret under the same key id does not verify */
static void
test_local_wrong_key(void **state)
{
	sl_token t = sample('b', "shop42"), u;
	sl_token_ring other = ring_of("another-secret-of-sixteen", 'a');
	char s[SL_TOKEN_LOCAL_MAX], err[128];

	(void)state;
	assert_int_equal(sl_token_local(&t, &ring, s, sizeof(s)), 0);
	assert_int_equal(sl_token_parse_local(s, &other, &u, err, sizeof(err)), SL_TOKEN_BADMAC);
}

/* test_local_unknown_key - a key id the ring does not have is BADKEY */
static void
test_local_unknown_key(void **state)
{
	sl_token t = sample('b', "shop42"), u;
	sl_token_ring other = ring_of("0123456789abcdef0123456789abcdef", 'q');
	char s[SL_TOKEN_LOCAL_MAX], err[128];

	(void)state;
	assert_int_equal(sl_token_local(&t, &other, s, sizeof(s)), 0);
	assert_int_equal(strncmp(s, "b2q-", 4), 0);
	assert_int_equal(sl_token_parse_local(s, &ring, &u, err, sizeof(err)), SL_TOKEN_BADKEY);
	assert_non_null(strstr(err, "'q'"));
}

/* test_local_expiry - older than the lifetime: EXPIRED with its fields; a day in the future too */
static void
test_local_expiry(void **state)
{
	sl_token t = sample('b', "shop42"), u;
	char s[SL_TOKEN_LOCAL_MAX], err[128];

	(void)state;
	t.day = (unsigned)DAY - 30;
	assert_int_equal(sl_token_local(&t, &ring, s, sizeof(s)), 0);
	assert_int_equal(sl_token_parse_local(s, &ring, &u, err, sizeof(err)), SL_TOKEN_OK);
	t.day = (unsigned)DAY - 31;
	assert_int_equal(sl_token_local(&t, &ring, s, sizeof(s)), 0);
	assert_int_equal(sl_token_parse_local(s, &ring, &u, err, sizeof(err)), SL_TOKEN_EXPIRED);
	assert_string_equal(u.msgid, "a7x2m9qd");
	assert_non_null(strstr(err, "31 days old"));
	ring.lifetime = 60;
	assert_int_equal(sl_token_parse_local(s, &ring, &u, err, sizeof(err)), SL_TOKEN_OK);
	t.day = (unsigned)DAY + 2;
	assert_int_equal(sl_token_local(&t, &ring, s, sizeof(s)), 0);
	assert_int_equal(sl_token_parse_local(s, &ring, &u, err, sizeof(err)), SL_TOKEN_EXPIRED);
}

/* v1_local - a version 1 token as the old code made it: HMAC over "b1-..." */
static void
v1_local(const char *secret, const char *fields, char *out)
{
	static const char b32[] = "abcdefghijklmnopqrstuvwxyz234567";
	unsigned char md[32];
	unsigned int n = 0;
	size_t o = (size_t)sprintf(out, "%s-", fields);

	HMAC(EVP_sha256(), secret, (int)strlen(secret), (const unsigned char *)fields,
	     strlen(fields), md, &n);
	for (size_t i = 0; i < 12; i++) {
		size_t bit = i * 5;
		unsigned v = (unsigned)md[bit / 8] << 8 | md[bit / 8 + 1];

		out[o++] = b32[(v >> (11 - bit % 8)) & 31];
	}
	out[o] = '\0';
}

/* test_local_v1 - old tokens verify against any live key, report version 1, and expire */
static void
test_local_v1(void **state)
{
	char s[SL_TOKEN_LOCAL_MAX], err[128];
	sl_token u, t = sample('b', "shop42");

	(void)state;
	v1_local("0123456789abcdef0123456789abcdef", "b1-marketing-shop42-fr5-a7x2m9qd", s);
	assert_int_equal(sl_token_prefix(s), 3);
	assert_int_equal(sl_token_parse_local(s, &ring, &u, err, sizeof(err)), SL_TOKEN_OK);
	assert_int_equal(u.version, 1);
	assert_int_equal(u.kid, '\0');
	assert_int_equal(u.day, DAY);
	/* made by sl_token_local() with version 1: the same string */
	t.version = 1;
	{
		char m[SL_TOKEN_LOCAL_MAX];

		assert_int_equal(sl_token_local(&t, &ring, m, sizeof(m)), 0);
		assert_string_equal(m, s);
	}
	/* still verifies once its key is retired but live, behind a new current key */
	assert_int_equal(sl_token_ring_rotate(&ring, err, sizeof(err)), 0);
	assert_int_equal(sl_token_parse_local(s, &ring, &u, err, sizeof(err)), SL_TOKEN_OK);
	v1_local("some-other-secret-entirely", "b1-marketing-shop42-fr5-a7x2m9qd", s);
	assert_int_equal(sl_token_parse_local(s, &ring, &u, err, sizeof(err)), SL_TOKEN_BADMAC);
}

/* test_local_garbage - junk is malformed, never a crash */
static void
test_local_garbage(void **state)
{
	static const char *junk[] = {"",
	                             "-",
	                             "b1",
	                             "b2",
	                             "postmaster",
	                             "b1-a-b-c-d-e-f-g-hhhhhhhhhhhh",
	                             "x1-marketing-_-fpt-a7x2m9qd-aaaaaaaaaaaa",
	                             "b1-----aaaaaaaaaaaa",
	                             "b1-marketing-_-fpt-a7x2m9qd-aaaaaaaaaaaaa",
	                             "b2-marketing-_-fpt-a7x2m9qd-aaaaaaaaaaaa",
	                             "b21-marketing-_-fpt-a7x2m9qd-aaaaaaaaaaaa",
	                             "b2aa-marketing-_-fpt-a7x2m9qd-aaaaaaaaaaaa",
	                             "b3a-marketing-_-fpt-a7x2m9qd-aaaaaaaaaaaa",
	                             "b2a-marketing-_--a7x2m9qd-aaaaaaaaaaaa",
	                             NULL};
	sl_token u;
	char err[128];

	(void)state;
	for (int i = 0; junk[i]; i++)
		assert_int_not_equal(sl_token_parse_local(junk[i], &ring, &u, err, sizeof(err)),
		                     SL_TOKEN_OK);
	assert_int_equal(sl_token_prefix("postmaster"), 0);
	assert_int_equal(sl_token_prefix("b2-x"), 0);
	assert_int_equal(sl_token_prefix("B2A-x"), 4);
}

/* test_url_roundtrip - the URL token carries the recipient, encrypted */
static void
test_url_roundtrip(void **state)
{
	sl_token t = sample('u', "shop42"), u;
	char s[SL_TOKEN_URL_MAX], s2[SL_TOKEN_URL_MAX], err[128];

	(void)state;
	strcpy(t.rcpt, "jean-luc.picard+news@starfleet-academy.example");
	assert_int_equal(sl_token_url(&t, &ring, s, sizeof(s)), 0);
	assert_int_equal(strncmp(s, "u2a.", 4), 0);
	assert_null(strpbrk(s, "+/=@"));
	assert_null(strstr(s, "starfleet"));
	assert_int_equal(sl_token_parse_url(s, &ring, &u, err, sizeof(err)), SL_TOKEN_OK);
	assert_string_equal(u.rcpt, t.rcpt);
	assert_string_equal(u.category, "marketing");
	assert_int_equal(u.version, 2);
	/* a random nonce: the same fields never give the same token */
	assert_int_equal(sl_token_url(&t, &ring, s2, sizeof(s2)), 0);
	assert_string_not_equal(s, s2);
}

/* test_url_longest - a 320-character recipient still fits */
static void
test_url_longest(void **state)
{
	sl_token t = sample('u', "abcdefghijklmno"), u;
	char s[SL_TOKEN_URL_MAX], err[128];

	(void)state;
	memset(t.rcpt, 'x', 64);
	t.rcpt[64] = '@';
	memset(t.rcpt + 65, 'd', 255);
	t.rcpt[320] = '\0';
	assert_int_equal(sl_token_url(&t, &ring, s, sizeof(s)), 0);
	assert_int_equal(sl_token_parse_url(s, &ring, &u, err, sizeof(err)), SL_TOKEN_OK);
	assert_string_equal(u.rcpt, t.rcpt);
}

/* test_url_every_byte_tampered - any change to any byte of the AEAD form fails */
static void
test_url_every_byte_tampered(void **state)
{
	static const char b64[] =
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
	sl_token t = sample('u', "shop42"), u;
	char s[SL_TOKEN_URL_MAX], copy[SL_TOKEN_URL_MAX], err[128];
	size_t len;

	(void)state;
	strcpy(t.rcpt, "a@example.com");
	assert_int_equal(sl_token_url(&t, &ring, s, sizeof(s)), 0);
	len = strlen(s);
	for (size_t i = 0; i < len; i++)
		for (int d = 1; d < 64; d += 21) {
			const char *p = strchr(b64, s[i]);

			strcpy(copy, s);
			copy[i] = p ? b64[((size_t)(p - b64) + (size_t)d) % 64] : (char)(s[i] ^ d);
			assert_int_not_equal(sl_token_parse_url(copy, &ring, &u, err, sizeof(err)),
			                     SL_TOKEN_OK);
		}
	copy[0] = '\0';
	strncat(copy, s, len - 1);
	assert_int_not_equal(sl_token_parse_url(copy, &ring, &u, err, sizeof(err)), SL_TOKEN_OK);
	snprintf(copy, sizeof(copy), "%sAA", s);
	assert_int_not_equal(sl_token_parse_url(copy, &ring, &u, err, sizeof(err)), SL_TOKEN_OK);
}

/* test_url_wrong_and_unknown_key - another secret fails authentication; another id is BADKEY */
static void
test_url_wrong_and_unknown_key(void **state)
{
	sl_token t = sample('u', "shop42"), u;
	sl_token_ring other = ring_of("another-secret-of-sixteen", 'a');
	char s[SL_TOKEN_URL_MAX], err[128];

	(void)state;
	strcpy(t.rcpt, "a@example.com");
	assert_int_equal(sl_token_url(&t, &ring, s, sizeof(s)), 0);
	assert_int_equal(sl_token_parse_url(s, &other, &u, err, sizeof(err)), SL_TOKEN_BADMAC);
	s[2] = 'c'; /* the key id is also authenticated data */
	assert_int_equal(sl_token_parse_url(s, &ring, &u, err, sizeof(err)), SL_TOKEN_BADKEY);
	other.key[0].kid = 'c';
	assert_int_equal(sl_token_parse_url(s, &other, &u, err, sizeof(err)), SL_TOKEN_BADMAC);
}

/* test_url_expired - an old URL token is EXPIRED */
static void
test_url_expired(void **state)
{
	sl_token t = sample('u', "shop42"), u;
	char s[SL_TOKEN_URL_MAX], err[128];

	(void)state;
	strcpy(t.rcpt, "a@example.com");
	t.day = (unsigned)DAY - 40;
	assert_int_equal(sl_token_url(&t, &ring, s, sizeof(s)), 0);
	assert_int_equal(sl_token_parse_url(s, &ring, &u, err, sizeof(err)), SL_TOKEN_EXPIRED);
}

/* test_url_v1 - the readable version 1 URL form still verifies; a forged one does not */
static void
test_url_v1(void **state)
{
	/* base64url("u1-news-_-fr5-bcdefgh2-a@example.com") "." base32 mac (from the old code) */
	const char *payload = "u1-news-_-fr5-bcdefgh2-a@example.com";
	unsigned char md[32];
	unsigned int n = 0;
	char s[SL_TOKEN_URL_MAX], err[128];
	sl_token u;
	size_t o;
	static const char b32[] = "abcdefghijklmnopqrstuvwxyz234567";
	unsigned char b64[128];
	int m;

	(void)state;
	m = EVP_EncodeBlock(b64, (const unsigned char *)payload, (int)strlen(payload));
	while (m > 0 && b64[m - 1] == '=')
		b64[--m] = '\0';
	o = (size_t)sprintf(s, "%s.", b64);
	HMAC(EVP_sha256(), ring.key[0].secret, (int)ring.key[0].len, (const unsigned char *)payload,
	     strlen(payload), md, &n);
	for (size_t i = 0; i < 16; i++) {
		size_t bit = i * 5;
		unsigned v = (unsigned)md[bit / 8] << 8 | md[bit / 8 + 1];

		s[o++] = b32[(v >> (11 - bit % 8)) & 31];
	}
	s[o] = '\0';
	assert_int_equal(sl_token_parse_url(s, &ring, &u, err, sizeof(err)), SL_TOKEN_OK);
	assert_string_equal(u.rcpt, "a@example.com");
	assert_int_equal(u.version, 1);
	s[o - 1] = s[o - 1] == 'a' ? 'b' : 'a';
	assert_int_equal(sl_token_parse_url(s, &ring, &u, err, sizeof(err)), SL_TOKEN_BADMAC);
}

/* test_ring_parse - keyring text and the old single secret; bad files are refused with a line */
static void
test_ring_parse(void **state)
{
	const char *good = "sluice-keyring 1\n# comment\n\n"
	                   "b 1764700000 0 00112233445566778899aabbccddeeff\n"
	                   "a 1762000000 1764700000 ffeeddccbbaa99887766554433221100\n";
	static const char *bad[] = {
	    "sluice-keyring 1\n",
	    "sluice-keyring 1\na 1 0 0011\n",
	    "sluice-keyring 1\na 1 0 00112233445566778899aabbccddeeff\nb 1 0 "
	    "00112233445566778899aabbccddeeff\n",
	    "sluice-keyring 1\na 1 0 00112233445566778899aabbccddeeff\na 1 5 "
	    "00112233445566778899aabbccddeeff\n",
	    "sluice-keyring 1\nA 1 0 00112233445566778899aabbccddeeff\n",
	    "sluice-keyring 1\na 1 0 00112233445566778899aabbccddeefg\n",
	    "sluice-keyring 1\na 1 0 00112233445566778899aabbccddeeff extra\n",
	    "sluice-keyring 1\na -1 0 00112233445566778899aabbccddeeff\n",
	    "short\n",
	    NULL};
	sl_token_ring r = {.now = 1764700000 + 86400};
	char err[200];

	(void)state;
	assert_int_equal(sl_token_ring_parse(good, strlen(good), &r, err, sizeof(err)), 0);
	assert_int_equal(r.nkeys, 2);
	assert_int_equal(r.key[r.current].kid, 'b');
	assert_int_equal(r.key[1].secret[0], 0xff);
	assert_int_equal(r.key[1].len, 16);
	assert_non_null(sl_token_ring_find(&r, 'a'));
	for (int i = 0; bad[i]; i++) {
		assert_int_equal(sl_token_ring_parse(bad[i], strlen(bad[i]), &r, err, sizeof(err)),
		                 -1);
		assert_int_equal(r.nkeys, 0);
	}
	assert_int_equal(sl_token_ring_parse(bad[2], strlen(bad[2]), &r, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "line 3"));
	/* the old single secret: key 'a', current */
	assert_int_equal(sl_token_ring_parse("0123456789abcdef0123\n", 21, &r, err, sizeof(err)),
	                 0);
	assert_int_equal(r.nkeys, 1);
	assert_int_equal(r.legacy, 1);
	assert_int_equal(r.key[0].kid, 'a');
	assert_int_equal(r.key[0].len, 20);
	/* as the old reader: a longer file is its first 256 bytes */
	{
		char	big[300];

		memset(big, 'x', sizeof(big));
		assert_int_equal(sl_token_ring_parse(big, sizeof(big), &r, err, sizeof(err)), 0);
		assert_int_equal(r.key[0].len, SL_TOKEN_SECRET_MAX);
	}
}

/* test_ring_rotate - rotation keeps old tokens verifying, retires past the lifetime, round-trips */
static void
test_ring_rotate(void **state)
{
	sl_token t = sample('b', "shop42"), u;
	char before[SL_TOKEN_LOCAL_MAX], after[SL_TOKEN_LOCAL_MAX], err[200], text[4096];
	sl_token_ring back = {.now = ring.now};

	(void)state;
	assert_int_equal(sl_token_local(&t, &ring, before, sizeof(before)), 0);
	assert_int_equal(sl_token_ring_rotate(&ring, err, sizeof(err)), 0);
	assert_int_equal(ring.nkeys, 2);
	assert_int_equal(ring.key[ring.current].kid, 'b');
	assert_int_equal(ring.key[0].retired, ring.now);
	assert_int_equal(ring.key[ring.current].len, 32);
	assert_int_equal(sl_token_local(&t, &ring, after, sizeof(after)), 0);
	assert_int_equal(strncmp(after, "b2b-", 4), 0);
	assert_int_equal(sl_token_parse_local(before, &ring, &u, err, sizeof(err)), SL_TOKEN_OK);
	assert_int_equal(sl_token_parse_local(after, &ring, &u, err, sizeof(err)), SL_TOKEN_OK);
	/* the text form reads back to the same keys */
	assert_int_equal(sl_token_ring_format(&ring, text, sizeof(text)), 0);
	assert_int_equal(sl_token_ring_parse(text, strlen(text), &back, err, sizeof(err)), 0);
	assert_int_equal(back.nkeys, 2);
	assert_int_equal(sl_token_parse_local(before, &back, &u, err, sizeof(err)), SL_TOKEN_OK);
	assert_int_equal(sl_token_parse_local(after, &back, &u, err, sizeof(err)), SL_TOKEN_OK);
	/* 31 days later key 'a' is still live (lifetime plus a day); 32 days later it is dead */
	ring.now += 31LL * 86400;
	assert_non_null(sl_token_ring_find(&ring, 'a'));
	ring.now += 86400 + 1;
	assert_null(sl_token_ring_find(&ring, 'a'));
	assert_int_equal(sl_token_parse_local(before, &ring, &u, err, sizeof(err)),
	                 SL_TOKEN_BADKEY);
	/* the next rotation prunes it and reuses nothing still live */
	assert_int_equal(sl_token_ring_rotate(&ring, err, sizeof(err)), 0);
	assert_int_equal(ring.nkeys, 2);
	assert_int_equal(ring.key[ring.current].kid, 'c');
	assert_null(sl_token_ring_find(&ring, 'a'));
	assert_non_null(sl_token_ring_find(&ring, 'b'));
}

/* test_ring_full - 32 live keys: rotation refuses rather than reuse an id */
static void
test_ring_full(void **state)
{
	char err[200];
	int i;

	(void)state;
	for (i = 0; i < SL_TOKEN_KEYS_MAX - 1; i++)
		assert_int_equal(sl_token_ring_rotate(&ring, err, sizeof(err)), 0);
	assert_int_equal(ring.nkeys, SL_TOKEN_KEYS_MAX);
	assert_int_equal(sl_token_ring_rotate(&ring, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "live"));
}

/* test_rcpt_hash - keyed, per message, canonical (case), 16 hex digits */
static void
test_rcpt_hash(void **state)
{
	char h1[17], h2[17], h3[17], h4[17], want[17];
	unsigned char md[32];
	unsigned int n = 0;
	sl_token_ring other = ring_of("another-secret-of-sixteen", 'a');

	(void)state;
	assert_int_equal(sl_token_rcpt_hash(&ring, 'a', "a7x2m9qd", "Some.One@Example.COM", h1), 0);
	assert_int_equal(strlen(h1), 16);
	assert_int_equal(sl_token_rcpt_hash(&ring, 'a', "a7x2m9qd", "<some.one@example.com>", h2),
	                 0);
	assert_string_equal(h1, h2);
	assert_int_equal(sl_token_rcpt_hash(&ring, 'a', "b7x2m9qd", "some.one@example.com", h3), 0);
	assert_string_not_equal(h1, h3);
	assert_int_equal(sl_token_rcpt_hash(&other, 'a', "a7x2m9qd", "some.one@example.com", h4),
	                 0);
	assert_string_not_equal(h1, h4);
	assert_int_equal(sl_token_rcpt_hash(&ring, 'a', "a7x2m9qd", "other@example.com", h4), 0);
	assert_string_not_equal(h1, h4);
	assert_int_equal(sl_token_rcpt_hash(&ring, 'z', "a7x2m9qd", "some.one@example.com", h4),
	                 -1);
	assert_int_equal(sl_token_rcpt_hash(&ring, 'a', "a7x2m9qd", "no-at-sign", h4), -1);
	/* the documented construction: HMAC-SHA256(secret, msgid NUL address), first 8 bytes */
	HMAC(EVP_sha256(), ring.key[0].secret, (int)ring.key[0].len,
	     (const unsigned char *)"a7x2m9qd\0some.one@example.com", 29, md, &n);
	for (int i = 0; i < 8; i++)
		sprintf(want + 2 * i, "%02x", md[i]);
	assert_string_equal(h1, want);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup(test_local_roundtrip, setup),
	    cmocka_unit_test_setup(test_local_longest, setup),
	    cmocka_unit_test_setup(test_local_no_tenant, setup),
	    cmocka_unit_test_setup(test_local_case_insensitive, setup),
	    cmocka_unit_test_setup(test_local_every_char_tampered, setup),
	    cmocka_unit_test_setup(test_local_wrong_key, setup),
	    cmocka_unit_test_setup(test_local_unknown_key, setup),
	    cmocka_unit_test_setup(test_local_expiry, setup),
	    cmocka_unit_test_setup(test_local_v1, setup),
	    cmocka_unit_test_setup(test_local_garbage, setup),
	    cmocka_unit_test_setup(test_url_roundtrip, setup),
	    cmocka_unit_test_setup(test_url_longest, setup),
	    cmocka_unit_test_setup(test_url_every_byte_tampered, setup),
	    cmocka_unit_test_setup(test_url_wrong_and_unknown_key, setup),
	    cmocka_unit_test_setup(test_url_expired, setup),
	    cmocka_unit_test_setup(test_url_v1, setup),
	    cmocka_unit_test_setup(test_ring_parse, setup),
	    cmocka_unit_test_setup(test_ring_rotate, setup),
	    cmocka_unit_test_setup(test_ring_full, setup),
	    cmocka_unit_test_setup(test_rcpt_hash, setup),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
