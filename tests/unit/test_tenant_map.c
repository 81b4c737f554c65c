/*
 * NAME
 *	test_tenant_map - the one tenant mapping, allowed senders, live fields
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "conf.h"
#include "live.h"
#include "tenant_map.h"

#define CONF                                                                                       \
	"tenant \"shop1\" { domains = {\"shop1.test\", \"*.mall.test\"}\n"                         \
	"  sasl_users = {\"alice\", \"news@shop1.test\"} default_category = \"\"\n"                \
	"  require_tls = yes allowed_senders = \"users\" }\n"                                      \
	"tenant \"office\" { domains = {\"office.test\"} clients = {\"192.0.2.0/28\", "            \
	"\"2001:db8::/32\"} }\n"                                                                   \
	"tenant \"wide\" { clients = {\"192.0.2.0/24\"} allowed_senders = \"any\" }\n"             \
	"tenant \"gw\" { clients = {\"203.0.113.0/24\"} client_ports = { 2525, \"587\" } }\n"

static char path[] = "/tmp/sluice-test-tmap-XXXXXX";
static sl_conf *conf;
static const sl_site *map;

/* setup - load CONF */
static int
setup(void **state)
{
	int fd = mkstemp(path);

	(void)state;
	if (fd < 0 || write(fd, CONF, strlen(CONF)) != (ssize_t)strlen(CONF))
		return -1;
	close(fd);
	if ((conf = sl_conf_load(path)) == NULL)
		return -1;
	map = conf->site;
	return 0;
}

/* teardown - free and remove */
static int
teardown(void **state)
{
	(void)state;
	sl_conf_free(conf);
	unlink(path);
	return 0;
}

/* test_find_order - Redis tenant, then sasl_users; an address only without SASL */
static void
test_find_order(void **state)
{
	int by_ip;
	const struct sl_site_tenant *t;

	(void)state;
	t = sl_tenant_map_find(map, "office", "alice", "192.0.2.1", NULL, &by_ip);
	assert_string_equal(t->name, "office");
	assert_int_equal(by_ip, 0);
	t = sl_tenant_map_find(map, NULL, "alice", "192.0.2.1", NULL, &by_ip);
	assert_string_equal(t->name, "shop1");
	assert_int_equal(by_ip, 0);
	/* an authenticated user no tenant lists is never mapped by its address */
	assert_null(sl_tenant_map_find(map, NULL, "mallory", "192.0.2.1", NULL, &by_ip));
	t = sl_tenant_map_find(map, NULL, "", "192.0.2.1", NULL, &by_ip);
	assert_string_equal(t->name, "office"); /* first in file order */
	assert_int_equal(by_ip, 1);
	t = sl_tenant_map_find(map, NULL, NULL, "192.0.2.200", NULL, &by_ip);
	assert_string_equal(t->name, "wide");
	t = sl_tenant_map_find(map, NULL, NULL, "2001:db8:1::5", NULL, &by_ip);
	assert_string_equal(t->name, "office");
	assert_null(sl_tenant_map_find(map, NULL, NULL, "198.51.100.1", NULL, &by_ip));
	assert_int_equal(by_ip, 0);
	assert_null(sl_tenant_map_find(map, NULL, NULL, "not-an-address", NULL, &by_ip));
	assert_null(sl_tenant_map_find(map, "nosuch", NULL, "192.0.2.1", NULL, &by_ip));
	/* client_ports: only on those listeners; an unknown port matches none */
	t = sl_tenant_map_find(map, NULL, NULL, "203.0.113.9", "2525", &by_ip);
	assert_string_equal(t->name, "gw");
	assert_non_null(sl_tenant_map_find(map, NULL, NULL, "203.0.113.9", "587", &by_ip));
	assert_null(sl_tenant_map_find(map, NULL, NULL, "203.0.113.9", "25", &by_ip));
	assert_null(sl_tenant_map_find(map, NULL, NULL, "203.0.113.9", NULL, &by_ip));
}

/* test_policy_read - require_tls and allowed_senders as configured */
static void
test_policy_read(void **state)
{
	(void)state;
	assert_int_equal(sl_site_tenant(map, "shop1")->require_tls, 1);
	assert_int_equal(sl_site_tenant(map, "shop1")->senders, SL_SENDERS_USERS);
	assert_int_equal(sl_site_tenant(map, "office")->require_tls, 0);
	assert_int_equal(sl_site_tenant(map, "office")->senders, SL_SENDERS_UNSET);
	assert_int_equal(sl_tenant_senders_effective(SL_SENDERS_UNSET, 1), SL_SENDERS_DOMAINS);
	assert_int_equal(sl_tenant_senders_effective(SL_SENDERS_UNSET, 0), SL_SENDERS_UNSET);
	assert_int_equal(sl_tenant_senders_effective(SL_SENDERS_ANY, 1), SL_SENDERS_ANY);
}

/* test_senders - domains, users, any; the null sender passes */
static void
test_senders(void **state)
{
	const struct sl_site_tenant *shop = sl_site_tenant(map, "shop1");
	const struct sl_site_tenant *office = sl_site_tenant(map, "office");

	(void)state;
	assert_true(sl_tenant_sender_ok(office, SL_SENDERS_DOMAINS, NULL, "a@office.test", NULL));
	assert_true(sl_tenant_sender_ok(office, SL_SENDERS_DOMAINS, NULL, "a@OFFICE.test", NULL));
	assert_false(
	    sl_tenant_sender_ok(office, SL_SENDERS_DOMAINS, NULL, "a@sub.office.test", NULL));
	assert_false(
	    sl_tenant_sender_ok(office, SL_SENDERS_DOMAINS, NULL, "a@office.test.evil", NULL));
	assert_false(sl_tenant_sender_ok(office, SL_SENDERS_DOMAINS, NULL, "no-at-sign", NULL));
	assert_true(sl_tenant_sender_ok(office, SL_SENDERS_DOMAINS, NULL, "", NULL));
	assert_true(sl_tenant_sender_ok(shop, SL_SENDERS_DOMAINS, NULL, "a@x.mall.test", NULL));
	assert_false(sl_tenant_sender_ok(shop, SL_SENDERS_DOMAINS, NULL, "a@mall.test", NULL));
	/* a SASL user's own Redis domains replace the tenant's */
	assert_true(sl_tenant_sender_ok(shop, SL_SENDERS_DOMAINS, "u", "a@own.test", "own.test"));
	assert_false(
	    sl_tenant_sender_ok(shop, SL_SENDERS_DOMAINS, "u", "a@shop1.test", "own.test"));
	assert_true(sl_tenant_sender_ok(shop, SL_SENDERS_USERS, "alice", "news@shop1.test", NULL));
	assert_true(
	    sl_tenant_sender_ok(shop, SL_SENDERS_USERS, "bob@shop1.test", "Bob@Shop1.test", NULL));
	assert_false(
	    sl_tenant_sender_ok(shop, SL_SENDERS_USERS, "alice", "other@shop1.test", NULL));
	assert_true(sl_tenant_sender_ok(office, SL_SENDERS_ANY, NULL, "x@anything.test", NULL));
	assert_true(sl_tenant_sender_ok(NULL, SL_SENDERS_UNSET, NULL, "x@anything.test", NULL));
	assert_false(sl_tenant_sender_ok(NULL, SL_SENDERS_DOMAINS, NULL, "x@anything.test", NULL));
}

/* test_live_fields - the Redis overrides go through lib/live.c */
static void
test_live_fields(void **state)
{
	char err[200];

	(void)state;
	assert_int_equal(sl_live_tenant_field("require_tls", "yes", err, sizeof(err)), 0);
	assert_int_equal(sl_live_tenant_field("require_tls", "no", err, sizeof(err)), 0);
	assert_int_equal(sl_live_tenant_field("require_tls", "maybe", err, sizeof(err)), -1);
	assert_non_null(strstr(err, "use yes or no"));
	assert_int_equal(sl_live_tenant_field("allowed_senders", "users", err, sizeof(err)), 0);
	assert_int_equal(sl_live_tenant_field("allowed_senders", "", err, sizeof(err)), -1);
	assert_int_equal(sl_live_tenant_field("allowed_senders", "all", err, sizeof(err)), -1);
	assert_non_null(strstr(err, "domains, users or any"));
	assert_int_equal(sl_live_tenant_field("status", "pasued", err, sizeof(err)), -1);
	assert_int_equal(sl_live_tenant_field("status_reason", "anything", err, sizeof(err)), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_find_order),
	    cmocka_unit_test(test_policy_read),
	    cmocka_unit_test(test_senders),
	    cmocka_unit_test(test_live_fields),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
