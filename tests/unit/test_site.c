/*
 * NAME
 *	test_site - the site model: typed fields, errors at their lines, refs
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "conf.h"
#include "log.h"
#include "site.h"

static char dir[] = "/tmp/sluice-test-site-XXXXXX";

/* write_file - create dir/name with text and mode */
static void
write_file(const char *name, const char *text, mode_t mode)
{
	char path[256];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	assert_non_null(f = fopen(path, "w"));
	fputs(text, f);
	fclose(f);
	chmod(path, mode);
}

/* capture - run fn(path) with stderr into errtext */
static sl_conf *
capture(sl_conf *(*fn)(const char *), const char *name, char *errtext, size_t size)
{
	char path[256], errpath[256];
	int saved = dup(2), fd;
	sl_conf *c;
	FILE *f;
	size_t n;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	snprintf(errpath, sizeof(errpath), "%s/err", dir);
	fd = creat(errpath, 0600);
	dup2(fd, 2);
	c = fn(path);
	dup2(saved, 2);
	close(fd);
	close(saved);
	assert_non_null(f = fopen(errpath, "r"));
	n = fread(errtext, 1, size - 1, f);
	errtext[n] = '\0';
	fclose(f);
	return c;
}

/* setup - a temp dir with a private key file */
static int
setup(void **state)
{
	(void)state;
	if (mkdtemp(dir) == NULL)
		return -1;
	write_file("k.pem", "x", 0600);
	return 0;
}

/* teardown - remove the temp dir */
static int
teardown(void **state)
{
	char cmd[300];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	return system(cmd) == 0 ? 0 : -1;
}

/* good_conf - a file with every kind of section, its key in dir */
static void
good_conf(void)
{
	char text[2048];

	snprintf(text, sizeof(text),
	         "domain \"example.com\" {\n"
	         "  default_category = \"news\"\n"
	         "  sign_parent = yes\n"
	         "  dkim \"s1\" { key = \"%s/k.pem\" }\n"
	         "  dkim \"e1\" { algorithm = \"ed25519-sha256\" key = \"%s/k.pem\" }\n"
	         "}\n"
	         "domain \"other.test\" { }\n"
	         "category \"news\" {\n"
	         "  subdomain = \"n\" rewrite_from = yes list_unsubscribe = yes\n"
	         "  list_unsubscribe_existing = \"keep\"\n"
	         "  unsubscribe_url = \"https://u.example.com/%%t\"\n"
	         "  sign_domains = { \"subdomain\", \"from\" } transport = \"out1\"\n"
	         "}\n"
	         "category \"tx\" { feedback_type = \"receipt\" sign_parent = yes }\n"
	         "tenant \"shop1\" {\n"
	         "  subdomain = \"s1\" default_category = \"tx\" sender_id = \"S1\"\n"
	         "  domains = { \"shop1.test\", \"*.mall.test\" } sasl_users = { \"alice\" }\n"
	         "  clients = { \"192.0.2.0/28\" } client_ports = { 2525 }\n"
	         "  require_tls = yes allowed_senders = \"users\"\n"
	         "}\n",
	         dir, dir);
	write_file("good.conf", text, 0600);
}

/* test_typed_fields - every field of every section comes through typed */
static void
test_typed_fields(void **state)
{
	char errs[4096];
	sl_conf *c;
	const sl_site *s;
	const struct sl_site_domain *d;
	const struct sl_site_category *cat;
	const struct sl_site_tenant *t;

	(void)state;
	good_conf();
	assert_non_null(c = capture(sl_conf_load, "good.conf", errs, sizeof(errs)));
	s = c->site;
	assert_int_equal(s->ndomains, 2);
	assert_int_equal(s->ncategories, 2);
	assert_int_equal(s->ntenants, 1);
	assert_non_null(d = sl_site_domain(s, "example.com"));
	assert_string_equal(d->default_category, "news");
	assert_int_equal(d->sign_parent, 1);
	assert_int_equal(d->nkeys, 2);
	assert_string_equal(d->keys[0].selector, "s1");
	assert_int_equal(d->keys[0].alg, SL_SITE_RSA);
	assert_string_equal(d->keys[0].algorithm, "rsa-sha256");
	assert_int_equal(d->keys[1].alg, SL_SITE_ED25519);
	assert_non_null(strstr(d->keys[1].path, "/k.pem"));
	assert_int_equal(d->line, 1);
	assert_non_null(strstr(d->file, "good.conf"));
	assert_null(sl_site_domain(s, "EXAMPLE.COM")); /* exact, as cfg_gettsec */
	assert_int_equal(sl_site_domain(s, "other.test")->nkeys, 0);
	assert_string_equal(sl_site_domain(s, "other.test")->default_category, "");
	assert_non_null(cat = sl_site_category(s, "news"));
	assert_string_equal(cat->subdomain, "n");
	assert_int_equal(cat->rewrite_from, 1);
	assert_int_equal(cat->list_unsubscribe, 1);
	assert_int_equal(cat->lu_replace, 0);
	assert_string_equal(cat->unsubscribe_url, "https://u.example.com/%t");
	assert_string_equal(cat->feedback_type, "news"); /* default: the name */
	assert_int_equal(cat->nsign_domains, 2);
	assert_string_equal(cat->sign_domains[1], "from");
	assert_null(cat->sign_domains[2]);
	assert_string_equal(cat->transport, "out1");
	assert_int_equal(cat->line, 8);
	assert_non_null(cat = sl_site_category(s, "tx"));
	assert_string_equal(cat->feedback_type, "receipt");
	assert_int_equal(cat->lu_replace, 1); /* the default: replace */
	assert_int_equal(cat->sign_parent, 1);
	assert_string_equal(cat->subdomain, "");
	assert_non_null(t = sl_site_tenant(s, "shop1"));
	assert_string_equal(t->subdomain, "s1");
	assert_string_equal(t->default_category, "tx");
	assert_string_equal(t->sender_id, "S1");
	assert_int_equal(t->ndomains, 2);
	assert_string_equal(t->domains[1], "*.mall.test");
	assert_int_equal(t->nsasl_users, 1);
	assert_non_null(t->clients);
	assert_true(sl_netlist_match(t->clients, "192.0.2.3"));
	assert_int_equal(t->nports, 1);
	assert_string_equal(t->ports[0], "2525");
	assert_int_equal(t->require_tls, 1);
	assert_int_equal(t->senders, SL_SENDERS_USERS);
	assert_null(sl_site_tenant(s, "shop2"));
	assert_null(sl_site_category(s, NULL));
	sl_conf_free(c);
}

/* test_outlives_conf - a reference keeps the model valid after the conf is freed */
static void
test_outlives_conf(void **state)
{
	char errs[4096];
	sl_conf *c;
	sl_site *s;

	(void)state;
	good_conf();
	assert_non_null(c = capture(sl_conf_load, "good.conf", errs, sizeof(errs)));
	s = sl_site_ref(c->site);
	sl_conf_free(c);
	assert_string_equal(sl_site_category(s, "news")->unsubscribe_url,
	                    "https://u.example.com/%t");
	assert_string_equal(sl_site_tenant(s, "shop1")->sasl_users[0], "alice");
	assert_string_equal(sl_site_domain(s, "example.com")->keys[1].selector, "e1");
	sl_site_unref(s);
	sl_site_unref(NULL);
}

/* test_shared_errors - what every program refuses, each at its line */
static void
test_shared_errors(void **state)
{
	char errs[8192];

	(void)state;
	write_file("bad.conf",
	           "domain \"example.com\" {\n"
	           "  default_category = \"nosuch\"\n"
	           "  dkim \"s1\" {\n"
	           "    algorithm = \"rsa-sha1\"\n"
	           "    key = \"/nonexistent/k.pem\"\n"
	           "  }\n"
	           "}\n"
	           "category \"Bad_Name\" { }\n"
	           "tenant \"t1\" {\n"
	           "  clients = { \"not-a-net\" }\n"
	           "  client_ports = { 70000 }\n"
	           "  allowed_senders = \"everyone\"\n"
	           "}\n"
	           "tenant \"t2\" { client_ports = { 25 } }\n"
	           "tenant \"t3\" { clients = { \"192.0.2.1\" } allowed_senders = \"users\" }\n",
	           0600);
	assert_null(capture(sl_conf_load, "bad.conf", errs, sizeof(errs)));
	assert_non_null(strstr(
	    errs, "bad.conf:2: domain example.com: default_category \"nosuch\" is not defined"));
	assert_non_null(strstr(errs, "bad.conf:4: dkim s1: algorithm \"rsa-sha1\""));
	assert_non_null(strstr(errs, "bad.conf:3: dkim s1: /nonexistent/k.pem"));
	assert_non_null(
	    strstr(errs, "bad.conf:8: category \"Bad_Name\": a name is 1-15 characters"));
	assert_non_null(strstr(errs, "bad.conf:10: tenant t1: clients \"not-a-net\""));
	assert_non_null(strstr(errs, "bad.conf:11: tenant t1: client_ports \"70000\": not a port"));
	assert_non_null(strstr(errs, "bad.conf:12: tenant t1: allowed_senders \"everyone\""));
	assert_non_null(strstr(errs, "bad.conf:14: tenant t2: client_ports without clients"));
	assert_non_null(
	    strstr(errs, "bad.conf:15: tenant t3: allowed_senders = users needs sasl_users"));
	assert_non_null(strstr(errs, "bad.conf: 9 errors"));
}

/* load_milter - load, then the milter's checks of the site sections */
static sl_conf *
load_milter(const char *path)
{
	sl_conf *c = sl_conf_load(path);

	if (c != NULL)
		sl_site_check_milter(c->site, c);
	return c;
}

/* test_milter_errors - the checks sluice-milter adds, each at its line */
static void
test_milter_errors(void **state)
{
	char errs[8192], text[2048];
	sl_conf *c;

	(void)state;
	snprintf(text, sizeof(text),
	         "domain \"Example.com\" { }\n"
	         "domain \"keyed.test\" {\n"
	         "  dkim \"bad.sel\" { key = \"%s/k.pem\" }\n"
	         "}\n"
	         "category \"news\" {\n"
	         "  subdomain = \"-x\"\n"
	         "  list_unsubscribe_existing = \"drop\"\n"
	         "  unsubscribe_url = \"http://u.test/\"\n"
	         "  feedback_type = \"a:b\"\n"
	         "  sign_domains = { \"nokeys.test\", \"from\", \"subdomain\", \"keyed.test\" }\n"
	         "}\n"
	         "tenant \"t1\" {\n"
	         "  subdomain = \"a..b\"\n"
	         "  default_category = \"nosuch\"\n"
	         "  domains = { \"UPPER.test\" }\n"
	         "  sasl_users = { \"alice\" }\n"
	         "}\n"
	         "tenant \"t2\" {\n"
	         "  sasl_users = { \"alice\" }\n"
	         "}\n",
	         dir);
	write_file("milter.conf", text, 0600);
	assert_non_null(c = capture(sl_conf_load, "milter.conf", errs, sizeof(errs)));
	assert_int_equal(c->errors, 0); /* other programs accept it, as before */
	sl_conf_free(c);
	assert_non_null(c = capture(load_milter, "milter.conf", errs, sizeof(errs)));
	assert_non_null(
	    strstr(errs, "milter.conf:1: domain \"Example.com\": not a lowercase domain name"));
	assert_non_null(
	    strstr(errs, "milter.conf:3: dkim \"bad.sel\": a selector is one DNS label"));
	assert_non_null(strstr(errs, "milter.conf:6: category news: subdomain \"-x\""));
	assert_non_null(
	    strstr(errs, "milter.conf:7: category news: list_unsubscribe_existing \"drop\""));
	assert_non_null(
	    strstr(errs, "milter.conf:8: category news: unsubscribe_url must start with https://"));
	assert_non_null(
	    strstr(errs, "milter.conf:9: category news: feedback_type must not contain ':'"));
	assert_non_null(
	    strstr(errs, "milter.conf:10: category news: sign_domains \"nokeys.test\""));
	assert_non_null(strstr(errs, "category news: at most 3 sign_domains"));
	assert_null(strstr(errs, "sign_domains \"keyed.test\""));
	assert_non_null(strstr(errs, "milter.conf:13: tenant t1: subdomain \"a..b\""));
	assert_non_null(
	    strstr(errs, "milter.conf:14: tenant t1: default_category \"nosuch\" is not defined"));
	assert_non_null(strstr(errs, "milter.conf:15: tenant t1: domains \"UPPER.test\""));
	assert_non_null(strstr(
	    errs, "milter.conf:18: tenant t2: sasl user \"alice\" already belongs to tenant t1"));
	assert_int_equal(c->errors, 12);
	sl_conf_free(c);
}

/* test_empty - no site sections: an empty model, lookups find nothing */
static void
test_empty(void **state)
{
	char errs[4096];
	sl_conf *c;

	(void)state;
	write_file("empty.conf", "log_level = \"info\"\n", 0600);
	assert_non_null(c = capture(sl_conf_load, "empty.conf", errs, sizeof(errs)));
	assert_non_null(c->site);
	assert_int_equal(c->site->ndomains, 0);
	assert_int_equal(c->site->ncategories, 0);
	assert_int_equal(c->site->ntenants, 0);
	assert_null(sl_site_domain(c->site, "example.com"));
	assert_null(sl_site_category(c->site, "news"));
	assert_null(sl_site_tenant(c->site, "shop1"));
	sl_conf_free(c);
}

#define PINS 20000

/* pinner - take and drop references as a milter thread does per message */
static void *
pinner(void *arg)
{
	sl_site *s = arg;

	for (int i = 0; i < PINS; i++) {
		sl_site *p = sl_site_ref(s);

		if (strcmp(sl_site_category(p, "news")->name, "news") != 0)
			abort();
		sl_site_unref(p);
	}
	sl_site_unref(s); /* the reference handed to this thread */
	return NULL;
}

/* test_threads - two threads ref and unref; the model is freed once, at the end */
static void
test_threads(void **state)
{
	char errs[4096];
	sl_conf *c;
	sl_site *s;
	pthread_t a, b;

	(void)state;
	good_conf();
	assert_non_null(c = capture(sl_conf_load, "good.conf", errs, sizeof(errs)));
	s = sl_site_ref(c->site);
	sl_site_ref(s);
	sl_site_ref(s);
	sl_conf_free(c); /* a reload: the conf's own reference goes */
	assert_int_equal(pthread_create(&a, NULL, pinner, s), 0);
	assert_int_equal(pthread_create(&b, NULL, pinner, s), 0);
	pthread_join(a, NULL);
	pthread_join(b, NULL);
	assert_int_equal(__atomic_load_n(&s->refs, __ATOMIC_SEQ_CST), 1);
	sl_site_unref(s); /* freed here (ASan and valgrind runs see a double free or leak) */
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_typed_fields),  cmocka_unit_test(test_outlives_conf),
	    cmocka_unit_test(test_shared_errors), cmocka_unit_test(test_milter_errors),
	    cmocka_unit_test(test_empty),         cmocka_unit_test(test_threads),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
