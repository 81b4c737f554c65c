/*
 * NAME
 *	test_conf - sluice.conf loading: good files load, bad ones say file:line
 */
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

static char dir[] = "/tmp/sluice-test-conf-XXXXXX";

/* write_file - create a file with content and mode */
static void
write_file(const char *name, const char *text, mode_t mode)
{
	char	path[256];
	FILE   *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	assert_non_null(f = fopen(path, "w"));
	fputs(text, f);
	fclose(f);
	chmod(path, mode);
}

/* capture - run a loader on dir/name, capturing stderr into dir/err */
static sl_conf *
capture(sl_conf *(*loader)(const char *), const char *name, char *errtext, size_t size)
{
	char	path[256], errpath[256];
	int	saved = dup(2), fd;
	sl_conf *c;
	FILE   *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	snprintf(errpath, sizeof(errpath), "%s/err", dir);
	fd = creat(errpath, 0600);
	dup2(fd, 2);
	c = loader(path);
	dup2(saved, 2);
	close(fd);
	close(saved);
	f = fopen(errpath, "r");
	size_t	n = fread(errtext, 1, size - 1, f);

	errtext[n] = '\0';
	fclose(f);
	return c;
}

/* load - sl_conf_load() on dir/name, its stderr in errtext */
static sl_conf *
load(const char *name, char *errtext, size_t size)
{
	return capture(sl_conf_load, name, errtext, size);
}

/* setup - a temp dir with one private and one world-readable key */
static int
setup(void **state)
{
	(void) state;
	if (mkdtemp(dir) == NULL)
		return -1;
	write_file("private.pem", "x", 0600);
	write_file("public.pem", "x", 0644);
	return 0;
}

/* test_good - a complete file loads and values come through */
static void
test_good(void **state)
{
	char	errs[4096], text[1024];
	sl_conf *c;

	(void) state;
	snprintf(text, sizeof(text),
		 "redis { socket = \"/tmp/r.sock\" prefix = \"t1:\" }\n"
		 "category marketing { subdomain = news list_unsubscribe = true }\n"
		 "domain example.com {\n default_category = marketing\n"
		 " dkim s1 { algorithm = rsa-sha256 key = \"%s/private.pem\" }\n}\n", dir);
	write_file("good.conf", text, 0644);
	c = load("good.conf", errs, sizeof(errs));
	assert_non_null(c);
	assert_string_equal(cfg_getstr(cfg_getsec(c->cfg, "redis"), "prefix"), "t1:");
	assert_non_null(sl_site_category(c->site, "marketing"));
	sl_redis_opts o;

	sl_conf_redis_opts(c, &o);
	assert_string_equal(o.unix_path, "/tmp/r.sock");
	sl_conf_free(c);
}

/* test_redis_password_file - a private file gives the password; a public one is refused */
static void
test_redis_password_file(void **state)
{
	char	errs[4096], text[512];
	sl_redis_opts o;
	sl_conf *c;

	(void) state;
	write_file("redis.pw", "s3cret-pass\n", 0600);
	snprintf(text, sizeof(text), "redis { user = sluice password_file = \"%s/redis.pw\" }\n", dir);
	write_file("pw.conf", text, 0644);
	assert_non_null(c = load("pw.conf", errs, sizeof(errs)));
	sl_conf_redis_opts(c, &o);
	assert_string_equal(o.password, "s3cret-pass");
	assert_string_equal(o.user, "sluice");
	sl_conf_free(c);
	write_file("redis.pw", "s3cret-pass\n", 0644);
	assert_null(load("pw.conf", errs, sizeof(errs)));
	assert_non_null(strstr(errs, "redis password_file"));
}

/* test_redis_sentinels_cluster - the Sentinel and Cluster options and their checks */
static void
test_redis_sentinels_cluster(void **state)
{
	char	errs[4096], text[512];
	sl_redis_opts o;
	sl_conf *c;

	(void) state;
	write_file("sent.pw", "sentinel-pass\n", 0600);
	snprintf(text, sizeof(text), "redis {\n sentinels = {\"127.0.0.1:26379\", \"[::1]:26380\"}\n"
		 " master_name = m1\n sentinel_user = watcher\n"
		 " sentinel_password_file = \"%s/sent.pw\"\n}\n", dir);
	write_file("sent.conf", text, 0644);
	assert_non_null(c = load("sent.conf", errs, sizeof(errs)));
	sl_conf_redis_opts(c, &o);
	assert_int_equal(o.nsentinels, 2);
	assert_string_equal(o.sentinels[1], "[::1]:26380");
	assert_string_equal(o.master_name, "m1");
	assert_string_equal(o.sentinel_user, "watcher");
	assert_string_equal(o.sentinel_password, "sentinel-pass");
	assert_int_equal(o.ncluster_nodes, 0);
	sl_conf_free(c);
	write_file("bad-sent.conf", "redis {\n sentinels = {\"nohost\", \"h:0\"}\n"
		   " socket = \"/run/redis.sock\"\n master_name = \"\"\n}\n", 0644);
	assert_null(load("bad-sent.conf", errs, sizeof(errs)));
	assert_non_null(strstr(errs, "\"nohost\" is not host:port"));
	assert_non_null(strstr(errs, "\"h:0\" is not host:port"));
	assert_non_null(strstr(errs, "socket and sentinels exclude each other"));
	assert_non_null(strstr(errs, "master_name: empty"));
	write_file("cl.conf", "redis { cluster_nodes = {\"10.0.0.1:7000\", \"10.0.0.2:7000\"} }\n", 0644);
	assert_non_null(c = load("cl.conf", errs, sizeof(errs)));
	sl_conf_redis_opts(c, &o);
	assert_int_equal(o.ncluster_nodes, 2);
	assert_string_equal(o.cluster_nodes[0], "10.0.0.1:7000");
	sl_conf_free(c);
	write_file("bad-cl.conf", "redis {\n cluster_nodes = {\"10.0.0.1:7000\"}\n db = 2\n"
		   " sentinels = {\"127.0.0.1:26379\"}\n}\n", 0644);
	assert_null(load("bad-cl.conf", errs, sizeof(errs)));
	assert_non_null(strstr(errs, "cluster_nodes exclude sentinels and socket"));
	assert_non_null(strstr(errs, "database 0 only"));
}

/* test_all_errors_at_once - every semantic error is reported with its line */
static void
test_all_errors_at_once(void **state)
{
	char	errs[4096], text[1024];

	(void) state;
	snprintf(text, sizeof(text),
		 "log_level = loud\n"
		 "category Bad-Name { }\n"
		 "domain example.com {\n default_category = nosuch\n"
		 " dkim s1 { algorithm = rsa-sha1 key = \"%s/public.pem\" }\n}\n", dir);
	write_file("bad.conf", text, 0644);
	assert_null(load("bad.conf", errs, sizeof(errs)));
	assert_non_null(strstr(errs, "bad.conf:1: log_level \"loud\""));
	assert_non_null(strstr(errs, "bad.conf:2: category \"Bad-Name\""));
	assert_non_null(strstr(errs, "bad.conf:4: domain example.com: default_category \"nosuch\""));
	assert_non_null(strstr(errs, "bad.conf:5: dkim s1: algorithm \"rsa-sha1\""));
	assert_non_null(strstr(errs, "bad.conf:5: dkim s1: "));
	assert_non_null(strstr(errs, "readable by group or others"));
	assert_non_null(strstr(errs, "5 errors"));
}

/* test_syntax_error - libconfuse's error carries file:line */
static void
test_syntax_error(void **state)
{
	char	errs[4096];

	(void) state;
	write_file("syntax.conf", "redis {\n  port = 6379\n  bogus = 1\n}\n", 0644);
	assert_null(load("syntax.conf", errs, sizeof(errs)));
	assert_non_null(strstr(errs, "syntax.conf:3:"));
	assert_null(load("missing.conf", errs, sizeof(errs)));
	assert_non_null(strstr(errs, "cannot read"));
}

/* test_syntax_all_at_once - each syntax error class at its own line, one run */
static void
test_syntax_all_at_once(void **state)
{
	char	errs[8192];

	(void) state;
	write_file("syntax2.conf",
		   "# every kind of syntax error, one per line\n"	/* 1 */
		   "bogus_top = 1\n"					/* 2 unknown top */
		   "redis {\n"						/* 3 */
		   "  port = many\n"					/* 4 not an int */
		   "  hots = \"x\"\n"				/* 5 unknown */
		   "  db\n"						/* 6 no '=' */
		   "}\n"
		   "milter {\n"						/* 8 never closed */
		   "  timeout = 30\n"
		   "  frobnicate = yes\n"				/* 10 unknown */
		   "category \"bulk\" {\n"				/* 11 */
		   "  rewrite_from = maybe\n"				/* 12 not a bool */
		   "  sign_domains = { \"a\" \"b\" }\n"		/* 13 no ',' */
		   "}\n"
		   "}\n"							/* 15 one too many */
		   "feedback {\n"					/* 16 */
		   "  pause_bounce_rate = high\n"			/* 17 not a number */
		   "  dedup_ttl =\n"					/* 18 no value */
		   "}\n"
		   "policyd {\n"						/* 20 not closed at EOF */
		   "  mode = \"monitor\"\n",
		   0600);
	assert_null(load("syntax2.conf", errs, sizeof(errs)));
	assert_non_null(strstr(errs, "syntax2.conf:2: unknown option \"bogus_top\" at top level"));
	assert_non_null(strstr(errs, "syntax2.conf:4: port = \"many\": not an integer"));
	assert_non_null(strstr(errs, "syntax2.conf:5: unknown option \"hots\" in redis"));
	assert_non_null(strstr(errs, "syntax2.conf:6: db: '=' expected"));
	assert_non_null(strstr(errs, "syntax2.conf:8: milter { } is not closed: '}' missing before line 11"));
	assert_non_null(strstr(errs, "syntax2.conf:10: unknown option \"frobnicate\" in milter"));
	assert_non_null(strstr(errs, "syntax2.conf:12: rewrite_from = \"maybe\": use true or false"));
	assert_non_null(strstr(errs, "syntax2.conf:13: sign_domains: ',' or '}' expected"));
	assert_non_null(strstr(errs, "syntax2.conf:15: '}' without a section to close"));
	assert_non_null(strstr(errs, "syntax2.conf:17: pause_bounce_rate = \"high\": not a number"));
	assert_non_null(strstr(errs, "syntax2.conf:18: dedup_ttl: no value given"));
	assert_non_null(strstr(errs, "syntax2.conf:20: policyd { } is not closed: '}' missing at the end"));
	/* libconfuse's own messages, with its wrong lines, are not shown */
	assert_null(strstr(errs, "no such option"));
	assert_non_null(strstr(errs, "12 errors"));
}

/* test_semantic_after_syntax - a syntax error does not hide a semantic one */
static void
test_semantic_after_syntax(void **state)
{
	char	errs[4096];

	(void) state;
	write_file("mixed.conf",
		   "milter {\n"
		   "  bogus = 1\n"					/* 2 */
		   "}\n"
		   "\n"
		   "category \"Bad-Name\" {\n"			/* 5 */
		   "}\n"
		   "log_level = loud\n",					/* 7 */
		   0600);
	assert_null(load("mixed.conf", errs, sizeof(errs)));
	assert_non_null(strstr(errs, "mixed.conf:2: unknown option \"bogus\""));
	assert_non_null(strstr(errs, "mixed.conf:5: category \"Bad-Name\""));
	assert_non_null(strstr(errs, "mixed.conf:7: log_level \"loud\""));
	assert_non_null(strstr(errs, "3 errors"));
}

/* test_lines_of_untitled_sections - an option's line, not its section's '}' */
static void
test_lines_of_untitled_sections(void **state)
{
	char	errs[4096], text[1024];
	sl_conf *c;

	(void) state;
	snprintf(text, sizeof(text),
		 "\n\nredis {\n  port = 1\n}\n\n"
		 "policyd {\n  mode = x\n\n\n}\n"			/* 7, 8 */
		 "secret_file = \"%s/public.pem\"\n", dir);		/* 12 */
	write_file("lines.conf", text, 0600);
	assert_non_null(c = capture(sl_conf_parse, "lines.conf", errs, sizeof(errs)));
	assert_non_null(strstr(errs, "lines.conf:12: secret_file: "));
	assert_int_equal(c->errors, 1);
	assert_int_equal(sl_conf_opt_line(c, cfg_getsec(c->cfg, "policyd"), "mode"), 8);
	assert_int_equal(sl_conf_opt_line(c, cfg_getsec(c->cfg, "policyd"), "listen"), 7);
	assert_int_equal(sl_conf_opt_line(c, cfg_getsec(c->cfg, "redis"), "port"), 4);
	assert_true(sl_conf_present(c, "policyd"));
	assert_false(sl_conf_present(c, "milter"));
	sl_conf_free(c);
}

/* test_include - included files: their sections load, errors name their own file and line */
static void
test_include(void **state)
{
	char	errs[8192], text[1024], want[512];
	sl_conf *c;

	(void) state;
	mkdir((snprintf(text, sizeof(text), "%s/conf.d", dir), text), 0755);
	write_file("conf.d/a.conf", "# a\ncategory news { subdomain = news }\n", 0644);
	write_file("conf.d/b.conf", "tenant shop1 {\n  clients = { \"10.0.0.0/8\" }\n}\n", 0644);
	write_file("inc-good.conf", "log_level = info\ninclude \"conf.d/*.conf\"   # domains\n"
		   "include(\"conf.d/none-*.conf\")\ndomain example.com { default_category = news }\n",
		   0644);
	assert_non_null(c = load("inc-good.conf", errs, sizeof(errs)));
	assert_non_null(sl_site_category(c->site, "news"));
	assert_non_null(sl_site_tenant(c->site, "shop1"));
	snprintf(want, sizeof(want), "%s/conf.d/b.conf", dir);
	assert_string_equal(sl_site_tenant(c->site, "shop1")->file, want);
	snprintf(want, sizeof(want), "%s/inc-good.conf", dir);
	assert_string_equal(sl_site_domain(c->site, "example.com")->file, want);
	sl_conf_free(c);

	/* a syntax error and a semantic one in an included file, one in the main file */
	write_file("conf.d/bad.inc", "category x {\n  subdomain = x\n  colour = red\n}\n"
		   "tenant t {\n  allowed_senders = \"all\"\n}\n", 0644);
	write_file("inc-bad.conf", "log_level = info\ninclude \"conf.d/bad.inc\"\nbogus = 1\n", 0644);
	assert_null(load("inc-bad.conf", errs, sizeof(errs)));
	snprintf(want, sizeof(want), "%s/conf.d/bad.inc:3: ", dir);
	assert_non_null(strstr(errs, want));
	snprintf(want, sizeof(want), "%s/conf.d/bad.inc:6: tenant t: allowed_senders", dir);
	assert_non_null(strstr(errs, want));
	snprintf(want, sizeof(want), "%s/inc-bad.conf:3: ", dir);
	assert_non_null(strstr(errs, want));

	/* a missing file: at the include line; a file including itself: stopped */
	write_file("inc-missing.conf", "\n\ninclude \"conf.d/nosuch.conf\"\n", 0644);
	assert_null(load("inc-missing.conf", errs, sizeof(errs)));
	snprintf(want, sizeof(want), "%s/inc-missing.conf:3: include", dir);
	assert_non_null(strstr(errs, want));
	write_file("inc-loop.conf", "include \"inc-loop.conf\"\n", 0644);
	assert_null(load("inc-loop.conf", errs, sizeof(errs)));
	assert_non_null(strstr(errs, "nested more than 8 deep"));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_good),
		cmocka_unit_test(test_redis_password_file),
		cmocka_unit_test(test_redis_sentinels_cluster),
		cmocka_unit_test(test_all_errors_at_once),
		cmocka_unit_test(test_syntax_error),
		cmocka_unit_test(test_syntax_all_at_once),
		cmocka_unit_test(test_semantic_after_syntax),
		cmocka_unit_test(test_lines_of_untitled_sections),
		cmocka_unit_test(test_include),
	};

	return cmocka_run_group_tests(tests, setup, NULL);
}
