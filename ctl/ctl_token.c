/*
 * NAME
 *	ctl_token 3 - sluicectl token decode|encode: bounce and unsubscribe tokens
 * DESCRIPTION
 *	"decode" verifies a token with the keyring of the config's
 *	secret_file and prints its fields (an expired one too, saying so).
 *	It takes a bounce or unsubscribe address, its local part, a one-click
 *	URL token, or the whole unsubscribe URL (the token is its last path
 *	segment, or the value of its query parameter). "encode" (not in the short usage: for tests and
 *	for operators checking a setup) makes a token with lib/token.c: the
 *	local part, and the URL token too when --rcpt is given.
 * ERRORS
 *	decode exits 1 when the token is malformed, does not verify, names an
 *	unknown or retired key or is expired, 78 when there is no usable
 *	secret_file.
 */
#include "config.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <time.h>

#include "ctl.h"
#include "token.h"

static const struct option encode_longopts[] = {
	{"kind", required_argument, NULL, 'k'},
	{"category", required_argument, NULL, 'c'},
	{"tenant", required_argument, NULL, 't'},
	{"day", required_argument, NULL, 'd'},
	{"msgid", required_argument, NULL, 'm'},
	{"rcpt", required_argument, NULL, 'r'},
	{"version", required_argument, NULL, 'v'},
	{NULL, 0, NULL, 0}
};

/* ctl_token_ring - the token keyring of secret_file, or exit 78 */
void
ctl_token_ring(const ctl_ctx *ctx, sl_token_ring *ring)
{
	char	err[512];
	int	rc = sl_conf_token_ring(ctx->conf, ring, err, sizeof(err));

	if (rc == 1) {
		ctl_err("%s: no secret_file set: tokens cannot be checked", ctx->conf_path);
		exit(EX_CONFIG);
	}
	if (rc < 0) {
		ctl_err("secret_file %s", err);
		exit(EX_CONFIG);
	}
}

/* url_token - the token inside an unsubscribe URL */
static void
url_token(const char *url, char *out, size_t outlen)
{
	const char *q = strchr(url, '?'), *eq, *slash;
	size_t	n;

	if (q && (eq = strchr(q, '=')) != NULL) {
		n = strcspn(eq + 1, "&#");
		snprintf(out, outlen, "%.*s", (int) n, eq + 1);
		return;
	}
	n = q ? (size_t) (q - url) : strlen(url);
	while (n > 0 && url[n - 1] == '/')
		n--;
	for (slash = url + n; slash > url && slash[-1] != '/'; slash--)
		;
	snprintf(out, outlen, "%.*s", (int) (url + n - slash), slash);
}

/* print_token - the fields, one per line */
static void
print_token(const sl_token *t, int url)
{
	time_t	day = (time_t) t->day * 86400;
	char	date[32];
	struct tm tm;

	gmtime_r(&day, &tm);
	strftime(date, sizeof(date), "%Y-%m-%d", &tm);
	printf("form: %s\n", url ? "url" : "address");
	printf("kind: %s\n", t->kind == 'b' ? "bounce" : "unsubscribe");
	printf("version: %d\n", t->version);
	if (t->version >= 2)
		printf("key: %c\n", t->kid);
	printf("category: %s\n", t->category);
	printf("tenant: %s\n", t->tenant[0] ? t->tenant : "-");
	printf("day: %u (%s)\n", t->day, date);
	printf("msgid: %s\n", t->msgid);
	if (url)
		printf("recipient: %s\n", t->rcpt);
}

/* ctl_token_decode - verify a token and print it; 1 when it does not verify */
int
ctl_token_decode(ctl_ctx *ctx, int argc, char **argv)
{
	char	buf[SL_TOKEN_URL_MAX + 1], err[256], *at;
	sl_token_ring ring;
	sl_token t;
	int	url, rc;

	if (argc != 2)
		ctl_usage(ctx);
	ctl_token_ring(ctx, &ring);
	if (strstr(argv[1], "://"))
		url_token(argv[1], buf, sizeof(buf));
	else
		snprintf(buf, sizeof(buf), "%s", argv[1] + (argv[1][0] == '<'));
	if ((at = strrchr(buf, '@')) != NULL)
		*at = '\0';
	url = at == NULL && strchr(buf, '.') != NULL;
	rc = url ? sl_token_parse_url(buf, &ring, &t, err, sizeof(err))
		 : sl_token_parse_local(buf, &ring, &t, err, sizeof(err));
	if (rc == SL_TOKEN_EXPIRED) {
		print_token(&t, url);
		printf("expired: yes\n");
	} else if (rc != SL_TOKEN_OK)
		printf("%s: %s\n", buf, rc == SL_TOKEN_BADMAC ? "does not verify"
		       : rc == SL_TOKEN_BADKEY ? "unknown or retired key" : "malformed");
	else
		print_token(&t, url);
	if (rc != SL_TOKEN_OK)
		ctl_err("%s", err);
	return rc == SL_TOKEN_OK ? 0 : CTL_NO;
}

/* encode_opt - one option of encode into t; -1 when bad */
static int
encode_opt(int ch, sl_token *t)
{
	long long v;

	switch (ch) {
	case 'k':
		t->kind = optarg[0];
		return (optarg[0] == 'b' || optarg[0] == 'u') && optarg[1] == '\0' ? 0 : -1;
	case 'c':
		return snprintf(t->category, sizeof(t->category), "%s", optarg) < (int) sizeof(t->category) ? 0 : -1;
	case 't':
		return snprintf(t->tenant, sizeof(t->tenant), "%s", optarg) < (int) sizeof(t->tenant) ? 0 : -1;
	case 'd':
		if (ctl_parse_long(optarg, 0, 1000000, &v) < 0)
			return -1;
		t->day = (unsigned) v;
		return 0;
	case 'm':
		return snprintf(t->msgid, sizeof(t->msgid), "%s", optarg) < (int) sizeof(t->msgid) ? 0 : -1;
	case 'r':
		return snprintf(t->rcpt, sizeof(t->rcpt), "%s", optarg) < (int) sizeof(t->rcpt) ? 0 : -1;
	case 'v':	/* 1: the old format, for migration tests */
		t->version = optarg[0] - '0';
		return (optarg[0] == '1' || optarg[0] == '2') && optarg[1] == '\0' ? 0 : -1;
	}
	return -1;
}

/* ctl_token_encode - make a token (local part, and URL form with --rcpt) */
int
ctl_token_encode(ctl_ctx *ctx, int argc, char **argv)
{
	sl_token t = {.kind = 'b', .day = sl_token_today()};
	char	local[SL_TOKEN_LOCAL_MAX], url[SL_TOKEN_URL_MAX];
	sl_token_ring ring;
	int	ch;

	sl_token_new_msgid(t.msgid);
	while ((ch = getopt_long(argc, argv, "", encode_longopts, NULL)) != -1)
		if (encode_opt(ch, &t) < 0)
			ctl_usage(ctx);
	if (optind != argc || t.category[0] == '\0')
		ctl_usage(ctx);
	ctl_token_ring(ctx, &ring);
	if (sl_token_local(&t, &ring, local, sizeof(local)) < 0) {
		ctl_err("cannot make a token of these fields (names are 1-15 of a-z 0-9, "
			"msgid 8 of a-z 2-7)");
		return EX_USAGE;
	}
	printf("%s\n", local);
	if (t.rcpt[0] && t.version == 1) {
		ctl_err("--rcpt: version 1 URL tokens are no longer made");
		return EX_USAGE;
	}
	if (t.rcpt[0] && sl_token_url(&t, &ring, url, sizeof(url)) < 0) {
		ctl_err("cannot make a URL token for %s", t.rcpt);
		return EX_USAGE;
	}
	if (t.rcpt[0])
		printf("%s\n", url);
	return 0;
}
