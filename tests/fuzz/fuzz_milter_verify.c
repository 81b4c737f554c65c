/*
 * NAME
 *	fuzz_milter_verify - libFuzzer target: one message through inbound verification
 * DESCRIPTION
 *	Input: a first line used as the TXT record of example.com, of
 *	_dmarc.example.com and of s1._domainkey.example.com (SPF, DMARC and
 *	DKIM key at once), then a message (headers, blank line, body) from
 *	192.0.2.1 with MAIL FROM a@example.com. Everything runs over a zone
 *	file: no DNS. After each input the Authentication-Results value must
 *	be one header: it starts with our id, every line break is followed by
 *	a tab, and no control character is left; a violation aborts.
 *	Build with clang -fsanitize=fuzzer,address for fuzzing; the seeds run
 *	as a test through seeds_main.c and fuzz_milter_verify_check.c.
 */
#include "config.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "milter_verify.h"

int	LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int	fuzz_verify_run(const char *buf, size_t len, ml_vresult *r);

/* write_zone - the fixed zone plus the input's record; path in out */
static int
write_zone(const char *rec, size_t n, char *out, size_t outlen)
{
	FILE   *fp;
	int	fd;

	snprintf(out, outlen, "/tmp/fuzz_verify_zoneXXXXXX");
	if ((fd = mkstemp(out)) < 0 || (fp = fdopen(fd, "w")) == NULL)
		return -1;
	fprintf(fp, "example.com A 192.0.2.1\nexample.com TXT %.*s\n_dmarc.example.com TXT %.*s\n"
		"s1._domainkey.example.com TXT %.*s\n", (int) n, rec, (int) n, rec, (int) n, rec);
	fclose(fp);
	return 0;
}

/* feed - the message's header fields and body */
static void
feed(ml_verify *v, const char *p, const char *end)
{
	while (p < end && *p != '\n' && !(*p == '\r' && p + 1 < end && p[1] == '\n')) {
		const char *eol = p, *colon;
		char	name[256], *value;

		while ((eol = memchr(eol, '\n', (size_t) (end - eol))) && eol + 1 < end
		       && (eol[1] == ' ' || eol[1] == '\t'))
			eol++;
		if (eol == NULL)
			eol = end;
		colon = memchr(p, ':', (size_t) (eol - p));
		if (colon && (size_t) (colon - p) < sizeof(name)) {
			snprintf(name, sizeof(name), "%.*s", (int) (colon - p), p);
			value = strndup(colon + 1, (size_t) (eol - colon - 1));
			ml_verify_header(v, name, value);
			free(value);
		}
		p = eol < end ? eol + 1 : end;
	}
	ml_verify_eoh(v);
	p += p < end && *p == '\r';
	p += p < end && *p == '\n';
	if (p < end)
		ml_verify_body(v, (const unsigned char *) p, (size_t) (end - p));
}

/* fuzz_verify_run - one input; 0, or -1 when it could not run */
int
fuzz_verify_run(const char *buf, size_t len, ml_vresult *r)
{
	static ml_vopts o = {.authserv_id = "mx.fuzz.test", .tempfail_on_dns = 1};
	const char *nl = memchr(buf, '\n', len), *end = buf + len;
	char	path[64], err[256];
	sl_dns *d;
	ml_verify *v;

	if (nl == NULL || memchr(buf, '\0', (size_t) (nl - buf)) || ml_verify_init(err, sizeof(err)) < 0
	    || write_zone(buf, (size_t) (nl - buf), path, sizeof(path)) < 0)
		return -1;
	d = sl_dns_new(path, 5, err, sizeof(err));
	unlink(path);
	if (d == NULL)
		return -1;
	v = ml_verify_new(d, &o, "fuzz", "192.0.2.1", "example.com", "a@example.com");
	feed(v, nl + 1, end);
	ml_verify_finish(v, r);
	ml_verify_free(v);
	sl_dns_free(d);
	return 0;
}

/* one_header - the A-R value is one well-formed header field */
static int
one_header(const char *ar)
{
	if (strncmp(ar, "mx.fuzz.test;", 13) != 0)
		return 0;
	for (const char *p = ar; *p; p++)
		if ((*p == '\n' && p[1] != '\t') || *p == '\r'
		    || ((unsigned char) *p < 0x20 && *p != '\n' && *p != '\t'))
			return 0;
	return 1;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char   *buf = malloc(size + 1);
	ml_vresult *r = malloc(sizeof(*r));

	if (buf == NULL || r == NULL)
		abort();
	memcpy(buf, data, size);
	buf[size] = '\0';
	if (fuzz_verify_run(buf, size, r) == 0 && !one_header(r->authres))
		abort();
	free(r);
	free(buf);
	return 0;
}
