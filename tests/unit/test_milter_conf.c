/*
 * NAME
 *	test_milter_conf - config validation: every error reported, file:line
 */
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "test_milter_util.h"

static char errors[16384];

/* load_capture - load a config, keeping what it logged in errors[] */
static ml_conf *
load_capture(const char *text)
{
	char	path[512];
	int	saved = dup(2), fd;
	ml_conf *c;
	ssize_t	n;

	snprintf(path, sizeof(path), "%s/stderr", tu_dir);
	fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
	dup2(fd, 2);
	c = tu_conf(text);
	dup2(saved, 2);
	close(saved);
	lseek(fd, 0, SEEK_SET);
	n = read(fd, errors, sizeof(errors) - 1);
	errors[n > 0 ? n : 0] = '\0';
	close(fd);
	return c;
}

/* test_valid - a full config loads, with its typed values */
static void
test_valid(void **state)
{
	ml_conf *c = load_capture(
		"secret_file = \"@DIR@/secret\"\n"
		"internal_networks = {\"10.0.0.0/8\"}\n"
		"domain \"example.com\" { default_category = \"tx\"\n"
		"  dkim \"r1\" { key = \"@DIR@/rsa.pem\" }\n"
		"  dkim \"e1\" { algorithm = \"ed25519-sha256\" key = \"@DIR@/ed.pem\" } }\n"
		"category \"tx\" { subdomain = \"mail\" }\n"
		"milter { socket = \"inet:8891@127.0.0.1\" on_internal_error = \"accept\"\n"
		"  unknown_category = \"reject\" sasl_binding = \"monitor\" }\n");

	(void) state;
	assert_non_null(c);
	assert_string_equal(c->socket, "inet:8891@127.0.0.1");
	assert_int_equal(c->on_internal_error, ML_ACCEPT);
	assert_true(c->unknown_reject);
	assert_true(c->sasl_monitor);
	assert_true(c->have_key);
	assert_int_equal(c->ndomains, 1);
	assert_int_equal(c->domains[0].nkeys, 2);
	assert_int_equal(c->domains[0].keys[1].alg, ML_ALG_ED25519);
	assert_non_null(c->domains[0].keys[0].pkey);
	assert_true(sl_netlist_match(c->internal, "10.2.3.4"));
	assert_false(sl_netlist_match(c->internal, "127.0.0.1"));
	ml_conf_unref(c);
}

/* test_all_errors_at_once - each problem named with its line */
static void
test_all_errors_at_once(void **state)
{
	ml_conf *c = load_capture(
		"domain \"example.com\" {\n"				/* 1 */
		"  dkim \"r1\" { algorithm = \"rsa-sha256\" key = \"@DIR@/ed.pem\" } }\n"
		"category \"news\" {\n"					/* 3 */
		"  subdomain = \"Bad_Label\"\n"
		"  unsubscribe_url = \"http://x.test/\"\n"
		"  list_unsubscribe_existing = \"merge\"\n"
		"}\n"
		"milter {\n"						/* 8 */
		"  socket = \"/no/prefix\"\n"
		"  on_internal_error = \"ignore\"\n"
		"  default_category = \"nope\"\n"
		"  rule \"r\" { category = \"ghost\" sender = {\"*\"} }\n"
		"}\n");

	(void) state;
	assert_null(c);
	assert_non_null(strstr(errors, "sluice.conf:2: domain example.com dkim r1:"));
	assert_non_null(strstr(errors, "needs an RSA key"));
	assert_non_null(strstr(errors, "sluice.conf:3: category news: subdomain \"Bad_Label\""));
	assert_non_null(strstr(errors, "unsubscribe_url must start with https://"));
	assert_non_null(strstr(errors, "list_unsubscribe_existing \"merge\""));
	assert_non_null(strstr(errors, "socket \"/no/prefix\""));
	assert_non_null(strstr(errors, "on_internal_error \"ignore\""));
	assert_non_null(strstr(errors, "default_category \"nope\" is not defined"));
	assert_non_null(strstr(errors, "rule r: category \"ghost\" is not defined"));
	assert_non_null(strstr(errors, "secret_file: required"));
}

/* test_public_key_file_refused - a key readable by group or others */
static void
test_public_key_file_refused(void **state)
{
	char	path[512];
	ml_conf *c;

	(void) state;
	snprintf(path, sizeof(path), "%s/ed.pem", tu_dir);
	chmod(path, 0640);
	c = load_capture("domain \"example.com\" {\n"
			 "  dkim \"e1\" { algorithm = \"ed25519-sha256\" key = \"@DIR@/ed.pem\" }\n}\n");
	chmod(path, 0600);
	assert_null(c);
	assert_non_null(strstr(errors, "readable by group or others (mode 640)"));
	assert_non_null(strstr(errors, "sluice.conf:2:"));
}

/* test_sasl_user_in_two_tenants - a user belongs to one tenant */
static void
test_sasl_user_in_two_tenants(void **state)
{
	ml_conf *c = load_capture(
		"tenant \"a\" { sasl_users = {\"u1\"} }\n"
		"tenant \"b\" { sasl_users = {\"u2\", \"u1\"} }\n");

	(void) state;
	assert_null(c);
	assert_non_null(strstr(errors, "sasl user \"u1\" already belongs to tenant a"));
}

/* test_snapshot_refs - a pinned snapshot survives installing a new one */
static void
test_snapshot_refs(void **state)
{
	const char *text = "domain \"example.com\" { }\nmilter { redis = false }\n";
	ml_conf *a = load_capture(text), *b = load_capture(text), *pinned;

	(void) state;
	assert_non_null(a);
	assert_non_null(b);
	ml_conf_install(a);
	pinned = ml_conf_current();
	assert_ptr_equal(pinned, a);
	ml_conf_install(b);			/* a stays alive: pinned */
	assert_string_equal(pinned->domains[0].name, "example.com");
	assert_int_equal(pinned->refs, 1);
	ml_conf_unref(pinned);			/* freed now */
	pinned = ml_conf_current();
	assert_ptr_equal(pinned, b);
	ml_conf_unref(pinned);
	ml_conf_install(NULL);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_valid),
		cmocka_unit_test(test_all_errors_at_once),
		cmocka_unit_test(test_public_key_file_refused),
		cmocka_unit_test(test_sasl_user_in_two_tenants),
		cmocka_unit_test(test_snapshot_refs),
	};

	return cmocka_run_group_tests(tests, tu_setup, tu_teardown);
}
