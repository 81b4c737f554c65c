/*
 * NAME
 *	test_milter_verify - inbound verification units over a zone file
 * DESCRIPTION
 *	lib/dns.c (zone format, NODATA vs NXDOMAIN, SERVFAIL, bad lines),
 *	milter_spf.c (results, the void-lookup limit, temperror),
 *	milter_dmarc.c (record parsing, the tree walk, psd=, organizational
 *	domains, strict and relaxed alignment, p/sp/np) and milter_authres.c
 *	(which fields claim our authserv-id). No test reaches DNS.
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

#include "milter_verify.h"

static const char zone_text[] =
    "# comment\n"
    "\n"
    "Example.COM. TXT \"v=spf1 ip4:192.0.2.1\" \" -all\"\n"
    "example.com A 192.0.2.1\n"
    "example.com MX 10 mx.example.com\n"
    "soft.test TXT v=spf1 ~all\n"
    "void.test TXT \"v=spf1 a:a.void.test a:b.void.test a:c.void.test ip4:192.0.2.1 -all\"\n"
    "twovoid.test TXT \"v=spf1 a:a.void.test a:b.void.test ip4:192.0.2.1 -all\"\n"
    "broken.test SERVFAIL\n"
    "_dmarc.example.com TXT \"v=DMARC1; p=reject; adkim=s; pct=50; rua=mailto:r@example.com\"\n"
    "_dmarc.org.test TXT \"v=DMARC1; p=none\"\n"
    "_dmarc.psd.test TXT \"v=DMARC1; p=reject; psd=y\"\n"
    "_dmarc.sub.psdn.test TXT \"v=DMARC1; p=none; psd=n\"\n"
    "_dmarc.psdn.test TXT \"v=DMARC1; p=reject\"\n"
    "_dmarc.np.test TXT \"v=DMARC1; p=none; sp=quarantine; np=reject\"\n"
    "real.np.test A 192.0.2.1\n"
    "_dmarc.two.test TXT \"v=DMARC1; p=reject\"\n"
    "_dmarc.two.test TXT \"v=DMARC1; p=none\"\n";

static char zone_path[64];
static sl_dns *dns;

/* setup - the zone file and a resolver on it */
static int
setup(void **state)
{
	char err[256];
	int fd;
	FILE *fp;

	(void)state;
	snprintf(zone_path, sizeof(zone_path), "/tmp/test_verify_zoneXXXXXX");
	if ((fd = mkstemp(zone_path)) < 0 || (fp = fdopen(fd, "w")) == NULL)
		return -1;
	fputs(zone_text, fp);
	fclose(fp);
	dns = sl_dns_new(zone_path, 5, err, sizeof(err));
	if (dns == NULL)
		fprintf(stderr, "%s\n", err);
	return dns ? ml_verify_init(err, sizeof(err)) : -1;
}

/* teardown - free the resolver, remove the file */
static int
teardown(void **state)
{
	(void)state;
	sl_dns_free(dns);
	unlink(zone_path);
	return 0;
}

/* test_zone_answers - found, NODATA, NXDOMAIN, SERVFAIL; names without case or dot */
static void
test_zone_answers(void **state)
{
	sl_dns_ans a = {0};

	(void)state;
	assert_int_equal(sl_dns_query(dns, "EXAMPLE.com.", SL_DNS_TXT, &a), SL_DNS_FOUND);
	assert_int_equal(a.n, 1);
	assert_string_equal(a.rr[0], "v=spf1 ip4:192.0.2.1 -all"); /* strings joined */
	sl_dns_ans_free(&a);
	assert_int_equal(sl_dns_query(dns, "example.com", SL_DNS_MX, &a), SL_DNS_FOUND);
	assert_string_equal(a.rr[0], "10 mx.example.com");
	sl_dns_ans_free(&a);
	assert_int_equal(sl_dns_query(dns, "example.com", SL_DNS_AAAA, &a), SL_DNS_NODATA);
	assert_int_equal(sl_dns_query(dns, "nowhere.example.com", SL_DNS_A, &a), SL_DNS_NXDOMAIN);
	assert_int_equal(sl_dns_query(dns, "broken.test", SL_DNS_TXT, &a), SL_DNS_TEMP);
	assert_int_equal(sl_dns_query(dns, "soft.test", SL_DNS_TXT, &a), SL_DNS_FOUND);
	assert_string_equal(a.rr[0], "v=spf1 ~all"); /* unquoted data */
	sl_dns_ans_free(&a);
}

/* test_zone_bad_lines - a bad line is refused with file:line */
static void
test_zone_bad_lines(void **state)
{
	char name[SL_DNS_NAME_MAX], err[256], path[64] = "/tmp/test_verify_badXXXXXX";
	enum sl_dns_type t;
	const char *data;
	int fd = mkstemp(path);

	(void)state;
	assert_int_equal(sl_dns_zone_line("x.test BOGUS 1", name, sizeof(name), &t, &data), -1);
	assert_int_equal(sl_dns_zone_line("x.test", name, sizeof(name), &t, &data), -1);
	assert_int_equal(sl_dns_zone_line("   # c", name, sizeof(name), &t, &data), 1);
	assert_int_equal(sl_dns_zone_line("X.Test. a 192.0.2.1", name, sizeof(name), &t, &data), 0);
	assert_string_equal(name, "x.test");
	assert_int_equal(t, SL_DNS_A);
	assert_true(write(fd, "ok.test A 192.0.2.1\nbad line here\n", 34) == 34);
	close(fd);
	assert_null(sl_dns_new(path, 5, err, sizeof(err)));
	assert_non_null(strstr(err, ":2:"));
	unlink(path);
}

/* test_spf_results - pass, fail, softfail, none, temperror, the void limit */
static void
test_spf_results(void **state)
{
	ml_spf_result r, h;

	(void)state;
	ml_spf_check(dns, "192.0.2.1", "example.com", "a@example.com", &r, &h);
	assert_int_equal(r.result, ML_AUTH_PASS);
	assert_int_equal(h.result, ML_AUTH_PASS);
	assert_string_equal(r.domain, "example.com");
	ml_spf_check(dns, "192.0.2.2", "", "a@example.com", &r, NULL);
	assert_int_equal(r.result, ML_AUTH_FAIL);
	ml_spf_check(dns, "192.0.2.2", "", "a@soft.test", &r, NULL);
	assert_int_equal(r.result, ML_AUTH_SOFTFAIL);
	ml_spf_check(dns, "192.0.2.2", "", "a@nothing.test", &r, NULL);
	assert_int_equal(r.result, ML_AUTH_NONE);
	ml_spf_check(dns, "192.0.2.2", "", "a@broken.test", &r, NULL);
	assert_int_equal(r.result, ML_AUTH_TEMPERROR);
	ml_spf_check(dns, "192.0.2.1", "", "a@void.test", &r, NULL); /* 3 voids, then a match */
	assert_int_equal(r.result, ML_AUTH_PERMERROR);
	ml_spf_check(dns, "192.0.2.1", "", "a@twovoid.test", &r, NULL); /* 2 voids are allowed */
	assert_int_equal(r.result, ML_AUTH_PASS);
	ml_spf_check(dns, "192.0.2.1", "example.com", "", &r, NULL); /* <>: postmaster@HELO */
	assert_int_equal(r.result, ML_AUTH_PASS);
}

/* test_dmarc_parse - tags, defaults, what is not a DMARC record */
static void
test_dmarc_parse(void **state)
{
	ml_dmarc_rec r;

	(void)state;
	assert_int_equal(ml_dmarc_parse("v=DMARC1; p=quarantine; sp=reject; np=none; adkim=s; "
	                                "aspf=r; pct=20; t=y; psd=n",
	                                &r),
	                 0);
	assert_int_equal(r.p, ML_P_QUARANTINE);
	assert_int_equal(r.sp, ML_P_REJECT);
	assert_int_equal(r.np, ML_P_NONE);
	assert_true(r.adkim_strict && !r.aspf_strict && r.testing);
	assert_int_equal(r.pct, 20);
	assert_int_equal(r.psd, 'n');
	assert_int_equal(ml_dmarc_parse("v=DMARC1", &r), 0);
	assert_int_equal(r.p, ML_P_NONE); /* RFC 9989: absent p is none */
	assert_int_equal(r.pct, 100);
	assert_int_equal(ml_dmarc_parse("v=spf1 -all", &r), -1);
	assert_int_equal(ml_dmarc_parse("p=reject; v=DMARC1", &r), -1); /* v= must come first */
	assert_int_equal(ml_dmarc_parse("", &r), -1);
}

/* test_org_domain - the tree walk: fewest labels, psd=y, psd=n, no record */
static void
test_org_domain(void **state)
{
	char org[SL_DNS_NAME_MAX];

	(void)state;
	assert_int_equal(ml_dmarc_org_domain(dns, "a.b.org.test", org, sizeof(org)), 0);
	assert_string_equal(org, "org.test");
	assert_int_equal(ml_dmarc_org_domain(dns, "mail.shop.psd.test", org, sizeof(org)), 0);
	assert_string_equal(org, "shop.psd.test"); /* one label below the PSD */
	assert_int_equal(ml_dmarc_org_domain(dns, "x.sub.psdn.test", org, sizeof(org)), 0);
	assert_string_equal(org, "sub.psdn.test"); /* psd=n stops the walk */
	assert_int_equal(ml_dmarc_org_domain(dns, "a.b.none.test", org, sizeof(org)), 0);
	assert_string_equal(org, "a.b.none.test"); /* no record: the domain itself */
}

/* vsig - one passing signature for d */
static ml_dkim_vsig
vsig(const char *d, enum ml_auth r)
{
	ml_dkim_vsig s;

	memset(&s, 0, sizeof(s));
	s.result = r;
	snprintf(s.domain, sizeof(s.domain), "%s", d);
	return s;
}

/* test_alignment - strict is equality (the libopendmarc bug case), relaxed is org domains */
static void
test_alignment(void **state)
{
	ml_spf_result spf = {.result = ML_AUTH_FAIL};
	ml_dkim_vsig s = vsig("mail.example.com", ML_AUTH_PASS);
	ml_dmarc_result r;

	(void)state;
	ml_dmarc_check(dns, "example.com", &spf, &s, 1, &r); /* adkim=s */
	assert_int_equal(r.result, ML_AUTH_FAIL);
	s = vsig("example.com", ML_AUTH_PASS);
	ml_dmarc_check(dns, "example.com", &spf, &s, 1, &r);
	assert_int_equal(r.result, ML_AUTH_PASS);
	assert_true(r.dkim_aligned && !r.spf_aligned);
	s = vsig("x.org.test", ML_AUTH_PASS);
	ml_dmarc_check(dns, "y.org.test", &spf, &s, 1, &r); /* relaxed, same org domain */
	assert_int_equal(r.result, ML_AUTH_PASS);
	s = vsig("org.test", ML_AUTH_FAIL);
	ml_dmarc_check(dns, "org.test", &spf, &s, 1, &r); /* a failed signature never aligns */
	assert_int_equal(r.result, ML_AUTH_FAIL);
	spf.result = ML_AUTH_PASS;
	snprintf(spf.domain, sizeof(spf.domain), "bounce.org.test");
	ml_dmarc_check(dns, "org.test", &spf, NULL, 0, &r);
	assert_int_equal(r.result, ML_AUTH_PASS);
	assert_true(r.spf_aligned);
}

/* test_policy_choice - p at the domain, sp below it, np for a name that does not exist */
static void
test_policy_choice(void **state)
{
	ml_spf_result spf = {.result = ML_AUTH_FAIL};
	ml_dmarc_result r;

	(void)state;
	ml_dmarc_check(dns, "np.test", &spf, NULL, 0, &r);
	assert_string_equal(r.policy_tag, "p");
	assert_int_equal(r.policy, ML_P_NONE);
	ml_dmarc_check(dns, "real.np.test", &spf, NULL, 0, &r);
	assert_string_equal(r.policy_tag, "sp");
	assert_int_equal(r.policy, ML_P_QUARANTINE);
	ml_dmarc_check(dns, "ghost.np.test", &spf, NULL, 0, &r);
	assert_string_equal(r.policy_tag, "np");
	assert_int_equal(r.policy, ML_P_REJECT);
	assert_string_equal(r.policy_domain, "np.test");
	ml_dmarc_check(dns, "two.test", &spf, NULL, 0, &r); /* two records: as if none */
	assert_int_equal(r.result, ML_AUTH_NONE);
	ml_dmarc_check(dns, "nothing.test", &spf, NULL, 0, &r);
	assert_int_equal(r.result, ML_AUTH_NONE);
}

/* test_authres_ours - our id, with comments, quoted, any case; others not */
static void
test_authres_ours(void **state)
{
	(void)state;
	assert_true(ml_authres_ours("mx.example; spf=pass", "mx.example"));
	assert_true(ml_authres_ours(" (forged) MX.Example 1; dkim=pass", "mx.example"));
	assert_true(ml_authres_ours("\"mx.example\"; none", "mx.example"));
	assert_true(ml_authres_ours("mx.example;", "mx.example"));
	assert_false(ml_authres_ours("mx.example.evil; spf=pass", "mx.example"));
	assert_false(ml_authres_ours("other; spf=pass mx.example", "mx.example"));
	assert_false(ml_authres_ours("", "mx.example"));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_zone_answers),  cmocka_unit_test(test_zone_bad_lines),
	    cmocka_unit_test(test_spf_results),   cmocka_unit_test(test_dmarc_parse),
	    cmocka_unit_test(test_org_domain),    cmocka_unit_test(test_alignment),
	    cmocka_unit_test(test_policy_choice), cmocka_unit_test(test_authres_ours),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
