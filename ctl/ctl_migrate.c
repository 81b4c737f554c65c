/*
 * NAME
 *	ctl_migrate 3 - sluicectl migrate: entries written the old way, moved
 * SYNOPSIS
 *	sluicectl migrate [--dry-run]
 * DESCRIPTION
 *	Suppression entries are written under the canonical form of their
 *	address (sl_supp_canon(): the policyd section's strip_tag and
 *	lowercase_local_part). Entries written by hand, or by an older
 *	sluice-feedback (which kept the +tag), may sit under another form;
 *	the daemons still look those up, one key per form. This moves each
 *	to its canonical key so that one key per scope holds an address.
 *
 *	It walks supp:* with SCAN (never KEYS), checks each name with the
 *	keyspace's parser, and sends the moves in batches of
 *	CTL_MIGRATE_BATCH pairs, one script call each
 *	(sl_supp_move_script): every move is atomic, so the command is safe
 *	while the daemons run, and a second run finds nothing to do
 *	(idempotent). When both names exist the longer-lasting entry is
 *	kept. With --dry-run it only counts.
 *
 *	First, names of keyspace format 1 (before Cluster hash tags) are
 *	moved to today's (ctl_migrate_names.c); at the end the marker
 *	"keyspace" says format SL_KEYSPACE_FORMAT, which the daemons check
 *	before they start (lib/keyspace_version.c).
 *
 *	On Redis Cluster both moves cross slots (an old name has no hash
 *	tag; two forms of an address have two tags): each entry moves on its
 *	own there, through ctl_xslot_move() (ctl_redis.c says what that
 *	guarantees).
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "addr.h"
#include "ctl.h"
#include "keyspace_supp.h"
#include "log.h"

#define CTL_MIGRATE_BATCH 128

typedef struct migrate {
	int flags, dry;
	int n;
	char *keys[2 * CTL_MIGRATE_BATCH];
	long seen, todo, moved, merged;
} migrate;

/* flush - move the batch with one script call */
static void
flush(ctl_ctx *ctx, migrate *m)
{
	sl_reply *r;

	if (m->n == 0)
		return;
	r = ctl_eval(ctx, &sl_supp_move_script, 2 * m->n, 2 * m->n, (const char **)m->keys);
	if (r->type == SL_REPLY_ARRAY && r->elements == 2) {
		m->moved += r->element[0]->integer;
		m->merged += r->element[1]->integer;
	}
	sl_reply_free(r);
	for (int i = 0; i < 2 * m->n; i++)
		free(m->keys[i]);
	m->n = 0;
}

/* xpair - ctl_xslot_move() callback: the move script on (scratch, the canonical name) */
static int
xpair(ctl_ctx *ctx, const char *scratch, const char *to, void *arg)
{
	migrate *m = arg;
	const char *argv[] = {scratch, to};
	sl_reply *r = ctl_eval(ctx, &sl_supp_move_script, 2, 2, argv);
	long took = 0;

	if (r->type == SL_REPLY_ARRAY && r->elements == 2) {
		took = r->element[0]->integer + r->element[1]->integer;
		m->moved += r->element[0]->integer;
		m->merged += r->element[1]->integer;
	}
	sl_reply_free(r);
	return took > 0;
}

/* migrate_scan - SCAN callback: queue an entry not under its canonical name */
static int
migrate_scan(ctl_ctx *ctx, const char *key, void *arg)
{
	migrate *m = arg;
	char addr[SL_ADDR_MAX + 1], canon[SL_ADDR_MAX + 1], to[CTL_KEY_MAX];
	sl_scope s;

	if (sl_supp_key_parse(key, ctx->prefix, &s, addr, sizeof(addr)) < 0)
		return 0; /* a hand-made key of another shape */
	m->seen++;
	if (sl_supp_canon(addr, m->flags, canon, sizeof(canon)) < 0 || strcmp(canon, addr) == 0 ||
	    sl_supp_key(to, sizeof(to), ctx->prefix, &s, canon) < 0)
		return 0;
	m->todo++;
	if (m->dry) {
		printf("would move %s -> %s\n", key, to);
		return 0;
	}
	if (ctl_cluster(ctx)) { /* the two forms' hash tags differ: two slots */
		if (ctl_xslot_move(ctx, key, "", to, xpair, m) == CTL_XSLOT_CHANGED)
			printf("changed while it moved, kept: %s (run sluicectl migrate again)\n",
			       key);
		return 0;
	}
	m->keys[2 * m->n] = sl_strdup(key);
	m->keys[2 * m->n + 1] = sl_strdup(to);
	if (++m->n == CTL_MIGRATE_BATCH)
		flush(ctx, m);
	return 0;
}

/* ctl_migrate - move every entry to its canonical name */
int
ctl_migrate(ctl_ctx *ctx, int argc, char **argv)
{
	migrate m = {.flags = sl_supp_flags(cfg_getsec(ctx->conf->cfg, "policyd"))};
	const ctl_opt opts[] = {CTL_FLAG("dry-run", &m.dry), CTL_OPT_END};
	char pattern[CTL_KEY_MAX], p[256];
	int left;

	ctl_getopt(ctx, argc, argv, opts, 0, 0);
	ctx->any_keyspace = 1; /* what it is here for: no format check first */
	left = ctl_migrate_names(ctx, m.dry);
	ctl_glob_escape(ctx->prefix, p, sizeof(p));
	sl_key(pattern, sizeof(pattern), p, SL_KEY_SUPP, "*", "*");
	ctl_scan(ctx, pattern, migrate_scan, &m);
	flush(ctx, &m);
	if (m.dry)
		printf("%ld suppression entries, %ld not under their canonical address\n", m.seen,
		       m.todo);
	else
		printf("%ld suppression entries, %ld moved to their canonical address, %ld merged "
		       "with an entry already there\n",
		       m.seen, m.moved, m.merged);
	if (m.dry)
		return 0;
	if (sl_keyspace_mark(ctx->redis) < 0) {
		ctl_err("writing the keyspace format marker: %s", sl_redis_errstr(ctx->redis));
		return 1;
	}
	printf("keyspace format %d%s\n", SL_KEYSPACE_FORMAT,
	       left
	           ? " (the names left alone above were never read by a daemon: delete or fix them)"
	           : "");
	return 0;
}
