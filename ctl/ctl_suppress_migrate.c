/*
 * NAME
 *	ctl_suppress_migrate 3 - sluicectl suppress migrate|prune|functions: the compact layout
 * SYNOPSIS
 *	sluicectl suppress migrate --to compact|hash [--dry-run]
 *	sluicectl suppress prune
 *	sluicectl suppress functions [--print]
 * DESCRIPTION
 *	migrate moves every suppression entry from one layout to the other
 *	(doc/redis-keys.md, "Compact suppression layout"): to compact, each
 *	hash supp:<scope>:<address> becomes a field of its bucket
 *	suppb:{<bucket>}:<scope> (under the canonical form of its address,
 *	sl_supp_canon()); to hash, each field of each bucket becomes a hash
 *	again. It walks the keyspace with SCAN (never KEYS) and moves
 *	CTL_RELAYOUT_BATCH entries per script call (sl_supp_relayout_script):
 *	each move is atomic, an entry already at its destination is merged
 *	(the longer-lasting one stays), so the command is safe while the
 *	daemons run (with suppression { migrating = yes }, they read both
 *	layouts) and a second run finds nothing to do. What the compact
 *	layout does not keep (detail, bounce_reason, source past 24 bytes) is
 *	lost on the way there; an entry with a reason that has no compact
 *	code stays a hash (counted as skipped), and a field under a hashed
 *	address (over 48 bytes) stays a field (its address is not stored).
 *
 *	prune deletes the expired fields of every bucket (a hash entry
 *	expires by itself, through its TTL; a field cannot, Redis 7.0 has no
 *	field expiry). Readers never see an expired entry; prune gives the
 *	memory back. Run it from cron, e.g. daily.
 *
 *	functions loads the function library (FCALL sluice_supp_get|put|del|
 *	key) with the configured bucket count and prefix, FUNCTION LOAD
 *	REPLACE; --print writes it to stdout instead, for redis-cli.
 *
 *	On Redis Cluster a move's two keys (supp:<scope>:{<address>} and its
 *	bucket) are in different slots: there each entry moves on its own
 *	through ctl_xslot_move() (a copy in the destination's slot, the same
 *	script there, the source deleted if unchanged; ctl_redis.c), and
 *	prune sends the buckets of one slot per call.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>

#include "addr.h"
#include "ctl.h"
#include "keyspace_supp.h"
#include "log.h"

#define CTL_RELAYOUT_BATCH 128
#define CTL_PRUNE_BATCH 16 /* buckets per call: about 4000 fields, a few ms of Redis */

typedef struct relayout {
	int to_compact, dry, flags;
	sl_supp_layout layout;
	int n;
	char *keys[2 * CTL_RELAYOUT_BATCH], *fields[2 * CTL_RELAYOUT_BATCH]; /* pairs */
	long seen, moved, merged, skipped, hashed, changed;
} relayout;

/* flush - move the batch with one script call: KEYS the pairs, ARGV their fields */
static void
flush(ctl_ctx *ctx, relayout *m)
{
	const char *v[4 * CTL_RELAYOUT_BATCH];
	sl_reply *r;

	if (m->n == 0)
		return;
	for (int i = 0; i < 2 * m->n; i++)
		v[i] = m->keys[i], v[2 * m->n + i] = m->fields[i];
	r = ctl_eval(ctx, &sl_supp_relayout_script, 2 * m->n, 4 * m->n, v);
	if (r->type == SL_REPLY_ARRAY && r->elements == 3) {
		m->moved += r->element[0]->integer;
		m->merged += r->element[1]->integer;
		m->skipped += r->element[2]->integer;
	}
	sl_reply_free(r);
	for (int i = 0; i < 2 * m->n; i++) {
		free(m->keys[i]);
		free(m->fields[i]);
	}
	m->n = 0;
}

/* One Cluster move: the destination's field, and the counts. */
typedef struct xmove {
	relayout *m;
	const char *ff, *tf;
} xmove;

/* xpair - ctl_xslot_move() callback: the relayout script on (scratch, destination) */
static int
xpair(ctl_ctx *ctx, const char *scratch, const char *to, void *arg)
{
	xmove *x = arg;
	const char *v[] = {scratch, to, x->ff, x->tf};
	sl_reply *r = ctl_eval(ctx, &sl_supp_relayout_script, 2, 4, v);
	long took = 0;

	if (r->type == SL_REPLY_ARRAY && r->elements == 3) {
		took = r->element[0]->integer + r->element[1]->integer;
		x->m->moved += r->element[0]->integer;
		x->m->merged += r->element[1]->integer;
		x->m->skipped += r->element[2]->integer;
	}
	sl_reply_free(r);
	return took > 0;
}

/* queue - one move: from (key, field) to (key, field); on Cluster at once, across slots */
static void
queue(ctl_ctx *ctx, relayout *m, const sl_supp_loc *from, const sl_supp_loc *to)
{
	m->seen++;
	if (m->dry)
		return;
	if (ctl_cluster(ctx)) { /* an entry's two places are in two slots */
		xmove x = {m, from->field, to->field};

		if (ctl_xslot_move(ctx, from->key, from->field, to->key, xpair, &x) ==
		    CTL_XSLOT_CHANGED)
			m->changed++;
		return;
	}
	m->keys[2 * m->n] = sl_strdup(from->key);
	m->keys[2 * m->n + 1] = sl_strdup(to->key);
	m->fields[2 * m->n] = sl_strdup(from->field);
	m->fields[2 * m->n + 1] = sl_strdup(to->field);
	if (++m->n == CTL_RELAYOUT_BATCH)
		flush(ctx, m);
}

/* to_compact - SCAN callback: a hash entry, moved to its bucket */
static int
to_compact(ctl_ctx *ctx, const char *key, void *arg)
{
	relayout *m = arg;
	char addr[SL_ADDR_MAX + 1], canon[SL_ADDR_MAX + 1];
	sl_supp_layout one = m->layout;
	sl_supp_loc from = {"", ""}, to[2];
	sl_scope s;

	if (sl_supp_key_parse(key, ctx->prefix, &s, addr, sizeof(addr)) < 0)
		return 0; /* a hand-made key of another shape */
	if (sl_supp_canon(addr, m->flags, canon, sizeof(canon)) < 0)
		snprintf(canon, sizeof(canon), "%s", addr);
	one.compact = 1, one.migrating = 0;
	snprintf(from.key, sizeof(from.key), "%s", key);
	if (sl_supp_locate(&one, ctx->prefix, &s, canon, to) == 1)
		queue(ctx, m, &from, &to[0]);
	return 0;
}

/* to_hash - SCAN callback: every field of a bucket, moved to its own hash */
static int
to_hash(ctl_ctx *ctx, const char *key, void *arg)
{
	relayout *m = arg;
	const char *argv[] = {"HKEYS", key};
	sl_supp_layout one = m->layout;
	unsigned long b;
	sl_scope s;
	sl_reply *r;

	if (sl_supp_bucket_key_parse(key, ctx->prefix, &b, &s) < 0)
		return 0;
	one.compact = 0, one.migrating = 0;
	r = ctl_cmdv(ctx, 2, argv);
	for (size_t i = 0; r->type == SL_REPLY_ARRAY && i < r->elements; i++) {
		sl_supp_loc from, to[2];
		const char *f = r->element[i]->str;

		if (f == NULL || strlen(f) >= SL_SUPP_FIELD_MAX)
			continue;
		if (*f == '#' && strchr(f, '@') == NULL) { /* a long address, stored hashed */
			m->hashed++;
			continue;
		}
		snprintf(from.key, sizeof(from.key), "%s", key);
		snprintf(from.field, sizeof(from.field), "%s", f);
		if (sl_supp_locate(&one, ctx->prefix, &s, f, to) == 1)
			queue(ctx, m, &from, &to[0]);
	}
	sl_reply_free(r);
	return 0;
}

/* layout_ok - a layout named by --to */
static int
layout_ok(const char *v)
{
	return strcmp(v, "compact") == 0 || strcmp(v, "hash") == 0;
}

/* ctl_suppress_migrate - move every entry to the other layout */
int
ctl_suppress_migrate(ctl_ctx *ctx, int argc, char **argv)
{
	const char *to = NULL;
	relayout *m = sl_calloc(1, sizeof(*m));
	const ctl_opt opts[] = {CTL_CHECKED("to", &to, layout_ok), CTL_FLAG("dry-run", &m->dry),
	                        CTL_OPT_END};
	char pattern[CTL_KEY_MAX], p[256];

	ctl_getopt(ctx, argc, argv, opts, 0, 0);
	if (to == NULL)
		ctl_usage(ctx);
	m->to_compact = strcmp(to, "compact") == 0;
	m->flags = sl_supp_flags(cfg_getsec(ctx->conf->cfg, "policyd"));
	ctl_supp_layout(ctx, &m->layout);
	if (m->to_compact && !m->dry)
		(void)ctl_supp_load_functions(ctx, 1);
	ctl_glob_escape(ctx->prefix, p, sizeof(p));
	sl_key(pattern, sizeof(pattern), p, m->to_compact ? SL_KEY_SUPP : SL_KEY_SUPPB, "*", "*");
	ctl_scan(ctx, pattern, m->to_compact ? to_compact : to_hash, m);
	flush(ctx, m);
	if (m->dry)
		printf("%ld suppression entries would move to the %s layout\n", m->seen, to);
	else
		printf(
		    "%ld suppression entries: %ld moved to the %s layout, %ld merged with an entry "
		    "already there, %ld skipped (a reason without a compact code)\n",
		    m->seen, m->moved, to, m->merged, m->skipped);
	if (m->changed)
		printf(
		    "%ld entries changed while they moved and stay where they were: run it again\n",
		    m->changed);
	if (m->hashed)
		printf("%ld entries under a hashed address (over 48 bytes) stay in the compact "
		       "layout\n",
		       m->hashed);
	if (!m->layout.migrating)
		fprintf(stderr,
		        "sluicectl: note: suppression { migrating = yes } makes the daemons "
		        "read both layouts while this runs\n");
	free(m);
	return 0;
}

/* The buckets queued for one prune call, and the counts. */
typedef struct prune {
	int n, cluster;
	unsigned slot; /* of the queued buckets, on Cluster */
	char *keys[CTL_PRUNE_BATCH];
	long buckets, dropped;
} prune;

/* prune_flush - one script call for the queued buckets */
static void
prune_flush(ctl_ctx *ctx, prune *p)
{
	sl_reply *r;

	if (p->n == 0)
		return;
	r = ctl_eval(ctx, &sl_supp_prune_script, p->n, p->n, (const char **)p->keys);
	p->dropped += r->type == SL_REPLY_INTEGER ? r->integer : 0;
	sl_reply_free(r);
	for (int i = 0; i < p->n; i++)
		free(p->keys[i]);
	p->n = 0;
}

/* prune_scan - SCAN callback: a bucket to prune */
static int
prune_scan(ctl_ctx *ctx, const char *key, void *arg)
{
	prune *p = arg;
	unsigned long b;
	sl_scope s;

	if (sl_supp_bucket_key_parse(key, ctx->prefix, &b, &s) < 0)
		return 0;
	p->buckets++;
	if (p->cluster && p->n > 0 && sl_redis_keyslot_str(key) != p->slot)
		prune_flush(ctx, p); /* a script's keys share one slot */
	p->slot = p->cluster ? sl_redis_keyslot_str(key) : 0;
	p->keys[p->n++] = sl_strdup(key);
	if (p->n == CTL_PRUNE_BATCH)
		prune_flush(ctx, p);
	return 0;
}

/* ctl_suppress_prune - delete the expired fields of every bucket */
int
ctl_suppress_prune(ctl_ctx *ctx, int argc, char **argv)
{
	const ctl_opt opts[] = {CTL_OPT_END};
	char pattern[CTL_KEY_MAX], pfx[256];
	prune p = {.cluster = ctl_cluster(ctx)};

	ctl_getopt(ctx, argc, argv, opts, 0, 0);
	ctl_glob_escape(ctx->prefix, pfx, sizeof(pfx));
	sl_key(pattern, sizeof(pattern), pfx, SL_KEY_SUPPB, "*", "*");
	ctl_scan(ctx, pattern, prune_scan, &p);
	prune_flush(ctx, &p);
	printf("%ld buckets, %ld expired entries removed\n", p.buckets, p.dropped);
	return 0;
}

/* ctl_suppress_functions - load the function library, or print it */
int
ctl_suppress_functions(ctl_ctx *ctx, int argc, char **argv)
{
	int print = 0;
	const ctl_opt opts[] = {CTL_FLAG("print", &print), CTL_OPT_END};
	sl_supp_layout l;
	char *lib;

	ctl_getopt(ctx, argc, argv, opts, 0, 0);
	ctl_supp_layout(ctx, &l);
	if (print) {
		if ((lib = sl_supp_library(&l, ctx->prefix)) == NULL)
			return EX_OSERR;
		fputs(lib, stdout);
		free(lib);
		return 0;
	}
	if (ctl_supp_load_functions(ctx, 0) < 0)
		return EX_SOFTWARE;
	printf("loaded FCALL sluice_supp_get|put|del|key (%lu buckets)\n", l.buckets);
	return 0;
}
