/*
 * NAME
 *	sluice-feedback 8 - bounces, complaints, unsubscribes and DMARC reports into Redis
 * SYNOPSIS
 *	sluice-feedback [-c config] [-v] recipient < message	(Postfix pipe(8))
 *	sluice-feedback -n [-c config]				(check the config)
 *	sluice-feedback --classify file...			(no Redis, no config)
 * DESCRIPTION
 *	Normal mode reads one message on standard input (the first
 *	FB_MAX_INPUT bytes of a larger one, which is then judged from them:
 *	see feedback_classify.c), classifies it (feedback_classify.c), verifies
 *	the signed token of the bounce or unsubscribe address given as the
 *	recipient argument (or, for a complaint, found in the returned
 *	original), and records the outcome in Redis (feedback_effects.c).
 *	--classify prints one JSON object per line per file
 *	(feedback_json.c) for tests and operators.
 * EXIT STATUS
 *	0 when the message was handled, including a message nobody can
 *	classify (recorded as such) and a forged token (recorded as
 *	unverified). 75 (EX_TEMPFAIL) when Redis is unreachable, answers
 *	with any error (OOM at maxmemory, READONLY replica, NOPERM, ...),
 *	the configuration cannot be used, standard input cannot be read, or
 *	records may be missing (a message cut at a cap: fb_result.defer,
 *	checked before the token and any Redis call), so Postfix keeps the
 *	message and retries; the retry of a message applied before changes
 *	nothing. Never anything that would make Postfix bounce a bounce.
 *	-n checks the whole file for every program (conf_check.c) and exits 0
 *	for a good configuration, 78 (EX_CONFIG) otherwise; --classify exits 0
 *	unless a file cannot be read (then 1, after printing kind unknown).
 *	--help exits 0, --version prints the version; a wrong argument exits
 *	64 (EX_USAGE) with -n or --classify, 75 in pipe mode.
 */
#define _GNU_SOURCE 1
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "conf.h"
#include "conf_check.h"
#include "keyspace.h"
#include "log.h"
#include "redis.h"
#include "site.h"
#include "token.h"
#include "feedback.h"

/*
 * read_all - read a stream: at most max bytes are kept, the rest is read
 * and counted (the writer, pipe(8), must not see a broken pipe); *total
 * is the whole size, *over set when it was more than max.
 */
static char *
read_all(FILE *fp, size_t max, size_t *len, size_t *total, int *over)
{
	size_t	cap = 65536, n = 0, got;
	char   *buf = sl_malloc(cap + 1);
	char sink[65536];

	while (n <= max && (got = fread(buf + n, 1, cap - n, fp)) > 0) {
		n += got;
		if (n == cap && cap <= max) {
			cap = cap * 2 > max + 1 ? max + 1 : cap * 2;
			buf = sl_realloc(buf, cap + 1);
		}
	}
	*total = n;
	while ((got = fread(sink, 1, sizeof(sink), fp)) > 0)
		*total += got;
	*over = n > max;
	if (*over)
		n = max;
	buf[n] = 0;
	*len = n;
	return buf;
}

/* classify_files - the --classify mode */
static int
classify_files(int argc, char **argv)
{
	int	i, rc = 0;

	for (i = 0; i < argc; i++) {
		FILE   *fp = fopen(argv[i], "rb");
		size_t len = 0, total = 0;
		int	over = 0;
		char *buf = fp ? read_all(fp, FB_MAX_INPUT, &len, &total, &over) : NULL;
		fb_result *res;
		char   *json;

		if (fp)
			fclose(fp);
		if (buf == NULL) {
			res = fb_result_new();
			fb_strlcpy(res->why, "cannot read the file", sizeof(res->why));
			rc = 1;
		} else
			res = fb_classify_cut(buf, len, argv[i], over);
		json = fb_json_result(res, argv[i]);
		fputs(json, stdout);
		free(json);
		fb_result_free(res);
		free(buf);
	}
	return rc;
}

/* conf_enum - map a string option to a value; -1 when unknown */
static int
conf_enum(const char *v, const char *const *names)
{
	int	i;

	for (i = 0; names[i]; i++)
		if (strcmp(v, names[i]) == 0)
			return i;
	return -1;
}

/* conf_nonneg - a non-negative integer option, reported when bad */
static long
conf_nonneg(sl_conf *c, cfg_t *sec, const char *name)
{
	long	v = cfg_getint(sec, name);

	if (v < 0)
		sl_conf_error(c, sec, "feedback: %s must not be negative", name);
	return v;
}

/* conf_categories - the configured category names, for a tenant's rates */
static void
conf_categories(sl_conf *c, fb_conf *fc)
{
	size_t i, n = c->site->ncategories;

	if (n > FB_MAX_CATEGORIES)
		sl_warn("%s: more than %d categories: a tenant's pause rates count only the first %d",
			c->path, FB_MAX_CATEGORIES, FB_MAX_CATEGORIES);
	for (i = 0; i < n && fc->ncategories < FB_MAX_CATEGORIES; i++)
		fc->categories[fc->ncategories++] = c->site->categories[i].name;
}

/* conf_hard_reasons - reasons the operator wants suppressed at the first bounce */
static void
conf_hard_reasons(sl_conf *c, cfg_t *sec, fb_conf *fc)
{
	unsigned i, n = cfg_size(sec, "hard_reasons");

	if (n > FB_MAX_HARD_REASONS)
		sl_conf_error(c, sec, "feedback: hard_reasons: more than %d reasons", FB_MAX_HARD_REASONS);
	for (i = 0; i < n && fc->nhard_reasons < FB_MAX_HARD_REASONS; i++) {
		const char *v = cfg_getnstr(sec, "hard_reasons", i);

		if (!fb_reason_known(v))
			sl_conf_error(c, sec, "feedback: hard_reasons: unknown reason \"%s\"", v);
		else if (fb_effects_fault(v) == FB_FAULT_SENDER)
			sl_conf_error(c, sec, "feedback: hard_reasons: \"%s\" is the sender's fault "
				      "and never suppresses the recipient", v);
		else
			fc->hard_reasons[fc->nhard_reasons++] = v;
	}
}

/* conf_read - the feedback section into fb_conf; every error reported */
static void
conf_read(sl_conf *c, fb_conf *fc)
{
	static const char *const scopes[] = { "global", "category", "tenant", NULL };
	static const char *const modes[] = { "enforce", "monitor", "off", NULL };
	cfg_t  *sec = cfg_getsec(c->cfg, "feedback");

	if ((fc->hard_scope = conf_enum(cfg_getstr(sec, "hard_bounce_scope"), scopes)) < 0)
		sl_conf_error(c, sec, "feedback: hard_bounce_scope must be global, category or tenant");
	if ((fc->pause_mode = conf_enum(cfg_getstr(sec, "pause_mode"), modes)) < 0)
		sl_conf_error(c, sec, "feedback: pause_mode must be enforce, monitor or off");
	fc->hard_ttl = conf_nonneg(c, sec, "hard_bounce_ttl");
	fc->soft_threshold = conf_nonneg(c, sec, "soft_bounce_threshold");
	fc->soft_window = conf_nonneg(c, sec, "soft_bounce_window");
	fc->soft_ttl = conf_nonneg(c, sec, "soft_bounce_ttl");
	fc->complaint_ttl = conf_nonneg(c, sec, "complaint_ttl");
	fc->unsub_ttl = conf_nonneg(c, sec, "unsubscribe_ttl");
	fc->pause_window = conf_nonneg(c, sec, "pause_window");
	fc->pause_min_sent = conf_nonneg(c, sec, "pause_min_sent");
	fc->events_maxlen = conf_nonneg(c, sec, "events_maxlen");
	fc->dedup_ttl = conf_nonneg(c, sec, "dedup_ttl");
	fc->max_unverified = conf_nonneg(c, sec, "max_unverified_records");
	fc->pause_bounce_rate = cfg_getfloat(sec, "pause_bounce_rate");
	fc->pause_complaint_rate = cfg_getfloat(sec, "pause_complaint_rate");
	fc->supp_flags = sl_supp_flags(cfg_getsec(c->cfg, "policyd"));
	(void) sl_supp_layout_conf(c, &fc->supp_layout);
	if (fc->soft_threshold < 1 || fc->soft_window < 1)
		sl_conf_error(c, sec, "feedback: soft_bounce_threshold and soft_bounce_window must be at least 1");
	if (fc->dedup_ttl < 86400)
		sl_conf_error(c, sec, "feedback: dedup_ttl must be at least 86400 (longer than Postfix retries)");
	if (fc->pause_window < 1 || fc->pause_window > 31)
		sl_conf_error(c, sec, "feedback: pause_window must be 1 to 31 days");
	if (fc->pause_bounce_rate <= 0 || fc->pause_complaint_rate <= 0)
		sl_conf_error(c, sec, "feedback: pause rates must be positive percentages");
	conf_categories(c, fc);
	conf_hard_reasons(c, sec, fc);
	fc->authserv_id = cfg_getstr(sec, "authserv_id");
	sl_conf_refuse_cluster(c, "sluice-feedback", "its effect script writes the "
			       "exactly-once marker and every effect (suppression, stats, events, "
			       "tenant) atomically, keys of several slots");
}

/* conf_ring - the token keyring */
static void
conf_ring(sl_conf *c, sl_token_ring *ring)
{
	char	err[256];
	int	rc = sl_conf_token_ring(c, ring, err, sizeof(err));

	if (rc == 1)
		sl_conf_error(c, c->cfg, "secret_file: required to verify bounce tokens");
	else if (rc < 0)
		sl_conf_error(c, c->cfg, "secret_file: %s", err);
}

/* as_unsubscribe - mail to a verified u2- (or u1-) address is an unsubscribe */
static void
as_unsubscribe(fb_result *res, const fb_origin *o, const char *from)
{
	fb_rcpt *r;

	if (!o->verified || o->kind != 'u' || res->kind == FB_KIND_UNSUBSCRIBE)
		return;
	res->kind = FB_KIND_UNSUBSCRIBE;
	res->nrcpt = 0;
	r = fb_result_add(res);
	fb_text_find_addr(from, r->addr, sizeof(r->addr));
	fb_strlcpy(r->reason, "unsubscribe", sizeof(r->reason));
}

/* header_from - the From: of a raw message, for unsubscribe requests */
static void
header_from(const char *buf, size_t len, char *out, size_t outlen)
{
	char	err[64];
	fb_mail *m = fb_mail_parse(buf, len, err, sizeof(err));
	const char *f = m ? fb_mail_header(m, "From") : NULL;

	fb_strlcpy(out, f ? f : "", outlen);
	fb_mail_free(m);
}

/*
 * message_id - the identity of one feedback delivery: SHA-256 (hex) of the
 * recipient argument, a NUL and the message as read. Postfix hands a retry
 * the same bytes (its own Received: line, with the queue id, included), so
 * a retry has the same identity and a new message never does.
 */
static void
message_id(const char *rcpt, const char *buf, size_t len, char out[65])
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned mdlen = 0;
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();

	if (ctx == NULL || EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) != 1
	    || EVP_DigestUpdate(ctx, rcpt, strlen(rcpt) + 1) != 1
	    || EVP_DigestUpdate(ctx, buf, len) != 1 || EVP_DigestFinal_ex(ctx, md, &mdlen) != 1)
	{
		sl_error("SHA-256 failed; deferring the message");
		exit(EX_TEMPFAIL);	/* never 1: Postfix would bounce a bounce */
	}
	EVP_MD_CTX_free(ctx);
	for (unsigned i = 0; i < 32; i++)
		snprintf(out + 2 * i, 3, "%02x", md[i]);
}

/* effects - bind the records, then apply them; -1 when Redis failed or refused */
static int
effects(sl_conf *c, const fb_conf *fc, const sl_token_ring *ring, fb_result *res,
	const fb_origin *o, const char *id, const char *buf, size_t len)
{
	sl_redis_opts ro;
	sl_redis *r;
	int	rc;

	sl_conf_redis_opts(c, &ro);
	r = sl_redis_new(&ro);
	/* a keyspace of an older format: exit 75, Postfix retries after sluicectl migrate */
	rc = sl_keyspace_require(r) ? -1 : fb_verify_bind(r, ring, fc, res, o, buf, len);
	if (rc == 0)
		rc = fb_effects_apply(r, fc, res, o, id, (long long) time(NULL));
	sl_redis_free(r);
	return rc;
}

/* run - normal mode: one message from stdin */
static int
run(sl_conf *c, const fb_conf *fc, const sl_token_ring *ring, const char *rcpt)
{
	size_t	len, total;
	int	over, rc;
	char   *buf = read_all(stdin, FB_MAX_INPUT, &len, &total, &over);
	fb_result *res;
	fb_origin o;
	char	from[FB_ADDR_MAX], id[65];

	if (ferror(stdin)) {
		sl_warn("to=<%s>: cannot read the message (%s), deferring", rcpt, strerror(errno));
		free(buf);
		return EX_TEMPFAIL;
	}
	res = fb_classify_cut(buf, len, "stdin", over);
	if (res->defer[0]) {
		/* records may be missing: act on none, Postfix retries (doc/feedback.md) */
		sl_warn("to=<%s> size=%zu kind=%s: %s, deferring", rcpt, total,
		        fb_kind_name(res->kind), res->defer);
		fb_result_free(res);
		free(buf);
		return EX_TEMPFAIL;
	}
	if (over)
		sl_info("to=<%s> size=%zu: larger than %u bytes, judged from its first %u bytes",
			rcpt, total, FB_MAX_INPUT, FB_MAX_INPUT);
	message_id(rcpt, buf, len, id);
	fb_verify_origin(rcpt, res, ring, &o);
	if (o.verified && o.kind == 'u') {
		header_from(buf, len, from, sizeof(from));
		as_unsubscribe(res, &o, from);
		fb_result_sanitize(res);
	}
	rc = effects(c, fc, ring, res, &o, id, buf, len);
	if (rc < 0)
		sl_warn("to=<%s> kind=%s id=%.16s: Redis failed or refused the writes (see above), "
			"deferring", rcpt, fb_kind_name(res->kind), id);
	else
		sl_info("to=<%s> kind=%s id=%.16s records=%zu token=%s%s%s", rcpt,
			fb_kind_name(res->kind), id, res->nrcpt, o.verified ? "verified" : o.why,
			res->kind == FB_KIND_UNKNOWN ? " why=" : "",
			res->kind == FB_KIND_UNKNOWN ? res->why : "");
	fb_result_free(res);
	free(buf);
	return rc < 0 ? EX_TEMPFAIL : 0;
}

/* usage - say how to call it; in pipe mode EX_TEMPFAIL so Postfix never bounces */
static void __attribute__((noreturn))
usage(int status)
{
	fprintf(status ? stderr : stdout, "usage: sluice-feedback [-c config] [-v] recipient < message\n"
		"       sluice-feedback -n [-c config]\n"
		"       sluice-feedback --classify file...\n"
		"       sluice-feedback --version | --help\n");
	exit(status);
}

/* check_own - feedback's own checks, for sl_conf_check_main() */
static int
check_own(const char *path)
{
	fb_conf	fc = { 0 };
	static sl_token_ring ring;
	sl_conf *c = sl_conf_load(path);
	int	bad;

	if (c == NULL)
		return -1;
	conf_read(c, &fc);
	conf_ring(c, &ring);
	if ((bad = c->errors) > 0)
		sl_error("%s: %d configuration error(s)", path, bad);
	sl_conf_free(c);
	return bad ? -1 : 0;
}

/* main - options, then --classify, -n or one message from Postfix */
int
main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "classify", no_argument, NULL, 'C' },
		{ "config", required_argument, NULL, 'c' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	const char *path = SL_CONF_DEFAULT_PATH;
	int	ch, check = 0, classify = 0, verbose = 0;
	fb_conf	fc = { 0 };
	static sl_token_ring ring;
	sl_conf *c;

	while ((ch = getopt_long(argc, argv, "c:nv", longopts, NULL)) != -1) {
		switch (ch) {
		case 'C':
			classify = 1;
			break;
		case 'c':
			path = optarg;
			break;
		case 'n':
			check = 1;
			break;
		case 'v':
			verbose = 1;
			break;
		case 'h':
			usage(0);
		case 'V':
			printf("sluice-feedback %s\n", PACKAGE_VERSION);
			return 0;
		default:
			usage(check || classify || isatty(0) ? EX_USAGE : EX_TEMPFAIL);
		}
	}
	if (classify)
		return classify_files(argc - optind, argv + optind);
	sl_log_init("sluice-feedback", SL_LOG_SYSLOG | (check || verbose || isatty(2) ? SL_LOG_STDERR : 0),
		    verbose ? SL_LOG_DEBUG : SL_LOG_INFO);
	if (check)
		return sl_conf_check_main(path, "feedback", check_own, 0);
	if (argc - optind != 1)
		usage(isatty(0) ? EX_USAGE : EX_TEMPFAIL);
	if ((c = sl_conf_load(path)) == NULL)
		return EX_TEMPFAIL;
	conf_read(c, &fc);
	conf_ring(c, &ring);
	fc.seen_ttl = ((long) sl_token_ring_lifetime(&ring) + 5) * 86400L;
	if (c->errors) {
		sl_error("%s: %d configuration error(s); deferring the message", path, c->errors);
		sl_conf_free(c);
		return EX_TEMPFAIL;
	}
	ch = run(c, &fc, &ring, argv[optind]);
	sl_conf_free(c);
	return ch;
}
