/*
 * NAME
 *	ctl_suppress 3 - sluicectl suppress add|remove|check|list|import|export
 * DESCRIPTION
 *	A suppression entry is, in the hash layout, the hash
 *	<prefix>supp:<scope>:<address> with the fields reason, source, added
 *	(unix time), detail (optional) and expires (unix time, optional, also
 *	the key's TTL); in the compact layout (suppression { layout =
 *	compact }), a field of the bucket <prefix>suppb:{<bucket>}:<scope>
 *	(lib/keyspace_supp.c says where). Scope is "global",
 *	"cat:<category>" or "tenant:<tenant>". add and import write the
 *	configured layout; remove, check, list and export read both, so they
 *	work during and after a migration (ctl_suppress_migrate.c). Addresses are normalized with
 *	sl_addr_normalize() exactly as sluice-policyd looks them up: domain
 *	lowercased, +tag removed (policyd strip_tag, default on), local part
 *	lowercased when policyd lowercase_local_part is on (sl_supp_canon(),
 *	lib/keyspace_supp.c). Entries are written by the keyspace's one
 *	writer (sl_supp_put_script), so
 *	an entry is never seen half written, and an import sends them in
 *	batches of CTL_SUPP_BATCH. "add" replaces an entry; "import" keeps
 *	existing entries (their reason is better evidence) unless --replace.
 *	Listing, checking and exporting use SCAN, never KEYS.
 *	On Redis Cluster (redis { cluster_nodes }) a batch holds the entries
 *	of one slot only: the import reads CTL_SUPP_GROUP entries, sorts
 *	them by slot (in the order read within one) and writes each slot's
 *	in batches. In the compact layout that is a bucket's (its hash tag);
 *	in the hash layout each address has its own slot, so about one
 *	round trip per address. list, export and check without --scope SCAN
 *	every master.
 */
#include "config.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sysexits.h>
#include <time.h>

#include "addr.h"
#include "ctl.h"
#include "keyspace_supp.h"
#include "log.h"
#include "suppress.h"

#define CTL_SUPP_BATCH 1000
#define CTL_SUPP_GROUP 65536 /* on Cluster: entries read, then sorted by slot */

enum {
	O_SCOPE = 1, O_REASON = 2, O_TTL = 4, O_DETAIL = 8, O_ALL = 16,
	O_REPLACE = 32, O_DRY = 64
};

typedef struct supp_opts {
	char	scope[64];
	int	scope_set;
	const char *reason;		/* NULL: not given */
	long long ttl;
	const char *detail;
	int	all, replace, dry_run;
} supp_opts;

static const struct option supp_longopts[] = {
	{"scope", required_argument, NULL, 's'},
	{"reason", required_argument, NULL, 'r'},
	{"ttl", required_argument, NULL, 't'},
	{"detail", required_argument, NULL, 'd'},
	{"all", no_argument, NULL, 'a'},
	{"replace", no_argument, NULL, 'R'},
	{"dry-run", no_argument, NULL, 'D'},
	{NULL, 0, NULL, 0}
};

/* reason_ok - one of the documented reasons */
static int
reason_ok(const char *r)
{
	for (const char *const *p = sl_supp_reasons; *p; p++)
		if (strcmp(*p, r) == 0)
			return 1;
	return 0;
}

/* supp_opt - apply one option; -1 when it is bad or not allowed here */
static int
supp_opt(int ch, int allowed, supp_opts *o)
{
	static const struct { int ch, bit; } bits[] = {
		{'s', O_SCOPE}, {'r', O_REASON}, {'t', O_TTL}, {'d', O_DETAIL},
		{'a', O_ALL}, {'R', O_REPLACE}, {'D', O_DRY},
	};
	size_t	i;

	for (i = 0; i < sizeof(bits) / sizeof(bits[0]) && bits[i].ch != ch; i++)
		;
	if (i == sizeof(bits) / sizeof(bits[0]) || !(allowed & bits[i].bit))
		return -1;
	switch (ch) {
	case 's':
		o->scope_set = 1;
		if (ctl_scope_parse(optarg, o->scope, sizeof(o->scope)) < 0) {
			ctl_err("bad scope \"%s\": use global, cat:NAME or tenant:NAME", optarg);
			return -1;
		}
		return 0;
	case 'r':
		o->reason = optarg;
		if (!reason_ok(optarg)) {
			ctl_err("bad reason \"%s\": use hard-bounce, soft-bounce-threshold, "
				"complaint, unsubscribe, manual or import", optarg);
			return -1;
		}
		return 0;
	case 't':
		if (ctl_parse_long(optarg, 1, 20LL * 365 * 86400, &o->ttl) < 0) {
			ctl_err("bad --ttl \"%s\": a number of seconds", optarg);
			return -1;
		}
		return 0;
	case 'd':
		o->detail = optarg;
		return 0;
	}
	o->all |= ch == 'a', o->replace |= ch == 'R', o->dry_run |= ch == 'D';
	return 0;
}

/* supp_parse - options of one subcommand; exits with usage when bad */
static int
supp_parse(ctl_ctx *ctx, int argc, char **argv, int allowed, int npos, supp_opts *o)
{
	int	ch;

	memset(o, 0, sizeof(*o));
	snprintf(o->scope, sizeof(o->scope), "global");
	while ((ch = getopt_long(argc, argv, "", supp_longopts, NULL)) != -1)
		if (ch == '?' || supp_opt(ch, allowed, o) < 0)
			ctl_usage(ctx);
	if (argc - optind != npos)
		ctl_usage(ctx);
	return optind;
}

/*
 * addr_flags - normalize as sluice-policyd looks addresses up: its
 * strip_tag (default on) and lowercase_local_part (default off).
 */
static int
addr_flags(const ctl_ctx *ctx)
{
	return sl_supp_flags(cfg_getsec(ctx->conf->cfg, "policyd"));
}

/* normalize_arg - the address argument, normalized, or exit 64 */
static void
normalize_arg(ctl_ctx *ctx, const char *in, char *out, size_t outlen)
{
	const char *err;

	if (ctl_csv_addr(in, addr_flags(ctx), out, outlen, &err) < 0) {
		ctl_err("\"%s\": %s", in, err);
		ctl_usage(ctx);
	}
}

/*
 * The forms an address may be stored in, as sluice-policyd looks them up:
 * as written (domain lowercased), local part lowercased, +tag removed,
 * both; only the transformations its options enable. The last form is
 * the canonical one, the one sluicectl writes.
 */
typedef struct addr_forms {
	char	a[4][SL_ADDR_MAX + 1];
	int	n;
} addr_forms;

/* forms_make - the distinct stored forms of a (valid) address argument */
static void
forms_make(ctl_ctx *ctx, const char *in, addr_forms *f)
{
	int	all = addr_flags(ctx);
	const int flags[4] = {0, SL_ADDR_LOWER_LOCAL, SL_ADDR_STRIP_TAG,
			      SL_ADDR_STRIP_TAG | SL_ADDR_LOWER_LOCAL};

	f->n = 0;
	for (int i = 0; i < 4; i++) {
		int	dup = 0;

		if ((flags[i] & all) != flags[i])
			continue;
		normalize_arg(ctx, in, f->a[f->n], sizeof(f->a[0]));
		if (flags[i] != all)
			sl_addr_normalize(strncasecmp(in, "mailto:", 7) ? in : in + 7,
					  f->a[f->n], sizeof(f->a[0]), flags[i]);
		for (int k = 0; k < f->n; k++)
			dup |= strcmp(f->a[k], f->a[f->n]) == 0;
		if (!dup)
			f->n++;
	}
}

/* ctl_supp_layout - the configured layout (suppression { }, checked when the file was loaded) */
void
ctl_supp_layout(ctl_ctx *ctx, sl_supp_layout *l)
{
	(void) sl_supp_layout_conf(ctx->conf, l);
}

/*
 * supp_locate - where an entry is (lib/keyspace_supp.c), or exit 65:
 * the configured layout's place first, with both the other's second
 */
static int
supp_locate(ctl_ctx *ctx, const char *scope, const char *addr, int both, sl_supp_loc loc[2])
{
	sl_supp_layout l;
	sl_scope sc;
	int	n;

	ctl_supp_layout(ctx, &l);
	l.migrating |= both;
	if (sl_scope_parse(scope, &sc) < 0
	    || (n = sl_supp_locate(&l, ctx->prefix, &sc, addr, loc)) < 0) {
		ctl_err("key for %s too long", addr);
		exit(EX_DATAERR);
	}
	return n;
}

/* ctl_supp_load_functions - FUNCTION LOAD REPLACE the compact layout's library; 0 or -1 */
int
ctl_supp_load_functions(ctl_ctx *ctx, int quiet)
{
	const char *argv[4] = {"FUNCTION", "LOAD", "REPLACE", NULL};
	sl_supp_layout l;
	sl_reply *r;
	char   *lib;
	int	rc;

	if (ctx->conf->ncluster_nodes > 0) {	/* one node would get it: load it on each */
		fprintf(stderr, "sluicectl: %son Redis Cluster, load the functions on every master: "
			"redis-cli --cluster call HOST:PORT FUNCTION LOAD REPLACE "
			"\"$(sluicectl suppress functions --print)\"\n", quiet ? "note: " : "");
		return -1;
	}
	ctl_supp_layout(ctx, &l);
	if ((lib = sl_supp_library(&l, ctx->prefix)) == NULL)
		return -1;
	argv[3] = lib;
	r = ctl_cmdv(ctx, 4, argv);
	rc = r->type == SL_REPLY_ERROR ? -1 : 0;
	if (rc < 0)
		fprintf(stderr, "sluicectl: %sFUNCTION LOAD: %s\n", quiet ? "warning: " : "", r->str);
	sl_reply_free(r);
	free(lib);
	return rc;
}

/*
 * supp_key_split - scope and address of a suppression key; -1 when the
 * key is not one (a hand-made key with another shape).
 */
static int
supp_key_split(const ctl_ctx *ctx, const char *key, char *scope, size_t slen, char *addr,
	       size_t alen)
{
	sl_scope sc;

	if (sl_supp_key_parse(key, ctx->prefix, &sc, addr, alen) < 0)
		return -1;
	return sl_scope_format(&sc, scope, slen);
}

/*
 * A batch of entries for sl_supp_put_script, with the strings it owns.
 */
typedef struct supp_batch {
	const char *source;
	long long ttl;
	int	replace;
	int	cluster;		/* Redis Cluster: one slot per batch */
	unsigned slot;			/* the batch's, on Cluster */
	int	n;
	char   *keys[CTL_SUPP_BATCH];
	char   *vals[CTL_SUPP_BATCH * 4];	/* reason, added, detail, field */
	long	written, sent;
	struct supp_pend *pend; /* on Cluster: entries not sorted yet */
	int npend;
} supp_batch;

/* An entry waiting, on Cluster, to be sorted into its slot's batch. */
typedef struct supp_pend {
	unsigned slot;
	int seq; /* the order read: stable sort */
	char *key, *v[4];
} supp_pend;

/* batch_write - write the batch with one script call */
static void
batch_write(ctl_ctx *ctx, supp_batch *b)
{
	const char *argv[4 + CTL_SUPP_BATCH * 5];
	char	expires[32];
	sl_reply *r;
	int	a = 0;

	if (b->n == 0)
		return;
	snprintf(expires, sizeof(expires), "%lld", b->ttl > 0 ? (long long) time(NULL) + b->ttl : 0);
	for (int i = 0; i < b->n; i++)
		argv[a++] = b->keys[i];
	argv[a++] = b->replace ? "replace" : "keep";
	argv[a++] = expires, argv[a++] = b->source, argv[a++] = "";
	for (int i = 0; i < b->n * 4; i++)
		argv[a++] = b->vals[i];
	r = ctl_eval(ctx, &sl_supp_put_script, b->n, a, argv);
	b->written += r->type == SL_REPLY_INTEGER ? r->integer : 0;
	b->sent += b->n;
	sl_reply_free(r);
	for (int i = 0; i < b->n; i++)
		free(b->keys[i]);
	for (int i = 0; i < b->n * 4; i++)
		free(b->vals[i]);
	b->n = 0;
}

/* batch_put - one entry into the batch (strings owned by it now); one slot per batch on Cluster */
static void
batch_put(ctl_ctx *ctx, supp_batch *b, unsigned slot, char *key, char *const v[4])
{
	if (b->n > 0 && slot != b->slot) /* a script's keys share one slot */
		batch_write(ctx, b);
	b->slot = slot;
	b->keys[b->n] = key;
	for (int i = 0; i < 4; i++)
		b->vals[b->n * 4 + i] = v[i];
	if (++b->n == CTL_SUPP_BATCH)
		batch_write(ctx, b);
}

/* pend_cmp - by slot, then in the order read */
static int
pend_cmp(const void *a, const void *b)
{
	const supp_pend *x = a, *y = b;

	if (x->slot != y->slot)
		return x->slot < y->slot ? -1 : 1;
	return x->seq < y->seq ? -1 : x->seq > y->seq;
}

/* batch_flush - on Cluster the waiting entries sorted by slot into batches; then the last batch */
static void
batch_flush(ctl_ctx *ctx, supp_batch *b)
{
	if (b->npend > 0)
		qsort(b->pend, (size_t)b->npend, sizeof(*b->pend), pend_cmp);
	for (int i = 0; i < b->npend; i++)
		batch_put(ctx, b, b->pend[i].slot, b->pend[i].key, b->pend[i].v);
	b->npend = 0;
	batch_write(ctx, b);
}

/* batch_add - queue one entry (its place in the layout written); written when a batch is full */
static void
batch_add(ctl_ctx *ctx, supp_batch *b, const sl_supp_loc *loc, const char *reason,
	  time_t added, const char *detail)
{
	char	t[32];
	char *v[4];

	snprintf(t, sizeof(t), "%lld", (long long) added);
	v[0] = sl_strdup(reason);
	v[1] = sl_strdup(t);
	v[2] = sl_strdup(detail ? detail : "");
	v[3] = sl_strdup(loc->field);
	if (!b->cluster) {
		batch_put(ctx, b, 0, sl_strdup(loc->key), v);
		return;
	}
	if (b->pend == NULL)
		b->pend = sl_calloc(CTL_SUPP_GROUP, sizeof(*b->pend));
	b->pend[b->npend] = (supp_pend){sl_redis_keyslot_str(loc->key),
	                                b->npend,
	                                sl_strdup(loc->key),
	                                {v[0], v[1], v[2], v[3]}};
	if (++b->npend == CTL_SUPP_GROUP)
		batch_flush(ctx, b);
}

/* ctl_suppress_add - add or replace one entry */
int
ctl_suppress_add(ctl_ctx *ctx, int argc, char **argv)
{
	supp_batch b = {.source = "sluicectl", .replace = 1};
	char	addr[SL_ADDR_MAX + 1];
	sl_supp_loc loc[2];
	supp_opts o;
	int	i = supp_parse(ctx, argc, argv, O_SCOPE | O_REASON | O_TTL | O_DETAIL, 1, &o);

	normalize_arg(ctx, argv[i], addr, sizeof(addr));
	supp_locate(ctx, o.scope, addr, 0, loc);
	b.ttl = o.ttl;
	batch_add(ctx, &b, &loc[0], o.reason ? o.reason : "manual", time(NULL), o.detail);
	batch_flush(ctx, &b);
	printf("suppressed %s in %s (%s%s)\n", addr, o.scope, o.reason ? o.reason : "manual",
	       o.ttl ? ", with a TTL" : "");
	return 0;
}

/* remove_one - DEL one entry's key, or HDEL its field; 1 when it existed */
static int
remove_one(ctl_ctx *ctx, const sl_supp_loc *loc)
{
	const char *argv[] = {*loc->field ? "HDEL" : "DEL", loc->key, loc->field};
	sl_reply *r = ctl_cmd_ok(ctx, *loc->field ? 3 : 2, argv);
	int	n = r->type == SL_REPLY_INTEGER && r->integer > 0;

	sl_reply_free(r);
	return n;
}

/* addr_pattern - SCAN pattern for one address in every scope */
static void
addr_pattern(const ctl_ctx *ctx, const char *addr, char *out, size_t outlen)
{
	char	p[256], a[2 * SL_ADDR_MAX + 2];

	ctl_glob_escape(ctx->prefix, p, sizeof(p));
	ctl_glob_escape(addr, a, sizeof(a));
	sl_key(out, outlen, p, SL_KEY_SUPP, "*", a);
}

/* bucket_pattern - SCAN pattern for the buckets of one address in every scope */
static void
bucket_pattern(const ctl_ctx *ctx, const char *addr, char *out, size_t outlen)
{
	char	p[256], f[SL_SUPP_FIELD_MAX], b[24];
	sl_supp_layout l;

	ctl_supp_layout((ctl_ctx *) ctx, &l);
	ctl_glob_escape(ctx->prefix, p, sizeof(p));
	sl_supp_field(addr, f);
	snprintf(b, sizeof(b), "%lu", sl_supp_bucket(f, l.buckets));
	sl_key(out, outlen, p, SL_KEY_SUPPB, b, "*");
}

typedef struct supp_walk {
	const char *addr;		/* only this address, or NULL */
	const char *scope;		/* only this scope, or NULL */
	long	count, hashed;
	time_t	now;
	FILE   *fp;
	int	export;
} supp_walk;

/* remove_scan - SCAN callback of remove --all */
static int
remove_scan(ctl_ctx *ctx, const char *key, void *arg)
{
	supp_walk *w = arg;
	char	addr[SL_ADDR_MAX + 1];
	char	scope[64];

	unsigned long b;
	sl_supp_loc loc;
	sl_scope sc;

	snprintf(loc.key, sizeof(loc.key), "%s", key);
	loc.field[0] = '\0';
	if (sl_supp_bucket_key_parse(key, ctx->prefix, &b, &sc) == 0) {
		sl_supp_field(w->addr, loc.field);
		snprintf(addr, sizeof(addr), "%s", w->addr);
		if (sl_scope_format(&sc, scope, sizeof(scope)) < 0)
			return 0;
	} else if (supp_key_split(ctx, key, scope, sizeof(scope), addr, sizeof(addr)) < 0
		   || strcmp(addr, w->addr) != 0)
		return 0;
	if (remove_one(ctx, &loc)) {
		printf("removed %s from %s\n", addr, scope);
		w->count++;
	}
	return 0;
}

/* remove_forms - delete every stored form in one scope, or in all (SCAN) */
static long
remove_forms(ctl_ctx *ctx, const supp_opts *o, const addr_forms *f)
{
	char	key[CTL_KEY_MAX];
	supp_walk w = {0};

	for (int k = 0; k < f->n; k++) {
		sl_supp_loc loc[2];
		int	nl;

		w.addr = f->a[k];
		if (o->all) {
			addr_pattern(ctx, f->a[k], key, sizeof(key));
			ctl_scan(ctx, key, remove_scan, &w);
			bucket_pattern(ctx, f->a[k], key, sizeof(key));
			ctl_scan(ctx, key, remove_scan, &w);
			continue;
		}
		nl = supp_locate(ctx, o->scope, f->a[k], 1, loc);
		for (int l = 0; l < nl; l++)
			if (remove_one(ctx, &loc[l])) {
				printf("removed %s from %s\n", f->a[k], o->scope);
				w.count++;
			}
	}
	return w.count;
}

/* ctl_suppress_remove - delete an entry (every stored form) from a scope or all */
int
ctl_suppress_remove(ctl_ctx *ctx, int argc, char **argv)
{
	addr_forms f;
	supp_opts o;
	int	i = supp_parse(ctx, argc, argv, O_SCOPE | O_ALL, 1, &o);

	if (o.all && o.scope_set)
		ctl_usage(ctx);
	forms_make(ctx, argv[i], &f);
	if (remove_forms(ctx, &o, &f) > 0)
		return 0;
	printf("%s was not suppressed in %s\n", f.a[f.n - 1], o.all ? "any scope" : o.scope);
	return CTL_NO;
}

/* An entry as check, list and export show it, in either layout (NULL: none). */
typedef struct supp_entry {
	const char *reason, *source, *added, *expires, *detail;
} supp_entry;

/* entry_of_hash - the entry of an HGETALL reply (hash layout) */
static supp_entry
entry_of_hash(const sl_reply *h)
{
	supp_entry e = {ctl_hget(h, "reason"), ctl_hget(h, "source"), ctl_hget(h, "added"),
			ctl_hget(h, "expires"), ctl_hget(h, "detail")};

	return e;
}

/* print_entry - one line: scope, address, reason, age, expiry, source, detail */
static void
print_entry(FILE *fp, const char *scope, const char *addr, const supp_entry *h, time_t now)
{
	const char *added = h->added, *exp = h->expires;
	const char *detail = h->detail;
	char	age[32], left[32] = "-";

	ctl_age(added && *added ? (time_t) atoll(added) : 0, now, age, sizeof(age));
	if (exp && atoll(exp) > now)
		ctl_age(now - (atoll(exp) - now), now, left, sizeof(left));
	fprintf(fp, "%-16s %-32s %-22s %-8s %-8s %s", scope, addr, h->reason ? h->reason : "?",
		age, left, h->source && *h->source ? h->source : "-");
	if (detail && *detail) {
		fputc(' ', fp);
		ctl_print_value(fp, detail);
	}
	fputc('\n', fp);
}

/* print_header - the column names of print_entry */
static void
print_header(FILE *fp)
{
	fprintf(fp, "%-16s %-32s %-22s %-8s %-8s %s\n", "SCOPE", "ADDRESS", "REASON",
		"AGE", "EXPIRES", "SOURCE DETAIL");
}

static void export_row(supp_walk *w, const char *scope, const char *addr, const supp_entry *e);

/* show - one live entry to the walk's output: a table row, or a CSV row */
static void
show(supp_walk *w, const char *scope, const char *addr, const supp_entry *e)
{
	if (w->scope && strcmp(scope, w->scope) != 0)
		return;
	if (*addr == '#' && strchr(addr, '@') == NULL) { /* a long address, stored hashed */
		w->hashed++;
		if (w->export)
			return;
	}
	if (w->export) {
		export_row(w, scope, addr, e);
		return;
	}
	if (w->count++ == 0)
		print_header(w->fp);
	print_entry(w->fp, scope, addr, e, w->now);
}

/* bucket_show - the live entries of a bucket (field "*": all), through the show script */
static void
bucket_show(ctl_ctx *ctx, supp_walk *w, const char *key, const char *field, const char *scope)
{
	const char *argv[] = {key, field};
	sl_reply *r = ctl_eval(ctx, &sl_supp_show_script, 1, 2, argv);

	for (size_t i = 0; r->type == SL_REPLY_ARRAY && i + 7 <= r->elements; i += 7) {
		const sl_reply *const *v = (const sl_reply *const *) r->element + i;
		supp_entry e = {v[2]->str, v[3]->str, v[4]->str, v[5]->str, v[6]->str};

		if (v[1]->str == NULL || e.reason == NULL)
			continue;
		show(w, scope, *field == '*' ? v[1]->str : w->addr, &e);
	}
	sl_reply_free(r);
}

/* list_scan - SCAN callback of check, list and export: show each live entry */
static int
list_scan(ctl_ctx *ctx, const char *key, void *arg)
{
	supp_walk *w = arg;
	char	addr[SL_ADDR_MAX + 1], field[SL_SUPP_FIELD_MAX];
	char	scope[64];
	unsigned long b;
	sl_scope sc;
	sl_reply *h;

	if (sl_supp_bucket_key_parse(key, ctx->prefix, &b, &sc) == 0) {
		if (sl_scope_format(&sc, scope, sizeof(scope)) < 0)
			return 0;
		if (w->addr)
			sl_supp_field(w->addr, field);
		bucket_show(ctx, w, key, w->addr ? field : "*", scope);
		return 0;
	}
	if (supp_key_split(ctx, key, scope, sizeof(scope), addr, sizeof(addr)) < 0
	    || (w->addr && strcmp(addr, w->addr) != 0))
		return 0;
	if ((h = ctl_hgetall(ctx, key)) == NULL)
		return 0;			/* expired or not a hash */
	{
		supp_entry e = entry_of_hash(h);
		const char *x = e.expires;

		if (e.reason && !(x && atoll(x) > 0 && atoll(x) <= w->now))
			show(w, scope, addr, &e);
	}
	sl_reply_free(h);
	return 0;
}

/* print_soft - the soft bounces sluice-feedback is counting for a form */
static void
print_soft(ctl_ctx *ctx, const char *addr, time_t now)
{
	char	key[CTL_KEY_MAX], age[32];
	const char *argv[] = {"ZREVRANGE", key, "0", "-1", "WITHSCORES"};
	sl_reply *r;

	if (sl_key(key, sizeof(key), ctx->prefix, SL_KEY_SOFT, addr) < 0)
		return;
	r = ctl_cmdv(ctx, 5, argv);
	if (r->type == SL_REPLY_ARRAY && r->elements >= 2 && r->element[1]->str) {
		ctl_age((time_t) atoll(r->element[1]->str), now, age, sizeof(age));
		printf("%s: %zu soft bounce%s counted, the last %s ago\n", addr, r->elements / 2,
		       r->elements == 2 ? "" : "s", age);
	}
	sl_reply_free(r);
}

/*
 * ctl_suppress_check - every scope an address is suppressed in, under any
 * form policyd looks up, and its soft bounces; 1 if not suppressed.
 */
int
ctl_suppress_check(ctl_ctx *ctx, int argc, char **argv)
{
	char	key[CTL_KEY_MAX];
	supp_walk w = {.now = time(NULL), .fp = stdout};
	addr_forms f;
	supp_opts o;
	int	i = supp_parse(ctx, argc, argv, O_SCOPE, 1, &o);

	forms_make(ctx, argv[i], &f);
	for (int k = 0; k < f.n; k++) {
		w.addr = f.a[k];
		if (o.scope_set) {
			sl_supp_loc loc[2];
			int	nl = supp_locate(ctx, o.scope, f.a[k], 1, loc);

			for (int l = 0; l < nl; l++)
				list_scan(ctx, loc[l].key, &w);
		} else {
			addr_pattern(ctx, f.a[k], key, sizeof(key));
			ctl_scan(ctx, key, list_scan, &w);
			bucket_pattern(ctx, f.a[k], key, sizeof(key));
			ctl_scan(ctx, key, list_scan, &w);
		}
	}
	if (w.count == 0)
		printf("%s is not suppressed%s%s\n", f.a[f.n - 1], o.scope_set ? " in " : "",
		       o.scope_set ? o.scope : "");
	for (int k = 0; k < f.n; k++)
		print_soft(ctx, f.a[k], w.now);
	return w.count ? 0 : CTL_NO;
}

/*
 * ctl_supp_pattern - SCAN pattern of every entry and bucket of both layouts:
 * the common beginning of their names, then "*" (one walk of the keyspace)
 */
void
ctl_supp_pattern(const ctl_ctx *ctx, char *out, size_t outlen)
{
	char	p[256], b[CTL_KEY_MAX];
	size_t	n = 0;

	ctl_glob_escape(ctx->prefix, p, sizeof(p));
	sl_key(out, outlen, p, SL_KEY_SUPP, "*", "*");
	sl_key(b, sizeof(b), p, SL_KEY_SUPPB, "*", "*");
	while (out[n] && out[n] == b[n] && out[n] != '*')
		n++;
	snprintf(out + n, outlen - n, "*");
}

/* ctl_suppress_list - every entry (of one scope), as a table */
int
ctl_suppress_list(ctl_ctx *ctx, int argc, char **argv)
{
	supp_walk w = {.now = time(NULL), .fp = stdout};
	char	pattern[CTL_KEY_MAX];
	supp_opts o;

	supp_parse(ctx, argc, argv, O_SCOPE, 0, &o);
	w.scope = o.scope_set ? o.scope : NULL;
	ctl_supp_pattern(ctx, pattern, sizeof(pattern));
	ctl_scan(ctx, pattern, list_scan, &w);
	fprintf(stderr, "%ld entr%s\n", w.count, w.count == 1 ? "y" : "ies");
	if (w.hashed)
		fprintf(stderr, "%ld of them under a hashed address (over 48 bytes, compact layout)\n",
			w.hashed);
	return 0;
}

/* csv_field - one CSV field, quoted when it needs to be */
static void
csv_field(FILE *fp, const char *s, int last)
{
	if (s == NULL)
		s = "";
	if (strpbrk(s, ",\"\r\n") == NULL)
		fputs(s, fp);
	else {
		fputc('"', fp);
		for (; *s; s++) {
			if (*s == '"')
				fputc('"', fp);
			fputc(*s, fp);
		}
		fputc('"', fp);
	}
	fputc(last ? '\n' : ',', fp);
}

/* export_row - one CSV row */
static void
export_row(supp_walk *w, const char *scope, const char *addr, const supp_entry *h)
{
	char	a[32] = "", e[32] = "";

	if (h->added && *h->added)
		ctl_iso_time((time_t) atoll(h->added), a, sizeof(a));
	if (h->expires && *h->expires)
		ctl_iso_time((time_t) atoll(h->expires), e, sizeof(e));
	csv_field(w->fp, addr, 0);
	csv_field(w->fp, scope, 0);
	csv_field(w->fp, h->reason, 0);
	csv_field(w->fp, a, 0);
	csv_field(w->fp, e, 0);
	csv_field(w->fp, h->source, 0);
	csv_field(w->fp, h->detail, 1);
	w->count++;
}

/* ctl_suppress_export - CSV on stdout, readable by suppress import */
int
ctl_suppress_export(ctl_ctx *ctx, int argc, char **argv)
{
	supp_walk w = {.fp = stdout, .export = 1, .now = time(NULL)};
	char	pattern[CTL_KEY_MAX];
	supp_opts o;

	supp_parse(ctx, argc, argv, O_SCOPE, 0, &o);
	w.scope = o.scope_set ? o.scope : NULL;
	ctl_supp_pattern(ctx, pattern, sizeof(pattern));
	fputs("address,scope,reason,added,expires,source,detail\n", stdout);
	ctl_scan(ctx, pattern, list_scan, &w);
	fprintf(stderr, "exported %ld entr%s\n", w.count, w.count == 1 ? "y" : "ies");
	if (w.hashed) {
		fprintf(stderr, "sluicectl: %ld entr%s under a hashed address (over 48 bytes, compact "
			"layout) not exported: the address is not stored\n",
			w.hashed, w.hashed == 1 ? "y" : "ies");
		return CTL_NO;
	}
	return 0;
}

/*
 * Import: the CSV reader (ctl_csv.c) calls these back.
 */
typedef struct supp_import {
	ctl_ctx *ctx;
	const supp_opts *o;
	const char *file;		/* for messages */
	const ctl_csv_layout *lay;
	supp_batch b;
} supp_import;

/* import_rec - queue one record for writing */
static int
import_rec(const ctl_csv_rec *rec, void *arg)
{
	supp_import *im = arg;
	char	detail[320];
	const char *reason = im->o->reason ? im->o->reason : rec->reason ? rec->reason : "import";
	sl_supp_loc loc[2];

	if (im->o->dry_run)
		return 0;
	supp_locate(im->ctx, im->o->scope, rec->addr, 0, loc);
	detail[0] = '\0';
	if (rec->vendor_reason[0])
		snprintf(detail, sizeof(detail), "%s reason: %s", im->lay->vendor, rec->vendor_reason);
	batch_add(im->ctx, &im->b, &loc[0], reason, rec->added > 0 ? rec->added : time(NULL), detail);
	return 0;
}

/* import_bad - report one bad line and go on */
static void
import_bad(long line, const char *why, void *arg)
{
	supp_import *im = arg;

	fprintf(stderr, "sluicectl: %s:%ld: %s (skipped)\n", im->file, line, why);
}

/* import_open - the file, or stdin for "-" */
static FILE *
import_open(const char *path)
{
	FILE   *fp = strcmp(path, "-") == 0 ? stdin : fopen(path, "r");

	if (fp == NULL) {
		ctl_err("%s: cannot open it", path);
		exit(EX_NOINPUT);
	}
	return fp;
}

/* import_summary - one line saying what happened */
static void
import_summary(const supp_import *im, const ctl_csv_layout *lay, const ctl_csv_stats *st)
{
	printf("%s: %s, %ld line%s: %ld address%s, ", im->file,
	       lay->delim ? lay->vendor : "empty", st->lines, st->lines == 1 ? "" : "s",
	       st->records, st->records == 1 ? "" : "es");
	if (im->o->dry_run)
		printf("nothing written (dry run)");
	else
		printf("%ld added to %s, %ld already suppressed", im->b.written, im->o->scope,
		       im->b.sent - im->b.written);
	printf(", %ld bad line%s skipped\n", st->bad, st->bad == 1 ? "" : "s");
}

/* ctl_suppress_import - read a list or another provider's export */
int
ctl_suppress_import(ctl_ctx *ctx, int argc, char **argv)
{
	supp_import im = {.ctx = ctx};
	ctl_csv_layout lay = {0};
	ctl_csv_stats st;
	char	source[160];
	supp_opts o;
	int	i = supp_parse(ctx, argc, argv, O_SCOPE | O_REASON | O_TTL | O_REPLACE | O_DRY, 1, &o);
	FILE   *fp = import_open(argv[i]);
	const char *base = strrchr(argv[i], '/') ? strrchr(argv[i], '/') + 1 : argv[i];

	im.o = &o;
	im.file = strcmp(argv[i], "-") == 0 ? "stdin" : argv[i];
	snprintf(source, sizeof(source), "import:%s", strcmp(base, "-") == 0 ? "stdin" : base);
	im.lay = &lay;
	lay.addr_flags = addr_flags(ctx);
	im.b.source = source, im.b.ttl = o.ttl, im.b.replace = o.replace;
	im.b.cluster = ctx->conf->ncluster_nodes > 0;
	{
		sl_supp_layout l;

		ctl_supp_layout(ctx, &l);
		if (l.compact && !o.dry_run)
			(void) ctl_supp_load_functions(ctx, 1);
	}
	if (ctl_csv_read(fp, &lay, import_rec, import_bad, &im, &st) < 0) {
		ctl_err("%s: read error", im.file);
		return EX_IOERR;
	}
	if (fp != stdin)
		fclose(fp);
	batch_flush(ctx, &im.b);
	free(im.b.pend);
	import_summary(&im, &lay, &st);
	return st.bad ? EX_DATAERR : 0;
}
