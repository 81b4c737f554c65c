/*
 * NAME
 *	ctl_stats 3 - sluicectl stats: the day's counters per tenant and category
 * DESCRIPTION
 *	Counters are the hashes <prefix>stats:<yyyymmdd>:<tenant>:<category>
 *	("-" for none) with the fields sent, hard, soft, complaint, unsub,
 *	sender_fault (bounces that were the sender's fault: blocks,
 *	reputation, rate limits) and unverified (feedback records that moved
 *	nothing: forged or unbound), written by the daemons with HINCRBY,
 *	and delivered, deferred, bounced, expired (sluice-logd, shown in a
 *	second table when there are any); without --tenant, also
 *	sluice-logd's <prefix>pstats:<yyyymmdd>:<provider> per provider.
 *	This prints one row per hash of the day (UTC, today by default),
 *	sorted, with the hard bounce and complaint rates over sent, and a
 *	total row; then, from <prefix>provider:<yyyymmdd>:<orgdomain>
 *	(sluice-feedback), the day's sender-side bounces per destination
 *	provider and reason (with --tenant: the providers that tenant had
 *	any at).
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ctl.h"
#include "log.h"

static const char *const stat_fields[] = {"sent", "hard", "soft", "complaint", "unsub",
					  "sender_fault", "unverified"};
#define NSTAT (sizeof(stat_fields) / sizeof(stat_fields[0]))
static const char *const stat_heads[NSTAT] = {"SENT",  "HARD",   "SOFT",   "COMPLAINT",
					      "UNSUB", "SENDER", "UNVERIF"};
static const int stat_widths[NSTAT] = {9, 7, 7, 9, 7, 7, 7};
/* Written by sluice-logd from Postfix's log: recipients per final or retried attempt. */
static const char *const dlv_fields[] = {"delivered", "deferred", "bounced", "expired"};
#define NDLV (sizeof(dlv_fields) / sizeof(dlv_fields[0]))
static const char *const dlv_heads[NDLV] = {"DELIVERED", "DEFERRED", "BOUNCED", "EXPIRED"};
static const int dlv_widths[NDLV] = {9, 9, 9, 9};

typedef struct stat_row {
	char	tenant[64], category[64];
	long long v[NSTAT];
	long long d[NDLV];
} stat_row;

typedef struct stat_rows {
	stat_row *rows;
	size_t	n, cap;
	size_t	plen;			/* length of "<prefix>stats:<day>:" */
} stat_rows;

/* The day's sender-side bounces per destination provider, one line each. */
typedef struct prov_rows {
	char  **line;
	size_t	n, cap;
	size_t	plen;			/* length of "<prefix>provider:<day>:" */
	const char *tenant;		/* NULL: every tenant */
} prov_rows;

/* row_new - append an empty row */
static stat_row *
row_new(stat_rows *s)
{
	s->rows = sl_grow(s->rows, s->n, &s->cap, sizeof(stat_row));
	memset(&s->rows[s->n], 0, sizeof(stat_row));
	return &s->rows[s->n++];
}

/* stats_scan - SCAN callback: one row per counter hash */
static int
stats_scan(ctl_ctx *ctx, const char *key, void *arg)
{
	stat_rows *s = arg;
	const char *rest = key + s->plen, *colon = strchr(rest, ':'), *v;
	sl_reply *h;
	stat_row *r;

	if (colon == NULL || strchr(colon + 1, ':') || (h = ctl_hgetall(ctx, key)) == NULL)
		return 0;
	r = row_new(s);
	snprintf(r->tenant, sizeof(r->tenant), "%.*s", (int) (colon - rest), rest);
	snprintf(r->category, sizeof(r->category), "%s", colon + 1);
	for (size_t i = 0; i < NSTAT; i++)
		if ((v = ctl_hget(h, stat_fields[i])) != NULL)
			r->v[i] = atoll(v);
	for (size_t i = 0; i < NDLV; i++)
		if ((v = ctl_hget(h, dlv_fields[i])) != NULL)
			r->d[i] = atoll(v);
	sl_reply_free(h);
	return 0;
}

/* cmp_rows - by tenant, then category */
static int
cmp_rows(const void *a, const void *b)
{
	const stat_row *x = a, *y = b;
	int	c = strcmp(x->tenant, y->tenant);

	return c ? c : strcmp(x->category, y->category);
}

/* pct - a rate over sent, as text */
static void
pct(long long n, long long sent, char *out, size_t outlen)
{
	if (sent <= 0)
		snprintf(out, outlen, "-");
	else
		snprintf(out, outlen, "%.2f%%", 100.0 * (double) n / (double) sent);
}

/* print_head - a table's header: tenant, category, n counters, two rates */
static void
print_head(const char *const *heads, const int *widths, size_t n, const char *r1, const char *r2)
{
	printf("%-16s %-16s", "TENANT", "CATEGORY");
	for (size_t i = 0; i < n; i++)
		printf(" %*s", widths[i], heads[i]);
	printf(" %8s %8s\n", r1, r2);
}

/* print_cells - one line of a table, in the widths of its header */
static void
print_cells(const stat_row *r, const long long *v, const int *widths, size_t n, const char *r1,
	    const char *r2)
{
	printf("%-16s %-16s", r->tenant, r->category);
	for (size_t i = 0; i < n; i++)
		printf(" %*lld", widths[i], v[i]);
	printf(" %8s %8s\n", r1, r2);
}

/* print_row - one line of the counters table, with the hard bounce and complaint rates */
static void
print_row(const stat_row *r)
{
	char	hr[16], cr[16];

	pct(r->v[1], r->v[0], hr, sizeof(hr));
	pct(r->v[3], r->v[0], cr, sizeof(cr));
	print_cells(r, r->v, stat_widths, NSTAT, hr, cr);
}

/*
 * print_deliveries - sluice-logd's counters, when it runs: the complaint
 * rate over delivered recipients, the bounce rate (Postfix's own bounced)
 * over delivered + bounced
 */
static void
print_deliveries(const stat_rows *s, const stat_row *total)
{
	char	br[16], cr[16];

	if (total->d[0] + total->d[1] + total->d[2] + total->d[3] == 0)
		return;
	printf("\ndeliveries (sluice-logd, from Postfix's log)\n");
	print_head(dlv_heads, dlv_widths, NDLV, "BOUNCE%", "COMPL%");
	for (size_t i = 0; i <= s->n; i++) {
		const stat_row *r = i < s->n ? &s->rows[i] : total;

		pct(r->d[2], r->d[0] + r->d[2], br, sizeof(br));
		pct(r->v[3], r->d[0], cr, sizeof(cr));
		print_cells(r, r->d, dlv_widths, NDLV, br, cr);
	}
}

/* print_table - header, rows, total */
static void
print_table(stat_rows *s, const char *day)
{
	stat_row total = {.tenant = "TOTAL", .category = ""};

	printf("day %s (UTC)\n", day);
	print_head(stat_heads, stat_widths, NSTAT, "HARD%", "COMPL%");
	if (s->n > 1)
		qsort(s->rows, s->n, sizeof(stat_row), cmp_rows);
	for (size_t i = 0; i < s->n; i++) {
		print_row(&s->rows[i]);
		for (size_t k = 0; k < NSTAT; k++)
			total.v[k] += s->rows[i].v[k];
		for (size_t k = 0; k < NDLV; k++)
			total.d[k] += s->rows[i].d[k];
	}
	print_row(&total);
	print_deliveries(s, &total);
}

/* prov_has_tenant - has this provider hash a tenant:<tenant>:<category> field? */
static int
prov_has_tenant(const sl_reply *h, const char *tenant)
{
	size_t	n = strlen(tenant);

	for (size_t i = 0; i + 1 < h->elements; i += 2) {
		const char *f = h->element[i]->str;

		if (strncmp(f, "tenant:", 7) == 0 && strncmp(f + 7, tenant, n) == 0
		    && f[7 + n] == ':')
			return 1;
	}
	return 0;
}

/*
 * join_fields - append ", "-separated "name n" for each field of h named
 * <prefix>name, at off in line; returns the new offset, at most size - 1
 */
static size_t
join_fields(char *line, size_t size, size_t off, const sl_reply *h, const char *prefix)
{
	size_t	plen = strlen(prefix);
	int	first = 1;

	for (size_t i = 0; i + 1 < h->elements && off + 1 < size; i += 2) {
		const char *f = h->element[i]->str;

		if (strncmp(f, prefix, plen) != 0)
			continue;
		off += (size_t) snprintf(line + off, size - off, "%s%s %s", first ? "" : ", ",
					 f + plen, h->element[i + 1]->str);
		first = 0;
	}
	return off < size ? off : size - 1;
}

/* add_line - keep one printed line */
static void
add_line(prov_rows *p, const char *line)
{
	p->line = sl_grow(p->line, p->n, &p->cap, sizeof(*p->line));
	p->line[p->n++] = sl_strdup(line);
}

/* prov_scan - SCAN callback: "provider total  reason n, reason n" per hash */
static int
prov_scan(ctl_ctx *ctx, const char *key, void *arg)
{
	prov_rows *p = arg;
	sl_reply *h = ctl_hgetall(ctx, key);
	const char *v;
	char	line[1024];
	size_t	off;

	if (h == NULL)
		return 0;
	if (p->tenant == NULL || prov_has_tenant(h, p->tenant)) {
		v = ctl_hget(h, "sender_fault");
		off = (size_t) snprintf(line, sizeof(line), "%-32s %9s  ", key + p->plen,
					v ? v : "0");
		join_fields(line, sizeof(line), off, h, "sender_fault:");
		add_line(p, line);
	}
	sl_reply_free(h);
	return 0;
}

/*
 * part_offset - where the part after the day starts in a key of kind
 * (lib/keyspace.c): the rows are named by what follows
 */
static size_t
part_offset(const ctl_ctx *ctx, enum sl_key_kind kind, const char *day)
{
	char	key[CTL_KEY_MAX], *m;

	if (sl_key(key, sizeof(key), ctx->prefix, kind, day, "\001", "\001") < 0
	    || (m = strchr(key, '\001')) == NULL)
		return strlen(ctx->prefix);
	return (size_t) (m - key);
}

/* cmp_lines - alphabetical */
static int
cmp_lines(const void *a, const void *b)
{
	return strcmp(*(char *const *) a, *(char *const *) b);
}

/*
 * print_lines - the day's hashes of kind, one line each by scan, sorted,
 * under a title and a header line; nothing when there are none
 */
static void
print_lines(ctl_ctx *ctx, const char *p, const char *day, enum sl_key_kind kind,
	    ctl_scan_fn *scan, prov_rows *r, const char *title, const char *header)
{
	char	pattern[CTL_KEY_MAX];

	sl_key(pattern, sizeof(pattern), p, kind, day, "*");
	r->plen = part_offset(ctx, kind, day);
	ctl_scan(ctx, pattern, scan, r);
	if (r->n > 1)
		qsort(r->line, r->n, sizeof(*r->line), cmp_lines);
	if (r->n > 0)
		printf("\n%s\n%s\n", title, header);
	for (size_t i = 0; i < r->n; i++) {
		printf("%s\n", r->line[i]);
		free(r->line[i]);
	}
	free(r->line);
}

/* print_providers - the day's sender-side bounces per provider, when there are any */
static void
print_providers(ctl_ctx *ctx, const char *p, const char *day, const char *tenant)
{
	prov_rows r = {.tenant = tenant};
	char	header[128];

	snprintf(header, sizeof(header), "%-32s %9s  %s", "PROVIDER", "SENDER", "REASONS");
	print_lines(ctx, p, day, SL_KEY_PROVIDER, prov_scan, &r,
		    "sender-side bounces by provider (never suppress; all tenants' reasons)", header);
}

/* pstats_scan - SCAN callback: one line per provider of sluice-logd's pstats: hashes */
static int
pstats_scan(ctl_ctx *ctx, const char *key, void *arg)
{
	prov_rows *p = arg;
	sl_reply *h = ctl_hgetall(ctx, key);
	char	line[1024];
	size_t	off;
	const char *v;

	if (h == NULL)
		return 0;
	off = (size_t) snprintf(line, sizeof(line), "%-16s", key + p->plen);
	for (size_t i = 0; i < NDLV; i++)
		off += (size_t) snprintf(line + off, sizeof(line) - off, " %9s",
					 (v = ctl_hget(h, dlv_fields[i])) ? v : "0");
	off += (size_t) snprintf(line + off, sizeof(line) - off, "  ");
	join_fields(line, sizeof(line), off, h, "class:");
	add_line(p, line);
	sl_reply_free(h);
	return 0;
}

/* print_pstats - sluice-logd's deliveries per provider, all tenants, when there are any */
static void
print_pstats(ctl_ctx *ctx, const char *p, const char *day)
{
	prov_rows r = {0};
	char	header[128];

	snprintf(header, sizeof(header), "%-16s %9s %9s %9s %9s  %s", "PROVIDER", "DELIVERED",
		 "DEFERRED", "BOUNCED", "EXPIRED", "REFUSALS BY CLASS");
	print_lines(ctx, p, day, SL_KEY_PSTATS, pstats_scan, &r,
		    "deliveries by provider (sluice-logd, all tenants)", header);
}

/* today - yyyymmdd in UTC */
static void
today(char *out, size_t outlen)
{
	time_t	now = time(NULL);
	struct tm tm;

	gmtime_r(&now, &tm);
	strftime(out, outlen, "%Y%m%d", &tm);
}

/* day_ok - a day as yyyymmdd */
static int
day_ok(const char *s)
{
	return strlen(s) == 8 && strspn(s, "0123456789") == 8;
}

/* tenant_ok - a tenant name, or "-" for mail of no tenant */
static int
tenant_ok(const char *s)
{
	return ctl_label_ok(s) || strcmp(s, "-") == 0;
}

/* ctl_stats - the counters of one day, optionally of one tenant */
int
ctl_stats(ctl_ctx *ctx, int argc, char **argv)
{
	char	day[16] = "", pattern[CTL_KEY_MAX], p[256], t[64] = "*";
	const char *tenant = NULL, *day_arg = NULL;
	stat_rows s = {0};
	const ctl_opt opts[] = {CTL_CHECKED("day", &day_arg, day_ok),
				CTL_CHECKED("tenant", &tenant, tenant_ok), CTL_OPT_END};

	ctl_getopt(ctx, argc, argv, opts, 0, 0);
	if (tenant)
		ctl_glob_escape(tenant, t, sizeof(t));
	if (day_arg)
		snprintf(day, sizeof(day), "%s", day_arg);
	else
		today(day, sizeof(day));
	ctl_glob_escape(ctx->prefix, p, sizeof(p));
	sl_key(pattern, sizeof(pattern), p, SL_KEY_STATS, day, t, "*");
	s.plen = part_offset(ctx, SL_KEY_STATS, day);
	ctl_scan(ctx, pattern, stats_scan, &s);
	print_table(&s, day);
	free(s.rows);
	print_providers(ctx, p, day, tenant);
	if (tenant == NULL)
		print_pstats(ctx, p, day);
	return 0;
}
