/*
 * NAME
 *	ctl_block 3 - sluicectl block list|set|clear: provider blocks
 * DESCRIPTION
 *	A block is the hash <prefix>block:<provider>:<sending domain> with
 *	an expiry, written by sluice-logd when a provider refuses or
 *	throttles mail from that domain (doc/logd.md, doc/redis-keys.md).
 *	"set" declares one by hand (fields provider, source, class, reply,
 *	since, until, set_by=sluicectl; EXPIRE ttl), "clear" deletes it;
 *	both add an event (block-start / block-end, source sluicectl).
 *	sluice-logd keeps its own view in memory: a block it detected and
 *	an operator cleared is declared again only by new block replies.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ctl.h"
#include "log.h"
#include "provider.h"

/* source_ok - a sending domain (a-z 0-9 . -, at most 253), "-" (unknown) or "*" (all) */
static int
source_ok(const char *s)
{
	size_t	n = strlen(s);

	return strcmp(s, "*") == 0
	    || (n > 0 && n <= 253 && strspn(s, "abcdefghijklmnopqrstuvwxyz0123456789.-") == n);
}

/* class_ok - one of sluice-logd's block classes */
static int
class_ok(const char *c)
{
	return strcmp(c, "rate-limited") == 0 || strcmp(c, "reputation") == 0
	    || strcmp(c, "blocklist") == 0 || strcmp(c, "auth-required") == 0
	    || strcmp(c, "other") == 0;
}

/* block_event - block-start or block-end on the events stream */
static void
block_event(ctl_ctx *ctx, const char *type, const char *prov, const char *dom, const char *cls,
	    const char *reason)
{
	char	key[CTL_KEY_MAX];
	const char *argv[] = {"XADD", key, "*", "type", type, "provider", prov, "source", dom,
			      "class", cls, "reply", reason, "why", "sluicectl", "set_by", "sluicectl"};

	if (ctl_key(ctx, key, sizeof(key), SL_KEY_EVENTS) == 0)
		sl_reply_free(ctl_cmd_ok(ctx, 17, argv));
}

/* block_scan - SCAN callback: one line per block */
static int
block_scan(ctl_ctx *ctx, const char *key, void *arg)
{
	const char *ttlv[] = {"TTL", key};
	sl_reply *h = ctl_hgetall(ctx, key), *ttl;
	const char *p, *s, *c, *by;

	(void) arg;
	if (h == NULL)
		return 0;
	ttl = ctl_cmd_ok(ctx, 2, ttlv);
	p = ctl_hget(h, "provider"), s = ctl_hget(h, "source"), c = ctl_hget(h, "class");
	by = ctl_hget(h, "set_by");
	printf("%-12s %-32s %-14s %8lld  ", p ? p : "?", s ? s : "?", c ? c : "?",
	       ttl && ttl->type == SL_REPLY_INTEGER ? ttl->integer : -1);
	ctl_print_value(stdout, by ? by : "");
	printf("\n");
	sl_reply_free(ttl);
	sl_reply_free(h);
	return 0;
}

/* ramp_list - the ramps after blocks (sluice-policyd's sorted set ramps) */
static int
ramp_list(ctl_ctx *ctx)
{
	char	key[CTL_KEY_MAX], when[64];
	const char *argv[] = {"ZRANGE", key, "0", "-1", "WITHSCORES"};
	sl_reply *r;

	if (ctl_key(ctx, key, sizeof(key), SL_KEY_RAMPS) < 0)
		return 1;
	r = ctl_cmd_ok(ctx, 5, argv);
	for (size_t i = 0; r->type == SL_REPLY_ARRAY && i + 1 < r->elements; i += 2) {
		if (i == 0)
			printf("\nramping up after a block (sluice-policyd, block_ramp):\n");
		ctl_age((time_t) atoll(r->element[i + 1]->str ? r->element[i + 1]->str : "0"),
			time(NULL), when, sizeof(when));
		printf("  %-45s since %s\n", r->element[i]->str ? r->element[i]->str : "?", when);
	}
	sl_reply_free(r);
	return 0;
}

/* block_list - every block in force, then the ramps */
static int
block_list(ctl_ctx *ctx)
{
	char	p[256], pattern[CTL_KEY_MAX];

	ctl_glob_escape(ctx->prefix, p, sizeof(p));
	sl_key(pattern, sizeof(pattern), p, SL_KEY_BLOCK, "*", "*");
	printf("%-12s %-32s %-14s %8s  %s\n", "PROVIDER", "SOURCE", "CLASS", "TTL", "SET BY");
	if (ctl_scan(ctx, pattern, block_scan, NULL) < 0)
		return 1;
	return ramp_list(ctx);
}

/* block_set - declare a block by hand */
static int
block_set(ctl_ctx *ctx, const char *key, const char *prov, const char *dom, const char *cls,
	  long long ttl, const char *reason)
{
	char	since[32], until[32], ttls[32];
	const char *hset[] = {"HSET", key, "provider", prov, "source", dom, "class", cls, "reply",
			      reason, "since", since, "until", until, "set_by", "sluicectl"};
	const char *exp[] = {"EXPIRE", key, ttls};
	char	member[300], set[CTL_KEY_MAX];
	const char *sadd[] = {"SADD", set, member};

	snprintf(since, sizeof(since), "%lld", (long long) time(NULL));
	snprintf(until, sizeof(until), "%lld", (long long) time(NULL) + ttl);
	snprintf(ttls, sizeof(ttls), "%lld", ttl);
	sl_reply_free(ctl_cmd_ok(ctx, 16, hset));
	sl_reply_free(ctl_cmd_ok(ctx, 3, exp));
	snprintf(member, sizeof(member), "%s:%s", prov, dom);
	if (ctl_key(ctx, set, sizeof(set), SL_KEY_BLOCKS) == 0)	/* sluice-policyd's index */
		sl_reply_free(ctl_cmd_ok(ctx, 3, sadd));
	block_event(ctx, "block-start", prov, dom, cls, reason);
	printf("block %s %s: %s for %lld s\n", prov, dom, cls, ttl);
	return 0;
}

/* drop_ramp - --no-ramp: out of sluice-policyd's index and ramps, so full speed at once */
static long long
drop_ramp(ctl_ctx *ctx, const char *prov, const char *dom)
{
	char	member[300], set[CTL_KEY_MAX], zset[CTL_KEY_MAX];
	const char *srem[] = {"SREM", set, member}, *zrem[] = {"ZREM", zset, member};
	long long n = 0;
	sl_reply *r;

	snprintf(member, sizeof(member), "%s:%s", prov, dom);
	if (ctl_key(ctx, set, sizeof(set), SL_KEY_BLOCKS) < 0
	    || ctl_key(ctx, zset, sizeof(zset), SL_KEY_RAMPS) < 0)
		return 0;
	sl_reply_free(ctl_cmd_ok(ctx, 3, srem));
	r = ctl_cmd_ok(ctx, 3, zrem);
	n = r->type == SL_REPLY_INTEGER ? r->integer : 0;
	sl_reply_free(r);
	return n;
}

/* ttl_ok - a block's lifetime in seconds: 1 to 30 days */
static int
ttl_ok(const char *s)
{
	long long v;

	return ctl_parse_long(s, 1, 30 * 86400, &v) == 0;
}

/* ctl_block - list, set or clear provider blocks */
int
ctl_block(ctl_ctx *ctx, int argc, char **argv)
{
	const char *cls = "reputation", *reason = "set by an operator", *ttl_arg = NULL, *what;
	long long ttl = 3600;
	char	key[CTL_KEY_MAX];
	int	no_ramp = 0, i;
	const ctl_opt opts[] = {CTL_CHECKED("class", &cls, class_ok),
				CTL_CHECKED("ttl", &ttl_arg, ttl_ok),
				CTL_ARG("reason", &reason),
				CTL_FLAG("no-ramp", &no_ramp),
				CTL_OPT_END};

	i = ctl_getopt(ctx, argc, argv, opts, 1, 3);
	if (ttl_arg)
		(void) ctl_parse_long(ttl_arg, 1, 30 * 86400, &ttl);
	argc -= i, argv += i;
	what = argv[0];
	if (strcmp(what, "list") == 0 && argc == 1)
		return block_list(ctx);
	if (argc != 3 || !sl_provider_name_ok(argv[1]) || !source_ok(argv[2])
	    || ctl_key(ctx, key, sizeof(key), SL_KEY_BLOCK, argv[1], argv[2]) < 0)
		ctl_usage(ctx);
	if (strcmp(what, "set") == 0)
		return block_set(ctx, key, argv[1], argv[2], cls, ttl, reason);
	if (strcmp(what, "clear") != 0)
		ctl_usage(ctx);
	{
		const char *del[] = {"DEL", key};
		sl_reply *r = ctl_cmd_ok(ctx, 2, del);
		long long n = r && r->type == SL_REPLY_INTEGER ? r->integer : 0;

		sl_reply_free(r);
		if (no_ramp)
			n += drop_ramp(ctx, argv[1], argv[2]);
		if (n > 0)
			block_event(ctx, "block-end", argv[1], argv[2], "", "cleared");
		printf("block %s %s: %s\n", argv[1], argv[2],
		       n > 0 ? "cleared" : "none was in force");
	}
	return 0;
}
