/*
 * NAME
 *	ctl_migrate_names 3 - sluicectl migrate: names of keyspace format 1 renamed
 * SYNOPSIS
 *	rc = ctl_migrate_names(ctx, dry);
 * DESCRIPTION
 *	Keyspace format 2 put Redis Cluster hash tags in the names
 *	(doc/redis-keys.md, "Upgrading"). This walks the prefix with SCAN,
 *	finds the names of format 1 with the keyspace's parser
 *	(sl_key_old_kind()) and moves each to today's name in batches of
 *	CTL_RENAME_BATCH, one script call each (sl_keyspace_rename_script):
 *	every move is atomic, a second run finds nothing to do. Where
 *	today's name exists too the two are merged (ways[] below: never a
 *	suppression shortened, never a charge lost, today's limit
 *	definitions winning). fbdone: markers and charge: records are
 *	deleted, not moved: the first has no msgid for today's name, the
 *	second names counters by their old names. A name holding another
 *	type than its kind (a hand-made key that no daemon ever read) is
 *	left alone and listed. On Redis Cluster an old name and today's are
 *	in different slots (the old name has no hash tag): there each name
 *	moves on its own through ctl_xslot_move() (copy to today's slot,
 *	the same script there, the old name deleted if unchanged), about six
 *	round trips a name.
 * RETURN VALUE
 *	0 done (or, with dry, counted); the marker is written by the caller.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl.h"
#include "keyspace_supp.h"
#include "log.h"

#define CTL_RENAME_BATCH 128

/* How each renamed kind moves, and the type its name holds. */
static const struct way {
	const char *way, *type;
} ways[SL_KEYS] = {
    [SL_KEY_SUPP] = {"longer", "hash"},
    [SL_KEY_SOFT] = {"zunion", "zset"},
    [SL_KEY_LIMITS] = {"sunion", "set"},
    [SL_KEY_LIMIT] = {"keepnew", "hash"},
    [SL_KEY_LIMITS_SEEDED] = {"keepnew", "string"},
    [SL_KEY_MODE] = {"hmerge", "hash"},
    [SL_KEY_RATE] = {"rate", "hash"},
    [SL_KEY_QUOTA] = {"sum", "string"},
    [SL_KEY_RCPTS] = {"sunion", "set"},
    [SL_KEY_FBSEEN] = {"sunion", "set"},
    [SL_KEY_FBDONE] = {"drop", "string"},
    [SL_KEY_CHARGE] = {"drop", "hash"},
};

typedef struct rename {
	int dry, n;
	const char *argv[4 * CTL_RENAME_BATCH]; /* KEYS pairs, then ARGV pairs */
	char *own[2 * CTL_RENAME_BATCH];
	const char *how[2 * CTL_RENAME_BATCH];
	long seen, moved, merged, dropped, left;
} rename_batch;

/* count - add a rename script's counts; the names left alone are listed; moved + merged */
static long
count(rename_batch *b, const sl_reply *r)
{
	long took = 0;

	if (r->type == SL_REPLY_ARRAY && r->elements >= 3) {
		took = r->element[0]->integer + r->element[1]->integer;
		b->moved += r->element[0]->integer;
		b->merged += r->element[1]->integer;
		b->dropped += r->element[2]->integer;
		for (size_t i = 3; i + 1 < r->elements; i += 2, b->left++)
			printf("left alone: %s (a %s, not what its name holds)\n",
			       r->element[i]->str, r->element[i + 1]->str);
	}
	return took;
}

/* flush - one script call for the batch; the names left alone are listed */
static void
flush(ctl_ctx *ctx, rename_batch *b)
{
	sl_reply *r;

	if (b->n == 0)
		return;
	for (int i = 0; i < 2 * b->n; i++) {
		b->argv[i] = b->own[i];
		b->argv[2 * b->n + i] = b->how[i];
	}
	r = ctl_eval(ctx, &sl_keyspace_rename_script, 2 * b->n, 4 * b->n, b->argv);
	(void)count(b, r);
	sl_reply_free(r);
	for (int i = 0; i < 2 * b->n; i++)
		free(b->own[i]);
	b->n = 0;
}

/* One Cluster move: how, and the batch that counts. */
typedef struct xmove {
	rename_batch *b;
	const char *way, *type;
} xmove;

/* xpair - ctl_xslot_move() callback: the rename script on (scratch, today's name) */
static int
xpair(ctl_ctx *ctx, const char *scratch, const char *to, void *arg)
{
	xmove *x = arg;
	const char *argv[] = {scratch, to, x->way, x->type};
	sl_reply *r = ctl_eval(ctx, &sl_keyspace_rename_script, 2, 4, argv);
	long took = count(x->b, r);

	sl_reply_free(r);
	return took > 0;
}

/*
 * rename_cluster - on Redis Cluster, one name at a time: a name to drop is
 * deleted; a move within one slot is one script call; across slots
 * (nearly always: the old name has no hash tag) ctl_xslot_move()
 */
static void
rename_cluster(ctl_ctx *ctx, rename_batch *b, const char *key, const char *to, int k)
{
	xmove x = {b, ways[k].way, ways[k].type};

	if (strcmp(ways[k].way, "drop") == 0) {
		const char *argv[] = {"DEL", key};
		sl_reply *r = ctl_cmd_ok(ctx, 2, argv);

		b->dropped += r->type == SL_REPLY_INTEGER ? r->integer : 0;
		sl_reply_free(r);
	} else if (sl_redis_keyslot_str(key) == sl_redis_keyslot_str(to)) {
		const char *argv[] = {key, to, ways[k].way, ways[k].type};
		sl_reply *r = ctl_eval(ctx, &sl_keyspace_rename_script, 2, 4, argv);

		(void)count(b, r);
		sl_reply_free(r);
	} else if (ctl_xslot_move(ctx, key, "", to, xpair, &x) == CTL_XSLOT_CHANGED) {
		printf("changed while it moved, kept: %s (run sluicectl migrate again)\n", key);
		b->left++;
	}
}

/* rename_scan - SCAN callback: queue a name of format 1 */
static int
rename_scan(ctl_ctx *ctx, const char *key, void *arg)
{
	rename_batch *b = arg;
	char to[CTL_KEY_MAX];
	sl_key_parts p;
	int k = sl_key_old_kind(key, ctx->prefix, &p);

	if (k < 0 || ways[k].way == NULL)
		return 0;
	b->seen++;
	if (strcmp(ways[k].way, "drop") == 0)
		snprintf(to, sizeof(to), "%s", key);
	else if (sl_key_parts_name(to, sizeof(to), ctx->prefix, k, &p) < 0)
		return 0;
	if (b->dry) {
		printf("would %s %s%s%s\n", strcmp(ways[k].way, "drop") ? "move" : "delete", key,
		       strcmp(ways[k].way, "drop") ? " -> " : "",
		       strcmp(ways[k].way, "drop") ? to : "");
		return 0;
	}
	if (ctl_cluster(ctx)) {
		rename_cluster(ctx, b, key, to, k);
		return 0;
	}
	b->own[2 * b->n] = sl_strdup(key);
	b->own[2 * b->n + 1] = sl_strdup(to);
	b->how[2 * b->n] = ways[k].way;
	b->how[2 * b->n + 1] = ways[k].type;
	if (++b->n == CTL_RENAME_BATCH)
		flush(ctx, b);
	return 0;
}

/* ctl_migrate_names - every name of format 1 to today's; 0, or 1 when some were left */
int
ctl_migrate_names(ctl_ctx *ctx, int dry)
{
	rename_batch b = {.dry = dry};
	char pattern[CTL_KEY_MAX];

	ctl_glob_escape(ctx->prefix, pattern, sizeof(pattern) - 1);
	strcat(pattern, "*");
	ctl_scan(ctx, pattern, rename_scan, &b);
	flush(ctx, &b);
	if (dry)
		printf("%ld names of keyspace format 1 to move\n", b.seen);
	else
		printf("%ld names of keyspace format 1: %ld renamed, %ld merged with today's name, "
		       "%ld deleted (fbdone: markers, charge: records), %ld left alone\n",
		       b.seen, b.moved, b.merged, b.dropped, b.left);
	return b.left > 0;
}
