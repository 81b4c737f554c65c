/*
 * NAME
 *	test_milter_headers - From parsing and rewriting, bounce tokens, header plans
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "test_milter_util.h"

static const char *conf_text =
	"secret_file = \"@DIR@/secret\"\n"
	"domain \"example.com\" { dkim \"e1\" { algorithm = \"ed25519-sha256\" key = \"@DIR@/ed.pem\" } }\n"
	"category \"transactional\" { subdomain = \"mail\" }\n"
	"category \"marketing\" { subdomain = \"news\" list_unsubscribe = true rewrite_from = true\n"
	"  unsubscribe_url = \"https://u.example.com/x/%t?a=1\" feedback_type = \"promo\" }\n"
	"category \"keepers\" { subdomain = \"news\" list_unsubscribe = true\n"
	"  list_unsubscribe_existing = \"keep\" }\n"
	"tenant \"shop1\" { domains = {\"example.com\"} sender_id = \"s-1\" }\n"
	"milter { redis = false }\n";

static ml_conf *conf;

/* setup - temp files and the config */
static int
setup(void **state)
{
	tu_setup(state);
	conf = tu_conf(conf_text);
	if (conf)
		conf->ring.now = 20417LL * 86400;	/* the tokens' day is today */
	return conf ? 0 : -1;
}

/* teardown - free the config and the files */
static int
teardown(void **state)
{
	ml_conf_unref(conf);
	return tu_teardown(state);
}

/* decision - a decision for a category and tenant on example.com */
static ml_decision
decision(const char *category, const char *tenant)
{
	ml_decision d;

	memset(&d, 0, sizeof(d));
	d.verdict = ML_OK;
	d.category = sl_site_category(conf->site, category);
	d.tenant = tenant ? sl_site_tenant(conf->site, tenant) : NULL;
	snprintf(d.tenant_name, sizeof(d.tenant_name), "%s", tenant ? tenant : "");
	d.base = ml_conf_domain(conf, "example.com");
	strcpy(d.from_domain, "example.com");
	snprintf(d.send_domain, sizeof(d.send_domain), "%s.example.com", d.category->subdomain);
	return d;
}

/* from_addr - the address ml_from_parse() reads, or "NONE" / "AMBIGUOUS" */
static const char *
from_addr(const char *value)
{
	static ml_from f;

	switch (ml_from_parse(value, &f)) {
	case ML_FROM_OK:
		assert_null(f.why);
		return f.addr;
	case ML_FROM_NONE:
		return "NONE";
	default:
		assert_non_null(f.why);
		return "AMBIGUOUS";
	}
}

/* test_header_address - the address of From values */
static void
test_header_address(void **state)
{
	(void) state;
	assert_string_equal(from_addr("\"Doe, John\" <john@Example.COM>"), "john@example.com");
	assert_string_equal(from_addr("john@example.com (John Doe)"), "john@example.com");
	assert_string_equal(from_addr("=?utf-8?q?J=C3=B6rg?=\n\t<j@x.test>"), "j@x.test");
	assert_string_equal(from_addr("Name <a@x.test>"), "a@x.test");
	assert_string_equal(from_addr("John Q. Public <jqp@x.test>"), "jqp@x.test");
	assert_string_equal(from_addr("\"alice@x.test\" <alice@x.test>"), "alice@x.test");
	assert_string_equal(from_addr("\"J\xc3\xb6rg\" <j@x.test>"), "j@x.test");
	assert_string_equal(from_addr("\"Long\n\tName\" <j@x.test>"), "j@x.test");
	assert_string_equal(from_addr("no address here"), "NONE");
	assert_string_equal(from_addr("a@x.test, b@y.test"), "NONE");
	assert_string_equal(from_addr("A <a@x.test>, B <b@y.test>"), "NONE");
	assert_string_equal(from_addr("\"B, A\" (x, y) <a@x.test>"), "a@x.test");
	assert_string_equal(from_addr("<>"), "NONE");
	assert_string_equal(from_addr(""), "NONE");
	assert_string_equal(from_addr("<unterminated@x.test"), "AMBIGUOUS");
}

/* test_from_ambiguous - every From a receiver may read otherwise is refused */
static void
test_from_ambiguous(void **state)
{
	static const char *bad[] = {
		"ceo@shop2.example <a@shop1.example>",		/* unquoted @ in the name */
		"a@shop1.example <a@shop1.example>",
		"ceo<x <a@shop1.example>",
		"\"ceo@shop2.example\" <a@shop1.example>",	/* quoted, another domain */
		"\"a <x@y.test>\" <real@z.test>",
		"=?utf-8?q?ceo=40shop2.example?= <a@shop1.example>",
		"=?utf-8?b?Y2VvQHNob3AyLmV4YW1wbGU=?= <a@shop1.example>",
		"=?utf-16be?b?AEAAcwBoAG8AcAAyAC4AZQB4AGEAbQBwAGwAZQ==?= <a@shop1.example>",
		"=?utf-8?q?x=0D=0AFrom:_y@z.test?= <a@shop1.example>",
		"=?utf-8?q?ceo@shop2.example?= <a@shop1.example>",	/* malformed */
		"=?no-such-charset?q?x?= <a@shop1.example>",
		"Name <a@shop1.example> <b@shop2.example>",	/* two angle addresses */
		"<a@shop1.example> Name",
		"a@shop1.example (ceo@shop2.example)",		/* comment with an address */
		"Name (<b@shop2.example>) <a@shop1.example>",
		"group: a@shop1.example;",
		"<@shop2.example:a@shop1.example>",		/* route */
		"a@[192.0.2.1]",
		"a@shop1.example.",
		"a..b@shop1.example",
		"<a @shop1.example>",
		"\"Unterminated <a@shop1.example>",
		"(((((",
		"Caf\xe9 <a@shop1.example>",			/* Latin-1, not UTF-8 */
		"\"ceo\xef\xbc\xa0shop2.example\" <a@shop1.example>",	/* full-width @ */
		"Name\x01 <a@shop1.example>",
		"a@shop1.example; b@shop2.example",
	};

	static char big[4096];

	(void) state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (strcmp(from_addr(bad[i]), "AMBIGUOUS") != 0)
			fail_msg("accepted: %s -> %s", bad[i], from_addr(bad[i]));
	/* the caps: nesting 8, a decoded encoded-word 512 bytes, shown text 2048 */
	assert_string_equal(from_addr("a@x.test ((((((((x))))))))"), "a@x.test");
	assert_string_equal(from_addr("a@x.test (((((((((x)))))))))"), "AMBIGUOUS");
	snprintf(big, sizeof(big), "=?utf-8?q?%0512d?= <a@x.test>", 0);
	assert_string_equal(from_addr(big), "a@x.test");
	snprintf(big, sizeof(big), "=?utf-8?q?%0513d?= <a@x.test>", 0);
	assert_string_equal(from_addr(big), "AMBIGUOUS");
	snprintf(big, sizeof(big), "\"%02040d\" <a@x.test>", 0);
	assert_string_equal(from_addr(big), "a@x.test");
	snprintf(big, sizeof(big), "\"%02050d\" <a@x.test>", 0);
	assert_string_equal(from_addr(big), "AMBIGUOUS");
	memset(big, 'a', 400);
	snprintf(big + 400, sizeof(big) - 400, "@x.test");
	assert_string_equal(from_addr(big), "AMBIGUOUS");
}

/* test_rewrite_from - display name and local part kept, Reply-To is the original */
static void
test_rewrite_from(void **state)
{
	char	from[512], rt[512];

	(void) state;
	assert_int_equal(ml_rewrite_from("\"Shop, Inc\" <sales@example.com>", "news.example.com",
					 from, sizeof(from), rt, sizeof(rt)), 0);
	assert_string_equal(from, "\"Shop, Inc\" <sales@news.example.com>");
	assert_string_equal(rt, "\"Shop, Inc\" <sales@example.com>");
	assert_int_equal(ml_rewrite_from("sales@example.com", "news.example.com",
					 from, sizeof(from), rt, sizeof(rt)), 0);
	assert_string_equal(from, "<sales@news.example.com>");
	assert_int_equal(ml_rewrite_from("=?utf-8?q?J=C3=B6rg?= (x) <j@example.com>", "news.example.com",
					 from, sizeof(from), rt, sizeof(rt)), 0);
	assert_string_equal(from, "=?utf-8?q?J=C3=B6rg?= (x) <j@news.example.com>");
	assert_int_equal(ml_rewrite_from("garbage", "news.example.com", from, sizeof(from),
					 rt, sizeof(rt)), -1);
}

/* test_sender_token - the bounce address decodes; any changed character fails */
static void
test_sender_token(void **state)
{
	ml_decision d = decision("marketing", "shop1");
	char	addr[SL_ADDR_MAX + 1], local[SL_TOKEN_LOCAL_MAX], err[128];
	const char *alphabet = "abcdefghijklmnopqrstuvwxyz0123456789-_";
	sl_token t;

	(void) state;
	assert_int_equal(ml_rewrite_sender(conf, &d, "abcdefgh", 20417, addr, sizeof(addr)), 0);
	assert_non_null(strstr(addr, "@news.example.com"));
	snprintf(local, sizeof(local), "%.*s", (int) (strchr(addr, '@') - addr), addr);
	assert_int_equal(strncmp(local, "b2a-marketing-shop1-", 20), 0);
	assert_int_equal(sl_token_parse_local(local, &conf->ring, &t, err, sizeof(err)), SL_TOKEN_OK);
	assert_string_equal(t.category, "marketing");
	assert_string_equal(t.tenant, "shop1");
	assert_int_equal(t.day, 20417);
	assert_string_equal(t.msgid, "abcdefgh");
	for (size_t i = 0; i < strlen(local); i++) {
		char	bad[SL_TOKEN_LOCAL_MAX];
		const char *pos = strchr(alphabet, local[i]);

		strcpy(bad, local);
		bad[i] = alphabet[((size_t) (pos - alphabet) + 5) % strlen(alphabet)];
		assert_int_not_equal(sl_token_parse_local(bad, &conf->ring, &t, err, sizeof(err)), SL_TOKEN_OK);
	}
	/* no category, no rewrite */
	d.category = NULL;
	assert_int_equal(ml_rewrite_sender(conf, &d, "abcdefgh", 20417, addr, sizeof(addr)), -1);
}

/* find_edit - the nth edit of an operation on a header name, or NULL */
static const ml_edit *
find_edit(const ml_plan *p, enum ml_edit_op op, const char *name)
{
	for (size_t i = 0; i < p->nedits; i++)
		if (p->edits[i].op == op && strcasecmp(p->edits[i].name, name) == 0)
			return &p->edits[i];
	return NULL;
}

/* test_plan_marketing - LU with URL, Post, Feedback-ID, From, internal headers */
static void
test_plan_marketing(void **state)
{
	ml_header h[] = {
		{"From", "Shop <sales@example.com>"}, {"X-Sluice-Category", "marketing"},
		{"Subject", "hi"}, {"X-Sluice-Internal", "1"}, {"x-sluice-category", "again"},
		{"Feedback-ID", "app:own"},
	};
	ml_hdr_input in = {.headers = h, .nheaders = 6, .nrcpt = 1, .rcpt = "r@remote.test",
			   .msgid = "abcdefgh", .day = 20417, .full = 1};
	ml_decision d = decision("marketing", "shop1");
	const ml_edit *e;
	ml_plan p;
	sl_token t;
	char	err[128], tok[SL_TOKEN_URL_MAX];

	(void) state;
	assert_int_equal(ml_headers_plan(conf, &d, &in, &p), 0);
	/* X-Sluice-Category twice: deleted last first */
	assert_int_equal(p.edits[0].op, ML_HDR_DELETE);
	assert_string_equal(p.edits[0].name, "X-Sluice-Category");
	assert_int_equal(p.edits[0].index, 2);
	assert_int_equal(p.edits[1].index, 1);
	assert_non_null(find_edit(&p, ML_HDR_DELETE, "X-Sluice-Internal"));
	e = find_edit(&p, ML_HDR_CHANGE, "From");
	assert_non_null(e);
	assert_string_equal(e->value, "Shop <sales@news.example.com>");
	assert_string_equal(find_edit(&p, ML_HDR_ADD, "Reply-To")->value, "Shop <sales@example.com>");
	e = find_edit(&p, ML_HDR_ADD, "List-Unsubscribe");
	assert_non_null(e);
	assert_int_equal(strncmp(e->value, "<mailto:u2a-marketing-shop1-", 28), 0);
	assert_non_null(strstr(e->value, "@news.example.com?subject=unsubscribe>,\n\t<https://u.example.com/x/"));
	assert_non_null(strstr(e->value, "?a=1>"));
	sscanf(strstr(e->value, "/x/") + 3, "%[^?]", tok);
	assert_int_equal(sl_token_parse_url(tok, &conf->ring, &t, err, sizeof(err)), SL_TOKEN_OK);
	assert_string_equal(t.rcpt, "r@remote.test");
	assert_int_equal(t.kind, 'u');
	assert_string_equal(find_edit(&p, ML_HDR_ADD, "List-Unsubscribe-Post")->value,
			    "List-Unsubscribe=One-Click");
	assert_non_null(find_edit(&p, ML_HDR_DELETE, "Feedback-ID"));
	assert_string_equal(find_edit(&p, ML_HDR_ADD, "Feedback-ID")->value, "promo:marketing:shop1:s-1");
	/* the final set: what DKIM signs */
	assert_int_equal(ml_header_count(p.final, p.nfinal, "X-Sluice-Category"), 0);
	assert_int_equal(ml_header_count(p.final, p.nfinal, "X-Sluice-Internal"), 0);
	assert_int_equal(ml_header_count(p.final, p.nfinal, "Feedback-ID"), 1);
	assert_int_equal(ml_header_count(p.final, p.nfinal, "List-Unsubscribe"), 1);
	assert_string_equal(ml_header_get(p.final, p.nfinal, "From"), "Shop <sales@news.example.com>");
	assert_int_equal(p.nfinal, 2 + 4);	/* From, Subject + Reply-To, LU, LUP, Feedback-ID */
	ml_plan_free(&p);
}

/* test_plan_two_recipients - mailto only, no Post (RFC 8058 needs https) */
static void
test_plan_two_recipients(void **state)
{
	ml_header h[] = {{"From", "sales@example.com"}};
	ml_hdr_input in = {.headers = h, .nheaders = 1, .nrcpt = 2, .rcpt = "r@remote.test",
			   .msgid = "abcdefgh", .day = 20417, .full = 1};
	ml_decision d = decision("marketing", NULL);
	ml_plan p;

	(void) state;
	assert_int_equal(ml_headers_plan(conf, &d, &in, &p), 0);
	assert_null(strstr(find_edit(&p, ML_HDR_ADD, "List-Unsubscribe")->value, "https"));
	assert_null(find_edit(&p, ML_HDR_ADD, "List-Unsubscribe-Post"));
	assert_string_equal(find_edit(&p, ML_HDR_ADD, "Feedback-ID")->value, "promo:marketing::example.com");
	ml_plan_free(&p);
}

/* test_plan_existing - keep keeps one, replace replaces all: never two */
static void
test_plan_existing(void **state)
{
	ml_header h[] = {{"From", "sales@example.com"}, {"List-Unsubscribe", "<mailto:a@x.test>"},
			 {"List-Unsubscribe", "<mailto:b@x.test>"}};
	ml_hdr_input in = {.headers = h, .nheaders = 3, .nrcpt = 1, .rcpt = "r@remote.test",
			   .msgid = "abcdefgh", .day = 20417, .full = 1};
	ml_decision keep = decision("keepers", NULL), repl = decision("marketing", NULL);
	ml_plan p;

	(void) state;
	assert_int_equal(ml_headers_plan(conf, &keep, &in, &p), 0);
	assert_null(find_edit(&p, ML_HDR_ADD, "List-Unsubscribe"));
	assert_int_equal(find_edit(&p, ML_HDR_DELETE, "List-Unsubscribe")->index, 2);
	assert_int_equal(ml_header_count(p.final, p.nfinal, "List-Unsubscribe"), 1);
	assert_string_equal(ml_header_get(p.final, p.nfinal, "List-Unsubscribe"), "<mailto:a@x.test>");
	ml_plan_free(&p);
	assert_int_equal(ml_headers_plan(conf, &repl, &in, &p), 0);
	assert_int_equal(ml_header_count(p.final, p.nfinal, "List-Unsubscribe"), 1);
	assert_non_null(strstr(ml_header_get(p.final, p.nfinal, "List-Unsubscribe"), "u2a-marketing"));
	ml_plan_free(&p);
}

/* test_plan_cleanup_only - no category work, internal headers still go */
static void
test_plan_cleanup_only(void **state)
{
	ml_header h[] = {{"From", "sales@example.com"}, {"X-Sluice-Category", "marketing"}};
	ml_hdr_input in = {.headers = h, .nheaders = 2, .nrcpt = 1, .msgid = "abcdefgh", .full = 0};
	ml_decision d = decision("transactional", NULL);
	ml_plan p;

	(void) state;
	assert_int_equal(ml_headers_plan(conf, &d, &in, &p), 0);
	assert_int_equal(p.nedits, 1);
	assert_int_equal(p.edits[0].op, ML_HDR_DELETE);
	assert_int_equal(p.nfinal, 1);
	ml_plan_free(&p);
	/* transactional, full: Feedback-ID only */
	in.full = 1;
	assert_int_equal(ml_headers_plan(conf, &d, &in, &p), 0);
	assert_null(find_edit(&p, ML_HDR_ADD, "List-Unsubscribe"));
	assert_null(find_edit(&p, ML_HDR_CHANGE, "From"));
	assert_string_equal(find_edit(&p, ML_HDR_ADD, "Feedback-ID")->value,
			    "transactional:transactional::example.com");
	ml_plan_free(&p);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_header_address),
		cmocka_unit_test(test_from_ambiguous),
		cmocka_unit_test(test_rewrite_from),
		cmocka_unit_test(test_sender_token),
		cmocka_unit_test(test_plan_marketing),
		cmocka_unit_test(test_plan_two_recipients),
		cmocka_unit_test(test_plan_existing),
		cmocka_unit_test(test_plan_cleanup_only),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
