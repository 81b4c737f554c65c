/*
 * NAME
 *	test_milter_dkim - the signer's canonicalization and signature fields
 * DESCRIPTION
 *	For awkward bodies (empty, blank lines only, no final newline,
 *	trailing blanks and blank lines, whitespace runs, bare LF, bare CR),
 *	fed whole and one byte at a time, bh= must be dkimpy's, for RSA and
 *	Ed25519 alike; h= lists the signed fields bottom up with From
 *	oversigned; the tags come in the order v a c d s t bh h b. The
 *	signatures themselves are checked by libopendkim, dkimpy and
 *	Mail::DKIM in test_milter_dkim_diff over generated messages.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#define TU_NO_CONF 1
#include "test_milter_util.h"

static ml_key rsa, ed;

/* setup - keys loaded as the config would */
static int
setup(void **state)
{
	char	err[512], p1[512], p2[512];

	tu_setup(state);
	snprintf(p1, sizeof(p1), "%s/rsa.pem", tu_dir);
	snprintf(p2, sizeof(p2), "%s/ed.pem", tu_dir);
	rsa = (ml_key) {.selector = "r", .alg = ML_ALG_RSA, .path = strdup(p1)};
	ed = (ml_key) {.selector = "e", .alg = ML_ALG_ED25519, .path = strdup(p2)};
	if (ml_key_load(&rsa, err, sizeof(err)) < 0
	    || ml_key_load(&ed, err, sizeof(err)) < 0)
		return -1;
	return 0;
}

/* teardown - keys and files */
static int
teardown(void **state)
{
	ml_key_free(&rsa);
	ml_key_free(&ed);
	return tu_teardown(state);
}

/* sign - one signature over fixed headers and body, chunked by step */
static void
sign(ml_key *k, const char *body, size_t step, char *out, size_t outlen)
{
	static const ml_header hdrs[] = {
		{"From", "A <a@example.com>"}, {"To", "b@remote.test"},
		{"Subject", "  several   spaces\n\there "}, {"X-Not-Signed", "x"},
	};
	char	err[512];
	ml_dkim *m = ml_dkim_new();
	size_t	len = strlen(body);

	assert_int_equal(ml_dkim_add(m, k, "example.com", err, sizeof(err)), 0);
	ml_dkim_headers(m, hdrs, sizeof(hdrs) / sizeof(hdrs[0]));
	for (size_t o = 0; o < len; o += step)
		ml_dkim_body(m, (const unsigned char *) body + o, o + step <= len ? step : len - o);
	if (ml_dkim_finish(m, err, sizeof(err)) < 0)
		fail_msg("%s signature over a body of %zu bytes: %s", k->selector, len, err);
	snprintf(out, outlen, "%s", ml_dkim_value(m, 0));
	ml_dkim_free(m);
}

/* tag - the value of one tag, whitespace removed */
static void
tag(const char *sig, const char *name, char *out, size_t outlen)
{
	char	key[16];
	const char *p;
	size_t	o = 0;

	snprintf(key, sizeof(key), " %s=", name);
	p = strstr(sig, key);
	if (p == NULL) {
		snprintf(key, sizeof(key), "\t%s=", name);
		p = strstr(sig, key);
	}
	assert_non_null(p);
	for (p += strlen(key); *p && *p != ';' && o + 1 < outlen; p++)
		if (*p != ' ' && *p != '\t' && *p != '\n' && *p != '\r')
			out[o++] = *p;
	out[o] = '\0';
}

/*
 * test_body_hash_agrees - bh= as dkimpy computes it (the expected values
 * below come from dkimpy's relaxed canonicalization of the body as Postfix
 * delivers it: bare LF becomes CRLF, a bare CR is text), whole and one
 * byte at a time, for both algorithms
 */
static void
test_body_hash_agrees(void **state)
{
	static const struct {
		const char *body;
		const char *bh;
	} cases[] = {
		{"", "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU="},
		{"\r\n", "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU="},
		{"\r\n\r\n\r\n", "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU="},
		{"hello", "zS7KNTV0HyeorkDDGwxB1AV6enuRKzO5rthkhdHIRnY="},
		{"hello\r\n", "zS7KNTV0HyeorkDDGwxB1AV6enuRKzO5rthkhdHIRnY="},
		{"hello\r\n\r\n\r\n", "zS7KNTV0HyeorkDDGwxB1AV6enuRKzO5rthkhdHIRnY="},
		{"a  b\t\tc   \r\n  leading\r\n\r\n middle blank above\r\n", "rXX0f9GyQi65tbYtMat082CboG/DZE5dUOV81cXp91s="},
		{"trailing blanks   \t\r\n\t \r\nend", "cBe0p2dzMnhIwOqvEOhd5ONPpR8D/WBOiFq1uxe4Wo8="},
		{"blank-only line\r\n\t \r\nend\r\n", "v07wAWwJlYEHq/Obftg2DkD01HVkXgOYPHmmttlmuCA="},
		{"bare\nLF\nlines\n", "fDvV+tfjgw0jKZc/eR/CN9IWewptDAWswewkxdcDr5k="},
		{"bare\rCR\r\n", "RwZpAUNFA4vEFh/YHfUCantkRRELmr7LUUxBM8ygCBw="},
		{"\t\r\n \r\nx", "hHl0gskkj3KarB8IzxZHkNJubfPe+wREH5JIHngjIuU="},
		{"8-bit \xc3" "\xa4" "\xff" "\r\n", "kiZYrkaW3PU4ub+fXlQnA2ZlQhyhIqJMq6mukKXPcm0="},
		{"CR at end\r", "3+OwPlg2TDCdVNqw58yoGMiNOiDzon6Ba4j2lfbPVI8="},
	};
	char	sig[4096], bh[128];
	ml_key *keys[] = {&ed, &rsa};

	(void) state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		for (size_t k = 0; k < 2; k++)
			for (size_t step = 1; step <= 7; step += 3) {
				sign(keys[k], cases[i].body, step == 7 ? 1 << 20 : step, sig, sizeof(sig));
				tag(sig, "bh", bh, sizeof(bh));
				if (strcmp(bh, cases[i].bh) != 0)
					fail_msg("body %zu (%s, step %zu): expected bh=%s, ours bh=%s", i,
						 keys[k]->selector, step, cases[i].bh, bh);
			}
}

/* test_signed_headers - h= bottom up, From oversigned, tags in order, no CR */
static void
test_signed_headers(void **state)
{
	char	rs[4096], es[4096], rh[512], eh[512];

	(void) state;
	sign(&rsa, "x\r\n", 100, rs, sizeof(rs));
	sign(&ed, "x\r\n", 100, es, sizeof(es));
	tag(rs, "h", rh, sizeof(rh));
	tag(es, "h", eh, sizeof(eh));
	assert_string_equal(eh, "From:To:Subject:From");
	assert_string_equal(rh, eh);
	assert_non_null(strstr(es, "v=1; a=ed25519-sha256; c=relaxed/relaxed; d=example.com;\n\ts=e; t="));
	assert_non_null(strstr(rs, "v=1; a=rsa-sha256; c=relaxed/relaxed; d=example.com;\n\ts=r; t="));
	assert_true(strstr(rs, " bh=") < strstr(rs, "\th=") && strstr(rs, "\th=") < strstr(rs, "\tb="));
	assert_null(strchr(es, '\r'));
	assert_null(strchr(rs, '\r'));
}

/* test_shared_hashes - one message, two keys, two domains: one bh, four b= */
static void
test_shared_hashes(void **state)
{
	static const ml_header hdrs[] = {{"From", "a@example.com"}, {"Subject", "s"}};
	char	err[256], bh[4][128];
	ml_dkim *m = ml_dkim_new();

	(void) state;
	assert_int_equal(ml_dkim_add(m, &rsa, "mail.example.com", err, sizeof(err)), 0);
	assert_int_equal(ml_dkim_add(m, &ed, "mail.example.com", err, sizeof(err)), 0);
	assert_int_equal(ml_dkim_add(m, &rsa, "example.com", err, sizeof(err)), 0);
	assert_int_equal(ml_dkim_add(m, &ed, "example.com", err, sizeof(err)), 0);
	ml_dkim_headers(m, hdrs, 2);
	ml_dkim_body(m, (const unsigned char *) "body\r\n", 6);
	assert_int_equal(ml_dkim_finish(m, err, sizeof(err)), 0);
	assert_int_equal(ml_dkim_count(m), 4);
	for (size_t i = 0; i < 4; i++)
		tag(ml_dkim_value(m, i), "bh", bh[i], sizeof(bh[i]));
	assert_string_equal(bh[0], bh[3]);
	assert_string_equal(ml_dkim_alg(m, 1), "ed25519-sha256");
	assert_string_equal(ml_dkim_domain(m, 2), "example.com");
	for (size_t i = 4; i < ML_SIG_MAX; i++)
		assert_int_equal(ml_dkim_add(m, &ed, "example.com", err, sizeof(err)), 0);
	assert_int_equal(ml_dkim_add(m, &ed, "example.com", err, sizeof(err)), -1);
	ml_dkim_free(m);
}

/* test_key_checks - wrong algorithm, missing file: clear errors */
static void
test_key_checks(void **state)
{
	char	err[512], p[512];
	ml_key k;

	(void) state;
	snprintf(p, sizeof(p), "%s/ed.pem", tu_dir);
	k = (ml_key) {.selector = "x", .alg = ML_ALG_RSA, .path = p};
	assert_int_equal(ml_key_load(&k, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "needs an RSA key"));
	assert_null(k.pkey);
	snprintf(p, sizeof(p), "%s/missing.pem", tu_dir);
	assert_int_equal(ml_key_load(&k, err, sizeof(err)), -1);
	ml_key_free(&k);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_body_hash_agrees),
		cmocka_unit_test(test_signed_headers),
		cmocka_unit_test(test_shared_hashes),
		cmocka_unit_test(test_key_checks),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
