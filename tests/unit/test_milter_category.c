/*
 * NAME
 *	test_milter_category - category, tenant, signing domains, SASL binding
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "test_milter_util.h"

#define BASE \
	"secret_file = \"@DIR@/secret\"\n" \
	"domain \"example.com\" { default_category = \"transactional\"\n" \
	"  dkim \"r1\" { key = \"@DIR@/rsa.pem\" }\n" \
	"  dkim \"e1\" { algorithm = \"ed25519-sha256\" key = \"@DIR@/ed.pem\" } }\n" \
	"domain \"mall.test\" { sign_parent = true\n" \
	"  dkim \"m1\" { algorithm = \"ed25519-sha256\" key = \"@DIR@/ed.pem\" } }\n" \
	"domain \"two.test\" { }\n" \
	"category \"transactional\" { subdomain = \"mail\" }\n" \
	"category \"marketing\" { subdomain = \"news\" sign_parent = true }\n" \
	"category \"notification\" { subdomain = \"notify\" sign_domains = {\"from\"} }\n" \
	"category \"operator\" { subdomain = \"op\" sign_domains = {\"subdomain\", \"example.com\"} }\n" \
	"tenant \"shop1\" { subdomain = \"shop1\" domains = {\"shop1.mall.test\"}\n" \
	"  sasl_users = {\"alice\"} default_category = \"marketing\" }\n" \
	"tenant \"shop2\" { domains = {\"*.two.test\", \"shop2.mall.test\"} sasl_users = {\"bob\"} }\n" \
	"tenant \"lan\" { domains = {\"two.test\"} clients = {\"198.51.100.0/24\"} }\n" \
	"tenant \"anyone\" { domains = {\"mall.test\"} clients = {\"203.0.113.0/24\"}\n" \
	"  allowed_senders = \"any\" }\n"

#define MILTER \
	"milter { redis = false\n" \
	"  rule \"news\" { sender = {\"news@*\"} category = \"marketing\" }\n" \
	"  rule \"office\" { client = {\"10.1.0.0/16\"} category = \"notification\" tenant = \"shop2\" }\n" \
	"  rule \"alerts\" { from = {\"*@alerts.example.com\"} category = \"notification\" }\n" \
	"%s }\n"

static ml_conf *conf;

/* load - BASE plus a milter section with extra options */
static ml_conf *
load(const char *extra)
{
	char	text[8192];

	snprintf(text, sizeof(text), BASE MILTER, extra);
	return tu_conf(text);
}

/* setup - temp files and the usual config */
static int
setup(void **state)
{
	tu_setup(state);
	conf = load("");
	return conf ? 0 : -1;
}

/* teardown - free the config and the files */
static int
teardown(void **state)
{
	ml_conf_unref(conf);
	return tu_teardown(state);
}

/* decide - run ml_decide on a few inputs */
static ml_decision
decide(const ml_conf *c, const char *sasl, const char *client, const char *env_from,
       const char *from, const char *header, const ml_sasl_entry *e)
{
	ml_input in = {.sasl_user = sasl, .client_addr = client, .env_from = env_from,
		       .from_addr = from, .header_category = header, .sasl = e};
	ml_decision d;

	assert_int_equal(ml_decide(c, &in, &d), 0);
	return d;
}

/* test_domain_default - internal client, no header: the From domain's default */
static void
test_domain_default(void **state)
{
	ml_decision d = decide(conf, "", "127.0.0.1", "a@example.com", "a@example.com", NULL, NULL);

	(void) state;
	assert_int_equal(d.verdict, ML_OK);
	assert_string_equal(d.category->name, "transactional");
	assert_string_equal(d.tenant_name, "");
	assert_string_equal(d.send_domain, "mail.example.com");
	assert_int_equal(d.nsign, 1);
	assert_string_equal(d.sign_domains[0], "mail.example.com");
}

/* test_header_first - the header beats Redis, rules and defaults, any case */
static void
test_header_first(void **state)
{
	ml_sasl_entry e = {.found = 1, .category = "notification", .domains = "example.com"};
	ml_decision d = decide(conf, "carol", "10.1.2.3", "news@example.com", "a@example.com",
			       "  Marketing ", &e);

	(void) state;
	assert_int_equal(d.verdict, ML_OK);
	assert_string_equal(d.category->name, "marketing");
	assert_int_equal(d.nsign, 2);
	assert_string_equal(d.sign_domains[0], "news.example.com");
	assert_string_equal(d.sign_domains[1], "example.com");
}

/* test_unknown_header_default - unknown name falls through to the next source */
static void
test_unknown_header_default(void **state)
{
	ml_decision d = decide(conf, "", "127.0.0.1", "a@example.com", "a@example.com", "bogus", NULL);

	(void) state;
	assert_int_equal(d.verdict, ML_OK);
	assert_string_equal(d.category->name, "transactional");
}

/* test_unknown_header_reject - unknown_category = reject names the problem */
static void
test_unknown_header_reject(void **state)
{
	ml_conf *c = load("unknown_category = \"reject\"");
	ml_decision d;

	(void) state;
	assert_non_null(c);
	d = decide(c, "", "127.0.0.1", "a@example.com", "a@example.com", "bogus", NULL);
	assert_int_equal(d.verdict, ML_REJECT);
	assert_non_null(strstr(d.reply, "5.7.0"));
	assert_non_null(strstr(d.reply, "\"bogus\""));
	assert_non_null(strstr(d.reply, "X-Sluice-Category"));
	ml_conf_unref(c);
}

/* test_sasl_entry - category and tenant from the Redis entry */
static void
test_sasl_entry(void **state)
{
	ml_sasl_entry e = {.found = 1, .category = "notification", .tenant = "shop9",
			   .domains = "example.com, other.test"};
	ml_decision d = decide(conf, "carol", "127.0.0.1", "c@example.com", "c@example.com", NULL, &e);

	(void) state;
	assert_int_equal(d.verdict, ML_OK);
	assert_string_equal(d.category->name, "notification");
	assert_string_equal(d.tenant_name, "shop9");
	assert_null(d.tenant);
	assert_string_equal(d.send_domain, "notify.example.com");
	assert_int_equal(d.nsign, 1);
	assert_string_equal(d.sign_domains[0], "example.com");	/* sign_domains = {from} */
}

/* test_rules - sender, client and From rules, first match wins */
static void
test_rules(void **state)
{
	ml_decision d;

	(void) state;
	d = decide(conf, "", "127.0.0.1", "news@example.com", "x@example.com", NULL, NULL);
	assert_string_equal(d.category->name, "marketing");
	d = decide(conf, "", "10.1.200.3", "x@example.com", "x@example.com", NULL, NULL);
	assert_string_equal(d.category->name, "notification");
	assert_string_equal(d.tenant_name, "shop2");
	assert_ptr_equal(d.tenant, sl_site_tenant(conf->site, "shop2"));
	d = decide(conf, "", "127.0.0.1", "x@example.com", "ops@alerts.example.com", NULL, NULL);
	assert_string_equal(d.category->name, "notification");
	assert_string_equal(d.send_domain, "notify.example.com");
}

/* test_tenant_default - a SASL user's config tenant: its subdomain and default */
static void
test_tenant_default(void **state)
{
	ml_decision d = decide(conf, "alice", "192.0.2.1", "s@shop1.mall.test", "s@shop1.mall.test",
			       NULL, NULL);

	(void) state;
	assert_int_equal(d.verdict, ML_OK);
	assert_string_equal(d.tenant_name, "shop1");
	assert_string_equal(d.category->name, "marketing");
	assert_string_equal(d.send_domain, "shop1.mall.test");
	assert_int_equal(d.nsign, 1);
}

/* test_sasl_binding - never another tenant's domain; wildcards below only */
static void
test_sasl_binding(void **state)
{
	ml_sasl_entry e = {.found = 1, .domains = "example.com"};
	ml_decision d;

	(void) state;
	d = decide(conf, "alice", "192.0.2.1", "s@shop2.mall.test", "s@shop2.mall.test", NULL, NULL);
	assert_int_equal(d.verdict, ML_REJECT);
	assert_non_null(strstr(d.reply, "5.7.1"));
	assert_non_null(strstr(d.reply, "shop2.mall.test"));
	d = decide(conf, "bob", "192.0.2.1", "b@x.two.test", "b@x.two.test", NULL, NULL);
	assert_int_not_equal(d.verdict, ML_REJECT);
	d = decide(conf, "bob", "192.0.2.1", "b@two.test", "b@two.test", NULL, NULL);
	assert_int_equal(d.verdict, ML_REJECT);
	d = decide(conf, "dave", "127.0.0.1", "d@example.com", "d@example.com", NULL, NULL);
	assert_int_equal(d.verdict, ML_REJECT);
	d = decide(conf, "carol", "127.0.0.1", "c@example.com", "c@example.com", NULL, &e);
	assert_int_equal(d.verdict, ML_OK);
	d = decide(conf, "carol", "127.0.0.1", "c@mall.test", "c@mall.test", NULL, &e);
	assert_int_equal(d.verdict, ML_REJECT);
	/* The envelope sender does not matter: only the From domain is bound. */
	d = decide(conf, "alice", "127.0.0.1", "s@shop1.mall.test", "x@example.com", NULL, NULL);
	assert_int_equal(d.verdict, ML_REJECT);
}

/* test_sasl_monitor - monitor mode: unsigned, not rejected */
static void
test_sasl_monitor(void **state)
{
	ml_conf *c = load("sasl_binding = \"monitor\"");
	ml_decision d;

	(void) state;
	assert_non_null(c);
	d = decide(c, "alice", "192.0.2.1", "s@shop2.mall.test", "s@shop2.mall.test", NULL, NULL);
	assert_int_equal(d.verdict, ML_UNSIGNED);
	ml_conf_unref(c);
}

/* test_unconfigured_domain - outbound but nothing to sign with */
static void
test_unconfigured_domain(void **state)
{
	ml_decision d = decide(conf, "", "127.0.0.1", "a@elsewhere.test", "a@elsewhere.test", NULL, NULL);

	(void) state;
	assert_int_equal(d.verdict, ML_UNSIGNED);
	d = decide(conf, "", "127.0.0.1", "a@example.com", "", NULL, NULL);
	assert_int_equal(d.verdict, ML_REJECT);
}

/* test_sign_domains_bound - a SASL user gets no signature of a domain it may not use */
static void
test_sign_domains_bound(void **state)
{
	ml_sasl_entry e = {.found = 1, .domains = "example.com"};
	ml_decision d;

	(void) state;
	/* alice (tenant shop1) names the operator's category in the header */
	d = decide(conf, "alice", "192.0.2.1", "s@shop1.mall.test", "s@shop1.mall.test", "operator", NULL);
	assert_int_equal(d.verdict, ML_OK);
	assert_int_equal(d.nsign, 1);
	assert_string_equal(d.sign_domains[0], "shop1.mall.test");
	/* an internal client without SASL may use every configured domain */
	d = decide(conf, "", "127.0.0.1", "s@shop1.mall.test", "s@shop1.mall.test", "operator", NULL);
	assert_int_equal(d.nsign, 2);
	assert_string_equal(d.sign_domains[1], "example.com");
	/* bob's tenant has no subdomain: mail.mall.test is the operator's, dropped */
	d = decide(conf, "bob", "192.0.2.1", "b@shop2.mall.test", "b@shop2.mall.test", "transactional", NULL);
	assert_int_equal(d.verdict, ML_OK);
	assert_string_equal(d.send_domain, "mail.mall.test");
	assert_int_equal(d.nsign, 1);
	assert_string_equal(d.sign_domains[0], "shop2.mall.test");	/* mall.test sign_parent */
	/* below an exact entry is the user's own zone */
	d = decide(conf, "carol", "192.0.2.1", "c@example.com", "c@example.com", "transactional", &e);
	assert_int_equal(d.nsign, 1);
	assert_string_equal(d.sign_domains[0], "mail.example.com");
	assert_true(ml_sasl_signs(conf, &(ml_input) {.sasl_user = "carol", .sasl = &e}, "a.example.com"));
	assert_false(ml_sasl_signs(conf, &(ml_input) {.sasl_user = "carol", .sasl = &e}, "com"));
	assert_false(ml_sasl_signs(conf, &(ml_input) {.sasl_user = "alice"}, "mall.test"));
	assert_false(ml_sasl_signs(conf, &(ml_input) {.sasl_user = "alice"}, "shop2.mall.test"));
	assert_false(ml_sasl_signs(conf, &(ml_input) {.sasl_user = "dave"}, "example.com"));
}

/* test_redis_down - the config decides for its users, defers the rest */
static void
test_redis_down(void **state)
{
	ml_input in = {.sasl_user = "alice", .client_addr = "192.0.2.1", .env_from = "",
		       .from_addr = "s@shop1.mall.test", .sasl_down = 1};
	ml_conf *mon = load("sasl_binding = \"monitor\"");
	ml_decision d;

	(void) state;
	assert_int_equal(ml_decide(conf, &in, &d), 0);
	assert_int_equal(d.verdict, ML_UNSIGNED);
	in.from_addr = "s@shop2.mall.test";
	assert_int_equal(ml_decide(conf, &in, &d), 0);
	assert_int_equal(d.verdict, ML_DEFER);
	assert_non_null(strstr(d.reply, "4.7.1 user alice may not send mail from domain shop2.mall.test"));
	in.sasl_user = "carol";			/* known only in Redis */
	in.from_addr = "c@example.com";
	assert_int_equal(ml_decide(conf, &in, &d), 0);
	assert_int_equal(d.verdict, ML_DEFER);
	assert_non_null(strstr(d.reply, "4.7.1 cannot check what user carol may send"));
	assert_non_null(mon);
	assert_int_equal(ml_decide(mon, &in, &d), 0);
	assert_int_equal(d.verdict, ML_UNSIGNED);
	in.sasl_user = "";			/* internal client: no lookup needed */
	assert_int_equal(ml_decide(conf, &in, &d), 0);
	assert_int_equal(d.verdict, ML_OK);
	ml_conf_unref(mon);
}

/* test_ambiguous_from - refused for SASL users, unsigned for internal clients */
static void
test_ambiguous_from(void **state)
{
	ml_input in = {.sasl_user = "alice", .client_addr = "192.0.2.1", .env_from = "",
		       .from_addr = "", .from_ambiguous = "unquoted \"@\" in the display name"};
	ml_conf *mon = load("sasl_binding = \"monitor\"");
	ml_decision d;

	(void) state;
	assert_int_equal(ml_decide(conf, &in, &d), 0);
	assert_int_equal(d.verdict, ML_REJECT);
	assert_string_equal(d.reply, "5.7.1 ambiguous From header field (unquoted \"@\" in the "
			    "display name): write one address, with any display name quoted");
	assert_non_null(mon);
	assert_int_equal(ml_decide(mon, &in, &d), 0);
	assert_int_equal(d.verdict, ML_UNSIGNED);
	in.sasl_user = NULL;
	assert_int_equal(ml_decide(conf, &in, &d), 0);
	assert_int_equal(d.verdict, ML_UNSIGNED);
	assert_int_equal(d.nsign, 0);
	ml_conf_unref(mon);
}

/* test_ip_tenant - a client mapped by address: tenant, From binding, signing */
static void
test_ip_tenant(void **state)
{
	ml_decision d;

	(void) state;
	assert_non_null(ml_ip_tenant(conf, NULL, "198.51.100.7", NULL));
	assert_null(ml_ip_tenant(conf, "alice", "198.51.100.7", NULL));
	assert_null(ml_ip_tenant(conf, NULL, "192.0.2.1", NULL));
	d = decide(conf, "", "198.51.100.7", "a@two.test", "a@two.test", NULL, NULL);
	assert_int_equal(d.verdict, ML_OK);
	assert_string_equal(d.tenant_name, "lan");
	assert_int_equal(d.nsign, 1);
	assert_string_equal(d.sign_domains[0], "two.test");
	/* unset allowed_senders: the tenant's domains only */
	d = decide(conf, "", "198.51.100.7", "a@two.test", "a@example.com", NULL, NULL);
	assert_int_equal(d.verdict, ML_REJECT);
	assert_non_null(strstr(d.reply, "5.7.1 client 198.51.100.7 may not send mail from a@example.com"));
	/* any: delivered, but signed only for the tenant's own domains */
	d = decide(conf, "", "203.0.113.9", "a@example.com", "a@example.com", NULL, NULL);
	assert_int_equal(d.verdict, ML_OK);
	assert_string_equal(d.tenant_name, "anyone");
	assert_int_equal(d.nsign, 0);
	d = decide(conf, "", "203.0.113.9", "x@mall.test", "x@mall.test", NULL, NULL);
	assert_int_equal(d.verdict, ML_OK);
	assert_int_equal(d.nsign, 1);
	assert_string_equal(d.sign_domains[0], "mall.test");
	/* an authenticated user is its own tenant, whatever its address */
	d = decide(conf, "alice", "198.51.100.7", "s@shop1.mall.test", "s@shop1.mall.test", NULL, NULL);
	assert_string_equal(d.tenant_name, "shop1");
}

/* live - ml_decide with a live allowed_senders from the tenant's Redis hash */
static ml_decision
live(const char *sasl, const char *client, const char *from, enum sl_senders senders)
{
	ml_input in = {.sasl_user = sasl, .client_addr = client, .env_from = "",
		       .from_addr = from, .live_set = 1, .live_senders = senders};
	ml_decision d;

	assert_int_equal(ml_decide(conf, &in, &d), 0);
	return d;
}

/* test_live_senders - the tenant's live allowed_senders replaces the config's, both ways */
static void
test_live_senders(void **state)
{
	ml_input ip = {.client_addr = "198.51.100.7"}, sasl = {.sasl_user = "alice"};

	(void) state;
	assert_string_equal(ml_policy_tenant(conf, &ip), "lan");
	assert_string_equal(ml_policy_tenant(conf, &sasl), "shop1");
	ip.client_addr = "192.0.2.1";
	assert_null(ml_policy_tenant(conf, &ip));
	/* lan (unset: domains) widened to any, anyone (any) narrowed to domains */
	assert_int_equal(live("", "198.51.100.7", "a@example.com", SL_SENDERS_ANY).verdict, ML_OK);
	assert_int_equal(live("", "203.0.113.9", "a@example.com", SL_SENDERS_DOMAINS).verdict,
			 ML_REJECT);
	assert_int_equal(live("", "203.0.113.9", "x@mall.test", SL_SENDERS_DOMAINS).verdict, ML_OK);
	/* alice: users allows only her own name, any lifts the domain binding */
	assert_int_equal(live("alice", "192.0.2.1", "s@shop1.mall.test", SL_SENDERS_USERS).verdict,
			 ML_REJECT);
	assert_int_equal(live("alice", "192.0.2.1", "x@example.com", SL_SENDERS_ANY).verdict, ML_OK);
	assert_int_equal(live("alice", "192.0.2.1", "x@example.com", SL_SENDERS_UNSET).verdict,
			 ML_REJECT);
}

/* test_domain_lists - comma lists and wildcards */
static void
test_domain_lists(void **state)
{
	(void) state;
	assert_true(ml_domain_listed("a.test, b.test ,c.test", "b.test"));
	assert_true(ml_domain_listed("a.test,*.b.test", "x.y.b.test"));
	assert_false(ml_domain_listed("a.test,*.b.test", "b.test"));
	assert_false(ml_domain_listed("a.test", "aa.test"));
	assert_false(ml_domain_listed("", "a.test"));
	assert_true(ml_domain_listed("A.Test", "a.test"));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_domain_default),
		cmocka_unit_test(test_header_first),
		cmocka_unit_test(test_unknown_header_default),
		cmocka_unit_test(test_unknown_header_reject),
		cmocka_unit_test(test_sasl_entry),
		cmocka_unit_test(test_rules),
		cmocka_unit_test(test_tenant_default),
		cmocka_unit_test(test_sasl_binding),
		cmocka_unit_test(test_sasl_monitor),
		cmocka_unit_test(test_unconfigured_domain),
		cmocka_unit_test(test_domain_lists),
		cmocka_unit_test(test_ip_tenant),
		cmocka_unit_test(test_live_senders),
		cmocka_unit_test(test_sign_domains_bound),
		cmocka_unit_test(test_redis_down),
		cmocka_unit_test(test_ambiguous_from),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
