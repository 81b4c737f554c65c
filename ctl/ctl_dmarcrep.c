/*
 * NAME
 *	ctl_dmarcrep 3 - sluicectl dmarc send-reports: RFC 9990 aggregate reports sent
 * SYNOPSIS
 *	sluicectl dmarc send-reports [--day YYYYMMDD] [--dry-run DIR]
 *	    [--sendmail PATH] [--zone FILE]
 * DESCRIPTION
 *	sluice-milter counts inbound DMARC evaluations in
 *	<prefix>dmarcagg:<day>:<domain> and the policy it found in
 *	<prefix>dmarcpol:<day>:<domain> (milter_dmarcagg.c,
 *	doc/redis-keys.md). For the day (UTC, yesterday by default) this
 *	writes one report per policy domain: RFC 9990 XML in the namespace
 *	urn:ietf:params:xml:ns:dmarc-2.0, gzipped, attached to a
 *	multipart/mixed message with the RFC 9990 subject, mailed through
 *	sendmail -f <dmarc_report_sender> -i -- <rua addresses>. A mailto:
 *	URI whose domain has another organizational domain than the policy
 *	domain is used only when <policy domain>._report._dmarc.<rua domain>
 *	has a TXT record starting with v=DMARC1 (RFC 9990 section on
 *	external destinations), looked up through lib/dns.c (milter inbound dns_zone or
 *	dns_nameserver apply, --zone first).
 *	A domain sent is marked <prefix>dmarcsent:<day>:<domain> (4 days):
 *	a rerun sends nothing twice. --dry-run DIR writes the .xml.gz files
 *	into DIR and prints the recipients, sends and marks nothing.
 * ERRORS
 *	Exit 1 when any domain could not be sent (it stays unmarked: the
 *	next run retries it); a domain name from Redis that is not a plain
 *	host name is skipped with a warning.
 */
#define _GNU_SOURCE 1
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>

#include "ctl.h"
#include "log.h"
#include "milter_verify.h"

#define REP_SENT_TTL "345600" /* 4 days, like the rows */
#define REP_RUA_MAX 8         /* destinations per domain */

typedef struct rep_buf {
	char *s;
	size_t n, cap;
} rep_buf;

typedef struct rep_run {
	const char *day, *dry, *sendmail, *sender, *org;
	time_t begin, end;
	sl_dns *dns;
	int failed, sent;
} rep_run;

/* put - append n bytes */
static void
put(rep_buf *b, const char *s, size_t n)
{
	if (b->n + n + 1 > b->cap) {
		b->cap = (b->n + n + 1) * 2;
		if ((b->s = realloc(b->s, b->cap)) == NULL)
			sl_fatal("out of memory");
	}
	memcpy(b->s + b->n, s, n);
	b->n += n;
	b->s[b->n] = '\0';
}

/* putf - append formatted text */
static void __attribute__((format(printf, 2, 3))) putf(rep_buf *b, const char *fmt, ...)
{
	char tmp[2048];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
	va_end(ap);
	put(b, tmp, n < 0 ? 0 : (size_t)n >= sizeof(tmp) ? sizeof(tmp) - 1 : (size_t)n);
}

/* elem - <name>escaped text</name>; nothing when text is empty and optional */
static void
elem(rep_buf *b, const char *name, const char *text)
{
	putf(b, "<%s>", name);
	for (const char *p = text; *p; p++)
		if (*p == '<')
			put(b, "&lt;", 4);
		else if (*p == '>')
			put(b, "&gt;", 4);
		else if (*p == '&')
			put(b, "&amp;", 5);
		else if ((unsigned char)*p >= 0x20 || *p == '\t')
			put(b, p, 1);
		else
			put(b, "?", 1);
	putf(b, "</%s>", name);
}

/* host_ok - a plain host name (what a key or a file name may carry) */
static int
host_ok(const char *s)
{
	if (!*s || strlen(s) >= SL_DNS_NAME_MAX)
		return 0;
	for (; *s; s++)
		if (!isalnum((unsigned char)*s) && *s != '.' && *s != '-' && *s != '_')
			return 0;
	return 1;
}

/* auth_word - an A-R result word as RFC 9990 knows it */
static const char *
auth_word(const char *s, int dkim)
{
	static const char *const ok[] = {"none",      "pass",      "fail",   "softfail", "neutral",
	                                 "temperror", "permerror", "policy", NULL};

	for (int i = 0; ok[i]; i++)
		if (strcmp(s, ok[i]) == 0 &&
		    (dkim ? strcmp(s, "softfail") != 0 : strcmp(s, "policy") != 0))
			return s;
	return "permerror";
}

/* row_xml - one <record> from a row string (milter_dmarcagg.c) and its count */
static void
row_xml(rep_buf *b, char *row, const char *count)
{
	char *f[10] = {0}, *save = NULL, *p = row;
	int n = 0;

	for (; n < 10; n++) {
		f[n] = p;
		if ((p = strchr(p, '\t')) == NULL) {
			n++;
			break;
		}
		*p++ = '\0';
	}
	if (n < 9)
		return;
	put(b, "<record><row>", 13);
	elem(b, "source_ip", f[0]);
	elem(b, "count", count);
	put(b, "<policy_evaluated>", 18);
	elem(b, "disposition", f[3]);
	elem(b, "dkim", f[4]);
	elem(b, "spf", f[5]);
	if (*f[6]) {
		int arc = strncmp(f[6], "arc=", 4) == 0;

		put(b, "<reason>", 8);
		elem(b, "type", arc ? "trusted_forwarder" : f[6]);
		if (arc) {
			char c[SL_DNS_NAME_MAX + 32];

			snprintf(c, sizeof(c), "arc=pass sealer=%s", f[6] + 4);
			elem(b, "comment", c);
		}
		put(b, "</reason>", 9);
	}
	put(b, "</policy_evaluated></row><identifiers>", 38);
	elem(b, "header_from", f[1]);
	if (*f[2])
		elem(b, "envelope_from", f[2]);
	put(b, "</identifiers><auth_results>", 28);
	for (char *d = n > 9 ? strtok_r(f[9], ",", &save) : NULL; d;
	     d = strtok_r(NULL, ",", &save)) {
		char *s1 = strchr(d, '/'), *s2 = s1 ? strchr(s1 + 1, '/') : NULL;

		if (!s2)
			continue;
		*s1 = *s2 = '\0';
		put(b, "<dkim>", 6);
		elem(b, "domain", d);
		elem(b, "selector", s1 + 1);
		elem(b, "result", auth_word(s2 + 1, 1));
		put(b, "</dkim>", 7);
	}
	put(b, "<spf>", 5);
	elem(b, "domain", f[7]);
	elem(b, "scope", "mfrom");
	elem(b, "result", auth_word(f[8], 0));
	put(b, "</spf></auth_results></record>\n", 31);
}

/* report_xml - the whole report of one domain */
static void
report_xml(const rep_run *run, const char *domain, const char *id, const sl_reply *pol,
           const sl_reply *agg, rep_buf *b)
{
	const char *v, *p;
	char num[32];

	put(b, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n", 39);
	put(b, "<feedback xmlns=\"urn:ietf:params:xml:ns:dmarc-2.0\">\n<version>1.0</version>\n",
	    75);
	put(b, "<report_metadata>", 17);
	elem(b, "org_name", run->org);
	elem(b, "email", run->sender);
	elem(b, "report_id", id);
	put(b, "<date_range>", 12);
	snprintf(num, sizeof(num), "%lld", (long long)run->begin);
	elem(b, "begin", num);
	snprintf(num, sizeof(num), "%lld", (long long)run->end);
	elem(b, "end", num);
	put(b, "</date_range>", 13);
	elem(b, "generator", "Sluice " PACKAGE_VERSION);
	put(b, "</report_metadata>\n<policy_published>", 37);
	/* any order is valid (xs:all); RFC 7489's elements first, so that a
	 * consumer validating against its schema checks them before the new ones */
	elem(b, "domain", domain);
	elem(b, "adkim", (v = ctl_hget(pol, "adkim")) ? v : "r");
	elem(b, "aspf", (v = ctl_hget(pol, "aspf")) ? v : "r");
	elem(b, "p", (p = ctl_hget(pol, "p")) ? p : "none");
	elem(b, "sp", (v = ctl_hget(pol, "sp")) && *v ? v : p ? p : "none"); /* required */
	elem(b, "discovery_method", "treewalk");
	if ((v = ctl_hget(pol, "np")) && *v)
		elem(b, "np", v);
	elem(b, "testing", (v = ctl_hget(pol, "testing")) && *v == 'y' ? "y" : "n");
	put(b, "</policy_published>\n", 20);
	for (size_t i = 0; agg && i + 1 < agg->elements; i += 2) {
		char *row;

		if (!agg->element[i]->str || !agg->element[i + 1]->str)
			continue;
		row = sl_strdup(agg->element[i]->str);
		row_xml(b, row, agg->element[i + 1]->str);
		free(row);
	}
	put(b, "</feedback>\n", 12);
}

/* gzip_buf - the gzip (RFC 1952) of in */
static int
gzip_buf(const rep_buf *in, rep_buf *out)
{
	z_stream z = {0};
	int rc;

	if (deflateInit2(&z, 9, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK)
		return -1;
	out->cap = deflateBound(&z, in->n) + 1;
	out->s = sl_malloc(out->cap);
	z.next_in = (Bytef *)in->s;
	z.avail_in = (uInt)in->n;
	z.next_out = (Bytef *)out->s;
	z.avail_out = (uInt)out->cap;
	rc = deflate(&z, Z_FINISH);
	out->n = z.total_out;
	deflateEnd(&z);
	return rc == Z_STREAM_END ? 0 : -1;
}

/* org_of - the organizational domain (milter_dmarc.c's tree walk), or -1 */
static int
org_of(rep_run *run, const char *d, char *out, size_t outlen)
{
	return ml_dmarc_org_domain(run->dns, d, out, outlen);
}

/* authorized - may reports of domain go to rua_domain (RFC 9990 external check) */
static int
authorized(rep_run *run, const char *domain, const char *rua_domain)
{
	char a[SL_DNS_NAME_MAX], b[SL_DNS_NAME_MAX], q[2 * SL_DNS_NAME_MAX + 16];
	sl_dns_ans ans = {0};
	int ok = 0;

	if (org_of(run, domain, a, sizeof(a)) < 0 || org_of(run, rua_domain, b, sizeof(b)) < 0)
		return -1;
	if (strcasecmp(a, b) == 0)
		return 1;
	snprintf(q, sizeof(q), "%s._report._dmarc.%s", domain, rua_domain);
	if (sl_dns_query(run->dns, q, SL_DNS_TXT, &ans) == SL_DNS_TEMP)
		ok = -1;
	for (int i = 0; i < ans.n && ok == 0; i++)
		ok = strncmp(ans.rr[i], "v=DMARC1", 8) == 0 &&
		     (ans.rr[i][8] == '\0' || ans.rr[i][8] == ';' || ans.rr[i][8] == ' ');
	sl_dns_ans_free(&ans);
	return ok;
}

/* recipients - the mailto: addresses of rua allowed to get the report */
static size_t
recipients(rep_run *run, const char *domain, const char *rua, char rcpt[][SL_DNS_NAME_MAX * 2])
{
	char buf[512], *save = NULL;
	size_t n = 0;

	snprintf(buf, sizeof(buf), "%s", rua ? rua : "");
	for (char *u = strtok_r(buf, ",", &save); u && n < REP_RUA_MAX;
	     u = strtok_r(NULL, ",", &save)) {
		char *at, *bang;
		int ok;

		while (isspace((unsigned char)*u))
			u++;
		if (strncasecmp(u, "mailto:", 7) != 0)
			continue;
		u += 7;
		if ((bang = strchr(u, '!')) != NULL) /* a size limit: ours are small */
			*bang = '\0';
		u[strcspn(u, " \t")] = '\0';
		if ((at = strrchr(u, '@')) == NULL || at == u || !host_ok(at + 1) ||
		    strpbrk(u, "\"\\<>()[],;: ") != NULL || strlen(u) >= SL_DNS_NAME_MAX * 2 ||
		    *u == '-') {
			sl_warn("%s: rua %s: not an address, skipped", domain, u);
			continue;
		}
		if ((ok = authorized(run, domain, at + 1)) <= 0) {
			sl_warn("%s: rua %s: %s", domain, u,
			        ok < 0 ? "DNS error in the authorization check, skipped"
			               : "external destination without the authorization "
			                 "record, skipped");
			continue;
		}
		snprintf(rcpt[n++], SL_DNS_NAME_MAX * 2, "%s", u);
	}
	return n;
}

/* b64 - base64 of a buffer, 76 characters a line */
static void
b64(rep_buf *out, const rep_buf *in)
{
	static const char t[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	const unsigned char *s = (const unsigned char *)in->s;

	for (size_t i = 0, col = 0; i < in->n; i += 3) {
		unsigned v = s[i] << 16 | (i + 1 < in->n ? s[i + 1] << 8 : 0) |
		             (i + 2 < in->n ? s[i + 2] : 0);
		char q[4] = {t[v >> 18 & 63], t[v >> 12 & 63], i + 1 < in->n ? t[v >> 6 & 63] : '=',
		             i + 2 < in->n ? t[v & 63] : '='};

		put(out, q, 4);
		if ((col += 4) == 76 || i + 3 >= in->n)
			put(out, "\r\n", 2), col = 0;
	}
}

/* message - the RFC 9990 mail carrying the report */
static void
message(const rep_run *run, const char *domain, const char *id, const char *fname,
        char rcpt[][SL_DNS_NAME_MAX * 2], size_t nrcpt, const rep_buf *gz, rep_buf *m)
{
	char date[64], host[128] = "localhost";
	time_t now = time(NULL);
	struct tm tm;

	gethostname(host, sizeof(host) - 1);
	localtime_r(&now, &tm);
	strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S %z", &tm);
	putf(m, "From: %s\r\nTo: ", run->sender);
	for (size_t i = 0; i < nrcpt; i++)
		putf(m, "%s%s", i ? ", " : "", rcpt[i]);
	putf(m, "\r\nSubject: Report Domain: %s Submitter: %s Report-ID: <%s>\r\n", domain,
	     run->org, id);
	putf(m, "Date: %s\r\nMessage-ID: <%s.%lld@%s>\r\nMIME-Version: 1.0\r\n", date, id,
	     (long long)now, host);
	putf(m, "Content-Type: multipart/mixed; boundary=\"=_sluice_%s\"\r\n\r\n", id);
	putf(m, "--=_sluice_%s\r\nContent-Type: text/plain; charset=us-ascii\r\n\r\n", id);
	putf(m, "DMARC aggregate report for %s from %s, report id %s.\r\n\r\n", domain, run->org,
	     id);
	putf(m, "--=_sluice_%s\r\nContent-Type: application/gzip; name=\"%s\"\r\n", id, fname);
	putf(m,
	     "Content-Transfer-Encoding: base64\r\nContent-Disposition: attachment; "
	     "filename=\"%s\"\r\n\r\n",
	     fname);
	b64(m, gz);
	putf(m, "\r\n--=_sluice_%s--\r\n", id);
}

/* sendmail - hand m to sendmail; 0 when it accepted the message */
static int
sendmail(const rep_run *run, char rcpt[][SL_DNS_NAME_MAX * 2], size_t nrcpt, const rep_buf *m)
{
	const char *argv[REP_RUA_MAX + 8];
	int fd[2], st = 0, n = 0;
	pid_t pid;

	argv[n++] = run->sendmail, argv[n++] = "-f", argv[n++] = run->sender, argv[n++] = "-i";
	argv[n++] = "--";
	for (size_t i = 0; i < nrcpt; i++)
		argv[n++] = rcpt[i];
	argv[n] = NULL;
	if (pipe(fd) < 0 || (pid = fork()) < 0)
		return -1;
	if (pid == 0) {
		dup2(fd[0], 0);
		close(fd[0]), close(fd[1]);
		execv(run->sendmail, (char *const *)argv);
		_exit(127);
	}
	close(fd[0]);
	signal(SIGPIPE, SIG_IGN);
	for (size_t off = 0; off < m->n;) {
		ssize_t w = write(fd[1], m->s + off, m->n - off);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			break;
		off += (size_t)w;
	}
	close(fd[1]);
	while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
		;
	return WIFEXITED(st) && WEXITSTATUS(st) == 0 ? 0 : -1;
}

/* deliver - write (dry run) or mail one domain's report; 0 done */
static int
deliver(rep_run *run, const char *domain, const char *id, const rep_buf *gz,
        char rcpt[][SL_DNS_NAME_MAX * 2], size_t nrcpt)
{
	char fname[1024], path[2048];
	rep_buf m = {0};
	FILE *fp;
	int rc;

	snprintf(fname, sizeof(fname), "%s!%s!%lld!%lld!%s.xml.gz", run->org, domain,
	         (long long)run->begin, (long long)run->end, id);
	if (run->dry) {
		snprintf(path, sizeof(path), "%s/%s", run->dry, fname);
		if ((fp = fopen(path, "w")) == NULL) {
			ctl_err("%s: %s", path, strerror(errno));
			return -1;
		}
		rc = fwrite(gz->s, 1, gz->n, fp) == gz->n ? 0 : -1;
		if (fclose(fp) != 0 || rc < 0) {
			ctl_err("%s: %s", path, strerror(errno));
			return -1;
		}
		printf("%s: %s", domain, path);
		for (size_t i = 0; i < nrcpt; i++)
			printf(" %s", rcpt[i]);
		printf("\n");
		return 0;
	}
	message(run, domain, id, fname, rcpt, nrcpt, gz, &m);
	if ((rc = sendmail(run, rcpt, nrcpt, &m)) < 0)
		ctl_err("%s: %s did not accept the report", domain, run->sendmail);
	else
		printf("%s: sent to %zu destination%s\n", domain, nrcpt, nrcpt == 1 ? "" : "s");
	free(m.s);
	return rc;
}

/* one_domain - the report of the domain whose dmarcpol key this is */
static int
one_domain(ctl_ctx *ctx, const char *key, void *arg)
{
	rep_run *run = arg;
	const char *domain = strrchr(key, ':') + 1;
	char akey[CTL_KEY_MAX], skey[CTL_KEY_MAX], id[512], rcpt[REP_RUA_MAX][SL_DNS_NAME_MAX * 2];
	const char *ex[2], *set[6];
	rep_buf xml = {0}, gz = {0};
	sl_reply *pol, *agg, *r;
	size_t nrcpt;

	if (!host_ok(domain)) {
		sl_warn("%s: not a domain name, skipped", key);
		return 0;
	}
	if (ctl_key(ctx, akey, sizeof(akey), SL_KEY_DMARCAGG, run->day, domain) < 0 ||
	    ctl_key(ctx, skey, sizeof(skey), SL_KEY_DMARCSENT, run->day, domain) < 0)
		return 0;
	ex[0] = "EXISTS", ex[1] = skey;
	r = ctl_cmd_ok(ctx, 2, ex);
	if (!run->dry && r->integer > 0) {
		sl_reply_free(r);
		return 0;
	}
	sl_reply_free(r);
	pol = ctl_hgetall(ctx, key);
	agg = ctl_hgetall(ctx, akey);
	nrcpt = recipients(run, domain, ctl_hget(pol, "rua"), rcpt);
	if (nrcpt == 0 || agg == NULL || agg->elements == 0)
		goto done;
	snprintf(id, sizeof(id), "%s.%s.%s", run->day, domain, run->org);
	report_xml(run, domain, id, pol, agg, &xml);
	if (gzip_buf(&xml, &gz) < 0 || deliver(run, domain, id, &gz, rcpt, nrcpt) < 0) {
		run->failed++;
		goto done;
	}
	run->sent++;
	if (!run->dry) {
		set[0] = "SET", set[1] = skey, set[2] = "1", set[3] = "EX", set[4] = REP_SENT_TTL;
		sl_reply_free(ctl_cmd_ok(ctx, 5, set));
	}
done:
	free(xml.s);
	free(gz.s);
	sl_reply_free(pol);
	sl_reply_free(agg);
	return 0;
}

/* day_range - begin and end (inclusive) of a UTC day YYYYMMDD; -1 when not one */
static int
day_range(const char *day, time_t *begin, time_t *end)
{
	struct tm tm = {0};
	char *e;

	if (strlen(day) != 8 || strspn(day, "0123456789") != 8 ||
	    (e = strptime(day, "%Y%m%d", &tm)) == NULL || *e)
		return -1;
	*begin = timegm(&tm);
	*end = *begin + 86399;
	return 0;
}

/* ctl_dmarc_send - sluicectl dmarc send-reports */
int
ctl_dmarc_send(ctl_ctx *ctx, int argc, char **argv)
{
	cfg_t *in = cfg_getsec(cfg_getsec(ctx->conf->cfg, "milter"), "inbound");
	rep_run run = {.sendmail = "/usr/sbin/sendmail"};
	const char *zone = NULL;
	char day[16], pat[CTL_KEY_MAX], err[256], host[256] = "localhost";
	ml_vopts vo;
	time_t y = time(NULL) - 86400;
	struct tm tm;
	const ctl_opt opts[] = {CTL_ARG("day", &run.day), CTL_ARG("dry-run", &run.dry),
	                        CTL_ARG("sendmail", &run.sendmail), CTL_ARG("zone", &zone),
	                        CTL_OPT_END};

	gmtime_r(&y, &tm);
	strftime(day, sizeof(day), "%Y%m%d", &tm);
	run.day = day;
	ctl_getopt(ctx, argc, argv, opts, 0, 0);
	if (day_range(run.day, &run.begin, &run.end) < 0)
		ctl_usage(ctx);
	run.sender = cfg_getstr(in, "dmarc_report_sender");
	run.org = cfg_getstr(in, "dmarc_report_org");
	if (*run.org == '\0') {
		gethostname(host, sizeof(host) - 1);
		run.org = host;
	}
	if (strchr(run.sender, '@') == NULL || strpbrk(run.sender, " \t\r\n\"<>") ||
	    !host_ok(run.org)) {
		ctl_err("milter inbound: set dmarc_report_sender (an address whose bounces "
		        "sluice-feedback "
		        "handles) and dmarc_report_org (a host name)");
		return 2;
	}
	if (ml_vopts_load(cfg_getsec(ctx->conf->cfg, "milter"), &vo, err, sizeof(err)) < 0 ||
	    (run.dns = ml_vopts_dns(&vo, zone, NULL, err, sizeof(err))) == NULL) {
		ctl_err("%s", err);
		ml_vopts_free(&vo);
		return 1;
	}
	ml_vopts_free(&vo);
	if (ctl_key(ctx, pat, sizeof(pat), SL_KEY_DMARCPOL, run.day, "*") < 0)
		ctl_usage(ctx);
	ctl_scan(ctx, pat, one_domain, &run);
	sl_dns_free(run.dns);
	printf("%d report%s %s, %d failed\n", run.sent, run.sent == 1 ? "" : "s",
	       run.dry ? "written" : "sent", run.failed);
	return run.failed ? 1 : 0;
}
