/*
 * NAME
 *	ctl_dmarc 3 - sluicectl dmarc DOMAIN: summaries of DMARC aggregate reports
 * DESCRIPTION
 *	sluice-feedback adds every aggregate report it receives to the hash
 *	<prefix>dmarc:<domain>:<yyyymmdd> (fields reports, messages, pass,
 *	fail and src:<ip>:pass|fail; see doc/feedback.md). This prints, for
 *	the last N days (UTC, today included), one row per day and a total,
 *	then the sending sources by message count: a source with failures
 *	is one that neither SPF nor DKIM authenticated, i.e. a sender
 *	missing from the SPF record or not signing, or someone forging the
 *	domain.
 */
#include "config.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ctl.h"
#include "log.h"

#define DMARC_SOURCES_SHOWN 20

typedef struct dm_source {
	char	ip[64];
	long long pass, fail;
} dm_source;

typedef struct dm_sum {
	long long reports, messages, pass, fail;
	dm_source *src;
	size_t	nsrc, cap;
} dm_sum;

/* source_add - count messages of one source */
static void
source_add(dm_sum *s, const char *ip, size_t iplen, int pass, long long n)
{
	size_t	i;

	for (i = 0; i < s->nsrc; i++)
		if (strlen(s->src[i].ip) == iplen && strncmp(s->src[i].ip, ip, iplen) == 0)
			break;
	if (i == s->nsrc) {
		s->src = sl_grow(s->src, s->nsrc, &s->cap, sizeof(dm_source));
		memset(&s->src[i], 0, sizeof(dm_source));
		snprintf(s->src[i].ip, sizeof(s->src[i].ip), "%.*s", (int) iplen, ip);
		s->nsrc++;
	}
	*(pass ? &s->src[i].pass : &s->src[i].fail) += n;
}

/* field_source - "src:<ip>:pass|fail" (IPv6 has colons: split at the last) */
static void
field_source(dm_sum *s, const char *field, const char *value)
{
	const char *last = strrchr(field, ':');

	if (strncmp(field, "src:", 4) != 0 || last == NULL || last <= field + 4)
		return;
	if (strcmp(last, ":pass") == 0 || strcmp(last, ":fail") == 0)
		source_add(s, field + 4, (size_t) (last - field - 4), last[1] == 'p', atoll(value));
}

/* pct - pass rate as text */
static void
pct(long long n, long long d, char *out, size_t outlen)
{
	if (d <= 0)
		snprintf(out, outlen, "-");
	else
		snprintf(out, outlen, "%.2f%%", 100.0 * (double) n / (double) d);
}

/* one_day - print and add up one day's hash */
static void
one_day(ctl_ctx *ctx, const char *domain, const char *day, dm_sum *total)
{
	char	key[CTL_KEY_MAX], rate[16];
	long long v[4] = {0};
	static const char *const names[] = {"reports", "messages", "pass", "fail"};
	sl_reply *h;

	if (ctl_key(ctx, key, sizeof(key), SL_KEY_DMARC, domain, day) < 0
	    || (h = ctl_hgetall(ctx, key)) == NULL)
		return;
	for (int i = 0; i < 4; i++)
		v[i] = ctl_hget(h, names[i]) ? atoll(ctl_hget(h, names[i])) : 0;
	for (size_t i = 0; i + 1 < h->elements; i += 2)
		if (h->element[i]->str && h->element[i + 1]->str)
			field_source(total, h->element[i]->str, h->element[i + 1]->str);
	sl_reply_free(h);
	pct(v[2], v[1], rate, sizeof(rate));
	printf("%-10s %8lld %10lld %10lld %10lld %8s\n", day, v[0], v[1], v[2], v[3], rate);
	total->reports += v[0], total->messages += v[1], total->pass += v[2], total->fail += v[3];
}

/* cmp_sources - most messages first */
static int
cmp_sources(const void *a, const void *b)
{
	const dm_source *x = a, *y = b;
	long long nx = x->pass + x->fail, ny = y->pass + y->fail;

	return nx < ny ? 1 : nx > ny ? -1 : strcmp(x->ip, y->ip);
}

/* print_sources - the busiest sources, failures flagged */
static void
print_sources(dm_sum *s)
{
	if (s->nsrc == 0)
		return;
	if (s->nsrc > 1)
		qsort(s->src, s->nsrc, sizeof(dm_source), cmp_sources);
	printf("\n%-40s %10s %10s\n", "SOURCE", "PASS", "FAIL");
	for (size_t i = 0; i < s->nsrc && i < DMARC_SOURCES_SHOWN; i++)
		printf("%-40s %10lld %10lld%s\n", s->src[i].ip, s->src[i].pass, s->src[i].fail,
		       s->src[i].fail ? "  not authenticated (SPF and DKIM failed)" : "");
	if (s->nsrc > DMARC_SOURCES_SHOWN)
		printf("... and %zu more sources\n", s->nsrc - DMARC_SOURCES_SHOWN);
}

/* days_ok - how many days back: 1 to 366 */
static int
days_ok(const char *s)
{
	long long v;

	return ctl_parse_long(s, 1, 366, &v) == 0;
}

/* ctl_dmarc - the last days of aggregate reports for a domain */
int
ctl_dmarc(ctl_ctx *ctx, int argc, char **argv)
{
	char	domain[256], day[16], rate[16];
	long long days = 7;
	dm_sum	total = {0};
	time_t	now = time(NULL);
	const char *days_arg = NULL, *name;
	const ctl_opt opts[] = {CTL_CHECKED("days", &days_arg, days_ok), CTL_OPT_END};

	name = argv[ctl_getopt(ctx, argc, argv, opts, 1, 1)];
	if (days_arg)
		(void) ctl_parse_long(days_arg, 1, 366, &days);
	if (strlen(name) >= sizeof(domain) || name[0] == '-')
		ctl_usage(ctx);
	for (size_t i = 0; i <= strlen(name); i++)
		domain[i] = (char) tolower((unsigned char) name[i]);
	printf("DMARC aggregate reports for %s, last %lld day%s (UTC)\n", domain, days,
	       days == 1 ? "" : "s");
	printf("%-10s %8s %10s %10s %10s %8s\n", "DAY", "REPORTS", "MESSAGES", "PASS", "FAIL", "PASS%");
	for (long long d = days - 1; d >= 0; d--) {
		time_t	t = now - (time_t) d * 86400;
		struct tm tm;

		gmtime_r(&t, &tm);
		strftime(day, sizeof(day), "%Y%m%d", &tm);
		one_day(ctx, domain, day, &total);
	}
	pct(total.pass, total.messages, rate, sizeof(rate));
	printf("%-10s %8lld %10lld %10lld %10lld %8s\n", "TOTAL", total.reports, total.messages,
	       total.pass, total.fail, rate);
	print_sources(&total);
	free(total.src);
	return 0;
}
