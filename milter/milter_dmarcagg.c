/*
 * NAME
 *	milter_dmarcagg 3 - count inbound DMARC evaluations for aggregate reports
 * SYNOPSIS
 *	ml_dmarcagg_count(conf, client_ip, env_from, &vresult);
 * DESCRIPTION
 *	When milter { inbound { dmarc_reports = true } } is on, every
 *	inbound message whose From domain has a DMARC policy adds one to
 *	the field <row> of <prefix>dmarcagg:<yyyymmdd>:<policy domain> and
 *	writes the policy published into <prefix>dmarcpol:<yyyymmdd>:<policy
 *	domain>, both expiring after ML_DMARCAGG_TTL: one EVAL, one round
 *	trip. "sluicectl dmarc send-reports" turns them into RFC 9990
 *	reports. The row format is doc/redis-keys.md's, ML_AGG_* fields
 *	separated by tabs; a tab, a newline or a control character coming
 *	from a message (a domain, a selector) is written as '?'. At most
 *	ML_DMARCAGG_ROWS_MAX distinct rows per domain and day (a sender
 *	varying its selectors must not grow Redis without bound): further
 *	new rows are counted in the field "overflow", which is not reported.
 * ERRORS
 *	Counting never changes what happens to the message: a Redis error
 *	is logged, the message goes on. A tempfailed message is not counted
 *	(it comes back).
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "log.h"
#include "milter.h"
#include "milter_verify.h"
#include "redis.h"

#define ML_DMARCAGG_TTL (4 * 86400) /* rows kept 4 days: a missed run is retried */

#define ML_DMARCAGG_ROWS_MAX "10000" /* distinct rows per domain and day; then "overflow" */

/*
 * KEYS agg, pol; ARGV row, ttl, rows max, then field/value pairs of the
 * policy (none: pol is not written, as on Redis Cluster, where it is
 * written by its own calls)
 */
static sl_script agg_script = {
    .source = "local f = ARGV[1]\n"
              "if redis.call('HEXISTS', KEYS[1], f) == 0 and "
              "redis.call('HLEN', KEYS[1]) >= tonumber(ARGV[3]) then f = 'overflow' end\n"
              "redis.call('HINCRBY', KEYS[1], f, 1)\n"
              "redis.call('EXPIRE', KEYS[1], ARGV[2])\n"
              "if #ARGV >= 5 then\n"
              "  redis.call('HSET', KEYS[2], unpack(ARGV, 4))\n"
              "  redis.call('EXPIRE', KEYS[2], ARGV[2])\n"
              "end\n"
              "return 1\n",
};

/* clean - append s to out with tabs, commas, slashes and controls as '?' */
static void
clean(char *out, size_t outlen, const char *s)
{
	size_t n = strlen(out);

	for (; *s && n + 1 < outlen; s++)
		out[n++] =
		    ((unsigned char)*s < 0x20 || *s == 0x7f || *s == ',' || *s == '/') ? '?' : *s;
	out[n] = '\0';
}

/* add - append a field (after a tab unless first) */
static void
add(char *out, size_t outlen, const char *s, int first)
{
	if (!first && strlen(out) + 1 < outlen)
		strcat(out, "\t");
	clean(out, outlen, s);
}

/* disposition - what was applied, in RFC 9990 words ("pass": passed an enforcing policy) */
static const char *
disposition(const ml_vresult *r)
{
	if (r->dmarc.result == ML_AUTH_PASS && r->dmarc.applied != ML_P_NONE)
		return "pass";
	if (r->disp == ML_DISP_REJECT)
		return "reject";
	if (r->disp == ML_DISP_QUARANTINE)
		return "quarantine";
	return "none";
}

/* build_row - the row string of one evaluation */
static void
build_row(const char *ip, const char *env_from, const ml_vresult *r, char *row, size_t rowlen)
{
	const ml_dmarc_result *dm = &r->dmarc;
	const char *at = env_from ? strrchr(env_from, '@') : NULL;
	char reasons[SL_DNS_NAME_MAX + 32] = "", dkim[1024] = "", one[SL_DNS_NAME_MAX + 96];

	row[0] = '\0';
	if (r->arc_override)
		snprintf(reasons, sizeof(reasons), "arc=%s", r->arc.sealer);
	else if (dm->result == ML_AUTH_FAIL && dm->applied != dm->policy)
		snprintf(reasons, sizeof(reasons), "sampled_out");
	else if (dm->result == ML_AUTH_FAIL && dm->applied != ML_P_NONE &&
	         strcmp(disposition(r), ml_dmarc_policy_name(dm->applied)) != 0)
		snprintf(reasons, sizeof(reasons), "local_policy");
	for (size_t i = 0; i < r->nsigs; i++) {
		one[0] = '\0';
		clean(one, sizeof(one), r->sigs[i].domain);
		strcat(one, "/");
		clean(one, sizeof(one), r->sigs[i].selector);
		snprintf(one + strlen(one), sizeof(one) - strlen(one), "/%s",
		         ml_auth_name(r->sigs[i].result));
		if (strlen(dkim) + strlen(one) + 2 < sizeof(dkim))
			snprintf(dkim + strlen(dkim), sizeof(dkim) - strlen(dkim), "%s%s",
			         i ? "," : "", one);
	}
	add(row, rowlen, ip ? ip : "", 1);
	add(row, rowlen, dm->from_domain, 0);
	add(row, rowlen, at ? at + 1 : (r->helo.domain[0] ? r->helo.domain : ""), 0);
	add(row, rowlen, disposition(r), 0);
	add(row, rowlen, dm->dkim_aligned ? "pass" : "fail", 0);
	add(row, rowlen, dm->spf_aligned ? "pass" : "fail", 0);
	add(row, rowlen, reasons, 0);
	add(row, rowlen, r->spf.domain, 0);
	add(row, rowlen, ml_auth_name(r->spf.result), 0);
	if (strlen(row) + strlen(dkim) + 2 < rowlen)
		snprintf(row + strlen(row), rowlen - strlen(row), "\t%s", dkim);
}

/*
 * agg_cluster - agg_script on Redis Cluster: the row (KEYS agg twice, no
 * policy), then the policy hash by HSET and EXPIRE (another slot)
 */
static void
agg_cluster(sl_redis *rd, const char **argv, int n)
{
	const char *row[5] = {argv[0], argv[0], argv[2], argv[3], argv[4]};
	const char **pol = sl_calloc((size_t)n, sizeof(*pol));
	const char *exp[3] = {"EXPIRE", argv[1], argv[3]};
	sl_reply *rep = NULL;
	int k = 0;

	if (sl_redis_eval(rd, &agg_script, &rep, 2, 5, row, NULL) < 0 ||
	    rep->type == SL_REPLY_ERROR)
		sl_warn("redis: dmarc report row not counted: %s",
		        rep ? rep->str : sl_redis_errstr(rd));
	sl_reply_free(rep);
	rep = NULL;
	pol[k++] = "HSET", pol[k++] = argv[1];
	for (int i = 5; i < n; i++)
		pol[k++] = argv[i];
	for (int step = 0; step < 2; step++) { /* HSET, then EXPIRE */
		if (sl_redis_cmdv(rd, &rep, step ? 3 : k, step ? exp : pol, NULL) < 0 ||
		    rep->type == SL_REPLY_ERROR) {
			sl_warn("redis: dmarc report policy not recorded: %s",
			        rep ? rep->str : sl_redis_errstr(rd));
			step = 2;
		}
		sl_reply_free(rep);
		rep = NULL;
	}
	free(pol);
}

/* ml_dmarcagg_prepare - the script's SHA1, before threads share it */
void
ml_dmarcagg_prepare(void)
{
	(void)sl_script_sha1(&agg_script);
}

/* ml_dmarcagg_count - one inbound DMARC evaluation into today's report rows */
void
ml_dmarcagg_count(const ml_conf *c, const char *ip, const char *env_from, const ml_vresult *r)
{
	const ml_dmarc_result *dm = &r->dmarc;
	const ml_dmarc_rec *p = &dm->rec;
	char agg[512], pol[512], day[16], row[2048], ttl[16], pct[8], t[4];
	const char *argv[24];
	time_t now = time(NULL);
	sl_reply *rep = NULL;
	sl_redis *rd;
	int n = 0;

	/* a tempfailed message comes back: it is counted when it is decided */
	if (!c->vopts->dmarc_reports || c->pool == NULL || r->disp == ML_DISP_TEMPFAIL ||
	    (dm->result != ML_AUTH_PASS && dm->result != ML_AUTH_FAIL) || !dm->policy_domain[0])
		return;
	sl_key_day(now, day);
	if (sl_key(agg, sizeof(agg), c->redis.prefix, SL_KEY_DMARCAGG, day, dm->policy_domain) < 0
	    || sl_key(pol, sizeof(pol), c->redis.prefix, SL_KEY_DMARCPOL, day, dm->policy_domain) < 0)
		return;
	build_row(ip, env_from, r, row, sizeof(row));
	snprintf(ttl, sizeof(ttl), "%d", ML_DMARCAGG_TTL);
	snprintf(pct, sizeof(pct), "%d", p->pct);
	snprintf(t, sizeof(t), "%s", p->testing ? "y" : "n");
	argv[n++] = agg, argv[n++] = pol, argv[n++] = row, argv[n++] = ttl;
	argv[n++] = ML_DMARCAGG_ROWS_MAX;
	argv[n++] = "p", argv[n++] = ml_dmarc_policy_name(p->p);
	argv[n++] = "sp", argv[n++] = ml_dmarc_policy_name(p->sp != ML_P_UNSET ? p->sp : p->p);
	argv[n++] = "np", argv[n++] = p->np != ML_P_UNSET ? ml_dmarc_policy_name(p->np) : "";
	argv[n++] = "adkim", argv[n++] = p->adkim_strict ? "s" : "r";
	argv[n++] = "aspf", argv[n++] = p->aspf_strict ? "s" : "r";
	argv[n++] = "pct", argv[n++] = pct;
	argv[n++] = "testing", argv[n++] = t;
	argv[n++] = "rua", argv[n++] = p->rua;
	rd = ml_redis_get(c->pool);
	if (sl_redis_cluster(rd))
		agg_cluster(rd, argv, n);
	else if (sl_redis_eval(rd, &agg_script, &rep, 2, n, argv, NULL) < 0)
		sl_warn("redis: dmarc report row not counted: %s", sl_redis_errstr(rd));
	else if (rep->type == SL_REPLY_ERROR)
		sl_warn("redis: dmarc report row not counted: %s", rep->str);
	sl_reply_free(rep);
	ml_redis_put(c->pool, rd);
}
