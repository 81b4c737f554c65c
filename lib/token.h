/*
 * NAME
 *	token 3h - stateless signed tokens for bounce and unsubscribe addresses
 * SYNOPSIS
 *	A token carries a kind, the category, the tenant, the day and a
 *	message id, authenticated by a truncated HMAC-SHA256 under a secret.
 *	Two encodings (format in doc/tokens.md):
 *	  address local part:  <kind>1-<category>-<tenant>-<day>-<msgid>-<mac>
 *	    e.g. b1-marketing-shop42-k3f-a7x2m9qd-q4t6z2kd0pmw
 *	    (lowercase base32/base36 only, at most 64 characters: survives
 *	    MTAs that change case); tenant "0" means none.
 *	  URL token (one-click unsubscribe, carries the recipient too):
 *	    base64url of the same fields plus the recipient address.
 *	kind is 'b' (bounce: envelope sender) or 'u' (unsubscribe mailto).
 * ERRORS
 *	sl_token_parse*() return SL_TOKEN_OK, SL_TOKEN_MALFORMED or
 *	SL_TOKEN_BADMAC; err says what is wrong.
 */
#ifndef SL_TOKEN_H
#define SL_TOKEN_H

#include <stddef.h>

#define SL_TOKEN_VERSION	1
#define SL_TOKEN_LABEL_MAX	15	/* category and tenant names */
#define SL_TOKEN_MSGID_LEN	8
#define SL_TOKEN_LOCAL_MAX	65	/* local part plus NUL */
#define SL_TOKEN_URL_MAX	640

enum { SL_TOKEN_OK = 0, SL_TOKEN_MALFORMED = -1, SL_TOKEN_BADMAC = -2 };

typedef struct sl_token {
	char	kind;				/* 'b' or 'u' */
	char	category[SL_TOKEN_LABEL_MAX + 1];
	char	tenant[SL_TOKEN_LABEL_MAX + 1];	/* "" for none */
	unsigned day;				/* days since 1970-01-01 UTC */
	char	msgid[SL_TOKEN_MSGID_LEN + 1];	/* base32 */
	char	rcpt[321];			/* URL form only */
} sl_token;

typedef struct sl_token_key {
	unsigned char secret[256];
	size_t	len;
} sl_token_key;

void	sl_token_new_msgid(char out[SL_TOKEN_MSGID_LEN + 1]);
unsigned sl_token_today(void);
int	sl_token_local(const sl_token *t, const sl_token_key *key,
		       char *out, size_t outlen);
int	sl_token_parse_local(const char *local, const sl_token_key *key,
			     sl_token *t, char *err, size_t errlen);
int	sl_token_url(const sl_token *t, const sl_token_key *key,
		     char *out, size_t outlen);
int	sl_token_parse_url(const char *s, const sl_token_key *key,
			   sl_token *t, char *err, size_t errlen);

#endif
