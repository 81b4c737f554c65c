/*
 * NAME
 *	test_milter_dkim - our Ed25519 signer agrees with libopendkim's canonicalization
 * DESCRIPTION
 *	For awkward bodies (empty, blank lines only, no final newline,
 *	trailing blanks and blank lines, whitespace runs, bare LF, bare CR),
 *	fed whole and one byte at a time, the Ed25519 signature's bh= must be
 *	dkimpy's, and libopendkim's (RSA) where that is right too; h= must
 *	match libopendkim's. The signatures themselves are verified by dkimpy
 *	in the integration tests.
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
	if (ml_dkim_init(err, sizeof(err)) < 0 || ml_key_load(&rsa, err, sizeof(err)) < 0
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
	ml_dkim_shutdown();
	return tu_teardown(state);
}

/* sign - one signature over fixed headers and body, chunked by step */
static void
sign(ml_key *k, const char *body, size_t step, char *out, size_t outlen)
{
	char	err[512];
	ml_signer *s = ml_signer_new(k, "example.com", "T1", err, sizeof(err));
	size_t	len = strlen(body);

	assert_non_null(s);
	assert_int_equal(ml_signer_header(s, "From", "A <a@example.com>"), 0);
	assert_int_equal(ml_signer_header(s, "To", "b@remote.test"), 0);
	assert_int_equal(ml_signer_header(s, "Subject", "  several   spaces\n\there "), 0);
	assert_int_equal(ml_signer_header(s, "X-Not-Signed", "x"), 0);
	assert_int_equal(ml_signer_eoh(s), 0);
	for (size_t o = 0; o < len; o += step)
		assert_int_equal(ml_signer_body(s, (const unsigned char *) body + o,
						o + step <= len ? step : len - o), 0);
	if (ml_signer_finish(s, out, outlen) < 0)
		fail_msg("%s signature over a body of %zu bytes: %s", k->selector, len, ml_signer_error(s));
	ml_signer_free(s);
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
 * delivers it: bare LF becomes CRLF), whole and one byte at a time; and,
 * for bodies that end with CRLF (all that Postfix hands a milter), the
 * same bh= as libopendkim's RSA signature. libopendkim (with FIXCRLF,
 * which it needs for a body without final CRLF) differs for a
 * whitespace-only line before a last line without CRLF, and takes a bare
 * CR for a line end, which Postfix does not.
 */
static void
test_body_hash_agrees(void **state)
{
	static const struct {
		const char *body;
		const char *bh;
		int	odkim;			/* libopendkim agrees */
	} cases[] = {
		{"", "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=", 1},
		{"\r\n", "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=", 1},
		{"\r\n\r\n\r\n", "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=", 1},
		{"hello", "zS7KNTV0HyeorkDDGwxB1AV6enuRKzO5rthkhdHIRnY=", 0},
		{"hello\r\n", "zS7KNTV0HyeorkDDGwxB1AV6enuRKzO5rthkhdHIRnY=", 1},
		{"hello\r\n\r\n\r\n", "zS7KNTV0HyeorkDDGwxB1AV6enuRKzO5rthkhdHIRnY=", 1},
		{"a  b\t\tc   \r\n  leading\r\n\r\n middle blank above\r\n", "rXX0f9GyQi65tbYtMat082CboG/DZE5dUOV81cXp91s=", 1},
		{"trailing blanks   \t\r\n\t \r\nend", "cBe0p2dzMnhIwOqvEOhd5ONPpR8D/WBOiFq1uxe4Wo8=", 0},
		{"blank-only line\r\n\t \r\nend\r\n", "v07wAWwJlYEHq/Obftg2DkD01HVkXgOYPHmmttlmuCA=", 1},
		{"bare\nLF\nlines\n", "fDvV+tfjgw0jKZc/eR/CN9IWewptDAWswewkxdcDr5k=", 0},
		{"bare\rCR\r\n", "RwZpAUNFA4vEFh/YHfUCantkRRELmr7LUUxBM8ygCBw=", 0},
		{"\t\r\n \r\nx", "hHl0gskkj3KarB8IzxZHkNJubfPe+wREH5JIHngjIuU=", 0},
		{"8-bit \xc3" "\xa4" "\xff" "\r\n", "kiZYrkaW3PU4ub+fXlQnA2ZlQhyhIqJMq6mukKXPcm0=", 1},
		{"CR at end\r", "3+OwPlg2TDCdVNqw58yoGMiNOiDzon6Ba4j2lfbPVI8=", 0},
	};
	char	rs[4096], es[4096], rbh[128], ebh[128];

	(void) state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		for (size_t step = 1; step <= 7; step += 6) {
			sign(&ed, cases[i].body, step == 7 ? 1 << 20 : step, es, sizeof(es));
			tag(es, "bh", ebh, sizeof(ebh));
			if (strcmp(ebh, cases[i].bh) != 0)
				fail_msg("body %zu (step %zu): expected bh=%s, ours bh=%s", i, step, cases[i].bh, ebh);
		}
		if (!cases[i].odkim)
			continue;
		sign(&rsa, cases[i].body, 1 << 20, rs, sizeof(rs));
		tag(rs, "bh", rbh, sizeof(rbh));
		if (strcmp(rbh, ebh) != 0)
			fail_msg("body %zu: libopendkim bh=%s, ours bh=%s", i, rbh, ebh);
	}
}

/* test_signed_headers - the same h= list as libopendkim, From oversigned */
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
	assert_int_equal(strcasecmp(rh, eh), 0);
	assert_non_null(strstr(es, "a=ed25519-sha256; c=relaxed/relaxed; d=example.com;"));
	assert_null(strchr(es, '\r'));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_body_hash_agrees),
		cmocka_unit_test(test_signed_headers),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
