/*
 * NAME
 *	token 3h - signed tokens for bounce and unsubscribe addresses, the
 *	keyring that signs them, and the keyed recipient hash
 * SYNOPSIS
 *	A token carries a kind, the category, the tenant, the day and a
 *	message id, authenticated by a truncated HMAC-SHA256 under one key
 *	of the keyring, named by its key id. Encodings (doc/tokens.md):
 *	  address local part:  <kind>2<kid>-<category>-<tenant>-<day>-<msgid>-<mac>
 *	    e.g. b2c-marketing-shop42-k3f-a7x2m9qd-q4t6z2kd0pmw
 *	    (lowercase base32/base36 only, at most 64 characters: survives
 *	    MTAs that change case); tenant "_" means none.
 *	  URL token (one-click unsubscribe, carries the recipient too):
 *	    "u2<kid>." base64url(nonce, AES-256-GCM ciphertext, tag): the
 *	    recipient cannot be read without the key.
 *	Version 1 tokens ("b1-", "u1-", the readable URL form) made before
 *	key ids existed still verify against every key of the ring, so mail
 *	sent before the upgrade is still recognised; version is 1 for them.
 *	sl_token_rcpt_hash() is the keyed hash of one recipient of a message
 *	that sluice-milter stores per message and sluice-feedback checks.
 * KEYRING
 *	sl_token_ring_load() reads the secret_file: either a keyring written
 *	by sluicectl secret ("sluice-keyring 1" then "kid created retired
 *	hex-secret" lines) or, as before, one raw secret (key id 'a'). The
 *	current key (retired 0) signs; retired keys verify for the token
 *	lifetime after they were retired, then they are ignored.
 * ERRORS
 *	sl_token_parse*() return SL_TOKEN_OK, SL_TOKEN_MALFORMED,
 *	SL_TOKEN_BADMAC, SL_TOKEN_BADKEY (key id unknown or retired past the
 *	lifetime) or SL_TOKEN_EXPIRED (older than the lifetime: the fields
 *	are filled in all the same); err says what is wrong.
 */
#ifndef SL_TOKEN_H
#define SL_TOKEN_H

#include <stddef.h>

#define SL_TOKEN_VERSION	2
#define SL_TOKEN_LABEL_MAX	15	/* category and tenant names */
#define SL_TOKEN_MSGID_LEN	8
#define SL_TOKEN_LOCAL_MAX	65	/* local part plus NUL */
#define SL_TOKEN_URL_MAX	640
#define SL_TOKEN_KEYS_MAX	32	/* one per key id a-z2-7 */
#define SL_TOKEN_SECRET_MAX	256
#define SL_TOKEN_LIFETIME_DEFAULT 30	/* days */
#define SL_TOKEN_RCPT_HASH_LEN	16	/* hex characters: 64 bits */

enum {
	SL_TOKEN_OK = 0, SL_TOKEN_MALFORMED = -1, SL_TOKEN_BADMAC = -2,
	SL_TOKEN_BADKEY = -3, SL_TOKEN_EXPIRED = -4
};

typedef struct sl_token {
	char	kind;				/* 'b' or 'u' */
	int	version;			/* 2; 1 for old tokens (0 makes 2) */
	char	kid;				/* version 2: the signing key's id */
	char	category[SL_TOKEN_LABEL_MAX + 1];
	char	tenant[SL_TOKEN_LABEL_MAX + 1];	/* "" for none */
	unsigned day;				/* days since 1970-01-01 UTC */
	char	msgid[SL_TOKEN_MSGID_LEN + 1];	/* base32 */
	char	rcpt[321];			/* URL form only */
} sl_token;

typedef struct sl_token_key {
	char	kid;				/* a-z2-7 */
	long long created;			/* unix time */
	long long retired;			/* unix time; 0: the current key */
	unsigned char secret[SL_TOKEN_SECRET_MAX];
	size_t	len;
} sl_token_key;

typedef struct sl_token_ring {
	sl_token_key key[SL_TOKEN_KEYS_MAX];
	int	nkeys;
	int	current;			/* index of the signing key */
	int	legacy;				/* the file is one raw secret */
	unsigned lifetime;			/* days; 0 means the default */
	long long now;				/* tests: a fixed clock; 0: time() */
} sl_token_ring;

void	sl_token_new_msgid(char out[SL_TOKEN_MSGID_LEN + 1]);
unsigned sl_token_today(void);
int	sl_token_prefix(const char *s);
int	sl_token_local(const sl_token *t, const sl_token_ring *ring,
		       char *out, size_t outlen);
int	sl_token_parse_local(const char *local, const sl_token_ring *ring,
			     sl_token *t, char *err, size_t errlen);
int	sl_token_url(const sl_token *t, const sl_token_ring *ring,
		     char *out, size_t outlen);
int	sl_token_parse_url(const char *s, const sl_token_ring *ring,
			   sl_token *t, char *err, size_t errlen);
int	sl_token_rcpt_hash(const sl_token_ring *ring, char kid, const char *msgid,
			   const char *addr, char out[SL_TOKEN_RCPT_HASH_LEN + 1]);

/* token_keyring.c */
int	sl_token_ring_load(const char *path, unsigned lifetime, sl_token_ring *ring,
			   char *err, size_t errlen);
int	sl_token_ring_parse(const char *buf, size_t len, sl_token_ring *ring,
			    char *err, size_t errlen);
int	sl_token_ring_format(const sl_token_ring *ring, char *out, size_t outlen);
int	sl_token_ring_init(sl_token_ring *ring);
int	sl_token_ring_rotate(sl_token_ring *ring, char *err, size_t errlen);
const sl_token_key *sl_token_ring_find(const sl_token_ring *ring, char kid);
long long sl_token_ring_now(const sl_token_ring *ring);
unsigned sl_token_ring_lifetime(const sl_token_ring *ring);

#endif
