/*
 * NAME
 *	test_policyd_limits - limit definitions, key templates, windows, modes
 * DESCRIPTION
 *	The C side of rate limits: what a sluice:limit:<name> hash may hold
 *	(valid and invalid values), key templates and match rules over a
 *	request's facts, rate parsing (the GCRA interval), calendar window
 *	ids and ends in a time zone, suppression keys and the mode chosen.
 */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "log.h"
#include "live.h"
#include "policyd.h"

pd_server pd_srv;

static pd_facts facts;

/* set_facts - a request from alice@Shop.example.co.uk to bob+x@Gmail.com */
static void
set_facts(void)
{
	memset(&facts, 0, sizeof(facts));
	facts.sasl_username = "alice";
	facts.client_address = "192.0.2.7";
	strcpy(facts.sender, "alice@mail.shop.example.co.uk");
	strcpy(facts.sender_domain, "mail.shop.example.co.uk");
	strcpy(facts.sender_orgdomain, "example.co.uk");
	strcpy(facts.recipient, "bob+x@gmail.com");
	strcpy(facts.recipient_domain, "gmail.com");
	strcpy(facts.recipient_orgdomain, "gmail.com");
	strcpy(facts.tenant, "shop1");
}

static void
test_template(void **state)
{
	char	out[PD_TEMPLATE_MAX], err[200];

	(void) state;
	set_facts();
	assert_int_equal(pd_template_expand("${sasl_username}", &facts, out, sizeof(out)), 5);
	assert_string_equal(out, "alice");
	assert_true(pd_template_expand("${sender_orgdomain}>${recipient_domain}", &facts, out,
				       sizeof(out)) > 0);
	assert_string_equal(out, "example.co.uk>gmail.com");
	/* an empty attribute: the limit does not apply */
	assert_int_equal(pd_template_expand("${category}", &facts, out, sizeof(out)), -1);
	assert_int_equal(pd_template_expand("${tenant}:${sasl_username}", &facts, out, 8), -2);
	assert_int_equal(pd_template_check("${sasl_username}", err, sizeof(err)), 0);
	assert_int_equal(pd_template_check("${nope}", err, sizeof(err)), -1);
	assert_int_equal(pd_template_check("${sender", err, sizeof(err)), -1);
	assert_int_equal(pd_template_check("constant", err, sizeof(err)), -1);
	assert_int_equal(pd_template_check("", err, sizeof(err)), -1);
}

static void
test_match(void **state)
{
	char	err[200];

	(void) state;
	set_facts();
	assert_true(pd_match(NULL, &facts));
	assert_true(pd_match("recipient_domain=gmail.com, googlemail.com", &facts));
	assert_true(pd_match("recipient_domain=GMAIL.com; tenant=shop1", &facts));
	assert_false(pd_match("recipient_domain=gmail.com; tenant=shop2", &facts));
	assert_false(pd_match("recipient_domain!=gmail.com", &facts));
	assert_true(pd_match("tenant!=shop2,shop3", &facts));
	assert_int_equal(pd_match_check("recipient_domain=a; tenant!=b", err, sizeof(err)), 0);
	assert_int_equal(pd_match_check("colour=red", err, sizeof(err)), -1);
	assert_int_equal(pd_match_check("no equals", err, sizeof(err)), -1);
}

static void
test_rate(void **state)
{
	long long n;
	double	ms;

	(void) state;
	assert_int_equal(pd_rate_parse("50/hour", &n, &ms), 0);
	assert_int_equal(n, 50);
	assert_true(ms == 3600000.0);
	assert_int_equal(pd_rate_parse("100/10m", &n, &ms), 0);
	assert_true(ms == 600000.0);
	assert_int_equal(pd_rate_parse("5/s", &n, &ms), 0);
	assert_int_equal(pd_rate_parse("10000/day", &n, &ms), 0);
	assert_int_equal(pd_rate_parse("lots", &n, &ms), -1);
	assert_int_equal(pd_rate_parse("0/hour", &n, &ms), -1);
	assert_int_equal(pd_rate_parse("-5/hour", &n, &ms), -1);
	assert_int_equal(pd_rate_parse("5/fortnight", &n, &ms), -1);
	assert_int_equal(pd_rate_parse("5/", &n, &ms), -1);
	assert_int_equal(pd_rate_parse("5/0h", &n, &ms), -1);
	assert_int_equal(pd_rate_parse("99999999999999999999/h", &n, &ms), -1);
}

static void
test_windows(void **state)
{
	char	id[32];
	time_t	end, t = 1764082800;	/* 2025-11-25 15:00:00 UTC */

	(void) state;
	setenv("TZ", "Asia/Tokyo", 1);
	tzset();
	assert_int_equal(pd_window_id(PD_WIN_DAY, t, id, sizeof(id), &end), 0);
	assert_string_equal(id, "20251126");		/* 00:00 JST on the 26th */
	assert_int_equal((long) end, 1764082800L + 86400);
	assert_int_equal(pd_window_id(PD_WIN_HOUR, t + 59, id, sizeof(id), &end), 0);
	assert_string_equal(id, "2025112600");
	assert_int_equal((long) end, 1764082800L + 3600);
	assert_int_equal(pd_window_id(PD_WIN_MINUTE, t + 61, id, sizeof(id), &end), 0);
	assert_string_equal(id, "202511260001");
	assert_int_equal(pd_window_id(PD_WIN_MONTH, t, id, sizeof(id), &end), 0);
	assert_string_equal(id, "202511");
	assert_int_equal((long) end, 1764514800L);	/* 2025-12-01 00:00 JST */
	setenv("TZ", "UTC", 1);
	tzset();
	assert_int_equal(pd_window_id(PD_WIN_MONTH, 1767225599, id, sizeof(id), &end), 0);
	assert_string_equal(id, "202512");
	assert_int_equal((long) end, 1767225600L);	/* year rollover */
}

/* parse - a limit from name=value pairs */
static int
parse(pd_limit *l, const char **fields, int n, char *err)
{
	return pd_limit_parse(l, "t", n, fields, err, 200);
}

/* test_ramp_rate - after a block: start a minute, doubling every step, growing in between */
static void
test_ramp_rate(void **state)
{
	(void) state;
	assert_true(pd_ramp_rate(10, 300, 0) == 10.0);
	assert_true(pd_ramp_rate(10, 300, -5) == 10.0);		/* clock skew between nodes */
	assert_true(pd_ramp_rate(10, 300, 150) == 15.0);
	assert_true(pd_ramp_rate(10, 300, 300) == 20.0);
	assert_true(pd_ramp_rate(10, 300, 450) == 30.0);
	assert_true(pd_ramp_rate(10, 300, 1500) == 320.0);
	for (double t = 0, last = 0; t < 7200; t += 37) {	/* never falls */
		double r = pd_ramp_rate(10, 300, t);

		assert_true(r >= last);
		last = r;
	}
	assert_true(pd_ramp_rate(1, 1, 1e6) < 3e9);		/* capped, no overflow */
}

/* test_warmup_schedule - a day-indexed maximum, and what is refused */
static void
test_warmup_schedule(void **state)
{
	const char *ok[] = {"key", "${sending_domain}", "window", "day", "schedule", "50,100,200",
			    "schedule_start", "20261203", "unit", "recipients"};
	const char *nostart[] = {"key", "${sender}", "window", "day", "schedule", "5"};
	const char *hour[] = {"key", "${sender}", "window", "hour", "schedule", "5",
			      "schedule_start", "20261203"};
	const char *bad[][2] = {{"schedule", ""}, {"schedule", "5,"}, {"schedule", ",5"},
				{"schedule", "5,x"}, {"schedule", "-1"}, {"schedule_start", "2026123"},
				{"schedule_start", "20261301"}, {"schedule_start", "20250229"},
				{"schedule_start", "2026-12-03"}};
	char	err[200];
	long long d;
	pd_limit l;

	(void) state;
	assert_int_equal(parse(&l, ok, 10, err), 0);
	assert_int_equal(l.nschedule, 3);
	assert_int_equal(pd_limit_max(&l, "20261202", NULL), 50);	/* before: the first figure */
	assert_int_equal(pd_limit_max(&l, "20261203", NULL), 50);
	assert_int_equal(pd_limit_max(&l, "20261204", NULL), 100);
	assert_int_equal(pd_limit_max(&l, "20261205", NULL), 200);
	assert_int_equal(pd_limit_max(&l, "20270101", NULL), 200);	/* after: the last one */
	pd_limit_clear(&l);
	assert_int_equal(parse(&l, nostart, 6, err), -1);
	pd_limit_clear(&l);
	assert_int_equal(parse(&l, hour, 8, err), -1);
	pd_limit_clear(&l);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(sl_live_limit_field(bad[i][0], bad[i][1], err, sizeof(err)), -1);
	assert_int_equal(sl_live_day("19700101", &d), 0);
	assert_int_equal(d, 0);
	assert_int_equal(sl_live_day("20261203", &d), 0);
	assert_int_equal(d, 20790);
	assert_int_equal(sl_live_day("20240229", &d), 0);
	assert_int_equal(d, 19782);
	assert_int_equal(sl_live_day("21000301", &d), 0);
	assert_int_equal(d, 47541);
}

static void
test_limit_parse(void **state)
{
	const char *rate[] = {"key", "${sasl_username}", "rate", "50/hour", "action", "reject",
			      "unit", "recipients", "mode", "monitor", "description", "x"};
	const char *win[] = {"key", "${tenant}", "window", "month", "max", "100000", "warn", "90000"};
	const char *both[] = {"key", "${tenant}", "window", "day", "max", "1", "rate", "5/s"};
	const char *nomax[] = {"key", "${tenant}", "window", "day"};
	const char *nokey[] = {"rate", "5/s"};
	const char *typo[] = {"key", "${tenant}", "rate", "5/s", "brust", "3"};
	const char *badmode[] = {"key", "${tenant}", "rate", "5/s", "mode", "loud"};
	const char *badtext[] = {"key", "${tenant}", "rate", "5/s", "text", "a\nb"};
	pd_limit l;
	char	err[200];

	(void) state;
	assert_int_equal(parse(&l, rate, 12, err), 0);
	assert_int_equal(l.kind, PD_LIMIT_RATE);
	assert_int_equal(l.burst, 50);
	assert_true(l.interval_ms == 72000.0);
	assert_true(l.reject && l.per_recipient);
	assert_int_equal(l.mode, PD_MODE_MONITOR);
	pd_limit_clear(&l);
	assert_int_equal(parse(&l, win, 8, err), 0);
	assert_int_equal(l.kind, PD_LIMIT_WINDOW);
	assert_int_equal(l.window, PD_WIN_MONTH);
	assert_int_equal(l.max, 100000);
	assert_int_equal(l.warn, 90000);
	assert_int_equal(l.mode, PD_MODE_INHERIT);
	assert_false(l.reject || l.per_recipient);
	pd_limit_clear(&l);
	assert_int_equal(parse(&l, both, 8, err), -1);
	pd_limit_clear(&l);
	assert_int_equal(parse(&l, nomax, 4, err), -1);
	assert_non_null(strstr(err, "needs max"));
	pd_limit_clear(&l);
	assert_int_equal(parse(&l, nokey, 2, err), -1);
	pd_limit_clear(&l);
	assert_int_equal(parse(&l, typo, 6, err), -1);
	assert_non_null(strstr(err, "brust"));
	pd_limit_clear(&l);
	assert_int_equal(parse(&l, badmode, 6, err), -1);
	pd_limit_clear(&l);
	assert_int_equal(parse(&l, badtext, 6, err), -1);
	pd_limit_clear(&l);
	assert_int_equal(pd_limit_parse(&l, "bad name", 2, nokey, err, sizeof(err)), -1);
	pd_limit_clear(&l);
}

static void
test_modes(void **state)
{
	pd_config cfg = {.mode = PD_MODE_ENFORCE};
	pd_server srv = {.cfg = &cfg};
	char   *names[] = {"global", "tenant:shop1", "domain:example.co.uk"};
	enum pd_mode values[] = {PD_MODE_MONITOR, PD_MODE_OFF, PD_MODE_ENFORCE};
	pd_limits t = {.mode_name = names, .mode_value = values, .nmode = 1};

	(void) state;
	set_facts();
	assert_int_equal(pd_mode_for(&srv, NULL, PD_MODE_INHERIT, &facts), PD_MODE_ENFORCE);
	assert_int_equal(pd_mode_for(&srv, &t, PD_MODE_INHERIT, &facts), PD_MODE_MONITOR);
	t.nmode = 3;		/* the tenant's mode beats the domain's and the global one */
	assert_int_equal(pd_mode_for(&srv, &t, PD_MODE_INHERIT, &facts), PD_MODE_OFF);
	facts.tenant[0] = '\0';	/* then the sender's organizational domain */
	assert_int_equal(pd_mode_for(&srv, &t, PD_MODE_INHERIT, &facts), PD_MODE_ENFORCE);
	/* a rule's own mode wins */
	assert_int_equal(pd_mode_for(&srv, &t, PD_MODE_MONITOR, &facts), PD_MODE_MONITOR);
}

static void
test_suppress_keys(void **state)
{
	pd_config cfg = {.strip_tag = 1, .lower_local = 1, .discard_tenant = 1};
	pd_scope sc[PD_SCOPES];
	int	n;

	(void) state;
	cfg.redis.prefix = "sluice:";
	set_facts();
	strcpy(facts.recipient, "Bob+x@gmail.com");
	strcpy(facts.category, "news");
	n = pd_suppress_scopes(&cfg, &facts, sc);
	assert_int_equal(n, 12);
	assert_string_equal(sc[0].key, "sluice:supp:global:{Bob+x@gmail.com}");
	assert_string_equal(sc[1].key, "sluice:supp:global:{bob+x@gmail.com}");
	assert_string_equal(sc[2].key, "sluice:supp:global:{Bob@gmail.com}");
	assert_string_equal(sc[3].key, "sluice:supp:global:{bob@gmail.com}");
	assert_string_equal(sc[4].key, "sluice:supp:cat:news:{Bob+x@gmail.com}");
	assert_string_equal(sc[11].key, "sluice:supp:tenant:shop1:{bob@gmail.com}");
	assert_true(sc[11].discard && !sc[0].discard);
	/* no tenant, no category, nothing to strip: global only, one form */
	cfg.strip_tag = cfg.lower_local = 0;
	facts.tenant[0] = facts.category[0] = '\0';
	assert_int_equal(pd_suppress_scopes(&cfg, &facts, sc), 1);
	strcpy(facts.recipient, "");
	assert_int_equal(pd_suppress_scopes(&cfg, &facts, sc), 0);
}

/* test_attributes_agree - lib/live.c's attribute list is policyd's pd_facts */
static void
test_attributes_agree(void **state)
{
	static const pd_facts empty;
	char	err[200];
	size_t	n = 0;

	(void) state;
	for (const char *const *a = sl_live_attributes; *a; a++, n++)
		assert_non_null(pd_facts_get(&empty, *a));
	assert_int_equal(n, 14);	/* as many as pd_facts_get() maps */
	assert_null(pd_facts_get(&empty, "colour"));
	/* so sluicectl refuses what policyd would: an unknown attribute */
	assert_int_equal(sl_live_limit_field("key", "${colour}", err, sizeof(err)), -1);
	assert_int_equal(sl_live_limit_field("match", "colour=red", err, sizeof(err)), -1);
	assert_int_equal(sl_live_limit_field("match", "recipient_orgdomain=gmail.com; sender!=a@b",
					     err, sizeof(err)), 0);
	assert_int_equal(pd_template_check("${colour}", err, sizeof(err)), -1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_template),
		cmocka_unit_test(test_attributes_agree),
		cmocka_unit_test(test_match),
		cmocka_unit_test(test_rate),
		cmocka_unit_test(test_windows),
		cmocka_unit_test(test_limit_parse),
		cmocka_unit_test(test_warmup_schedule),
		cmocka_unit_test(test_ramp_rate),
		cmocka_unit_test(test_modes),
		cmocka_unit_test(test_suppress_keys),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
