/*
 * NAME
 *	test_milter_dkim_diff - sluice-milter's DKIM signer against three verifiers
 * SYNOPSIS
 *	unit/test_milter_dkim_diff	(make check; DKIM_DIFF_COUNT, DKIM_DIFF_SEED)
 * DESCRIPTION
 *	Generates messages as Postfix hands them to a milter (header values
 *	without the leading space, folded with LF + WSP; body lines ending in
 *	CRLF), with the awkward cases: odd whitespace in names' values, long
 *	and folded header fields, repeated fields, many fields, names in odd
 *	case, 8-bit headers and bodies, empty bodies, bodies of blank lines,
 *	trailing blank lines and whitespace, bare CR inside lines, a last line
 *	without CRLF, bare LF line ends. Each is signed by milter_dkim.c with
 *	one to four signatures (RSA-2048 and Ed25519, d=example.com and
 *	d=mail.example.com), the body fed in chunks of random size, and every
 *	signature is checked by
 *	- libopendkim's verifier, in this process (DKIM_QUERY_FILE for DNS);
 *	- dkimpy, one /usr/bin/python3 process for the whole run;
 *	- Mail::DKIM (RSA only: it has no Ed25519), one perl process;
 *	the two scripts read the messages on a pipe as they are made, so the
 *	three run side by side. Every signature must pass with all of them.
 *	As a control, every 97th message gets a line added to its body after
 *	signing: then every signature of it must fail with every verifier,
 *	so a verifier that passes anything is caught.
 *
 *	A body Postfix would never hand over (last line without CRLF, bare LF
 *	line ends) is signed as given; the verifiers get it as a receiver
 *	would, with the CRLF line ends Postfix writes, which is the same
 *	canonical body. One known difference is not counted: libopendkim
 *	2.11 drops a CR inside a body line, which dkimpy, Mail::DKIM and this
 *	signer keep as text (RFC 6376 relaxed canonicalization does not
 *	touch it), so the messages with one (about 3 %) are checked by dkimpy
 *	and Mail::DKIM only; their count is printed. DKIM_DIFF_DEBUG=1 writes
 *	each message libopendkim disagrees on to /tmp/dkim-diff-N.eml.
 *
 *	10,000 messages by default (DKIM_DIFF_COUNT to change; 2,500 under
 *	AddressSanitizer, where the in-process part is slower). Prints the
 *	counts: messages, signatures per algorithm, passes per verifier,
 *	disagreements (must be 0).
 */
#include <ctype.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <cmocka.h>
#include <opendkim/dkim.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

#define TU_NO_CONF 1
#include "test_milter_util.h"

#if defined(__SANITIZE_ADDRESS__)
#define DEFAULT_COUNT 2500
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define DEFAULT_COUNT 2500
#endif
#endif
#ifndef DEFAULT_COUNT
#define DEFAULT_COUNT 10000
#endif

#define TAMPER_EVERY 97
#define MAX_SIGS 4

typedef struct buf {
	char *p;
	size_t len, cap;
} buf;

typedef struct expect {
	int nsigs;
	int alg[MAX_SIGS]; /* ML_ALG_* per signature, in header order */
	int tampered;
	int bare_cr; /* a CR inside a body line */
} expect;

static ml_key rsa, ed;
static int bare_cr; /* this message may get bare CRs */
static uint64_t rng = 0x9e3779b97f4a7c15ULL;

/* rnd - xorshift64*: reproducible from DKIM_DIFF_SEED */
static uint32_t
rnd(uint32_t n)
{
	rng ^= rng >> 12;
	rng ^= rng << 25;
	rng ^= rng >> 27;
	return n ? (uint32_t)((rng * 0x2545F4914F6CDD1DULL) >> 32) % n : 0;
}

/* b_add - append bytes */
static void
b_add(buf *b, const void *p, size_t n)
{
	if (b->len + n + 1 > b->cap) {
		b->cap = 2 * (b->len + n + 1) + 256;
		b->p = realloc(b->p, b->cap);
		assert_non_null(b->p);
	}
	memcpy(b->p + b->len, p, n);
	b->len += n;
	b->p[b->len] = '\0';
}

/* b_str - append a string */
static void
b_str(buf *b, const char *s)
{
	b_add(b, s, strlen(s));
}

/* word - a random word: ASCII, sometimes 8-bit UTF-8 or punctuation */
static void
word(buf *b)
{
	static const char *const odd[] = {"caf\xc3\xa9",
	                                  "\xe2\x82\xac",
	                                  "\xff\xfe",
	                                  "=?utf-8?q?x?=",
	                                  "<a@b.example>",
	                                  "\"quoted\"",
	                                  "(comment)",
	                                  ";",
	                                  ":",
	                                  "="};
	size_t n = 1 + rnd(12);

	if (rnd(8) == 0) {
		b_str(b, odd[rnd(sizeof(odd) / sizeof(odd[0]))]);
		return;
	}
	for (size_t i = 0; i < n; i++) {
		char c = (char)(rnd(3) == 0 ? 'A' + rnd(26) : 'a' + rnd(26));

		b_add(b, &c, 1);
	}
}

/* space - whitespace between words: one space mostly, else runs and tabs */
static void
space(buf *b)
{
	static const char *const ws[] = {" ", " ", " ", " ", "  ", "\t", " \t ", "     "};

	b_str(b, ws[rnd(sizeof(ws) / sizeof(ws[0]))]);
}

/* fold - a fold as libmilter hands it: LF, then WSP */
static void
fold(buf *b)
{
	static const char *const f[] = {"\n\t", "\n ", "\n    ", "\n\t \t"};

	b_str(b, f[rnd(sizeof(f) / sizeof(f[0]))]);
}

/* value - a header value: words, odd whitespace, folds; long sometimes */
static char *
value(void)
{
	buf b = {0};
	size_t words = rnd(10) == 0 ? 30 + rnd(170) : rnd(8), line = 0;

	if (rnd(6) == 0)
		space(&b); /* leading whitespace */
	for (size_t i = 0; i < words; i++) {
		size_t before = b.len;

		if (i > 0) {
			if (line > 60 && rnd(2) == 0) {
				fold(&b);
				line = 0;
			} else
				space(&b);
		}
		word(&b);
		line += b.len - before;
	}
	if (rnd(6) == 0)
		space(&b); /* trailing whitespace */
	b_add(&b, "", 0);
	return b.p ? b.p : strdup("");
}

/* from_value - a From value: one address, display name and odd whitespace */
static char *
from_value(void)
{
	buf b = {0};
	char *name = value();

	for (char *p = name; *p; p++) /* a display name, not a second address */
		if (strchr("<>\"(),:;@\\", *p))
			*p = 'x';
	if (rnd(3) == 0)
		space(&b);
	if (rnd(4))
		b_str(&b, name), space(&b), b_str(&b, "<");
	b_str(&b, rnd(2) ? "alice@example.com" : "Bob.Sender@Mail.Example.COM");
	if (strchr(b.p, '<'))
		b_str(&b, ">");
	if (rnd(5) == 0)
		space(&b);
	free(name);
	return b.p;
}

/* odd_case - the name in random case, sometimes */
static char *
odd_case(const char *name)
{
	char *s = strdup(name);
	int how = (int)rnd(6);

	for (char *p = s; *p; p++)
		if (how == 1)
			*p = (char)tolower((unsigned char)*p);
		else if (how == 2)
			*p = (char)toupper((unsigned char)*p);
		else if (how == 3 && rnd(2))
			*p = (char)toupper((unsigned char)*p);
	return s;
}

/* add_header - one field onto the list */
static void
add_header(ml_header **h, size_t *n, const char *name, char *val)
{
	*h = realloc(*h, (*n + 1) * sizeof(**h));
	assert_non_null(*h);
	(*h)[*n].name = odd_case(name);
	(*h)[(*n)++].value = val;
}

/* gen_headers - a header set: the signed names, repeats, many unsigned */
static void
gen_headers(ml_header **h, size_t *n)
{
	static const char *const names[] = {
	    "To",
	    "Cc",
	    "Subject",
	    "Date",
	    "Message-ID",
	    "Reply-To",
	    "MIME-Version",
	    "Content-Type",
	    "Content-Transfer-Encoding",
	    "In-Reply-To",
	    "References",
	    "List-Unsubscribe",
	    "List-Unsubscribe-Post",
	    "Feedback-ID",
	    "Received",
	    "X-Mailer",
	    "X-Custom",
	    "Comments",
	    "Keywords",
	};
	size_t extra = rnd(20) == 0 ? 100 + rnd(200) : rnd(12);

	*h = NULL;
	*n = 0;
	if (rnd(4) == 0)
		add_header(h, n, "Received", value());
	add_header(h, n, "From", from_value());
	for (size_t i = 0; i < extra; i++)
		add_header(h, n, names[rnd(sizeof(names) / sizeof(names[0]))], value());
	if (rnd(50) == 0)
		add_header(h, n, "From", from_value()); /* a second From: the milter refuses it, the
		                                           signer must not care */
}

/* body_line - one body line's content, without its line end */
static void
body_line(buf *b)
{
	size_t kind = rnd(20), words;

	if (kind < 3)
		return; /* empty line */
	if (kind == 3) {
		space(b); /* whitespace-only line */
		return;
	}
	if (kind == 4) {
		for (size_t i = 0; i < 900 + rnd(90); i++)
			b_add(b, "x", 1); /* long line, under 998 */
		return;
	}
	if (kind == 5 && rnd(2))
		space(b); /* leading whitespace */
	words = 1 + rnd(14);
	for (size_t i = 0; i < words; i++) {
		if (i)
			space(b);
		if (bare_cr && rnd(10) == 0)
			b_add(b, "a\rb", 3); /* bare CR inside a line */
		else if (rnd(30) == 0)
			b_add(b, "\x80\xfe\xc3\xa4\0z", 6); /* 8-bit, a NUL */
		else
			word(b);
	}
	if (rnd(8) == 0)
		space(b); /* trailing whitespace */
}

/*
 * gen_body - the body as signed (sig) and as written for the line-reading
 * verifiers (file): the same except that a last line without CRLF and bare
 * LF line ends are written with CRLF there
 */
static void
gen_body(buf *sig, buf *file)
{
	size_t lines = rnd(10) == 0 ? 0 : rnd(12) == 0 ? 100 + rnd(300) : rnd(30);
	int bare_lf = rnd(30) == 0, no_final = lines && rnd(15) == 0;

	bare_cr = rnd(25) == 0;

	for (size_t i = 0; i < lines; i++) {
		size_t start = sig->len;

		body_line(sig);
		if (sig->len > start)
			b_add(file, sig->p + start, sig->len - start);
		if (i + 1 == lines && no_final && sig->len > start)
			;
		else
			b_str(sig, bare_lf ? "\n" : "\r\n");
		b_str(file, "\r\n");
	}
	if (lines && rnd(5) == 0)
		for (size_t i = rnd(4) + 1; i > 0; i--) {
			const char *blank = rnd(4) ? "\r\n" : " \t\r\n"; /* trailing blank lines */

			b_str(sig, blank);
			b_str(file, blank);
		}
	b_add(sig, "", 0);
	b_add(file, "", 0);
}

/* sign - the signatures, headers on top; the body in random chunks */
static int
sign(const ml_header *h, size_t n, const buf *body, expect *e, buf *sigs, char *err, size_t errlen)
{
	static const char *const domains[] = {"example.com", "mail.example.com"};
	ml_dkim *m = ml_dkim_new();
	int set = 1 + (int)rnd(15); /* a non-empty subset of 4 */
	size_t o = 0;

	e->nsigs = 0;
	for (int i = 0; i < 4; i++)
		if (set & (1 << i)) {
			ml_key *k = i % 2 ? &ed : &rsa;

			assert_int_equal(ml_dkim_add(m, k, domains[i / 2], err, errlen), 0);
			e->alg[e->nsigs++] = k->alg;
		}
	ml_dkim_headers(m, h, n);
	while (o < body->len) {
		size_t c = rnd(4) == 0 ? 1 + rnd(3) : 1 + rnd(5000);

		c = c < body->len - o ? c : body->len - o;
		ml_dkim_body(m, (const unsigned char *)body->p + o, c);
		o += c;
	}
	if (ml_dkim_finish(m, err, errlen) < 0) {
		ml_dkim_free(m);
		return -1;
	}
	for (size_t i = 0; i < ml_dkim_count(m); i++) {
		b_str(sigs, "DKIM-Signature: ");
		for (const char *p = ml_dkim_value(m, i); *p; p++)
			b_add(sigs, *p == '\n' ? "\r\n" : p, *p == '\n' ? 2 : 1);
		b_str(sigs, "\r\n");
	}
	ml_dkim_free(m);
	return 0;
}

/* header_text - the header section as Postfix writes it, CRLF line ends */
static void
header_text(const ml_header *h, size_t n, buf *out)
{
	for (size_t i = 0; i < n; i++) {
		b_str(out, h[i].name);
		b_str(out, ":");
		if (h[i].value[0] != ' ' && h[i].value[0] != '\t')
			b_str(out, " ");
		for (const char *p = h[i].value; *p; p++)
			b_add(out, *p == '\n' ? "\r\n" : p, *p == '\n' ? 2 : 1);
		b_str(out, "\r\n");
	}
	b_str(out, "\r\n");
}

/* public_b64 - the base64 SubjectPublicKeyInfo (RSA) or raw key (Ed25519) */
static void
public_b64(const ml_key *k, char *out, size_t outlen)
{
	unsigned char *der = NULL, raw[64];
	size_t rawlen = sizeof(raw);
	int n;

	if (k->alg == ML_ALG_ED25519) {
		assert_int_equal(EVP_PKEY_get_raw_public_key(k->pkey, raw, &rawlen), 1);
		assert_true(4 * (rawlen / 3 + 1) < outlen);
		EVP_EncodeBlock((unsigned char *)out, raw, (int)rawlen);
		return;
	}
	n = i2d_PUBKEY(k->pkey, &der);
	assert_true(n > 0 && 4 * ((size_t)n / 3 + 1) < outlen);
	EVP_EncodeBlock((unsigned char *)out, der, n);
	OPENSSL_free(der);
}

/* write_records - the four key records, "name value" per line */
static const char *
write_records(void)
{
	static char path[600];
	char r[1024], e[128], text[4096];

	public_b64(&rsa, r, sizeof(r));
	public_b64(&ed, e, sizeof(e));
	snprintf(text, sizeof(text),
	         "r._domainkey.example.com v=DKIM1; k=rsa; p=%s\n"
	         "r._domainkey.mail.example.com v=DKIM1; k=rsa; p=%s\n"
	         "e._domainkey.example.com v=DKIM1; k=ed25519; p=%s\n"
	         "e._domainkey.mail.example.com v=DKIM1; k=ed25519; p=%s\n",
	         r, r, e, e);
	snprintf(path, sizeof(path), "%s", tu_write("records.txt", text, 0600));
	return path;
}

/* odkim_lib - libopendkim as a verifier, keys from the records file */
static DKIM_LIB *
odkim_lib(const char *records)
{
	DKIM_LIB *lib = dkim_init(NULL, NULL);
	dkim_query_t q = DKIM_QUERY_FILE;

	assert_non_null(lib);
	assert_int_equal(dkim_options(lib, DKIM_OP_SETOPT, DKIM_OPTS_QUERYMETHOD, &q, sizeof(q)),
	                 DKIM_STAT_OK);
	assert_int_equal(dkim_options(lib, DKIM_OP_SETOPT, DKIM_OPTS_QUERYINFO, (void *)records,
	                              strlen(records)),
	                 DKIM_STAT_OK);
	return lib;
}

/* odkim_verify - how many signatures libopendkim passes, -1 if it did not run */
static int
odkim_verify(DKIM_LIB *lib, const buf *msg, int nsigs)
{
	DKIM_STAT st;
	DKIM *d = dkim_verify(lib, (const unsigned char *)"diff", NULL, &st);
	DKIM_SIGINFO **sigs = NULL;
	int n = 0, pass = 0;

	if (d == NULL)
		return -1;
	st = dkim_chunk(d, (u_char *)msg->p, msg->len);
	if (st == DKIM_STAT_OK)
		st = dkim_chunk(d, NULL, 0);
	if (st == DKIM_STAT_OK)
		(void)dkim_eom(d, NULL);
	if (dkim_getsiglist(d, &sigs, &n) == DKIM_STAT_OK && n == nsigs)
		for (int i = 0; i < n; i++) {
			pass += DKIM_SIG_CHECK(sigs[i]) ? 1 : 0;
			if (getenv("DKIM_DIFF_DEBUG") && !DKIM_SIG_CHECK(sigs[i]))
				fprintf(
				    stderr, "libopendkim: %zu bytes: sig %d: %s, bh %d, flags %x\n",
				    msg->len, i, dkim_sig_geterrorstr(dkim_sig_geterror(sigs[i])),
				    dkim_sig_getbh(sigs[i]), dkim_sig_getflags(sigs[i]));
		}
	else
		pass = -1;
	if (getenv("DKIM_DIFF_DEBUG") && pass < 0)
		fprintf(stderr, "libopendkim: st %d %s, %d signatures of %d\n", st,
		        dkim_getresultstr(st), n, nsigs);
	dkim_free(d);
	return pass;
}

static const char PY[] = "import sys\n"
                         "sys.path.insert(0, '/usr/lib/python3/dist-packages')\n"
                         "import dkim\n"
                         "recs = {}\n"
                         "for line in open(sys.argv[1]):\n"
                         "    n, v = line.rstrip('\\n').split(' ', 1)\n"
                         "    recs[n.lower()] = v.encode()\n"
                         "def dns(name, timeout=5):\n"
                         "    return recs.get(name.decode().rstrip('.').lower(), b'')\n"
                         "f = sys.stdin.buffer\n"
                         "out = open(sys.argv[2], 'w')\n"
                         "while True:\n"
                         "    line = f.readline()\n"
                         "    if not line:\n"
                         "        break\n"
                         "    n, k = map(int, line.split())\n"
                         "    msg = f.read(n)\n"
                         "    d = dkim.DKIM(msg)\n"
                         "    p = 0\n"
                         "    for i in range(k):\n"
                         "        try:\n"
                         "            p += 1 if d.verify(idx=i, dnsfunc=dns) else 0\n"
                         "        except Exception:\n"
                         "            pass\n"
                         "    out.write('%d\\n' % p)\n";

static const char PL[] =
    "use strict; use warnings;\n"
    "use Mail::DKIM::Verifier; use Net::DNS;\n"
    "my %txt;\n"
    "open(my $rf, '<', $ARGV[0]) or die; while (<$rf>) { chomp; my ($n, $v) = split / /, $_, 2; "
    "$txt{lc $n} = $v; }\n"
    "{ no warnings 'redefine';\n"
    "  *Mail::DKIM::DNS::query = sub {\n"
    "    my ($name, $type) = @_; my $v = $txt{lc $name};\n"
    "    return () unless defined $v && $type eq 'TXT';\n"
    "    return (Net::DNS::RR->new(name => $name, type => 'TXT', txtdata => [unpack('(A255)*', "
    "$v)]));\n"
    "  };\n"
    "}\n"
    "open(my $out, '>', $ARGV[1]) or die; binmode STDIN;\n"
    "while (my $h = <STDIN>) {\n"
    "  my ($n, $k) = split ' ', $h; my $msg = ''; read(STDIN, $msg, $n) == $n or die 'short';\n"
    "  my $v = Mail::DKIM::Verifier->new(); $v->PRINT($msg); $v->CLOSE;\n"
    "  my $p = grep { $_->algorithm eq 'rsa-sha256' && $_->result eq 'pass' } $v->signatures;\n"
    "  print $out \"$p\\n\";\n"
    "}\n";

/* start_batch - a verifier reading messages on its stdin, results to out */
static FILE *
start_batch(const char *argv0, const char *script, const char *records, const char *out)
{
	char cmd[2048];
	FILE *p;

	snprintf(cmd, sizeof(cmd), "%s '%s' '%s' '%s'", argv0, script, records, out);
	p = popen(cmd, "w");
	assert_non_null(p);
	return p;
}

/* read_batch - wait for a verifier; its per-message pass counts */
static int *
read_batch(FILE *p, const char *argv0, const char *out, int count)
{
	char line[64];
	int *pass = calloc((size_t)count, sizeof(*pass)), i = 0, rc = pclose(p);
	FILE *f = fopen(out, "r");

	assert_non_null(pass);
	assert_non_null(f);
	while (i < count && fgets(line, sizeof(line), f))
		pass[i++] = atoi(line);
	fclose(f);
	if (rc != 0 || i != count)
		fail_msg("%s: %d of %d results, exit status %d", argv0, i, count, rc);
	return pass;
}

/* now - seconds, monotonic (printed, never asserted) */
static double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* cpu - this process's CPU seconds so far */
static double
cpu(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return (double)ru.ru_utime.tv_sec + ru.ru_stime.tv_sec +
	       (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

/* free_headers - the generated header list */
static void
free_headers(ml_header *h, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(h[i].name);
		free(h[i].value);
	}
	free(h);
}

/* strstr_cr - a CR not followed by LF in the buffer */
static int
strstr_cr(const char *p, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (p[i] == '\r' && (i + 1 == len || p[i + 1] != '\n'))
			return 1;
	return 0;
}

/* want - the pass count a verifier must report for one message */
static int
want(const expect *e, int rsa_only)
{
	int n = 0;

	if (e->tampered)
		return 0;
	for (int i = 0; i < e->nsigs; i++)
		n += !rsa_only || e->alg[i] == ML_ALG_RSA;
	return n;
}

/* test_diff - generate, sign, verify three ways, count */
static void
test_diff(void **state)
{
	const char *env = getenv("DKIM_DIFF_COUNT"), *seed = getenv("DKIM_DIFF_SEED");
	int count = env ? atoi(env) : DEFAULT_COUNT, bad[3] = {0, 0, 0}, nsig[2] = {0, 0};
	int tampered = 0, npass[3] = {0, 0, 0}, ncr = 0, crpass = 0;
	const char *records = write_records(), *names[3] = {"libopendkim", "dkimpy", "Mail::DKIM"};
	char pyout[600], plout[600], py[600], pl[600], err[512];
	expect *ex = calloc((size_t)count, sizeof(*ex));
	DKIM_LIB *lib = odkim_lib(records);
	FILE *pyp, *plp;
	int *res[3];
	double t0 = now(), t1, t2;

	(void)state;
	signal(SIGPIPE, SIG_IGN); /* a verifier that dies fails the test, not kills it */
	if (seed)
		rng = strtoull(seed, NULL, 0) | 1;
	snprintf(py, sizeof(py), "%s", tu_write("verify.py", PY, 0600));
	snprintf(pl, sizeof(pl), "%s", tu_write("verify.pl", PL, 0600));
	snprintf(pyout, sizeof(pyout), "%s/dkimpy.out", tu_dir);
	snprintf(plout, sizeof(plout), "%s/maildkim.out", tu_dir);
	assert_non_null(ex);
	/* the verifiers run alongside, reading each message as it is made */
	pyp = start_batch("/usr/bin/python3", py, records, pyout);
	plp = start_batch("perl", pl, records, plout);
	res[0] = calloc((size_t)count, sizeof(int));
	for (int i = 0; i < count; i++) {
		buf sig = {0}, file = {0}, sigs = {0}, hdr = {0}, fmsg = {0};
		ml_header *h;
		size_t n;

		gen_headers(&h, &n);
		gen_body(&sig, &file);
		if (sign(h, n, &sig, &ex[i], &sigs, err, sizeof(err)) < 0)
			fail_msg("message %d: %s", i, err);
		for (int k = 0; k < ex[i].nsigs; k++)
			nsig[ex[i].alg[k]]++;
		header_text(h, n, &hdr);
		ex[i].tampered = i % TAMPER_EVERY == TAMPER_EVERY - 1;
		if (ex[i].tampered) {
			tampered++;
			b_str(&sig, "tampered\r\n");
			b_str(&file, "tampered\r\n");
		}
		b_add(&fmsg, sigs.p, sigs.len);
		b_add(&fmsg, hdr.p, hdr.len);
		b_add(&fmsg, file.p, file.len);
		ex[i].bare_cr =
		    memchr(file.p, '\r', file.len) != NULL && strstr_cr(file.p, file.len);
		/* a receiver sees the body as Postfix writes it: fmsg */
		res[0][i] = odkim_verify(lib, &fmsg, ex[i].nsigs);
		if (getenv("DKIM_DIFF_DEBUG") && res[0][i] != want(&ex[i], 0)) {
			char dump[64];
			FILE *df;

			snprintf(dump, sizeof(dump), "/tmp/dkim-diff-%d.eml", i);
			if ((df = fopen(dump, "w")) != NULL) {
				fwrite(fmsg.p, 1, fmsg.len, df);
				fclose(df);
			}
			snprintf(dump, sizeof(dump), "/tmp/dkim-diff-%d.signed-body", i);
			if ((df = fopen(dump, "w")) != NULL) {
				fwrite(sig.p, 1, sig.len, df);
				fclose(df);
			}
		}
		for (FILE **f = (FILE *[]){pyp, plp, NULL}; *f; f++) {
			fprintf(*f, "%zu %d\n", fmsg.len, ex[i].nsigs);
			fwrite(fmsg.p, 1, fmsg.len, *f);
		}
		free_headers(h, n);
		free(sig.p), free(file.p), free(sigs.p), free(hdr.p), free(fmsg.p);
	}
	dkim_close(lib);
	print_message("dkim diff: signed and checked with libopendkim in %.1f s (%.1f s CPU)\n",
	              now() - t0, cpu());
	res[1] = read_batch(pyp, "/usr/bin/python3", pyout, count);
	t1 = now();
	res[2] = read_batch(plp, "perl", plout, count);
	t2 = now();
	for (int i = 0; i < count; i++)
		for (int v = 0; v < 3; v++) {
			int w = want(&ex[i], v == 2);

			if (v == 0 && ex[i].bare_cr) {
				/* libopendkim 2.11 drops a CR inside a line; dkimpy and Mail::DKIM
				 * keep it */
				ncr++;
				crpass += res[v][i] > 0 ? res[v][i] : 0;
				continue;
			}
			npass[v] += res[v][i] > 0 ? res[v][i] : 0;
			if (res[v][i] != w && bad[v]++ < 5)
				print_message(
				    "%s: message %d: %d of %d signatures pass, want %d%s\n",
				    names[v], i, res[v][i], ex[i].nsigs, w,
				    ex[i].tampered ? " (tampered)" : "");
		}
	print_message("dkim diff: %d messages (%d tampered), %d RSA + %d Ed25519 signatures; "
	              "passed: libopendkim %d, dkimpy %d, Mail::DKIM (RSA) %d; "
	              "disagreements: libopendkim %d, dkimpy %d, Mail::DKIM %d; "
	              "%d messages with a bare CR in a body line not compared with libopendkim "
	              "(it drops the CR: %d of their signatures pass there)\n",
	              count, tampered, nsig[0], nsig[1], npass[0], npass[1], npass[2], bad[0],
	              bad[1], bad[2], ncr, crpass);
	print_message("dkim diff: dkimpy done after %.1f s, Mail::DKIM after %.1f s (alongside)\n",
	              t1 - t0, t2 - t0);
	for (int v = 0; v < 3; v++)
		free(res[v]);
	free(ex);
	assert_int_equal(bad[0] + bad[1] + bad[2], 0);
}

/* setup - keys as the config would load them */
static int
setup(void **state)
{
	char err[512], p1[512], p2[512];

	tu_setup(state);
	snprintf(p1, sizeof(p1), "%s/rsa.pem", tu_dir);
	snprintf(p2, sizeof(p2), "%s/ed.pem", tu_dir);
	rsa = (ml_key){.selector = "r", .alg = ML_ALG_RSA, .path = strdup(p1)};
	ed = (ml_key){.selector = "e", .alg = ML_ALG_ED25519, .path = strdup(p2)};
	if (ml_key_load(&rsa, err, sizeof(err)) < 0 || ml_key_load(&ed, err, sizeof(err)) < 0) {
		fprintf(stderr, "%s\n", err);
		return -1;
	}
	return 0;
}

/* teardown - keys and files */
static int
teardown(void **state)
{
	ml_key_free(&rsa);
	ml_key_free(&ed);
	free((char *)rsa.path);
	free((char *)ed.path);
	return tu_teardown(state);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_diff),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
