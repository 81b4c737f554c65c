/*
 * NAME
 *	fuzz_token - libFuzzer target for the token and keyring parsers
 * SYNOPSIS
 *	clang -fsanitize=fuzzer,address -Ilib -I<builddir> \
 *	    tests/fuzz/fuzz_token.c lib/libsluice.a -lcrypto ...
 *	./a.out tests/fuzz/fuzz_token_seeds
 * DESCRIPTION
 *	The input, as a string, goes to sl_token_parse_local() (bounce and
 *	unsubscribe addresses reach sluice-feedback from anyone),
 *	sl_token_parse_url() (the one-click path of sluice-policyd) and
 *	sl_token_prefix(); as a buffer to sl_token_ring_parse(). Promises
 *	checked: a local part that verifies re-encodes to the same string
 *	(lowercased); a URL token that verifies names a recipient with '@';
 *	a ring that parses has one current key and keys of 16+ bytes.
 *	The ring used has key 'a' (current) and 'b' (retired, still live),
 *	the clock on day 20417 (fuzz_token_ring()).
 */
#include "config.h"

#include <ctype.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "token.h"

void fuzz_token_ring(sl_token_ring *ring);

/* fuzz_token_ring - the fixed ring the seeds were made with */
void
fuzz_token_ring(sl_token_ring *ring)
{
	memset(ring, 0, sizeof(*ring));
	ring->nkeys = 2;
	ring->current = 0;
	ring->now = 20417LL * 86400 + 3600;
	ring->key[0].kid = 'a';
	ring->key[0].len = 32;
	memcpy(ring->key[0].secret, "0123456789abcdef0123456789abcdef", 32);
	ring->key[1].kid = 'b';
	ring->key[1].len = 16;
	ring->key[1].retired = ring->now - 86400;
	memcpy(ring->key[1].secret, "fedcba9876543210", 16);
}

/* check_local - a verified version 2 local part re-encodes to itself */
static void
check_local(const char *s, const sl_token_ring *ring)
{
	sl_token t;
	char err[128], again[SL_TOKEN_LOCAL_MAX], low[SL_TOKEN_LOCAL_MAX];
	sl_token_ring one = *ring;

	if (sl_token_parse_local(s, ring, &t, err, sizeof(err)) != SL_TOKEN_OK)
		return;
	if (t.version == 2) {
		for (int i = 0; i < one.nkeys; i++)
			if (one.key[i].kid == t.kid)
				one.current = i;
		if (sl_token_local(&t, &one, again, sizeof(again)) < 0 || strlen(s) >= sizeof(low))
			abort();
		for (size_t i = 0; i <= strlen(s); i++)
			low[i] = (char)tolower((unsigned char)s[i]);
		if (strcmp(again, low) != 0)
			abort();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* LLVMFuzzerTestOneInput - every parser on one input */
int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int init;
	sl_token_ring ring, parsed;
	sl_token t;
	char *s = malloc(size + 1), err[200];

	if (!init) {
		sl_log_init("fuzz_token", 0, SL_LOG_ERROR);
		init = 1;
	}
	memcpy(s, data, size);
	s[size] = '\0';
	fuzz_token_ring(&ring);
	check_local(s, &ring);
	if (sl_token_parse_url(s, &ring, &t, err, sizeof(err)) == SL_TOKEN_OK &&
	    !strchr(t.rcpt, '@'))
		abort();
	(void)sl_token_prefix(s);
	memset(&parsed, 0, sizeof(parsed));
	if (sl_token_ring_parse((const char *)data, size, &parsed, err, sizeof(err)) == 0) {
		if (parsed.current < 0 || parsed.current >= parsed.nkeys ||
		    parsed.key[parsed.current].retired != 0)
			abort();
		for (int i = 0; i < parsed.nkeys; i++)
			if (parsed.key[i].len < 16 || parsed.key[i].len > SL_TOKEN_SECRET_MAX)
				abort();
	}
	free(s);
	return 0;
}
