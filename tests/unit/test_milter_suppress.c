/*
 * NAME
 *	test_milter_suppress - suppression keys, reply parsing and texts, options
 * DESCRIPTION
 *	The pure parts of milter_suppress.c: which keys a message's
 *	recipients are looked up under (scopes of the decision, address
 *	forms as policyd's options allow), which hits a script reply gives
 *	(first scope per recipient, malformed replies refused), the 5.7.1
 *	text (reasons and kinds, never an address); the milter options
 *	check_suppression and suppression_fail; and a Redis that cannot be
 *	reached giving -1, so the caller applies suppression_fail.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "test_milter_util.h"
#include "suppress.h"

#define BASE \
	"secret_file = \"@DIR@/secret\"\n" \
	"domain \"example.com\" { dkim \"r1\" { key = \"@DIR@/rsa.pem\" } }\n" \
	"category \"news\" { subdomain = \"news\" }\n"

/* load - BASE plus more text */
static ml_conf *
load(const char *more)
{
	char	text[4096];

	snprintf(text, sizeof(text), "%s%s", BASE, more);
	return tu_conf(text);
}

/* has_key - is this key among the ones to look up? */
static int
has_key(const ml_supp *s, const char *key)
{
	for (size_t i = 0; i < s->nkeys; i++)
		if (strcmp(s->keys[i], key) == 0)
			return 1;
	return 0;
}

/* test_keys_scopes_and_forms - every scope that applies times every form */
static void
test_keys_scopes_and_forms(void **state)
{
	ml_conf *c = load("milter { redis = false }\n");
	ml_decision d = {0};
	const char *rcpts[] = {"<Bob+x@Example.NET>", "carol@example.org", "not an address"};
	ml_supp s;

	(void) state;
	assert_non_null(c);
	d.category = sl_site_category(c->site, "news");
	snprintf(d.tenant_name, sizeof(d.tenant_name), "shop1");
	ml_supp_init(&s, NULL, "sluice:", &d, SL_ADDR_STRIP_TAG | SL_ADDR_LOWER_LOCAL, rcpts, 3);
	assert_string_equal(s.scope[ML_SCOPE_GLOBAL], "global");
	assert_string_equal(s.scope[ML_SCOPE_CATEGORY], "cat:news");
	assert_string_equal(s.scope[ML_SCOPE_TENANT], "tenant:shop1");
	assert_int_equal(s.nkeys, 3 * 4 + 3 * 1);	/* Bob: 4 forms, carol: 1, junk: none */
	assert_true(has_key(&s, "sluice:supp:global:{Bob+x@example.net}"));
	assert_true(has_key(&s, "sluice:supp:cat:news:{bob@example.net}"));
	assert_true(has_key(&s, "sluice:supp:tenant:shop1:{Bob@example.net}"));
	assert_true(has_key(&s, "sluice:supp:cat:news:{carol@example.org}"));
	assert_int_equal(s.key_rcpt[s.nkeys - 1], 1);
	assert_int_equal(s.key_scope[0], ML_SCOPE_GLOBAL);
	ml_supp_free(&s);

	/* no category, no tenant: global only; policyd's strip_tag = false */
	ml_supp_init(&s, NULL, "p:", NULL, SL_ADDR_LOWER_LOCAL, rcpts, 1);
	assert_string_equal(s.scope[ML_SCOPE_CATEGORY], "");
	assert_string_equal(s.scope[ML_SCOPE_TENANT], "");
	assert_int_equal(s.nkeys, 2);
	assert_string_equal(s.keys[0], "p:supp:global:{Bob+x@example.net}");
	assert_string_equal(s.keys[1], "p:supp:global:{bob+x@example.net}");
	ml_supp_free(&s);
	ml_supp_free(&s);			/* a zeroed one is fine */
	ml_conf_unref(c);
}

/* reply helpers: a flat array of (integer, string) pairs */
static sl_reply *
rep_new(enum sl_reply_type type)
{
	sl_reply *r = calloc(1, sizeof(*r));

	r->type = type;
	return r;
}

/* rep_add - one element appended to an array reply */
static void
rep_add(sl_reply *a, sl_reply *e)
{
	a->element = realloc(a->element, (a->elements + 1) * sizeof(*a->element));
	a->element[a->elements++] = e;
}

/* rep_pair - index and reason */
static void
rep_pair(sl_reply *a, long long ix, const char *reason)
{
	sl_reply *i = rep_new(SL_REPLY_INTEGER), *s = rep_new(SL_REPLY_STRING);

	i->integer = ix;
	s->str = strdup(reason);
	s->len = strlen(reason);
	rep_add(a, i);
	rep_add(a, s);
}

/* test_parse - first scope per recipient, reasons as shown, malformed refused */
static void
test_parse(void **state)
{
	ml_decision d = {0};
	const char *rcpts[] = {"a@x.test", "B@X.test", "c@x.test"};
	ml_supp s;
	sl_reply *r = rep_new(SL_REPLY_ARRAY);
	char	err[256];

	(void) state;
	snprintf(d.tenant_name, sizeof(d.tenant_name), "t1");
	ml_supp_init(&s, NULL, "sluice:", &d, SL_ADDR_LOWER_LOCAL, rcpts, 3);
	/* keys: a global(1) tenant(2); B global(3,4) tenant(5,6); c global(7) tenant(8) */
	assert_int_equal(s.nkeys, 8);
	rep_pair(r, 4, "complaint");		/* B, global, lowercased form */
	rep_pair(r, 6, "unsubscribe");		/* B again, tenant: the first wins */
	rep_pair(r, 8, "whatever-it-is");	/* c, tenant, unknown reason */
	assert_int_equal(ml_supp_parse(&s, rcpts, r, err, sizeof(err)), 0);
	assert_int_equal(s.nhits, 2);
	assert_int_equal(s.hits[0].rcpt, 1);
	assert_int_equal(s.hits[0].scope, ML_SCOPE_GLOBAL);
	assert_string_equal(s.hits[0].addr, "B@x.test");
	assert_string_equal(s.hits[0].reason, "complaint");
	assert_int_equal(s.hits[1].rcpt, 2);
	assert_int_equal(s.hits[1].scope, ML_SCOPE_TENANT);
	assert_string_equal(s.hits[1].reason, "suppressed");

	rep_pair(r, 9, "manual");		/* out of range */
	assert_int_equal(ml_supp_parse(&s, rcpts, r, err, sizeof(err)), -1);
	assert_string_equal(err, "redis suppression lookup: unexpected reply");
	rep_add(r, rep_new(SL_REPLY_NIL));	/* odd length */
	assert_int_equal(ml_supp_parse(&s, rcpts, r, err, sizeof(err)), -1);
	sl_reply_free(r);
	r = rep_new(SL_REPLY_ERROR);
	r->str = strdup("NOSCRIPT gone");
	assert_int_equal(ml_supp_parse(&s, rcpts, r, err, sizeof(err)), -1);
	assert_string_equal(err, "redis suppression lookup: NOSCRIPT gone");
	assert_int_equal(ml_supp_parse(&s, rcpts, NULL, err, sizeof(err)), -1);
	sl_reply_free(r);
	r = rep_new(SL_REPLY_ARRAY);
	assert_int_equal(ml_supp_parse(&s, rcpts, r, err, sizeof(err)), 0);
	assert_int_equal(s.nhits, 0);
	sl_reply_free(r);
	ml_supp_free(&s);
}

/* test_reply - the refusal names reasons and kinds of list, once each */
static void
test_reply(void **state)
{
	ml_supp s = {0};
	ml_supp_hit h[3] = {{.scope = ML_SCOPE_CATEGORY, .reason = "unsubscribe", .addr = "a@x"},
			    {.scope = ML_SCOPE_GLOBAL, .reason = "hard-bounce", .addr = "b@x"},
			    {.scope = ML_SCOPE_CATEGORY, .reason = "unsubscribe", .addr = "c@x"}};
	char	out[400];

	(void) state;
	s.hits = h;
	s.nhits = s.nrcpt = 1;
	ml_supp_reply(&s, out, sizeof(out));
	assert_string_equal(out, "5.7.1 Suppressed: unsubscribe (category list)");
	s.nhits = s.nrcpt = 3;
	ml_supp_reply(&s, out, sizeof(out));
	assert_string_equal(out, "5.7.1 All 3 recipients are suppressed: unsubscribe (category list), "
			    "hard-bounce (global list)");
	ml_supp_reply(&s, out, 20);		/* truncated, still terminated */
	assert_int_equal(strlen(out), 19);
	assert_string_equal(sl_supp_reason_shown("soft-bounce-threshold"), "soft-bounce-threshold");
	assert_string_equal(sl_supp_reason_shown("<script>"), "suppressed");
	assert_string_equal(ml_supp_kind(ML_SCOPE_TENANT), "tenant");
}

/* test_options - defaults, values, errors, and what is read from other sections */
static void
test_options(void **state)
{
	ml_conf *c = load("milter { redis = false }\n");

	(void) state;
	assert_non_null(c);
	assert_true(c->check_supp);
	assert_int_equal(c->supp_fail, ML_ACCEPT);
	assert_int_equal(c->supp_flags, SL_ADDR_STRIP_TAG | SL_ADDR_LOWER_LOCAL);
	assert_int_equal(c->events_maxlen, 100000);
	ml_conf_unref(c);
	c = load("milter { redis = false check_suppression = false suppression_fail = \"tempfail\" }\n"
		 "policyd { strip_tag = false }\nfeedback { events_maxlen = 500 }\n");
	assert_non_null(c);
	assert_false(c->check_supp);
	assert_int_equal(c->supp_fail, ML_TEMPFAIL);
	assert_int_equal(c->supp_flags, SL_ADDR_LOWER_LOCAL);
	assert_int_equal(c->events_maxlen, 500);
	ml_conf_unref(c);
	assert_null(load("milter { suppression_fail = \"maybe\" }\n"));
}

/*
 * test_redis_unreachable - -1 and a reason, saying what was due: the
 * suppression check, the record (a message with tokens); disabled checks
 * and no record need no call at all
 */
static void
test_redis_unreachable(void **state)
{
	ml_conf *c = load("redis { socket = \"@DIR@/no-such.sock\" connect_timeout = 200 }\n");
	const char *rcpts[] = {"a@x.test"};
	struct sl_site_category cat = {.name = "news"};
	ml_decision d = {.category = &cat};
	ml_msginfo mi = {
	    .qid = "", .sasl = "", .sender = "s@x.test", .msgid = "abcdefgh", .record = 0};
	ml_supp s;
	ml_claim cl;
	char	err[256] = "";
	int unchecked, lost;

	(void) state;
	assert_non_null(c);
	assert_int_equal(
	    ml_end_message(c, &d, &mi, rcpts, 1, &s, &cl, &unchecked, &lost, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "redis"));
	assert_true(unchecked);
	assert_false(lost);
	ml_supp_free(&s);
	c->check_supp = 0;
	assert_int_equal(
	    ml_end_message(c, &d, &mi, rcpts, 1, &s, &cl, &unchecked, &lost, err, sizeof(err)), 0);
	assert_int_equal(s.nhits, 0);
	assert_false(unchecked || lost);
	ml_supp_free(&s);
	assert_true(c->have_key);
	mi.record = 1;
	assert_int_equal(
	    ml_end_message(c, &d, &mi, rcpts, 1, &s, &cl, &unchecked, &lost, err, sizeof(err)), -1);
	assert_false(unchecked);
	assert_true(lost);
	assert_null(cl.rep);
	ml_supp_free(&s);
	/* a charge record to claim needs the call too: its failure leaves it standing */
	mi.record = 0;
	mi.charge = "sluice:charge:{192.0.2.7/50820,192.0.2.1/587}";
	assert_int_equal(
	    ml_end_message(c, &d, &mi, rcpts, 1, &s, &cl, &unchecked, &lost, err, sizeof(err)), 0);
	assert_false(unchecked || lost);
	assert_null(cl.rep);
	ml_supp_free(&s);
	ml_conf_unref(c);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_keys_scopes_and_forms),
		cmocka_unit_test(test_parse),
		cmocka_unit_test(test_reply),
		cmocka_unit_test(test_options),
		cmocka_unit_test(test_redis_unreachable),
	};

	return cmocka_run_group_tests(tests, tu_setup, tu_teardown);
}
