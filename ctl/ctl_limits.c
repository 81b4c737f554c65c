/*
 * NAME
 *	ctl_limits 3 - sluicectl limits list|show
 * DESCRIPTION
 *	A limit is the hash <prefix>limit:<name>, defined by sluice-policyd
 *	(doc/redis-keys.md): fields such as key, rate, burst, window, unit,
 *	mode. sluicectl shows them as they are (HGETALL), so a field added
 *	by policyd later shows up without a change here. Keys below a limit
 *	(<prefix>limit:<name>:...) and keys that are not hashes are skipped.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl.h"

/* limit_scan - SCAN callback: one line per limit, its fields inline */
static int
limit_scan(ctl_ctx *ctx, const char *key, void *arg)
{
	const char *name = key + strlen(ctx->prefix) + 6;
	long   *count = arg;
	sl_reply *h;

	if (*name == '\0' || strchr(name, ':') || (h = ctl_hgetall(ctx, key)) == NULL)
		return 0;
	printf("%-24s", name);
	for (size_t i = 0; i + 1 < h->elements; i += 2) {
		printf(" %s=", h->element[i]->str);
		ctl_print_value(stdout, h->element[i + 1]->str ? h->element[i + 1]->str : "");
	}
	putchar('\n');
	(*count)++;
	sl_reply_free(h);
	return 0;
}

/* ctl_limits_list - every limit with its fields */
int
ctl_limits_list(ctl_ctx *ctx, int argc, char **argv)
{
	char	pattern[CTL_KEY_MAX], p[256];
	long	count = 0;

	(void) argv;
	if (argc != 1)
		ctl_usage(ctx);
	ctl_glob_escape(ctx->prefix, p, sizeof(p));
	snprintf(pattern, sizeof(pattern), "%slimit:*", p);
	ctl_scan(ctx, pattern, limit_scan, &count);
	if (count == 0)
		printf("no limits defined\n");
	return 0;
}

/* ctl_limits_show - one limit, a field per line; 1 when there is none */
int
ctl_limits_show(ctl_ctx *ctx, int argc, char **argv)
{
	char	key[CTL_KEY_MAX];
	sl_reply *h;

	if (argc != 2 || argv[1][0] == '-' || ctl_key(ctx, key, sizeof(key), "limit:%s", argv[1]) < 0)
		ctl_usage(ctx);
	if ((h = ctl_hgetall(ctx, key)) == NULL) {
		printf("limit %s: no such limit\n", argv[1]);
		return CTL_NO;
	}
	printf("limit: %s\n", argv[1]);
	ctl_print_hash(stdout, h, "  ");
	sl_reply_free(h);
	return 0;
}
