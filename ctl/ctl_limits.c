/*
 * NAME
 *	ctl_limits 3 - sluicectl limits list|show
 * DESCRIPTION
 *	A limit is the hash <prefix>limit:<name>, defined by sluice-policyd
 *	(doc/redis-keys.md): fields such as key, match, rate, burst, window,
 *	max, unit, action, mode. policyd enforces the limits named in the set
 *	<prefix>limits; a hash whose name is not in the set is shown as
 *	"inactive". The modes (hash <prefix>mode: global, domain:<d>,
 *	tenant:<t>) are shown after the limits. Fields are printed as they
 *	are (HGETALL), so a field added by policyd later shows up without a
 *	change here. Counter keys below a limit (<prefix>limit:<name>:...)
 *	and keys that are not hashes are skipped.
 *
 *	"limits show" adds policyd's counters of the limit (<prefix>rulestats:
 *	<name>: passed, deferred, rejected, would_defer, would_reject, warned).
 *
 *	"limits set" writes fields (field=value; an empty value removes the
 *	field) and adds the name to the set, after checking the result with
 *	policyd's own validator (lib/live.c: every value, exactly one of rate
 *	and window, a key template, a max for a window): a limit policyd
 *	would ignore is refused here (exit 65). "limits list" shows an active
 *	limit that fails it (written by hand) as "ignored", with the reason.
 *	"limits remove" takes it out of the set and deletes the hash. "mode"
 *	shows or sets the mode table.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>

#include "ctl.h"
#include "live.h"
#include "log.h"

typedef struct limit_names {
	char  **name;
	int    *active;
	size_t	n, cap;
} limit_names;

/* names_add - remember a limit name once; mark it active when in the set */
static void
names_add(limit_names *l, const char *name, int active)
{
	for (size_t i = 0; i < l->n; i++)
		if (strcmp(l->name[i], name) == 0) {
			l->active[i] |= active;
			return;
		}
	if (l->n == l->cap) {
		size_t	cap = l->cap;

		l->name = sl_grow(l->name, l->n, &cap, sizeof(char *));
		l->active = sl_grow(l->active, l->n, &l->cap, sizeof(int));
	}
	l->name[l->n] = sl_strdup(name);
	l->active[l->n++] = active;
}

/* limit_scan - SCAN callback: names of limit hashes */
static int
limit_scan(ctl_ctx *ctx, const char *key, void *arg)
{
	sl_key_parts p;

	if (sl_key_parse(key, ctx->prefix, SL_KEY_LIMIT, &p) == 0 && strchr(p.part[0], ':') == NULL)
		names_add(arg, p.part[0], 0);
	return 0;
}

/* set_members - the names in <prefix>limits */
static void
set_members(ctl_ctx *ctx, limit_names *l)
{
	char	key[CTL_KEY_MAX];
	const char *argv[] = {"SMEMBERS", key};
	sl_reply *r;

	ctl_key(ctx, key, sizeof(key), SL_KEY_LIMITS);
	r = ctl_cmdv(ctx, 2, argv);
	for (size_t i = 0; r->type == SL_REPLY_ARRAY && i < r->elements; i++)
		if (r->element[i]->str)
			names_add(l, r->element[i]->str, 1);
	sl_reply_free(r);
}

/* print_fields - " field=value" for each pair of a hash */
static void
print_fields(const sl_reply *h)
{
	for (size_t i = 0; i + 1 < h->elements; i += 2) {
		printf(" %s=", h->element[i]->str);
		ctl_print_value(stdout, h->element[i + 1]->str ? h->element[i + 1]->str : "");
	}
}

/* limit_invalid - would policyd ignore this hash? why in err */
static int
limit_invalid(const sl_reply *h, char *err, size_t errlen)
{
	const char **f = sl_calloc(h->elements + 1, sizeof(char *));
	int	bad;

	for (size_t i = 0; i < h->elements; i++)
		f[i] = h->element[i]->str ? h->element[i]->str : "";
	bad = sl_live_limit_check((int) h->elements, f, err, errlen) < 0;
	free(f);
	if (!bad)
		err[0] = '\0';
	return bad;
}

/* print_limit - one line: name, state (active, inactive, ignored), fields */
static void
print_limit(ctl_ctx *ctx, const char *name, int active)
{
	char	key[CTL_KEY_MAX], why[300] = "";
	sl_reply *h;

	if (ctl_key(ctx, key, sizeof(key), SL_KEY_LIMIT, name) < 0)
		return;
	h = ctl_hgetall(ctx, key);
	printf("%-24s %-8s", name, h == NULL ? "missing" : !active ? "inactive"
	       : limit_invalid(h, why, sizeof(why)) ? "ignored" : "active");
	if (h)
		print_fields(h);
	if (h && active && why[0])
		printf("  # ignored by sluice-policyd: %s", why);
	putchar('\n');
	sl_reply_free(h);
}

static int mode_scope_ok(const char *s);

/* print_modes - the mode table, if any (entries policyd ignores marked) */
static void
print_modes(ctl_ctx *ctx)
{
	char	key[CTL_KEY_MAX];
	sl_reply *h;

	ctl_key(ctx, key, sizeof(key), SL_KEY_MODE);
	if ((h = ctl_hgetall(ctx, key)) == NULL)
		return;
	printf("modes:");
	print_fields(h);
	for (size_t i = 0; i + 1 < h->elements; i += 2)	/* what policyd ignores */
		if (h->element[i]->str && h->element[i + 1]->str
		    && (!mode_scope_ok(h->element[i]->str) || sl_live_mode(h->element[i + 1]->str) < 0))
			printf("  # ignored by sluice-policyd: %s", h->element[i]->str);
	putchar('\n');
	sl_reply_free(h);
}

static const limit_names *sort_names;	/* what cmp_idx() sorts by */

/* cmp_idx - qsort helper over names (index array) */
static int
cmp_idx(const void *a, const void *b)
{
	return strcmp(sort_names->name[*(const size_t *) a], sort_names->name[*(const size_t *) b]);
}

/* ctl_limits_list - every limit with its fields, then the modes */
int
ctl_limits_list(ctl_ctx *ctx, int argc, char **argv)
{
	char	pattern[CTL_KEY_MAX], p[256];
	limit_names l = {0};
	size_t *idx;

	(void) argv;
	if (argc != 1)
		ctl_usage(ctx);
	set_members(ctx, &l);
	ctl_glob_escape(ctx->prefix, p, sizeof(p));
	sl_key(pattern, sizeof(pattern), p, SL_KEY_LIMIT, "*");
	ctl_scan(ctx, pattern, limit_scan, &l);
	idx = calloc(l.n + 1, sizeof(size_t));
	for (size_t i = 0; i < l.n; i++)
		idx[i] = i;
	sort_names = &l;
	if (l.n > 1)
		qsort(idx, l.n, sizeof(size_t), cmp_idx);
	for (size_t i = 0; i < l.n; i++)
		print_limit(ctx, l.name[idx[i]], l.active[idx[i]]);
	if (l.n == 0)
		printf("no limits defined\n");
	print_modes(ctx);
	for (size_t i = 0; i < l.n; i++)
		free(l.name[i]);
	free(l.name), free(l.active), free(idx);
	return 0;
}

/* in_set - is name a member of <prefix>limits */
static int
in_set(ctl_ctx *ctx, const char *name)
{
	char	key[CTL_KEY_MAX];
	const char *argv[] = {"SISMEMBER", key, name};
	sl_reply *r;
	int	yes;

	ctl_key(ctx, key, sizeof(key), SL_KEY_LIMITS);
	r = ctl_cmdv(ctx, 3, argv);
	yes = r->type == SL_REPLY_INTEGER && r->integer == 1;
	sl_reply_free(r);
	return yes;
}

/* print_rulestats - policyd's all-time counters of a limit, if any */
static void
print_rulestats(ctl_ctx *ctx, const char *name)
{
	char	key[CTL_KEY_MAX];
	sl_reply *h;

	if (ctl_key(ctx, key, sizeof(key), SL_KEY_RULESTATS, name) < 0
	    || (h = ctl_hgetall(ctx, key)) == NULL)
		return;
	printf("counters (all time, %s):\n", key);
	ctl_print_hash(stdout, h, "  ");
	sl_reply_free(h);
}

/* ctl_limits_show - one limit, a field per line, its counters; 1 when there is none */
int
ctl_limits_show(ctl_ctx *ctx, int argc, char **argv)
{
	char	key[CTL_KEY_MAX];
	sl_reply *h;

	if (argc != 2 || argv[1][0] == '-' || ctl_key(ctx, key, sizeof(key), SL_KEY_LIMIT, argv[1]) < 0)
		ctl_usage(ctx);
	if ((h = ctl_hgetall(ctx, key)) == NULL) {
		printf("limit %s: no such limit\n", argv[1]);
		return CTL_NO;
	}
	printf("limit: %s\n", argv[1]);
	printf("  state: %s\n", in_set(ctx, argv[1]) ? "active (in the limits set)"
	       : "inactive (not in the limits set: SADD it to enforce)");
	ctl_print_hash(stdout, h, "  ");
	sl_reply_free(h);
	print_rulestats(ctx, argv[1]);
	return 0;
}

static const char *const limit_fields[] = {
	"key", "match", "rate", "burst", "window", "max", "unit", "action", "mode",
	"warn", "text", "schedule", "schedule_start", "description", "note", NULL
};

/* limit_name_ok - policyd's rule: 1-64 characters, no blanks, ':' or braces */
static int
limit_name_ok(const char *n)
{
	return *n && *n != '-' && strlen(n) <= 64 && strpbrk(n, " \t\r\n:{}") == NULL;
}

/* field_known - one of the fields policyd reads */
static int
field_known(const char *f, size_t len)
{
	for (const char *const *p = limit_fields; *p; p++)
		if (strlen(*p) == len && strncmp(*p, f, len) == 0)
			return 1;
	return 0;
}

/* check_final - refuse a limit policyd would ignore (lib/live.c decides) */
static int
check_final(const sl_reply *h, int nset, char **set)
{
	const char **f = sl_calloc((h ? h->elements : 0) + 2 * (size_t) nset + 1, sizeof(char *));
	char	err[300], *names = sl_calloc((size_t) nset + 1, 32);
	int	n = 0, rc;

	for (size_t i = 0; h && i + 1 < h->elements; i += 2) {
		f[n++] = h->element[i]->str;
		f[n++] = h->element[i + 1]->str ? h->element[i + 1]->str : "";
	}
	for (int i = 0; i < nset; i++) {
		char   *name = names + 32 * i;
		const char *v = set[i] + strcspn(set[i], "=") + 1;

		snprintf(name, 32, "%.*s", (int) strcspn(set[i], "="), set[i]);
		for (int k = 0; k + 1 < n; k += 2)	/* the new value replaces the old */
			if (strcmp(f[k], name) == 0) {
				memmove(f + k, f + k + 2, (size_t) (n - k - 2) * sizeof(char *));
				n -= 2;
				break;
			}
		if (*v)				/* an empty value removes the field */
			f[n++] = name, f[n++] = v;
	}
	if ((rc = sl_live_limit_check(n, f, err, sizeof(err))) < 0)
		ctl_err("refused: %s (sluice-policyd would ignore this limit)", err);
	free(f);
	free(names);
	return rc;
}

/* write_fields - HSET or HDEL each field=value */
static void
write_fields(ctl_ctx *ctx, const char *key, int nset, char **set)
{
	for (int i = 0; i < nset; i++) {
		size_t	fl = strcspn(set[i], "=");
		char	field[32];
		const char *v = set[i] + fl + 1;
		const char *hset[] = {"HSET", key, field, v};
		const char *hdel[] = {"HDEL", key, field};

		snprintf(field, sizeof(field), "%.*s", (int) fl, set[i]);
		sl_reply_free(ctl_cmd_ok(ctx, *v ? 4 : 3, *v ? hset : hdel));
	}
}

/* ctl_limits_set - write a limit's fields and make it active */
int
ctl_limits_set(ctl_ctx *ctx, int argc, char **argv)
{
	char	key[CTL_KEY_MAX], set[CTL_KEY_MAX];
	const char *sadd[] = {"SADD", set, argc > 1 ? argv[1] : ""};
	sl_reply *h;

	if (argc < 3 || !limit_name_ok(argv[1]))
		ctl_usage(ctx);
	for (int i = 2; i < argc; i++)
		if (strchr(argv[i], '=') == NULL || !field_known(argv[i], strcspn(argv[i], "="))) {
			ctl_err("\"%s\": use field=value with a field among key, match, rate, burst, "
				"window, max, unit, action, mode, warn, text, schedule, schedule_start, "
				"description, note", argv[i]);
			ctl_usage(ctx);
		}
	ctl_key(ctx, key, sizeof(key), SL_KEY_LIMIT, argv[1]);
	ctl_key(ctx, set, sizeof(set), SL_KEY_LIMITS);
	h = ctl_hgetall(ctx, key);
	if (check_final(h, argc - 2, argv + 2) < 0) {
		sl_reply_free(h);
		return EX_DATAERR;
	}
	sl_reply_free(h);
	write_fields(ctx, key, argc - 2, argv + 2);
	sl_reply_free(ctl_cmd_ok(ctx, 3, sadd));
	printf("limit %s set and active\n", argv[1]);
	return 0;
}

/* ctl_limits_remove - take a limit out of the set and delete it */
int
ctl_limits_remove(ctl_ctx *ctx, int argc, char **argv)
{
	char	key[CTL_KEY_MAX], set[CTL_KEY_MAX];
	const char *srem[] = {"SREM", set, argc > 1 ? argv[1] : ""};
	const char *del[] = {"DEL", key};
	sl_reply *a, *b;
	int	found;

	if (argc != 2 || !limit_name_ok(argv[1]))
		ctl_usage(ctx);
	ctl_key(ctx, key, sizeof(key), SL_KEY_LIMIT, argv[1]);
	ctl_key(ctx, set, sizeof(set), SL_KEY_LIMITS);
	a = ctl_cmd_ok(ctx, 3, srem);
	b = ctl_cmd_ok(ctx, 2, del);
	found = a->integer > 0 || b->integer > 0;
	sl_reply_free(a);
	sl_reply_free(b);
	printf("limit %s %s\n", argv[1], found ? "removed" : "did not exist");
	return found ? 0 : CTL_NO;
}

/* mode_scope_ok - global, domain:<d> or tenant:<t> */
static int
mode_scope_ok(const char *s)
{
	return strcmp(s, "global") == 0 || (strncmp(s, "domain:", 7) == 0 && s[7])
	    || (strncmp(s, "tenant:", 7) == 0 && ctl_label_ok(s + 7));
}

/* ctl_mode - show the mode table, or set (inherit: remove) one scope's mode */
int
ctl_mode(ctl_ctx *ctx, int argc, char **argv)
{
	char	key[CTL_KEY_MAX];
	const char *v = argc == 3 ? argv[2] : "";
	const char *hset[] = {"HSET", key, argc > 1 ? argv[1] : "", v};
	const char *hdel[] = {"HDEL", key, argc > 1 ? argv[1] : ""};
	sl_reply *h;

	ctl_key(ctx, key, sizeof(key), SL_KEY_MODE);
	if (argc == 1) {
		if ((h = ctl_hgetall(ctx, key)) == NULL) {
			printf("no modes set: every check is enforced\n");
			return 0;
		}
		ctl_print_hash(stdout, h, "");
		sl_reply_free(h);
		return 0;
	}
	if (argc != 3 || !mode_scope_ok(argv[1]) || (sl_live_mode(v) < 0 && strcmp(v, "inherit") != 0))
		ctl_usage(ctx);
	sl_reply_free(ctl_cmd_ok(ctx, 3 + (strcmp(v, "inherit") != 0), strcmp(v, "inherit") ? hset : hdel));
	printf("mode %s: %s\n", argv[1], v);
	return 0;
}
