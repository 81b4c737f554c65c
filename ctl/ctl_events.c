/*
 * NAME
 *	ctl_events 3 - sluicectl events: the last entries of the events stream
 * DESCRIPTION
 *	The daemons append what they record (bounces, complaints,
 *	unsubscribes, tenant changes ...) to the stream <prefix>events.
 *	This prints the last N entries (XREVRANGE), oldest first, one line
 *	each: time (from the entry id), id, then field=value pairs. With
 *	--follow it then waits for new entries with XREAD BLOCK, in steps
 *	shorter than the configured command timeout, until interrupted.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ctl.h"

/* print_event - one stream entry [id, [field, value, ...]] */
static void
print_event(const sl_reply *e)
{
	const sl_reply *f;
	char	when[32];

	if (e->type != SL_REPLY_ARRAY || e->elements != 2 || e->element[0]->str == NULL)
		return;
	ctl_iso_time((time_t) (atoll(e->element[0]->str) / 1000), when, sizeof(when));
	printf("%s %s", when, e->element[0]->str);
	f = e->element[1];
	for (size_t i = 0; f->type == SL_REPLY_ARRAY && i + 1 < f->elements; i += 2) {
		printf(" %s=", f->element[i]->str ? f->element[i]->str : "");
		ctl_print_value(stdout, f->element[i + 1]->str ? f->element[i + 1]->str : "");
	}
	putchar('\n');
}

/* last_events - print the last count entries (0: none); remember the newest id */
static void
last_events(ctl_ctx *ctx, const char *key, const char *count, char *last, size_t lastlen)
{
	int	quiet = strcmp(count, "0") == 0;
	const char *argv[] = {"XREVRANGE", key, "+", "-", "COUNT", quiet ? "1" : count};
	sl_reply *r = ctl_cmd_ok(ctx, 6, argv);

	for (size_t i = r->elements; i > 0 && !quiet; i--)
		print_event(r->element[i - 1]);
	if (r->elements > 0 && r->element[0]->type == SL_REPLY_ARRAY
	    && r->element[0]->elements > 0 && r->element[0]->element[0]->str)
		snprintf(last, lastlen, "%s", r->element[0]->element[0]->str);
	sl_reply_free(r);
}

/* follow_step - one XREAD BLOCK; prints new entries, advances last */
static void
follow_step(ctl_ctx *ctx, const char *key, const char *block, char *last, size_t lastlen)
{
	const char *argv[] = {"XREAD", "BLOCK", block, "STREAMS", key, last};
	sl_reply *r = ctl_cmd_ok(ctx, 6, argv);
	const sl_reply *entries;

	if (r->type == SL_REPLY_ARRAY && r->elements == 1 && r->element[0]->elements == 2) {
		entries = r->element[0]->element[1];
		for (size_t i = 0; i < entries->elements; i++) {
			print_event(entries->element[i]);
			if (entries->element[i]->elements > 0 && entries->element[i]->element[0]->str)
				snprintf(last, lastlen, "%s", entries->element[i]->element[0]->str);
		}
		fflush(stdout);
	}
	sl_reply_free(r);
}

/* count_ok - how many entries to show first: 0 to a million */
static int
count_ok(const char *s)
{
	long long v;

	return ctl_parse_long(s, 0, 1000000, &v) == 0;
}

/* ctl_events - the last entries, then new ones with --follow */
int
ctl_events(ctl_ctx *ctx, int argc, char **argv)
{
	char	key[CTL_KEY_MAX], count[24] = "20", last[64] = "0-0", block[24];
	const char *count_arg = NULL;
	long long n, timeout;
	int	follow = 0;
	const ctl_opt opts[] = {CTL_CHECKED("count", &count_arg, count_ok),
				CTL_FLAG("follow", &follow), CTL_OPT_END};

	ctl_getopt(ctx, argc, argv, opts, 0, 0);
	if (count_arg && ctl_parse_long(count_arg, 0, 1000000, &n) == 0)
		snprintf(count, sizeof(count), "%lld", n);
	if (ctl_key(ctx, key, sizeof(key), SL_KEY_EVENTS) < 0)
		ctl_usage(ctx);
	last_events(ctx, key, count, last, sizeof(last));
	if (!follow)
		return 0;
	fflush(stdout);			/* an empty stream: "0-0" reads from its start */
	timeout = cfg_getint(cfg_getsec(ctx->conf->cfg, "redis"), "command_timeout");
	snprintf(block, sizeof(block), "%lld", timeout > 400 ? timeout - 200 : timeout / 2 + 1);
	for (;;)
		follow_step(ctx, key, block, last, sizeof(last));
}
