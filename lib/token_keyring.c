/*
 * NAME
 *	token_keyring 3 - the keyring of token secrets (secret_file)
 * SYNOPSIS
 *	sl_token_ring_load(path, lifetime, &ring, err, len)	0 or -1
 *	sl_token_ring_parse(buf, len, &ring, err, len)		pure
 *	sl_token_ring_format(&ring, out, len)			the file's text
 *	sl_token_ring_init(&ring)	one fresh current key
 *	sl_token_ring_rotate(&ring, err, len)	retire current, add a new one
 *	sl_token_ring_find(&ring, kid)	a live key, or NULL
 * DESCRIPTION
 *	The file every Sluice program reads to make and check tokens:
 *
 *	    sluice-keyring 1
 *	    # kid created retired secret(hex)
 *	    b 1764700000 0 9f3a...
 *	    a 1762000000 1764700000 4c1d...
 *
 *	One key per line: key id (one of a-z2-7), creation and retirement
 *	times (unix seconds; retired 0 marks the one current key, which
 *	signs), the secret in hex (16 to 256 bytes). A key retired more than
 *	the token lifetime (plus a day, for the day granularity of tokens)
 *	ago is dead: it verifies nothing and the next rotation prunes it.
 *	A file that does not start with the "sluice-keyring 1" line is the
 *	old single raw secret (trailing newline ignored): it is read as key
 *	'a', current, and the first rotation rewrites it as a keyring.
 *	File access (owner, mode, atomic rewrite) is sluicectl's; this file
 *	reads through sl_conf_check_private_file() and never writes.
 * ERRORS
 *	-1 with err ("path:line: what"); the ring is then empty.
 */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "conf.h"
#include "token.h"

#define RING_MAGIC "sluice-keyring 1"
#define RING_FILE_MAX 65536
#define NEW_SECRET_LEN 32

static const char kids[] = "abcdefghijklmnopqrstuvwxyz234567";

/* sl_token_ring_now - the ring's clock: fixed in tests, else time() */
long long
sl_token_ring_now(const sl_token_ring *ring)
{
	return ring && ring->now ? ring->now : (long long)time(NULL);
}

/* sl_token_ring_lifetime - the token lifetime in days */
unsigned
sl_token_ring_lifetime(const sl_token_ring *ring)
{
	return ring && ring->lifetime ? ring->lifetime : SL_TOKEN_LIFETIME_DEFAULT;
}

/* key_live - may this key still verify tokens? */
static int
key_live(const sl_token_ring *ring, const sl_token_key *k)
{
	return k->retired == 0 || sl_token_ring_now(ring) - k->retired <=
	                              ((long long)sl_token_ring_lifetime(ring) + 1) * 86400;
}

/* sl_token_ring_find - the live key with this id, or NULL */
const sl_token_key *
sl_token_ring_find(const sl_token_ring *ring, char kid)
{
	for (int i = 0; ring && i < ring->nkeys; i++)
		if (ring->key[i].kid == kid)
			return key_live(ring, &ring->key[i]) ? &ring->key[i] : NULL;
	return NULL;
}

/* ring_clear - forget every key, keep lifetime and clock */
static void
ring_clear(sl_token_ring *ring)
{
	OPENSSL_cleanse(ring->key, sizeof(ring->key));
	ring->nkeys = 0;
	ring->current = -1;
	ring->legacy = 0;
}

/* hex_secret - decode a hex secret into k; -1 when bad */
static int
hex_secret(const char *s, sl_token_key *k)
{
	size_t n = strlen(s);

	if (n % 2 || n / 2 < 16 || n / 2 > sizeof(k->secret))
		return -1;
	for (size_t i = 0; i < n / 2; i++) {
		unsigned v;

		if (!isxdigit((unsigned char)s[2 * i]) || !isxdigit((unsigned char)s[2 * i + 1]) ||
		    sscanf(s + 2 * i, "%2x", &v) != 1)
			return -1;
		k->secret[i] = (unsigned char)v;
	}
	k->len = n / 2;
	return 0;
}

/* ring_line - one "kid created retired secret" line into the ring */
static int
ring_line(sl_token_ring *ring, char *line, char *err, size_t errlen)
{
	char kid[4], secret[2 * SL_TOKEN_SECRET_MAX + 2], extra[2];
	long long created, retired;
	sl_token_key *k;

	if (sscanf(line, "%3s %lld %lld %513s %1s", kid, &created, &retired, secret, extra) != 4 ||
	    kid[1] != '\0' || strchr(kids, kid[0]) == NULL || created < 0 || retired < 0) {
		snprintf(err, errlen, "expected \"kid created retired hex-secret\"");
		return -1;
	}
	for (int i = 0; i < ring->nkeys; i++)
		if (ring->key[i].kid == kid[0]) {
			snprintf(err, errlen, "key id '%c' appears twice", kid[0]);
			return -1;
		}
	if (ring->nkeys == SL_TOKEN_KEYS_MAX) {
		snprintf(err, errlen, "more than %d keys", SL_TOKEN_KEYS_MAX);
		return -1;
	}
	k = &ring->key[ring->nkeys];
	if (hex_secret(secret, k) < 0) {
		snprintf(err, errlen, "key '%c': the secret must be 32 to 512 hex digits", kid[0]);
		return -1;
	}
	k->kid = kid[0], k->created = created, k->retired = retired;
	if (retired == 0 && ring->current >= 0) {
		snprintf(err, errlen, "more than one current key (retired 0)");
		return -1;
	}
	if (retired == 0)
		ring->current = ring->nkeys;
	ring->nkeys++;
	return 0;
}

/*
 * parse_legacy - the old single raw secret, as current key 'a': as the old
 * reader did, its first SL_TOKEN_SECRET_MAX bytes, trailing newlines dropped
 */
static int
parse_legacy(const char *buf, size_t len, sl_token_ring *ring, char *err, size_t errlen)
{
	if (len > SL_TOKEN_SECRET_MAX)
		len = SL_TOKEN_SECRET_MAX;
	while (len > 0 && (buf[len - 1] == '\n' || buf[len - 1] == '\r'))
		len--;
	if (len < 16) {
		snprintf(err, errlen, "secret shorter than 16 bytes");
		return -1;
	}
	memcpy(ring->key[0].secret, buf, len);
	ring->key[0].len = len;
	ring->key[0].kid = 'a';
	ring->nkeys = 1;
	ring->current = 0;
	ring->legacy = 1;
	return 0;
}

/* sl_token_ring_parse - a keyring (or an old raw secret) from a buffer */
int
sl_token_ring_parse(const char *buf, size_t len, sl_token_ring *ring, char *err, size_t errlen)
{
	char line[2 * SL_TOKEN_SECRET_MAX + 64], why[128];
	size_t pos = 0, mlen = strlen(RING_MAGIC);
	int lineno = 0;

	ring_clear(ring);
	if (len < mlen || memcmp(buf, RING_MAGIC, mlen) != 0 ||
	    (len > mlen && !isspace((unsigned char)buf[mlen])))
		return parse_legacy(buf, len, ring, err, errlen);
	while (pos < len) {
		const char *nl = memchr(buf + pos, '\n', len - pos);
		size_t n = nl ? (size_t)(nl - buf) - pos : len - pos;

		lineno++;
		if (n >= sizeof(line) || memchr(buf + pos, '\0', n)) {
			snprintf(err, errlen, "line %d: too long or not text", lineno);
			goto bad;
		}
		memcpy(line, buf + pos, n);
		line[n] = '\0';
		pos += n + 1;
		if (lineno == 1 || line[strspn(line, " \t\r")] == '\0' ||
		    line[strspn(line, " \t")] == '#')
			continue;
		if (ring_line(ring, line, why, sizeof(why)) < 0) {
			snprintf(err, errlen, "line %d: %s", lineno, why);
			goto bad;
		}
	}
	if (ring->current >= 0)
		return 0;
	snprintf(err, errlen, "no current key (a line with retired 0)");
bad:
	ring_clear(ring);
	return -1;
}

/* sl_token_ring_load - read the secret_file (private: mode 600) */
int
sl_token_ring_load(const char *path, unsigned lifetime, sl_token_ring *ring, char *err,
                   size_t errlen)
{
	char *buf, why[200];
	ssize_t n;
	int fd, rc;

	memset(ring, 0, sizeof(*ring));
	ring->current = -1;
	ring->lifetime = lifetime;
	if (sl_conf_check_private_file(path, err, errlen) < 0)
		return -1;
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	buf = malloc(RING_FILE_MAX + 1);
	n = buf ? read(fd, buf, RING_FILE_MAX + 1) : -1;
	close(fd);
	if (n < 0 || n > RING_FILE_MAX) {
		snprintf(err, errlen, "%s: %s", path, n < 0 ? strerror(errno) : "file too large");
		free(buf);
		return -1;
	}
	if ((rc = sl_token_ring_parse(buf, (size_t)n, ring, why, sizeof(why))) < 0)
		snprintf(err, errlen, "%s: %s", path, why);
	OPENSSL_cleanse(buf, (size_t)n);
	free(buf);
	return rc;
}

/* sl_token_ring_format - the keyring's text, as sluicectl writes it; -1: too small */
int
sl_token_ring_format(const sl_token_ring *ring, char *out, size_t outlen)
{
	size_t o = (size_t)snprintf(out, outlen,
	                            "%s\n# kid created retired secret(hex); "
	                            "written by sluicectl secret, see doc/tokens.md\n",
	                            RING_MAGIC);

	for (int i = 0; i < ring->nkeys && o < outlen; i++) {
		const sl_token_key *k = &ring->key[i];

		o += (size_t)snprintf(out + o, outlen - o, "%c %lld %lld ", k->kid, k->created,
		                      k->retired);
		for (size_t b = 0; b < k->len && o < outlen; b++)
			o += (size_t)snprintf(out + o, outlen - o, "%02x", k->secret[b]);
		if (o < outlen)
			o += (size_t)snprintf(out + o, outlen - o, "\n");
	}
	return o < outlen ? 0 : -1;
}

/* new_key - a key with a fresh random secret; -1 when there is no randomness */
static int
new_key(sl_token_key *k, char kid, long long now)
{
	memset(k, 0, sizeof(*k));
	if (RAND_priv_bytes(k->secret, NEW_SECRET_LEN) != 1)
		return -1;
	k->len = NEW_SECRET_LEN;
	k->kid = kid;
	k->created = now;
	return 0;
}

/* sl_token_ring_init - a ring of one fresh key 'a' */
int
sl_token_ring_init(sl_token_ring *ring)
{
	ring_clear(ring);
	if (new_key(&ring->key[0], 'a', sl_token_ring_now(ring)) < 0)
		return -1;
	ring->nkeys = 1;
	ring->current = 0;
	return 0;
}

/* ring_prune - drop dead keys (retired longer ago than the lifetime) */
static void
ring_prune(sl_token_ring *ring)
{
	int o = 0;
	char cur = ring->key[ring->current].kid;

	for (int i = 0; i < ring->nkeys; i++)
		if (key_live(ring, &ring->key[i]))
			ring->key[o++] = ring->key[i];
	OPENSSL_cleanse(ring->key + o, sizeof(ring->key[0]) * (size_t)(ring->nkeys - o));
	ring->nkeys = o;
	for (int i = 0; i < o; i++)
		if (ring->key[i].kid == cur)
			ring->current = i;
}

/* next_kid - the first id after the current one that no key uses */
static char
next_kid(const sl_token_ring *ring)
{
	const char *p = strchr(kids, ring->key[ring->current].kid);
	size_t start = p ? (size_t)(p - kids) : 0;

	for (size_t i = 1; i <= sizeof(kids) - 1; i++) {
		char c = kids[(start + i) % (sizeof(kids) - 1)];
		int used = 0;

		for (int k = 0; k < ring->nkeys; k++)
			used |= ring->key[k].kid == c;
		if (!used)
			return c;
	}
	return '\0';
}

/* sl_token_ring_rotate - retire the current key, prune dead ones, add a new current key */
int
sl_token_ring_rotate(sl_token_ring *ring, char *err, size_t errlen)
{
	long long now = sl_token_ring_now(ring);
	char kid;

	if (ring->nkeys < 1 || ring->current < 0) {
		snprintf(err, errlen, "the keyring has no current key");
		return -1;
	}
	ring_prune(ring);
	if (ring->nkeys == SL_TOKEN_KEYS_MAX || (kid = next_kid(ring)) == '\0') {
		snprintf(err, errlen,
		         "%d keys still live: wait until the oldest is past the "
		         "token lifetime",
		         ring->nkeys);
		return -1;
	}
	if (new_key(&ring->key[ring->nkeys], kid, now) < 0) {
		snprintf(err, errlen, "no random bytes for a new secret");
		return -1;
	}
	ring->key[ring->current].retired = now;
	ring->current = ring->nkeys++;
	ring->legacy = 0;
	return 0;
}
